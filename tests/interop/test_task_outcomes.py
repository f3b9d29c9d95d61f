"""Every command that reports a task's end agrees on it, on real agents of other SDKs: ``send``
(blocking and ``--stream``), ``stream tail --send``, ``task get`` and ``handshake probe --send``
give the same state and the agent's status message for a task that ended ``failed`` or
``rejected``, with the exit codes of docs/exit-codes.md (``send``/``stream``/``task get`` 0 without
``--fail-on``; ``handshake probe --send`` 7)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest

from tests.interop.conftest import InteropAgent
from tests.load.test_locust import _check_no_crash, _failures, _finish, _locust, _stats

CASES = [
    ("/fail", "failed", "failed on request (/fail)"),
    ("/reject", "rejected", "rejected on request (/reject)"),
]
#: (agent fixture, --binding, --a2a-version): the 0.3 SDK on both bindings, the JS SDK in 1.0 and in
#: 0.3 (legacyCompat) on both.
CELLS = [
    ("agent_sdk03", "JSONRPC", "0.3"),
    ("agent_sdk03", "HTTP+JSON", "0.3"),
    ("agent_js_compat", "JSONRPC", "1.0"),
    ("agent_js_compat", "HTTP+JSON", "1.0"),
    ("agent_js_compat", "JSONRPC", "0.3"),
    ("agent_js_compat", "HTTP+JSON", "0.3"),
]


@pytest.mark.parametrize(
    ("fixture", "binding", "version"), CELLS, ids=["-".join(c[:2]) + c[2] for c in CELLS]
)
@pytest.mark.parametrize(("text", "state", "reason"), CASES, ids=[c[1] for c in CASES])
def test_every_command_reports_the_same_end_and_reason(
    cli: Any,
    request: pytest.FixtureRequest,
    fixture: str,
    binding: str,
    version: str,
    text: str,
    state: str,
    reason: str,
) -> None:
    """The stream commands said `failed` without the agent's reason (no status message in their JSON
    or table), where `send` and `task get` showed it: one task, two stories."""
    agent: InteropAgent = request.getfixturevalue(fixture)
    flags = ["--binding", binding, "--a2a-version", version]
    sent = cli("send", agent.url, text, "-o", "json", *flags)
    assert sent.exit_code == 0, sent.stdout[-600:]
    assert (sent.json["state"], sent.json["result"]["statusMessage"]) == (state, reason)

    got = cli("task", "get", agent.url, sent.json["taskId"], "-o", "json", *flags)
    assert got.exit_code == 0, got.stdout[-600:]
    assert (got.json["task"]["state"], got.json["task"]["statusMessage"]) == (state, reason)

    streamed = cli("send", "--stream", agent.url, text, "-o", "json", *flags)
    assert streamed.exit_code == 0, streamed.stdout[-600:]
    assert (streamed.json["outcome"], streamed.json["state"], streamed.json["statusMessage"]) == (
        "completed",
        state,
        reason,
    )

    tail = cli("stream", "tail", agent.url, "--send", text, *flags)  # the table an operator reads
    assert tail.exit_code == 0 and reason in tail.stdout and f"task {state}" in tail.stdout, tail.stdout[
        -800:
    ]

    probe = cli("handshake", "probe", agent.url, "--send", text, "-o", "json", *flags)
    assert probe.exit_code == 7, probe.stdout[-600:]
    sample = probe.json["samples"][0]
    assert sample["ok"] is False and (sample["send"]["finalState"], sample["send"]["statusMessage"]) == (
        state,
        reason,
    )
    assert sample["error"]["code"] == "check_failed" and reason in sample["error"]["message"]


@pytest.mark.parametrize("binding", ["JSONRPC", "HTTP+JSON"])
@pytest.mark.parametrize(
    ("text", "state", "reason"),
    [("/auth", "auth-required", "sign in first"), ("/input", "input-required", "more input, please")],
    ids=["auth", "input"],
)
def test_a_task_that_waits_for_the_client_ends_every_stream_in_03(
    cli: Any, agent_js_compat: InteropAgent, binding: str, text: str, state: str, reason: str
) -> None:
    """@a2a-js/sdk's 0.3 compatibility (JSON-RPC) sends auth-required without ``final: true`` and
    keeps the stream open: ``stream tail --send`` and ``send --stream`` waited for a close that
    never came, to --max-time (exit 5, after an hour by default), where ``send``, ``task get`` and
    ``handshake probe --send`` said auth-required (exit 0). Every command now ends there."""
    flags = ["--binding", binding, "--a2a-version", "0.3", "--max-time", "15"]
    url = agent_js_compat.url
    sent = cli("send", url, text, "-o", "json", *flags)
    assert sent.exit_code == 0 and (sent.json["state"], sent.json["result"]["statusMessage"]) == (
        state,
        reason,
    )
    for command in (["send", "--stream", url, text], ["stream", "tail", url, "--send", text]):
        r = cli(*command, "-o", "json", *flags)
        assert r.exit_code == 0, r.stdout[-600:]
        doc = r.json
        end = (doc.get("state") or doc.get("finalState"), doc["statusMessage"], doc["outcome"])
        assert end == (state, reason, "completed"), doc
    probe = cli("handshake", "probe", url, "--send", text, "-o", "json", *flags)
    assert probe.exit_code == 0 and probe.json["samples"][0]["send"]["finalState"] == state


def test_load_run_stream_ends_at_a_03_state_that_waits_for_the_client(
    cli: Any, agent_js_compat: InteropAgent
) -> None:
    """``load run -s stream`` on the same @a2a-js/sdk 0.3 stream (auth-required without
    ``final: true``, left open): every request waited for the close until ``--timeout`` and was
    counted a timeout; it now ends at that state, counted ok with its state, as stream tail does."""
    r = cli(
        "-o", "json", "load", "run", agent_js_compat.url, "-s", "stream", "--text", "/auth", "-n", "3",
        "-c", "1", "--a2a-version", "0.3", "--timeout", "5s", "--no-progress",
    )  # fmt: skip
    assert r.exit_code == 0, r.stdout[-600:]
    doc = r.json
    assert doc["requests"]["ok"] == 3 and doc["requests"]["failures"] == 0
    assert doc["states"] == {"auth-required": 3}
    assert doc["metrics"]["latency"]["max"] < 5


AUTH_LOCUSTFILE = """
from locust import task

from a2actl.load.locust import A2AUser


class Auth03(A2AUser):
    host = "{url}"
    a2a_version = "0.3"
    text = "/auth"
    network_timeout = 30.0

    @task
    def stream(self):
        self.a2a_stream()
"""


@pytest.mark.skipif(importlib.util.find_spec("locust") is None, reason="locust is not installed")
def test_the_locust_stream_task_ends_at_a_03_state_that_waits_for_the_client(
    agent_js_compat: InteropAgent, tmp_path: Path
) -> None:
    """The Locust plugin's ``a2a_stream`` on the same @a2a-js/sdk 0.3 stream (auth-required without
    ``final: true``, left open) read to the close: no stream ended within the run (each waited for
    ``network_timeout``). It now ends at that state, a success, as ``load run -s stream`` does, and
    the connection left unread is closed, not reused for the next stream."""
    (tmp_path / "locustfile.py").write_text(AUTH_LOCUSTFILE.format(url=agent_js_compat.url))
    prefix = tmp_path / "auth"
    proc = _locust(
        *("-f", "locustfile.py", "--headless", "-u", "2", "-r", "2", "-t", "4s"),
        *("--csv", str(prefix), "--only-summary"),
        cwd=tmp_path,
    )
    code, output = _finish(proc, timeout=60)
    assert code == 0, output[-3000:]
    _check_no_crash(output, prefix)
    assert _failures(prefix) == {}
    row = _stats(prefix)[("A2A", "SendStreamingMessage (JSONRPC 0.3)")]
    assert int(row["Request Count"]) >= 4 and int(row["Failure Count"]) == 0


def test_push_listen_says_when_the_card_declares_no_push_notifications(
    cli: Any, agent_js_compat: InteropAgent
) -> None:
    """@a2a-js/sdk's card declares ``pushNotifications: false`` and the agent accepts a push config
    in the send and drops it: ``push listen --register --send`` waited for --max-time (an hour by
    default) without a word. It now says why pushes may never come (stderr and
    ``registration.warnings``); the listen still ends at --max-time, exit 5."""
    r = cli(
        "push", "listen", "--register", agent_js_compat.url, "--send", "hi", "--max-time", "2",
        "-o", "json",
    )  # fmt: skip
    assert r.exit_code == 5, r.stdout[-600:] + r.stderr[-600:]
    warnings = r.json["registration"]["warnings"]
    assert any("capabilities.pushNotifications" in w for w in warnings), warnings
    assert "warning: the card does not declare capabilities.pushNotifications" in r.stderr
