"""``handshake probe --binding GRPC`` (#18): the card over HTTP as before, then the gRPC phases
(grpc_dns, grpc_ready, rpc) against the sandbox's gRPC interface and a plain a2a-sdk gRPC agent."""

from __future__ import annotations

from tests.conftest import TOKEN

GRPC = ("--binding", "GRPC")
CARD_PHASES = {"dns", "connect", "tls", "ttfb", "transfer", "parse", "negotiate"}


def test_probe_over_grpc_times_the_grpc_phases(cli, sandbox_grpc):
    r = cli("handshake", "probe", sandbox_grpc.url, *GRPC, "-n", "2", "-o", "json")
    assert r.exit_code == 0, r.stderr
    doc = r.json
    assert doc["negotiation"]["protocolBinding"] == "GRPC"
    assert doc["negotiation"]["url"] == sandbox_grpc.grpc_url
    for s in doc["samples"]:
        assert s["ok"] is True
        assert CARD_PHASES | {"grpc_dns", "grpc_ready", "rpc"} <= set(s["phases"])
        assert list(s["phases"])[-3:] == ["grpc_dns", "grpc_ready", "rpc"]
        rpc = s["rpc"]
        assert rpc["method"] == "/lf.a2a.v1.A2AService/GetTask"
        assert (rpc["grpcStatus"], rpc["error"]["code"], rpc["healthy"]) == ("NOT_FOUND", -32001, True)
        assert rpc["grpc"]["target"] == sandbox_grpc.grpc_url and rpc["grpc"]["tls"] is False
        assert "grpc_ready" in rpc["grpc"]["notMeasured"]


def test_probe_rpc_phase_holds_the_first_rpc_delay(cli, sandbox_grpc_slow):
    """The sandbox delays the first RPC of each gRPC connection by 0.3 s: that is in ``rpc`` (the
    channel's own connect, grpc_ready, is not delayed)."""
    r = cli("handshake", "probe", sandbox_grpc_slow.url, *GRPC, "-o", "json")
    assert r.exit_code == 0, r.stderr
    [s] = r.json["samples"]
    assert s["phases"]["rpc"] >= 0.3
    assert s["phases"]["grpc_ready"] < s["phases"]["rpc"]


def test_probe_send_over_grpc(cli, sandbox_grpc):
    r = cli("handshake", "probe", sandbox_grpc.url, *GRPC, "--send", "hi", "-o", "json")
    assert r.exit_code == 0, r.stderr
    [s] = r.json["samples"]
    assert {"first_event", "terminal"} <= set(s["phases"])
    assert s["send"]["method"] == "/lf.a2a.v1.A2AService/SendStreamingMessage"
    assert (s["send"]["finalState"], s["send"]["streaming"]) == ("completed", True)


def test_probe_unauthenticated_is_exit_4(cli, sandbox_grpc_auth):
    r = cli("handshake", "probe", sandbox_grpc_auth.url, *GRPC, "-o", "json")
    assert r.exit_code == 4
    [s] = r.json["samples"]
    assert (s["failedPhase"], s["errorClass"]) == ("rpc", "auth")
    ok = cli("handshake", "probe", sandbox_grpc_auth.url, *GRPC, "-o", "json", env={"A2ACTL_TOKEN": TOKEN})
    assert ok.exit_code == 0, ok.stderr
    assert TOKEN not in ok.stdout


def test_probe_unavailable_is_exit_3(cli, sandbox_grpc_down):
    r = cli("handshake", "probe", sandbox_grpc_down.url, *GRPC, "-o", "json")
    assert r.exit_code == 3
    [s] = r.json["samples"]
    assert s["failedPhase"] == "rpc" and s["error"]["details"]["grpcStatus"] == "UNAVAILABLE"


def test_probe_plain_sdk_agent_over_tls(cli, sdk_grpc_agent_tls):
    r = cli(
        "handshake",
        "probe",
        sdk_grpc_agent_tls.url,
        *GRPC,
        "--cacert",
        sdk_grpc_agent_tls.ca_path,
        "-o",
        "json",
    )
    assert r.exit_code == 0, r.stderr
    [s] = r.json["samples"]
    assert s["rpc"]["grpc"]["tls"] is True and s["rpc"]["healthy"] is True


def test_probe_grpc_port_closed_fails_in_grpc_ready(cli, sdk_grpc_agent_tls):
    """Plaintext to the TLS port (no --cacert: a bare host:port is plaintext): the channel never gets
    READY, the sample fails in grpc_ready with exit 3."""
    r = cli("handshake", "probe", sdk_grpc_agent_tls.url, *GRPC, "--connect-timeout", "3", "-o", "json")
    assert r.exit_code == 3
    [s] = r.json["samples"]
    assert s["failedPhase"] == "grpc_ready"


def test_probe_reuse_over_grpc_shares_one_channel(cli, sandbox_grpc_slow):
    """--reuse: one channel for every sample. The sandbox delays the first RPC of each connection by
    0.3 s, so only the first sample pays it; later samples resolve nothing (grpc_dns 0)."""
    r = cli("handshake", "probe", sandbox_grpc_slow.url, *GRPC, "--reuse", "-n", "3", "-o", "json")
    assert r.exit_code == 0, r.stderr
    first, *rest = r.json["samples"]
    assert first["phases"]["rpc"] >= 0.3
    for s in rest:
        assert s["phases"]["grpc_dns"] == 0.0
        assert s["phases"]["rpc"] < 0.3


def test_a_sample_that_cannot_be_made_as_asked_is_exit_2_not_a_healthy_probe(cli, sandbox_grpc):
    """A header gRPC metadata cannot carry fails every sample with a usage error: failures count it
    (class usage) and the probe is exit 2. The class was missing from the failure classes, so the
    failed samples counted for nothing and the probe was exit 0."""
    r = cli("handshake", "probe", sandbox_grpc.url, *GRPC, "-n", "2", "-H", "X-Tab: a\tb", "-o", "json")
    assert r.exit_code == 2, r.stdout
    doc = r.json
    assert doc["failures"] == {"usage": 2}
    assert doc["exitCode"] == 2
    assert all(s["ok"] is False and s["error"]["code"] == "usage" for s in doc["samples"])
