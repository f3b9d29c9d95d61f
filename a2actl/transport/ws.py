"""The WebSocket transport (``websockets``): the sandbox's custom binding ``urn:a2actl:websocket:1``
(``docs/websocket.md``), with client pings for heartbeats and RTT.

A2A defines no WebSocket binding (custom bindings are named by a URI, spec v1.0 §5.8; one is only
proposed: https://github.com/a2aproject/A2A/issues/1864); this client speaks the contract a2actl's
sandbox documents: one JSON-RPC request frame in, A2A 1.0 ``StreamResponse`` text frames out, close
1000 at the end, ``{"error": {...}}`` then close 1008 on errors. ``WebSocketClient`` offers the
``stream``/``call`` surface ``stream tail`` uses for ``A2AClient``.

Connections are made as on HTTP (``a2actl.transport.http``, ``a2actl.transport.fast``): ``wss://``
with the invocation's TLS context (``--cacert``, ``--cert``/``--key``, ``--insecure``,
``a2actl.transport.tls``; also for a ``ws://`` → ``wss://`` redirect under ``-L``), a failed TLS
handshake is ``UnreachableError`` with the TLS hint, and no proxy: websockets (>= 15) would take one
from ``HTTP_PROXY``/``HTTPS_PROXY``/``ALL_PROXY``, which no other a2actl connection uses.
"""

from __future__ import annotations

import asyncio
import functools
import json
import ssl
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from a2actl.core.config import Settings
from a2actl.core.errors import (
    A2ACtlError,
    AuthError,
    HTTPStatusError,
    ProtocolViolation,
    StreamCut,
    UnreachableError,
)
from a2actl.core.redact import preview
from a2actl.protocol.events import classify_event
from a2actl.protocol.jsondoc import MAX_NESTING, dumps_body, nesting
from a2actl.protocol.jsondoc import parse as parse_json
from a2actl.protocol.jsonrpc import DecodedError, build_request, decode_jsonrpc_error
from a2actl.protocol.versions import Family
from a2actl.transport.channel import OVERSIZE_EVENT, Heartbeat, TimedEvent
from a2actl.transport.failures import tls_failed, unfollowable_redirect
from a2actl.transport.tls import build_ssl_context

if TYPE_CHECKING:
    from websockets.asyncio.client import ClientConnection
    from websockets.asyncio.client import connect as WsConnect

#: Close codes that end a stream normally (RFC 6455 §7.4.1).
NORMAL_CLOSE = (1000, 1001)
#: The close code websockets sends when it refuses a message over ``max_size`` (RFC 6455 §7.4.1).
_MESSAGE_TOO_BIG = 1009


def _refused_size(exc: Exception, max_size: int) -> int:
    """The size (bytes, a lower bound) of the message websockets refused for ``max_size`` (its
    ``PayloadTooBig`` knows it for a fragmented message only; else ``max_size + 1``)."""
    cause = exc.__cause__
    size = getattr(cause, "size", None)
    current = getattr(cause, "current_size", None)
    if isinstance(size, int):
        return size + (current if isinstance(current, int) else 0)
    return max_size + 1


@dataclass
class WsOutcome:
    """An error answer (or a ``GetTask`` result) over the WebSocket channel."""

    operation: str
    method: str
    result: Any
    error: DecodedError | None


@functools.cache  # one class per policy: a WebSocket request connects afresh
def _redirect_policy(follow: bool) -> Callable[..., WsConnect]:
    """``websockets.asyncio.client.connect`` with a2actl's redirect rules (``-L``, as on HTTP,
    ``a2actl.transport.redirects``): without ``follow`` a 3xx to the upgrade is the answer
    (``InvalidStatus``: exit 1), where websockets follows up to 10 by itself; with it, a hop to
    another origin goes without every header the redactor treats as a secret (websockets drops only
    ``Authorization``, ``Cookie`` and ``Proxy-Authorization``), and so does every later hop (the
    headers are gone from the connection's ``additional_headers``). Overrides ``process_redirect``,
    websockets' step for a redirect (15.x-17.x: hence ``websockets>=15``, the first whose
    ``connect`` keeps ``additional_headers`` where a redirect can change them);
    ``tests/cli/test_ws_redirects.py`` pins it.

    The class takes one more keyword, ``tls``: the TLS context for a ``wss://`` URL and for a
    ``wss://`` redirect target (websockets would make a default one, without ``--cacert``; it
    refuses an ``ssl`` argument for a ``ws://`` URL, so one is passed only for ``wss://``)."""
    from websockets.asyncio.client import connect
    from websockets.datastructures import Headers
    from websockets.exceptions import InvalidURI
    from websockets.uri import parse_uri

    from a2actl.core.redact import is_secret_header, register_url

    class Connect(connect):
        def __init__(self, uri: str, *, tls: ssl.SSLContext | None = None, **kwargs: Any) -> None:
            if tls is not None and parse_uri(uri).secure:
                kwargs["ssl"] = tls
            super().__init__(uri, **kwargs)
            self.tls = tls

        def process_redirect(self, exc: Exception) -> Exception | str:
            if not follow:
                return exc
            before = parse_uri(self.uri)  # self.uri on 15.x-17.x (17.x also has self.ws_uri; 16.x not)
            try:
                new = super().process_redirect(exc)
            except (InvalidURI, ValueError) as bad:
                # the agent's answer, a redirect to https://… (InvalidURI: not ws/wss) or to no URL
                # (ValueError): it escaped as 'unexpected InvalidURI' (a dlq replay --to ws://: out
                # of the whole run), not the exit 1 or 6 the same answer is over HTTP
                location = str(exc.response.headers.get("Location", "?"))  # type: ignore[attr-defined]
                if isinstance(bad, InvalidURI):
                    return unfollowable_redirect(self.uri, location, bad, follows="ws:// and wss://")
                register_url(location)
                return ProtocolViolation(
                    f"malformed HTTP from {self.uri}: invalid URL in the Location header: {location}"
                )
            if not isinstance(new, str):
                return new
            after = parse_uri(new)
            if after.secure and self.tls is not None:
                # the next attempt's socket options: create_connection_kwargs on 17.x,
                # connection_kwargs on 15.x-16.x (the last for Python 3.10)
                opts = getattr(self, "create_connection_kwargs", None)
                if opts is None:
                    opts = getattr(self, "connection_kwargs")  # noqa: B009 - not in 17.x's stubs
                opts["ssl"] = self.tls
            if self.additional_headers is not None and (before.secure, before.host, before.port) != (
                after.secure,
                after.host,
                after.port,
            ):
                self.additional_headers = Headers(
                    (k, v)
                    for k, v in Headers(self.additional_headers).raw_items()
                    if not is_secret_header(k, v)
                )
            return new

    return Connect


class WebSocketClient:
    """Calls on one WebSocket URL. ``ping_interval`` (seconds) paces client pings; a pong later than
    ``pong_timeout`` counts as a dead peer (``StreamCut``)."""

    family = Family.V1_0
    binding = "urn:a2actl:websocket:1"

    def __init__(
        self, url: str, settings: Settings, ping_interval: float = 5.0, pong_timeout: float | None = None
    ) -> None:
        self.url = url
        self.settings = settings
        self.ping_interval = ping_interval
        self.pong_timeout = pong_timeout if pong_timeout is not None else max(ping_interval * 2, 1.0)

    def _headers(self) -> dict[str, str]:
        headers = {k: v for k, v in self.settings.headers}
        if self.settings.token and not any(k.lower() == "authorization" for k in headers):
            headers["Authorization"] = f"Bearer {self.settings.token}"
        headers["traceparent"] = f"00-{self.settings.trace_id}-{uuid.uuid4().hex[:16]}-01"
        return headers

    def _tls(self) -> ssl.SSLContext | None:
        """The TLS context of the invocation (``--cacert``, ``--cert``/``--key``, ``--insecure``) when
        a ``wss://`` connection may be made (a ``wss://`` URL, or ``-L``), else ``None``. Files named
        by ``--cacert``/``--cert`` are loaded in any case, so a bad one is a ``UsageError`` (exit 2)
        before connecting, as on HTTP."""
        wss = self.url.lower().startswith("wss:")
        if wss or self.settings.follow_redirects or self.settings.cacert or self.settings.cert:
            return build_ssl_context(self.settings)
        return None

    def max_frame_bytes(self) -> int:
        """The largest frame (message) read, in bytes: twice ``settings.max_body_bytes`` (128 MiB by
        default), at least ``settings.max_event_bytes`` (``--max-event-bytes``: an event under it is
        read) and 1 MiB. A larger one is not read: websockets closes the connection (1009) and
        ``stream`` ends with an oversize event."""
        return max(self.settings.max_body_bytes * 2, self.settings.max_event_bytes, 2**20)

    async def _connect(self) -> ClientConnection:
        """Open the WebSocket. Raises ``AuthError`` (401/403), ``HTTPStatusError`` (another status
        from 300 on), ``ProtocolViolation`` (a bad handshake, or a 1xx/2xx answer other than 101), ``TimeoutError_`` (``--connect-timeout``),
        ``UnreachableError`` (refused, DNS, TLS) and ``UsageError`` (TLS files that do not load)."""
        from websockets.exceptions import InvalidHandshake, InvalidStatus

        try:
            connect = _redirect_policy(self.settings.follow_redirects)
            return await connect(
                self.url,
                tls=self._tls(),
                additional_headers=self._headers(),
                ping_interval=None,
                open_timeout=self.settings.connect_timeout,
                # closing a dead peer's socket must not wait websockets' 10 s default
                close_timeout=min(self.pong_timeout, 2.0),
                max_size=self.max_frame_bytes(),
                proxy=None,  # as every other a2actl connection: HTTP_PROXY & co. are not used
            )
        except InvalidStatus as exc:
            status = exc.response.status_code
            if status in (401, 403):
                raise AuthError(
                    f"{self.url} answered HTTP {status} to the WebSocket upgrade",
                    hint="set a token with A2ACTL_TOKEN, --token-env or --token-file",
                ) from exc
            if status < 300:
                # a success that is not 101 Switching Protocols: no error status (exit 1 is for
                # those), but no WebSocket either: an HTTP endpoint that ignored the upgrade, as
                # an SSE call answered 200 text/html is 6
                ctype = exc.response.headers.get("Content-Type", "no content type")
                raise ProtocolViolation(
                    f"{self.url} answered the WebSocket upgrade with HTTP {status} ({ctype}), not "
                    "101 Switching Protocols: not a WebSocket endpoint",
                    hint="the agent's WebSocket URL is in its card (protocolBinding "
                    "urn:a2actl:websocket:1); an http:// URL takes --send/--task over SSE",
                    details={"httpStatus": status},
                ) from exc
            raise HTTPStatusError(
                f"{self.url} refused the WebSocket upgrade: HTTP {status}", details={"httpStatus": status}
            ) from exc
        except InvalidHandshake as exc:
            raise ProtocolViolation(f"WebSocket handshake with {self.url} failed: {exc}") from exc
        except asyncio.TimeoutError as exc:
            from a2actl.core.errors import TimeoutError_

            raise TimeoutError_(f"WebSocket connect to {self.url} timed out") from exc
        except ssl.SSLCertVerificationError as exc:
            raise tls_failed(self.url, exc.verify_message or exc, verify=True) from exc
        except ssl.SSLError as exc:
            raise tls_failed(self.url, exc, verify=False) from exc
        except OSError as exc:
            raise UnreachableError(
                f"cannot connect to {self.url}: {exc.strerror or exc}",
                hint="is the agent running and listening on that port?",
            ) from exc

    async def stream(
        self, operation: str, params: dict[str, Any], *, heartbeats: bool = False
    ) -> AsyncIterator[TimedEvent | WsOutcome | Heartbeat]:
        """Send ``operation`` and yield its frames as ``TimedEvent`` (client pings as ``Heartbeat`` with
        ``rtt``). A frame over ``max_frame_bytes`` is not read: websockets closes the connection and the
        last item is a ``TimedEvent`` of kind ``oversize`` with ``truncated`` (its size a lower
        bound). Raises ``StreamCut`` on an abnormal close, a frame RFC 6455 forbids (the library
        closes the connection: 1002, 1007) or a missing pong, ``ProtocolViolation``
        (exit 6) for a frame that is not JSON or is nested deeper than ``jsondoc.MAX_NESTING``, ``UsageError`` (before
        connecting) for params that cannot be written as JSON (``protocol.jsondoc.dumps_body``: the
        frame is the bytes the HTTP paths send)."""
        from websockets.exceptions import ConnectionClosed

        # written before connecting: a body that cannot be JSON (NaN) is exit 2 as on HTTP, nothing opened
        frame = dumps_body(build_request(operation, params, str(uuid.uuid4())), self.url).decode("utf-8")
        max_size = self.max_frame_bytes()
        ws = await self._connect()
        t0 = time.perf_counter()
        queue: asyncio.Queue[tuple[str, Any, float]] = asyncio.Queue()

        async def reader() -> None:
            try:
                async for frame in ws:
                    await queue.put(("frame", frame, time.perf_counter()))
                await queue.put(("closed", (ws.close_code, ws.close_reason), time.perf_counter()))
            except ConnectionClosed as exc:
                sent, rcvd = exc.sent, exc.rcvd
                # a2actl's close went first (an agent's own close is echoed: sent is set then too)
                ours = sent is not None and (rcvd is None or exc.rcvd_then_sent is False)
                if ours and sent is not None and sent.code == _MESSAGE_TOO_BIG:
                    # websockets refused a frame over max_size and closed the connection itself:
                    # not the agent's abnormal close (this was 'closed abnormally: code 1006')
                    await queue.put(("toobig", _refused_size(exc, max_size), time.perf_counter()))
                    return
                if ours and sent is not None:
                    # websockets failed the connection for a frame RFC 6455 forbids (1002: bad
                    # masking, reserved bits, a bad close code; 1007: a text frame not UTF-8):
                    # reported as the agent's 'abnormal close 1006' before
                    await queue.put(("broken", (sent.code, sent.reason), time.perf_counter()))
                    return
                await queue.put(
                    (
                        "closed",
                        (rcvd.code if rcvd else 1006, rcvd.reason if rcvd else ""),
                        time.perf_counter(),
                    )
                )

        async def pinger() -> None:
            while True:
                await asyncio.sleep(self.ping_interval)
                sent = time.perf_counter()

                async def ping_pong() -> None:
                    waiter = await ws.ping()  # may itself wait: a peer that reads nothing fills the buffer
                    await waiter

                try:
                    # the bound covers sending the ping too, so a dead peer is found in pong_timeout
                    await asyncio.wait_for(ping_pong(), self.pong_timeout)
                except asyncio.TimeoutError:
                    await queue.put(("nopong", self.pong_timeout, time.perf_counter()))
                    return
                except ConnectionClosed:
                    return
                await queue.put(("pong", time.perf_counter() - sent, time.perf_counter()))

        tasks = [asyncio.create_task(reader())]
        if heartbeats:
            tasks.append(asyncio.create_task(pinger()))
        try:
            try:
                await ws.send(frame)  # a text frame
            except ConnectionClosed:
                # the agent closed (or broke) the connection right after the handshake, before the
                # request went: the reader reports how (was 'unexpected ConnectionClosedOK', exit 1)
                pass
            while True:
                kind, value, at = await queue.get()
                if kind == "pong":
                    yield Heartbeat(at - t0, "pong", value)
                elif kind == "nopong":
                    raise StreamCut(
                        f"no pong from {self.url} within {value:g}s: the peer or the path is dead"
                    )
                elif kind == "toobig":
                    # A frame over the frame bound, counted (at least ``value`` bytes), not read, and
                    # the connection closed by websockets (1009): the stream ends as SSE's does
                    # after an event over --max-event-bytes (the caller asks GetTask whether the
                    # end was in it: follow.tail_a2a, outcome oversize).
                    yield TimedEvent(at - t0, value, OVERSIZE_EVENT, True)
                    return
                elif kind == "broken":
                    code, reason = value
                    raise StreamCut(
                        f"WebSocket {self.url}: the agent sent a frame RFC 6455 forbids, and a2actl "
                        f"closed the connection: code {code}" + (f" ({reason})" if reason else "")
                    )
                elif kind == "closed":
                    code, reason = value
                    if code in NORMAL_CLOSE:
                        return
                    raise StreamCut(
                        f"WebSocket {self.url} closed abnormally: code {code}"
                        + (f" ({reason})" if reason else "")
                    )
                else:
                    # The per-frame decode, as the SSE path's (A2AClient.stream_batches): orjson
                    # (its 1024-level limit, NaN, lone surrogates: the stdlib reads what it
                    # refuses), and a nesting bound as on every agent JSON: deeper than
                    # MAX_NESTING is exit 6 'nested too deep', where json.loads alone raised
                    # RecursionError ('unexpected', exit 1). Cheaper than json.loads alone.
                    try:
                        obj = orjson.loads(value)
                    except orjson.JSONDecodeError:
                        obj = self._stdlib(value)
                    if len(value) > 2 * MAX_NESTING:  # depth d takes d brackets: short text is not deep
                        opening = (
                            value.count("{") + value.count("[")
                            if isinstance(value, str)
                            else value.count(b"{") + value.count(b"[")
                        )
                        if opening > MAX_NESTING and nesting(obj) > MAX_NESTING:
                            parse_json(value, self.url)  # raises 'nested too deep'
                    if isinstance(obj, dict) and isinstance(obj.get("error"), dict):
                        obj = self._stdlib(value)  # an error's integers exact (orjson: past 64 bits, floats)
                        yield WsOutcome(
                            operation,
                            operation,
                            None,
                            decode_jsonrpc_error(obj["error"], method=operation, family=Family.V1_0),
                        )
                        return
                    size = len(value.encode("utf-8")) if isinstance(value, str) else len(value)
                    yield TimedEvent(at - t0, size, classify_event(obj))
        finally:
            for task in tasks:
                task.cancel()
            await ws.close()

    def _stdlib(self, value: str | bytes) -> Any:
        """A frame read by the stdlib (what orjson refuses; an error frame, for exact integers).
        Raises ``ProtocolViolation`` (exit 6): not JSON (a binary frame not in UTF-8 included), or
        nested too deep."""
        try:
            return json.loads(value)
        except RecursionError:
            return parse_json(value, self.url)  # raises 'nested too deep'
        except ValueError as exc:  # not JSON, or a binary frame that is not UTF-8
            raise ProtocolViolation(
                f"WebSocket frame from {self.url} is not JSON: {preview(value, 80)!r}"
            ) from exc

    async def call(self, operation: str, params: dict[str, Any]) -> WsOutcome:
        """A unary call (``GetTask``): the first frame is the answer."""
        async for item in self.stream(operation, params):
            if isinstance(item, WsOutcome):
                return item
            if isinstance(item, TimedEvent):
                payload = item.event.payload if item.event.kind == "task" else None
                return WsOutcome(operation, operation, {"task": payload}, None)
        raise A2ACtlError(f"{self.url} closed without answering {operation}")
