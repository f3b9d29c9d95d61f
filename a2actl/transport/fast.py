"""The throughput path: an aiohttp client with orjson bodies (``FastTransport``).

``load run`` and ``dlq replay`` are limited by the HTTP client's CPU per request. Measured on this
2-core machine against one small raw-ASGI sink (issue #15's table, ``bench/load_client.py``), httpx
spends 1.3-3.8 ms of client CPU per request and gets slower as connections grow; aiohttp spends
0.3-0.5 ms. So the throughput jobs use aiohttp, behind the same ``Transport`` protocol
(``a2actl.transport.base``) as ``HttpTransport``: ``A2AClient`` and card discovery work over either.
``handshake probe`` stays on httpx, whose connection-level clock (``a2actl.transport.netclock``) its
phase timings depend on.

What is the same as ``HttpTransport``: ``-H`` headers (case-insensitive: ``-H 'user-agent: x'``
replaces a2actl's), the bearer token, ``traceparent`` per request, ``User-Agent``,
``Accept-Encoding: gzip, deflate`` (answers decoded, limits count decoded bytes, an unasked-for
coding is exit 6), TLS options (the same ``SSLContext``, also for an ``https://`` redirect target
under ``-L``), ``-L`` (a hop to another origin goes without ``Authorization`` and every secret
header, ``a2actl.transport.redirects``, applied by a client middleware), the 401/403 and 3xx checks, body limits, the ``-v`` sink and the error tree
(3 unreachable, 4 auth, 5 timeout, 6 protocol) with the same classes for the same failures: a reset
(RST) mid-body is ``UnreachableError`` "connection lost" (3), a clean close before the promised
length is ``ProtocolViolation`` (6), as httpx's ``ReadError`` and ``RemoteProtocolError`` are mapped.
What differs: ``Timing`` has only ``time_starttransfer`` (headers received) and ``time_total`` (body
read), from ``time.perf_counter`` when the coroutine resumes; connect and TLS phases are not split
(use ``handshake probe`` for those). Header names go out (and to ``-v``) lowercased, as httpx lists them.
An answer's head may have lines up to 100 KiB and up to 512 headers (aiohttp's defaults are 8,190
bytes and 128; httpx reads heads up to about 100 KiB in all).
"""

from __future__ import annotations

import asyncio
import codecs
import errno
import inspect
import os
import re
import socket
import ssl
from collections.abc import AsyncIterator, Mapping
from time import perf_counter
from typing import Any

import aiohttp
from aiohttp.http_exceptions import ContentEncodingError

from a2actl import __version__
from a2actl.core.config import Settings
from a2actl.core.errors import (
    A2ACtlError,
    ProtocolViolation,
    StreamCut,
    UnreachableError,
    UsageError,
)
from a2actl.core.redact import redact_body, redact_headers
from a2actl.core.sink import EventSink, NullSink
from a2actl.protocol.jsondoc import dumps_body
from a2actl.transport.failures import (
    ACCEPT_ENCODING,
    BAD_REDIRECT_HOST_HINT,
    HTTPX_MAX_REDIRECTS,
    check_auth,
    check_redirect,
    connect_timed_out,
    connection_lost,
    content_coding,
    declared_over_limit,
    dns_failed,
    over_limit,
    read_timed_out,
    redirect_loop,
    refused,
    tls_failed,
    unfollowable_redirect,
)
from a2actl.transport.redirects import RedirectGuard, bad_redirect_host, origin, secret_names
from a2actl.transport.timing import Clock, HttpResult, Timing

USER_AGENT = f"a2actl/{__version__}"
_READ_CHUNK = 64 * 1024
#: aiohttp >= 3.10 names its connect and read timeouts; older versions raise ServerTimeoutError.
_CONNECT_TIMEOUT: tuple[type[BaseException], ...] = tuple(
    t for t in (getattr(aiohttp, "ConnectionTimeoutError", None),) if t is not None
)
#: The OS errors that mean the peer (or a middlebox) dropped the connection, not that it ended it.
_LOST = (ConnectionResetError, ConnectionAbortedError, BrokenPipeError)
#: Answers that have no body whatever their headers say (RFC 9110 §6.4.1).
_NO_BODY = frozenset((204, 304))
#: A request sent without a Content-Type gets none (aiohttp would add ``application/octet-stream``).
_SKIP_TYPE = ("Content-Type",)
#: The answer heads httpx reads (httpcore: h11 with a 100 KiB ``max_incomplete_event_size``) must
#: read here too: aiohttp's defaults (8,190 bytes a line, 128 headers) made ``load run`` and ``dlq
#: replay`` exit 6 on a long ``Content-Security-Policy``/``Set-Cookie``/``Link`` that ``card get``
#: read. A line (status or header) up to 100 KiB, up to 512 headers: at most ~50 MiB per head, under
#: the 64 MiB body limit; httpx caps the whole head at about 100 KiB instead.
_MAX_HEAD_LINE = 100 * 1024
_MAX_HEADERS = 512
#: ``max_headers`` is a ``ClientSession`` argument from aiohttp 3.13.4 (pyproject allows 3.12): on an
#: older aiohttp it is not passed (a head over 128 headers stays exit 6 there), never a TypeError.
_HEADER_COUNT: dict[str, Any] = (
    {"max_headers": _MAX_HEADERS}
    if "max_headers" in inspect.signature(aiohttp.ClientSession.__init__).parameters
    else {}
)


#: W3C ``traceparent`` parent ids (8 random bytes as 16 hex digits) made per refill of ``_span_ids``.
_SPAN_BATCH = 512
_span_ids: list[str] = []
# A forked child must not reuse its parent's unused span ids.
os.register_at_fork(after_in_child=_span_ids.clear)


def _span_id() -> str:
    """A fresh random parent id for ``traceparent`` (W3C Trace Context §3.2.2.3: 8 bytes, not all
    zero), as ``secrets.token_hex(8)`` makes it, from ``os.urandom`` read 512 ids at a time (one
    system call per id cost ~1 µs per request on the throughput paths)."""
    try:
        return _span_ids.pop()
    except IndexError:
        raw = os.urandom(8 * _SPAN_BATCH).hex()
        _span_ids.extend(
            h for h in (raw[i : i + 16] for i in range(0, 16 * _SPAN_BATCH, 16)) if h != "0" * 16
        )
        return _span_ids.pop()


_UNDECODABLE = "Can not decode content-encoding"
_PARSER_DETAIL = re.compile(r"message='([^']*)'")
_OS_ERROR = re.compile(r"(?:ConnectionResetError|ConnectionAbortedError|BrokenPipeError)\((\d+), '([^']*)'\)")


def _payload_error(exc: aiohttp.ClientPayloadError, url: str) -> A2ACtlError:
    """An unfinished or undecodable body. aiohttp says why only in the text (the parser's error,
    then the connection's, ``"… . ConnectionResetError(104, …)"``) and the cause chain."""
    text = str(exc)
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ContentEncodingError) or _UNDECODABLE in str(cause):
            said = str(cause)
            return ProtocolViolation(
                f"{url} sent a body that does not decode as its Content-Encoding says: "
                + said[max(0, said.find(_UNDECODABLE)) :].strip(),
                hint="a proxy or the agent mangles compressed answers",
            )
        if isinstance(cause, _LOST):
            return connection_lost(url, cause)
        cause = cause.__cause__ or cause.__context__
    found = _PARSER_DETAIL.search(text)
    detail = found.group(1) if found else text
    reset = _OS_ERROR.search(text)
    if reset is not None:
        return connection_lost(url, f"[Errno {reset.group(1)}] {reset.group(2)} mid-body ({detail})")
    return ProtocolViolation(f"malformed HTTP from {url}: incomplete body: {detail}")


def _is_refused(os_error: BaseException | None) -> bool:
    """A refused connect, also inside the ``OSError("Multiple exceptions: …")`` that happy eyeballs
    raises when a name has several addresses (``localhost``: ::1 and 127.0.0.1)."""
    if os_error is None:
        return False
    if isinstance(os_error, ConnectionRefusedError) or getattr(os_error, "errno", None) == errno.ECONNREFUSED:
        return True
    text = str(os_error).lower()
    return "multiple exceptions" in text and "refused" in text


def map_aiohttp_error(exc: BaseException, url: str, settings: Settings) -> A2ACtlError:
    """Translate an aiohttp/asyncio/OS exception raised while talking to ``url`` into the
    ``a2actl.core.errors`` tree, with the same classes (exit codes) as ``map_httpx_error`` for the same
    failure: DNS, refused, TLS, a reset (also mid-body) → ``UnreachableError`` (3); connect and read
    timeouts → ``TimeoutError_`` (5); malformed HTTP, a close before the whole body or any answer, a
    body that does not decode → ``ProtocolViolation`` (6); a bad URL → ``UsageError`` (2); too many
    redirects, or one to a URL a2actl cannot follow, under ``-L`` → ``HTTPStatusError`` (1). Never
    raises."""
    if isinstance(exc, A2ACtlError):
        return exc
    if isinstance(exc, _CONNECT_TIMEOUT) or (
        isinstance(exc, aiohttp.ServerTimeoutError) and str(exc).startswith("Connection timeout")
    ):
        return connect_timed_out(url, settings)
    if isinstance(exc, (aiohttp.ServerTimeoutError, asyncio.TimeoutError, TimeoutError)):
        return read_timed_out(url, settings)
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        cert_error = exc.certificate_error
        verify = getattr(cert_error, "verify_message", None) or cert_error
        return tls_failed(url, verify, verify=True)
    if isinstance(exc, (aiohttp.ClientSSLError, ssl.SSLError)):
        # the SSL error itself: aiohttp's text wraps it in "Cannot connect to host H:P
        # ssl:<ssl.SSLContext object at 0x…>", an object's repr that differs on every run
        reason = exc.os_error if isinstance(exc, aiohttp.ClientConnectorError) else exc
        return tls_failed(url, reason, verify=False)
    if isinstance(exc, aiohttp.ClientOSError) and isinstance(exc.__cause__, ssl.SSLError):
        # a TLS alert after the handshake (TLS 1.3: the server's "certificate required" arrives
        # with the first read) comes as ClientOSError from the SSLError; httpx: a TLS failure (3)
        return tls_failed(url, exc.__cause__, verify=isinstance(exc.__cause__, ssl.SSLCertVerificationError))
    if isinstance(exc, aiohttp.ClientConnectorError):
        os_error = exc.os_error
        if isinstance(os_error, socket.gaierror):
            return dns_failed(exc.host, os_error.strerror or os_error)
        if _is_refused(os_error):
            return refused(url)
        return UnreachableError(f"cannot connect to {url}: {os_error.strerror or os_error}")
    if isinstance(exc, aiohttp.InvalidUrlRedirectClientError):
        # -L and a Location that is not a URL: the agent's answer is malformed, as httpx's path
        # says (6); it is an InvalidURL too, and read 'invalid URL <the request's URL>' (2: a bad
        # command line; dlq replay took it for an entry never sent)
        from a2actl.core.redact import register_url

        register_url(str(exc.url))  # a Location may carry userinfo a2actl was never given
        return ProtocolViolation(f"malformed HTTP from {url}: invalid URL in the Location header: {exc.url}")
    if isinstance(exc, aiohttp.NonHttpUrlRedirectClientError):
        # -L and a Location that is not http(s): the agent's answer (1), as httpx's path says
        return unfollowable_redirect(
            url, str(exc.args[0]) if exc.args else "?", "not an http:// or https:// URL"
        )
    if isinstance(exc, aiohttp.InvalidURL):
        return UsageError(f"invalid URL {url!r}: {exc}")
    if isinstance(exc, aiohttp.TooManyRedirects):
        # as httpx's path says it (failures.redirect_loop): the last redirect's status, a 3xx
        # (aiohttp's own ``status`` is 0), so dlq replay reads it as the agent's permanent answer
        last = exc.history[-1].status if exc.history else None
        return redirect_loop(url, len(exc.history), last)
    if isinstance(exc, aiohttp.ClientPayloadError):
        return _payload_error(exc, url)
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        # httpx: RemoteProtocolError "Server disconnected without sending a response" (6).
        return ProtocolViolation(
            f"malformed HTTP from {url}: the server closed the connection without an answer"
        )
    if isinstance(exc, aiohttp.ClientResponseError):
        if _UNDECODABLE in str(exc.message):
            # aiohttp fails at the headers on a coding it has no decoder for (zstd, br without Brotli)
            return ProtocolViolation(
                f"{url} answered with a Content-Encoding a2actl did not ask for ({exc.message}); "
                f"a2actl asked for {ACCEPT_ENCODING} (one coding)",
                hint="a proxy or the agent ignores Accept-Encoding",
            )
        return ProtocolViolation(f"malformed HTTP from {url}: {exc.message or exc}")
    if isinstance(exc, (aiohttp.ClientOSError, ConnectionError)):
        return connection_lost(url, str(exc) or type(exc).__name__)
    if isinstance(exc, ValueError):  # yarl's URL parser
        return UsageError(f"invalid URL {url!r}: {exc}")
    return A2ACtlError(f"request to {url} failed: {type(exc).__name__}: {exc}")


def _until_close(response: aiohttp.ClientResponse) -> asyncio.Future[None] | None:
    """For a body delimited by the connection's close (no Content-Length, not chunked): the
    connection's ``closed`` future, which holds the error when the close was a reset. aiohttp ends
    such a body as if complete either way; this tells a cut body from a whole one."""
    if (
        response.content_length is not None
        or "transfer-encoding" in response.headers
        or response.status in _NO_BODY
        or response.method == "HEAD"
    ):
        return None
    connection = response.connection
    protocol = connection.protocol if connection is not None else None
    closed = protocol.closed if protocol is not None else None
    if closed is not None:
        closed.add_done_callback(_retrieve)
    return closed


def _retrieve(fut: asyncio.Future[None]) -> None:
    if not fut.cancelled():
        fut.exception()  # read, so asyncio does not log "exception was never retrieved"


def _reset_error(closed: asyncio.Future[None] | None) -> BaseException | None:
    """The OS error a read-until-close body ended with (``None``: a clean close or still open)."""
    if closed is None or not closed.done() or closed.cancelled():
        return None
    err = closed.exception()
    cause = err.__cause__ if err is not None else None
    return cause or err


class AiohttpStream:
    """An unread aiohttp response as the ``StreamResponse`` protocol: ``status_code``,
    ``reason_phrase``, ``headers``, ``aiter_text()`` (UTF-8 without a leading BOM, decoded incrementally, chunks of at most
    64 KiB) and ``aclose()``."""

    def __init__(
        self, response: aiohttp.ClientResponse, url: str = "", settings: Settings | None = None
    ) -> None:
        self.response = response
        self.status_code = response.status
        self.reason_phrase = response.reason or ""
        self.headers: Mapping[str, str] = response.headers
        self.url = url or str(response.url)
        self.settings = settings or Settings()
        self._closed = _until_close(response)

    async def aiter_text(self) -> AsyncIterator[str]:
        """The body as text chunks, as the bytes arrive, decoded as an event stream is (WHATWG HTML
        §9.2.5: UTF-8 whatever the charset, one leading byte order mark dropped, where it would
        make the first line a field no one knows and lose the first event; ``errors="replace"``
        for invalid UTF-8; a multi-byte character split across reads is held until complete). A
        connection that ends before the body does (reset, incomplete chunked body, read timeout)
        raises ``StreamCut`` (exit 6; ``stream tail`` resubscribes) with the transport error's
        message."""
        decoder = codecs.getincrementaldecoder("utf-8-sig")("replace")
        try:
            async for chunk in self.response.content.iter_any():
                text = decoder.decode(chunk)
                if text:
                    yield text
        except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as exc:
            raise self._cut(map_aiohttp_error(exc, self.url, self.settings)) from exc
        reset = _reset_error(self._closed)
        if reset is not None:
            raise self._cut(connection_lost(self.url, reset))
        tail = decoder.decode(b"", final=True)
        if tail:
            yield tail

    def _cut(self, err: A2ACtlError) -> StreamCut:
        return StreamCut(
            f"the stream from {self.url} was cut: {err.message}",
            hint="a dropped stream is not a finished task; 'a2actl stream tail --task ID' resubscribes",
        )

    async def aiter_bytes(self) -> AsyncIterator[bytes]:
        """The body as byte chunks (decoded from its content coding), as they arrive; aiohttp's and
        OS exceptions pass through unmapped (``FastTransport.read_rest`` maps them)."""
        async for chunk in self.response.content.iter_any():
            yield chunk
        reset = _reset_error(self._closed)
        if reset is not None:
            raise reset

    @property
    def wire_bytes(self) -> int:
        """Body bytes received so far as they crossed the network (before decoding)."""
        content = self.response.content
        return int(getattr(content, "total_raw_bytes", content.total_bytes))

    async def aclose(self) -> None:
        """Release the connection: back to the pool when the body was read to the end, else closed."""
        if self.response.content.is_eof():
            self.response.release()
        else:
            self.response.close()


def _has_userinfo(url: str) -> bool:
    """Whether ``url`` carries credentials in its authority (``user[:password]@``, RFC 3986 §3.2.1):
    a user or a password that is not empty, httpx's rule for sending Basic (``http://@host`` has
    none, and the token still goes out)."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return bool(parts.username or parts.password)


class FastTransport:
    """One pooled ``aiohttp.ClientSession`` with the invocation's settings; an async context manager
    (the session is created on entry, inside the running loop).

    ``max_connections`` caps open connections (aiohttp's ``TCPConnector(limit=…)``); requests over it
    wait for a free connection, so give at least the number of requests in flight.

    ``read_timeouts`` (default true): every read waits at most ``settings.read_timeout`` seconds
    (``TimeoutError_``, 5). A caller that bounds each request's whole time by the same or a shorter
    timeout itself (``load run``'s per-request ``--timeout``) sets it false: the per-read timer it
    would never see fire is then not rescheduled on every read. The connect timeout stays.
    """

    read_timeouts: bool = True

    def __init__(self, settings: Settings, sink: EventSink | None = None, max_connections: int = 100) -> None:
        """A client for ``settings`` (timeouts in seconds, TLS files, headers, token, ``-L``, limits in
        bytes); wire events go to ``sink`` (``-v``). Raises ``UsageError`` (exit 2) at once when
        ``--cacert``/``--cert``/``--key`` cannot be loaded."""
        from a2actl.transport.tls import build_ssl_context

        self.settings = settings
        self.sink: EventSink = sink or NullSink()
        self.max_connections = max_connections
        self._ssl: ssl.SSLContext | None = None
        if settings.cacert or settings.cert:
            self._ssl = build_ssl_context(settings)  # report a bad file now
        self._session: aiohttp.ClientSession | None = None
        self._timeouts: dict[bool, aiohttp.ClientTimeout] = {}
        self._logs = not isinstance(self.sink, NullSink)
        # Lowercased names: one value per header whatever the case it was given in (-H wins).
        headers = {"user-agent": USER_AGENT, "accept-encoding": ACCEPT_ENCODING}
        for k, v in settings.headers:
            headers[k.lower()] = v
        if settings.token and "authorization" not in headers:
            headers["authorization"] = f"Bearer {settings.token}"
        self._base_headers = headers

    async def __aenter__(self) -> FastTransport:
        connector = aiohttp.TCPConnector(limit=self.max_connections, limit_per_host=0, ttl_dns_cache=300)
        self._timeouts = {
            True: aiohttp.ClientTimeout(
                total=None, sock_connect=self.settings.connect_timeout, sock_read=self.settings.read_timeout
            ),
            False: aiohttp.ClientTimeout(total=None, sock_connect=self.settings.connect_timeout),
        }
        # User-Agent and Accept-Encoding are always among ours (``_base_headers``), so aiohttp adds
        # neither; no Content-Type is invented for raw bytes or an empty POST (httpx sends none):
        # ``_SKIP_TYPE`` per request, only when ours has none (a session-wide skip list costs aiohttp
        # two header-dict copies on every request).
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=self._timeouts[True],
            auto_decompress=True,
            trust_env=False,
            max_line_size=_MAX_HEAD_LINE,
            max_field_size=_MAX_HEAD_LINE,
            **_HEADER_COUNT,
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _ssl_for(self, url: str) -> ssl.SSLContext | bool:
        """The TLS context for ``url``: a2actl's (``--cacert``, ``--insecure``, …) for ``https://``, and
        for ``http://`` under ``-L`` too, since a redirect may lead to ``https://`` (aiohttp's
        ``ssl=False`` would mean *no certificate checks* there). Plain HTTP without ``-L``: unused."""
        if not (url.startswith("https:") or self.settings.follow_redirects):
            return True
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
        hdrs = self._base_headers.copy()
        if headers:
            for k, v in headers.items():
                hdrs[k.lower()] = v
        if "@" in url and "authorization" in hdrs and _has_userinfo(url):
            # the URL's own credentials win, as on the httpx path (its BasicAuth replaces the header);
            # aiohttp refused the request ("Cannot combine AUTHORIZATION header with ... credentials
            # encoded in URL"): a fleet inventory's user:pw@ URL under a global token failed
            del hdrs["authorization"]
        traceparent = f"00-{self.settings.trace_id}-{_span_id()}-01"
        hdrs["traceparent"] = traceparent
        data = content
        if json_body is not None:
            data = dumps_body(json_body, url)  # orjson, and the one rule of every path
            if "content-type" not in hdrs:
                hdrs["content-type"] = "application/json"
        return hdrs, data, traceparent

    def _redirect_guard(self, url: str) -> tuple[aiohttp.ClientMiddlewareType] | None:
        """Under ``-L``, a one-request client middleware (aiohttp calls it for every hop, before
        sending): the first hop fixes the origin; a hop that leaves it goes without the secret headers
        (aiohttp itself drops only ``Authorization``, ``Cookie`` and ``Proxy-Authorization``), noted
        once on ``-v``; a redirect whose Location names a host no request can reach raises
        ``unfollowable_redirect`` naming ``url`` (exit 1), as the httpx path does. ``None`` without
        ``-L`` (no per-request cost)."""
        if not self.settings.follow_redirects:
            return None
        guard: RedirectGuard | None = None

        async def middleware(
            req: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
        ) -> aiohttp.ClientResponse:
            nonlocal guard
            hop = origin(req.url.scheme, req.url.host or "", req.url.port)
            if guard is None:
                guard = RedirectGuard(hop, secret_names(req.headers.items()), url=url)
            elif guard.check(hop):
                for name in secret_names(list(req.headers.items())):
                    req.headers.popall(name, None)
                note = guard.note(hop)
                if note and self._logs:
                    self.sink.on_note(note)
            resp = await handler(req)
            location = resp.headers.get("Location") if 300 <= resp.status < 400 else None
            problem = bad_redirect_host(str(resp.url), location) if location else None
            if problem is not None:
                # aiohttp would build the next hop and meet the bad host as a bare UnicodeError
                # (read as 'invalid URL <the URL asked for>', exit 2), as httpx's path did
                resp.release()
                raise unfollowable_redirect(url, *problem, hint=BAD_REDIRECT_HOST_HINT)
            return resp

        return (middleware,)

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
                skip_auto_headers=None if "content-type" in hdrs else _SKIP_TYPE,
                allow_redirects=self.settings.follow_redirects,
                max_redirects=HTTPX_MAX_REDIRECTS,  # the httpx path's limit: one loop, one message
                middlewares=self._redirect_guard(url),
                ssl=self._ssl_for(url),
                timeout=self._timeouts[self.read_timeouts],
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
        """Send one request (``json_body`` encoded by ``protocol.jsondoc.dumps_body``, or raw ``content`` bytes) and read the
        whole body, decoded from gzip/deflate, at most ``max_bytes`` decoded bytes (default
        ``settings.max_body_bytes``); ``HttpResult.wire_bytes`` is the body's size on the wire.

        Same contract as ``HttpTransport.request``: raises ``UnreachableError`` (3: DNS, refused, TLS,
        a reset), ``TimeoutError_`` (5), ``AuthError`` (4, on 401/403), ``HTTPStatusError`` (1, an
        unfollowed 3xx), ``ProtocolViolation`` (6: malformed HTTP, a body cut short or over the limit
        or declared over it, an unasked-for or undecodable coding), ``UsageError`` (2: bad URL, a
        ``json_body`` that cannot be written as JSON: ``dumps_body``); other statuses are returned."""
        limit = max_bytes if max_bytes is not None else self.settings.max_body_bytes
        hdrs, data, traceparent = self._prepare(url, json_body, content, headers)
        started = perf_counter()
        response = await self._send(method, url, hdrs, data)
        # Connect and TLS are not split here (see the module docstring): only first byte and total.
        timing = Timing(time_starttransfer=perf_counter() - started)
        complete = False
        try:
            coding = content_coding(response, url)
            declared = response.content_length
            if declared is not None and declared > limit:
                raise declared_over_limit(url, declared, limit, response.status)
            stream = response.content
            if declared is not None and coding is None:
                body = await response.read()  # exactly Content-Length bytes, under the limit
            else:
                closed = _until_close(response)
                buf = bytearray()
                async for chunk in stream.iter_chunked(_READ_CHUNK):
                    buf += chunk
                    if len(buf) > limit:
                        raise over_limit(url, limit, coding, _wire(stream, len(buf)), response.status)
                reset = _reset_error(closed)
                if reset is not None:
                    raise connection_lost(url, reset)
                body = bytes(buf)
            complete = True
        except A2ACtlError:
            raise
        except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as exc:
            raise map_aiohttp_error(exc, url, self.settings) from exc
        finally:
            if complete:
                response.release()
            else:
                response.close()  # an unread rest is not drained into a pooled connection
        timing.time_total = perf_counter() - started
        reason = response.reason or ""
        if self._logs:
            self.sink.on_response(
                response.status,
                reason,
                redact_headers(list(response.headers.items())),
                timing.time_total,
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
            timing,
            traceparent,
            _wire(stream, len(body)),
            coding,
        )

    async def open_stream(
        self, method: str, url: str, *, json_body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[AiohttpStream, Clock]:
        """Send a request and return the response unread (for SSE) as an ``AiohttpStream``; the caller
        must ``aclose()`` it. Raises like ``request`` for connection failures, 401/403, 3xx and an
        unasked-for coding; a cut while reading is ``StreamCut`` (6) from ``aiter_text``."""
        hdrs, data, traceparent = self._prepare(url, json_body, None, headers)
        clock = Clock()
        clock.traceparent = traceparent
        response = await self._send(method, url, hdrs, data)
        clock.headers_received()
        stream = AiohttpStream(response, url, self.settings)
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
        decoded and bounded like ``request`` (default ``settings.max_body_bytes``). Raises
        ``ProtocolViolation`` (6) over the limit and the mapped transport error (a reset mid-body is
        ``UnreachableError``, 3), saying how many bytes had arrived."""
        limit = max_bytes if max_bytes is not None else self.settings.max_body_bytes
        body = bytearray()
        try:
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > limit:
                    raise over_limit(
                        url, limit, content_coding(response, url), response.wire_bytes, response.status_code
                    )
        except A2ACtlError:
            raise
        except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as exc:
            err = map_aiohttp_error(exc, url, self.settings)
            err.message += f" (after {len(body):,} bytes of an HTTP {response.status_code} answer)"
            err.args = (err.message,)
            raise err from exc
        return bytes(body)


def _wire(stream: aiohttp.StreamReader, decoded: int) -> int:
    """Body bytes as they crossed the network (aiohttp >= 3.12 counts compressed bytes apart)."""
    raw = getattr(stream, "total_raw_bytes", None)
    return int(raw) if raw is not None else decoded


__all__ = ["AiohttpStream", "FastTransport", "map_aiohttp_error"]
