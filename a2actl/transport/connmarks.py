"""Coarse connection-setup marks on the fast client path, for ``fleet probe`` (issue #16).

``FastTransport`` times a request from send to headers and to the last body byte only (see its module
docstring): connect and TLS are not split. A fleet row wants to know how much of an agent's time went
into opening its connection, so ``MarkedFastTransport`` adds, for every connection aiohttp opens, the
seconds aiohttp's connector spends in ``_create_connection`` (DNS lookup, TCP connect and TLS
handshake together: exactly the span aiohttp's ``on_connection_create_start``/``_end`` trace signals
mark) to the ``"connect"`` key of the dict in ``CONNECT_PHASES`` of the task that made the request. A
connection taken from the pool adds nothing; a connect that fails adds nothing. The times are
``time.perf_counter`` when each coroutine resumes, so a busy event loop lengthens them.

Why the connector's method and not a ``TraceConfig``: with any trace config aiohttp builds trace
objects and sends about ten signals on every request; measured on 5,000 fleet agents (card, validate,
first RPC) that cost 0.24 ms of client CPU per agent (13 %), while the wrapped method costs nothing on
a reused connection. Why a subclass and not a ``FastTransport`` option: another change may be tuning
that module; this one only wraps one method of the live session's connector (``ClientSession.connector``
is public; ``_create_connection(req, traces, timeout)`` has had that signature since aiohttp 3.0). If a
future aiohttp renames it, the marks are simply absent (no ``"connect"`` phase), never an error.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from time import perf_counter
from typing import Any

from a2actl.transport.fast import FastTransport

#: The phases dict (seconds by phase name) of the agent the running task is checking; ``None``: none.
CONNECT_PHASES: ContextVar[dict[str, float] | None] = ContextVar("a2actl_connect_phases", default=None)


def _timed(create: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    async def create_connection(*args: Any, **kwargs: Any) -> Any:
        started = perf_counter()
        proto = await create(*args, **kwargs)
        phases = CONNECT_PHASES.get()
        if phases is not None:
            phases["connect"] = phases.get("connect", 0.0) + (perf_counter() - started)
        return proto

    return create_connection


class MarkedFastTransport(FastTransport):
    """A ``FastTransport`` whose new connections add their setup time (seconds) to
    ``CONNECT_PHASES.get()["connect"]``. Same constructor, same errors, same public API."""

    async def __aenter__(self) -> MarkedFastTransport:
        await super().__aenter__()
        connector = self._session.connector if self._session is not None else None
        create = getattr(connector, "_create_connection", None)
        if connector is not None and callable(create):
            connector._create_connection = _timed(create)  # type: ignore[method-assign,assignment]
        return self


__all__ = ["CONNECT_PHASES", "MarkedFastTransport"]
