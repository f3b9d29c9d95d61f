"""a2actl.exporter.schedule: rounds over the inventory with bounded concurrency, each agent's own
headers/token/budget, overruns, and a prober that raises does not stop the schedule. The prober is a
seam (a fake that records its calls); the real one is covered in test_probe and tests/cli."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from a2actl.core.config import Settings
from a2actl.exporter.config import Module
from a2actl.exporter.metrics import ExporterMetrics
from a2actl.exporter.probe import ProbeResult
from a2actl.exporter.schedule import InventoryLoop
from a2actl.probe.budget import Budget


@dataclass(frozen=True)
class Spec:
    url: str
    name: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    token_env: str | None = None
    budget: float | None = None
    tok: str | None = None

    def token(self) -> str | None:
        return self.tok


class FakeProber:
    def __init__(
        self, delay: float = 0.0, fail: set[str] | None = None, boom: set[str] | None = None
    ) -> None:
        self.delay, self.fail, self.boom = delay, fail or set(), boom or set()
        self.calls: list[dict[str, Any]] = []
        self.inflight = self.max_inflight = 0

    async def __call__(self, url: str, module: Module, base: Settings, **kw: Any) -> ProbeResult:
        self.calls.append({"url": url, **kw})
        self.inflight += 1
        self.max_inflight = max(self.max_inflight, self.inflight)
        try:
            await asyncio.sleep(self.delay)
        finally:
            self.inflight -= 1
        if url in self.boom:
            raise RuntimeError("a bug")
        if url in self.fail:
            return ProbeResult(False, 0.001, cause="refused", error_code="refused")
        return ProbeResult(True, 0.01, handshake=0.01, version="1.0", binding="JSONRPC")


def _loop(agents: Sequence[Spec], prober: FakeProber, **kw: Any) -> tuple[InventoryLoop, Any]:
    metrics = ExporterMetrics("t")
    inv = metrics.add_inventory([(a.name or a.url, a.url, a.labels) for a in agents], sends=False)
    module = kw.pop("module", Module("default", budgets=(Budget("total", 5.0), Budget("rpc", 1.0))))
    loop = InventoryLoop(
        agents, module, Settings(), inv, prober=prober, **{"interval": 10.0, "concurrency": 4, **kw}
    )
    return loop, inv


def test_a_round_probes_every_agent_once_within_the_concurrency() -> None:
    agents = [Spec(f"http://10.0.0.{i}") for i in range(25)]
    prober = FakeProber(delay=0.01)
    loop, inv = _loop(agents, prober, concurrency=4)
    asyncio.run(loop.round())
    assert sorted(c["url"] for c in prober.calls) == sorted(a.url for a in agents)
    assert prober.max_inflight == 4
    assert loop.stats.probes == 25
    assert all(r is not None and r.success for r in inv.last)


def test_each_agent_brings_its_headers_token_and_budget() -> None:
    agents = [
        Spec("http://a", headers={"X-Tenant": "a"}, tok="tok-a", budget=0.5),
        Spec("http://b"),
    ]
    prober = FakeProber()
    loop, _ = _loop(agents, prober)
    asyncio.run(loop.round())
    by_url = {c["url"]: c for c in prober.calls}
    assert by_url["http://a"]["headers"] == {"X-Tenant": "a"} and by_url["http://a"]["token"] == "tok-a"
    assert [(b.metric, b.limit) for b in by_url["http://a"]["budgets"]] == [("rpc", 1.0), ("total", 0.5)]
    assert by_url["http://b"]["budgets"] is None and by_url["http://b"]["token"] is None


def test_a_prober_that_raises_is_an_internal_error_and_the_round_goes_on() -> None:
    agents = [Spec("http://boom"), Spec("http://ok"), Spec("http://dead")]
    loop, inv = _loop(agents, FakeProber(boom={"http://boom"}, fail={"http://dead"}), concurrency=1)
    asyncio.run(loop.round())
    assert [r.error_code if r else None for r in inv.last] == ["internal_error", None, "refused"]
    assert inv.errors.labels(*inv.values[0], "internal_error")._value.get() == 1


def test_run_repeats_rounds_and_counts_overruns() -> None:
    agents = [Spec("http://a"), Spec("http://b")]
    rounds: list[int] = []

    async def main(interval: float, delay: float) -> InventoryLoop:
        loop, _ = _loop(
            agents,
            FakeProber(delay=delay),
            interval=interval,
            concurrency=1,
            on_round=lambda s: rounds.append(s.rounds),
        )
        task = asyncio.ensure_future(loop.run())
        while len(rounds) < 3:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return loop

    slow = asyncio.run(main(interval=0.01, delay=0.02))  # each round (2 x 20 ms) outlasts the interval
    assert slow.stats.rounds >= 3 and slow.stats.overruns == slow.stats.rounds
    rounds.clear()
    fast = asyncio.run(main(interval=0.3, delay=0.0))  # a round of a no-delay fake: far under 0.3 s
    assert fast.stats.rounds >= 3 and fast.stats.overruns == 0
