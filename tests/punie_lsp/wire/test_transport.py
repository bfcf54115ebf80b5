"""Framing and the response-id peek that lets ty's answers pass without decoding."""

from __future__ import annotations

import json

import pytest

from punie_lsp.wire.transport import FrameParser, frame, peek_response_id


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


def parse(data: bytes, chunk: int = 7) -> tuple[list[bytes], list[str]]:
    """Feed ``data`` in small chunks, as a pipe may deliver it."""
    bodies: list[bytes] = []
    problems: list[str] = []
    parser = FrameParser(bodies.append, problems.append)
    for start in range(0, len(data), chunk):
        parser.feed(data[start : start + chunk])
    return bodies, problems


def test_frames_survive_header_defects() -> None:
    data = (
        frame(b'{"a":1}')
        + b"X-Junk: 1\r\n\r\n"  # no Content-Length: skipped, reported
        + b"Content-Length: abc\r\n\r\n"
        + b"content-length: 7\r\nContent-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n"
        + b'{"b":2}'
        + frame(b'{"c":3}')
    )
    for chunk in (1, 7, len(data)):
        bodies, problems = parse(data, chunk)
        assert bodies == [b'{"a":1}', b'{"b":2}', b'{"c":3}']
        assert len(problems) == 2
        assert "bad Content-Length" in problems[1]


def test_a_truncated_body_waits_for_the_rest() -> None:
    bodies, _ = parse(b'Content-Length: 50\r\n\r\n{"short":1}')
    assert bodies == []


@pytest.mark.parametrize(
    ("data", "unfinished"),
    [
        (b"", False),
        (b"\r\n", False),  # a trailing line break is not a message
        (frame(b"{}"), False),
        (b"Content-Length: 50\r\n\r\n", True),
        (b'Content-Length: 50\r\n\r\n{"short":1}', True),
        (b"Content-Len", True),
    ],
)
def test_a_message_cut_by_the_end_of_input_is_known(data: bytes, unfinished: bool) -> None:
    parser = FrameParser(lambda body: None)
    parser.feed(data)
    assert parser.unfinished is unfinished


def test_bodies_before_binding_are_delivered_in_order() -> None:
    parser = FrameParser()
    parser.feed(frame(b"1") + frame(b"2"))
    got: list[bytes] = []
    parser.bind(got.append)
    parser.feed(frame(b"3"))
    assert got == [b"1", b"2", b"3"]


def test_garbage_without_headers_does_not_grow_forever() -> None:
    bodies, problems = parse(b"x" * 200_000 + frame(b"ok"), chunk=65536)
    assert bodies == [b"ok"]
    assert problems
