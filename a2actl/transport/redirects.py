"""Which headers a followed redirect (``-L``) may carry: the rule both transports apply.

httpx drops only ``Authorization`` when a redirect leaves the origin, aiohttp ``Authorization``,
``Cookie`` and ``Proxy-Authorization``; a2actl also treats ``*Api-Key*``, ``*-Key``, ``*-Token``,
``*secret*``, ``*session*``, ``*password*`` … as secrets (``a2actl.core.redact.is_sensitive_header``), and any header whose value
is a registered secret (an inventory's ``${VAR}`` or credential-named header, an exporter module's
``${VAR}`` header: ``a2actl.core.redact.is_secret_header``), so none of them may reach a host a
redirect names. The rule, as curl's (credentials only to the host they were given for):

* the origin is (scheme, host, port) of the URL the operator gave, ports defaulted (80, 443);
* a hop to another origin carries none of the secret headers, and neither does any later hop;
* an ``http://h`` (port 80) → ``https://h`` (port 443) upgrade is the same origin, as httpx keeps
  ``Authorization`` there.

No httpx or aiohttp here: ``HttpTransport`` applies it in a request event hook, ``FastTransport`` in
a client middleware, both of which see every hop before it is sent.

A chain that never ends (a redirect loop) is the agent's configuration, which no retry fixes:
``RedirectGuard.status`` keeps the last redirect's status for its error
(``a2actl.transport.failures.redirect_loop``), a 3xx as an unfollowed redirect's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from a2actl.core.redact import is_secret_header

Origin = tuple[str, str, int]
#: The request extension (httpx copies a request's extensions to every redirect hop) that holds the
#: chain's ``RedirectGuard`` on ``HttpTransport``'s requests under ``-L``.
GUARD_EXTENSION = "a2actl.redirect_guard"
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


def origin(scheme: str, host: str, port: int | None) -> Origin:
    """``(scheme, host, port)`` lowercased, the port defaulted from the scheme."""
    scheme = scheme.lower()
    return scheme, host.lower().strip("[]"), port if port is not None else _DEFAULT_PORTS.get(scheme, 0)


def leaves(first: Origin, hop: Origin) -> bool:
    """Whether a request to ``hop`` must not carry the secrets given for ``first``: another origin,
    except the ``http``:80 → ``https``:443 upgrade of the same host."""
    if hop == first:
        return False
    upgrade = (
        first[1] == hop[1] and first[0] == "http" and first[2] == 80 and hop[0] == "https" and hop[2] == 443
    )
    return not upgrade


def secret_names(headers: Iterable[tuple[str, str]]) -> list[str]:
    """The names of the ``(name, value)`` pairs that carry a secret (``is_secret_header``: a
    credential name, or a registered secret value), order kept, each name once."""
    out: list[str] = []
    for name, value in headers:
        if name not in out and is_secret_header(name, value):
            out.append(name)
    return out


@dataclass
class RedirectGuard:
    """The state of one request's redirect chain: the origin it was given for, the secret headers it
    had, whether the chain has left the origin (then every later hop goes without them), and the
    HTTP status of the last redirect answered in it (``None`` before any); ``url`` the URL the chain
    was asked for (its errors name it)."""

    first: Origin
    secrets: list[str]
    left: bool = False
    noted: bool = False
    status: int | None = None
    url: str | None = None

    def answered(self, status: int) -> None:
        """A hop of the chain answered the redirect ``status`` (a 3xx with a ``Location``)."""
        self.status = status

    def check(self, hop: Origin) -> bool:
        """Whether the hop to ``hop`` must go without the secret headers (sticky once true)."""
        if not self.left and leaves(self.first, hop):
            self.left = True
        return self.left

    def note(self, hop: Origin) -> str | None:
        """The one ``-v`` note for the chain (``None`` after the first, or with no secrets): origins
        and header names only, never a value, a path or a query."""
        if self.noted or not self.secrets:
            return None
        self.noted = True
        return (
            f"-L: the redirect to {_show(hop)} leaves {_show(self.first)}: not forwarding "
            f"{', '.join(self.secrets)} (secret headers go only to the origin they were given for)"
        )


def bad_redirect_host(url: str, location: str) -> tuple[str, str] | None:
    """``(target, why)`` when the redirect answered to ``url`` with ``location`` (its ``Location``
    header, relative or absolute) leads to an http(s) URL whose host no request can reach
    (``core.hostnames.host_problem``: ``a..b``, an ``xn--`` label that is not Punycode, a 64-character
    label), else ``None``. Other bad Locations (another scheme, a malformed URL) are left to the HTTP
    client and its error mapping. Both transports ask it for every redirect they follow under ``-L``:
    the HTTP clients met such a host as a bare ``UnicodeError`` when building the next hop."""
    from urllib.parse import urljoin, urlsplit

    from a2actl.core.hostnames import host_problem

    try:
        target = urljoin(url, location)
        parts = urlsplit(target)
        host = parts.hostname
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not host:
        return None
    problem = host_problem(host)
    return (target, problem) if problem else None


def _show(o: Origin) -> str:
    scheme, host, port = o
    return f"{scheme}://[{host}]:{port}" if ":" in host else f"{scheme}://{host}:{port}"


__all__ = [
    "GUARD_EXTENSION",
    "Origin",
    "RedirectGuard",
    "bad_redirect_host",
    "leaves",
    "origin",
    "secret_names",
]
