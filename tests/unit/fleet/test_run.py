"""A fleet run (a2actl.fleet.run.run_fleet) against the fleet fixture server on loopback: exact funnel
counts and causes for a mixed inventory, results in inventory order whatever finishes first, the
concurrency bound seen by the server, progress and per-result callbacks, a failing callback stopping
the run, and which agents close their connection."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from a2actl.core.config import Settings
from a2actl.fleet.inventory import AgentSpec, Inventory
from a2actl.fleet.result import DEFAULT_CHECKS, STAGES, AgentResult, FleetOptions, FleetProgress
from a2actl.fleet.run import last_of_origin, origin_of, run_fleet
from tests.fleet_server import FleetServer, Planned, expected_causes, expected_funnel, plan

MIX = {
    "healthy": 3,
    "rest": 1,
    "healthy03": 2,
    "hybrid": 1,
    "lag": 2,
    "flaky": 1,
    "sendfail": 1,
    "invalid": 1,
    "notjson": 1,
    "nocard": 1,
    "error500": 1,
    "slow": 1,
    "rpcerror": 1,
    "rpc401": 1,
    "badversion": 1,
    "grpconly": 1,
    "refused": 2,
    "dns": 1,
}


@pytest.fixture(scope="module")
def fleet() -> Iterator[FleetServer]:
    with FleetServer(slow=5.0, lag=0.2) as server:
        yield server


def specs_of(agents: list[Planned]) -> list[AgentSpec]:
    return [
        AgentSpec(url=a.url, name=a.name, headers=dict(a.headers), labels={"kind": a.kind}) for a in agents
    ]


def funnel(results: list[AgentResult], stages: tuple[str, ...]) -> dict[str, int]:
    counts = dict.fromkeys(stages, 0)
    for r in results:
        for stage in r.passed:
            counts[stage] += 1
    return counts


def causes(results: list[AgentResult]) -> dict[str, int]:
    return dict(Counter(r.cause for r in results if r.cause is not None))


@pytest.mark.parametrize("send", [False, True], ids=["default-checks", "with-send"])
def test_mixed_fleet_funnel_and_causes_are_exact(fleet: FleetServer, send: bool) -> None:
    agents = plan(fleet.url, MIX, by_host=1)
    checks = DEFAULT_CHECKS | ({"send"} if send else set())
    options = FleetOptions(concurrency=8, timeout=0.5, retries=1, checks=frozenset(checks))
    results = asyncio.run(run_fleet(Inventory(tuple(specs_of(agents)), "test", "json"), options, Settings()))
    assert len(results) == len(agents)
    assert funnel(results, options.stages) == expected_funnel(agents, send=send)
    assert causes(results) == expected_causes(agents, send=send)
    assert sum(r.ok for r in results) == sum(1 for a in agents if expected_causes([a], send=send) == {})


def test_results_come_back_in_inventory_order(fleet: FleetServer) -> None:
    # the lag agents come first and finish last; refused/dns ones finish first
    agents = plan(fleet.url, {"lag": 4}) + plan(
        fleet.url, {"healthy": 3, "refused": 2, "dns": 2, "nocard": 2}
    )
    done: list[int] = []
    results = asyncio.run(
        run_fleet(
            specs_of(agents),
            FleetOptions(concurrency=13, retries=0),
            Settings(),
            on_result=lambda i, r: done.append(i),
        )
    )
    assert [r.spec.name for r in results] == [a.name for a in agents]
    assert sorted(done) == list(range(len(agents)))
    assert done != list(range(len(agents)))  # they did finish out of order
    assert done.index(0) > done.index(len(agents) - 1)


@pytest.mark.parametrize("concurrency", [1, 4])
def test_the_server_never_sees_more_agents_than_the_concurrency(concurrency: int) -> None:
    with FleetServer(lag=0.2) as own:  # its own server: no request of another test still in flight
        agents = plan(own.url, {"lag": 3 * concurrency})
        results = asyncio.run(run_fleet(specs_of(agents), FleetOptions(concurrency=concurrency), Settings()))
        assert all(r.ok for r in results)
        # every agent waits 0.2 s for its card, so the workers overlap there: exactly `concurrency` at once
        assert own.stats()["maxInflight"] == concurrency


def test_progress_reports_the_running_funnel(fleet: FleetServer) -> None:
    agents = plan(fleet.url, {"lag": 6, "nocard": 2, "refused": 2})
    seen: list[FleetProgress] = []
    options = FleetOptions(concurrency=3, retries=0)
    results = asyncio.run(run_fleet(specs_of(agents), options, Settings(), progress=seen.append))
    assert seen[0].done == 0 and seen[0].total == len(agents)
    last = seen[-1]
    assert (last.done, last.total, last.failures) == (len(agents), len(agents), 4)
    assert dict(last.stages) == {**dict.fromkeys(STAGES, 0), **funnel(results, options.stages)}
    assert [p.done for p in seen] == sorted(p.done for p in seen)
    assert all(p.elapsed >= 0 for p in seen)


def test_a_failing_callback_stops_the_run(fleet: FleetServer) -> None:
    agents = plan(fleet.url, {"lag": 8})

    def boom(index: int, result: AgentResult) -> None:
        raise RuntimeError("callback failed")

    async def go() -> int:
        with pytest.raises(RuntimeError, match="callback failed"):
            await run_fleet(specs_of(agents), FleetOptions(concurrency=2), Settings(), on_result=boom)
        await asyncio.sleep(0)
        return len([t for t in asyncio.all_tasks() if t is not asyncio.current_task()])

    assert asyncio.run(go()) == 0  # no worker left running


def test_an_empty_inventory_is_an_empty_result() -> None:
    assert asyncio.run(run_fleet([], FleetOptions(), Settings())) == []


def test_the_last_agent_of_each_origin_closes_its_connection() -> None:
    specs = [
        AgentSpec(url="http://a.example/x"),
        AgentSpec(url="HTTP://A.example:80/y"),
        AgentSpec(url="https://a.example/z"),
        AgentSpec(url="http://b.example:8080/"),
        AgentSpec(url="http://a.example/w"),
    ]
    assert origin_of(specs[1].url) == "http://a.example:80"
    assert last_of_origin(specs) == [False, False, True, True, True]


def test_only_the_closing_agents_send_connection_close(
    fleet: FleetServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from a2actl.fleet import check

    sent: list[tuple[str, str | None]] = []
    real = check.AgentTransport.request

    async def spy(self: Any, method: str, url: str, **kw: Any) -> Any:
        res = await real(self, method, url, **kw)
        sent.append((url, "close" if self.closing else None))
        return res

    monkeypatch.setattr(check.AgentTransport, "request", spy)
    agents = plan(fleet.url, {"healthy": 3})
    asyncio.run(run_fleet(specs_of(agents), FleetOptions(concurrency=1), Settings()))
    closing = [url for url, how in sent if how == "close"]
    assert closing == [f"{fleet.url}/a/healthy-2/rpc"]  # the last agent's last request only
