// A FAKE standing in for VS Code's Python extension (ms-python.python) in punie-lsp's
// end-to-end test (see README.md): only the active-environment API punie-lsp's extension
// reads, with the interpreter in `python.defaultInterpreterPath` as the active one.
const vscode = require("vscode");

function activePath() {
  const path = vscode.workspace.getConfiguration("python").get("defaultInterpreterPath", "");
  return { id: path, path };
}

function activate(context) {
  const changed = new vscode.EventEmitter();
  context.subscriptions.push(
    changed,
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (event.affectsConfiguration("python.defaultInterpreterPath")) {
        const now = activePath();
        changed.fire({ id: now.id, path: now.path, resource: undefined });
      }
    }),
  );
  return {
    ready: Promise.resolve(),
    environments: {
      getActiveEnvironmentPath: () => activePath(),
      resolveEnvironment: async (environment) => {
        const path = typeof environment === "string" ? environment : environment.path;
        return path ? { id: path, path, executable: { uri: vscode.Uri.file(path) } } : undefined;
      },
      onDidChangeActiveEnvironmentPath: changed.event,
    },
  };
}

module.exports = { activate, deactivate() {} };
