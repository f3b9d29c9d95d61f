"""Run a fleet probe: ``check_agent`` over every agent of an inventory, ``concurrency`` at a time, on
one shared aiohttp session (``a2actl.transport.connmarks.MarkedFastTransport``, a ``FastTransport``
with coarse connect marks). Issue #16, docs/fleet.md.

* Concurrency: ``FleetOptions.concurrency`` workers take the next agent when they finish one, so at
  most that many agents are checked at once and memory does not grow with the inventory beyond one
  small ``AgentResult`` per agent (no task per agent up front, no bodies kept).
* Connections: the session's pool holds at most ``concurrency`` connections in use (aiohttp
  ``TCPConnector(limit=…)``); agents on one origin share kept-alive connections; the last agent of
  each origin (in inventory order) closes its connection after its last request, so a fleet of
  distinct hosts does not leave one idle socket per agent in the pool.
* Timeouts: ``FleetOptions.timeout`` is both the connect and the per-read timeout of the session and
  a cap on each whole request (``AgentTransport``).
* Results come back in inventory order; ``progress`` is called with a ``FleetProgress`` at most every
  ``PROGRESS_INTERVAL`` seconds while agents finish, and once at the end.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from a2actl.core.gcpause import quiet_gc
from a2actl.fleet.check import check_agent, compiled_validator
from a2actl.fleet.inventory import AgentSpec, Inventory
from a2actl.fleet.result import STAGES, AgentResult, FleetOptions, FleetProgress

if TYPE_CHECKING:
    from a2actl.core.config import Settings
    from a2actl.core.sink import EventSink

#: Seconds between two progress callbacks (the last one, at the end, always comes).
PROGRESS_INTERVAL = 0.1


def origin_of(url: str) -> str:
    """``scheme://host:port`` of ``url`` (lower-cased, the default port made explicit): what the
    connection pool keys connections on."""
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        port = parts.port or (443 if scheme == "https" else 80)
        return f"{scheme}://{(parts.hostname or '').lower()}:{port}"
    except ValueError:
        return url


def last_of_origin(agents: Sequence[AgentSpec]) -> list[bool]:
    """For each agent, whether no later agent of ``agents`` has the same origin."""
    seen: set[str] = set()
    out = [False] * len(agents)
    for i in range(len(agents) - 1, -1, -1):
        origin = origin_of(agents[i].url)
        if origin not in seen:
            out[i] = True
            seen.add(origin)
    return out


async def run_fleet(
    inventory: Inventory | Sequence[AgentSpec],
    options: FleetOptions,
    settings: Settings,
    *,
    progress: Callable[[FleetProgress], None] | None = None,
    sink: EventSink | None = None,
    on_result: Callable[[int, AgentResult], None] | None = None,
) -> list[AgentResult]:
    """Check every agent of ``inventory`` (an ``Inventory`` or a sequence of ``AgentSpec``) and return
    one ``AgentResult`` per agent, in inventory order. ``settings``: the invocation's (TLS files,
    ``-L``, body limits, trace id; its timeouts are replaced by ``options.timeout``); ``sink``: wire
    events (``-v``); ``on_result(index, result)`` as each agent finishes (for JSONL streaming);
    ``progress`` as described in the module docstring.

    Raises ``UsageError`` (exit 2) when ``--cacert``/``--cert``/``--key`` cannot be loaded, before any
    agent is checked; never for an agent's fault (those are causes in the results)."""
    from a2actl.transport.connmarks import MarkedFastTransport

    agents = tuple(inventory.agents if isinstance(inventory, Inventory) else inventory)
    total = len(agents)
    results: list[AgentResult | None] = [None] * total
    closing = last_of_origin(agents)
    concurrency = max(1, min(options.concurrency, total or 1))
    tsettings = dataclasses.replace(settings, connect_timeout=options.timeout, read_timeout=options.timeout)
    if "validate" in options.checks:
        for version in ("1.0", "0.3"):  # compiled once, before the clock starts (imports jsonschema)
            compiled_validator(version)
    counts = dict.fromkeys(STAGES, 0)
    done = failures = 0
    started = time.perf_counter()
    last_report = started

    def report(force: bool = False) -> None:
        nonlocal last_report
        if progress is None:
            return
        now = time.perf_counter()
        if not force and now - last_report < PROGRESS_INTERVAL:
            return
        last_report = now
        progress(
            FleetProgress(
                done=done, total=total, stages=dict(counts), failures=failures, elapsed=now - started
            )
        )

    next_index = 0

    async def worker(transport: MarkedFastTransport) -> None:
        nonlocal next_index, done, failures
        while next_index < total:
            i = next_index
            next_index += 1
            res = await check_agent(
                agents[i], options, transport, settings=tsettings, keep_alive=not closing[i]
            )
            results[i] = res
            done += 1
            failures += not res.ok
            for stage in res.passed:
                counts[stage] += 1
            if on_result is not None:
                on_result(i, res)
            report()

    report(force=True)
    transport = MarkedFastTransport(tsettings, sink, max_connections=concurrency)
    with quiet_gc():
        async with transport:
            tasks = [asyncio.ensure_future(worker(transport)) for _ in range(concurrency)]
            try:
                await asyncio.gather(*tasks)
            finally:  # a failing callback (or a cancel) stops every worker, not just one
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
    report(force=True)
    return [r for r in results if r is not None]


__all__ = ["PROGRESS_INTERVAL", "last_of_origin", "origin_of", "run_fleet"]
