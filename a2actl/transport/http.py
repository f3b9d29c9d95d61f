"""HTTP client construction and timed, bounded requests (``HttpTransport``).

* Timeouts: ``connect_timeout`` and ``read_timeout`` (per read, seconds) go to ``httpx.Timeout``;
  ``max_time`` bounds the whole operation and is applied by the caller (``a2actl.cli``) around the
  core coroutine.
* TLS: one ``ssl.SSLContext`` per process and option set, built on the first ``https://`` request
  (``a2actl.transport.tls``).
* Content codings: requests say ``Accept-Encoding: gzip, deflate`` and answers are decoded by httpx's
  own decoders; body limits count decoded bytes (a decompression bomb stops at the limit), and
  ``HttpResult.wire_bytes`` keeps what crossed the network (``a2actl.transport.failures``).
* Redirects are not followed unless ``-L`` (``Settings.follow_redirects``): a 3xx is reported as
  ``HTTPStatusError`` (exit 1), never read as the answer. Under ``-L`` a hop to another origin goes
  without ``Authorization`` and every header the redactor treats as a secret (``X-API-Key``, …),
  noted once on ``-v`` (``a2actl.transport.redirects``; a request event hook, so every hop is seen).
* The name is resolved here and the connection pinned to that address (``_PinnedTransport``) while
  ``request.url`` keeps the name, so httpx's redirect logic (origins, ``Host``) sees the URL given.
* Every request carries the invocation's W3C ``traceparent`` (``00-<trace-id>-<span-id>-01``, a new
  span id per request) and, when a token is set, ``Authorization: Bearer …``.
* Timings (curl's names, cumulative seconds from the start of the request, ``a2actl.transport.timing``)
  start at name resolution, done here so it can be timed apart from TCP connect, as curl does.
* Tests inject the network: ``HttpTransport(settings, sink, http_transport=httpx.MockTransport(h))``.

httpx errors are mapped to the ``a2actl.core.errors`` tree (``a2actl.transport.failures``): DNS,
refused and TLS failures → ``UnreachableError`` (3), timeouts → ``TimeoutError_`` (5), 401/403 →
``AuthError`` (4), malformed HTTP or an oversized body → ``ProtocolViolation`` (6).

``Timing``, ``HttpResult`` and ``Clock`` live in ``a2actl.transport.timing``; ``tls_context`` and
``build_ssl_context`` in ``a2actl.transport.tls``; ``map_httpx_error`` and ``ACCEPT_ENCODING`` in
``a2actl.transport.failures``: import them from there.
"""

from __future__ import annotations

import asyncio
import ipaddress
import secrets
import socket
import time
from typing import Any

import httpx

from a2actl import __version__
from a2actl.core.config import Settings
from a2actl.core.errors import (
    A2ACtlError,
    UsageError,
)
from a2actl.core.redact import redact_body, redact_headers
from a2actl.core.sink import EventSink, NullSink
from a2actl.protocol.jsondoc import dumps_body
from a2actl.transport.failures import (
    ACCEPT_ENCODING,
    BAD_REDIRECT_HOST_HINT,
    check_auth,
    check_redirect,
    content_coding,
    declared_over_limit,
    dns_failed,
    map_httpx_error,
    over_limit,
    unfollowable_redirect,
)
from a2actl.transport.netclock import TimedHTTPTransport
from a2actl.transport.redirects import GUARD_EXTENSION, RedirectGuard, bad_redirect_host, origin, secret_names
from a2actl.transport.timing import Clock, HttpResult
from a2actl.transport.tls import LazyTLSTransport, build_ssl_context

USER_AGENT = f"a2actl/{__version__}"
#: TCP_NODELAY as curl sets it: h11 writes headers and body separately, and without it Nagle's
#: algorithm plus delayed ACKs add ~40 ms to every POST, which would be reported as agent latency.
_SOCKET_OPTIONS = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]


def basic_authorization(username: str, password: str) -> str:
    """The ``Authorization`` value httpx builds from a URL's (decoded) userinfo: ``Basic`` and the
    base64 of ``user:password`` in UTF-8."""
    import base64

    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode("ascii")


def _traceparent(trace_id: str) -> str:
    """A W3C Trace Context ``traceparent`` for the run's trace id with a fresh span id."""
    return f"00-{trace_id}-{secrets.token_hex(8)}-01"


#: Request extensions of ours (httpcore ignores names it does not know; httpx copies them to every
#: redirect hop): the address a name was resolved to, and the chain's ``RedirectGuard``.
_PIN = "a2actl.pin"
_GUARD = GUARD_EXTENSION


class _PinnedTransport(httpx.AsyncBaseTransport):
    """Connects a request for the resolved name (``_PIN``: scheme, host, port, address) to that
    address, as curl's ``--resolve``: the URL is swapped only for the call to the pool (and SNI set
    to the name for ``https``), so ``Host``, httpx's redirect decisions and ``response.request.url``
    keep the name. A hop to another name (``-L``) is resolved by the pool itself."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        pin = request.extensions.get(_PIN)
        url = request.url
        if pin is None or origin(url.scheme, url.host, url.port) != pin[:3]:
            return await self.inner.handle_async_request(request)
        request.url = url.copy_with(host=pin[3])
        sni = url.scheme == "https" and "sni_hostname" not in request.extensions
        if sni:
            request.extensions["sni_hostname"] = url.host
        try:
            return await self.inner.handle_async_request(request)
        finally:
            request.url = url
            if sni:
                del request.extensions["sni_hostname"]

    async def aclose(self) -> None:
        await self.inner.aclose()


def _is_ip(host: str) -> bool:
    """Whether ``host`` is an IP literal (no name lookup needed)."""
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


def _bad_redirect_host(response: httpx.Response) -> tuple[str, str] | None:
    """``(location, why)`` when ``response`` (a redirect followed under ``-L``) names an http(s) URL
    whose host no request can reach (``redirects.bad_redirect_host``), else ``None``."""
    location = response.headers.get("location")
    return bad_redirect_host(str(response.url), location) if location else None


class HttpTransport:
    """One pooled ``httpx.AsyncClient`` with the invocation's settings. Use as an async context manager.

    A new ``HttpTransport`` means new connections: ``handshake probe`` creates one per sample unless
    ``--reuse``. Creating one is cheap (~0.1 ms): the TLS context is shared by the process and only
    built for ``https://`` (``tls_context``), except that files named by ``--cacert``/``--cert`` are
    loaded at once, so a bad one is a ``UsageError`` before any request.
    """

    def __init__(
        self,
        settings: Settings,
        sink: EventSink | None = None,
        http_transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        """A client for ``settings`` (timeouts, TLS files, headers, token, ``-L``); wire events go to
        ``sink`` (``-v``; default a ``NullSink``).

        ``http_transport`` is the injectable network: when given, it serves every scheme (tests pass
        ``httpx.MockTransport(handler)``; name resolution is still done here, so use IP literals such
        as ``127.0.0.1``); by default, one timed pool for ``http://`` (``netclock.TimedHTTPTransport``)
        and a lazily built TLS pool for ``https://``. Everything else (timings, limits, redirects,
        error mapping) runs the same either way.

        Raises ``UsageError`` (exit 2) at once when ``--cacert``/``--cert``/``--key`` cannot be loaded.
        """
        self.settings = settings
        self.sink: EventSink = sink or NullSink()
        self._dns_cache: dict[tuple[str, int], str] = {}
        if settings.cacert or settings.cert:
            build_ssl_context(settings)  # files the operator named: report a bad one now (cached)

        def tls_pool() -> httpx.AsyncBaseTransport:
            return httpx.AsyncHTTPTransport(
                verify=build_ssl_context(settings), socket_options=_SOCKET_OPTIONS
            )

        self.client = httpx.AsyncClient(
            transport=_PinnedTransport(http_transport or TimedHTTPTransport(socket_options=_SOCKET_OPTIONS)),
            mounts=None if http_transport else {"https://": _PinnedTransport(LazyTLSTransport(tls_pool))},
            timeout=httpx.Timeout(settings.read_timeout, connect=settings.connect_timeout),
            follow_redirects=settings.follow_redirects,
            trust_env=False,
            headers={"User-Agent": USER_AGENT, "Accept-Encoding": ACCEPT_ENCODING},
            event_hooks={"request": [self._guard_redirect], "response": [self._note_redirect]}
            if settings.follow_redirects
            else None,
        )

    async def _guard_redirect(self, request: httpx.Request) -> None:
        """Request event hook (``-L`` only; httpx calls it for every hop, before sending, and builds
        each hop's headers from the previous hop's): a hop that leaves the origin loses every secret
        header, noted once on ``-v``."""
        guard: RedirectGuard | None = request.extensions.get(_GUARD)
        url = request.url
        hop = origin(url.scheme, url.host, url.port)
        if guard is None or not guard.check(hop):
            return
        for name in secret_names(list(request.headers.items())):
            del request.headers[name]
        note = guard.note(hop)
        if note and self._logs:
            self.sink.on_note(note)

    async def _note_redirect(self, response: httpx.Response) -> None:
        """Response event hook (``-L`` only; httpx calls it for every hop's answer): a redirect's
        status is kept on the chain's ``RedirectGuard``, for the error of a chain that never ends
        (``failures.redirect_loop``)."""
        if response.is_redirect:
            guard: RedirectGuard | None = response.request.extensions.get(_GUARD)
            if guard is not None:
                guard.answered(response.status_code)
                problem = _bad_redirect_host(response)
                if problem is not None:
                    # httpx would build the hop and its connect meet the bad host as a bare
                    # UnicodeError / IDNAError: exit 1 "request to … failed: UnicodeError"
                    raise unfollowable_redirect(
                        guard.url or str(response.request.url), *problem, hint=BAD_REDIRECT_HOST_HINT
                    )

    @property
    def _logs(self) -> bool:
        """Whether the sink shows wire events: quiet runs skip redacting headers for nobody."""
        return not isinstance(self.sink, NullSink)

    async def __aenter__(self) -> HttpTransport:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.client.aclose()

    def base_headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        """``-H`` headers, the bearer token and per-call ``extra`` headers (extra wins)."""
        headers: dict[str, str] = {}
        for k, v in self.settings.headers:
            headers[k] = v
        if self.settings.token and not any(k.lower() == "authorization" for k in headers):
            headers["Authorization"] = f"Bearer {self.settings.token}"
        if extra:
            headers.update(extra)
        return headers

    async def _resolve(self, host: str, port: int) -> tuple[str, float]:
        """Resolve ``host`` to one address (seconds spent), once per transport: a new transport (a new
        probe sample) resolves again, as a new curl process does. IP literals cost nothing."""
        if _is_ip(host):
            return host, 0.0
        if (host, port) in self._dns_cache:
            return self._dns_cache[(host, port)], 0.0
        t0 = time.perf_counter()
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise dns_failed(host, exc.strerror or exc) from exc
        except UnicodeError as exc:  # no IDNA form (an empty or over-long label): no query is possible
            raise dns_failed(host, "not a host name (an empty label or one over 63 characters)") from exc
        addr = str(infos[0][4][0])
        self._dns_cache[(host, port)] = addr
        return addr, time.perf_counter() - t0

    async def _prepare(
        self, method: str, url: str, json_body: Any, content: bytes | None, headers: dict[str, str] | None
    ) -> tuple[httpx.Request, Clock]:
        """Resolve, build and announce a request; the clock collects trace marks."""
        try:
            parsed = httpx.URL(url)
            host = parsed.host  # an xn-- label that is not Punycode raises idna's IDNAError here
        except Exception as exc:  # noqa: BLE001 - httpx raises several types for bad URLs
            raise UsageError(f"invalid URL {url!r}: {exc}") from exc
        if parsed.scheme not in ("http", "https") or not host:
            raise UsageError(f"unsupported URL {url!r}", hint="use an http:// or https:// URL")
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        hdrs = self.base_headers(headers)
        if parsed.username or parsed.password:
            # httpx sends a URL's userinfo as Basic, in place of any Authorization (the token, -H):
            # put that header in the request itself, so the -v log shows what goes out
            hdrs = {k: v for k, v in hdrs.items() if k.lower() != "authorization"}
            hdrs["Authorization"] = basic_authorization(parsed.username, parsed.password)
        traceparent = _traceparent(self.settings.trace_id)
        hdrs["traceparent"] = traceparent
        # Build (and log) the request before the clock starts, as curl's clock starts in
        # curl_easy_perform after the options are set: building is not the agent's time.
        if json_body is not None:
            # not httpx's json=: its encoder (the stdlib's) refuses lone surrogates (exit 1) where the
            # aiohttp path wrote them; one encoder, one rule on every path (dumps_body)
            content = dumps_body(json_body, url)
        request = self.client.build_request(method, parsed, content=content, headers=hdrs)
        if json_body is not None and "content-type" not in request.headers:
            request.headers["Content-Type"] = "application/json"  # after Content-Length, as json= put it
        if self._logs:
            self.sink.on_request(method, url, redact_headers(list(request.headers.items())))
        if request.content and self.sink.wants_bodies:
            self.sink.on_body(">", self.redact_body(request.content))
        clock = Clock()
        clock.traceparent = traceparent
        request.extensions["trace"] = clock.trace
        if self.settings.follow_redirects:
            request.extensions[_GUARD] = RedirectGuard(
                origin(parsed.scheme, host, port), secret_names(hdrs.items()), url=url
            )
        ip, dns_s = await self._resolve(host, port)
        clock.timing.time_namelookup = dns_s
        clock.timing.remote_ip = ip
        if ip != host:
            # Connect to the address resolved above (curl --resolve style, ``_PinnedTransport``);
            # the URL, Host and SNI keep the name.
            request.extensions[_PIN] = (*origin(parsed.scheme, host, port), ip)
        return request, clock

    def redact_body(self, body: bytes) -> bytes:
        """Body for the event sink: known secrets masked, and in JSON bodies the values of
        credential-like keys (``sessionToken``, ``access_token``, ...) masked too."""
        return redact_body(body, self.settings.secrets())

    def _check_redirect(self, response: httpx.Response, url: str) -> None:
        check_redirect(response.status_code, response.reason_phrase, response.headers, url, self.settings)

    def _check_auth(self, response: httpx.Response, url: str) -> None:
        check_auth(response.status_code, response.reason_phrase, response.headers, url, self.settings)

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
        """Send one request and read the whole body, decoded from its content coding (gzip, deflate),
        with curl-style timings. At most ``max_bytes`` decoded bytes are read (default
        ``settings.max_body_bytes``), so a decompression bomb stops at the limit; memory stays under
        the limit plus one decoded network read (64 KiB on the wire, at most ~64 MiB of deflate).

        Raises ``UnreachableError``, ``TimeoutError_``, ``AuthError`` (401/403), ``ProtocolViolation``
        (malformed HTTP, body over the limit, a content coding that was not asked for or does not
        decode), ``UsageError`` (bad URL, unreadable TLS files, a ``json_body`` that cannot be
        written as JSON: ``protocol.jsondoc.dumps_body``, the encoder of every path). Other statuses
        are returned.
        """
        limit = max_bytes if max_bytes is not None else self.settings.max_body_bytes
        request, clock = await self._prepare(method, url, json_body, content, headers)
        body = bytearray()
        try:
            response = await self.client.send(request, stream=True)
            clock.attach(response.extensions.get("network_stream"))
            try:
                coding = content_coding(response, url)
                declared = response.headers.get("content-length")
                if declared and declared.isdigit() and int(declared) > limit:
                    raise declared_over_limit(url, int(declared), limit, response.status_code)
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > limit:
                        raise over_limit(
                            url, limit, coding, response.num_bytes_downloaded, response.status_code
                        )
            finally:
                await response.aclose()
        except A2ACtlError:
            raise
        except Exception as exc:  # noqa: BLE001 - mapped to the a2actl tree
            raise map_httpx_error(exc, url, self.settings) from exc
        clock.finish()
        if self._logs:
            self.sink.on_response(
                response.status_code,
                response.reason_phrase,
                redact_headers(list(response.headers.items())),
                clock.timing.time_total,
            )
        if body and self.sink.wants_bodies:
            self.sink.on_body("<", self.redact_body(bytes(body)))
        self._check_auth(response, url)
        self._check_redirect(response, url)
        return HttpResult(
            response.status_code,
            response.reason_phrase,
            response.headers,
            bytes(body),
            url,
            clock.timing,
            clock.traceparent,
            response.num_bytes_downloaded,
            coding,
            str(response.url) if response.history else None,
        )

    async def read_rest(self, response: httpx.Response, url: str, max_bytes: int | None = None) -> bytes:
        """Read what is left of an ``open_stream`` response that turned out not to be a stream (a JSON
        error answer), decoded and bounded like ``request`` (default ``settings.max_body_bytes``).

        Raises ``ProtocolViolation`` over the limit and the mapped transport error (a reset mid-body is
        ``UnreachableError``, saying how much had arrived)."""
        limit = max_bytes if max_bytes is not None else self.settings.max_body_bytes
        body = bytearray()
        try:
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > limit:
                    raise over_limit(
                        url,
                        limit,
                        content_coding(response, url),
                        response.num_bytes_downloaded,
                        response.status_code,
                    )
        except A2ACtlError:
            raise
        except Exception as exc:  # noqa: BLE001 - mapped to the a2actl tree
            err = map_httpx_error(exc, url, self.settings)
            err.message += f" (after {len(body):,} bytes of an HTTP {response.status_code} answer)"
            raise err from exc
        return bytes(body)

    async def open_stream(
        self, method: str, url: str, *, json_body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[httpx.Response, Clock]:
        """Send a request and return the response unread (for SSE); the caller must ``aclose()`` it.
        Its text (``aiter_text``) is decoded as an event stream is (WHATWG HTML §9.2.5): UTF-8
        whatever the ``charset`` says, one leading byte order mark dropped (httpx kept it, so the
        first line read ``\ufeffdata: …``, a field no one knows, and the first event was lost).

        Raises like ``request`` for connection failures and 401/403.
        """
        request, clock = await self._prepare(method, url, json_body, None, headers)
        try:
            response = await self.client.send(request, stream=True)
        except Exception as exc:  # noqa: BLE001 - mapped to the a2actl tree
            raise map_httpx_error(exc, url, self.settings) from exc
        response.encoding = "utf-8-sig"  # SSE is always UTF-8, a leading BOM dropped
        clock.attach(response.extensions.get("network_stream"))
        clock.headers_received()
        if self._logs:
            self.sink.on_response(
                response.status_code,
                response.reason_phrase,
                redact_headers(list(response.headers.items())),
                clock.elapsed(),
            )
        try:
            content_coding(response, url)
            self._check_auth(response, url)
            self._check_redirect(response, url)
        except A2ACtlError:
            await response.aclose()
            raise
        return response, clock


__all__ = ["USER_AGENT", "HttpTransport"]
