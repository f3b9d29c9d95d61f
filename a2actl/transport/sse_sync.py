"""Server-Sent Events from a synchronous byte stream: httpx-sse's decoders, driven without asyncio.

For callers that read a response body as plain ``bytes`` chunks in a blocking loop, such as the
Locust plugin ``a2actl.load.locust``, whose users are gevent greenlets and cannot use a2actl's asyncio
clients. Like ``a2actl.transport.sse``, this drives httpx-sse's own ``SSELineDecoder`` and
``SSEDecoder`` (CRLF/LF/CR line ends, multi-line ``data:``, ``id:``/``retry:`` fields), so nothing
is parsed by hand. Two rules come from the WHATWG SSE spec (HTML §9.2.6) and are applied on top:

* the stream is decoded as UTF-8, invalid sequences replaced by U+FFFD and a leading BOM dropped
  ("UTF-8 decode"), incrementally, so a character split across two chunks decodes whole;
* a block without a ``data`` field dispatches no event ("If the data buffer is an empty string, ...
  return"). httpx-sse 0.4 dispatches an empty event for such a block once an ``id:`` was seen
  (httpx-sse#35), which ``transport/sse.py`` works around the same way.

Comment lines (``: ping`` heartbeats) are skipped. Memory is bounded by ``max_event_chars``: a line,
or an event's data lines together, longer than that raise ``ProtocolViolation`` instead of growing.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterable, Iterator
from typing import NamedTuple

from httpx_sse._decoders import SSEDecoder, SSELineDecoder  # httpx-sse has no public sync decoder API

from a2actl.core.errors import ProtocolViolation

#: Default bound on one event (characters of its data lines, or of one line): 16 MiB, as
#: ``Settings.max_event_bytes`` bounds ``transport/sse.py``.
DEFAULT_MAX_EVENT_CHARS = 16 << 20


class SSEEvent(NamedTuple):
    """One dispatched SSE event: ``data`` (its ``data:`` lines joined by ``\\n``), ``event`` (the event
    type: the ``event:`` field, ``"message"`` when the block names none, as httpx-sse reports it) and
    ``id`` (the last ``id:`` field seen on the stream, ``None`` when none)."""

    data: str
    event: str = "message"
    id: str | None = None


def _is_data_line(line: str) -> bool:
    return line[:4] == "data" and (len(line) == 4 or line[4] == ":")


def iter_sse_events(
    chunks: Iterable[bytes], max_event_chars: int = DEFAULT_MAX_EVENT_CHARS
) -> Iterator[SSEEvent]:
    """Yield the events of an ``text/event-stream`` body given as ``bytes`` chunks of any size,
    each as soon as the chunk that completes it has been read (the generator is lazy: it reads
    ``chunks`` only as far as the next event needs). An event still open when ``chunks`` ends (no
    blank line after it) is discarded, as the WHATWG spec says ("If the file ends in the middle of
    an event, before the final empty line, the incomplete event is not dispatched").

    Raises ``ProtocolViolation`` when one line, or the data lines of one event together, exceed
    ``max_event_chars`` characters (the text decoded so far, so a server that streams an endless
    line cannot grow the caller without bound). Errors raised by ``chunks`` itself (a connection
    cut mid-body) propagate unchanged; the caller maps them.
    """
    decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="replace")
    lines = SSELineDecoder()
    events = SSEDecoder()
    has_data = False  # a data field since the last dispatch (WHATWG: no data, no event)
    buffered = 0  # characters of data lines fed to the event decoder since the last dispatch
    partial = 0  # characters of the unfinished line held by the line decoder

    def too_big(what: str) -> ProtocolViolation:
        return ProtocolViolation(
            f"SSE {what} over {max_event_chars:,} characters",
            hint="the agent streamed an event larger than any A2A event needs",
        )

    def feed(batch: list[str]) -> Iterator[SSEEvent]:
        nonlocal has_data, buffered
        for line in batch:
            if _is_data_line(line):
                has_data = True
                buffered += len(line)
                if buffered > max_event_chars:
                    raise too_big("event")
            sse = events.decode(line)
            if sse is None:
                continue
            if has_data:
                has_data = False
                buffered = 0
                yield SSEEvent(sse.data, sse.event, sse.id or None)

    for chunk in chunks:
        text = decoder.decode(chunk)
        if not text:
            continue
        out = lines.decode(text)
        if out:
            partial = sum(map(len, lines.buffer))  # at most one piece is left after a line end
            yield from feed(out)
        else:
            partial += len(text)
        if partial > max_event_chars:
            raise too_big("line")
    tail = decoder.decode(b"", final=True)
    out = lines.decode(tail) if tail else []
    yield from feed(out + lines.flush())


__all__ = ["DEFAULT_MAX_EVENT_CHARS", "SSEEvent", "iter_sse_events"]
