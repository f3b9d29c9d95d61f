"""Server side of the debug API (``docs/debug-endpoints.md``) for a2a-sdk apps: ``SessionRegistry``
(pure), ``TrackingRequestHandler`` and ``debug_routes`` (need ``a2a-sdk[http-server]``). The a2actl
client never imports this package."""

from __future__ import annotations

from typing import Any

from a2actl.server.debug.registry import Session, SessionRegistry

__all__ = ["Session", "SessionRegistry", "TrackingRequestHandler", "debug_routes"]


def __getattr__(name: str) -> Any:  # the a2a-sdk parts load on first use
    if name in ("TrackingRequestHandler", "debug_routes"):
        from a2actl.server.debug import server

        return getattr(server, name)
    raise AttributeError(name)
