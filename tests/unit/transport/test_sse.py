"""Property tests of ``a2actl.transport.sse.iter_sse`` (issue #13, fuzzing): any chunking of a valid
stream yields the same items; arbitrary text never raises outside a2actl's errors; memory is
bounded by ``max_event_bytes`` (an over-long event comes out truncated, with its size)."""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from a2actl.core.errors import A2ACtlError
from a2actl.transport.sse import iter_sse


class _Response:
    headers = {"content-type": "text/event-stream"}

    def __init__(self, chunks: list[str]) -> None:
        self.chunks = chunks

    async def aiter_text(self) -> Any:
        for c in self.chunks:
            yield c


class _Settings:
    max_event_bytes = 1 << 20
    connect_timeout = read_timeout = 1.0


def _items(chunks: list[str], limit: int | None = None) -> list[tuple[Any, ...]]:
    async def run() -> list[tuple[Any, ...]]:
        return [
            (i.kind, i.data, i.event, i.id, i.truncated)
            async for i in iter_sse(_Response(chunks), "http://x", _Settings(), limit)
        ]

    return asyncio.run(run())


def _split(text: str, cuts: list[int]) -> list[str]:
    points = sorted({c % (len(text) + 1) for c in cuts} | {0, len(text)})
    return [text[a:b] for a, b in zip(points, points[1:], strict=False) if b > a]


_field_text = st.text(
    alphabet=st.characters(blacklist_characters="\r\n", blacklist_categories=("Cs",)), max_size=30
)
_events = st.lists(
    st.tuples(
        st.lists(_field_text, min_size=1, max_size=3), st.one_of(st.none(), _field_text), st.booleans()
    ),
    min_size=1,
    max_size=8,
)


def _stream(events: list[tuple[list[str], str | None, bool]], newline: str) -> str:
    out = []
    for data_lines, ev_id, ping in events:
        if ping:
            out.append(": ping" + newline)
        if ev_id is not None:
            out.append("id: " + ev_id + newline)
        out += ["data: " + d + newline for d in data_lines]
        out.append(newline)
    return "".join(out)


@settings(max_examples=150, deadline=None)
@given(
    _events,
    st.sampled_from(["\n", "\r\n", "\r"]),
    st.lists(st.integers(min_value=0, max_value=10_000), max_size=12),
)
def test_any_chunking_yields_the_same_items(events: Any, newline: str, cuts: list[int]) -> None:
    text = _stream(events, newline)
    whole = _items([text])
    assert _items(_split(text, cuts)) == whole
    assert [i[1] for i in whole if i[0] == "event"] == ["\n".join(d) for d, _, _ in events]


@settings(max_examples=150, deadline=None)
@given(
    st.text(max_size=400),
    st.lists(st.integers(min_value=0, max_value=500), max_size=8),
    st.integers(min_value=1, max_value=64),
)
def test_arbitrary_text_never_raises_outside_our_errors(text: str, cuts: list[int], limit: int) -> None:
    try:
        for kind, data, *_ in _items(_split(text, cuts), limit):
            assert kind in ("event", "comment") and len(data) <= limit + 1
    except A2ACtlError:
        pass


@settings(max_examples=60, deadline=None)
@example(size=11, limit=16, cuts=[1, 17], one_line=True)  # "d" + "ata: x…": the field name split across reads
@example(size=100, limit=16, cuts=[], one_line=True)  # in one read: the fast path's bound
@example(size=100, limit=16, cuts=[], one_line=False)
@given(
    st.integers(min_value=1, max_value=5000),
    st.integers(min_value=16, max_value=2048),
    st.lists(st.integers(min_value=0, max_value=20_000), max_size=10),
    st.booleans(),
)
def test_an_event_over_the_bound_is_truncated_and_the_stream_goes_on(
    size: int, limit: int, cuts: list[int], one_line: bool
) -> None:
    if one_line:
        lines = ["data: " + "x" * size]
    else:
        lines = ["data: " + "x" * 10 for _ in range(size // 10 + 1)]
    big = "".join(line + "\n" for line in lines) + "\n"
    text = big + "data: after\n\n"
    items = _items(_split(text, cuts), limit)
    assert items[-1] == ("event", "after", "message", None, False)
    kind, data, _, _, truncated = items[0]
    assert kind == "event" and len(items) == 2
    if sum(map(len, lines)) > limit:
        assert truncated and data == ""
    else:
        assert not truncated and data == "\n".join(line[6:] for line in lines)


def _reference(text: str) -> tuple[list[tuple[Any, ...]], str, int | None]:
    """What httpx-sse's own decoders make of ``text`` (``SSELineDecoder`` and ``SSEDecoder``, with the
    WHATWG rule iter_sse adds: a block without data is no event): the items and the last id/retry."""
    from httpx_sse._decoders import SSEDecoder, SSELineDecoder

    line_decoder, decoder = SSELineDecoder(), SSEDecoder()
    items: list[tuple[Any, ...]] = []
    has_data, last_id, retry = False, "", None
    for line in line_decoder.decode(text) + line_decoder.flush():
        if line.startswith(":"):
            items.append(("comment", line[1:].strip(), None, None, False))
            continue
        if line.partition(":")[0] == "data":
            has_data = True
        sse = decoder.decode(line)
        if sse is None:
            continue
        last_id, retry = sse.id, sse.retry if sse.retry is not None else retry
        if has_data:
            has_data = False
            items.append(("event", sse.data, sse.event, sse.id or None, False))
    return items, last_id, retry


_line = st.one_of(
    st.just(""),
    st.tuples(
        st.sampled_from(["data", "event", "id", "retry", "", "dat", "datas", "DATA", "x"]),
        st.sampled_from(["", ":", ": ", ":  "]),
        st.one_of(_field_text, st.integers(-5, 99).map(str), st.just("a\0b"), st.just(" 7"), st.just("1_0")),
    ).map("".join),
)


@settings(max_examples=300, deadline=None)
@example(
    lines=["data: a", "id: 1", "", "retry: 5", "", "data", "", ": ping", "event: e", "data:b"],
    newline="\n",
    cuts=[3],
)
@example(lines=["data: x", "", ""], newline="\r", cuts=[])
@example(lines=["data: a", "", "data: b", "event: e", "", "data: c", ""], newline="\r\n", cuts=[8, 9, 20])
@given(
    st.lists(_line, max_size=14),
    st.sampled_from(["\n", "\r\n", "\r"]),
    st.lists(st.integers(min_value=0, max_value=400), max_size=8),
)
def test_events_ids_and_retries_are_what_httpx_sse_decodes(
    lines: list[str], newline: str, cuts: list[int]
) -> None:
    """Any lines (fields, comments, unknown fields, bad retries, NUL in ids), any line ending, any
    chunking: what iter_sse (its own fast path for whole ``data: …`` events included) yields is what
    httpx-sse's decoders read from the whole text."""
    from a2actl.transport.sse import SSEState

    text = "".join(line + newline for line in lines)
    state = SSEState()

    async def run() -> list[tuple[Any, ...]]:
        return [
            (i.kind, i.data, i.event, i.id, i.truncated)
            async for i in iter_sse(_Response(_split(text, cuts)), "http://x", _Settings(), state=state)
        ]

    items, last_id, retry = _reference(text)
    assert asyncio.run(run()) == items
    assert (state.last_event_id, state.retry) == (last_id, retry)
