"""``ty server`` behind a recorder: every message body ty receives is logged, unchanged.

Used as ``PUNIE_LSP_TY_COMMAND="python tests/ty_tee.py LOG"`` to see what punie-lsp
actually sends to ty (byte for byte), which ty's answers alone cannot show.
Each log line is the body as received, in ``repr`` form of the bytes' latin-1 decoding.
"""

from __future__ import annotations

import subprocess
import sys
import threading

from ty import find_ty_bin


def main(log_path: str) -> int:
    ty = subprocess.Popen(
        [find_ty_bin(), "server"], stdin=subprocess.PIPE, stdout=sys.stdout.buffer
    )
    assert ty.stdin is not None
    source = sys.stdin.buffer
    with open(log_path, "a", encoding="utf-8") as log:
        while True:
            header = b""
            while not header.endswith(b"\r\n\r\n"):
                byte = source.read(1)
                if not byte:
                    ty.stdin.close()
                    return ty.wait()
                header += byte
            length = int(header.split(b"Content-Length:")[1].split(b"\r\n")[0])
            body = source.read(length)
            log.write(repr(body.decode("latin-1")) + "\n")
            log.flush()
            ty.stdin.write(header + body)
            ty.stdin.flush()


if __name__ == "__main__":
    threading.excepthook = lambda args: None
    sys.exit(main(sys.argv[1]))
