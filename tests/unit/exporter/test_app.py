"""a2actl.exporter.app: the Starlette routes (Starlette's TestClient, in process) with a fake
prober: status codes, the probe deadline from Prometheus' scrape timeout, debug JSON, content
negotiation, /metrics counters and the lifespan that runs the inventory loop."""

from __future__ import annotations

import asyncio
import json
import warnings
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from a2actl.core.config import Settings
from a2actl.exporter.app import Exporter, build_app, probe_timeout
from a2actl.exporter.config import Module
from a2actl.exporter.metrics import ExporterMetrics
from a2actl.exporter.probe import ProbeResult
from a2actl.exporter.schedule import InventoryLoop

with warnings.catch_warnings():  # starlette 1.x: "use httpx2" (the client is httpx 0.28 here)
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, float | None]] = []

    async def __call__(self, url: str, module: Module, base: Settings, **kw: Any) -> ProbeResult:
        self.calls.append((url, module.name, kw.get("timeout")))
        if "dead" in url:
            return ProbeResult(False, 0.001, cause="refused", error_code="refused", failed_phase="card")
        return ProbeResult(True, 0.02, phases={"rpc": 0.01}, handshake=0.01, version="1.0", binding="JSONRPC")


def _samples(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out.setdefault(s.name, []).append((dict(s.labels), s.value))
    return out


@pytest.fixture
def client() -> Any:
    prober = Recorder()
    modules = {
        "default": Module("default"),
        "quick": Module("quick", timeout=2.0),
        "secret": Module("secret", token="s3cret-module-token", token_env="T"),
        "scoped": Module(
            "scoped", token="s3cret-module-token", token_env="T", allow_targets=("http://10.1.0.5",)
        ),
    }
    exporter = Exporter(modules=modules, base=Settings(), metrics=ExporterMetrics("t"), prober=prober)
    with TestClient(build_app(exporter)) as c:
        c.prober = prober
        yield c


def test_probe_answers_prometheus_text(client: Any) -> None:
    r = client.get("/probe", params={"target": "http://10.0.0.1:9999"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    s = _samples(r.text)
    assert s["probe_success"] == [({}, 1.0)]
    assert client.prober.calls == [("http://10.0.0.1:9999", "default", pytest.approx(10.0, abs=0.05))]


def test_a_dead_target_is_200_with_probe_success_0(client: Any) -> None:
    r = client.get("/probe", params={"target": "dead.example:1", "module": "quick"})
    assert r.status_code == 200
    s = _samples(r.text)
    assert s["probe_success"] == [({}, 0.0)]
    assert s["probe_failure_info"][0][0]["cause"] == "refused"
    assert client.prober.calls[-1][:2] == ("http://dead.example:1", "quick")


@pytest.mark.parametrize(
    ("params", "status", "text", "reason"),
    [
        ({}, 400, "Target parameter is missing", "missing_target"),
        (
            {"target": "http://x", "module": "nope"},
            400,
            "Unknown module 'nope' (modules: default, quick, scoped, secret)",
            "unknown_module",
        ),
        ({"target": "ftp://x"}, 400, "Bad target:", "bad_target"),
        # hosts no request can reach (the real probe answered HTTP 500 for a..b: UnicodeError from
        # getaddrinfo) and control characters (probe_success 0 with cause "error", code "usage")
        ({"target": "http://a..b"}, 400, "Bad target:", "bad_target"),
        ({"target": "http://.x:80"}, 400, "Bad target:", "bad_target"),
        ({"target": "http://" + "x" * 64}, 400, "has an empty label or one over 63", "bad_target"),
        ({"target": "http://x/\x00"}, 400, "control character", "bad_target"),
        ({"target": "http://\x00"}, 400, "Bad target:", "bad_target"),
        # an xn-- label that is not Punycode: HTTP 500 and a traceback on stderr (httpx's IDNAError)
        ({"target": "http://xn--zz.example/"}, 400, "not valid Punycode", "bad_target"),
        (
            {"target": "http://x", "module": "secret"},
            403,
            "it sends credentials and has no allow_targets",
            "target_not_allowed",
        ),
        (
            {"target": "http://10.2.0.1", "module": "scoped"},
            403,
            "not under its allow_targets",
            "target_not_allowed",
        ),
    ],
)
def test_requests_refused_without_probing(
    client: Any, params: dict[str, str], status: int, text: str, reason: str
) -> None:
    r = client.get("/probe", params=params)
    assert r.status_code == status and text in r.text
    assert client.prober.calls == []
    s = _samples(client.get("/metrics").text)
    assert s["a2actl_exporter_requests_rejected_total"] == [({"reason": reason}, 1.0)]


def test_a_bad_target_answer_masks_its_secrets_even_when_it_does_not_parse(client: Any) -> None:
    """docs/monitoring.md: URL userinfo never appears in answers. A target whose host does not parse
    (an unclosed '[') was quoted back with its password and token in clear."""
    target = "http://probe-user:pw-unparsed-1@[::1/x?token=tk-unparsed-2"
    r = client.get("/probe", params={"target": target})
    assert r.status_code == 400 and r.text.startswith("Bad target: ")
    assert "probe-user:***@" in r.text
    assert "pw-unparsed-1" not in r.text and "tk-unparsed-2" not in r.text


def test_a_scoped_credentialed_module_probes_its_targets(client: Any) -> None:
    r = client.get("/probe", params={"target": "http://10.1.0.5:80", "module": "scoped"})
    assert r.status_code == 200 and "s3cret-module-token" not in r.text


def test_the_deadline_follows_the_scrape_timeout(client: Any) -> None:
    client.get("/probe", params={"target": "http://a"}, headers={"X-Prometheus-Scrape-Timeout-Seconds": "5"})
    client.get(
        "/probe",
        params={"target": "http://a", "module": "quick"},
        headers={"X-Prometheus-Scrape-Timeout-Seconds": "5"},
    )
    client.get(
        "/probe", params={"target": "http://a"}, headers={"X-Prometheus-Scrape-Timeout-Seconds": "junk"}
    )
    # counted from the request's arrival: what is left of it when the probe starts
    assert [c[2] for c in client.prober.calls] == pytest.approx([4.5, 2.0, 10.0], abs=0.05)
    assert all(c[2] < d for c, d in zip(client.prober.calls, [4.5, 2.0, 10.0], strict=True))


@pytest.mark.parametrize(
    ("module_timeout", "header", "expected"),
    [(10.0, None, 10.0), (10.0, "10", 9.5), (3.0, "10", 3.0), (10.0, "0.5", 0.45), (10.0, "-1", 10.0)],
)
def test_probe_timeout(module_timeout: float, header: str | None, expected: float) -> None:
    assert probe_timeout(Module("m", timeout=module_timeout), header) == pytest.approx(expected)


def test_debug_answers_json(client: Any) -> None:
    r = client.get("/probe", params={"target": "http://dead.example", "debug": "true"})
    doc = r.json()
    assert r.headers["content-type"] == "application/json"
    assert (doc["success"], doc["cause"], doc["target"], doc["module"]["name"]) == (
        False,
        "refused",
        "http://dead.example",
        "default",
    )


def test_openmetrics_on_request(client: Any) -> None:
    r = client.get(
        "/probe",
        params={"target": "http://a"},
        headers={"Accept": "application/openmetrics-text;version=1.0.0"},
    )
    assert r.headers["content-type"].startswith("application/openmetrics-text") and r.text.endswith("# EOF\n")


def test_metrics_counts_probes_by_module_and_result(client: Any) -> None:
    client.get("/probe", params={"target": "http://a"})
    client.get("/probe", params={"target": "http://dead"})
    client.get("/probe", params={"target": "http://dead"})
    s = _samples(client.get("/metrics").text)
    got = {(lab["module"], lab["result"]): v for lab, v in s["a2actl_exporter_probes_total"]}
    assert got == {("default", "success"): 1.0, ("default", "failure"): 2.0}
    assert s["a2actl_exporter_probe_failures_total"] == [({"module": "default", "cause": "refused"}, 2.0)]


def test_health_and_index(client: Any) -> None:
    assert client.get("/-/healthy").text == "OK\n"
    assert "modules: default, quick, scoped, secret" in client.get("/").text


def test_the_lifespan_runs_the_inventory_loop_and_stops_it() -> None:
    class Spec:
        def __init__(self, url: str) -> None:
            self.url, self.name, self.headers, self.budget, self.labels = url, url, {}, None, {}

        def token(self) -> None:
            return None

    metrics = ExporterMetrics("t")
    agents = [Spec("http://a"), Spec("http://dead")]
    inv = metrics.add_inventory([(a.name, a.url, a.labels) for a in agents], sends=False)
    prober = Recorder()
    loop = InventoryLoop(
        agents, Module("default"), Settings(), inv, interval=0.05, concurrency=2, prober=prober
    )
    exporter = Exporter(modules={"default": Module("default")}, base=Settings(), metrics=metrics, loop=loop)
    with TestClient(build_app(exporter)) as c:
        deadline = asyncio.run(_wait_rounds(loop, 2))
        s = _samples(c.get("/metrics").text)
        assert deadline
    counts = {lab["agent"]: v for lab, v in s["a2a_handshake_duration_seconds_count"]}
    assert counts["http://a"] >= 2 and counts["http://dead"] == 0
    errors = {lab["agent"]: v for lab, v in s["a2a_errors_total"]}
    assert errors["http://dead"] >= 2
    done = loop.stats.rounds
    asyncio.run(asyncio.sleep(0.2))
    assert loop.stats.rounds == done  # the shutdown cancelled the loop


async def _wait_rounds(loop: InventoryLoop, n: int) -> bool:
    for _ in range(500):
        if loop.stats.rounds >= n:
            return True
        await asyncio.sleep(0.01)
    return False


def test_debug_json_masks_secrets(client: Any) -> None:
    r = client.get("/probe", params={"target": "http://10.1.0.5", "module": "scoped", "debug": "1"})
    assert "s3cret-module-token" not in r.text
    assert json.loads(r.text)["module"]["tokenEnv"] == "T"


def test_debug_json_masks_the_targets_own_credentials() -> None:
    async def echoing(url: str, module: Module, base: Settings, **kw: Any) -> ProbeResult:
        # as the real probe does: the error message names the URL it tried
        return ProbeResult(
            False, 0.001, cause="refused", error_code="refused", message=f"connection to {url} refused"
        )

    exporter = Exporter(
        modules={"default": Module("default")}, base=Settings(), metrics=ExporterMetrics("t"), prober=echoing
    )
    with TestClient(build_app(exporter)) as c:
        for target in (
            "http://probe-user:probe-pass-1234@10.0.0.1:9/x?api_key=probe-key-5678",
            "probe-user:probe-pass-1234@10.0.0.1:9/x?api_key=probe-key-5678",
        ):
            r = c.get("/probe", params={"target": target, "debug": "true"})
            doc = json.loads(r.text)
            assert r.status_code == 200 and doc["target"] == "http://10.0.0.1:9/x?api_key=***"
            for secret in ("probe-pass-1234", "probe-key-5678"):
                assert secret not in r.text
            assert doc["message"] == "connection to http://probe-user:***@10.0.0.1:9/x?api_key=*** refused"
        bad = c.get("/probe", params={"target": "http://u:probe-pass-1234@10.0.0.1:99999/"})
        assert bad.status_code == 400 and "probe-pass-1234" not in bad.text
    from a2actl.core.redact import Redactor

    # not registered process-wide: every request would grow the registry of a long-running exporter
    assert Redactor()("probe-pass-1234") == "probe-pass-1234"


class Gate:
    """A prober that holds its slot until ``release`` is set; records the timeout it was given."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.timeouts: list[float] = []

    async def __call__(self, url: str, module: Module, base: Settings, **kw: Any) -> ProbeResult:
        self.timeouts.append(kw["timeout"])
        await self.release.wait()
        return ProbeResult(True, 0.01, phases={"rpc": 0.01}, handshake=0.01, version="1.0", binding="JSONRPC")


async def _until(check: Any) -> None:
    for _ in range(1000):
        if check():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("condition not reached")


def _gauge(exporter: Exporter, name: str) -> float:
    value = exporter.metrics.registry.get_sample_value(name)
    assert value is not None
    return value


async def _limited(max_concurrent: int, gate: Gate | None = None) -> tuple[Exporter, Gate, Any]:
    import httpx

    gate = gate or Gate()
    exporter = Exporter(
        modules={"default": Module("default")},
        base=Settings(),
        metrics=ExporterMetrics("t"),
        prober=gate,
        max_concurrent=max_concurrent,
    )
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=build_app(exporter)), base_url="http://x")
    return exporter, gate, client


def test_a_probe_without_a_free_slot_within_its_deadline_is_503() -> None:
    async def main() -> None:
        exporter, gate, client = await _limited(1)
        async with client:
            first = asyncio.ensure_future(client.get("/probe", params={"target": "http://a"}))
            await _until(lambda: gate.timeouts)
            assert _gauge(exporter, "a2actl_exporter_probes_in_flight") == 1
            # a 0.6 s scrape timeout: a 0.54 s deadline, all spent waiting for the one slot
            second = await client.get(
                "/probe",
                params={"target": "http://b"},
                headers={"X-Prometheus-Scrape-Timeout-Seconds": "0.6"},
            )
            assert second.status_code == 503 and second.text.startswith("exporter busy: 1 probes in flight")
            assert len(gate.timeouts) == 1  # never probed
            # the server's own endpoints answer while the slot is taken
            assert (await client.get("/-/healthy")).status_code == 200
            s = _samples((await client.get("/metrics")).text)
            assert s["a2actl_exporter_requests_rejected_total"] == [({"reason": "busy"}, 1.0)]
            assert s["a2actl_exporter_probes_waiting"] == [({}, 0.0)]
            assert s["a2actl_exporter_probes_max_concurrent"] == [({}, 1.0)]
            gate.release.set()
            assert (await first).status_code == 200
            assert _gauge(exporter, "a2actl_exporter_probes_in_flight") == 0

    asyncio.run(main())


def test_a_probe_that_waited_for_a_slot_gets_what_is_left_of_its_deadline() -> None:
    async def main() -> None:
        exporter, gate, client = await _limited(1)
        async with client:
            first = asyncio.ensure_future(client.get("/probe", params={"target": "http://a"}))
            await _until(lambda: gate.timeouts)
            second = asyncio.ensure_future(
                client.get(
                    "/probe",
                    params={"target": "http://b", "debug": "true"},
                    headers={"X-Prometheus-Scrape-Timeout-Seconds": "5"},
                )
            )
            await _until(lambda: _gauge(exporter, "a2actl_exporter_probes_waiting") == 1)
            await asyncio.sleep(0.05)
            gate.release.set()
            assert (await first).status_code == 200
            doc = (await second).json()
        assert gate.timeouts[0] == pytest.approx(10.0, abs=0.05)  # the slot at once: its whole deadline
        waited = doc["waitedForSlot"]
        assert doc["timeout"] == 4.5 and waited >= 0.05
        assert gate.timeouts[1] == pytest.approx(4.5 - waited, abs=0.05) and gate.timeouts[1] < 4.5

    asyncio.run(main())


@pytest.mark.parametrize(
    ("scrape_timeout", "wait", "status"),
    [
        ("1.5", 0.2, 503),  # 0.2 s of a 1 s deadline waited for the slot: the exporter's overload
        (None, 0.05, 200),  # 0.05 s of 10 s: the agent's own timeout (probe_success 0), alerts fire
    ],
)
def test_a_probe_that_waited_long_for_a_slot_and_timed_out_is_503_not_the_agents_failure(
    scrape_timeout: str | None, wait: float, status: int
) -> None:
    """The wait for a slot took a real share (10 % or more) of the deadline, then the probe timed
    out: it was answered ``probe_success 0`` with cause ``timeout`` (the agent's alert fired for the
    exporter's overload; h4 saw one get its slot with 0.14 ms left). It is answered 503 ``exporter
    busy``. A short wait keeps the agent's timeout: slots fill up when agents hang (review r1)."""

    class TimesOut(Gate):
        async def __call__(self, url: str, module: Module, base: Settings, **kw: Any) -> ProbeResult:
            if self.timeouts:  # the second probe: the one that waited
                self.timeouts.append(kw["timeout"])
                return ProbeResult(False, kw["timeout"], cause="timeout", error_code="timeout", message="t")
            return await super().__call__(url, module, base, **kw)

    async def main() -> None:
        exporter, gate, client = await _limited(1, TimesOut())
        headers = {"X-Prometheus-Scrape-Timeout-Seconds": scrape_timeout} if scrape_timeout else {}
        async with client:
            first = asyncio.ensure_future(client.get("/probe", params={"target": "http://a"}))
            await _until(lambda: gate.timeouts)
            second = asyncio.ensure_future(
                client.get("/probe", params={"target": "http://b"}, headers=headers)
            )
            await _until(lambda: _gauge(exporter, "a2actl_exporter_probes_waiting") == 1)
            await asyncio.sleep(wait)
            gate.release.set()
            assert (await first).status_code == 200
            late = await second
            assert len(gate.timeouts) == 2  # it was probed, with what was left
            s = _samples((await client.get("/metrics")).text)
            assert late.status_code == status, late.text
            if status == 503:
                assert late.text.startswith("exporter busy: this probe waited ")
                assert s["a2actl_exporter_requests_rejected_total"] == [({"reason": "busy"}, 1.0)]
            else:
                assert _samples(late.text)["probe_success"] == [({}, 0.0)]
                assert "a2actl_exporter_requests_rejected_total" not in s or all(
                    v == 0 for _, v in s["a2actl_exporter_requests_rejected_total"]
                )

    asyncio.run(main())


@pytest.mark.parametrize(
    "query",
    [
        [("target", "http://a"), ("module", "default"), ("module", "quick")],
        [("target", "http://a"), ("target", "http://b")],
    ],
)
def test_a_repeated_parameter_is_400_without_probing(client: Any, query: list[tuple[str, str]]) -> None:
    r = client.get("/probe", params=query)
    assert r.status_code == 400 and r.text == f"Parameter {query[-1][0]!r} given more than once\n"
    assert client.prober.calls == []
    s = _samples(client.get("/metrics").text)
    assert s["a2actl_exporter_requests_rejected_total"] == [({"reason": "repeated_parameter"}, 1.0)]
