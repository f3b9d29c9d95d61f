"""The throughput path: an aiohttp client with orjson bodies (``FastTransport``).

``load run`` and ``dlq replay`` are limited by the HTTP client's CPU per request. Measured on this
2-core machine against one small raw-ASGI sink (issue #15's table, and ``bench/load_capacity.py``),
httpx spends 1.3-3.8 ms of client CPU per request and gets slower as connections grow; aiohttp spends
0.3-0.5 ms. So the throughput jobs use aiohttp, behind the same ``Transport`` protocol
(``a2actl.transport.base``) as ``HttpTransport``: ``A2AClient`` and card discovery work over either.
``handshake probe`` stays on httpx, whose connection-level clock (``a2actl.transport.netclock``) its
phase timings depend on.

What is the same as ``HttpTransport``: ``-H`` headers, the bearer token, ``traceparent`` per request,
``User-Agent``, ``Accept-Encoding: gzip, deflate`` (answers decoded, limits count decoded bytes, an
unasked-for coding is exit 6), TLS options (the same ``SSLContext``), ``-L``, the 401/403 and 3xx
checks, body limits, the ``-v`` sink and the error tree (3 unreachable, 4 auth, 5 timeout,
6 protocol). What differs: ``Timing`` has only ``time_starttransfer`` (headers received) and
``time_total`` (body read), from ``time.perf_counter`` when the coroutine resumes; connect and TLS
phases are not split (use ``handshake probe`` for those).
"""

from __future__ import annotations

import asyncio
import codecs
import secrets
import socket
import ssl
from collections.abc import AsyncIterator, Mapping
from typing import Any

import aiohttp
import orjson

from a2actl import __version__
from a2actl.core.config import Settings
from a2actl.core.errors import (
    A2ACtlError,
    ProtocolViolation,
    TimeoutError_,
    UnreachableError,
    UsageError,
)
from a2actl.core.redact import redact_body, redact_headers
from a2actl.core.sink import EventSink, NullSink
from a2actl.transport.failures import ACCEPT_ENCODING, check_auth, check_redirect, content_coding, over_limit
from a2actl.transport.timing import Clock, HttpResult

USER_AGENT = f"a2actl/{__version__}"
_READ_CHUNK = 64 * 1024


def map_aiohttp_error(exc: BaseException, url: str, settings: Settings) -> A2ACtlError:
    """Translate an aiohttp/asyncio/OS exception raised while talking to ``url`` into the
    ``a2actl.core.errors`` tree, with the same messages and exit codes as ``map_httpx_error``:
    DNS, refused, TLS and a lost connection → ``UnreachableError`` (3); connect and read timeouts →
    ``TimeoutError_`` (5); malformed HTTP or an incomplete/undecodable body → ``ProtocolViolation``
    (6); a bad URL → ``UsageError`` (2)."""
    if isinstance(exc, A2ACtlError):
        return exc
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return TimeoutError_(
            f"connect to {url} timed out after {settings.connect_timeout:g}s",
            hint="raise --connect-timeout, or check firewalls and the host",
        )
    if isinstance(exc, (aiohttp.SocketTimeoutError, asyncio.TimeoutError, TimeoutError)):
        return TimeoutError_(
            f"no answer from {url} within {settings.read_timeout:g}s (read timeout)",
            hint="the agent is slower than --timeout; raise it or look at the agent",
        )
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        cert_error = exc.certificate_error
        verify = getattr(cert_error, "verify_message", None) or cert_error
        return UnreachableError(
            f"TLS handshake with {url} failed: {verify}",
            hint="pass the CA with --cacert FILE (or --insecure to skip checks)",
        )
    if isinstance(exc, (aiohttp.ClientSSLError, ssl.SSLError)):
        return UnreachableError(
            f"TLS handshake with {url} failed: {exc}",
            hint="is this an https URL on an http port, or is a client certificate needed (--cert/--key)?",
        )
    if isinstance(exc, aiohttp.ClientConnectorError):
        os_error = exc.os_error
        if isinstance(os_error, socket.gaierror):
            return UnreachableError(
                f"DNS lookup for {exc.host!r} failed: {os_error.strerror or os_error}",
                hint="check the host name and the resolver",
            )
        if isinstance(os_error, ConnectionRefusedError):
            return UnreachableError(
                f"connection to {url} refused", hint="is the agent running and listening on that port?"
            )
        return UnreachableError(f"cannot connect to {url}: {os_error.strerror or os_error}")
    if isinstance(exc, aiohttp.InvalidURL):
        return UsageError(f"invalid URL {url!r}: {exc}")
    if isinstance(exc, aiohttp.ClientPayloadError):
        return ProtocolViolation(f"malformed or incomplete body from {url}: {exc}")
    if isinstance(exc, aiohttp.ClientResponseError):
        return ProtocolViolation(f"malformed HTTP from {url}: {exc.message or exc}")
    if isinstance(exc, (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError, ConnectionError)):
        return UnreachableError(
            f"connection to {url} lost: {exc or type(exc).__name__}",
            hint="the agent or a proxy reset the connection; retry, then check the agent",
        )
    return A2ACtlError(f"request to {url} failed: {type(exc).__name__}: {exc}")


class AiohttpStream:
    """An unread aiohttp response as the ``StreamResponse`` protocol: ``status_code``,
    ``reason_phrase``, ``headers``, ``aiter_text()`` (UTF-8, decoded incrementally, chunks of at most
    64 KiB) and ``aclose()``."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.response = response
        self.status_code = response.status
        self.reason_phrase = response.reason or ""
        self.headers: Mapping[str, str] = response.headers

    async def aiter_text(self) -> AsyncIterator[str]:
        """The body as text chunks, as the bytes arrive (``errors="replace"`` for invalid UTF-8)."""
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        async for chunk in self.response.content.iter_any():
            text = decoder.decode(chunk)
            if text:
                yield text
        tail = decoder.decode(b"", final=True)
        if tail:
            yield tail

    async def aiter_bytes(self) -> AsyncIterator[bytes]:
        """The body as byte chunks, as they arrive."""
        async for chunk in self.response.content.iter_any():
            yield chunk

    async def aclose(self) -> None:
        """Release the connection (an unfinished body closes it)."""
        self.response.release()


class FastTransport:
    """One pooled ``aiohttp.ClientSession`` with the invocation's settings; an async context manager
    (the session is created on entry, inside the running loop).

    ``max_connections`` caps open connections (aiohttp's ``TCPConnector(limit=…)``); requests over it
    wait for a free connection, so give at least the number of requests in flight.
    """

    def __init__(self, settings: Settings, sink: EventSink | None = None, max_connections: int = 100) -> None:
        """A client for ``settings`` (timeouts, TLS files, headers, token, ``-L``, limits); wire events
        go to ``sink`` (``-v``). Raises ``UsageError`` (exit 2) at once when ``--cacert``/``--cert``/
        ``--key`` cannot be loaded."""
        from a2actl.transport.tls import build_ssl_context

        self.settings = settings
        self.sink: EventSink = sink or NullSink()
        self.max_connections = max_connections
        self._ssl: ssl.SSLContext | None = None
        if settings.cacert or settings.cert:
            self._ssl = build_ssl_context(settings)  # report a bad file now
        self._session: aiohttp.ClientSession | None = None
        self._logs = not isinstance(self.sink, NullSink)
        headers = {"User-Agent": USER_AGENT, "Accept-Encoding": ACCEPT_ENCODING}
        for k, v in settings.headers:
            headers[k] = v
        if settings.token and not any(k.lower() == "authorization" for k in headers):
            headers["Authorization"] = f"Bearer {settings.token}"
        self._base_headers = headers

    async def __aenter__(self) -> FastTransport:
        connector = aiohttp.TCPConnector(limit=self.max_connections, limit_per_host=0, ttl_dns_cache=300)
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(
                total=None, sock_connect=self.settings.connect_timeout, sock_read=self.settings.read_timeout
            ),
            json_serialize=lambda obj: orjson.dumps(obj).decode(),
            auto_decompress=True,
            trust_env=False,
            skip_auto_headers=("User-Agent", "Accept-Encoding"),
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _ssl_for(self, url: str) -> ssl.SSLContext | bool:
        if not url.startswith("https:"):
            return False
        if self._ssl is None:
            from a2actl.transport.tls import build_ssl_context

            self._ssl = build_ssl_context(self.settings)
        return self._ssl

    def redact_body(self, body: bytes) -> bytes:
        """Body for the event sink: secrets and credential-like JSON values masked."""
        return redact_body(body, self.settings.secrets())

    def _prepare(
        self, url: str, json_body: Any, content: bytes | None, headers: dict[str, str] | None
    ) -> tuple[dict[str, str], bytes | None, str]:
        if not url.startswith(("http://", "https://")):
            raise UsageError(f"unsupported URL {url!r}", hint="use an http:// or https:// URL")
        hdrs = dict(self._base_headers)
        if headers:
            hdrs.update(headers)
        traceparent = f"00-{self.settings.trace_id}-{secrets.token_hex(8)}-01"
        hdrs["traceparent"] = traceparent
        data = content
        if json_body is not None:
            data = orjson.dumps(json_body)
            hdrs.setdefault("Content-Type", "application/json")
        return hdrs, data, traceparent

    def _session_or_fail(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("FastTransport is used outside 'async with'")
        return self._session

    async def _send(
        self, method: str, url: str, hdrs: dict[str, str], data: bytes | None
    ) -> aiohttp.ClientResponse:
        if self._logs:
            self.sink.on_request(method, url, redact_headers(list(hdrs.items())))
            if data and self.sink.wants_bodies:
                self.sink.on_body(">", self.redact_body(data))
        try:
            return await self._session_or_fail().request(
                method,
                url,
                data=data,
                headers=hdrs,
                allow_redirects=self.settings.follow_redirects,
                ssl=self._ssl_for(url),
            )
        except A2ACtlError:
            raise
        except (aiohttp.ClientError, OSError, asyncio.TimeoutError, ValueError) as exc:
            raise map_aiohttp_error(exc, url, self.settings) from exc

    async def request(
        self,
        method: str,
        url: str,
        *,
        json_body: Any = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
        max_bytes: int | None = None,
    ) -> HttpResult:
        """Send one request and read the whole body (decoded from gzip/deflate, at most ``max_bytes``
        decoded bytes, default ``settings.max_body_bytes``). Same contract as
        ``HttpTransport.request``: raises ``UnreachableError`` (3), ``TimeoutError_`` (5),
        ``AuthError`` (4, on 401/403), ``HTTPStatusError`` (1, an unfollowed 3xx),
        ``ProtocolViolation`` (6: malformed HTTP, body over the limit, an unasked-for coding),
        ``UsageError`` (2: bad URL); other statuses are returned."""
        limit = max_bytes if max_bytes is not None else self.settings.max_body_bytes
        hdrs, data, traceparent = self._prepare(url, json_body, content, headers)
        clock = Clock()
        clock.traceparent = traceparent
        response = await self._send(method, url, hdrs, data)
        try:
            clock.headers_received()
            coding = content_coding(response, url)
            declared = response.content_length
            if declared is not None and declared > limit:
                raise ProtocolViolation(
                    f"{url} declares a {declared:,}-byte body, over the {limit:,}-byte limit",
                    hint="a body this large is a misconfiguration or an attack",
                )
            if declared is not None and coding is None:
                body = await response.read()
            else:
                buf = bytearray()
                async for chunk in response.content.iter_chunked(_READ_CHUNK):
                    buf += chunk
                    if len(buf) > limit:
                        raise over_limit(url, limit, coding, len(buf))
                body = bytes(buf)
            if len(body) > limit:
                raise over_limit(url, limit, coding, len(body))
        except A2ACtlError:
            raise
        except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as exc:
            raise map_aiohttp_error(exc, url, self.settings) from exc
        finally:
            response.release()
        clock.finish()
        reason = response.reason or ""
        if self._logs:
            self.sink.on_response(
                response.status,
                reason,
                redact_headers(list(response.headers.items())),
                clock.timing.time_total,
            )
            if body and self.sink.wants_bodies:
                self.sink.on_body("<", self.redact_body(body))
        check_auth(response.status, reason, response.headers, url, self.settings)
        check_redirect(response.status, reason, response.headers, url, self.settings)
        return HttpResult(
            response.status,
            reason,
            response.headers,  # type: ignore[arg-type]  # a CIMultiDictProxy: .get/.items as httpx.Headers
            body,
            url,
            clock.timing,
            traceparent,
            None,
            coding,
        )

    async def open_stream(
        self, method: str, url: str, *, json_body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[AiohttpStream, Clock]:
        """Send a request and return the response unread (for SSE) as an ``AiohttpStream``; the caller
        must ``aclose()`` it. Raises like ``request`` for connection failures, 401/403 and 3xx."""
        hdrs, data, traceparent = self._prepare(url, json_body, None, headers)
        clock = Clock()
        clock.traceparent = traceparent
        response = await self._send(method, url, hdrs, data)
        clock.headers_received()
        stream = AiohttpStream(response)
        if self._logs:
            self.sink.on_response(
                stream.status_code,
                stream.reason_phrase,
                redact_headers(list(response.headers.items())),
                clock.elapsed(),
            )
        try:
            content_coding(stream, url)
            check_auth(stream.status_code, stream.reason_phrase, stream.headers, url, self.settings)
            check_redirect(stream.status_code, stream.reason_phrase, stream.headers, url, self.settings)
        except A2ACtlError:
            await stream.aclose()
            raise
        return stream, clock

    async def read_rest(self, response: AiohttpStream, url: str, max_bytes: int | None = None) -> bytes:
        """Read what is left of an ``open_stream`` response that is not a stream (a JSON error answer),
        bounded like ``request``. Raises ``ProtocolViolation`` over the limit and the mapped transport
        error, saying how many bytes had arrived."""
        limit = max_bytes if max_bytes is not None else self.settings.max_body_bytes
        body = bytearray()
        try:
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > limit:
                    raise over_limit(url, limit, content_coding(response, url), len(body))
        except A2ACtlError:
            raise
        except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as exc:
            err = map_aiohttp_error(exc, url, self.settings)
            err.message += f" (after {len(body):,} bytes of an HTTP {response.status_code} answer)"
            raise err from exc
        return bytes(body)


__all__ = ["AiohttpStream", "FastTransport", "map_aiohttp_error"]
