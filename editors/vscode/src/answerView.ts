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

/** One line of the panel, and the run it belongs to (the command's work-done token). */
interface Entry {
  kind: string;
  text: string;
  run?: string;
}

export class AnswerView implements vscode.Disposable {
  private panel: vscode.WebviewPanel | undefined;
  private entries: Entry[] = [];
  /** Runs whose `answer` message came: their result's answer is not shown again. */
  private answered = new Set<string>();

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

  /**
   * A new run, `run` being its work-done token: everything `punie/message` streams with
   * that token, and its outcome, goes under this prompt — two runs going at once each
   * keep their own text, never one interleaved stream.
   */
  begin(run: string, command: string, prompt: string | undefined): void {
    this.push({ kind: "prompt", text: prompt ? `${command}: ${prompt}` : command, run });
  }

  append(message: PunieMessage): void {
    const run = message.token === undefined ? undefined : String(message.token);
    if (message.kind === "answer") {
      if (run !== undefined) {
        this.answered.add(run);
      }
      // The answer is the text just streamed, whole: it takes the streamed entry's place
      // (the webview does the same), so the panel does not show it twice.
      const last = this.lastOf(run);
      if (last !== undefined && last.kind === "text" && last.text.trim() === message.text.trim()) {
        this.entries.splice(this.entries.lastIndexOf(last), 1);
      }
    } else if (message.kind === "text") {
      // Streamed text is one entry per run, as the webview shows it.
      const last = this.lastOf(run);
      if (last !== undefined && last.kind === "text") {
        last.text += message.text;
        void this.panel?.webview.postMessage({ kind: "text", text: message.text, run });
        this.reveal();
        return;
      }
    }
    this.push({ kind: message.kind, text: message.text, run });
  }

  finish(
    run: string,
    result: { answer?: string; outcome?: string; error?: string; edits?: unknown[]; reason?: string },
  ): void {
    if (!this.answered.delete(run) && result.answer) {
      this.push({ kind: "answer", text: result.answer, run });
    }
    if (result.error) {
      this.push({ kind: "error", text: result.error, run });
    }
    const edits = result.edits?.length ?? 0;
    const reason = result.reason ? ` (${result.reason})` : "";
    this.push({
      kind: "outcome",
      text: `${result.outcome ?? "done"}; ${edits} edit${edits === 1 ? "" : "s"}${reason}`,
      run,
    });
  }

  fail(run: string, text: string): void {
    this.answered.delete(run);
    this.push({ kind: "error", text, run });
  }

  clear(): void {
    this.entries = [];
    this.answered.clear();
    void this.panel?.webview.postMessage({ kind: "clear", text: "" });
  }

  dispose(): void {
    this.panel?.dispose();
  }

  private lastOf(run: string | undefined): Entry | undefined {
    for (let i = this.entries.length - 1; i >= 0; i--) {
      if (this.entries[i].run === run) {
        return this.entries[i];
      }
    }
    return undefined;
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
  // Each run (work-done token) has its own block: runs going at once never interleave.
  const runs = new Map();
  function blockOf(run) {
    if (run === undefined) { return log; }
    let block = runs.get(run);
    if (block === undefined) {
      block = document.createElement("div");
      block.className = "run";
      block.dataset.run = run;
      log.appendChild(block);
      runs.set(run, block);
    }
    return block;
  }
  window.addEventListener("message", (event) => {
    const { kind, text, run } = event.data;
    if (kind === "clear") { log.textContent = ""; runs.clear(); return; }
    const block = blockOf(run);
    const last = block.lastElementChild;
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
      block.appendChild(el);
    }
    window.scrollTo(0, document.body.scrollHeight);
  });
</script>
</body>
</html>`;
}
