"""Server-Sent Events with heartbeats: httpx-sse's decoders, comment lines kept.

``httpx_sse.EventSource.aiter_sse`` drops comment lines, but SSE comments (``: ping``) are exactly
the heartbeats an operator needs to see (a2a-sdk sends ``: ping - <time>`` every 15 s through
sse-starlette). So this module drives httpx-sse's own line and event decoders (``SSELineDecoder``,
``SSEDecoder``: CRLF/LF/CR, multi-line ``data:``, per the WHATWG SSE spec) and reports comment lines
before handing each line on. Nothing is parsed by hand here.

Memory and time are linear in the event size: the decoders buffer chunks in lists and join once, so a
single 64 MiB ``data:`` line is read without quadratic copying.

One WHATWG rule is applied on top of the decoders: a block without a ``data`` field is not an event
("If the data buffer is an empty string, ... return", §9.2.6 dispatch). httpx-sse 0.4 dispatches an
empty event for every blank line once an ``id:`` was seen (httpx-sse#35; a2a-python#540 crashed on it),
so a server that sends ids and ``: ping`` comments would otherwise yield empty, non-JSON events.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, NamedTuple

from httpx_sse._decoders import SSEDecoder, SSELineDecoder  # httpx-sse has no public comment hook

from a2actl.core.errors import A2ACtlError, ProtocolViolation, StreamCut

if TYPE_CHECKING:
    import httpx

    from a2actl.core.config import Settings


class SSEItem(NamedTuple):
    """One SSE item. ``kind`` is ``event`` (``data`` holds the joined data field, ``size`` its UTF-8
    size in bytes) or ``comment`` (``data`` the comment text). ``at`` is ``time.perf_counter()`` when
    the network read that completed the item returned (items completed by one read share it).
    ``truncated`` marks an event over the buffering bound: its data was dropped while it arrived
    (``data`` is ``""``), ``size`` counts what arrived (characters, a lower bound of its bytes).

    ``iter_sse`` yields these; ``iter_sse_batches`` hands on the same fields as plain tuples
    (``SSETuple``)."""

    kind: str
    data: str
    size: int
    at: float
    event: str | None = None
    id: str | None = None
    truncated: bool = False


#: An ``SSEItem``'s fields as a plain tuple, ``(kind, data, size, at, event, id, truncated)``: what
#: ``iter_sse_batches`` yields, one per event or comment. A plain tuple is one ``BUILD_TUPLE``; a
#: ``NamedTuple`` goes through ``tuple.__new__`` for a subclass, ~2k CPU instructions an event more
#: of ``stream tail``'s ~50k (``bench/stream_throughput.py``). Unpack it positionally.
SSETuple = tuple[str, str, int, float, str | None, str | None, bool]


class SSEState:
    """What a stream said about reconnecting, for a caller that reconnects (WHATWG §9.2.4):
    ``last_event_id`` (the last ``id:`` field, ``""`` for none; send it as ``Last-Event-ID``) and
    ``retry`` (the last ``retry:`` field, milliseconds, or ``None``)."""

    __slots__ = ("last_event_id", "retry")

    def __init__(self) -> None:
        self.last_event_id = ""
        self.retry: int | None = None


async def iter_sse(
    response: httpx.Response,
    url: str,
    settings: Settings,
    max_event_bytes: int | None = None,
    state: SSEState | None = None,
) -> AsyncIterator[SSEItem]:
    """Yield events and comments of an ``httpx.Response`` with ``Content-Type: text/event-stream``
    fetched from ``url``, one by one, as ``SSEItem``: ``iter_sse_batches``, whose docstring has the
    rules."""
    async for batch in iter_sse_batches(response, url, settings, max_event_bytes, state):
        for item in batch:
            yield SSEItem(*item)


async def iter_sse_batches(
    response: httpx.Response,
    url: str,
    settings: Settings,
    max_event_bytes: int | None = None,
    state: SSEState | None = None,
) -> AsyncIterator[list[SSETuple]]:
    """Yield the events and comments of an ``httpx.Response`` with ``Content-Type:
    text/event-stream`` fetched from ``url`` (``settings`` name the timeouts in messages), each as
    an ``SSETuple`` (an ``SSEItem``'s fields, a plain tuple), as a list per network read (never
    empty): the items that read completed, in stream order, before
    the next read. ``state``, when given, is kept up to date with the stream's ``id:`` and
    ``retry:`` fields. (A list per read, not an item at a time: ``A2AClient.stream`` reads tens of
    thousands of events a second, and one generator step per event less is a tenth of its cost.)

    Memory is bounded by ``max_event_bytes`` (default ``settings.max_event_bytes``, 16 MiB; counted
    in characters, which never exceed the bytes): a line, or an event's data lines together, past
    it are dropped as they arrive, and the event is yielded with ``truncated=True`` and no data, so a
    server that streams one endless line, endless ``data:`` lines or a decompression bomb cannot
    grow a2actl past the bound (plus one network read). Dropping a line swaps it for a stub of its
    field (``data:`` or a comment) in httpx-sse's line buffer, so the line structure is unchanged.

    Raises ``ProtocolViolation`` for another content type, and ``StreamCut`` when the connection
    ends (reset, incomplete body, read timeout) before the server closed the stream.
    """
    ctype = response.headers.get("content-type", "")
    if "text/event-stream" not in ctype:
        raise ProtocolViolation(f"expected Content-Type text/event-stream, got {ctype or 'none'!r}")
    limit = max_event_bytes if max_event_bytes is not None else getattr(settings, "max_event_bytes", 16 << 20)
    lines = SSELineDecoder()
    events = SSEDecoder()

    has_data = False  # a data field since the last dispatch (WHATWG: no data, no event)
    buffered = 0  # characters of data lines given to the event decoder since the last dispatch
    dropped = 0  # characters of the current event not buffered (over the limit)
    truncated = False
    decode = events.decode

    def take(out: list[str], at: float) -> list[SSETuple]:
        """The items the lines ``out`` (one network read's, completed at ``at``) complete. One call
        per read, not per line: the per-line work is this loop (a2actl reads ~100k events a second)."""
        nonlocal has_data, buffered, dropped, truncated
        batch: list[SSETuple] = []
        for line in out:
            if line:
                if line[0] == ":":
                    batch.append(("comment", line[1:].strip(), len(line), at, None, None, False))
                    continue
                if line[:5] == "data:" or line == "data":
                    has_data = True
                    if truncated or buffered + len(line) > limit:
                        # nothing buffered yet: one empty data field, so the block dispatches
                        if not buffered:
                            decode("data:")
                            buffered = 1
                        truncated = True  # keep counting, stop buffering
                        dropped += len(line)
                        continue
                    buffered += len(line)
                decode(line)  # a field line: never an event (only a blank line dispatches)
                continue
            sse = decode(line)
            if sse is None:
                continue
            if state is not None:
                state.last_event_id = sse.id
                if sse.retry is not None:
                    state.retry = sse.retry
            if not has_data:
                continue
            has_data = False
            if truncated:
                size = buffered + dropped
                buffered = dropped = 0
                truncated = False
                batch.append(("event", "", size, at, sse.event or None, sse.id or None, True))
                continue
            buffered = 0
            data = sse.data
            size = len(data) if data.isascii() else len(data.encode("utf-8"))  # no 64 MiB copy for ASCII
            batch.append(("event", data, size, at, sse.event or None, sse.id or None, False))
        return batch

    partial = 0  # characters of the unfinished line held by the line decoder
    skipping = False  # dropping the rest of an over-long line until its newline
    chunks = response.aiter_text()
    perf_counter = time.perf_counter
    while True:
        try:
            text = await chunks.__anext__()
        except StopAsyncIteration:
            break
        except A2ACtlError:
            raise
        except Exception as exc:  # noqa: BLE001 - a cut mid-stream, mapped to the a2actl tree
            from a2actl.transport.failures import map_httpx_error

            raise StreamCut(
                f"the stream from {url} was cut: {map_httpx_error(exc, url, settings).message}",
                hint="a dropped stream is not a finished task; 'a2actl stream tail --task ID' resubscribes",
            ) from exc
        if skipping:
            cut = min((i for i in (text.find("\n"), text.find("\r")) if i >= 0), default=-1)
            if cut < 0:
                dropped += len(text)
                continue
            dropped += cut
            text = text[cut:]
            skipping = False
        at = perf_counter()
        out = lines.decode(text)
        partial = sum(map(len, lines.buffer)) if lines.buffer else 0
        if partial > limit:  # one line longer than the bound: keep its field, drop its text
            head = "".join(lines.buffer)[:5]  # the line may arrive split: "d" + "ata: xxx…"
            is_data = head[:4] == "data" and (len(head) == 4 or head[4] == ":")
            lines.buffer = ["data:" if is_data else ":"]
            if is_data:
                truncated = True
                dropped += partial
            skipping = True
            partial = 0
        if out:
            batch = take(out, at)
            if batch:
                yield batch
    batch = take(lines.flush(), perf_counter())
    if batch:
        yield batch
