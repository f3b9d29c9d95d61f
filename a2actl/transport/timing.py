"""Per-request timings (curl's ``-w`` names), the clock that collects them, and the completed
exchange (``HttpResult``). All times are seconds (floats) from ``time.perf_counter``.

Where the times come from: on ``http://`` connections from the connection itself
(``a2actl.transport.netclock``: the kernel's handshake round trip, the ``send()`` instant, kernel
receive timestamps), so a busy event loop (``handshake probe -c N``) is not charged to the network;
on ``https://`` from the connection and stream events of httpx's request ``trace`` extension (taken
when the waiting coroutine resumes). The timing fields are documented in ``docs/output-formats.md``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx

from a2actl.core.errors import ProtocolViolation
from a2actl.transport.netclock import TimedStream


@dataclass
class Timing:
    """Per-request timings in seconds, cumulative from the start of the request (curl ``-w`` names).

    The start is the name lookup; what the HTTP client library does between the lookup and its first
    network action (pool bookkeeping, ~0.3 ms in httpx) is not counted, so the phases are the
    network's and the agent's, as curl's are (``_Clock.origin``).

    ``time_namelookup`` name resolution done; ``time_connect`` TCP connected; ``time_appconnect`` TLS
    done (0.0 on plain HTTP, as curl reports); ``time_pretransfer`` about to send the request;
    ``time_starttransfer`` response headers received (first byte); ``time_total`` body read. On
    ``http://`` the last three are when the request left (``send()``) and when the first and last
    response bytes reached the socket (kernel timestamps), and connect is the kernel's handshake RTT.
    ``new_connection`` is false when a pooled connection was reused (connect and TLS are then 0).
    """

    time_namelookup: float = 0.0
    time_connect: float = 0.0
    time_appconnect: float = 0.0
    time_pretransfer: float = 0.0
    time_starttransfer: float = 0.0
    time_total: float = 0.0
    new_connection: bool = False
    remote_ip: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The ``timing`` object of JSON documents (curl's names, seconds; ``docs/output-formats.md``)."""
        return {
            "time_namelookup": self.time_namelookup,
            "time_connect": self.time_connect,
            "time_appconnect": self.time_appconnect,
            "time_pretransfer": self.time_pretransfer,
            "time_starttransfer": self.time_starttransfer,
            "time_total": self.time_total,
            "newConnection": self.new_connection,
            "remoteIp": self.remote_ip,
        }

    def phases(self) -> dict[str, float]:
        """Non-overlapping durations (seconds): ``dns``, ``connect``, ``tls``, ``ttfb`` (server
        processing: request sent → first byte), ``transfer`` (first byte → body read)."""
        connect_end = self.time_connect or self.time_namelookup
        tls_end = self.time_appconnect or connect_end
        return {
            "dns": self.time_namelookup,
            "connect": max(0.0, connect_end - self.time_namelookup),
            "tls": max(0.0, tls_end - connect_end),
            "ttfb": max(0.0, self.time_starttransfer - max(self.time_pretransfer, tls_end)),
            "transfer": max(0.0, self.time_total - self.time_starttransfer),
        }


@dataclass
class HttpResult:
    """A completed HTTP exchange. ``body`` is the full (bounded) body as bytes, decoded from its
    content coding; ``wire_bytes`` the body's size on the wire (bytes; ``None`` when not measured),
    ``content_encoding`` the coding it came in (``None`` for identity). ``url`` is the URL asked
    for; ``final_url`` the one that answered when redirects were followed (``-L``) to another URL,
    else ``None`` (as received: may carry credentials, mask before printing)."""

    status: int
    reason: str
    headers: httpx.Headers
    body: bytes
    url: str
    timing: Timing
    traceparent: str
    wire_bytes: int | None = None
    content_encoding: str | None = None
    final_url: str | None = None

    def json(self) -> Any:
        """Decode the body as JSON; raises ``ProtocolViolation`` (exit 6) when it is not JSON or is
        nested too deep (``a2actl.protocol.jsondoc``)."""
        from a2actl.protocol.jsondoc import parse

        try:
            return parse(self.body, self.url)
        except (ValueError, UnicodeDecodeError) as exc:
            location = self.headers.get("location")
            if 300 <= self.status < 400 and location:
                # a2actl does not follow redirects (a probe must time the URL it was given).
                raise ProtocolViolation(
                    f"{self.url} answered HTTP {self.status}, a redirect to {location}",
                    hint="use the redirect's URL (redirects are not followed)",
                ) from exc
            ctype = self.headers.get("content-type", "?")
            from a2actl.core.redact import preview, where_not_utf8

            if isinstance(exc, UnicodeDecodeError):
                # JSON between systems is UTF-8 (RFC 8259 §8.1): say so, not "not JSON". Not the
                # bytes around it: cut there, an echoed token showed its start, which no mask matches
                raise ProtocolViolation(
                    f"{self.url} answered HTTP {self.status} with a body that is not UTF-8 text "
                    f"(content-type {ctype}): {where_not_utf8(exc)}",
                    hint="JSON must be UTF-8 (RFC 8259 §8.1); check the agent's encoding",
                ) from exc
            snippet = preview(self.body, 80)
            raise ProtocolViolation(
                f"{self.url} answered HTTP {self.status} with a body that is not JSON "
                f"(content-type {ctype}): {snippet!r}",
                hint="check the URL: is this the agent's endpoint?",
            ) from exc


class Clock:
    """Collects httpx ``trace`` marks for one request and turns them into a ``Timing``.

    On a ``TimedStream`` connection (the ``http://`` pool, ``a2actl.transport.netclock``) the times
    come from the stream instead: connect from the kernel's handshake round trip, the request from the
    ``send()`` call, the first and last response bytes from kernel receive timestamps; the marks say
    whether the request opened the connection. The marks are taken when the coroutine resumes, so
    under ``-c N`` they include the wait for the other samples' CPU; the stream's times do not.
    """

    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.marks: dict[str, float] = {}
        self.timing = Timing()
        self.traceparent = ""
        self.stream: TimedStream | None = None

    async def trace(self, event: str, info: dict[str, Any]) -> None:
        """httpx's ``trace`` extension callback: record when ``event`` happened."""
        self.marks[event] = time.perf_counter()
        if event == "connection.connect_tcp.complete":
            self.attach(info.get("return_value"))

    def attach(self, stream: Any) -> None:
        """Use ``stream`` (the request's network stream: the ``connect_tcp`` trace's return value, or
        the response's ``network_stream`` extension) when it records network times."""
        if isinstance(stream, TimedStream):
            self.stream = stream

    def elapsed(self) -> float:
        """Seconds since the wire clock's origin (see ``origin``)."""
        return time.perf_counter() - self.origin()

    def _at(self, origin: float, *names: str) -> float | None:
        for n in names:
            if n in self.marks:
                return self.marks[n] - origin
        return None

    def _new_connection(self) -> bool:
        return "connection.connect_tcp.complete" in self.marks

    def origin(self) -> float:
        """The instant the wire clock counts from: the first network action after name lookup
        (``connect()``, or the request write on a reused connection), moved back by
        ``time_namelookup``. The client library's own bookkeeping between lookup and that action is
        not the agent's or the network's time, and curl (whose clock this mirrors) spends ~20 µs
        there, so it is left out."""
        st = self.stream
        if st is not None:
            first = st.connect_started if self._new_connection() else st.tx
            if first is not None:
                return first - self.timing.time_namelookup
        first = (
            self.marks.get("connection.connect_tcp.started")
            or self.marks.get("http11.send_request_headers.started")
            or self.marks.get("http2.send_request_headers.started")
        )
        if first is None:
            return self.t0
        return first - self.timing.time_namelookup

    def headers_received(self) -> None:
        """Fill ``timing`` up to the first response byte (call once the headers arrived)."""
        t = self.timing
        o = self.origin()
        st = self.stream
        if st is not None and st.tx is not None and st.rx_first is not None:
            t.new_connection = self._new_connection()
            t.time_connect = st.connected_at - o if t.new_connection else t.time_namelookup
            t.time_appconnect = 0.0
            t.time_pretransfer = max(t.time_connect, st.tx - o)
            t.time_starttransfer = max(t.time_pretransfer, st.rx_first - o)
            return
        connect = self._at(o, "connection.connect_tcp.complete")
        tls = self._at(o, "connection.start_tls.complete")
        t.new_connection = connect is not None
        t.time_connect = connect if connect is not None else t.time_namelookup
        t.time_appconnect = tls if tls is not None else 0.0
        pre = self._at(o, "http11.send_request_headers.started", "http2.send_request_headers.started")
        t.time_pretransfer = pre if pre is not None else max(t.time_connect, t.time_appconnect)
        first = self._at(
            o, "http11.receive_response_headers.complete", "http2.receive_response_headers.complete"
        )
        t.time_starttransfer = first if first is not None else time.perf_counter() - o

    def finish(self) -> None:
        """Fill ``timing`` completely (call once the body was read)."""
        self.headers_received()
        st = self.stream
        if st is not None and st.rx_last is not None and st.tx is not None:
            self.timing.time_total = max(self.timing.time_starttransfer, st.rx_last - self.origin())
        else:
            self.timing.time_total = self.elapsed()


__all__ = ["Clock", "HttpResult", "Timing"]
