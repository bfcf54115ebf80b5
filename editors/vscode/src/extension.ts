/**
 * Punie for VS Code: starts `punie-lsp --stdio` for Python files and adds the agent.
 *
 * Everything ty offers (hover, definition, diagnostics, quick fixes, ...) arrives through
 * vscode-languageclient unchanged. The agent commands (`punie.ask`, `punie.fix`, ...) are
 * LSP `workspace/executeCommand` requests; this file gives them palette entries that
 * collect their arguments (prompt, selection, diagnostic), runs them with a work-done
 * token so their progress shows and can be cancelled, and shows the streamed answer
 * (`punie/message`) in a panel. Edits come back as `workspace/applyEdit`, which the
 * language client applies itself.
 */
import * as vscode from "vscode";
import {
  ConfigurationRequest,
  DidChangeConfigurationNotification,
  ExecuteCommandRequest,
  LanguageClient,
  LanguageClientOptions,
  ResponseError,
  ServerOptions,
  State,
  WorkDoneProgress,
  WorkDoneProgressCancelNotification,
} from "vscode-languageclient/node";
import * as lsp from "vscode-languageclient/node";

import table from "./commands.json";
import { AnswerView, PunieMessage } from "./answerView";
import { onSettingsChange, tyWithPython } from "./settings";

/** Arguments of the agent commands, as DESIGN.md's LSP contract names them. */
interface AgentArgs {
  prompt?: string;
  uri?: string;
  range?: lsp.Range;
  diagnostic?: lsp.Diagnostic;
  conversationId?: string;
}

/** The part of an agent result this extension reads (`CommandResult`, punie_lsp/agent_run/result.py). */
interface AgentResult {
  conversationId?: string;
  answer?: string;
  /** `ok`, or why the run stopped (`model_error`, `cancelled`, ...). */
  outcome?: string;
  /** For any outcome but `ok`: what failed and what to do, from the server. */
  error?: string;
  edits?: unknown[];
  applied?: boolean;
  /** Why proposed edits were not applied (declined, stale, `edits: never`). */
  reason?: string;
}

const AGENT_COMMANDS = new Set(["punie.ask", "punie.fix", "punie.explain", "punie.writeTests"]);
const TITLES: Record<string, string> = {
  "punie.ask": "asking",
  "punie.fix": "fixing",
  "punie.explain": "explaining",
  "punie.writeTests": "writing tests",
};

let client: LanguageClient | undefined;
let view: AnswerView;
let output: vscode.OutputChannel;
let status: vscode.StatusBarItem;
let conversationId: string | undefined;
let tokens = 0;
/** The interpreter selected in VS Code's Python extension, for ty (see tySettings). */
let selectedPython: string | undefined;

/**
 * The part of the Python extension's public API (`ms-python.python`'s exports, typed in
 * `@vscode/python-extension`) this file uses: the active environment of a folder.
 */
interface PythonExtensionApi {
  environments?: {
    getActiveEnvironmentPath(resource?: vscode.Uri): { id: string; path: string };
    resolveEnvironment(
      environment: { id: string; path: string } | string,
    ): Promise<{ executable: { uri?: vscode.Uri } } | undefined>;
    onDidChangeActiveEnvironmentPath: vscode.Event<unknown>;
  };
}

/** The Python extension's API, when it is installed (activating it, as its own helper does). */
async function pythonApi(): Promise<PythonExtensionApi | undefined> {
  const extension = vscode.extensions.getExtension<PythonExtensionApi>("ms-python.python");
  if (extension === undefined) {
    return undefined;
  }
  try {
    return extension.isActive ? extension.exports : await extension.activate();
  } catch (error) {
    output.appendLine(`punie: the Python extension did not activate: ${String(error)}`);
    return undefined;
  }
}

/** The executable of the active environment for the first folder, or undefined. */
async function activePython(api: PythonExtensionApi | undefined): Promise<string | undefined> {
  const environments = api?.environments;
  if (environments === undefined) {
    return undefined;
  }
  try {
    const folder = vscode.workspace.workspaceFolders?.[0]?.uri;
    const resolved = await environments.resolveEnvironment(environments.getActiveEnvironmentPath(folder));
    return resolved?.executable.uri?.fsPath || undefined;
  } catch (error) {
    output.appendLine(`punie: no active Python environment: ${String(error)}`);
    return undefined;
  }
}

/** The `ty` section as ty is sent it, with the selected interpreter (./settings.ts). */
function tySettings(raw: unknown): unknown {
  return tyWithPython(raw, selectedPython);
}

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  output = vscode.window.createOutputChannel("Punie");
  view = new AnswerView();
  status = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Left, 0);
  status.command = "punie-lsp.showAnswers";
  status.text = "$(hubot) Punie";
  status.show();
  context.subscriptions.push(output, view, status);

  const handlers: Record<string, () => Promise<unknown>> = {
    "punie-lsp.ask": ask,
    "punie-lsp.fix": fix,
    "punie-lsp.explain": () => onSelection("punie.explain"),
    "punie-lsp.writeTests": () => onSelection("punie.writeTests"),
    "punie-lsp.resetConversation": resetConversation,
    "punie-lsp.status": showStatus,
    "punie-lsp.showAnswers": async () => view.reveal(false),
    "punie-lsp.restart": restart,
  };
  const declared = [...Object.keys(table.server), ...table.client];
  for (const id of declared) {
    const handler = handlers[id];
    if (handler === undefined) {
      throw new Error(`punie: no handler for ${id}`);
    }
    context.subscriptions.push(vscode.commands.registerCommand(id, handler));
  }
  context.subscriptions.push(
    vscode.workspace.onDidChangeConfiguration((event) => {
      // A changed `ty` is sent, not a restart: punie-lsp restarts its ty child with it.
      const change = onSettingsChange((section) => event.affectsConfiguration(section));
      if (change === "restart") {
        void restart();
      } else if (change === "send") {
        sendSettings();
      }
    }),
    // Trusting the folder (there is no way back short of a reload) lets tools run its code.
    vscode.workspace.onDidGrantWorkspaceTrust(sendSettings),
  );
  const api = await pythonApi();
  selectedPython = await activePython(api);
  if (api?.environments !== undefined) {
    // ty reads `environment.python` when it starts: a new selection restarts the server.
    context.subscriptions.push(
      api.environments.onDidChangeActiveEnvironmentPath(async () => {
        const now = await activePython(api);
        if (now !== selectedPython) {
          selectedPython = now;
          await restart();
        }
      }),
    );
  }
  await start();
}

export async function deactivate(): Promise<void> {
  await client?.stop();
  client = undefined;
}

/**
 * One of the extension's own settings (`punie-lsp.<key>`), or `fallback` when it is unset
 * (`null` too) or of the wrong type, which one error message names. settings.json is
 * edited by hand and VS Code does not enforce the schema: a string in `server.extraArgs`
 * would otherwise be spread into one argument per character, and a number in
 * `interpreter` would throw on `.trim()`, leaving no server and no reason.
 */
function setting<T>(
  config: vscode.WorkspaceConfiguration,
  key: string,
  fallback: T,
  valid: (value: unknown) => value is T,
  shape: string,
): T {
  const value: unknown = config.get(key);
  if (value === undefined || value === null) {
    return fallback;
  }
  if (valid(value)) {
    return value;
  }
  void vscode.window.showErrorMessage(
    `Punie: punie-lsp.${key} must be ${shape}, not ${JSON.stringify(value)}; using ${JSON.stringify(fallback)}`,
  );
  return fallback;
}

const isString = (value: unknown): value is string => typeof value === "string";
const isStrings = (value: unknown): value is string[] => Array.isArray(value) && value.every(isString);

function serverOptions(): ServerOptions {
  const config = vscode.workspace.getConfiguration("punie-lsp");
  const extra = setting(config, "server.extraArgs", [] as string[], isStrings, "a list of strings");
  const interpreter = setting(config, "interpreter", "", isString, "a string").trim();
  const cwd = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  if (interpreter) {
    // -P: the workspace (the working directory) is not put on sys.path, so a project's
    // own `types.py` or `json.py` cannot shadow the standard library's.
    return {
      command: interpreter,
      args: ["-P", "-m", "punie_lsp", "--stdio", ...extra],
      options: { cwd },
    };
  }
  const command = setting(config, "server.path", "punie-lsp", isString, "a string").trim() || "punie-lsp";
  return { command, args: ["--stdio", ...extra], options: { cwd } };
}

/** The `punie` section without unset (null) values: the server then uses its defaults. */
function punieSection(raw: unknown): unknown {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    return raw;
  }
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw as Record<string, unknown>)) {
    if (value !== null && value !== undefined) {
      out[key] = punieSection(value);
    }
  }
  return out;
}

/**
 * The `punie` section as the server is sent it, everywhere (initializationOptions,
 * workspace/configuration answers, didChangeConfiguration): unset values dropped, and
 * `trust` set from VS Code's workspace trust — never from settings.json, which a
 * repository's own `.vscode/settings.json` could fill in to trust itself.
 */
function punieSettings(raw: unknown = vscode.workspace.getConfiguration().get("punie")): unknown {
  const section = punieSection(raw);
  const base = section !== null && typeof section === "object" && !Array.isArray(section) ? section : {};
  return { ...base, trust: vscode.workspace.isTrusted };
}

function initializationOptions(): unknown {
  return {
    punie: punieSettings(),
    ty: tySettings(vscode.workspace.getConfiguration().get("ty")),
  };
}

/** One `workspace/configuration` item, answered as vscode-languageclient answers it. */
function configurationItem(item: lsp.ConfigurationItem): unknown {
  const resource = item.scopeUri ? vscode.Uri.parse(item.scopeUri) : undefined;
  const config = vscode.workspace.getConfiguration(undefined, resource);
  const value: unknown = item.section ? config.get(item.section) : config;
  const plain: unknown = value === undefined ? null : JSON.parse(JSON.stringify(value));
  if (item.section === "punie") {
    return punieSettings(plain);
  }
  return item.section === "ty" ? tySettings(plain) : plain;
}

/** `workspace/didChangeConfiguration` with both sections (ty gets `ty` through punie-lsp). */
function sendSettings(): void {
  if (client?.state === State.Running) {
    void client.sendNotification(DidChangeConfigurationNotification.type, { settings: initializationOptions() });
  }
}

async function start(): Promise<void> {
  const options: LanguageClientOptions = {
    documentSelector: [
      { scheme: "file", language: "python" },
      { scheme: "untitled", language: "python" },
    ],
    outputChannel: output,
    initializationOptions,
    // No `synchronize.configurationSection`: the client would send settings.json's
    // `punie` section as it is; sendSettings sends it with `trust` set (see punieSettings).
    middleware: {
      workspace: {
        configuration: async (params, token, next) => {
          const result = await next(params, token);
          if (result instanceof ResponseError || !Array.isArray(result)) {
            return result;
          }
          return result.map((value, i) => {
            const section = params.items[i]?.section;
            return section === "punie" ? punieSettings(value) : section === "ty" ? tySettings(value) : value;
          });
        },
      },
      // Code actions carry `punie.fix`, `punie.explain`, ...: run them like the palette
      // does (progress, answer panel), and ask for the prompt "ask about selection" lacks.
      executeCommand: async (command, args, next) => {
        if (!AGENT_COMMANDS.has(command)) {
          return next(command, args);
        }
        const arg: AgentArgs = { ...(args[0] ?? {}) };
        if (command === "punie.ask" && !arg.prompt) {
          const prompt = await vscode.window.showInputBox({ prompt: "Ask Punie about the selection" });
          if (!prompt) {
            return undefined;
          }
          arg.prompt = prompt;
        }
        return runAgent(command, arg);
      },
    },
  };
  const created = new LanguageClient("punie-lsp", "Punie", serverOptions(), options);
  created.onDidChangeState((event) => {
    status.text = event.newState === State.Running ? "$(hubot) Punie" : "$(debug-disconnect) Punie";
  });
  client = created;
  // Workaround for vscode-languageclient 9.0.1 (lib/common/client.js, doInitialize): it
  // sends `initialized` and awaits the write *before* registering its
  // workspace/configuration handler (initializeFeatures). A request arriving in that gap
  // is answered "Unhandled method workspace/configuration" (MethodNotFound) — and ty asks
  // for its settings as soon as punie-lsp relays `initialized`. Seen in code-server about
  // one start in three on a loaded machine; ty then answered nothing more. A handler
  // registered before start() is installed before `initialized` is sent; the client's
  // own (with the middleware above) replaces it once its features start, same answers.
  created.onRequest(ConfigurationRequest.type, (params) => params.items.map(configurationItem));
  // Tells punie-lsp this client shows `punie/message` (the answer panel), so it does not
  // also send each answer as window/showMessage.
  created.registerFeature({
    fillClientCapabilities(capabilities: lsp.ClientCapabilities): void {
      capabilities.experimental = { ...(capabilities.experimental as object), punieMessages: true };
    },
    initialize(): void {},
    getState: () => ({ kind: "static" }),
    clear(): void {},
  });
  await created.start();
  created.onNotification("punie/message", (message: PunieMessage) => view.append(message));
}

async function restart(): Promise<void> {
  const old = client;
  client = undefined;
  await old?.stop();
  await start();
}

function running(): LanguageClient {
  if (client === undefined || client.state !== State.Running) {
    throw new Error("punie-lsp is not running: see the Punie output channel, or run 'Punie: Restart language server'");
  }
  return client;
}

function editorArgs(): { editor: vscode.TextEditor; uri: string; range: lsp.Range } | undefined {
  const editor = vscode.window.activeTextEditor;
  if (editor === undefined) {
    return undefined;
  }
  const c = running();
  const selection: vscode.Range = editor.selection.isEmpty
    ? editor.document.lineAt(editor.selection.active.line).range
    : editor.selection;
  return {
    editor,
    uri: c.code2ProtocolConverter.asUri(editor.document.uri),
    range: c.code2ProtocolConverter.asRange(selection),
  };
}

async function ask(): Promise<AgentResult | undefined> {
  const prompt = await vscode.window.showInputBox({
    prompt: "Ask Punie",
    placeHolder: "Why does this function return None?",
  });
  if (!prompt) {
    return undefined;
  }
  const arg: AgentArgs = { prompt, conversationId };
  const editor = vscode.window.activeTextEditor;
  if (editor !== undefined && editor.document.languageId === "python") {
    const c = running();
    arg.uri = c.code2ProtocolConverter.asUri(editor.document.uri);
    if (!editor.selection.isEmpty) {
      arg.range = c.code2ProtocolConverter.asRange(editor.selection);
    }
  }
  return runAgent("punie.ask", arg);
}

async function fix(): Promise<AgentResult | undefined> {
  const target = editorArgs();
  if (target === undefined) {
    void vscode.window.showWarningMessage("Punie: open a Python file to fix");
    return undefined;
  }
  const cursor = target.editor.selection.active;
  const found = vscode.languages
    .getDiagnostics(target.editor.document.uri)
    .find((d) => d.range.contains(cursor) || target.editor.selection.contains(d.range));
  const arg: AgentArgs = { uri: target.uri, range: target.range };
  if (found !== undefined) {
    arg.diagnostic = running().code2ProtocolConverter.asDiagnostic(found);
    arg.range = arg.diagnostic.range;
  }
  return runAgent("punie.fix", arg);
}

async function onSelection(command: string): Promise<AgentResult | undefined> {
  const target = editorArgs();
  if (target === undefined) {
    void vscode.window.showWarningMessage("Punie: select some Python code first");
    return undefined;
  }
  return runAgent(command, { uri: target.uri, range: target.range });
}

async function resetConversation(): Promise<void> {
  if (conversationId !== undefined) {
    await running().sendRequest(ExecuteCommandRequest.type, {
      command: "punie.resetConversation",
      arguments: [{ conversationId }],
    });
  }
  conversationId = undefined;
  view.clear();
  void vscode.window.showInformationMessage("Punie: new conversation");
}

/** The part of `punie.status` this extension shows (`StatusResult`, punie_lsp/features/commands.py). */
interface Status {
  version?: string;
  ty?: { state?: string };
  /** agent/result.py's ModelStatus: the configured model string, its backend and state. */
  model?: { model?: string; backend?: string; loaded?: boolean; loading?: boolean; error?: string | null };
  /** Whether tools may run the workspace's code (the `trust` setting or `--trust`). */
  settings?: { trust?: boolean };
}

function modelState(model: NonNullable<Status["model"]>): string {
  if (model.error) {
    return " (failed)";
  }
  if (model.loading) {
    return " (loading)";
  }
  return model.loaded === false ? " (not loaded)" : "";
}

async function showStatus(): Promise<unknown> {
  const result = await running().sendRequest(ExecuteCommandRequest.type, {
    command: "punie.status",
    arguments: [{}],
  });
  output.appendLine(`punie.status: ${JSON.stringify(result, null, 2)}`);
  output.show(true);
  const s = result as Status;
  const model = s.model;
  const modelText = model?.model === undefined ? "?" : `${model.model}${modelState(model)}`;
  const trust = s.settings?.trust === undefined ? "" : s.settings.trust ? ", trusted" : ", restricted";
  const text = `punie-lsp ${s.version ?? "?"}: ty ${s.ty?.state ?? "?"}, model ${modelText}${trust}`;
  if (model?.error) {
    void vscode.window.showWarningMessage(`${text}: ${model.error}`);
  } else {
    void vscode.window.showInformationMessage(text);
  }
  return result;
}

/**
 * Run one agent command with a work-done token: its reports update a cancellable
 * notification, cancelling it sends `window/workDoneProgress/cancel`, and the result's
 * answer lands in the panel (after whatever `punie/message` streamed).
 */
async function runAgent(command: string, arg: AgentArgs): Promise<AgentResult | undefined> {
  const c = running();
  const token = `punie-vscode-${++tokens}`;
  view.begin(token, command, arg.prompt);
  return vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `Punie: ${TITLES[command] ?? command}`, cancellable: true },
    async (progress, cancel) => {
      const subscription = c.onProgress(WorkDoneProgress.type, token, (value) => {
        if ((value.kind === "begin" || value.kind === "report") && value.message) {
          progress.report({ message: value.message });
        }
      });
      const onCancel = cancel.onCancellationRequested(() => {
        void c.sendNotification(WorkDoneProgressCancelNotification.type, { token });
      });
      try {
        const result = (await c.sendRequest(ExecuteCommandRequest.type, {
          command,
          arguments: [arg],
          workDoneToken: token,
        })) as AgentResult | null;
        if (result?.conversationId && command === "punie.ask") {
          conversationId = result.conversationId;
        }
        view.finish(token, result ?? {});
        if (result?.error && result.outcome !== "cancelled") {
          // A failed run says why (the model could not load, the endpoint is down, ...):
          // in the panel above, and here, where it is seen without opening the panel.
          // A cancelled run is the user's own doing: the panel says so, no error pops up.
          void vscode.window.showErrorMessage(`Punie: ${result.error}`);
        }
        return result ?? undefined;
      } catch (error) {
        const text = error instanceof Error ? error.message : String(error);
        view.fail(token, text);
        void vscode.window.showErrorMessage(`Punie ${command} failed: ${text}`);
        return undefined;
      } finally {
        subscription.dispose();
        onCancel.dispose();
      }
    },
  );
}
