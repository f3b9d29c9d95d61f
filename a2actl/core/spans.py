"""A plain span tree: what a command did, with wall-clock times, for ``--otlp`` (docs/tracing.md).

The tree is built from a command's result (``a2actl.telemetry.tree``) and handed to
``a2actl.telemetry.otel``, the only module that imports OpenTelemetry; nothing here does. Times are
integers, **nanoseconds since the Unix epoch** (``time.time_ns()``), OpenTelemetry's own unit, so a
tree converts without rounding.

``RequestSpans`` is an ``EventSink`` that records one client span per HTTP request of a sequential
command (``send``, ``stream tail``), each carrying the span id of the ``traceparent`` the request sent
(W3C Trace Context §3.2: ``00-<trace-id>-<parent-id>-<flags>``), so the agent's server span, parented
on that ``traceparent``, nests under a2actl's span of the same request.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

from a2actl.core.sink import EventSink

#: A span attribute value: what OpenTelemetry accepts (a scalar or a homogeneous list of scalars).
AttrValue = str | bool | int | float | list[str] | list[int] | list[float] | list[bool]

_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-(?P<trace>[0-9a-f]{32})-(?P<span>[0-9a-f]{16})-[0-9a-f]{2}$")


def span_id_of(traceparent: str | None) -> str | None:
    """The parent-id (16 lower-case hex digits) of a W3C ``traceparent`` header value, or ``None``
    when the value is missing or malformed (W3C Trace Context §3.2.2; an all-zero id is invalid)."""
    if not traceparent:
        return None
    m = _TRACEPARENT.match(traceparent.strip())
    if m is None or m["span"] == "0" * 16:
        return None
    return m["span"]


def seconds_ns(seconds: float) -> int:
    """A duration in seconds as integer nanoseconds (rounded; negative durations become 0)."""
    return max(0, round(seconds * 1e9))


@dataclass
class SpanEvent:
    """A timed annotation on a span (OpenTelemetry span event): ``time_ns`` nanoseconds since the
    Unix epoch."""

    name: str
    time_ns: int
    attributes: dict[str, AttrValue] = field(default_factory=dict)


@dataclass
class Span:
    """One span of the tree. ``start_ns``/``end_ns``: nanoseconds since the Unix epoch (``end_ns >=
    start_ns``). ``kind``: ``"internal"`` or ``"client"`` (an HTTP request a2actl sent). ``span_id``:
    16 hex digits to use as this span's id, the id of the ``traceparent`` the request carried (``None``:
    a fresh random id). ``error``: the status description of a span that failed (``None``: unset, i.e.
    not failed). ``children`` are drawn under this span, in order."""

    name: str
    start_ns: int
    end_ns: int
    attributes: dict[str, AttrValue] = field(default_factory=dict)
    children: list[Span] = field(default_factory=list)
    span_id: str | None = None
    kind: str = "internal"
    error: str | None = None
    events: list[SpanEvent] = field(default_factory=list)

    def walk(self) -> list[Span]:
        """This span and every descendant, depth first (parents before children)."""
        out = [self]
        for c in self.children:
            out.extend(c.walk())
        return out


def _display_url(url: str) -> tuple[str, str, int | None, str]:
    """``(url without userinfo and query, host, port, path)`` of a request URL; credentials never go
    into a span (query values can be tokens: only the path is kept)."""
    try:
        p = urlsplit(url)
        host = p.hostname or ""
        port = p.port
    except ValueError:
        return "", "", None, ""
    netloc = host if ":" not in host else f"[{host}]"
    if port is not None:
        netloc += f":{port}"
    return urlunsplit((p.scheme, netloc, p.path, "", "")), host, port, p.path or "/"


class RequestSpans:
    """An ``EventSink`` that passes every call on to ``inner`` and records a client span per request.

    For commands that send one request at a time (``send``, ``stream tail``): a response belongs to
    the request opened last. A request answered with ``text/event-stream`` (a stream) stays open
    until the next request or ``close`` (the end of the command); a request that got no answer (the
    transport raised) is closed by the next request or ``close`` with an error status. Not for
    concurrent requests (``handshake probe -c N``, ``load``): their spans come from the results.

    Every request sent through a2actl's HTTP transports reaches the sink only when the transport
    logs (it does for any sink but ``NullSink``), so wrapping a ``NullSink`` turns that logging on:
    one header redaction per request, which is why ``load`` does not use this sink.
    """

    def __init__(self, inner: EventSink, clock: Callable[[], int] = time.time_ns) -> None:
        self.inner = inner
        self.wants_bodies = inner.wants_bodies
        self.clock = clock
        self.spans: list[Span] = []
        self._open: Span | None = None

    def _close_open(self, now: int, error: str | None) -> None:
        span = self._open
        if span is not None:
            span.end_ns = max(span.start_ns, now)
            if error and "http.response.status_code" not in span.attributes:
                span.error = error
            self._open = None

    def on_request(self, method: str, url: str, headers: list[tuple[str, str]]) -> None:
        """Open a client span named ``METHOD path`` with the request's ``traceparent`` span id."""
        now = self.clock()
        self._close_open(now, "no answer")
        shown, host, port, path = _display_url(url)
        tp = next((v for k, v in headers if k.lower() == "traceparent"), None)
        attrs: dict[str, AttrValue] = {"http.request.method": method, "url.full": shown}
        if host:
            attrs["server.address"] = host
        if port is not None:
            attrs["server.port"] = port
        span = Span(f"{method} {path}", now, now, attrs, span_id=span_id_of(tp), kind="client")
        self.spans.append(span)
        self._open = span
        self.inner.on_request(method, url, headers)

    def on_response(self, status: int, reason: str, headers: list[tuple[str, str]], elapsed: float) -> None:
        """Record the status; close the span unless the answer is an event stream."""
        now = self.clock()
        span = self._open
        if span is not None:
            span.attributes["http.response.status_code"] = status
            span.end_ns = max(span.start_ns, now)
            if status >= 400:
                span.error = f"HTTP {status} {reason}".strip()
            ctype = next((v for k, v in headers if k.lower() == "content-type"), "")
            if "text/event-stream" in ctype.lower():
                span.attributes["a2actl.stream"] = True
            else:
                self._open = None
        self.inner.on_response(status, reason, headers, elapsed)

    def add_event(self, name: str, attributes: dict[str, AttrValue], limit: int) -> bool:
        """Add a span event to the open request (a stream's events); ``False`` when there is no open
        request or it already has ``limit`` events."""
        span = self._open
        if span is None or len(span.events) >= limit:
            return False
        span.events.append(SpanEvent(name, self.clock(), attributes))
        return True

    def close(self, now: int | None = None, error: str | None = None) -> list[Span]:
        """End the open request at ``now`` (default: the clock), with ``error`` when it never got an
        answer, and return the recorded spans in request order."""
        self._close_open(self.clock() if now is None else now, error or "no answer")
        return self.spans

    def on_body(self, direction: str, body: bytes) -> None:
        """Passed on."""
        self.inner.on_body(direction, body)

    def on_timing(self, name: str, seconds: float) -> None:
        """Passed on."""
        self.inner.on_timing(name, seconds)

    def on_note(self, text: str) -> None:
        """Passed on."""
        self.inner.on_note(text)


__all__ = ["AttrValue", "RequestSpans", "Span", "SpanEvent", "seconds_ns", "span_id_of"]
