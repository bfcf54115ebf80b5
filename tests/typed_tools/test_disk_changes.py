"""DiskScan: what changed under a workspace between two scans, on a real file system."""

from __future__ import annotations

import os
from pathlib import Path

from typed_tools.disk_changes import DiskScan


def test_created_changed_and_deleted_files_are_named(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("a = 1\n")
    (tmp_path / "b.pyi").write_text("b: int\n")
    (tmp_path / "gone.py").write_text("")
    scan = DiskScan.take(tmp_path)
    assert scan.changes() == []

    (tmp_path / "a.py").write_text("a = 22\n")  # another size
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "new.py").write_text("")
    (tmp_path / "gone.py").unlink()
    replaced = tmp_path / "b.pyi.tmp"
    replaced.write_text("b: str\n")
    os.replace(replaced, tmp_path / "b.pyi")  # saved by replacement: a new inode

    assert sorted(scan.changes()) == [
        (str(tmp_path / "a.py"), "changed"),
        (str(tmp_path / "b.pyi"), "changed"),
        (str(tmp_path / "gone.py"), "deleted"),
        (str(tmp_path / "pkg" / "new.py"), "created"),
    ]
    assert scan.changes() == []


def test_what_ty_does_not_analyse_is_not_scanned(tmp_path: Path) -> None:
    for folder in (".git", ".venv", "__pycache__", "node_modules", "lib/site-packages"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "x.py").write_text("")
    (tmp_path / "notes.txt").write_text("")
    os.mkfifo(tmp_path / "pipe.py")  # not a regular file: never opened
    (tmp_path / "loop").symlink_to(tmp_path)  # a link to a folder is not followed
    (tmp_path / "kept.py").write_text("")

    assert set(DiskScan.take(tmp_path).files) == {str(tmp_path / "kept.py")}
