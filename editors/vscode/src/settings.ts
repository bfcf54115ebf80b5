/**
 * Settings as the server is sent them, without VS Code: plain functions of plain values,
 * unit-tested with Node's own test runner (`npm test`, src/test/settings.test.ts).
 */

/**
 * `value` as an object to add a key to: itself when it is a JSON object; an empty one when
 * it is unset (undefined, null) or `[]` (Lua's `{}`, which the server reads as `{}` too);
 * undefined for anything else (a string, a number, a list with items).
 */
function extendable(value: unknown): Record<string, unknown> | undefined {
  if (value === undefined || value === null || (Array.isArray(value) && value.length === 0)) {
    return {};
  }
  return typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

/**
 * The `ty` section as ty is sent it: the user's own, with `configuration.environment.python`
 * (ty's inline configuration, README "How it works") set to `python`, the interpreter
 * selected in the Python extension, unless the user set it there, so ty resolves imports in
 * the environment the user chose, as with ty's own VS Code extension. Only that key is
 * added: never an empty `pythonExtension: {}`, on which ty 0.0.105 panics.
 *
 * Where the user wrote something that is not an object (`"ty": "strict"`, a
 * `configuration` that is a string), the section goes as written, without the interpreter:
 * the server names a `ty` section that is not an object ("the 'ty' settings must be an
 * object"), as it does when no interpreter is selected, and ty reads its own keys. It was
 * replaced by `{configuration: {environment: {python}}}`, dropped without a word.
 */
export function tyWithPython(raw: unknown, python: string | undefined): unknown {
  if (python === undefined) {
    return raw ?? {};
  }
  const section = extendable(raw);
  const configuration = extendable(section?.configuration);
  const environment = extendable(configuration?.environment);
  if (section === undefined || configuration === undefined || environment === undefined) {
    return raw;
  }
  if (typeof environment.python === "string" && environment.python.trim()) {
    return raw;
  }
  return {
    ...section,
    configuration: { ...configuration, environment: { ...environment, python } },
  };
}

/**
 * What a change of VS Code's settings does to the server, given `affects` (VS Code's
 * `ConfigurationChangeEvent.affectsConfiguration`). What starts the server
 * (`punie-lsp.server.*`, `punie-lsp.interpreter`) restarts it. A changed `punie` or `ty`
 * section is only sent: ty reads its settings when it starts (ty 0.0.x has no handler for
 * workspace/didChangeConfiguration), so punie-lsp restarts its ty child with a changed
 * `ty`, keeping its conversations and a running answer (README "Configuration").
 */
export function onSettingsChange(affects: (section: string) => boolean): "restart" | "send" | "nothing" {
  if (affects("punie-lsp.server") || affects("punie-lsp.interpreter")) {
    return "restart";
  }
  return affects("punie") || affects("ty") ? "send" : "nothing";
}
