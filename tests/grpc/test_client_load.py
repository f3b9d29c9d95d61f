"""``load run --binding GRPC`` (#18 stretch): every scenario over the sandbox's gRPC interface (one
grpc.aio channel per run; the card scenario stays on HTTP), and failures counted by class."""

from __future__ import annotations

import pytest

GRPC = ("--binding", "GRPC")


@pytest.mark.parametrize("scenario", ["send", "stream", "get", "card"])
def test_load_scenarios_over_grpc(cli, sandbox_grpc, scenario: str):
    r = cli(
        "load", "run", sandbox_grpc.url, "--scenario", scenario, "-n", "20", "-c", "4", *GRPC, "-o", "json"
    )
    assert r.exit_code == 0, r.stderr
    doc = r.json
    assert doc["negotiated"]["protocolBinding"] == "GRPC"
    assert doc["client"]["grpc"] == "grpcio"
    assert (doc["requests"]["sent"], doc["requests"]["ok"], doc["errors"]) == (20, 20, [])
    if scenario in ("send", "stream", "get"):
        assert doc["bytes"] > 0  # protobuf bytes of the answers
    if scenario == "stream":
        assert doc["states"] == {"completed": 20} and doc["events"] >= 20 * 3


def test_load_handshake_over_grpc_has_the_grpc_phases(cli, sandbox_grpc):
    r = cli("load", "run", sandbox_grpc.url, "--scenario", "handshake", "-n", "3", *GRPC, "-o", "json")
    assert r.exit_code == 0, r.stderr
    assert {"phase.grpc_dns", "phase.grpc_ready", "phase.rpc"} <= set(r.json["metrics"])
    assert r.json["requests"]["ok"] == 3


def test_load_failures_over_grpc_are_counted_by_class(cli, sandbox_grpc_down):
    r = cli("load", "run", sandbox_grpc_down.url, "--scenario", "send", "-n", "6", *GRPC, "-o", "json")
    assert r.exit_code == 0, r.stderr  # no threshold: failures are counted, not an exit status
    [err] = r.json["errors"]
    assert (err["status"], err["code"], err["count"]) == ("transport-error", "unreachable", 6)
    assert "UNAVAILABLE" in err["example"]
    failing = cli(
        "load", "run", sandbox_grpc_down.url, "-n", "6", *GRPC, "--threshold", "errors<1%", "-o", "json"
    )
    assert failing.exit_code == 7
