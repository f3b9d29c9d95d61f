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


def test_load_over_grpc_tls_with_cacert(cli, sdk_grpc_agent_tls):
    ca = ("--cacert", sdk_grpc_agent_tls.ca_path)
    r = cli("load", "run", sdk_grpc_agent_tls.url, "-n", "4", "-c", "2", *GRPC, *ca, "-o", "json")
    assert r.exit_code == 0, r.stderr
    assert (r.json["requests"]["ok"], r.json["errors"]) == (4, [])


@pytest.mark.parametrize(
    ("options", "says"),
    [
        (("--insecure",), "--insecure cannot be honoured over gRPC"),
        (("--key", "/nonexistent-key.pem"), "--key needs --cert"),
    ],
)
@pytest.mark.parametrize("scenario", ["send", "stream", "handshake"])
def test_load_grpc_options_that_cannot_work_are_exit_2_before_the_run(
    cli, sdk_grpc_agent_tls, options, says, scenario
):
    """TLS options grpcio cannot honour are exit 2 before the run, as for the other commands;
    --insecure was a usage error counted for every request of the run (transport-error 'usage',
    exit 0)."""
    ca = ("--cacert", sdk_grpc_agent_tls.ca_path)
    r = cli(
        "load", "run", sdk_grpc_agent_tls.url, "-s", scenario, "-n", "3", *GRPC, *ca, *options, "-o", "json"
    )
    assert r.exit_code == 2, r.stdout
    assert r.json["error"]["code"] == "usage" and says in r.json["error"]["message"]
