"""Command line: ``punie-lsp --stdio`` (the editor's entry point) and tool subcommands.

Nothing but protocol is ever written to stdout in server mode: logs go to stderr or
``--log-file``. ``PUNIE_LSP_TY_COMMAND`` replaces the ``ty server`` command (for a ty
other than the bundled wheel's).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import difflib
import importlib
import logging
import math
import os
import shlex
import signal
import sys
from pathlib import Path

from punie_lsp import __version__

__all__ = ["main"]

SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "tool": ("typed_tools.cli", "run one typed tool and print its JSON result"),
    "run-code": ("agent.run_code_cli", "run Python in the sandbox with the typed tools"),
    "ask": ("agent.cli", "ask the agent a question about a workspace, without an editor"),
    "train": ("training.cli", "datasets, fine-tuning, evaluation and reports"),
}
"""Subcommand -> (module with ``main(argv) -> int``, help). Imported only when used."""


def _server_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="punie-lsp",
        description=(
            "Python language server: ty's semantics plus a local Code Mode agent. "
            "Editors start it with --stdio. Subcommands: "
            + ", ".join(f"'{name}' ({doc})" for name, (_, doc) in SUBCOMMANDS.items())
        ),
    )
    transport = parser.add_mutually_exclusive_group()
    transport.add_argument(
        "--stdio", action="store_true", help="talk LSP on stdin/stdout (default)"
    )
    transport.add_argument(
        "--tcp",
        metavar="HOST:PORT",
        type=_tcp_address,
        help="listen for one editor on HOST:PORT",
    )
    parser.add_argument("--version", action="version", version=f"punie-lsp {__version__}")
    parser.add_argument("--log-file", metavar="PATH", help="write logs here instead of stderr")
    parser.add_argument(
        "--trust",
        action="store_true",
        help="let tools run the workspace's own code (pytest_run) in every workspace, "
        "whatever the 'trust' setting says; without it only trusted workspaces may",
    )
    parser.add_argument(
        "--log-level",
        default="INFO",
        type=str.upper,
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="log verbosity (default INFO)",
    )
    return parser


class _LogFile(logging.FileHandler):
    """``--log-file``: a log write that fails (a full disk, the file's volume gone) is
    said once, in one line on stderr, and the file is not written again. logging's own
    ``handleError`` printed a traceback to stderr (the editor's log) for every record."""

    def handleError(self, record: logging.LogRecord) -> None:  # logging's name
        error = sys.exc_info()[1]
        reason = error.strerror if isinstance(error, OSError) and error.strerror else error
        with contextlib.suppress(Exception):
            print(
                f"punie-lsp: cannot write the log file {self.baseFilename} ({reason}); "
                "logging to it stops",
                file=sys.stderr,
                flush=True,
            )
        logging.getLogger().removeHandler(self)


def _configure_logging(level: str, log_file: str | None) -> None:
    handler: logging.Handler = (
        _LogFile(log_file, encoding="utf-8") if log_file else logging.StreamHandler(sys.stderr)
    )
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # pygls logs every message body at INFO: keep it out of the user's log unless debugging.
    quiet = max(logging.getLevelNamesMapping()[level], logging.WARNING)
    logging.getLogger("pygls").setLevel(quiet)


def _tcp_address(value: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:PORT`` for IPv6; no host is 127.0.0.1) as ``--tcp``'s type.

    A port outside 0-65535 is a usage error here, not an ``OverflowError`` from bind.
    """
    host, sep, port = value.rpartition(":")
    if not sep or not (port.isascii() and port.isdigit()):
        raise argparse.ArgumentTypeError(f"expects HOST:PORT, e.g. 127.0.0.1:2087, got {value!r}")
    if int(port) > 65535:
        raise argparse.ArgumentTypeError(
            f"port {port} is not a TCP port: use 1-65535 (0 picks a free one), got {value!r}"
        )
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host or "127.0.0.1", int(port)


def _environment(parser: argparse.ArgumentParser) -> list[str] | None:
    """The server's environment variables checked up front (usage errors, not tracebacks
    at import); returns ``PUNIE_LSP_TY_COMMAND`` split as a shell would, or None."""
    wait = os.environ.get("PUNIE_LSP_TY_WAIT_SECONDS")
    if wait is not None:
        try:
            seconds = float(wait)
        except ValueError:
            seconds = math.nan
        if not (math.isfinite(seconds) and 0 < seconds <= 3600):
            parser.error(
                f"PUNIE_LSP_TY_WAIT_SECONDS={wait!r}: seconds above 0 and at most 3600 "
                "(default 10), or leave it unset"
            )
    override = os.environ.get("PUNIE_LSP_TY_COMMAND")
    if not override:
        return None
    try:
        command = shlex.split(override)
    except ValueError as error:
        parser.error(
            f"PUNIE_LSP_TY_COMMAND={override!r}: {error}; write the command as a shell "
            "would, e.g. '/opt/ty/bin/ty server', or leave it unset"
        )
    return command or None


def main(argv: list[str] | None = None) -> int:
    args_list = sys.argv[1:] if argv is None else argv
    if args_list and args_list[0] in SUBCOMMANDS:
        # Started with <&- or >&-: read nothing, write nowhere, rather than fail on None.
        if sys.stdin is None:
            sys.stdin = open(os.devnull, encoding="utf-8")  # noqa: SIM115  # for the process
        if sys.stdout is None:
            sys.stdout = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115

        module = importlib.import_module(SUBCOMMANDS[args_list[0]][0])
        return int(module.main(args_list[1:]))

    parser = _server_parser()
    if args_list and not args_list[0].startswith("-"):  # a subcommand, misspelt
        close = difflib.get_close_matches(args_list[0].replace("_", "-"), SUBCOMMANDS, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        parser.error(
            f"unknown subcommand '{args_list[0]}': {hint}the subcommands are "
            + ", ".join(SUBCOMMANDS)
        )
    args = parser.parse_args(args_list)
    if args.log_file and not Path(args.log_file).expanduser().parent.is_dir():
        parser.error(
            f"--log-file {args.log_file}: the folder {Path(args.log_file).parent} does not "
            "exist; create it or log to stderr (leave --log-file out)"
        )
    try:
        _configure_logging(args.log_level, args.log_file)
    except OSError as error:
        parser.error(f"--log-file {args.log_file}: cannot write it ({error.strerror})")

    ty_command = _environment(parser)
    # Here, not at the top: runner imports pygls and asyncio's machinery, which the
    # subcommands, --help and usage errors above never need.
    from punie_lsp import runner

    if args.tcp:
        host, port = args.tcp
        try:
            return asyncio.run(
                runner.serve_tcp(host, port, ty_command=ty_command, trust_all=args.trust)
            )
        except OSError as error:  # the port is taken, or the host is not ours
            print(
                f"punie-lsp: cannot listen on {host}:{port} ({error.strerror or error}); "
                "check the host and pick a free port with --tcp HOST:PORT",
                file=sys.stderr,
            )
            return 1
    closed = [name for name in ("stdin", "stdout") if getattr(sys, name) is None]
    if closed:  # started with <&- or >&-: Python leaves sys.stdin/sys.stdout None
        parser.error(
            f"{' and '.join(closed)} closed: --stdio speaks LSP on stdin and stdout; give "
            "it both, or use --tcp HOST:PORT"
        )
    if sys.stdin is not None and sys.stdin.isatty():  # a person, not an editor
        print(
            "punie-lsp: speaking LSP on stdin/stdout, for an editor to start (README: "
            "Editors); Ctrl-D ends it",
            file=sys.stderr,
        )
    return asyncio.run(runner.serve_stdio(ty_command=ty_command, trust_all=args.trust))


class Stopped(KeyboardInterrupt):
    """SIGTERM or SIGHUP during a subcommand, raised where Ctrl-C's KeyboardInterrupt is."""

    def __init__(self, number: int) -> None:
        super().__init__(number)
        self.number = number


def _raise_stopped(number: int, frame: object) -> None:
    raise Stopped(number)


def _stop_like_ctrl_c() -> None:
    """A subcommand ends on SIGTERM (``kill``, ``timeout``) and SIGHUP (its terminal
    closed) as on Ctrl-C: its ``finally`` blocks and ``asyncio.run``'s cancellation run,
    so the processes it started (``ty check``, ruff, git, sandbox workers) are stopped.
    With the default action the process vanished at once and they ran on, orphaned, to
    their own limits. ``run-code`` and ``ask`` take these signals on their event loop
    instead (``agent.stop_signals``) and report the run as cancelled."""
    for number in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(number) is signal.SIG_DFL:  # an ignored one stays ignored
            signal.signal(number, _raise_stopped)


def entry() -> None:
    """The ``punie-lsp`` script: ``main``, then end the process with its status.

    Workaround for mlx-lm, in this one place: once ``mlx_lm`` has been imported and a
    model load failed on a worker thread (a Hugging Face repo that cannot be
    downloaded), the interpreter's own teardown aborts in native code about half the
    time ("terminate called without an active exception", exit 134), after the error
    was printed and the work was done. So when ``mlx_lm`` is loaded the process ends
    with ``os._exit`` once output and logs are flushed: nothing of ours is left to run
    by then (the server stopped ty, the sandbox and the model before returning). Test:
    ``tests/punie_lsp/test_cli.py::test_a_model_that_cannot_load_exits_1_without_aborting``.
    """
    if sys.argv[1:2] and sys.argv[1] in SUBCOMMANDS:
        _stop_like_ctrl_c()
    try:
        status = main()
        sys.stdout.flush()
    except BrokenPipeError:
        # stdout's reader went away (``punie-lsp tool --stubs | head -1``): nothing more
        # can reach it, and the interpreter's own flush at exit must not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        status = 1
    except Stopped as stopped:
        print(f"punie-lsp: stopped by {signal.Signals(stopped.number).name}", file=sys.stderr)
        status = 128 + stopped.number
    except KeyboardInterrupt:  # Ctrl-C in a terminal: the user's choice, not a failure
        print("punie-lsp: interrupted", file=sys.stderr)
        status = 130
    if "mlx_lm" not in sys.modules:
        sys.exit(status)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    logging.shutdown()
    os._exit(status)


if __name__ == "__main__":
    entry()
