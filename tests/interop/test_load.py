"""``a2actl load run`` against the interop agents (a2a-sdk 0.3.26, @a2a-js/sdk 1.3.0, with and without
0.3 compatibility), each binding and version the agent speaks: every request answered ok, the
tasks completed, and the agent received exactly the requests a2actl reports, with the method names
of the negotiated version (from its own ``/debug/requests`` log, not from a2actl's output)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.interop.conftest import InteropAgent

#: (fixture, binding, forced version, the JSON-RPC method of a send / stream in that version)
CASES = [
    ("agent_sdk03", "JSONRPC", "0.3"),
    ("agent_sdk03_rest", "HTTP+JSON", "0.3"),
    ("agent_js", "JSONRPC", "1.0"),
    ("agent_js", "HTTP+JSON", "1.0"),
    ("agent_js_compat", "JSONRPC", "0.3"),
    ("agent_js_compat", "HTTP+JSON", "1.0"),
]
METHODS = {
    ("0.3", "send"): "message/send",
    ("0.3", "stream"): "message/stream",
    ("1.0", "send"): "SendMessage",
    ("1.0", "stream"): "SendStreamingMessage",
}
PATHS = {
    ("0.3", "send"): "/v1/message:send",
    ("0.3", "stream"): "/v1/message:stream",
    ("1.0", "send"): "/message:send",
    ("1.0", "stream"): "/message:stream",
}


@pytest.mark.parametrize(("fixture", "binding", "version"), CASES)
@pytest.mark.parametrize("scenario", ["send", "stream"])
def test_load_run_on_interop_agents(
    cli: Any, request: pytest.FixtureRequest, fixture: str, binding: str, version: str, scenario: str
) -> None:
    agent: InteropAgent = request.getfixturevalue(fixture)
    agent.clear_requests()
    r = cli(
        "-o", "json", "--binding", binding, "--a2a-version", version,
        "load", "run", agent.url, "-s", scenario, "-n", "6", "-c", "2", "--threshold", "errors<1%",
    )  # fmt: skip
    assert r.exit_code == 0, (r.stderr, r.stdout[:3000])
    doc = r.json
    assert doc["negotiated"]["protocolBinding"] == binding
    assert doc["negotiated"]["protocolVersion"] == version
    assert doc["requests"] == {
        "scheduled": 6,
        "sent": 6,
        "ok": 6,
        "failures": 0,
        "dropped": 0,
        "cancelled": 0,
    }
    assert doc["states"] == {"completed": 6}
    if scenario == "stream":
        assert doc["metrics"]["ttfe"]["count"] == 6
        assert doc["metrics"]["terminal"]["count"] == 6
    # what the agent received: six sends of the negotiated version, nothing else but the card
    received = [e for e in agent.requests() if not e["path"].startswith("/.well-known/")]
    if binding == "JSONRPC":
        assert [e["rpc_method"] for e in received] == [METHODS[(version, scenario)]] * 6
    else:
        assert [e["path"] for e in received] == [
            agent.rest_url.removeprefix(agent.url) + PATHS[(version, scenario)]
        ] * 6
    headers = {e["a2a_version"] for e in received}
    assert headers == ({"1.0"} if version == "1.0" else {None})
