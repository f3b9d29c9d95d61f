"""How an HTTP exchange fails: httpx and OS exceptions mapped to the ``a2actl.core.errors`` tree
(with exit codes, ``docs/exit-codes.md``), and the checks on an answer's content coding and size.

DNS, refused and TLS failures → ``UnreachableError`` (3), timeouts → ``TimeoutError_`` (5), malformed
HTTP, an undecodable or unasked-for content coding, or an oversized body → ``ProtocolViolation`` (6),
a bad URL → ``UsageError`` (2).
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from typing import Any

import httpx

from a2actl.core.config import Settings
from a2actl.core.errors import (
    A2ACtlError,
    AuthError,
    BodyTooLarge,
    HTTPStatusError,
    ProtocolViolation,
    TimeoutError_,
    UnreachableError,
    UsageError,
)
from a2actl.core.tlsfiles import tls_failed  # shared with amqps:// (a2actl.dlq.store.amqp)
from a2actl.transport.redirects import GUARD_EXTENSION, RedirectGuard

#: The content codings a2actl asks for and decodes (httpx's decoders). Set explicitly: httpx would
#: also offer br and zstd when those packages happen to be installed, whose bombs expand far more.
ACCEPT_ENCODING = "gzip, deflate"
_CODINGS = frozenset(c.strip() for c in ACCEPT_ENCODING.split(","))


# The failures both transports report (httpx here, aiohttp in transport/fast.py), built in one
# place so the same failure reads the same whichever client met it.


def refused(url: str) -> UnreachableError:
    """A refused connect (exit 3)."""
    return UnreachableError(
        f"connection to {url} refused", hint="is the agent running and listening on that port?"
    )


def dns_failed(host: str, reason: object) -> UnreachableError:
    """A failed name lookup for ``host`` (exit 3)."""
    return UnreachableError(
        f"DNS lookup for {host!r} failed: {reason}", hint="check the host name and the resolver"
    )


def connection_lost(url: str, reason: object) -> UnreachableError:
    """A connection reset or lost while talking to ``url`` (exit 3)."""
    return UnreachableError(
        f"connection to {url} lost: {reason}",
        hint="the agent or a proxy reset the connection; retry, then check the agent",
    )


def unfollowable_redirect(
    url: str,
    location: str,
    reason: object,
    *,
    follows: str = "http:// and https://",
    hint: str | None = None,
) -> HTTPStatusError:
    """Under ``-L``, ``url`` answered a redirect to ``location``, a URL of a scheme a2actl does not
    follow there (``follows``: the schemes it does), or whose host no request can reach (``hint``
    says so then): the agent's HTTP answer (exit 1, as an unfollowed 3xx), not a bad command line;
    the request had gone out."""
    from a2actl.core.redact import register_url

    register_url(location)  # a Location may carry userinfo a2actl was never given
    return HTTPStatusError(
        f"{url} redirected to {location}, which a2actl cannot follow: {reason}",
        hint=hint or f"only {follows} redirects are followed",
    )


#: The hint of a redirect to a host no request can reach (``unfollowable_redirect``).
BAD_REDIRECT_HOST_HINT = "the agent's Location names a host that cannot exist; use the final URL without -L"


def redirect_loop(url: str, limit: int, status: int | None) -> HTTPStatusError:
    """Under ``-L``, ``url`` redirected more than ``limit`` times (a loop, or a chain too long to be
    anything else): the agent's HTTP answer (exit 1, as an unfollowed 3xx), ``details.httpStatus``
    the last redirect's status (``status``; a 3xx). A configuration error of the agent, which no
    retry fixes: ``dlq replay`` leaves the entry dead as permanent, as for an unfollowed 3xx."""
    return HTTPStatusError(
        f"{url} redirected more than {limit} times",
        hint="a redirect loop; use the final URL without -L",
        details={"httpStatus": status} if status is not None else None,
    )


def connect_timed_out(url: str, settings: Settings) -> TimeoutError_:
    """``--connect-timeout`` passed (exit 5)."""
    return TimeoutError_(
        f"connect to {url} timed out after {settings.connect_timeout:g}s",
        hint="raise --connect-timeout, or check firewalls and the host",
    )


def read_timed_out(url: str, settings: Settings) -> TimeoutError_:
    """``--timeout`` (per read) passed (exit 5)."""
    return TimeoutError_(
        f"no answer from {url} within {settings.read_timeout:g}s (read timeout)",
        hint="the agent is slower than --timeout; raise it or look at the agent",
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


#: Why a request got nothing back: the connection closed before any byte of an answer (both clients).
CLOSED_WITHOUT_ANSWER = "the server closed the connection without an answer"


#: How many redirects httpx follows under ``-L`` before it gives up (its default ``max_redirects``).
HTTPX_MAX_REDIRECTS = 20


def _redirected_to(exc: Exception, url: str, settings: Settings) -> str | None:
    """Under ``-L``, the URL of the redirect whose request ``exc`` failed (``None`` when it was the
    request to ``url`` itself): the error must name the host that refused, not the one that
    redirected there."""
    if not settings.follow_redirects or not isinstance(exc, httpx.RequestError):
        return None
    try:
        actual = exc.request.url
        if actual == httpx.URL(url):
            return None
    except (RuntimeError, httpx.InvalidURL, TypeError):
        return None
    from a2actl.core.redact import register_url

    register_url(str(actual))  # a Location may carry userinfo a2actl was never given
    return str(actual)


def _last_redirect_status(exc: httpx.TooManyRedirects) -> int | None:
    """The status of the last redirect of the chain ``exc`` ended: ``HttpTransport`` keeps it on the
    chain's ``RedirectGuard`` (``redirects.GUARD_EXTENSION``, copied by httpx to every hop's
    request); ``None`` without one."""
    try:
        guard = exc.request.extensions.get(GUARD_EXTENSION)
    except RuntimeError:  # no request attached
        return None
    return guard.status if isinstance(guard, RedirectGuard) else None


def map_httpx_error(exc: Exception, url: str, settings: Settings) -> A2ACtlError:
    """Translate an httpx/OS exception raised while talking to ``url`` into an ``A2ACtlError``.
    Under ``-L``, a failure of a redirect's request names that URL and the one that redirected
    there; a redirect to a scheme a2actl does not speak, or a redirect loop (``redirect_loop``:
    ``details.httpStatus`` the last redirect's 3xx), is the agent's HTTP answer (exit 1, as an
    unfollowed 3xx), not a bad command line."""
    if isinstance(exc, A2ACtlError):
        return exc
    if isinstance(exc, httpx.TooManyRedirects):
        return redirect_loop(url, HTTPX_MAX_REDIRECTS, _last_redirect_status(exc))
    redirected = _redirected_to(exc, url, settings)
    if redirected is not None:
        if isinstance(exc, (httpx.UnsupportedProtocol, httpx.InvalidURL)):
            return unfollowable_redirect(url, redirected, exc)
        url = f"{redirected} (redirected from {url})"
    if isinstance(exc, httpx.ConnectTimeout):
        return connect_timed_out(url, settings)
    if isinstance(exc, httpx.TimeoutException):
        return read_timed_out(url, settings)
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return tls_failed(url, cause.verify_message or cause, verify=True)
        if isinstance(cause, ssl.SSLError):
            return tls_failed(url, cause, verify=False)
        if isinstance(cause, ConnectionRefusedError):
            return refused(url)
        cause = cause.__cause__ or cause.__context__
    if isinstance(exc, httpx.ConnectError):
        text = str(exc) or type(exc).__name__
        if "refused" in text.lower() or "errno 111" in text.lower():
            return refused(url)
        return UnreachableError(f"cannot connect to {url}: {text}")
    if isinstance(exc, httpx.RemoteProtocolError):
        if "without sending a response" in str(exc):
            # h11 met the close before any byte of an answer: the words aiohttp's path uses
            # (transport/fast.py), so the same agent reads the same on every command
            return ProtocolViolation(f"malformed HTTP from {url}: {CLOSED_WITHOUT_ANSWER}")
        return ProtocolViolation(f"malformed HTTP from {url}: {exc}")
    if isinstance(exc, httpx.DecodingError):
        return ProtocolViolation(
            f"{url} sent a body that does not decode as its Content-Encoding says: {exc}",
            hint="a proxy or the agent mangles compressed answers",
        )
    if isinstance(exc, (httpx.ReadError, httpx.WriteError)):
        return connection_lost(url, str(exc) or _reason(exc))
    if isinstance(exc, httpx.UnsupportedProtocol):
        return UsageError(f"unsupported URL {url!r}: {exc}", hint="use an http:// or https:// URL")
    if isinstance(exc, httpx.InvalidURL):
        return UsageError(f"invalid URL {url!r}: {exc}")
    return A2ACtlError(f"request to {url} failed: {type(exc).__name__}: {exc}")


def check_redirect(
    status: int, reason: str, headers: Mapping[str, str], url: str, settings: Settings
) -> None:
    """A 3xx that was not followed (no ``-L``) is reported, never read as the answer: a redirect's
    body may look like a card. Raises ``HTTPStatusError`` (exit 1)."""
    if 300 <= status < 400 and not settings.follow_redirects:
        location = headers.get("location") or "(no Location header)"
        raise HTTPStatusError(
            f"{url} answered HTTP {status} {reason}: redirected to {location}",
            hint="pass -L to follow redirects (as curl -L), or use the redirect's URL",
            details={"httpStatus": status, "location": location},
        )


def check_auth(status: int, reason: str, headers: Mapping[str, str], url: str, settings: Settings) -> None:
    """A 401/403 is ``AuthError`` (exit 4), with the ``WWW-Authenticate`` challenge and a hint that
    says which credentials were sent (``auth_hint``)."""
    if status in (401, 403):
        challenge = headers.get("www-authenticate")
        raise AuthError(
            f"{url} answered HTTP {status} {reason}"
            + (f" (WWW-Authenticate: {challenge})" if challenge else ""),
            hint=auth_hint(url, settings),
        )


def auth_hint(url: str, settings: Settings) -> str:
    """The hint of a 401/403 to ``url``: what was sent and refused, the URL's userinfo (sent as
    Basic, in place of any other Authorization), the token, or credential ``-H`` headers (named,
    never their values); else how to give a token."""
    from a2actl.core.redact import is_sensitive_header, urlsplit_lenient

    try:
        parts = urlsplit_lenient(url)
        userinfo = bool(parts.username or parts.password)
    except ValueError:
        userinfo = False
    named = [k for k, _ in settings.headers if is_sensitive_header(k)]
    if userinfo:
        return "the user and password of the URL were sent (Basic) and refused: check them"
    if any(k.lower() == "authorization" for k in named):
        return "the -H Authorization credentials were sent and refused: check their scope and expiry"
    if settings.token:
        return "the token was sent and refused: check its scope and expiry"
    if named:
        return f"-H {', '.join(named)} was sent and refused: check its value"
    return "set a token with A2ACTL_TOKEN, --token-env NAME or --token-file PATH"


def content_coding(response: httpx.Response | Any, url: str) -> str | None:
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


def over_limit(
    url: str, limit: int, coding: str | None, wire: int, status: int | None = None
) -> BodyTooLarge:
    """The ``BodyTooLarge`` (a ``ProtocolViolation``, exit 6) for a body past ``limit`` decoded
    bytes, naming the coding and the ``wire`` bytes read so far when the body was compressed;
    ``status``: the answer's HTTP status."""
    if coding is None:
        return BodyTooLarge(
            f"{url} sent more than {limit:,} bytes; stopped reading",
            status=status,
            hint="a body this large is a misconfiguration or an attack",
        )
    return BodyTooLarge(
        f"{url} sent a {coding} body that decodes to more than {limit:,} bytes "
        f"({wire:,} bytes on the wire so far); stopped reading",
        status=status,
        hint="a compressed body this large is a misconfiguration or a decompression bomb",
    )


def declared_over_limit(url: str, declared: int, limit: int, status: int | None) -> BodyTooLarge:
    """The ``BodyTooLarge`` (exit 6) for an answer whose ``Content-Length`` is past ``limit``
    (nothing read); ``status``: its HTTP status."""
    return BodyTooLarge(
        f"{url} declares a {declared:,}-byte body, over the {limit:,}-byte limit",
        status=status,
        hint="a body this large is a misconfiguration or an attack",
    )


__all__ = [
    "ACCEPT_ENCODING",
    "CLOSED_WITHOUT_ANSWER",
    "check_auth",
    "check_redirect",
    "connect_timed_out",
    "connection_lost",
    "dns_failed",
    "read_timed_out",
    "redirect_loop",
    "refused",
    "tls_failed",
    "unfollowable_redirect",
    "BAD_REDIRECT_HOST_HINT",
    "content_coding",
    "map_httpx_error",
    "over_limit",
    "declared_over_limit",
]
