"""The README's dead-letter story on RabbitMQ: ``sandbox serve --dlq amqp://…`` dead-letters through
the broker (work queue -> rejected -> DLQ with ``x-death``), ``dlq list`` shows it, a fixed sandbox
gets the messages back by ``dlq replay`` (to the agent) or ``--to-broker`` (its work-queue consumer)."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from a2actl.server.sandbox.options import SandboxOptions
from a2actl.server.sandbox.server import RunningSandbox
from tests.amqp.conftest import Broker, journal


@pytest.fixture
def dlq(broker: Broker, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("A2ACTL_AMQP_PASSWORD", broker.password)
    return f"{broker.base}?queue=sb{uuid.uuid4().hex[:8]}.dlq"


def _die(cli: Any, dlq: str, n: int) -> tuple[RunningSandbox, list[str]]:
    broken = RunningSandbox(SandboxOptions(stream_interval=0.005, dlq=dlq, worker_fault="transient")).start()
    mids = [f"rmq-{uuid.uuid4().hex[:6]}-{i}" for i in range(n)]
    for m in mids:
        r = httpx.post(
            broken.url + "/a2a/queue",
            json={"message": {"messageId": m, "role": "ROLE_USER", "parts": [{"text": m}]}},
        )
        assert r.status_code == 202
    deadline = time.monotonic() + 15
    while cli("dlq", "stats", dlq, "-o", "json").json["depth"] < n:
        assert time.monotonic() < deadline, "messages did not die"
        time.sleep(0.1)
    return broken, mids


def test_sandbox_dead_letters_through_rabbitmq_and_replay_fixes(cli: Any, dlq: str, tmp_path: Path) -> None:
    broken, mids = _die(cli, dlq, 3)
    try:
        doc = cli("dlq", "list", dlq, "-o", "json").json
        assert sorted(e["messageId"] for e in doc["entries"]) == sorted(mids)
        assert all(e["attempts"] == 3 and e["errorClass"] == "transient" for e in doc["entries"])
        shown = cli("dlq", "show", dlq, doc["entries"][0]["id"], "-o", "json").json
        work = dlq.split("queue=")[1] + ".work"
        assert shown["amqp"]["firstDeath"]["reason"] == "rejected"
        assert shown["amqp"]["firstDeath"]["queue"] == work
    finally:
        broken.stop()
    fixed = RunningSandbox(SandboxOptions(stream_interval=0.005, dlq=dlq)).start()
    try:
        r = cli(
            "dlq", "replay", dlq, "--to", fixed.url, "--yes", "--journal", journal(tmp_path), "-o", "json"
        )
        assert r.exit_code == 0 and r.json["acknowledged"] == 3, r.stdout + r.stderr
        got = httpx.get(fixed.url + "/debug/a2a/received").json()["messages"]
        assert all(got[m]["processed"] == 1 for m in mids)
        assert cli("dlq", "stats", dlq, "-o", "json").json["depth"] == 0
    finally:
        fixed.stop()


def test_sandbox_story_with_to_broker(cli: Any, dlq: str, tmp_path: Path) -> None:
    broken, mids = _die(cli, dlq, 3)
    broken.stop()
    fixed = RunningSandbox(SandboxOptions(stream_interval=0.005, dlq=dlq)).start()
    try:
        r = cli("dlq", "replay", dlq, "--to-broker", "--yes", "--journal", journal(tmp_path), "-o", "json")
        assert r.exit_code == 0 and r.json["acknowledged"] == 3, r.stdout + r.stderr
        deadline = time.monotonic() + 10
        while True:  # the fixed sandbox's consumer of the work queue processes them
            got = httpx.get(fixed.url + "/debug/a2a/received").json()["messages"]
            if all(m in got and got[m]["processed"] == 1 for m in mids):
                break
            assert time.monotonic() < deadline, got
            time.sleep(0.05)
        assert cli("dlq", "stats", dlq, "-o", "json").json["depth"] == 0
    finally:
        fixed.stop()


def test_sandbox_refuses_an_unreachable_broker(
    cli: Any, refused_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("A2ACTL_AMQP_PASSWORD", "guest")
    port = refused_url.rsplit(":", 1)[1].split("/")[0]
    r = cli("sandbox", "serve", "--port", "0", "--dlq", f"amqp://guest@127.0.0.1:{port}/?queue=x")
    assert r.exit_code == 3, r.stdout + r.stderr
