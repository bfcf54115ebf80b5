"""Framing and the response-id peek that lets ty's answers pass without decoding."""

from __future__ import annotations

import asyncio
import json

import pytest

from punie_lsp.transport import frame, peek_response_id, read_frame


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"jsonrpc":"2.0","id":7,"result":null}', 7),
        (b'{"jsonrpc":"2.0","id":-3,"error":{"code":1}}', -3),
        (b'{"jsonrpc":"2.0","id":"a\\"b","result":{"items":[]}}', 'a"b'),
        (b'{"jsonrpc":"2.0","id":"punie:4","result":1}', "punie:4"),
        # Not the shape ty writes responses in: decode the whole thing instead.
        (b'{"jsonrpc":"2.0","id":null,"error":{"code":-32700}}', None),
        (b'{"jsonrpc":"2.0","id":1,"method":"workspace/configuration"}', None),
        (b'{"jsonrpc":"2.0","method":"$/progress","params":{"id":1,"result":2}}', None),
        (b'{"id":1,"jsonrpc":"2.0","result":null}', None),
        (b'{"jsonrpc": "2.0", "id": 1, "result": null}', None),
    ],
)
def test_peek_response_id(body: bytes, expected: int | str | None) -> None:
    assert peek_response_id(body) == expected
    if expected is not None:
        assert json.loads(body)["id"] == expected


async def read_all(data: bytes) -> tuple[list[bytes], list[str]]:
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    bodies, problems = [], []
    while (body := await read_frame(reader, problems.append)) is not None:
        bodies.append(body)
    return bodies, problems


async def test_frames_survive_header_defects() -> None:
    data = (
        frame(b'{"a":1}')
        + b"X-Junk: 1\r\n\r\n"  # no Content-Length: skipped, reported
        + b"Content-Length: abc\r\n\r\n"
        + b"content-length: 7\r\nContent-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n"
        + b'{"b":2}'
        + frame(b'{"c":3}')
    )
    bodies, problems = await read_all(data)
    assert bodies == [b'{"a":1}', b'{"b":2}', b'{"c":3}']
    assert len(problems) == 2
    assert "bad Content-Length" in problems[1]


async def test_truncated_body_is_end_of_stream() -> None:
    bodies, _ = await read_all(b'Content-Length: 50\r\n\r\n{"short":1}')
    assert bodies == []
