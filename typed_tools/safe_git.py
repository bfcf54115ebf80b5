"""Running git on a repository that may be hostile, as careful editors do.

A repository's own ``.git/config`` and ``.gitattributes`` can name programs git runs:
``core.fsmonitor`` on every index read, hooks (``post-index-change`` fires on a plain
``git status``), ``core.pager``/``pager.<cmd>``, ``diff.external`` and ``diff.<driver>.
command``, ``diff.<driver>.textconv``, ``filter.<driver>.clean``/``smudge``/``process``
(``git diff`` runs the clean filter on a modified file), credential helpers and
``core.askPass`` (a lazy fetch in a partial clone asks for credentials), ``gpg.program``
(``log.showSignature``). Opening a folder must not run any of them, so every git
command a tool runs goes through ``git_command``: configuration given with ``-c`` wins
over the repository's, and the driver names the repository defines are read first (git
reads configuration without running anything) so each is blanked by name.

Read-only use is the contract: the options also keep git from taking locks and from
writing the index (``GIT_OPTIONAL_LOCKS=0``).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path

from typed_tools.process import Completed, run
from typed_tools.workspace import ToolFailure

__all__ = ["GIT_ENVIRONMENT", "HARDENING_OPTIONS", "git_command", "hardening_options", "run_git"]

HARDENING_OPTIONS: tuple[str, ...] = (
    "-c", "core.fsmonitor=false",
    "-c", f"core.hooksPath={os.devnull}",
    "-c", "core.pager=cat",
    "-c", "credential.helper=",
    "-c", "core.askPass=",
    "-c", "core.sshCommand=false",
    "-c", "protocol.allow=never",
    "-c", "log.showSignature=false",
    "-c", "gpg.program=false",
    "-c", "core.quotepath=off",
    "--no-pager",
)  # fmt: skip
"""Options placed before every subcommand: each switches one repository-named program off.

``protocol.allow=never`` makes any network access (a lazy fetch) fail instead of asking
credential helpers or ssh; ``credential.helper=`` empties the helper list.
"""

GIT_ENVIRONMENT: dict[str, str] = {
    "GIT_OPTIONAL_LOCKS": "0",
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_PAGER": "cat",
    "PAGER": "cat",
    "GIT_ASKPASS": "",
    "SSH_ASKPASS": "",
    "GIT_NO_LAZY_FETCH": "1",
    "LC_ALL": "C",
}
"""Environment for git: no prompts, no pager, no lazy fetch (git >= 2.44), C locale.

``GIT_EXTERNAL_DIFF`` is removed from the environment (``run`` drops ``None`` values).
"""

_GIT_ENV: dict[str, str | None] = {**GIT_ENVIRONMENT, "GIT_EXTERNAL_DIFF": None}

_FILTER_KEYS = r"^filter\..+\.(clean|smudge|process)$"

_DIFF_SWITCHES: dict[str, tuple[str, ...]] = {
    "diff": ("--no-ext-diff", "--no-textconv"),
    "diff-files": ("--no-ext-diff", "--no-textconv"),
    "diff-index": ("--no-ext-diff", "--no-textconv"),
    "diff-tree": ("--no-ext-diff", "--no-textconv"),
    "log": ("--no-ext-diff", "--no-textconv"),
    "show": ("--no-ext-diff", "--no-textconv"),
    "whatchanged": ("--no-ext-diff", "--no-textconv"),
    "format-patch": ("--no-ext-diff", "--no-textconv"),
    "blame": ("--no-textconv",),
    "grep": ("--no-textconv",),
}
"""Flags placed right after these subcommands: external diff (``diff.external``,
``diff.<driver>.command``) and ``textconv`` drivers off. Config cannot do this: an empty
``diff.external`` or driver command makes git fail trying to run the empty string."""


async def hardening_options(git: str, cwd: Path) -> list[str]:
    """``HARDENING_OPTIONS`` plus ``-c filter.<name>.<key>=`` for every filter configured.

    ``git config --get-regexp`` reads the repository's, the user's and included
    configuration without running anything; each filter command it names is set empty
    (git skips an empty filter) and made not ``required``.
    """
    completed = await run(
        [git, *HARDENING_OPTIONS, "config", "-z", "--name-only", "--get-regexp", _FILTER_KEYS],
        cwd=cwd,
        env=_GIT_ENV,
    )
    options = list(HARDENING_OPTIONS)
    for key in completed.stdout.split("\0"):
        key = key.strip()
        if key:
            options += ["-c", f"{key}=", "-c", key.rsplit(".", 1)[0] + ".required=false"]
    return options


def _git_binary() -> str:
    git = shutil.which("git")
    if git is None:
        raise ToolFailure("git is not installed")
    return git


async def git_command(args: Sequence[str], cwd: Path) -> list[str]:
    """The argv that runs ``git <args>`` in ``cwd`` with repository programs disabled.

    Run it with ``GIT_ENVIRONMENT`` and without ``GIT_EXTERNAL_DIFF`` (``run_git`` does).
    """
    git = _git_binary()
    options = await hardening_options(git, cwd)
    if not args:
        return [git, *options]
    subcommand, *rest = args
    return [git, *options, subcommand, *_DIFF_SWITCHES.get(subcommand, ()), *rest]


async def run_git(
    args: Sequence[str], *, cwd: Path, timeout: float | None = None, stdin: str | None = None
) -> Completed:
    """Run ``git <args>`` hardened (``git_command``, ``GIT_ENVIRONMENT``) and collect it."""
    return await run(
        await git_command(args, cwd), cwd=cwd, env=_GIT_ENV, timeout=timeout, stdin=stdin
    )
