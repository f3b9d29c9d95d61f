"""A TARGET argument, parsed once: a card file, a card URL, an agent's base URL or a WebSocket URL.

Standard library only: the CLI layer parses TARGET with it before any heavy import.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import urlsplit

from a2actl.core.errors import UsageError
from a2actl.core.hostnames import host_problem


@dataclass(frozen=True)
class Target:
    """A parsed TARGET argument. ``kind`` is ``file`` (``value`` a path), ``card_url``, ``base_url`` or
    ``websocket`` (``value`` the URL as given, a bare ``host:port`` with ``http://`` added)."""

    kind: str
    value: str

    @property
    def is_remote(self) -> bool:
        """True for anything reached over the network (everything but a card file)."""
        return self.kind != "file"

    @property
    def is_websocket(self) -> bool:
        """True for a ``ws://`` / ``wss://`` URL (the WebSocket channel, ``docs/websocket.md``)."""
        return self.kind == "websocket"


def parse_target(target: str, *, websocket: bool = False) -> Target:
    """Classify TARGET. An existing path or ``file://`` URL is a file; an http(s) URL whose path ends
    in ``.json`` or contains ``/.well-known/`` is a card URL; any other URL a base URL. A bare
    ``host:port`` gets ``http://`` (as curl does). With ``websocket=True`` a ``ws://``/``wss://`` URL is
    a ``websocket`` target (only ``stream tail`` takes one). Raises ``UsageError`` (exit 2) for an empty
    TARGET, a malformed URL, a host no request can reach (``host_problem``: ``a..b``, ``127.1``,
    ``xn--zz``), a URL without a host, or any other scheme."""
    t = target.strip()
    if not t:
        raise UsageError("TARGET is empty", hint="give a base URL, a card URL or a card file")
    if t.startswith("file://"):
        return Target("file", urlsplit(t).path)
    if "://" not in t:
        if os.path.exists(t) or t.endswith(".json"):
            return Target("file", t)
        t = "http://" + t
    try:
        parts = urlsplit(t)
        host, _port = parts.hostname, parts.port  # both raise ValueError on a malformed netloc
    except ValueError as exc:
        raise UsageError(f"TARGET {target!r} is not a valid URL: {exc}") from exc
    is_websocket = websocket and parts.scheme in ("ws", "wss") and bool(host)
    if not is_websocket and parts.scheme not in ("http", "https"):
        raise UsageError(
            f"unsupported TARGET scheme {parts.scheme!r}", hint="use http://, https:// or a file path"
        )
    if not host:
        raise UsageError(f"TARGET {target!r} has no host")
    problem = host_problem(host)
    if problem:
        # one answer for every command: the HTTP clients disagreed (httpx requested 127.1 and
        # 42, aiohttp refused them: exit 0 or 1 vs 2; a..b was exit 3 or 2, xn--zz 2 or 3)
        raise UsageError(f"TARGET {target!r} is not a valid URL: {problem}")
    if is_websocket:
        return Target("websocket", target.strip())
    if parts.path.endswith(".json") or "/.well-known/" in parts.path:
        return Target("card_url", t)
    return Target("base_url", t)
