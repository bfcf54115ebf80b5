"""The VS Code extension end to end, in a real VS Code: code-server in Debian's chromium.

The module builds the extension from this checkout the way its README says (``npm ci``,
``tsc``, ``vsce package``), installs the ``.vsix`` into a code-server of its own
(user data, extensions and settings in a temporary folder), opens a copy of the fixture
project in chromium through Playwright, and checks what the page shows, as a user would
see it: ty's diagnostic in the Problems panel and as a squiggle, hover, go to definition,
*Punie: Status* and VS Code's workspace trust reaching the server (the folder opens in
Restricted Mode, then is trusted), *Punie: Ask* streaming into the Punie panel, two
Asks at once each streaming into its own block, the progress notification's *Cancel*
stopping an ``openai:`` run, *Punie: Fix* landing an undoable edit after asking first
(``punie.edits: ask``: VS Code's Refactor Preview) and not landing over what the user
typed while asked, a failed run showing the server's
reason, ty resolving imports in the environment selected in VS Code's Python extension,
and the extension's own settings of the wrong type named while the server still starts.
Everything is real but the model,
a scripted OpenAI-compatible server (tests/editors/scripted_openai.py) that punie-lsp
reaches through its ``openai:`` backend, and the Python extension (``ms-python.python``,
which needs the marketplace): a FAKE stand-in, tests/editors/vscode/fake-python-extension,
whose active environment is a venv this module makes.

What it needs — chromium, Node 24, code-server, vsce — is installed by
tests/editors/vscode/install.sh, which ``.ci/run`` runs. Without it the tests skip,
except under ``CI=true``, where a missing install is a failure. Select them with
``-m vscode``. Each step's screenshot goes to ``build/e2e/vscode/`` (``PUNIE_E2E_ARTIFACTS``
overrides), with ``timings.json`` (seconds from page load to the workbench and to the
first diagnostic), punie-lsp's log and the LSP trace of VS Code's Punie channel.

Waits are on what the page shows (Playwright's auto-waiting locators and
``expect``), never on time.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.editors.conftest import EDITORS
from tests.editors.scripted_openai import Code, Each, Fail, Held, ScriptedOpenAI, scripted_openai

pytestmark = [pytest.mark.vscode, pytest.mark.timeout(600)]

REPO = Path(__file__).resolve().parents[2]
FIXTURE = REPO / "training" / "sample_project"
INSTALL = Path(__file__).parent / "vscode" / "install.sh"
FAKE_PYTHON_EXTENSION = Path(__file__).parent / "vscode" / "fake-python-extension"
"""A FAKE ``ms-python.python``: the real Python extension cannot be installed here."""
ARTIFACTS = Path(os.environ.get("PUNIE_E2E_ARTIFACTS", REPO / "build" / "e2e")) / "vscode"
STEP_TIMEOUT_MS = 60_000
"""How long one step may wait for the page (the first diagnostic takes 15 to 27 s from page
load here, on 2 shared cores)."""

ANSWER = "Hello from a scripted OpenAI-compatible model: origin_distance returns the norm."
FIXED_APP = (FIXTURE / "pkg" / "app.py").read_text().replace('return "not an int"', "return 0")
FIX = Code(f'write_file("pkg/app.py", {FIXED_APP!r})\ntypecheck("pkg/app.py").error_count')
FIXED = "Fixed: broken() now returns 0, an int."


@dataclass(frozen=True)
class Installed:
    node: Path
    code_server: Path
    vsce: Path
    chromium: Path


def installed() -> Installed:
    """What install.sh installed; skips (fails under CI=true) when something is missing."""
    found = subprocess.run(
        ["bash", str(INSTALL), "--paths"], capture_output=True, text=True, timeout=60
    )
    if found.returncode != 0:
        reason = f"VS Code end-to-end: {found.stderr.strip()}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason} (.ci/run installs it: the install step failed or was skipped)")
        pytest.skip(reason)
    paths = json.loads(found.stdout)
    return Installed(
        node=Path(paths["node"]),
        code_server=Path(paths["codeServer"]),
        vsce=Path(paths["vsce"]),
        chromium=Path(paths["chromium"]),
    )


def run(command: list[str], cwd: Path, env: dict[str, str], timeout: float = 300) -> str:
    done = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, f"{command[:3]} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def package(tools: Installed, folder: Path, vsix: Path, env: dict[str, str]) -> Path:
    """``vsce package`` of an extension folder."""
    command = [str(tools.node), str(tools.vsce), "package", "--allow-missing-repository"]
    run([*command, "--skip-license", "--out", str(vsix)], folder, env)
    return vsix


def selected_environment(work: Path) -> Path:
    """A venv holding ``only_in_selected_env``, which nothing else here provides: the
    interpreter the fake Python extension reports as the user's selection."""
    venv = work / "selected-venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60
    )
    (site,) = (venv / "lib").glob("python3*/site-packages")
    (site / "only_in_selected_env.py").write_text("def answer() -> int:\n    return 42\n")
    return venv / "bin" / "python"


def build_vsix(tools: Installed, work: Path, env: dict[str, str]) -> Path:
    """The extension packaged from this checkout: npm ci, tsc, vsce package."""
    build = work / "extension"
    shutil.copytree(EDITORS / "vscode", build, ignore=shutil.ignore_patterns("node_modules", "out"))
    run(["npm", "ci", "--no-audit", "--no-fund", "--prefer-offline"], build, env)
    run([str(build / "node_modules" / ".bin" / "tsc"), "-p", "."], build, env)
    assert (build / "out" / "extension.js").is_file()
    assert (build / "out" / "answerView.js").is_file()
    # The compiled extension reads the table test_vscode_extension checks.
    source_table = EDITORS / "vscode" / "src" / "commands.json"
    compiled_table = build / "out" / "commands.json"
    assert json.loads(compiled_table.read_text()) == json.loads(source_table.read_text())
    return package(tools, build, work / "punie-lsp.vsix", env)


@dataclass
class CodeServer:
    process: subprocess.Popen[str]
    url: str
    lines: list[str] = field(default_factory=list)


def start_code_server(
    tools: Installed, work: Path, project: Path, env: dict[str, str]
) -> CodeServer:
    """code-server on a free port of 127.0.0.1, once it says it listens."""
    command = [
        str(tools.node),
        str(tools.code_server),
        "--bind-addr",
        "127.0.0.1:0",
        "--auth",
        "none",
        "--config",
        str(work / "code-server.yaml"),
        "--user-data-dir",
        str(work / "data"),
        "--extensions-dir",
        str(work / "extensions"),
        "--disable-telemetry",
        "--disable-update-check",
        "--disable-getting-started-override",
        "--ignore-last-opened",
        str(project),
    ]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        start_new_session=True,
    )
    assert process.stdout is not None
    lines: queue.Queue[str | None] = queue.Queue()
    log: list[str] = []

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            log.append(line)
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + 120
    while True:
        line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
        assert line is not None, "code-server exited:\n" + "".join(log)
        listening = re.search(r"HTTP server listening on (http://\S+?)/?\s*$", line)
        if listening:
            return CodeServer(process, listening.group(1), log)


def stop(process: subprocess.Popen[str]) -> None:
    """code-server and everything it started (extension host, punie-lsp, ty)."""
    if process.poll() is None:
        os.killpg(process.pid, 15)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, 9)  # children left in the group after code-server exited


@dataclass
class VSCode:
    """One code-server page on the project, with the scripted model behind it."""

    page: Any
    project: Path
    model: ScriptedOpenAI
    loaded_at: float
    log: Path
    timings: dict[str, float] = field(default_factory=dict)

    def shot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path))
        return path

    def quick_input(self, text: str, row: str) -> None:
        """Click the search box atop the window, type ``text``, Enter on the ``row`` shown.

        The box opens Quick Open whatever has the keyboard focus (a key chord would go to
        a panel or notification that holds it); ``>`` makes it the command palette.
        """
        from playwright.sync_api import expect

        self.page.locator(".command-center .search-label").click()
        box = self.page.locator(".quick-input-widget input")
        focused = self.page.locator(".quick-input-list .monaco-list-row.focused")
        # The picker fills its list after it opens and may clear what was typed before
        # then: type once a row shows, and again if the focused row is not the one wanted.
        for attempt in range(3):
            self.page.locator(".quick-input-list .monaco-list-row").first.wait_for()
            box.fill(text)
            try:
                expect(focused).to_contain_text(row, timeout=10_000)
                expect(box).to_have_value(text, timeout=1_000)
                break
            except AssertionError:
                if attempt == 2:
                    raise
        box.press("Enter")

    def run_command(self, title: str) -> None:
        self.quick_input(">" + title, title)

    def open_file(self, relative: str) -> None:
        name = Path(relative).name
        self.quick_input(relative, name)
        self.page.locator(".tab.active", has_text=name).wait_for()

    def go_to(self, line: int, column: int) -> None:
        self.page.keyboard.press("Control+G")
        box = self.page.locator(".quick-input-widget input")
        box.fill(f":{line}:{column}")
        box.press("Enter")

    def ask(self, prompt: str) -> None:
        """*Punie: Ask* from the palette, ``prompt`` typed into its box."""
        self.run_command("Punie: Ask")
        box = self.page.locator(".quick-input-widget input")
        box.fill(prompt)
        box.press("Enter")

    def panel(self) -> Any:
        """The Punie panel's document (a webview: an iframe in an iframe)."""
        return self.page.frame_locator("iframe.webview.ready").frame_locator("iframe#active-frame")

    def editor(self) -> Any:
        return self.page.locator(".editor-instance .monaco-editor .view-lines").first

    def editor_text(self) -> str:
        return str(self.editor().inner_text()).replace("\xa0", " ")


@pytest.fixture(scope="module")
def vscode(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VSCode]:
    tools = installed()
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=STEP_TIMEOUT_MS)

    work = tmp_path_factory.mktemp("vscode")
    project = work / "project"
    shutil.copytree(FIXTURE, project)
    # A project module named like the standard library's: `python -m` would import it
    # instead of the real `types` from the working directory, unless started with -P.
    (project / "types.py").write_text(
        'raise ImportError("the workspace\'s types.py shadowed the standard library")\n'
    )
    # Resolves only in the environment selected in the (fake) Python extension: there ty
    # reports the assignment (int into str); anywhere else, an unresolved import.
    (project / "uses_env.py").write_text(
        "import only_in_selected_env\n\nvalue: str = only_in_selected_env.answer()\n"
    )
    selected_python = selected_environment(work)
    log = work / "punie-lsp.log"
    env = {
        **os.environ,
        "PATH": os.pathsep.join([str(tools.node.parent), os.environ["PATH"]]),
        "XDG_CONFIG_HOME": str(work / "config"),
        "XDG_DATA_HOME": str(work / "xdg-data"),
        "XDG_CACHE_HOME": str(work / "cache"),
    }
    env.pop("PUNIE_LSP_MODEL_FACTORY", None)
    vsix = build_vsix(tools, work, env)
    fake_python = shutil.copytree(FAKE_PYTHON_EXTENSION, work / "fake-python-extension")
    fake_vsix = package(tools, fake_python, work / "fake-python.vsix", env)
    run(
        [
            str(tools.node),
            str(tools.code_server),
            "--extensions-dir",
            str(work / "extensions"),
            "--user-data-dir",
            str(work / "data"),
            "--install-extension",
            str(vsix),
            "--install-extension",
            str(fake_vsix),
        ],
        work,
        env,
    )

    with scripted_openai() as model:
        user = work / "data" / "User"
        user.mkdir(parents=True, exist_ok=True)
        (user / "settings.json").write_text(
            json.dumps(
                {
                    "workbench.startupEditor": "none",
                    "workbench.tips.enabled": False,
                    "workbench.welcomePage.walkthroughs.openOnInstall": False,
                    "extensions.ignoreRecommendations": True,
                    "telemetry.telemetryLevel": "off",
                    "chat.disableAIFeatures": True,
                    "punie.model": "openai:scripted",
                    "punie.baseUrl": model.url,
                    "punie.edits": "ask",
                    # The LSP messages, in data/logs/*/exthost1/output_logging_*/*Punie.log.
                    "punie-lsp.trace.server": "messages",
                }
            )
        )
        # code-server counts as remote: machine-scoped settings live under Machine/.
        machine = work / "data" / "Machine"
        machine.mkdir(parents=True, exist_ok=True)
        (machine / "settings.json").write_text(
            json.dumps(
                {
                    "punie-lsp.interpreter": sys.executable,
                    # The fake Python extension's active environment.
                    "python.defaultInterpreterPath": str(selected_python),
                    "punie-lsp.server.extraArgs": [
                        "--log-file",
                        str(log),
                        "--log-level",
                        "DEBUG",
                    ],
                }
            )
        )
        server = start_code_server(tools, work, project, env)
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=str(tools.chromium))
                try:
                    page = browser.new_page(viewport={"width": 1440, "height": 900})
                    page.set_default_timeout(STEP_TIMEOUT_MS)
                    loaded_at = time.monotonic()
                    page.goto(f"{server.url}/?folder={project}")
                    page.locator(".monaco-workbench").wait_for()
                    # code-server opens a folder it has not seen in Restricted Mode, as a
                    # cautious user would (test_status_and_workspace_trust trusts it).
                    page.locator(".statusbar-item", has_text="Restricted Mode").wait_for()
                    page.locator(".explorer-folders-view").wait_for()
                    code = VSCode(page, project, model, loaded_at, log)
                    code.timings["pageLoadToWorkbench"] = round(time.monotonic() - loaded_at, 2)
                    code.open_file("pkg/app.py")
                    yield code
                    ARTIFACTS.mkdir(parents=True, exist_ok=True)
                    (ARTIFACTS / "timings.json").write_text(json.dumps(code.timings, indent=2))
                finally:
                    browser.close()
        finally:
            stop(server.process)
            # The server's log and VS Code's Punie channel (LSP trace) beside the shots.
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            if log.is_file():
                shutil.copy(log, ARTIFACTS / "punie-lsp.log")
            for channel in (work / "data" / "logs").glob("*/exthost*/output_logging_*/*Punie.log"):
                shutil.copy(channel, ARTIFACTS / "vscode-punie-channel.log")


@pytest.fixture(autouse=True)
def last_screen(vscode: VSCode, request: pytest.FixtureRequest) -> Iterator[None]:
    """The page as each test left it (``end-<test>.png``): what a failure looked like."""
    yield
    vscode.shot(f"end-{request.node.name}")


def test_diagnostic_in_problems_panel_and_as_squiggle(vscode: VSCode) -> None:
    from playwright.sync_api import expect

    page = vscode.page
    squiggle = page.locator(".editor-instance .squiggly-error").first
    squiggle.wait_for()
    vscode.timings["pageLoadToFirstDiagnostic"] = round(time.monotonic() - vscode.loaded_at, 2)
    page.keyboard.press("Control+Shift+M")
    problems = page.locator(".markers-panel")
    row = problems.locator(".monaco-list-row", has_text="Return type does not match")
    expect(row.first).to_contain_text("invalid-explicit-return")
    expect(row.first).to_contain_text("[Ln 13, Col 12]")
    expect(row.first).to_contain_text("ty")
    vscode.shot("1-diagnostics")


def test_ty_uses_the_environment_selected_in_the_python_extension(vscode: VSCode) -> None:
    """``only_in_selected_env`` lives only in the venv the (fake) Python extension reports
    as active: ty resolves it, so it finds the int-into-str assignment instead."""
    from playwright.sync_api import expect

    vscode.open_file("uses_env.py")
    # Opens the panel whether or not an earlier test left it open (Ctrl+Shift+M toggles).
    vscode.run_command("Problems: Focus on Problems View")
    problems = vscode.page.locator(".markers-panel")
    row = problems.locator(".monaco-list-row", has_text="invalid-assignment")
    expect(row.first).to_contain_text("[Ln 3, Col 14]")
    expect(
        problems.locator(".monaco-list-row", has_text="Cannot resolve imported module")
    ).to_have_count(0)
    vscode.shot("2-selected-environment")


def test_hover_shows_ty_signature(vscode: VSCode) -> None:
    from playwright.sync_api import expect

    vscode.open_file("pkg/app.py")
    vscode.go_to(9, 15)  # `norm` in `return p.norm()`
    vscode.page.keyboard.press("Control+K")
    vscode.page.keyboard.press("Control+I")
    hover = vscode.page.locator(".monaco-hover:visible").first
    expect(hover).to_contain_text("Point.norm() -> float")
    vscode.shot("2-hover")
    vscode.page.keyboard.press("Escape")


def test_go_to_definition_opens_shapes(vscode: VSCode) -> None:
    from playwright.sync_api import expect

    vscode.open_file("pkg/app.py")
    vscode.go_to(9, 15)
    vscode.page.keyboard.press("F12")
    expect(vscode.page.locator(".tab.active")).to_contain_text("shapes.py")
    cursor = vscode.page.locator(".statusbar-item", has_text=re.compile(r"Ln \d+, Col \d+"))
    expect(cursor.first).to_contain_text("Ln 11,")  # `def norm` in pkg/shapes.py
    vscode.shot("3-definition")


def test_status_and_workspace_trust(vscode: VSCode) -> None:
    """Status names the model; VS Code's workspace trust reaches the server as ``trust``."""
    from playwright.sync_api import expect

    page = vscode.page
    toast = page.locator(".notifications-toasts .notification-toast", has_text="punie-lsp")
    vscode.run_command("Punie: Status")
    # "(not loaded)": no prompt has built the model yet.
    model = r"ty running, model openai:scripted( \(not loaded\))?"
    expect(toast.first).to_contain_text(re.compile(model + ", restricted"))
    vscode.shot("4-status-restricted")
    page.keyboard.press("Escape")
    vscode.run_command("Workspaces: Manage Workspace Trust")
    page.get_by_role("button", name="Trust", exact=True).first.click()
    trust_editor = page.locator(".monaco-modal-editor-block")
    expect(trust_editor).to_contain_text("You trust this folder")
    trust_editor.get_by_role("button", name="Close").first.click()
    expect(trust_editor).to_have_count(0)
    vscode.run_command("Punie: Status")
    expect(toast.first).to_contain_text(re.compile(model + ", trusted"))
    vscode.shot("4-status")
    page.keyboard.press("Escape")


def test_ask_streams_into_the_punie_panel(vscode: VSCode) -> None:
    from playwright.sync_api import expect

    vscode.model.script = [ANSWER]
    asked = len(vscode.model.bodies)
    vscode.open_file("pkg/app.py")
    vscode.run_command("Punie: Ask")
    box = vscode.page.locator(".quick-input-widget input")
    box.fill("What does origin_distance return?")
    box.press("Enter")
    panel = vscode.page.frame_locator("iframe.webview.ready").frame_locator("iframe#active-frame")
    expect(panel.locator("pre.answer").last).to_contain_text(ANSWER)
    expect(panel.locator("pre.outcome").last).to_contain_text("ok; 0 edits")
    vscode.shot("5-ask")
    body = vscode.model.bodies[asked]
    assert body["model"] == "scripted"
    assert body["stream"] is True
    assert "What does origin_distance return?" in json.dumps(body["messages"])


def test_two_asks_at_once_each_answer_in_its_own_place(vscode: VSCode) -> None:
    """Ask twice quickly: both runs stream at once (the scripted model holds both replies
    open halfway), and each one's words, answer and outcome stay under its own prompt.
    (Before, the panel appended every ``punie/message`` to one stream whatever run it came
    from: "First one Second one First two Second two" in one block, each outcome after.)"""
    from playwright.sync_api import expect

    release = threading.Event()
    vscode.model.script = [
        Each(
            [
                Held("First-run words", "and its end.", release),
                Held("Second-run words", "and its end.", release),
            ]
        )
    ]
    # Prompts in one conversation run one at a time (the second waits for the first):
    # a new conversation, so both Asks start in it at once.
    vscode.run_command("Punie: Reset conversation")
    vscode.open_file("pkg/app.py")
    runs = vscode.panel().locator("div.run")
    first = runs.filter(has_text="punie.ask: Which run is this, first?")
    second = runs.filter(has_text="punie.ask: Which run is this, second?")
    try:
        vscode.ask("Which run is this, first?")
        vscode.ask("Which run is this, second?")
        # Both stream before either ends; which request the model saw first is not fixed.
        expect(first).to_contain_text(re.compile(r"(First|Second)-run words"))
        expect(second).to_contain_text(re.compile(r"(First|Second)-run words"))
        expect(runs.locator("pre.outcome")).to_have_count(0)  # both still held open
        vscode.shot("5b-two-asks-streaming")
    finally:
        release.set()
    expect(first.locator("pre.outcome")).to_have_text("ok; 0 edits")
    expect(second.locator("pre.outcome")).to_have_text("ok; 0 edits")
    answers = [str(block.locator("pre.answer").inner_text()).strip() for block in (first, second)]
    assert sorted(answers) == [
        "First-run words and its end.",
        "Second-run words and its end.",
    ], answers
    vscode.shot("5b-two-asks-done")


def test_cancel_from_the_progress_notification_stops_an_openai_run(vscode: VSCode) -> None:
    """The progress notification's *Cancel* while an ``openai:`` server streams (held
    open): the run ends within seconds, the panel says cancelled, nothing is shown as an
    error, and the next Ask answers."""
    from playwright.sync_api import expect

    release = threading.Event()
    vscode.model.script = [Held("Thinking about it", "never sent.", release)]
    vscode.open_file("pkg/app.py")
    run = vscode.panel().locator("div.run", has_text="punie.ask: Take your time?")
    toasts = vscode.page.locator(".notifications-toasts .notification-toast")
    try:
        vscode.ask("Take your time?")
        expect(run).to_contain_text("Thinking about it")
        progress = toasts.filter(has_text="Punie: asking")
        vscode.shot("5c-cancel-progress")
        progress.get_by_role("button", name="Cancel").click()
        clicked = time.monotonic()
        expect(run.locator("pre.outcome")).to_have_text("cancelled; 0 edits", timeout=10_000)
        vscode.timings["cancelClickToOutcome"] = round(time.monotonic() - clicked, 2)
    finally:
        release.set()
    expect(run).not_to_contain_text("never sent")
    # Cancelling is the user's own doing: said in the panel, not raised as an error.
    expect(toasts.filter(has_text="cancelled")).to_have_count(0)
    vscode.shot("5c-cancelled")
    vscode.model.script = [ANSWER]
    vscode.ask("And now?")
    after = vscode.panel().locator("div.run", has_text="punie.ask: And now?")
    expect(after.locator("pre.outcome")).to_have_text("ok; 0 edits")
    expect(after.locator("pre.answer")).to_contain_text(ANSWER)


def test_fix_asks_then_lands_an_undoable_edit(vscode: VSCode) -> None:
    from playwright.sync_api import expect

    page = vscode.page
    vscode.model.script = [FIX, FIXED]
    vscode.open_file("pkg/app.py")
    vscode.go_to(13, 12)  # inside `return "not an int"`
    vscode.run_command("Punie: Fix")
    # punie-lsp asks through change annotations (needsConfirmation): VS Code opens its
    # Refactor Preview with the diff, the change unticked until the user ticks it.
    preview = page.locator(".bulk-edit-panel")
    expect(preview).to_contain_text("return 0")
    vscode.shot("6-fix-asks")
    tick = preview.locator('.monaco-list-row[aria-label^="pkg/app.py"] .edit-checkbox')
    tick.click()
    expect(tick).to_have_attribute("aria-checked", "true")
    preview.get_by_role("button", name="Apply", exact=True).click()
    editor = vscode.editor()
    expect(editor).to_contain_text(re.compile(r"return\s0"))
    expect(editor).not_to_contain_text("not an int")
    panel = page.frame_locator("iframe.webview.ready").frame_locator("iframe#active-frame")
    expect(panel.locator("pre.answer").last).to_contain_text(FIXED)
    expect(panel.locator("pre.outcome").last).to_have_text("ok; 1 edit")
    vscode.shot("7-fix-applied")
    # The edit is in the buffer, unsaved, and one undo takes it back.
    assert 'return "not an int"' in (vscode.project / "pkg" / "app.py").read_text()
    vscode.open_file("pkg/app.py")
    page.keyboard.press("Control+Z")
    expect(editor).to_contain_text("not an int")
    vscode.shot("8-fix-undone")


def test_a_failed_run_shows_the_servers_reason(vscode: VSCode) -> None:
    """The model endpoint refuses (as Ollama does for a model it lacks): the user sees why."""
    from playwright.sync_api import expect

    page = vscode.page
    vscode.model.script = [Fail(404, 'model "scripted" not found, try pulling it first')]
    vscode.open_file("pkg/app.py")
    vscode.run_command("Punie: Ask")
    box = page.locator(".quick-input-widget input")
    box.fill("Hello?")
    box.press("Enter")
    panel = page.frame_locator("iframe.webview.ready").frame_locator("iframe#active-frame")
    error = panel.locator("pre.error").last
    expect(error).to_contain_text("openai:scripted")
    expect(panel.locator("pre.outcome").last).to_contain_text("model_error")
    reason = str(error.inner_text())
    toast = page.locator(".notifications-toasts .notification-toast", has_text="Punie:")
    expect(toast.last).to_contain_text(reason.splitlines()[0][:60])
    vscode.shot("9-failed-run")


def test_a_new_selection_in_the_python_extension_reaches_ty(vscode: VSCode) -> None:
    """Selecting another interpreter (the fake's ``onDidChangeActiveEnvironmentPath``)
    restarts the server with it: in a venv without the module, the import is unresolved;
    back in the selected one, it resolves again. Last: it restarts punie-lsp twice."""
    from playwright.sync_api import expect

    work = vscode.project.parent
    machine = work / "data" / "Machine" / "settings.json"
    settings = json.loads(machine.read_text())
    selected = settings["python.defaultInterpreterPath"]
    bare = work / "bare-venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True, timeout=60
    )
    vscode.open_file("uses_env.py")
    vscode.run_command("Problems: Focus on Problems View")
    problems = vscode.page.locator(".markers-panel")
    unresolved = problems.locator(".monaco-list-row", has_text="Cannot resolve imported module")
    assigned = problems.locator(".monaco-list-row", has_text="invalid-assignment")
    try:
        machine.write_text(
            json.dumps({**settings, "python.defaultInterpreterPath": str(bare / "bin" / "python")})
        )
        expect(unresolved.first).to_contain_text("only_in_selected_env")
        expect(assigned).to_have_count(0)
        vscode.shot("10-selection-changed")
    finally:
        machine.write_text(json.dumps({**settings, "python.defaultInterpreterPath": selected}))
    expect(assigned.first).to_contain_text("[Ln 3, Col 14]")
    expect(unresolved).to_have_count(0)


def test_extension_settings_of_the_wrong_type_are_named_and_the_server_still_starts(
    vscode: VSCode,
) -> None:
    """A hand-edited settings.json with ``server.extraArgs`` as one string (not a list)
    and ``interpreter`` as a number: each is named in one error message and its default
    used, and punie-lsp restarts and answers. (Before, the string was spread into one
    argument per character, which punie-lsp's argument parser refused, and the number
    threw in the extension: no server, no reason.)"""
    from playwright.sync_api import expect

    page = vscode.page
    machine = vscode.project.parent / "data" / "Machine" / "settings.json"
    settings = json.loads(machine.read_text())
    bad = {
        **settings,
        "punie-lsp.server.extraArgs": "--log-level DEBUG",
        "punie-lsp.interpreter": 3,
        "punie-lsp.server.path": str(Path(sys.executable).parent / "punie-lsp"),
    }
    toasts = page.locator(".notifications-toasts .notification-toast")
    page.locator(".editor-instance .squiggly-error").first.wait_for()  # the server is up
    try:
        machine.write_text(json.dumps(bad))
        expect(
            toasts.filter(has_text="punie-lsp.server.extraArgs must be a list of strings").first
        ).to_be_visible()
        expect(
            toasts.filter(has_text="punie-lsp.interpreter must be a string").first
        ).to_be_visible()
        vscode.shot("11-bad-extension-settings")
        vscode.run_command("Punie: Status")
        expect(
            toasts.filter(has_text="punie-lsp").filter(has_text="ty running").first
        ).to_be_visible()
    finally:
        machine.write_text(json.dumps(settings))
    page.keyboard.press("Escape")


def test_a_changed_ty_setting_takes_effect_at_once(vscode: VSCode) -> None:
    """ty reads its settings when it starts (it has no handler for
    ``workspace/didChangeConfiguration``): turning a rule off in settings.json mid-session
    is sent to punie-lsp, which restarts its ty child with it (not the server: the
    conversations stay), and the diagnostic goes; turning it back on brings it back."""
    from playwright.sync_api import expect

    machine = vscode.project.parent / "data" / "Machine" / "settings.json"
    settings = json.loads(machine.read_text())
    vscode.open_file("pkg/app.py")
    vscode.run_command("Problems: Focus on Problems View")
    problems = vscode.page.locator(".markers-panel")
    row = problems.locator(".monaco-list-row", has_text="invalid-explicit-return")
    expect(row.first).to_be_visible()
    rules = {"rules": {"invalid-explicit-return": "ignore"}}
    servers = log_lines(vscode.log, FIRST_TY_START)
    try:
        machine.write_text(json.dumps({**settings, "ty": {"configuration": rules}}))
        expect(row).to_have_count(0)
        vscode.shot("12-ty-rule-off")
    finally:
        machine.write_text(json.dumps(settings))
    expect(row.first).to_be_visible()
    assert log_lines(vscode.log, FIRST_TY_START) == servers  # the same punie-lsp throughout
    assert log_lines(vscode.log, "ty restarted for new settings") >= 2


FIRST_TY_START = re.compile(r"ty started \(pid \d+\)$")
"""What each punie-lsp process logs once, when its ty first starts."""


def log_lines(log: Path, pattern: str | re.Pattern[str]) -> int:
    """How many lines of punie-lsp's log ``pattern`` matches (searched in each line)."""
    found = re.compile(re.escape(pattern)) if isinstance(pattern, str) else pattern
    return sum(1 for line in log.read_text().splitlines() if found.search(line))


def test_typing_while_the_refactor_preview_asks_keeps_the_typing(vscode: VSCode) -> None:
    """*Fix* proposes an edit of ``pkg/shapes.py``; while the Refactor Preview asks, the
    user types in that file, then ticks the change and presses *Apply*. VS Code refuses
    ("has changed in the meantime"); the typing stays, the edit does not land, and the
    panel says the file changed (it said "the editor did not apply it: declined").
    Last: the typing is left in the file."""
    from playwright.sync_api import expect

    page = vscode.page
    shapes = (vscode.project / "pkg" / "shapes.py").read_text()
    proposed = shapes.replace("def norm(self)", "def norm(self)  ", 1)
    assert proposed != shapes
    vscode.model.script = [Code(f'write_file("pkg/shapes.py", {proposed!r})'), "Spaced out."]
    vscode.open_file("pkg/shapes.py")
    vscode.run_command("Punie: Fix")
    preview = page.locator(".bulk-edit-panel")
    expect(preview).to_contain_text("def norm(self)")
    vscode.open_file("pkg/shapes.py")
    vscode.editor().click()
    page.keyboard.press("Control+End")
    page.keyboard.type("# typed while asked")
    tick = preview.locator('.monaco-list-row[aria-label^="pkg/shapes.py"] .edit-checkbox')
    tick.click()
    preview.get_by_role("button", name="Apply", exact=True).click()
    dialog = page.locator(".monaco-dialog-box")
    expect(dialog).to_contain_text("has changed in the meantime")
    vscode.shot("13-typed-while-asked")
    dialog.get_by_role("button", name="OK").click()
    run = vscode.panel().locator("div.run").last
    expect(run.locator("pre.outcome")).to_contain_text(
        "not applied: changed while Punie worked: shapes.py"
    )
    expect(vscode.editor()).to_contain_text(re.compile(r"#\styped\swhile\sasked"))
    assert "def norm(self)  " not in vscode.editor_text()
    assert "def norm(self)  " not in (vscode.project / "pkg" / "shapes.py").read_text()
