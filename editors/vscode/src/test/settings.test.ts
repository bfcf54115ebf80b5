/**
 * The `ty` section the extension sends, with and without an interpreter selected in the
 * Python extension. Run: `npm test` (tsc, then Node's test runner on out/test).
 */
import assert from "node:assert/strict";
import { test } from "node:test";

import { onSettingsChange, tyWithPython } from "../settings";

const PYTHON = "/work/.venv/bin/python";

test("without a selected interpreter the user's section goes as it is", () => {
  assert.deepEqual(tyWithPython(undefined, undefined), {});
  const section = { diagnosticMode: "workspace" };
  assert.equal(tyWithPython(section, undefined), section);
  assert.equal(tyWithPython("strict", undefined), "strict");
});

test("the selected interpreter is added beside the user's settings", () => {
  const section = { diagnosticMode: "workspace", configuration: { rules: { "unresolved-import": "warn" } } };
  assert.deepEqual(tyWithPython(section, PYTHON), {
    diagnosticMode: "workspace",
    configuration: { rules: { "unresolved-import": "warn" }, environment: { python: PYTHON } },
  });
  assert.deepEqual(tyWithPython(undefined, PYTHON), { configuration: { environment: { python: PYTHON } } });
});

test("the user's own environment.python wins over the selection", () => {
  const section = { configuration: { environment: { python: "/opt/py/bin/python" } } };
  assert.equal(tyWithPython(section, PYTHON), section);
});

test("a value that is not an object reaches the server as written, which names it", () => {
  // It was replaced by `{configuration: {environment: {python}}}`: dropped without a word
  // when an interpreter was selected, where without one the server names it
  // ("the 'ty' settings must be an object (ty's own); ty uses its defaults").
  for (const raw of ["strict", 5, true, [1, 2]]) {
    assert.deepEqual(tyWithPython(raw, PYTHON), raw);
  }
  // The same one level down: what ty would have been told about is not dropped either.
  for (const raw of [{ configuration: "strict" }, { configuration: { environment: 3 } }]) {
    assert.deepEqual(tyWithPython(raw, PYTHON), raw);
  }
});

test("an empty list is an empty object, as the server reads it (Lua's {})", () => {
  assert.deepEqual(tyWithPython([], PYTHON), { configuration: { environment: { python: PYTHON } } });
});

/** `affectsConfiguration` for a change of the settings `changed` (dotted keys). */
function changed(...keys: string[]): (section: string) => boolean {
  return (section) => keys.some((key) => key === section || key.startsWith(`${section}.`));
}

test("a changed ty section is sent to the server, not a restart of it", () => {
  assert.equal(onSettingsChange(changed("ty.configuration")), "send");
  assert.equal(onSettingsChange(changed("ty")), "send");
  assert.equal(onSettingsChange(changed("punie.edits")), "send");
  assert.equal(onSettingsChange(changed("editor.fontSize")), "nothing");
});

test("what starts the server restarts it", () => {
  assert.equal(onSettingsChange(changed("punie-lsp.interpreter")), "restart");
  assert.equal(onSettingsChange(changed("punie-lsp.server.path", "ty.diagnosticMode")), "restart");
  assert.equal(onSettingsChange(changed("punie-lsp.server.extraArgs")), "restart");
});
