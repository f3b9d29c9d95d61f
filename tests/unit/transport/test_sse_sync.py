"""``a2actl.transport.sse_sync.iter_sse_events``: SSE from synchronous ``bytes`` chunks (the Locust
plugin's reader). Checked against ``transport/sse.iter_sse`` (the async reader over the same
httpx-sse decoders) for any byte-level chunking, plus the WHATWG rules it applies itself: UTF-8 with
replacement and BOM removal, no event without data, no dispatch of an unterminated last event, and
the memory bound."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from a2actl.core.errors import ProtocolViolation
from a2actl.transport.sse import iter_sse
from a2actl.transport.sse_sync import SSEEvent, iter_sse_events


def _events(chunks: list[bytes], limit: int = 1 << 20) -> list[SSEEvent]:
    return list(iter_sse_events(chunks, limit))


def _split(raw: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(raw) + 1) for c in cuts} | {0, len(raw)})
    return [raw[a:b] for a, b in zip(points, points[1:], strict=False) if b > a]


class _Response:
    headers = {"content-type": "text/event-stream"}

    def __init__(self, text: str) -> None:
        self.text = text

    async def aiter_text(self) -> Any:
        yield self.text


class _Settings:
    max_event_bytes = 1 << 20
    connect_timeout = read_timeout = 1.0


def _async_events(text: str) -> list[tuple[str, str | None, str | None]]:
    async def run() -> list[tuple[str, str | None, str | None]]:
        return [
            (i.data, i.event, i.id)
            async for i in iter_sse(_Response(text), "http://x", _Settings())
            if i.kind == "event"
        ]

    return asyncio.run(run())


_field_text = st.text(
    alphabet=st.characters(blacklist_characters="\r\n", blacklist_categories=("Cs",)), max_size=20
)
_blocks = st.lists(
    st.tuples(
        st.lists(_field_text, max_size=3),  # data lines (none: a block that dispatches nothing)
        st.one_of(st.none(), _field_text),  # id
        st.one_of(st.none(), st.sampled_from(["update", "error"])),  # event
        st.booleans(),  # a ': ping' comment first
    ),
    max_size=8,
)


def _stream(blocks: Any, newline: str) -> str:
    out = []
    for data_lines, ev_id, ev_type, ping in blocks:
        if ping:
            out.append(": ping" + newline)
        if ev_type is not None:
            out.append("event: " + ev_type + newline)
        if ev_id is not None:
            out.append("id: " + ev_id + newline)
        out += ["data: " + d + newline for d in data_lines]
        out.append(newline)
    return "".join(out)


@settings(max_examples=200, deadline=None)
@example(blocks=[(["é€😀"], None, None, False)], newline="\r\n", cuts=[7, 8, 9, 10, 11, 12])
@given(
    _blocks,
    st.sampled_from(["\n", "\r\n", "\r"]),
    st.lists(st.integers(min_value=0, max_value=10_000), max_size=16),
)
def test_any_byte_chunking_yields_what_the_async_reader_yields(
    blocks: Any, newline: str, cuts: list[int]
) -> None:
    text = _stream(blocks, newline)
    raw = text.encode("utf-8")
    got = [(e.data, e.event, e.id) for e in _events(_split(raw, cuts))]
    assert got == _async_events(text)
    # one event per block with data, in order: a multi-byte character cut between chunks decodes whole
    assert [e[0] for e in got] == ["\n".join(d) for d, *_ in blocks if d]


def test_fields_comments_and_id_only_blocks() -> None:
    raw = (
        b": ping\n"
        b"id: 7\n\n"  # an id and no data: no event (httpx-sse 0.4 would dispatch an empty one)
        b'event: update\ndata: {"a":\n'
        b"data: 1}\n\n"
        b"data: plain\n\n"
    )
    assert _events([raw]) == [SSEEvent('{"a":\n1}', "update", "7"), SSEEvent("plain", "message", "7")]


def test_utf8_bom_dropped_and_invalid_bytes_replaced() -> None:
    raw = b"\xef\xbb\xbfdata: caf\xc3\xa9 \xff\n\n"
    assert _events([raw[:1], raw[1:2], raw[2:12], raw[12:]]) == [SSEEvent("café \ufffd")]


def test_an_unterminated_last_event_is_discarded() -> None:
    assert _events([b"data: one\n\ndata: two\n"]) == [SSEEvent("one")]
    assert _events([b"data: one\r\r"]) == [SSEEvent("one")]  # the second CR ends the event at EOF
    assert _events([]) == []


def test_events_are_yielded_before_the_next_chunk_is_read() -> None:
    read: list[int] = []

    def chunks() -> Iterator[bytes]:
        for i, c in enumerate([b"data: first\n\n", b"data: second\n\n"]):
            read.append(i)
            yield c

    it = iter_sse_events(chunks())
    assert next(it) == SSEEvent("first") and read == [0]
    assert next(it) == SSEEvent("second") and read == [0, 1]


@pytest.mark.parametrize(
    "raw, what",
    [
        (b"data: " + b"x" * 100, "line"),  # one endless line, in small chunks
        (b"data: xxxxxxxxxx\n" * 20, "event"),  # many short data lines of one event
        (b": " + b"x" * 100, "line"),  # an endless comment line
    ],
)
def test_over_the_bound_raises_protocol_violation(raw: bytes, what: str) -> None:
    with pytest.raises(ProtocolViolation, match=f"SSE {what} over 64 characters"):
        _events(_split(raw, list(range(0, len(raw), 5))), limit=64)


def test_at_the_bound_is_accepted() -> None:
    line = "data: " + "x" * 58  # 64 characters
    assert _events([(line + "\n\n").encode()], limit=64) == [SSEEvent("x" * 58)]


def test_errors_of_the_chunk_source_propagate() -> None:
    def chunks() -> Iterator[bytes]:
        yield b"data: a\n\n"
        raise ConnectionResetError("cut")

    it = iter_sse_events(chunks())
    assert next(it) == SSEEvent("a")
    with pytest.raises(ConnectionResetError):
        next(it)
