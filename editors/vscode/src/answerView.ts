/**
 * The answer panel: a webview beside the editor that shows what `punie/message` streams
 * (text, the code the agent writes, tool calls and results, the answer) and each
 * command's outcome. Entries are kept, so closing and reopening the panel replays them.
 */
import * as vscode from "vscode";

/** `punie/message {conversationId, kind, text}` (`PunieMessage`, punie_lsp/agent_run/result.py). */
export interface PunieMessage {
  conversationId?: string;
  kind: "text" | "code" | "toolResult" | "toolCall" | "answer" | string;
  text: string;
  token?: string | number;
}

interface Entry {
  kind: string;
  text: string;
}

export class AnswerView implements vscode.Disposable {
  private panel: vscode.WebviewPanel | undefined;
  private entries: Entry[] = [];
  private answered = false;

  reveal(preserveFocus = true): void {
    if (this.panel !== undefined) {
      this.panel.reveal(vscode.ViewColumn.Beside, preserveFocus);
      return;
    }
    const panel = vscode.window.createWebviewPanel(
      "punieAnswers",
      "Punie",
      { viewColumn: vscode.ViewColumn.Beside, preserveFocus },
      { enableScripts: true, retainContextWhenHidden: true },
    );
    panel.webview.html = html(nonce());
    panel.onDidDispose(() => (this.panel = undefined));
    this.panel = panel;
    for (const entry of this.entries) {
      void panel.webview.postMessage(entry);
    }
  }

  begin(command: string, prompt: string | undefined): void {
    this.answered = false;
    this.push({ kind: "prompt", text: prompt ? `${command}: ${prompt}` : command });
  }

  append(message: PunieMessage): void {
    if (message.kind === "answer") {
      this.answered = true;
      // The answer is the text just streamed, whole: it takes the streamed entry's place
      // (the webview does the same), so the panel does not show it twice.
      const last = this.entries[this.entries.length - 1];
      if (last?.kind === "text" && last.text.trim() === message.text.trim()) {
        this.entries.pop();
      }
    }
    this.push({ kind: message.kind, text: message.text });
  }

  finish(result: { answer?: string; outcome?: string; error?: string; edits?: unknown[]; reason?: string }): void {
    if (!this.answered && result.answer) {
      this.push({ kind: "answer", text: result.answer });
    }
    if (result.error) {
      this.push({ kind: "error", text: result.error });
    }
    const edits = result.edits?.length ?? 0;
    const reason = result.reason ? ` (${result.reason})` : "";
    this.push({
      kind: "outcome",
      text: `${result.outcome ?? "done"}; ${edits} edit${edits === 1 ? "" : "s"}${reason}`,
    });
  }

  fail(text: string): void {
    this.push({ kind: "error", text });
  }

  clear(): void {
    this.entries = [];
    void this.panel?.webview.postMessage({ kind: "clear", text: "" });
  }

  dispose(): void {
    this.panel?.dispose();
  }

  private push(entry: Entry): void {
    this.entries.push(entry);
    if (this.panel === undefined) {
      this.reveal(); // a new panel is sent every entry, this one included
      return;
    }
    this.reveal();
    void this.panel.webview.postMessage(entry);
  }
}

function nonce(): string {
  const chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  let out = "";
  for (let i = 0; i < 32; i++) {
    out += chars.charAt(Math.floor(Math.random() * chars.length));
  }
  return out;
}

/** Text goes in through `textContent` only: nothing the model writes is parsed as HTML. */
function html(n: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'nonce-${n}'; script-src 'nonce-${n}';">
<style nonce="${n}">
  body { font-family: var(--vscode-font-family); color: var(--vscode-foreground); }
  pre { font-family: var(--vscode-editor-font-family); white-space: pre-wrap; margin: 0.3em 0; }
  .prompt { font-weight: bold; margin-top: 1em; border-top: 1px solid var(--vscode-panel-border); padding-top: 0.5em; }
  .code, .toolCall, .toolResult { background: var(--vscode-textCodeBlock-background); padding: 0.4em; }
  .toolCall, .toolResult, .outcome { opacity: 0.75; font-size: 0.9em; }
  .answer { border-left: 3px solid var(--vscode-focusBorder); padding-left: 0.5em; }
  .error { color: var(--vscode-errorForeground); }
</style>
</head>
<body>
<div id="log"></div>
<script nonce="${n}">
  const log = document.getElementById("log");
  let last = null;
  window.addEventListener("message", (event) => {
    const { kind, text } = event.data;
    if (kind === "clear") { log.textContent = ""; last = null; return; }
    if (kind === "text" && last !== null && last.dataset.kind === "text") {
      last.textContent += text;
    } else if (kind === "answer" && last !== null && last.dataset.kind === "text"
               && last.textContent.trim() === text.trim()) {
      last.className = kind;
      last.dataset.kind = kind;
      last.textContent = text;
    } else {
      const el = document.createElement("pre");
      el.className = kind;
      el.dataset.kind = kind;
      el.textContent = text;
      log.appendChild(el);
      last = el;
    }
    window.scrollTo(0, document.body.scrollHeight);
  });
</script>
</body>
</html>`;
}
