"""HTTP client construction and timed, bounded requests.

* Timeouts: ``connect_timeout`` and ``read_timeout`` (per read) go to ``httpx.Timeout``; ``max_time``
  bounds the whole operation and is applied by the caller (``a2actl.cli``) around the core coroutine.
* TLS: ``--cacert`` / ``--cert`` + ``--key`` (mTLS) / ``--insecure`` build one ``ssl.SSLContext`` per
  process and option set (``tls_context``), on the first ``https://`` request: loading the CA store
  costs ~50 ms of CPU, which a probe paid on every sample and plain-HTTP runs never need.
* Content codings: requests say ``Accept-Encoding: gzip, deflate`` and answers are decoded by httpx's
  own decoders; body limits count decoded bytes (a decompression bomb stops at the limit), and
  ``HttpResult.wire_bytes`` keeps what crossed the network.
* Every request carries the invocation's W3C ``traceparent`` (``00-<trace-id>-<span-id>-01``, a new
  span id per request) and, when a token is set, ``Authorization: Bearer …``.
* Timings (curl's names, cumulative seconds from the start of the request, see ``Timing``) come from
  name resolution done here (so it can be timed apart from TCP connect, as curl does) and, for
  ``http://``, from the connection itself (``a2actl.transport.netclock``: the kernel's handshake round
  trip, the ``send()`` instant, kernel receive timestamps), so a busy event loop (``handshake probe
  -c N``) is not charged to the network; for ``https://`` from the connection and stream events of
  httpx's request ``trace`` extension (taken when the waiting coroutine resumes).

httpx errors are mapped to the ``a2actl.core.errors`` tree: DNS, refused and TLS failures →
``UnreachableError`` (3), timeouts → ``TimeoutError_`` (5), 401/403 → ``AuthError`` (4), malformed
HTTP or an oversized body → ``ProtocolViolation`` (6).
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import json
import os
import secrets
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from a2actl import __version__
from a2actl.core.config import Settings
from a2actl.core.errors import (
    A2ACtlError,
    AuthError,
    HTTPStatusError,
    ProtocolViolation,
    TimeoutError_,
    UnreachableError,
    UsageError,
)
from a2actl.core.redact import redact_headers, redact_json, redact_text
from a2actl.core.sink import EventSink, NullSink
from a2actl.transport.netclock import TimedHTTPTransport, TimedStream

USER_AGENT = f"a2actl/{__version__}"
#: The content codings a2actl asks for and decodes (httpx's decoders). Set explicitly: httpx would
#: also offer br and zstd when those packages happen to be installed, whose bombs expand far more.
ACCEPT_ENCODING = "gzip, deflate"
_CODINGS = frozenset(c.strip() for c in ACCEPT_ENCODING.split(","))
#: TCP_NODELAY as curl sets it: h11 writes headers and body separately, and without it Nagle's
#: algorithm plus delayed ACKs add ~40 ms to every POST, which would be reported as agent latency.
_SOCKET_OPTIONS = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]


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
    ``content_encoding`` the coding it came in (``None`` for identity)."""

    status: int
    reason: str
    headers: httpx.Headers
    body: bytes
    url: str
    timing: Timing
    traceparent: str
    wire_bytes: int | None = None
    content_encoding: str | None = None

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
            snippet = self.body[:80].decode("utf-8", "replace")
            ctype = self.headers.get("content-type", "?")
            raise ProtocolViolation(
                f"{self.url} answered HTTP {self.status} with a body that is not JSON "
                f"(content-type {ctype}): {snippet!r}",
                hint="check the URL: is this the agent's endpoint?",
            ) from exc


def build_ssl_context(settings: Settings) -> ssl.SSLContext:
    """The TLS context for ``--cacert``, ``--cert``/``--key`` and ``--insecure``, built once per process
    and option set (see ``tls_context``). Costs ~50 ms of CPU the first time (the CA store).

    Raises ``UsageError`` when a certificate or key file cannot be loaded.
    """
    return tls_context(settings.cacert, settings.cert, settings.key, settings.insecure)


def _stamp(path: str | None) -> tuple[int, int] | None:
    """(mtime_ns, size) of a TLS file, so a file replaced in a long-lived process is loaded again."""
    try:
        st = os.stat(path) if path else None
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size) if st else None


def tls_context(cacert: str | None, cert: str | None, key: str | None, insecure: bool) -> ssl.SSLContext:
    """The shared ``ssl.SSLContext`` for one TLS option set (paths of the CA bundle, client certificate
    and key; ``insecure``: no verification). Every client of the process with the same options gets
    the same context, as httpx shares one per client: building it loads the CA store (~50 ms of CPU).

    Raises ``UsageError`` when a certificate or key file cannot be loaded.
    """
    return _tls_context(cacert, cert, key, insecure, (_stamp(cacert), _stamp(cert), _stamp(key)))


@functools.lru_cache(maxsize=8)
def _tls_context(
    cacert: str | None, cert: str | None, key: str | None, insecure: bool, _stamps: tuple[Any, ...]
) -> ssl.SSLContext:
    try:
        ctx = ssl.create_default_context(cafile=cacert) if cacert else ssl.create_default_context()
        if cert:
            ctx.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise UsageError(
            f"cannot load TLS files: {exc}", hint="check --cacert/--cert/--key paths and formats"
        ) from exc
    if insecure:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


@functools.lru_cache(maxsize=1)
def _plain_context() -> ssl.SSLContext:
    """A context for the plain-HTTP pool, which never does TLS (httpx wants one for every pool)."""
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


class _LazyTLSTransport(httpx.AsyncBaseTransport):
    """The ``https://`` pool of a client, created on its first request: a plain-HTTP run never builds
    a TLS context, and a TLS one builds it once per process (``tls_context``)."""

    def __init__(self, factory: Callable[[], httpx.AsyncBaseTransport]) -> None:
        self._factory = factory
        self._inner: httpx.AsyncBaseTransport | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._inner is None:
            self._inner = self._factory()
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        if self._inner is not None:
            await self._inner.aclose()


def _traceparent(trace_id: str) -> str:
    return f"00-{trace_id}-{secrets.token_hex(8)}-01"


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


def _refused(url: str) -> UnreachableError:
    return UnreachableError(
        f"connection to {url} refused", hint="is the agent running and listening on that port?"
    )


def _reason(exc: BaseException) -> str:
    """A non-empty description of ``exc``: its text, else its cause's, else its class name (a reset
    often comes as a ``ReadError`` with no text, which printed an empty "lost: ")."""
    cause: BaseException | None = exc
    while cause is not None:
        if str(cause):
            return str(cause)
        cause = cause.__cause__ or cause.__context__
    return type(exc).__name__


def map_httpx_error(exc: Exception, url: str, settings: Settings) -> A2ACtlError:
    """Translate an httpx/OS exception raised while talking to ``url`` into an ``A2ACtlError``."""
    if isinstance(exc, A2ACtlError):
        return exc
    if isinstance(exc, httpx.ConnectTimeout):
        return TimeoutError_(
            f"connect to {url} timed out after {settings.connect_timeout:g}s",
            hint="raise --connect-timeout, or check firewalls and the host",
        )
    if isinstance(exc, httpx.TimeoutException):
        return TimeoutError_(
            f"no answer from {url} within {settings.read_timeout:g}s (read timeout)",
            hint="the agent is slower than --timeout; raise it or look at the agent",
        )
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return UnreachableError(
                f"TLS handshake with {url} failed: {cause.verify_message or cause}",
                hint="pass the CA with --cacert FILE (or --insecure to skip checks)",
            )
        if isinstance(cause, ssl.SSLError):
            return UnreachableError(
                f"TLS handshake with {url} failed: {cause}",
                hint="is this an https URL on an http port, or is a client certificate needed (--cert/--key)?",
            )
        if isinstance(cause, ConnectionRefusedError):
            return _refused(url)
        cause = cause.__cause__ or cause.__context__
    if isinstance(exc, httpx.ConnectError):
        text = str(exc) or type(exc).__name__
        if "refused" in text.lower() or "errno 111" in text.lower():
            return _refused(url)
        return UnreachableError(f"cannot connect to {url}: {text}")
    if isinstance(exc, httpx.RemoteProtocolError):
        return ProtocolViolation(f"malformed HTTP from {url}: {exc}")
    if isinstance(exc, httpx.DecodingError):
        return ProtocolViolation(
            f"{url} sent a body that does not decode as its Content-Encoding says: {exc}",
            hint="a proxy or the agent mangles compressed answers",
        )
    if isinstance(exc, (httpx.ReadError, httpx.WriteError)):
        return UnreachableError(
            f"connection to {url} lost: {str(exc) or _reason(exc)}",
            hint="the agent or a proxy reset the connection; retry, then check the agent",
        )
    if isinstance(exc, httpx.UnsupportedProtocol):
        return UsageError(f"unsupported URL {url!r}: {exc}", hint="use an http:// or https:// URL")
    if isinstance(exc, httpx.InvalidURL):
        return UsageError(f"invalid URL {url!r}: {exc}")
    return A2ACtlError(f"request to {url} failed: {type(exc).__name__}: {exc}")


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
        """``http_transport`` replaces the network for every scheme (tests pass an
        ``httpx.MockTransport``); by default, one pool for ``http://`` and a lazily built one for
        ``https://``."""
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
            transport=http_transport or TimedHTTPTransport(socket_options=_SOCKET_OPTIONS),
            mounts=None if http_transport else {"https://": _LazyTLSTransport(tls_pool)},
            timeout=httpx.Timeout(settings.read_timeout, connect=settings.connect_timeout),
            follow_redirects=settings.follow_redirects,
            trust_env=False,
            headers={"User-Agent": USER_AGENT, "Accept-Encoding": ACCEPT_ENCODING},
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
            raise UnreachableError(
                f"DNS lookup for {host!r} failed: {exc.strerror or exc}",
                hint="check the host name and the resolver",
            ) from exc
        addr = str(infos[0][4][0])
        self._dns_cache[(host, port)] = addr
        return addr, time.perf_counter() - t0

    async def _prepare(
        self, method: str, url: str, json_body: Any, content: bytes | None, headers: dict[str, str] | None
    ) -> tuple[httpx.Request, _Clock]:
        """Resolve, build and announce a request; the clock collects trace marks."""
        try:
            parsed = httpx.URL(url)
        except Exception as exc:  # noqa: BLE001 - httpx raises several types for bad URLs
            raise UsageError(f"invalid URL {url!r}: {exc}") from exc
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise UsageError(f"unsupported URL {url!r}", hint="use an http:// or https:// URL")
        host = parsed.host
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        hdrs = self.base_headers(headers)
        traceparent = _traceparent(self.settings.trace_id)
        hdrs["traceparent"] = traceparent
        # Build (and log) the request before the clock starts, as curl's clock starts in
        # curl_easy_perform after the options are set: building is not the agent's time.
        request = self.client.build_request(method, parsed, json=json_body, content=content, headers=hdrs)
        if self._logs:
            self.sink.on_request(method, url, redact_headers(list(request.headers.items())))
        if request.content and self.sink.wants_bodies:
            self.sink.on_body(">", self.redact_body(request.content))
        clock = _Clock()
        clock.traceparent = traceparent
        request.extensions["trace"] = clock.trace
        ip, dns_s = await self._resolve(host, port)
        clock.timing.time_namelookup = dns_s
        clock.timing.remote_ip = ip
        if ip != host:
            # Connect to the address resolved above (curl --resolve style); Host (set from the name
            # at build time) and SNI keep the name.
            request.url = parsed.copy_with(host=ip)
            if parsed.scheme == "https":
                request.extensions["sni_hostname"] = host
        return request, clock

    def redact_body(self, body: bytes) -> bytes:
        """Body for the event sink: known secrets masked, and in JSON bodies the values of
        credential-like keys (``sessionToken``, ``access_token``, ...) masked too."""
        text = body.decode("utf-8", "replace")
        if len(body) <= 1024 * 1024 and text.lstrip()[:1] in ("{", "["):
            try:
                text = json.dumps(redact_json(json.loads(text)), separators=(",", ":"))
            except (ValueError, RecursionError):  # not JSON, or nested too deep to walk: text-level only
                pass
        return redact_text(text, self.settings.secrets()).encode()

    def _check_redirect(self, response: httpx.Response, url: str) -> None:
        """A 3xx that was not followed (no ``-L``) is reported, never read as the answer: a redirect's
        body may look like a card. Raises ``HTTPStatusError`` (exit 1)."""
        if 300 <= response.status_code < 400 and not self.settings.follow_redirects:
            location = response.headers.get("location") or "(no Location header)"
            raise HTTPStatusError(
                f"{url} answered HTTP {response.status_code} {response.reason_phrase}: "
                f"redirected to {location}",
                hint="pass -L to follow redirects (as curl -L), or use the redirect's URL",
                details={"httpStatus": response.status_code, "location": location},
            )

    def _check_auth(self, response: httpx.Response, url: str) -> None:
        if response.status_code in (401, 403):
            challenge = response.headers.get("www-authenticate")
            raise AuthError(
                f"{url} answered HTTP {response.status_code} {response.reason_phrase}"
                + (f" (WWW-Authenticate: {challenge})" if challenge else ""),
                hint="set a token with A2ACTL_TOKEN, --token-env NAME or --token-file PATH"
                if not self.settings.token
                else "the token was sent and refused: check its scope and expiry",
            )

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
        decode), ``UsageError`` (bad URL, unreadable TLS files). Other statuses are returned.
        """
        limit = max_bytes if max_bytes is not None else self.settings.max_body_bytes
        request, clock = await self._prepare(method, url, json_body, content, headers)
        body = bytearray()
        try:
            response = await self.client.send(request, stream=True)
            clock.attach(response.extensions.get("network_stream"))
            try:
                coding = _content_coding(response, url)
                declared = response.headers.get("content-length")
                if declared and declared.isdigit() and int(declared) > limit:
                    raise ProtocolViolation(
                        f"{url} declares a {int(declared):,}-byte body, over the {limit:,}-byte limit",
                        hint="a body this large is a misconfiguration or an attack",
                    )
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > limit:
                        raise _over_limit(url, limit, coding, response.num_bytes_downloaded)
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
                    raise _over_limit(
                        url, limit, _content_coding(response, url), response.num_bytes_downloaded
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
    ) -> tuple[httpx.Response, _Clock]:
        """Send a request and return the response unread (for SSE); the caller must ``aclose()`` it.

        Raises like ``request`` for connection failures and 401/403.
        """
        request, clock = await self._prepare(method, url, json_body, None, headers)
        try:
            response = await self.client.send(request, stream=True)
        except Exception as exc:  # noqa: BLE001 - mapped to the a2actl tree
            raise map_httpx_error(exc, url, self.settings) from exc
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
            _content_coding(response, url)
            self._check_auth(response, url)
            self._check_redirect(response, url)
        except A2ACtlError:
            await response.aclose()
            raise
        return response, clock


def _content_coding(response: httpx.Response, url: str) -> str | None:
    """The one content coding of ``response`` that httpx will decode (``None``: identity).

    Raises ``ProtocolViolation`` for a coding a2actl did not ask for, or for stacked codings
    (``gzip, gzip``): each layer multiplies a bomb's expansion before any limit can be checked.
    """
    value: str | None = response.headers.get("content-encoding")
    if not value:
        return None
    codings = [c.strip().lower() for c in value.split(",") if c.strip() and c.strip().lower() != "identity"]
    if not codings:
        return None
    if len(codings) > 1 or codings[0] not in _CODINGS:
        raise ProtocolViolation(
            f"{url} answered with Content-Encoding {value!r}; a2actl asked for "
            f"{ACCEPT_ENCODING} (one coding)",
            hint="a proxy or the agent ignores Accept-Encoding",
        )
    return codings[0]


def _over_limit(url: str, limit: int, coding: str | None, wire: int) -> ProtocolViolation:
    if coding is None:
        return ProtocolViolation(
            f"{url} sent more than {limit:,} bytes; stopped reading",
            hint="a body this large is a misconfiguration or an attack",
        )
    return ProtocolViolation(
        f"{url} sent a {coding} body that decodes to more than {limit:,} bytes "
        f"({wire:,} bytes on the wire so far); stopped reading",
        hint="a compressed body this large is a misconfiguration or a decompression bomb",
    )


class _Clock:
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
        self.headers_received()
        st = self.stream
        if st is not None and st.rx_last is not None and st.tx is not None:
            self.timing.time_total = max(self.timing.time_starttransfer, st.rx_last - self.origin())
        else:
            self.timing.time_total = self.elapsed()
