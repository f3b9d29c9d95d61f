"""Coarse connection-setup marks on the fast client path, for ``fleet probe`` (issue #16).

``FastTransport`` times a request from send to headers and to the last body byte only (see its module
docstring): connect and TLS are not split. A fleet row wants to know how much of an agent's time went
into opening its connection, so ``MarkedFastTransport`` adds one aiohttp ``TraceConfig`` to the
session and adds, for every connection aiohttp opens, the seconds between its
``on_connection_create_start`` and ``on_connection_create_end`` signals (DNS lookup, TCP connect and
TLS handshake together: aiohttp does not split them at that level) to the ``"connect"`` key of the
dict in ``CONNECT_PHASES`` of the task that made the request. A connection taken from the pool adds
nothing; a connect that fails adds nothing. The times are ``time.perf_counter`` when each coroutine
resumes, so a busy event loop lengthens them.

Why a subclass and not a ``FastTransport`` option: ``FastTransport`` builds its session in
``__aenter__`` without trace configs, and another change may be tuning that module; this one only
appends a frozen ``TraceConfig`` to the live session's list (aiohttp reads ``_trace_configs`` per
request, unchanged since aiohttp 3.0). If a future aiohttp drops that attribute, the marks are simply
absent (no ``"connect"`` phase), never an error.
"""

from __future__ import annotations

from contextvars import ContextVar
from time import perf_counter
from types import SimpleNamespace
from typing import Any

import aiohttp

from a2actl.transport.fast import FastTransport

#: The phases dict (seconds by phase name) of the agent the running task is checking; ``None``: none.
CONNECT_PHASES: ContextVar[dict[str, float] | None] = ContextVar("a2actl_connect_phases", default=None)


async def _start(_session: Any, ctx: SimpleNamespace, _params: Any) -> None:
    ctx.connect_started = perf_counter()


async def _end(_session: Any, ctx: SimpleNamespace, _params: Any) -> None:
    phases = CONNECT_PHASES.get()
    started = getattr(ctx, "connect_started", None)
    if phases is not None and started is not None:
        phases["connect"] = phases.get("connect", 0.0) + (perf_counter() - started)


class MarkedFastTransport(FastTransport):
    """A ``FastTransport`` whose new connections add their setup time (seconds) to
    ``CONNECT_PHASES.get()["connect"]``. Same constructor, same errors, same public API."""

    async def __aenter__(self) -> MarkedFastTransport:
        await super().__aenter__()
        trace = aiohttp.TraceConfig()
        trace.on_connection_create_start.append(_start)
        trace.on_connection_create_end.append(_end)
        trace.freeze()
        configs = getattr(self._session, "_trace_configs", None)
        if isinstance(configs, list):
            configs.append(trace)
        return self


__all__ = ["CONNECT_PHASES", "MarkedFastTransport"]
