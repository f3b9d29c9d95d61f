"""Issue 19, Amazon SQS: ``a2actl dlq`` on an SQS dead-letter queue filled by a real redrive policy
(``maxReceiveCount``) on a real SQS-compatible server on loopback (moto), replayed into the real
a2a-sdk sandbox agent, which counts deliveries per messageId (``/debug/a2a/received``)."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cli.test_dlq import entries_for
from tests.sqs.conftest import REGION, Queues, make_queues


def deliveries(sb: Any, mids: list[str]) -> dict[str, int]:
    got = httpx.get(sb.url + "/debug/a2a/received").json()["messages"]
    return {m: got.get(m, {}).get("deliveries", 0) for m in mids}


def mids_of(es: list[dict[str, Any]]) -> list[str]:
    return [e["request"]["params"]["message"]["messageId"] for e in es]


def filled(q: Queues, sb_url: str, n: int) -> list[dict[str, Any]]:
    es = entries_for(sb_url, n)
    q.send(es)
    q.dead_letter(n)
    return es


def test_redrive_fills_the_dlq_and_list_leaves_every_message(cli: Any, queues: Queues, sandbox: Any) -> None:
    es = filled(queues, sandbox.url, 5)
    r = cli("dlq", "list", queues.src(), "--endpoint-url", queues.endpoint, "-o", "json")
    assert r.exit_code == 0, r.stderr
    doc = r.json
    assert doc["count"] == 5 and doc["invalid"]["count"] == 0
    assert sorted(row["messageId"] for row in doc["entries"]) == sorted(mids_of(es))
    # ApproximateReceiveCount less this read: the two receives of the failing consumer
    assert {row["attempts"] for row in doc["entries"]} == {queues.max_receive}
    assert {row["target"] for row in doc["entries"]} == {sandbox.url + "/a2a/jsonrpc"}
    # the listing gave every message back: all visible again, none deleted, none delivered
    assert queues.depth() == {"messages": 5, "notVisible": 0}
    assert deliveries(sandbox, mids_of(es)) == {m: 0 for m in mids_of(es)}
    again = cli("dlq", "list", queues.src(), "--endpoint-url", queues.endpoint, "-o", "json").json
    assert sorted(row["id"] for row in again["entries"]) == sorted(row["id"] for row in doc["entries"])
    # SQS cannot list without receiving: each listing counts as one more receive (documented)
    assert {row["attempts"] for row in again["entries"]} == {queues.max_receive + 1}


def test_show_stats_and_jsonl(cli: Any, queues: Queues, sandbox: Any) -> None:
    es = filled(queues, sandbox.url, 3)
    ep = ("--endpoint-url", queues.endpoint)
    rows = cli("dlq", "list", queues.src(), *ep, "-o", "jsonl").jsonl
    assert len(rows) == 3
    shown = cli("dlq", "show", queues.src(), rows[0]["id"], *ep, "-o", "json")
    assert shown.exit_code == 0, shown.stderr
    e = shown.json
    assert e["id"] == rows[0]["id"] == e["sqs"]["messageId"]
    assert e["request"]["params"]["message"]["messageId"] in mids_of(es)
    assert e["entryId"] in {x["id"] for x in es}  # the producer's own id, kept beside the MessageId
    assert e["sqs"]["receiveCount"] == queues.max_receive + 2  # + the listing + this read
    assert isinstance(e["sqs"]["sentTimestamp"], int)
    assert e["enqueuedAt"].endswith("Z")
    assert e["lastError"] == es[0]["lastError"]  # the body's, no a2a.error attribute given
    missing = cli("dlq", "show", queues.src(), "no-such-message", *ep, "-o", "json")
    assert missing.exit_code == 1 and "no dead letter" in missing.json["error"]["message"]
    st = cli("dlq", "stats", queues.src(), *ep, "-o", "json")
    assert st.exit_code == 0, st.stderr
    assert st.json["depth"] == 3
    assert st.json["broker"] == {"messages": 3, "notVisible": 0, "delayed": 0}
    assert st.json["byTarget"] == [{"target": sandbox.url + "/a2a/jsonrpc", "count": 3}]
    assert queues.depth() == {"messages": 3, "notVisible": 0}


def test_bare_jsonrpc_bodies_with_attributes(cli: Any, queues: Queues, sandbox: Any) -> None:
    mid = "bare-" + uuid.uuid4().hex[:6]
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "SendMessage",
        "params": {"message": {"messageId": mid, "role": "ROLE_USER", "parts": [{"text": "hi"}]}},
    }
    err = json.dumps({"code": 503, "message": "inventory down", "class": "transient"})
    queues.send([body], **{"a2a.target": sandbox.url + "/a2a/jsonrpc", "a2a.error": err})
    queues.dead_letter(1)
    rows = cli("dlq", "list", queues.src(), "--endpoint-url", queues.endpoint, "-o", "json").json["entries"]
    assert [(r["messageId"], r["errorCode"], r["error"]) for r in rows] == [(mid, 503, "inventory down")]
    r = cli("dlq", "replay", queues.src(), "--endpoint-url", queues.endpoint, "--yes", "-o", "json")
    assert r.exit_code == 0, r.stderr
    assert r.json["acknowledged"] == 1
    assert deliveries(sandbox, [mid]) == {mid: 1}
    assert queues.depth() == {"messages": 0, "notVisible": 0}


def test_replay_deletes_each_message_once_acknowledged(
    cli: Any, queues: Queues, sandbox: Any, tmp_path: Path
) -> None:
    es = filled(queues, sandbox.url, 25)
    r = cli(
        "dlq", "replay", queues.src(), "--endpoint-url", queues.endpoint, "--yes",
        "--journal", str(tmp_path / "j.jsonl"), "--max-in-flight", "8", "-o", "json",
    )  # fmt: skip
    assert r.exit_code == 0, r.stderr
    assert r.json["acknowledged"] == 25 and r.json["selected"] == 25
    assert deliveries(sandbox, mids_of(es)) == {m: 1 for m in mids_of(es)}
    assert queues.depth() == {"messages": 0, "notVisible": 0}
    journal = [json.loads(x) for x in (tmp_path / "j.jsonl").read_text().splitlines()]
    removed = [j["id"] for j in journal if j["event"] == "removed"]
    assert len(removed) == len(set(removed)) == 25
    # nothing left: a second replay finds nothing
    again = cli("dlq", "replay", queues.src(), "--endpoint-url", queues.endpoint, "--yes", "-o", "json")
    assert again.exit_code == 0 and again.json["selected"] == 0


def test_poison_messages_stay(cli: Any, queues: Queues, sandbox: Any, sandbox_down: Any) -> None:
    good = entries_for(sandbox.url, 3)
    bad = entries_for(sandbox_down.url, 2)
    queues.send(good + bad)
    queues.send_raw("this is not JSON")
    queues.dead_letter(6)
    r = cli(
        "dlq", "replay", queues.src(), "--endpoint-url", queues.endpoint, "--yes",
        "--max-attempts", "2", "-o", "json",
    )  # fmt: skip
    assert r.exit_code == 7, r.stderr
    doc = r.json
    assert doc["acknowledged"] == 3
    assert doc["stillDead"]["transient"] + doc["stillDead"]["permanent"] == 2
    assert doc["invalid"]["count"] == 1
    assert "not JSON" in doc["invalid"]["first"][0]["error"]
    assert deliveries(sandbox, mids_of(good)) == {m: 1 for m in mids_of(good)}
    # the poison messages and the invalid one are back in the DLQ, visible, as they were
    assert queues.depth() == {"messages": 3, "notVisible": 0}
    left = cli("dlq", "list", queues.src(), "--endpoint-url", queues.endpoint, "-o", "json").json
    assert sorted(row["messageId"] for row in left["entries"]) == sorted(mids_of(bad))
    # the invalid one is purged by the ref the listing gave
    ref = left["invalid"]["first"][0]["ref"]
    p = cli(
        "dlq", "purge", queues.src(), "--endpoint-url", queues.endpoint, "--ids", ref, "--yes", "-o", "json"
    )
    assert p.exit_code == 0 and p.json["results"] == [{"id": ref, "removed": True}]
    assert queues.depth() == {"messages": 2, "notVisible": 0}


def test_fifo_replay_keeps_group_order(cli: Any, sqs_endpoint: str, sandbox_rpc_slow: Any) -> None:
    sb = sandbox_rpc_slow  # 0.1 s per RPC: deliveries one at a time are >= 0.1 s apart
    q = make_queues(sqs_endpoint, fifo=True)
    groups = {g: entries_for(sb.url, 12, prefix=f"{g}-{uuid.uuid4().hex[:6]}") for g in ("a", "b")}
    for g, es in groups.items():  # more than one ReceiveMessage page (10) per group
        q.send(es, group=g)
    q.dead_letter(24)
    r = cli(
        "dlq", "replay", q.src(), "--endpoint-url", q.endpoint, "--yes", "--max-in-flight", "8", "-o", "json"
    )
    assert r.exit_code == 0, r.stderr
    assert "FIFO queue" in r.stderr
    assert r.json["acknowledged"] == 24
    got = httpx.get(sb.url + "/debug/a2a/received").json()["messages"]
    every = sorted(got[m]["firstAt"] for es in groups.values() for m in mids_of(es))
    # one delivery at a time, whatever --max-in-flight said
    assert min(b - a for a, b in zip(every, every[1:], strict=False)) >= 0.09
    for es in groups.values():
        mine = mids_of(es)
        assert {m: got[m]["deliveries"] for m in mine} == {m: 1 for m in mine}
        # delivered in the group's order (the agent's receive times; results are emitted as they end)
        assert sorted(mine, key=lambda m: got[m]["firstAt"]) == mine
    assert q.depth() == {"messages": 0, "notVisible": 0}


def test_fifo_list_shows_group_order(cli: Any, sqs_endpoint: str, sandbox: Any) -> None:
    q = make_queues(sqs_endpoint, fifo=True)
    es = entries_for(sandbox.url, 6)
    q.send(es, group="g1")
    q.dead_letter(6)
    rows = cli("dlq", "list", q.src(), "--endpoint-url", q.endpoint, "-o", "json").json["entries"]
    assert [row["messageId"] for row in rows] == mids_of(es)


def _replay_proc(src: str, endpoint: str, journal: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable, "-m", "a2actl", "dlq", "replay", src, "--endpoint-url", endpoint, "--yes",
            "--journal", str(journal), "--max-in-flight", "4", "-o", "json",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip


def test_killed_replay_loses_nothing(queues: Queues, sandbox_rpc_slow: Any, tmp_path: Path) -> None:
    """kill -9 at random points (several trials): what a killed replay held is back after the
    visibility timeout, what it journalled as delivered is deleted by the next run without a second
    delivery, and in the end every message was delivered and none is left."""
    sb = sandbox_rpc_slow
    es = filled(queues, sb.url, 80)
    src = queues.src(visibility=2)
    journal = tmp_path / "j.jsonl"
    rng = random.Random(19)
    for _ in range(3):
        proc = _replay_proc(src, queues.endpoint, journal)
        time.sleep(rng.uniform(0.8, 2.5))
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate()
        time.sleep(2.5)  # the hold of the killed run runs out
    proc = _replay_proc(src, queues.endpoint, journal)
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, err
    got = httpx.get(sb.url + "/debug/a2a/received").json()["messages"]
    # every message delivered at least once, and processed once (the agent dedupes by messageId)
    assert {m: got.get(m, {}).get("processed", 0) for m in mids_of(es)} == {m: 1 for m in mids_of(es)}
    assert queues.depth() == {"messages": 0, "notVisible": 0}
    assert json.loads(out)["exitCode"] == 0


def test_errors_are_one_line_with_their_exit_code(
    cli: Any, queues: Queues, monkeypatch: pytest.MonkeyPatch, refused_url: str, tmp_path: Path
) -> None:
    ep = ("--endpoint-url", queues.endpoint)
    cases: list[tuple[tuple[str, ...], int, str]] = [
        (("dlq", "list", "sqs://nowhere/x"), 2, "sqs://REGION/QUEUE_NAME"),
        (("dlq", "list", "sqs://us-east-1/bad name"), 2, "not an SQS queue name"),
        (("dlq", "list", f"sqs://{REGION}/q?visibility=0"), 2, "visibility"),
        (("dlq", "list", f"sqs://{REGION}/no-such-queue", *ep), 2, "no SQS queue 'no-such-queue'"),
        (("dlq", "list", queues.src(), "--endpoint-url", refused_url), 3, "cannot reach SQS"),
        (("dlq", "list", str(tmp_path / "d.jsonl"), *ep), 2, "--endpoint-url applies to SQS"),
        (("dlq", "replay", str(tmp_path / "d.jsonl"), "--to-broker", "--yes"), 2, "--to-broker needs"),
        (("dlq", "replay", queues.src(), *ep, "--to-broker", "--ids", "x", "--yes"), 2, "moves the whole"),
    ]
    (tmp_path / "d.jsonl").write_text("")
    for args, code, text in cases:
        r = cli(*args, "-o", "json")
        assert r.exit_code == code, (args, r.stdout, r.stderr)
        assert text in r.json["error"]["message"], (args, r.json)
        assert "Traceback" not in r.stderr
    for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(k)
    r = cli("dlq", "stats", queues.src(), *ep, "-o", "json")
    assert r.exit_code == 4, r.stderr
    assert r.json["error"]["message"].endswith("no AWS credentials found")
    assert "standard AWS chain" in r.json["error"]["hint"]
    table = cli("dlq", "list", queues.src(), *ep)
    assert table.exit_code == 4 and len(table.stderr.strip().splitlines()) <= 2  # the error and its hint


def test_to_broker_on_moto(cli: Any, queues: Queues, sandbox: Any) -> None:
    """moto does not implement StartMessageMoveTask (checked here: the day it does, this test says
    so); the call fails with one line, exit 6, and a hint, and leaves the DLQ as it was. The happy
    path runs against a loopback stand-in of the API in tests/unit/dlq/test_sqs_redrive.py."""
    filled(queues, sandbox.url, 2)
    r = cli(
        "dlq", "replay", queues.src(), "--endpoint-url", queues.endpoint, "--to-broker", "--yes", "-o", "json"
    )
    if r.exit_code == 0:
        pytest.fail("moto now implements StartMessageMoveTask: test --to-broker against it here")
    assert r.exit_code == 6, r.stderr
    assert "StartMessageMoveTask" in r.json["error"]["message"]
    assert "moto" in r.json["error"]["hint"]
    assert queues.depth() == {"messages": 2, "notVisible": 0}


def test_smoke_dlq_depth_reads_the_broker_counts(
    cli: Any, queues: Queues, sandbox: Any, tmp_path: Path
) -> None:
    filled(queues, sandbox.url, 2)
    suite = tmp_path / "suite.yaml"
    suite.write_text(f"checks:\n  - name: dlq\n    kind: dlq-depth\n    source: {queues.src()}\n    max: 1\n")
    env = {"AWS_ENDPOINT_URL_SQS": queues.endpoint}  # botocore's own variable: smoke has no --endpoint-url
    r = cli("smoke", "run", str(suite), "-o", "json", env=env)
    assert r.exit_code == 7, r.stdout + r.stderr
    row = next(x for x in r.json["results"] if x["kind"] == "dlq-depth")
    assert row["details"]["depth"] == 2 and row["details"]["broker"]["messages"] == 2
    assert queues.depth() == {"messages": 2, "notVisible": 0}  # read from the counts: nothing received


def test_rerun_deletes_what_the_journal_says_was_delivered(
    cli: Any, queues: Queues, sandbox: Any, tmp_path: Path
) -> None:
    """A replay killed after the agent's ack but before the delete: its journal says ``delivered``;
    the rerun finds those messages (receiving until it has them), deletes them without delivering
    them again, and replays the rest."""
    es = filled(queues, sandbox.url, 12)
    ep = ("--endpoint-url", queues.endpoint)
    rows = cli("dlq", "list", queues.src(), *ep, "-o", "json").json["entries"]
    done = [r for r in rows if r["messageId"] in set(mids_of(es)[-3:])]  # found late in the queue
    journal = tmp_path / "j.jsonl"
    journal.write_text(
        "".join(json.dumps({"id": r["id"], "event": "delivered", "at": 0}) + "\n" for r in done)
    )
    r = cli("dlq", "replay", queues.src(), *ep, "--yes", "--journal", str(journal), "-o", "json")
    assert r.exit_code == 0, r.stderr
    assert (r.json["resumedRemovals"], r.json["acknowledged"]) == (3, 9)
    got = deliveries(sandbox, mids_of(es))
    assert got == {m: (0 if m in {d["messageId"] for d in done} else 1) for m in mids_of(es)}
    assert queues.depth() == {"messages": 0, "notVisible": 0}


def test_second_replay_on_this_machine_is_refused(
    cli: Any, queues: Queues, sandbox: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import fcntl

    from a2actl.dlq.store.sqs import SqsBackend

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    es = filled(queues, sandbox.url, 2)
    lock = SqsBackend(queues.src(), queues.endpoint).replay_lock(queues.src())
    lock.path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock.path, os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)  # another replay of this queue holds it
    try:
        r = cli("dlq", "replay", queues.src(), "--endpoint-url", queues.endpoint, "--yes", "-o", "json")
        assert r.exit_code == 1 and r.json["error"]["code"] == "locked", r.stdout
    finally:
        os.close(fd)
    assert deliveries(sandbox, mids_of(es)) == {m: 0 for m in mids_of(es)}
    assert queues.depth() == {"messages": 2, "notVisible": 0}  # nothing received, nothing deleted
    r = cli("dlq", "replay", queues.src(), "--endpoint-url", queues.endpoint, "--yes", "-o", "json")
    assert r.exit_code == 0 and r.json["acknowledged"] == 2


def _stale_handles(backend: Any) -> None:
    """What a receipt handle that expired looks like to DeleteMessage: SQS refuses it."""
    for h in backend.held.values():
        h.receipt = "expired-" + uuid.uuid4().hex


def test_a_refused_delete_is_retried_with_a_fresh_handle(
    cli: Any, queues: Queues, sandbox: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The agent acknowledged, but DeleteMessageBatch refused the receipt handles (expired:
    ReceiptHandleIsInvalid, the hold ran out). The replay counted them as not removed, journalled them ``removed`` and
    exited 0 with the messages still in the DLQ (the next replay delivered them again). Now it
    receives them again for fresh handles and deletes them: each delivered once, the DLQ empty."""
    from a2actl.dlq.store.sqs import SqsBackend

    es = filled(queues, sandbox.url, 3)
    original = SqsBackend.remove_many
    calls = []

    async def expire_first(self: SqsBackend, ids: list[str]) -> int:
        if not calls:  # the hold ran out (visible again) and the handles with it
            await self._visibility(list(self.held), 0)
            _stale_handles(self)
        calls.append(ids)
        return await original(self, ids)

    monkeypatch.setattr(SqsBackend, "remove_many", expire_first)
    r = cli(
        "dlq", "replay", queues.src(), "--endpoint-url", queues.endpoint, "--yes",
        "--journal", str(tmp_path / "j.jsonl"), "-o", "json",
    )  # fmt: skip
    assert r.exit_code == 0 and r.json["acknowledged"] == 3, r.stdout + r.stderr
    queues.wait_visible(0)
    assert queues.depth() == {"messages": 0, "notVisible": 0}
    assert deliveries(sandbox, mids_of(es)) == {m: 1 for m in mids_of(es)}


def test_a_delete_refused_twice_stops_and_the_rerun_removes_without_redelivery(
    cli: Any, queues: Queues, sandbox: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DeleteMessageBatch keeps refusing: exit 6, one line, the ids stay ``delivered`` in the
    journal; the rerun removes them without delivering them again."""
    from a2actl.dlq.store.sqs import SqsBackend

    es = filled(queues, sandbox.url, 3)
    original = SqsBackend._delete

    async def refused(self: SqsBackend, url: str, chunk: list[str]) -> Any:
        _stale_handles(self)
        return await original(self, url, chunk)

    monkeypatch.setattr(SqsBackend, "_delete", refused)
    args = ("dlq", "replay", queues.src(visibility=1), "--endpoint-url", queues.endpoint, "--yes",
            "--journal", str(tmp_path / "j.jsonl"), "-o", "json")  # fmt: skip
    r = cli(*args)
    assert r.exit_code == 6, r.stdout + r.stderr
    assert "ReceiptHandleIsInvalid" in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    monkeypatch.setattr(SqsBackend, "_delete", original)
    queues.wait_visible(3)
    r = cli(*args)
    assert r.exit_code == 0 and r.json["resumedRemovals"] == 3, r.stdout + r.stderr
    assert queues.depth() == {"messages": 0, "notVisible": 0}
    assert deliveries(sandbox, mids_of(es)) == {m: 1 for m in mids_of(es)}


def test_a_refused_delete_does_not_hand_the_message_out_again(
    cli: Any, queues: Queues, sandbox: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hold of the first messages ran out while they were being delivered (visible again, their
    receipt handles refused). The retry of the refused delete forgot they had been handed out, and
    the replay's own ReceiveMessage, still reading the queue, got them back before the retry's did
    (slowed here): each such message delivered twice in one run (33 of 30 selected, exit 0); or
    the retry dropped the fresh handle that receive had just got, found nothing, exit 6."""
    from a2actl.dlq.store.sqs import SqsBackend

    es = filled(queues, sandbox.url, 30)
    original, original_find = SqsBackend.remove_many, SqsBackend._find
    calls: list[list[str]] = []
    finds: list[set[str]] = []

    async def expire_first(self: SqsBackend, ids: list[str]) -> int:
        if not calls:  # the hold of what was received so far ran out: visible again, handles stale
            lapsed = list(self.held.values())
            await self._visibility(list(self.held), 0)
            for h in lapsed:  # (a receive since then holds its message under a fresh handle)
                h.receipt = "expired-" + uuid.uuid4().hex
        calls.append(ids)
        return await original(self, ids)

    async def slow_find(self: SqsBackend, wanted: set[str]) -> None:
        if not finds:
            await asyncio.sleep(0.5)  # the retry's ReceiveMessage comes second
        finds.append(wanted)
        await original_find(self, wanted)

    monkeypatch.setattr(SqsBackend, "remove_many", expire_first)
    monkeypatch.setattr(SqsBackend, "_find", slow_find)
    r = cli(
        "dlq", "replay", queues.src(), "--endpoint-url", queues.endpoint, "--yes", "--rate", "20/s",
        "--journal", str(tmp_path / "j.jsonl"), "-o", "json",
    )  # fmt: skip
    assert r.exit_code == 0, r.stdout[-600:] + r.stderr
    assert (r.json["selected"], r.json["acknowledged"]) == (30, 30)
    assert len({x["messageId"] for x in r.json["results"]}) == 30
    queues.wait_visible(0)
    assert queues.depth() == {"messages": 0, "notVisible": 0}
    assert deliveries(sandbox, mids_of(es)) == {m: 1 for m in mids_of(es)}
