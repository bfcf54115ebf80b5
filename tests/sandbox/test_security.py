"""Hostile programs: each is stopped with the right error kind, in time, and the pool lives on.

Every case runs with the type check off, so containment is proven at run time, not by
the checker refusing the program (``test_type_check.py`` covers that layer). Limits are
``SMALL`` (0.5 s, 32 MiB, depth 100, 20 tool calls, 10 kB of output); each case must end
within its time limit plus one second, and a plain ``1 + 1`` must work right after.
Reading outside the workspace through the real tools is in ``test_code_mode.py``.
"""

from __future__ import annotations

import time
from pathlib import Path
from textwrap import dedent

import pytest

from sandbox import ErrorKind, SandboxPool
from tests.sandbox.conftest import SMALL, assert_answers, run

MARKER = Path("/tmp/punie-sandbox-pwned")
"""What the process- and file-writing cases try to create on the host."""


def case(name: str, code: str, kind: ErrorKind) -> pytest.ParameterSet:
    return pytest.param(dedent(code).strip(), kind, id=name)


HOSTILE = [
    # time
    case("endless-loop", "while True: pass", "timeout"),
    case("endless-count", "import itertools\nfor _ in itertools.count(): pass", "timeout"),
    case(
        "swallow-the-timeout",
        """
        while True:
            try:
                while True:
                    pass
            except BaseException:
                pass
        """,
        "timeout",
    ),
    case("sleep-forever", "import time\ntime.sleep(10**9)", "timeout"),
    case("sleep-in-small-steps", "import time\nwhile True: time.sleep(0.05)", "timeout"),
    case(
        "async-sleep-forever",
        """
        import asyncio
        async def main():
            await asyncio.sleep(10**9)
        asyncio.run(main())
        """,
        "timeout",
    ),
    case("tool-that-never-returns", "hang()", "timeout"),
    # memory
    case("list-append-bomb", "xs = []\nwhile True: xs.append('x' * 1000)", "memory"),
    case("string-doubling", "s = 'x'\nwhile True: s = s + s", "memory"),
    case("huge-list", "[0] * (10**10)", "memory"),
    case("gigabyte-string-printed", "print('x' * 2**30)", "memory"),
    # recursion
    case("recursion-bomb", "def f(n):\n    return f(n + 1)\nf(0)", "limit"),
    case("mutual-recursion", "def a(): return b()\ndef b(): return a()\na()", "limit"),
    # output and tools
    case("print-flood", "while True: print('x' * 10_000)", "limit"),
    case("many-small-prints", "for i in range(10**9): print(i)", "limit"),
    case("huge-return-value", "'y' * 1_000_000", "limit"),
    case("tool-call-flood", "while True: echo(1)", "limit"),
    case(
        "failing-tool-call-flood",
        """
        while True:
            try:
                fail('x')
            except KeyError:
                pass
        """,
        "limit",
    ),
    # processes, network, host filesystem, environment
    case("os-system", f"import os\nos.system('touch {MARKER}')", "runtime"),
    case("subprocess", "import subprocess\nsubprocess.run(['id'])", "runtime"),
    case("socket", "import socket\nsocket.create_connection(('example.com', 80))", "runtime"),
    case(
        "urllib", "import urllib.request\nurllib.request.urlopen('http://example.com')", "runtime"
    ),
    case("open-etc-passwd", "open('/etc/passwd').read()", "runtime"),
    case(
        "pathlib-etc-passwd", "from pathlib import Path\nPath('/etc/passwd').read_text()", "runtime"
    ),
    case("write-host-file", f"open('{MARKER}', 'w').write('x')", "runtime"),
    case(
        "pathlib-write-host-file",
        f"from pathlib import Path\nPath('{MARKER}').write_text('x')",
        "runtime",
    ),
    case("list-root", "import os\nos.listdir('/')", "runtime"),
    case("read-environment", "import os\nos.getenv('HOME')", "runtime"),
    case("ctypes", "import ctypes\nctypes.CDLL(None)", "runtime"),
    # escapes through eval/exec/__import__/dunders/host objects
    case("eval-import", "eval(\"__import__('os').system('id')\")", "runtime"),
    case("exec-import", "exec('import os\\nos.system(\"id\")')", "runtime"),
    case("dunder-import", "__import__('os').system('id')", "runtime"),
    case("subclasses-walk", "().__class__.__base__.__subclasses__()", "runtime"),
    case("function-globals", "(lambda: 0).__globals__['__builtins__']", "runtime"),
    case("builtins-module", "import builtins\nbuiltins.open('/etc/passwd')", "runtime"),
    case("external-globals", "getattr(check, '__globals__')", "runtime"),
    case("host-model-methods", "r = check('x')\nr.model_dump()", "runtime"),
    case("host-model-dict", "r = check('x')\nr.__dict__", "runtime"),
    case(
        "host-class-construct",
        "type(check('x'))(success=True, error_count=0, errors=[])",
        "runtime",
    ),
    case("host-class-validate", "type(check('x')).model_validate({})", "runtime"),
]


def host_untouched() -> bool:
    return not MARKER.exists()


@pytest.mark.parametrize(("code", "kind"), HOSTILE)
async def test_hostile_program_is_contained(pool: SandboxPool, code: str, kind: ErrorKind) -> None:
    started = time.perf_counter()
    result = await run(pool, code, type_check=False)
    elapsed = time.perf_counter() - started

    assert result.error is not None, f"ran to completion: {result.value!r}"
    assert result.error.kind == kind, result.error
    if kind != "runtime":
        assert result.error.limit is not None
        assert result.error.limit in result.error.message
    assert elapsed < SMALL.timeout_seconds + 1.0
    assert len(result.stdout.encode()) <= SMALL.max_output_bytes
    assert host_untouched()
    await assert_answers(pool)


def test_the_suite_is_large_enough() -> None:
    assert len(HOSTILE) >= 25
