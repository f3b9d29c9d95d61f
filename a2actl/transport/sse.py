"""Server-Sent Events with heartbeats: comment lines kept, whole events of a read split at once.

``httpx_sse.EventSource.aiter_sse`` drops comment lines, but SSE comments (``: ping``) are exactly
the heartbeats an operator needs to see (a2a-sdk sends ``: ping - <time>`` every 15 s through
sse-starlette). So this module reads the stream itself, per the WHATWG SSE spec (§9.2.4-9.2.6):
httpx-sse's ``SSELineDecoder`` splits lines (CRLF/LF/CR), and the event buffers of httpx-sse's
``SSEDecoder`` (event type, data, last event ID, retry) are kept inline, with the same rules
(``tests/unit/transport/test_sse.py`` checks every item, id and retry against httpx-sse's decoders
for any lines and any chunking). A read of many whole events in the usual shape (one ``data: …``
line, then a blank line) is split into events at once; anything else goes line by line.

Memory and time are linear in the event size: the decoders buffer chunks in lists and join once, so a
single 64 MiB ``data:`` line is read without quadratic copying.

One WHATWG rule is applied on top of httpx-sse's: a block without a ``data`` field is not an event
("If the data buffer is an empty string, ... return", §9.2.6 dispatch). httpx-sse 0.4 dispatches an
empty event for every blank line once an ``id:`` was seen (httpx-sse#35; a2a-python#540 crashed on it),
so a server that sends ids and ``: ping`` comments would otherwise yield empty, non-JSON events.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, NamedTuple

from httpx_sse._decoders import SSELineDecoder  # httpx-sse has no public comment hook

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

    A NamedTuple, not a dataclass: one is built per event, and a frozen dataclass costs ~4x more."""

    kind: str
    data: str
    size: int
    at: float
    event: str | None = None
    id: str | None = None
    truncated: bool = False


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
    fetched from ``url``, one by one: ``iter_sse_batches``, whose docstring has the rules."""
    async for batch in iter_sse_batches(response, url, settings, max_event_bytes, state):
        for item in batch:
            yield item


async def iter_sse_batches(
    response: httpx.Response,
    url: str,
    settings: Settings,
    max_event_bytes: int | None = None,
    state: SSEState | None = None,
) -> AsyncIterator[list[SSEItem]]:
    """Yield the events and comments of an ``httpx.Response`` with ``Content-Type:
    text/event-stream`` fetched from ``url`` (``settings`` name the timeouts in messages), as a
    list per network read (never empty): the items that read completed, in stream order, before
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

    # The event being read (WHATWG §9.2.6 buffers; httpx-sse's SSEDecoder keeps the same four).
    event = ""  # the event type buffer ("" dispatches as "message")
    data: list[str] = []  # the data buffer, one entry per data line
    last_id = ""  # the last event ID buffer: kept across events
    retry: int | None = None
    has_data = False  # a data field since the last dispatch (WHATWG: no data, no event)
    buffered = 0  # characters of data lines kept since the last dispatch
    dropped = 0  # characters of the current event not kept (over the limit)
    truncated = False

    def dispatch(at: float) -> SSEItem | None:
        """A blank line: the event read so far, if it had data (else only ``state`` learns its id
        and retry); the buffers are reset but for the last event ID (WHATWG)."""
        nonlocal event, data, retry, has_data, buffered, dropped, truncated
        if not (event or data or last_id or retry is not None):
            return None
        if state is not None:
            state.last_event_id = last_id
            if retry is not None:
                state.retry = retry
        name = event or "message"
        text = "\n".join(data)
        event, data, retry = "", [], None
        if not has_data:
            return None
        has_data = False
        if truncated:
            size = buffered + dropped
            buffered = dropped = 0
            truncated = False
            return SSEItem("event", "", size, at, name, last_id or None, True)
        buffered = 0
        size = len(text) if text.isascii() else len(text.encode("utf-8"))  # no 64 MiB copy for ASCII
        return SSEItem("event", text, size, at, name, last_id or None)

    def feed(line: str, at: float) -> SSEItem | None:
        """One line of any kind but ``data: …`` within the bound, which the loop below keeps itself."""
        nonlocal event, last_id, retry, has_data, buffered, dropped, truncated
        if not line:
            return dispatch(at)
        if line[0] == ":":
            return SSEItem("comment", line[1:].strip(), len(line), at)
        name, _, value = line.partition(":")
        if value[:1] == " ":
            value = value[1:]
        if name == "data":
            has_data = True
            if truncated or buffered + len(line) > limit:
                if not buffered:  # nothing buffered yet: one empty data field, so the block dispatches
                    data.append("")
                    buffered = 1
                truncated = True  # keep counting, stop buffering
                dropped += len(line)
                return None
            buffered += len(line)
            data.append(value)
        elif name == "event":
            event = value
        elif name == "id":
            if "\0" not in value:
                last_id = value
        elif name == "retry":
            try:
                retry = int(value)
            except ValueError:
                pass
        return None  # any other field is ignored

    skipping = False  # dropping the rest of an over-long line until its newline

    def lines_of(text: str, at: float) -> list[SSEItem]:
        """The items of ``text`` (LF line endings only) read line by line through the line decoder:
        any state, partial lines, the memory bound. The loop below hands it what the fast path
        cannot take."""
        nonlocal has_data, buffered, dropped, truncated, skipping
        items = []
        out = lines.decode(text)
        if lines.buffer and (partial := sum(map(len, lines.buffer))) > limit:
            # one line longer than the bound: keep its field, drop its text
            head = "".join(lines.buffer)[:5]  # the line may arrive split: "d" + "ata: xxx…"
            is_data = head[:4] == "data" and (len(head) == 4 or head[4] == ":")
            lines.buffer = ["data:" if is_data else ":"]
            if is_data:
                truncated = True
                dropped += partial
            skipping = True
        for line in out:
            if line[:6] == "data: " and not truncated and buffered + len(line) <= limit:
                has_data = True  # the common data line, kept without a call
                buffered += len(line)
                data.append(line[6:])
                continue
            item = feed(line, at) if line else dispatch(at)
            if item is not None:
                items.append(item)
        return items

    pending_cr = False  # a read ended in CR: half a CRLF, or a line ending of its own
    chunks = response.aiter_text()
    perf_counter = time.perf_counter
    new_item = tuple.__new__  # SSEItem(...) without the NamedTuple's Python-level __new__
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
        # Line endings as SSELineDecoder reads them: CRLF, CR and LF; a CR ending a read is held
        # back, it may be the first half of a CRLF. The rest of this loop sees LF only.
        if pending_cr:
            text = "\r" + text
            pending_cr = False
        if text[-1:] == "\r":
            pending_cr = True
            text = text[:-1]
        if "\r" in text:
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        if skipping:
            cut = text.find("\n")
            if cut < 0:
                dropped += len(text)
                continue
            dropped += cut
            text = text[cut:]
            skipping = False
        if not text:
            continue
        at = perf_counter()
        batch: list[SSEItem] = []
        if lines.buffer or event or data or retry is not None or has_data or truncated:
            # The stream is inside a line or an event: read up to the end of that event first.
            if not lines.buffer and text[0] == "\n":
                end = 1  # a blank line right away
            else:
                end = text.find("\n\n")
                end = len(text) if end < 0 else end + 2
            batch = lines_of(text[:end], at)
            text = text[end:]
        # Fast path, at the start of an event with nothing pending: whole events split at their
        # blank line; one of a single ``data: …`` line within the bound is yielded here, any other
        # goes line by line. The unfinished end goes to the line decoder.
        blocks = text.split("\n\n") if text else [""]
        rest = blocks.pop()
        append = batch.append
        for block in blocks:
            if block[:6] == "data: " and "\n" not in block and len(block) <= limit:
                value = block[6:]
                size = len(value) if value.isascii() else len(value.encode("utf-8"))
                # (``state`` already has ``last_id``: it changes only in ``feed``, then ``dispatch`` sets it)
                append(new_item(SSEItem, ("event", value, size, at, "message", last_id or None, False)))
            else:
                batch += lines_of(block + "\n\n", at)
        if rest:
            batch += lines_of(rest, at)
        if batch:
            yield batch
    batch = []
    for line in lines.decode("\n") if pending_cr else lines.flush():
        last = feed(line, perf_counter()) if line else dispatch(perf_counter())
        if last is not None:
            batch.append(last)
    if batch:
        yield batch
