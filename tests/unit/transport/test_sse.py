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
