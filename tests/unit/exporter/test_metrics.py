"""a2actl.exporter.metrics: /probe's families from a ProbeResult, the inventory's histograms and
counters, label rules and URL redaction; parsed back with prometheus_client's parsers."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families

from a2actl.core.errors import UsageError
from a2actl.exporter.metrics import (
    HANDSHAKE_BUCKETS,
    ExporterMetrics,
    encode,
    label_names,
    probe_registry,
    safe_url,
)
from a2actl.exporter.probe import ProbeResult


def _samples(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out.setdefault(s.name, []).append((dict(s.labels), s.value))
    return out


OK = ProbeResult(
    True,
    0.05,
    phases={"connect": 0.001, "ttfb": 0.002, "parse": 0.0005, "negotiate": 0.0001, "rpc": 0.01},
    handshake=0.0136,
    version="1.0",
    binding="JSONRPC",
    declared_versions=("1.0", "0.3"),
    card_shape="hybrid",
)
DEAD = ProbeResult(False, 0.002, cause="refused", error_code="refused", failed_phase="card", message="x")


def test_a_successful_probe() -> None:
    body, ctype = encode(probe_registry(OK), None)
    assert ctype.startswith("text/plain")
    s = _samples(body.decode())
    assert s["probe_success"] == [({}, 1.0)]
    assert s["probe_duration_seconds"] == [({}, 0.05)]
    assert {lab["phase"]: v for lab, v in s["a2a_probe_phase_seconds"]} == OK.phases
    assert s["a2a_probe_handshake_duration_seconds"] == [({}, 0.0136)]
    assert s["a2a_probe_info"] == [
        (
            {"version": "1.0", "binding": "JSONRPC", "declared_versions": "1.0,0.3", "card_shape": "hybrid"},
            1.0,
        )
    ]
    assert "probe_failure_info" not in s and "a2a_probe_task_duration_seconds" not in s


def test_a_failed_probe() -> None:
    s = _samples(encode(probe_registry(DEAD), None)[0].decode())
    assert s["probe_success"] == [({}, 0.0)]
    assert s["probe_failure_info"] == [({"cause": "refused", "error_code": "refused", "phase": "card"}, 1.0)]
    assert "a2a_probe_info" not in s and "a2a_probe_phase_seconds" not in s


def test_openmetrics_when_prometheus_asks_for_it() -> None:
    accept = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"
    body, ctype = encode(probe_registry(OK), accept)
    assert ctype.startswith("application/openmetrics-text")
    fams = {f.name: f for f in parse_openmetrics(body.decode())}
    assert fams["a2a_probe"].type == "info" and fams["probe_success"].samples[0].value == 1


AGENTS: list[tuple[str, str, dict[str, str]]] = [
    ("alpha", "http://127.0.0.1:1", {"team": "payments", "region": "eu"}),
    (
        "http://user:pa55word@10.0.0.2:9999/?token=qs-s3cret-value",
        "http://user:pa55word@10.0.0.2:9999/?token=qs-s3cret-value",
        {"team": "search"},
    ),
]


def test_inventory_metrics_observe_and_count() -> None:
    m = ExporterMetrics("9.9.9")
    inv = m.add_inventory(AGENTS, sends=True)
    text = encode(m.registry, None)[0].decode()
    s = _samples(text)
    # every agent's histogram exists from the start, empty; no agent_up before the first probe
    counts = {lab["agent"]: v for lab, v in s["a2a_handshake_duration_seconds_count"]}
    assert counts == {"alpha": 0.0, "http://10.0.0.2:9999/?token=***": 0.0}
    assert "a2a_agent_up" not in s
    assert s["a2actl_exporter_build_info"] == [({"version": "9.9.9"}, 1.0)]
    inv.observe(0, OK)
    inv.observe(0, OK)
    inv.observe(1, DEAD)
    ok_send = ProbeResult(True, 0.3, handshake=1.2, task=0.25, version="0.3", binding="JSONRPC")
    inv.observe(0, ok_send)
    s = _samples(encode(m.registry, None)[0].decode())
    alpha = {"agent": "alpha", "url": "http://127.0.0.1:1", "team": "payments", "region": "eu"}
    count = {tuple(sorted(lab.items())): v for lab, v in s["a2a_handshake_duration_seconds_count"]}
    assert count[tuple(sorted(alpha.items()))] == 3.0
    buckets = {
        lab["le"]: v for lab, v in s["a2a_handshake_duration_seconds_bucket"] if lab["agent"] == "alpha"
    }
    assert (
        buckets["0.025"] == 2.0 and buckets["1.0"] == 2.0 and buckets["1.5"] == 3.0 and buckets["+Inf"] == 3.0
    )
    assert [float(le) for le in buckets if le != "+Inf"] == list(HANDSHAKE_BUCKETS)
    assert {lab["agent"]: v for lab, v in s["a2a_task_duration_seconds_count"]}["alpha"] == 1.0
    errors = s["a2a_errors_total"]
    assert [(lab["agent"], lab["error_code"], lab["team"], lab["region"], v) for lab, v in errors] == [
        ("http://10.0.0.2:9999/?token=***", "refused", "search", "", 1.0)
    ]
    up = {lab["agent"]: v for lab, v in s["a2a_agent_up"]}
    assert up == {"alpha": 1.0, "http://10.0.0.2:9999/?token=***": 0.0}
    assert [(lab["agent"], lab["version"]) for lab, _ in s["a2a_agent_info"]] == [("alpha", "0.3")]
    assert "pa55word" not in text and "user@" not in text and "qs-s3cret-value" not in text
    assert not any(name.endswith("_created") for name in s)


def test_rounds_are_counted() -> None:
    m = ExporterMetrics("1")
    inv = m.add_inventory(AGENTS[:1], sends=False)
    inv.round_done(0.5, overrun=False)
    inv.round_done(40.0, overrun=True)
    s = _samples(encode(m.registry, None)[0].decode())
    assert s["a2actl_exporter_inventory_rounds_total"] == [({}, 2.0)]
    assert s["a2actl_exporter_inventory_round_overruns_total"] == [({}, 1.0)]
    assert s["a2actl_exporter_inventory_round_duration_seconds"] == [({}, 40.0)]
    assert s["a2actl_exporter_inventory_agents"] == [({}, 1.0)]
    assert "a2a_task_duration_seconds_count" not in s  # no send check in the module


def test_probes_served_are_counted() -> None:
    m = ExporterMetrics("1")
    m.probed("default", OK)
    m.probed("default", DEAD)
    m.rejected.labels("unknown_module").inc()
    s = _samples(encode(m.registry, None)[0].decode())
    assert sorted((lab["result"], v) for lab, v in s["a2actl_exporter_probes_total"]) == [
        ("failure", 1.0),
        ("success", 1.0),
    ]
    assert s["a2actl_exporter_probe_failures_total"] == [({"module": "default", "cause": "refused"}, 1.0)]
    assert s["a2actl_exporter_requests_rejected_total"] == [({"reason": "unknown_module"}, 1.0)]
    assert "process_resident_memory_bytes" in s or "python_info" in s


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        ({"team-name": "x"}, "'team-name' is not a Prometheus label name"),
        ({"__meta": "x"}, "'__meta' is not a Prometheus label name"),
        ({"agent": "x"}, "'agent' is one the exporter sets itself"),
        ({"le": "x"}, "'le' is one the exporter sets itself"),
        ({"error_code": "x"}, "'error_code' is one"),
    ],
)
def test_bad_inventory_labels(labels: dict[str, str], message: str) -> None:
    with pytest.raises(UsageError) as info:
        label_names([("a", "http://a", {}), ("b", "http://b", labels)])
    assert message in info.value.message and "'b'" in info.value.message


def test_label_names_are_the_union() -> None:
    assert label_names([("a", "u", {"team": "x"}), ("b", "u", {"region": "y", "team": "z"})]) == [
        "region",
        "team",
    ]


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://127.0.0.1:9999", "http://127.0.0.1:9999"),
        ("https://bob:hunter2-pw@agent.example/a2a", "https://agent.example/a2a"),
        ("https://t0ken-only-user@agent.example/", "https://agent.example/"),
        ("https://agent.example/card?api_key=k3y-value-1&x=1", "https://agent.example/card?api_key=***&x=1"),
    ],
)
def test_safe_url(url: str, shown: str) -> None:
    assert safe_url(url) == shown


def test_families_parse_as_their_types() -> None:
    m = ExporterMetrics("1")
    m.add_inventory(AGENTS[:1], sends=True)
    fams: dict[str, Any] = {
        f.name: f for f in text_string_to_metric_families(encode(m.registry, None)[0].decode())
    }
    assert fams["a2a_handshake_duration_seconds"].type == "histogram"
    assert fams["a2a_task_duration_seconds"].type == "histogram"
    assert fams["a2a_errors"].type == "counter"


@pytest.mark.parametrize(
    "urls",
    [
        ("http://10.0.0.9:9999", "http://user:pa55-word@10.0.0.9:9999"),
        ("http://10.0.0.9:9999/?token=first-s3cret", "http://10.0.0.9:9999/?token=second-s3cret"),
    ],
)
def test_agents_whose_series_labels_coincide_are_refused(urls: tuple[str, str]) -> None:
    # distinct inventory agents whose labels are equal once userinfo and secrets are masked: one
    # histogram took both agents' observations and a2a_agent_up was repeated
    agents = [("other", "http://10.0.0.8", {}), *((u, u, {}) for u in urls)]
    with pytest.raises(UsageError) as info:
        ExporterMetrics("1.0").add_inventory(agents, sends=False)
    assert info.value.message.startswith("inventory agents #2 and #3 get the same series labels")
    assert "pa55" not in info.value.message and "s3cret" not in info.value.message
    # named apart, or labelled apart, they are two series
    named = [("other", "http://10.0.0.8", {}), *((f"agent-{i}", u, {}) for i, u in enumerate(urls))]
    m = ExporterMetrics("1.0")
    m.add_inventory(named, sends=False)
    assert len(_samples(encode(m.registry, None)[0].decode())["a2a_handshake_duration_seconds_count"]) == 3
