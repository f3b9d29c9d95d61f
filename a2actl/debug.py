"""The public import path of the debug endpoints for a2a-sdk apps (docs/debug-endpoints.md):
``from a2actl.debug import SessionRegistry, TrackingRequestHandler, debug_routes``. The code lives in
``a2actl.server.debug``; this module keeps the documented path working, with the same lazy loading
(the a2a-sdk parts are imported on first use)."""

from __future__ import annotations

from typing import Any

from a2actl.server.debug.registry import Session, SessionRegistry

__all__ = ["Session", "SessionRegistry", "TrackingRequestHandler", "debug_routes"]


def __getattr__(name: str) -> Any:
    if name in ("TrackingRequestHandler", "debug_routes"):
        from a2actl.server.debug import server

        return getattr(server, name)
    raise AttributeError(name)
