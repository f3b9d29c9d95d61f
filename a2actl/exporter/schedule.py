"""The exporter's own schedule (``--inventory FILE --interval 30s``): every interval, probe every
inventory agent once with one module, at most ``concurrency`` at a time, and record each result in
``InventoryMetrics`` (the histograms and counters ``/metrics`` serves).

Rounds: the first starts at once; each next one starts ``interval`` seconds after the previous one
started, or at once when a round took longer than the interval (an *overrun*, counted in
``a2actl_exporter_inventory_round_overruns_total``: more agents than ``concurrency`` x
``interval`` / probe time allows). A round's probes run through ``concurrency`` workers pulling from
the inventory in order, so a 10,000-agent inventory holds ``concurrency`` probes in memory, not
10,000.

Probes use ``a2actl.exporter.probe.probe_target`` (the handshake probe's httpx clock, a new
connection per probe): a few ms of client CPU per agent, so one exporter keeps up with a few thousand
agents every 30 s on one core (docs/monitoring.md); shard bigger fleets over several exporters.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from a2actl.core.config import Settings
    from a2actl.exporter.config import Module
    from a2actl.exporter.metrics import InventoryMetrics
    from a2actl.exporter.probe import ProbeResult
    from a2actl.probe.budget import Budget


class AgentSpec(Protocol):
    """What the loop reads of an inventory agent (``a2actl.fleet.inventory.AgentSpec``, which the
    command passes in: the exporter and fleet packages are siblings and do not import each other).
    ``budget`` in seconds; ``token()`` the bearer token its ``token_env`` names, or ``None``."""

    @property
    def url(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def headers(self) -> Mapping[str, str]: ...
    @property
    def budget(self) -> float | None: ...
    def token(self) -> str | None: ...


class Prober(Protocol):
    """``probe_target``'s shape (a seam for tests)."""

    def __call__(
        self,
        url: str,
        module: Module,
        base: Settings,
        *,
        timeout: float | None = ...,
        headers: dict[str, str] | None = ...,
        token: str | None = ...,
        budgets: Sequence[Budget] | None = ...,
    ) -> Awaitable[ProbeResult]: ...


@dataclass
class RoundStats:
    """The loop's counters: ``rounds`` completed, ``overruns`` (rounds longer than the interval),
    ``last_duration`` seconds of the last round, ``probes`` done in all rounds."""

    rounds: int = 0
    overruns: int = 0
    last_duration: float | None = None
    probes: int = 0


class InventoryLoop:
    """Probes ``agents`` every ``interval`` seconds with ``module`` and ``base`` settings, at most
    ``concurrency`` at once, recording into ``metrics`` (agent ``i`` is ``metrics``' agent ``i``).
    Each agent's ``headers``, ``token_env`` (read per probe) and ``budget`` (seconds, a total budget
    replacing the module's) apply to its own probes. ``on_round(stats)`` is called after each round."""

    def __init__(
        self,
        agents: Sequence[AgentSpec],
        module: Module,
        base: Settings,
        metrics: InventoryMetrics,
        *,
        interval: float,
        concurrency: int,
        prober: Prober | None = None,
        on_round: Callable[[RoundStats], None] | None = None,
    ) -> None:
        from a2actl.exporter.probe import probe_target

        self.agents = list(agents)
        self.module = module
        self.base = base
        self.metrics = metrics
        self.interval = interval
        self.concurrency = max(1, concurrency)
        self.prober: Prober = prober or probe_target
        self.on_round = on_round
        self.stats = RoundStats()

    def budgets_of(self, spec: AgentSpec) -> Sequence[Budget] | None:
        """The budgets of ``spec``'s probes: the module's, with the agent's own total budget (seconds)
        replacing the module's ``total`` one; ``None``: the module's unchanged."""
        if spec.budget is None:
            return None
        from a2actl.probe.budget import Budget

        return [b for b in self.module.budgets if b.metric != "total"] + [Budget("total", spec.budget)]

    async def probe_one(self, index: int) -> None:
        """Probe agent ``index`` once and record the result."""
        spec = self.agents[index]
        try:
            result = await self.prober(
                spec.url,
                self.module,
                self.base,
                headers=dict(spec.headers),
                token=spec.token(),
                budgets=self.budgets_of(spec),
            )
        except Exception as exc:  # noqa: BLE001 - a bug must not end the schedule of every agent
            from a2actl.exporter.probe import ProbeResult

            result = ProbeResult(
                False, 0.0, cause="error", error_code="internal_error", message=f"{type(exc).__name__}: {exc}"
            )
        self.metrics.observe(index, result)
        self.stats.probes += 1

    async def round(self) -> float:
        """One round over every agent; returns its duration in seconds."""
        t0 = time.monotonic()
        indexes = iter(range(len(self.agents)))

        async def worker() -> None:
            for i in indexes:  # shared iterator: each index is taken by one worker
                await self.probe_one(i)

        await asyncio.gather(*(worker() for _ in range(min(self.concurrency, len(self.agents)))))
        return time.monotonic() - t0

    async def run(self) -> None:
        """Rounds until cancelled (the server's shutdown cancels it)."""
        while True:
            started = time.monotonic()
            elapsed = await self.round()
            self.stats.rounds += 1
            self.stats.last_duration = elapsed
            if elapsed > self.interval:
                self.stats.overruns += 1
            self.metrics.round_done(elapsed, overrun=elapsed > self.interval)
            if self.on_round is not None:
                self.on_round(self.stats)
            await asyncio.sleep(max(0.0, started + self.interval - time.monotonic()))


__all__ = ["AgentSpec", "InventoryLoop", "Prober", "RoundStats"]
