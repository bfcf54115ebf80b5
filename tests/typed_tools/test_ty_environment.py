"""Which ty binary and process environment punie-lsp runs ty with (ty_environment)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from typed_tools import ty_environment
from typed_tools.ty_environment import ty_environment as environment_for_ty

OURS = sys.prefix


@pytest.mark.skipif(sys.prefix == sys.base_prefix, reason="punie-lsp runs in a venv here")
@pytest.mark.parametrize(
    ("given", "expected"),
    [
        # uv run: our venv named in VIRTUAL_ENV and first on PATH -> both taken out
        (
            {"VIRTUAL_ENV": OURS, "PATH": f"{OURS}/bin{os.pathsep}/usr/bin"},
            {"PATH": "/usr/bin"},
        ),
        # the user's own activated environment stays, ours goes
        (
            {
                "VIRTUAL_ENV": "/home/u/proj/.venv",
                "PATH": f"/home/u/proj/.venv/bin{os.pathsep}{OURS}/bin",
            },
            {"VIRTUAL_ENV": "/home/u/proj/.venv", "PATH": "/home/u/proj/.venv/bin"},
        ),
        # a trailing slash is the same folder
        ({"CONDA_PREFIX": OURS + "/", "PATH": "/bin"}, {"PATH": "/bin"}),
        # nothing of ours: untouched
        (
            {"PATH": "/usr/local/bin:/usr/bin", "HOME": "/h"},
            {"PATH": "/usr/local/bin:/usr/bin", "HOME": "/h"},
        ),
    ],
)
def test_only_punies_own_environment_is_hidden(
    given: dict[str, str], expected: dict[str, str]
) -> None:
    assert environment_for_ty(given) == expected


def test_ty_runs_from_outside_any_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A copy when a hard link is impossible; no pyvenv.cfg or site-packages around it."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    ty_environment.ty_executable.cache_clear()

    def no_links(*_: object) -> None:
        raise OSError("cross-device link")

    monkeypatch.setattr(os, "link", no_links)
    try:
        placed = Path(ty_environment.ty_executable())
    finally:
        ty_environment.ty_executable.cache_clear()
    assert placed.is_relative_to(tmp_path)
    assert os.access(placed, os.X_OK)
    assert placed.stat().st_size == ty_environment._wheel_binary().stat().st_size
    # ty takes the folder above its binary's for sys.prefix (self_environment_search_paths)
    for folder in (placed.parent, placed.parent.parent):
        assert not (folder / "pyvenv.cfg").exists()
        assert not list(folder.glob("lib*/python3*/site-packages"))
