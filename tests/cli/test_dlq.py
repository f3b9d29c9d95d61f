"""``a2actl dlq`` over the file, Redis (a real redis-server) and HTTP backends, replaying into a real
a2a-sdk sandbox that dedupes by messageId; crash safety by kill -9 at random points."""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from a2actl.dlq.store.entry import new_entry
from a2actl.dlq.store.file import FileBackend
from a2actl.dlq.store.redis import RedisBackend
from a2actl.server.sandbox.options import SandboxOptions
from a2actl.server.sandbox.server import RunningSandbox
from tests.dlq_helpers import removal_counts, validation_errors
from tests.procs import a2actl_stdin_closed, finish


def entries_for(
    url: str, n: int, prefix: str | None = None, params: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    prefix = prefix or uuid.uuid4().hex[:8]
    target = {"url": url + "/a2a/jsonrpc", "protocolBinding": "JSONRPC", "protocolVersion": "1.0"}
    out = []
    for i in range(n):
        p = params or {
            "message": {"messageId": f"{prefix}-{i}", "role": "ROLE_USER", "parts": [{"text": f"order {i}"}]}
        }
        out.append(
            new_entry(
                "SendMessage",
                p,
                target,
                attempts=3,
                source="orders",
                error={"code": -32603, "message": "db down", "class": "transient"},
            )
        )
    return out


def fill(backend: Any, entries: list[dict[str, Any]]) -> list[str]:
    async def go() -> list[str]:
        ids = [await backend.append(e) for e in entries]
        await backend.close()
        return ids

    return asyncio.run(go())


def received(sb: Any) -> dict[str, Any]:
    return httpx.get(sb.url + "/debug/a2a/received").json()["messages"]


def test_entries_match_the_schema(sandbox: Any) -> None:
    for e in entries_for(sandbox.url, 2):
        assert validation_errors(e) == []
    assert validation_errors({"id": "x"})  # missing fields are reported


def test_file_list_show_stats(cli: Any, sandbox: Any, tmp_path: Path) -> None:
    src = f"file://{tmp_path}/dlq.jsonl"
    ids = fill(FileBackend(str(tmp_path / "dlq.jsonl")), entries_for(sandbox.url, 5))
    listed = cli("dlq", "list", src, "-o", "json").json
    assert listed["count"] == 5 and [e["id"] for e in listed["entries"]] == ids
    assert all(e["errorClass"] == "transient" and e["attempts"] == 3 for e in listed["entries"])
    lines = cli("dlq", "list", src, "--limit", "2", "-o", "jsonl").jsonl
    assert [x["id"] for x in lines] == ids[:2]
    assert cli("dlq", "list", src, "--error-class", "permanent", "-o", "json").json["count"] == 0
    shown = cli("dlq", "show", src, ids[0], "-o", "json").json
    assert shown["id"] == ids[0] and shown["request"]["params"]["message"]["messageId"]
    assert cli("dlq", "show", src, "nope").exit_code == 1
    stats = cli("dlq", "stats", src, "-o", "json").json
    assert stats["depth"] == 5 and stats["topErrorCodes"] == [{"code": "-32603", "count": 5}]
    assert stats["ageHistogram"][0] == {"bucket": "<1m", "count": 5}
    assert stats["byTarget"][0]["count"] == 5
    table = cli("dlq", "stats", src)
    assert table.exit_code == 0 and "depth 5" in table.stdout


def _replay_all(cli: Any, src: str, sb: Any, tmp_path: Path, ids: list[str], mids: list[str]) -> None:
    r = cli("dlq", "replay", src, "--yes", "--journal", str(tmp_path / "j.jsonl"), "-o", "json")
    assert r.exit_code == 0, r.stdout[-500:]
    doc = r.json
    assert doc["acknowledged"] == len(ids) and doc["stillDead"] == {"transient": 0, "permanent": 0}
    assert sorted(x["id"] for x in doc["results"]) == sorted(ids)
    assert cli("dlq", "list", src, "-o", "json").json["count"] == 0
    got = received(sb)
    assert all(got[m]["processed"] == 1 for m in mids)  # acknowledged exactly once per messageId


def test_missing_file_sources(cli: Any, tmp_path: Path) -> None:
    """A missing directory is a typo (exit 2); a missing file in an existing one is an empty DLQ, with a
    warning. A non-positive --rate is refused."""
    r = cli("dlq", "list", f"file://{tmp_path}/no-such-dir/dlq.jsonl", "-o", "json")
    assert r.exit_code == 2 and r.json["error"]["code"] == "usage"
    r = cli("dlq", "stats", f"file://{tmp_path}/dlq.jsonl", "-o", "json")
    assert r.exit_code == 0 and r.json["depth"] == 0
    assert "does not exist" in r.stderr
    r = cli("dlq", "replay", f"file://{tmp_path}/dlq.jsonl", "--rate", "0/s", "--yes", "-o", "json")
    assert r.exit_code == 2 and "--rate" in r.json["error"]["message"]
    r = cli("dlq", "replay", f"file://{tmp_path}/dlq.jsonl", "--to", "ftp://agent", "--yes", "-o", "json")
    assert r.exit_code == 2 and r.json["error"]["code"] == "usage"
    # --journal "$UNSET": the default journal was used without a word
    for empty in ("", "  "):
        r = cli("dlq", "replay", f"file://{tmp_path}/dlq.jsonl", "--journal", empty, "--yes", "-o", "json")
        assert r.exit_code == 2 and r.json["error"]["message"].startswith(f"--journal {empty!r}: give a file")


def test_missing_redis_stream_warns(cli: Any, redis_url: str) -> None:
    r = cli("dlq", "stats", f"{redis_url}?stream=never-written", "-o", "json")
    assert r.exit_code == 0 and r.json["depth"] == 0
    assert "does not exist" in r.stderr


def test_replay_over_file(cli: Any, sandbox: Any, tmp_path: Path) -> None:
    es = entries_for(sandbox.url, 20)
    ids = fill(FileBackend(str(tmp_path / "dlq.jsonl")), es)
    _replay_all(
        cli,
        f"file://{tmp_path}/dlq.jsonl",
        sandbox,
        tmp_path,
        ids,
        [e["request"]["params"]["message"]["messageId"] for e in es],
    )
    counts = removal_counts(FileBackend(str(tmp_path / "dlq.jsonl")))
    assert counts == {i: 1 for i in ids}


def test_replay_over_redis(cli: Any, sandbox: Any, redis_url: str, tmp_path: Path) -> None:
    src = f"{redis_url}?stream=dlq-{uuid.uuid4().hex[:6]}"
    es = entries_for(sandbox.url, 20)
    ids = fill(RedisBackend(src), es)
    listed = cli("dlq", "list", src, "-o", "json").json
    assert [e["id"] for e in listed["entries"]] == ids
    _replay_all(
        cli, src, sandbox, tmp_path, ids, [e["request"]["params"]["message"]["messageId"] for e in es]
    )


def test_http_backend(cli: Any, tmp_path: Path) -> None:
    sb = RunningSandbox(SandboxOptions(stream_interval=0.005, dlq=f"file://{tmp_path}/sb.jsonl")).start()
    try:
        es = entries_for(sb.url, 6)
        ids = fill(FileBackend(str(tmp_path / "sb.jsonl")), es)
        src = sb.url + "/debug/a2a/dlq"
        listed = cli("dlq", "list", src, "-o", "json").json
        assert [e["id"] for e in listed["entries"]] == ids
        assert cli("dlq", "show", src, ids[1], "-o", "json").json["id"] == ids[1]
        _replay_all(cli, src, sb, tmp_path, ids, [e["request"]["params"]["message"]["messageId"] for e in es])
    finally:
        sb.stop()


def test_poison_message_stays_after_max_attempts(cli: Any, sandbox_down: Any, tmp_path: Path) -> None:
    src = f"file://{tmp_path}/dlq.jsonl"
    ids = fill(FileBackend(str(tmp_path / "dlq.jsonl")), entries_for(sandbox_down.url, 1))
    r = cli(
        "dlq", "replay", src, "--yes", "--max-attempts", "3", "--journal", str(tmp_path / "j"), "-o", "json"
    )
    assert r.exit_code == 7
    res = r.json["results"][0]
    assert res["status"] == "dead-transient" and res["attempts"] == 3 and r.json["retried"] == 2
    left = cli("dlq", "show", src, ids[0], "-o", "json").json
    assert left["attempts"] == 3 + 3 and left["lastError"]["class"] == "transient"


def test_permanent_errors_are_never_retried(cli: Any, sandbox: Any, tmp_path: Path) -> None:
    src = f"file://{tmp_path}/dlq.jsonl"
    bad = {"message": {"role": "ROLE_USER", "parts": "not a list"}}
    ids = fill(FileBackend(str(tmp_path / "dlq.jsonl")), entries_for(sandbox.url, 1, params=bad))
    r = cli(
        "dlq", "replay", src, "--yes", "--max-attempts", "5", "--journal", str(tmp_path / "j"), "-o", "json"
    )
    assert r.exit_code == 7
    res = r.json["results"][0]
    assert res["status"] == "dead-permanent" and res["attempts"] == 1 and r.json["retried"] == 0
    assert cli("dlq", "show", src, ids[0], "-o", "json").json["lastError"]["class"] == "permanent"


@pytest.mark.parametrize("method", ["SendMessage", "SendStreamingMessage"])
@pytest.mark.parametrize("route", ["nonjson", "badenvelope"])
def test_a_2xx_answer_that_cannot_be_read_is_permanent(
    cli: Any, fault: str, tmp_path: Path, route: str, method: str
) -> None:
    """A 200 whose body is an HTML page (a proxy's or login page) or not a JSON-RPC 2.0 envelope: the
    agent (or what answered) took the message and its answer cannot be read. It was transient,
    delivered again up to --max-attempts and left with ``code: null``; it is now permanent after one
    delivery, ``code`` 200, as a 2xx over the body limit already was."""
    src = f"file://{tmp_path}/dlq.jsonl"
    [entry] = entries_for(fault, 1)
    entry["target"]["url"] = f"{fault}/{route}/jsonrpc"
    entry["request"]["method"] = method  # a streaming send answered with a 200 that is not SSE: the same
    ids = fill(FileBackend(str(tmp_path / "dlq.jsonl")), [entry])
    r = cli(
        "dlq", "replay", src, "--yes", "--max-attempts", "3", "--journal", str(tmp_path / "j"), "-o", "json"
    )
    assert r.exit_code == 7, r.stderr
    res = r.json["results"][0]
    assert (res["status"], res["attempts"], r.json["retried"]) == ("dead-permanent", 1, 0)
    last = cli("dlq", "show", src, ids[0], "-o", "json").json["lastError"]
    assert (last["class"], last["code"]) == ("permanent", 200)
    assert "not retried" in last["message"]


def test_an_answer_with_a_failed_task_is_not_an_ack(cli: Any, sandbox: Any, tmp_path: Path) -> None:
    """The sandbox answers ``/fail`` with a task in ``failed``: the agent took the message and did
    not do it. That entry stays dead (permanent, never retried, ``lastError`` names the task and its
    state) and the replay exits 7; the entry answered ``completed`` is acknowledged and removed."""
    src = f"file://{tmp_path}/dlq.jsonl"
    good = entries_for(sandbox.url, 1)[0]
    msg = {"messageId": f"f-{uuid.uuid4().hex[:8]}", "role": "ROLE_USER", "parts": [{"text": "/fail"}]}
    bad = entries_for(sandbox.url, 1, params={"message": msg})[0]
    fill(FileBackend(str(tmp_path / "dlq.jsonl")), [good, bad])
    r = cli(
        "dlq", "replay", src, "--yes", "--max-attempts", "3", "--journal", str(tmp_path / "j"), "-o", "json"
    )
    assert r.exit_code == 7, r.stderr
    status = {x["id"]: x for x in r.json["results"]}
    assert status[good["id"]]["status"] == "acknowledged"
    assert status[bad["id"]]["status"] == "dead-permanent" and status[bad["id"]]["attempts"] == 1
    assert r.json["acknowledged"] == 1 and r.json["retried"] == 0
    assert received(sandbox)[msg["messageId"]]["deliveries"] == 1  # delivered once, not retried
    listed = cli("dlq", "list", src, "-o", "json").json
    assert listed["count"] == 1
    last = cli("dlq", "show", src, bad["id"], "-o", "json").json["lastError"]
    assert last["class"] == "permanent" and last["state"] == "failed"
    assert last["message"].startswith("task ") and " failed" in last["message"]


def test_a_duplicate_id_is_not_removed_with_the_acknowledged_one(
    cli: Any, sandbox: Any, tmp_path: Path
) -> None:
    """Two file entries with one id (a producer that reuses ids): the second is invalid and stays.
    It used to be delivered too and, still dead, removed by the tombstone of the first's ack. Once
    the first is gone, the second is an entry of its own (``line:2``), replayed by the next run."""
    src = f"file://{tmp_path}/dlq.jsonl"
    good = entries_for(sandbox.url, 1)[0]
    dup = entries_for(sandbox.url, 1)[0]
    fill(FileBackend(str(tmp_path / "dlq.jsonl")), [good, dup | {"id": good["id"]}])
    r = cli("dlq", "replay", src, "--yes", "--journal", str(tmp_path / "j"), "-o", "json")
    assert r.exit_code == 7, r.stderr
    assert [(x["id"], x["status"]) for x in r.json["results"]] == [(good["id"], "acknowledged")]
    assert [x["ref"] for x in r.json["invalid"]["first"]] == ["line:2"]
    dup_mid = dup["request"]["params"]["message"]["messageId"]
    assert dup_mid not in received(sandbox)  # never delivered
    listed = cli("dlq", "list", src, "-o", "json").json
    assert listed["invalid"]["count"] == 0
    assert [(x["id"], x["messageId"]) for x in listed["entries"]] == [("line:2", dup_mid)]
    shown = cli("dlq", "show", src, "line:2", "-o", "json").json
    assert shown["entryId"] == good["id"] and shown["request"]["params"]["message"]["messageId"] == dup_mid
    r = cli("dlq", "replay", src, "--yes", "--journal", str(tmp_path / "j"), "-o", "json")
    assert r.exit_code == 0, r.stderr
    assert [(x["id"], x["status"]) for x in r.json["results"]] == [("line:2", "acknowledged")]
    assert received(sandbox)[dup_mid]["deliveries"] == 1
    assert cli("dlq", "list", src, "-o", "json").json["count"] == 0


def test_an_id_reused_after_its_replay_is_replayed(cli: Any, sandbox: Any, tmp_path: Path) -> None:
    """A producer that names entries by its own ids dead-letters ``order-1`` again after the first
    ``order-1`` was replayed (tombstoned). The new line was an invalid "duplicate id": never
    replayed, exit 7, and only a purge removed it. It is a live entry, ``line:N``, replayed once."""
    src = f"file://{tmp_path}/dlq.jsonl"
    store = FileBackend(str(tmp_path / "dlq.jsonl"))
    first, again = entries_for(sandbox.url, 2)
    fill(store, [first | {"id": "order-1"}])
    journal = str(tmp_path / "j")
    r = cli("dlq", "replay", src, "--yes", "--journal", journal, "-o", "json")
    assert r.exit_code == 0, r.stderr
    assert [(x["id"], x["status"]) for x in r.json["results"]] == [("order-1", "acknowledged")]
    fill(store, [again | {"id": "order-1"}])  # line 3, after the tombstone of line 1
    listed = cli("dlq", "list", src, "-o", "json").json
    assert listed["invalid"]["count"] == 0 and [x["id"] for x in listed["entries"]] == ["line:3"]
    r = cli("dlq", "replay", src, "--yes", "--journal", journal, "-o", "json")
    assert r.exit_code == 0, r.stderr
    assert [(x["id"], x["status"]) for x in r.json["results"]] == [("line:3", "acknowledged")]
    assert r.json["invalid"]["count"] == 0
    mids = [e["request"]["params"]["message"]["messageId"] for e in (first, again)]
    assert [received(sandbox)[m]["deliveries"] for m in mids] == [1, 1]
    after = cli("dlq", "list", src, "-o", "json").json
    assert after["count"] == 0 and after["invalid"]["count"] == 0


def test_circuit_breaker_trips(cli: Any, sandbox_down: Any, tmp_path: Path) -> None:
    src = f"file://{tmp_path}/dlq.jsonl"
    fill(FileBackend(str(tmp_path / "dlq.jsonl")), entries_for(sandbox_down.url, 8))
    r = cli(
        "dlq",
        "replay",
        src,
        "--yes",
        "--max-attempts",
        "1",
        "--breaker",
        "3",
        "--breaker-cooldown",
        "0.2s",
        "--max-in-flight",
        "1",
        "--journal",
        str(tmp_path / "j"),
        "-o",
        "json",
    )
    assert r.exit_code == 7
    assert r.json["breakerTrips"] >= 2
    assert "consecutive failures" in r.stderr


def test_circuit_breaker_names_the_to_agent(cli: Any, sandbox_down: Any, tmp_path: Path) -> None:
    """With --to the breaker guards the agent the deliveries go to; it named (and was keyed by) the
    entries' stored target, an agent the replay never called."""
    src = f"file://{tmp_path}/dlq.jsonl"
    fill(FileBackend(str(tmp_path / "dlq.jsonl")), entries_for("http://127.0.0.1:9", 4))
    r = cli(
        "dlq", "replay", src, "--yes", "--to", sandbox_down.url, "--max-attempts", "1", "--breaker", "2",
        "--breaker-cooldown", "0.1s", "--max-in-flight", "1", "--journal", str(tmp_path / "j"), "-o", "json",
    )  # fmt: skip
    assert r.exit_code == 7 and r.json["breakerTrips"] >= 1
    notices = [x for x in r.stderr.splitlines() if "consecutive failures" in x]
    assert notices and all(f"failures to {sandbox_down.url}: pausing" in x for x in notices), r.stderr
    assert "127.0.0.1:9" not in r.stderr


def test_dry_run_confirmation_and_purge(cli: Any, sandbox: Any, tmp_path: Path) -> None:
    src = f"file://{tmp_path}/dlq.jsonl"
    ids = fill(FileBackend(str(tmp_path / "dlq.jsonl")), entries_for(sandbox.url, 3))
    dry = cli("dlq", "replay", src, "--dry-run", "-o", "json")
    assert dry.exit_code == 0 and dry.json["dryRun"] is True and dry.json["count"] == 3
    assert cli("dlq", "list", src, "-o", "json").json["count"] == 3  # nothing delivered or removed
    refused = cli("dlq", "replay", src)
    assert refused.exit_code == 2 and "--yes" in refused.stderr
    assert cli("dlq", "purge", src, "--ids", ids[0]).exit_code == 2  # --yes required
    purged = cli("dlq", "purge", src, "--ids", ids[0], "--ids", "ghost", "--yes", "-o", "json").json
    assert purged["results"] == [{"id": ids[0], "removed": True}, {"id": "ghost", "removed": False}]
    assert cli("dlq", "list", src, "-o", "json").json["count"] == 2


def test_sandbox_story_break_fix_replay(cli: Any, tmp_path: Path) -> None:
    dlq = f"file://{tmp_path}/story.jsonl"
    broken = RunningSandbox(SandboxOptions(stream_interval=0.005, dlq=dlq, worker_fault="transient")).start()
    try:
        mids = [f"story-{i}" for i in range(5)]
        for m in mids:
            r = httpx.post(
                broken.url + "/a2a/queue",
                json={"message": {"messageId": m, "role": "ROLE_USER", "parts": [{"text": m}]}},
            )
            assert r.status_code == 202
        deadline = time.monotonic() + 10
        while cli("dlq", "list", dlq, "-o", "json").json["count"] < 5:
            assert time.monotonic() < deadline, "messages did not die"
            time.sleep(0.05)
    finally:
        broken.stop()
    fixed = RunningSandbox(SandboxOptions(stream_interval=0.005)).start()
    try:
        r = cli(
            "dlq", "replay", dlq, "--to", fixed.url, "--yes", "--journal", str(tmp_path / "j"), "-o", "json"
        )
        assert r.exit_code == 0 and r.json["acknowledged"] == 5
        got = received(fixed)
        assert all(got[m]["processed"] == 1 for m in mids)
        assert cli("dlq", "list", dlq, "-o", "json").json["count"] == 0
    finally:
        fixed.stop()


def test_killed_replay_resumes_without_loss(sandbox: Any, tmp_path: Path) -> None:
    path = tmp_path / "dlq.jsonl"
    es = entries_for(sandbox.url, 300)
    ids = fill(FileBackend(str(path)), es)
    mid_of = {e["id"]: e["request"]["params"]["message"]["messageId"] for e in es}
    cmd = [
        sys.executable,
        "-m",
        "a2actl",
        "dlq",
        "replay",
        f"file://{path}",
        "--yes",
        "--journal",
        str(tmp_path / "journal.jsonl"),
        "--max-in-flight",
        "8",
        "-o",
        "jsonl",
    ]
    rng = random.Random(4)
    for _ in range(4):  # kill -9 at random points
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.5, 1.2))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-500:]
    assert asyncio.run(_count(FileBackend(str(path)))) == 0
    got = received(sandbox)
    # Every entry was delivered at least once (and processed once: the agent dedupes by messageId).
    assert all(mid_of[i] in got and got[mid_of[i]]["processed"] == 1 for i in ids)
    # Every entry was removed exactly once, and never before its delivery.
    tombstones: dict[str, list[float]] = {}
    for line in path.read_text().splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue  # a line torn by kill -9
        if "$tombstone" in rec:
            tombstones.setdefault(rec["$tombstone"], []).append(rec["at"])
    assert {i: len(tombstones.get(i, [])) for i in ids} == {i: 1 for i in ids}
    assert all(tombstones[i][0] >= got[mid_of[i]]["firstAt"] for i in ids)


def test_a_resume_never_removes_an_entry_of_a_rotated_file(cli: Any, sandbox: Any, tmp_path: Path) -> None:
    """A replay stopped after the agent acknowledged ``order-1`` and before its removal; the file is
    then rotated and the producer (which names entries by its own ids) dead-letters a new
    ``order-1``. The resume removed that new entry unseen: a dead letter lost. A journal's start
    line now names the file (device and inode), and a resume removes only what a run on the same
    file delivered; the new entry is delivered."""
    path = tmp_path / "dlq.jsonl"
    src = f"file://{path}"
    [old] = entries_for(sandbox.url, 1)
    old["id"] = "order-1"
    fill(FileBackend(str(path)), [old])
    st = os.stat(path)
    journal = tmp_path / "j.jsonl"
    journal.write_text(  # what the stopped run left: delivered, not removed
        json.dumps({"event": "start", "pid": 1, "at": 1.0, "source": f"{st.st_dev}:{st.st_ino}"})
        + "\n"
        + json.dumps({"id": "order-1", "event": "delivered", "at": 2.0})
        + "\n"
    )
    path.rename(tmp_path / "dlq.jsonl.1")  # rotated
    [new] = entries_for(sandbox.url, 1)
    new["id"] = "order-1"
    fill(FileBackend(str(path)), [new])
    r = cli("dlq", "replay", src, "--yes", "--journal", str(journal), "-o", "json")
    assert r.exit_code == 0, r.stderr
    assert (r.json["acknowledged"], r.json["resumedRemovals"]) == (1, 0)
    assert cli("dlq", "list", src, "-o", "json").json["count"] == 0
    # and a rerun does not find order-1 pending again
    again = cli("dlq", "replay", src, "--yes", "--journal", str(journal), "-o", "json")
    assert again.exit_code == 0 and (again.json["selected"], again.json["resumedRemovals"]) == (0, 0)


def _replay_stopped_before_its_removals(path: Path, journal: Path) -> list[str]:
    """``dlq replay PATH`` (a subprocess, one entry in flight) stopped after the agent acknowledged
    the first entry (or two) and the journal said ``delivered``, before any removal:
    ``RLIMIT_FSIZE`` at the DLQ file's size refuses every append to it (EFBIG; Python ignores
    SIGXFSZ) while the shorter journal is written. Returns the ids journalled ``delivered``."""
    import resource

    limit = path.stat().st_size

    def limited() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    subprocess.run(
        [sys.executable, "-m", "a2actl", "dlq", "replay", str(path), "--yes", "--journal", str(journal)]
        + ["--max-in-flight", "1", "-o", "json"],
        capture_output=True,
        timeout=60,
        preexec_fn=limited,  # noqa: PLW1509 - no threads to speak of in the child yet
        check=False,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    lines = [json.loads(line) for line in journal.read_text().splitlines()]
    assert "removed" not in {x.get("event") for x in lines}, lines
    assert journal.stat().st_size < limit
    delivered = [x["id"] for x in lines if x.get("event") == "delivered"]
    assert delivered, lines
    return delivered


def test_a_resume_never_removes_an_entry_of_a_file_truncated_and_refilled(
    cli: Any, sandbox: Any, tmp_path: Path
) -> None:
    """A replay stopped after the agent acknowledged ``order-1`` and before its removal; the file is
    then rotated by copytruncate (truncated in place: same device and inode) and the producer, which
    names entries by its own ids, dead-letters a new ``order-1``. The start line's ``DEV:INO`` still
    matched, and the resume removed the new entry unseen: a dead letter lost. The journal records
    the file's size and the hash of its last bytes with each delivered batch; a file shorter than
    that, or with other bytes there, is another file, and the new entry is delivered."""
    path = tmp_path / "dlq.jsonl"
    src = f"file://{path}"
    old = entries_for(sandbox.url, 4)
    old[0]["id"] = "order-1"
    fill(FileBackend(str(path)), old)
    journal = tmp_path / "j.jsonl"
    assert _replay_stopped_before_its_removals(path, journal)[0] == "order-1"
    ino = path.stat().st_ino
    with path.open("r+b") as f:  # logrotate's copytruncate
        f.truncate(0)
    [new] = entries_for(sandbox.url, 1)
    new["id"] = "order-1"
    fill(FileBackend(str(path)), [new])
    assert path.stat().st_ino == ino
    r = cli("dlq", "replay", src, "--yes", "--journal", str(journal), "-o", "json")
    assert r.exit_code == 0, r.stderr
    assert (r.json["acknowledged"], r.json["resumedRemovals"]) == (1, 0)
    assert received(sandbox)[new["request"]["params"]["message"]["messageId"]]["deliveries"] == 1
    assert cli("dlq", "list", src, "-o", "json").json["count"] == 0


def test_a_resume_after_appends_to_the_file_removes_what_was_delivered(
    cli: Any, sandbox: Any, tmp_path: Path
) -> None:
    """Appends are what a DLQ file sees between runs (producers, this replay's own tombstones): they
    do not void a resume. What the stopped run delivered is removed without being delivered again;
    the new entry is delivered."""
    path = tmp_path / "dlq.jsonl"
    src = f"file://{path}"
    old = entries_for(sandbox.url, 4)
    fill(FileBackend(str(path)), old)
    journal = tmp_path / "j.jsonl"
    delivered = _replay_stopped_before_its_removals(path, journal)
    [new] = entries_for(sandbox.url, 1)
    fill(FileBackend(str(path)), [new])
    r = cli("dlq", "replay", src, "--yes", "--journal", str(journal), "-o", "json")
    assert r.exit_code == 0, r.stderr
    assert (r.json["acknowledged"], r.json["resumedRemovals"]) == (5 - len(delivered), len(delivered))
    got = received(sandbox)
    mid = {e["id"]: e["request"]["params"]["message"]["messageId"] for e in old}
    assert [got[mid[i]]["deliveries"] for i in delivered] == [1] * len(delivered)  # not again
    assert cli("dlq", "list", src, "-o", "json").json["count"] == 0


def test_a_resume_of_a_file_that_is_gone_writes_no_tombstones(cli: Any, sandbox: Any, tmp_path: Path) -> None:
    """The file a stopped replay delivered from was moved away before the rerun. The resume wrote
    its tombstones all the same, creating a file of tombstones alone at the path: the next entry a
    producer dead-lettered there with one of those ids was read as removed, a dead letter lost."""
    path = tmp_path / "dlq.jsonl"
    src = f"file://{path}"
    old = entries_for(sandbox.url, 4)
    old[0]["id"] = "order-1"
    fill(FileBackend(str(path)), old)
    journal = tmp_path / "j.jsonl"
    assert _replay_stopped_before_its_removals(path, journal)[0] == "order-1"
    path.rename(tmp_path / "moved.jsonl")
    r = cli("dlq", "replay", src, "--yes", "--journal", str(journal), "-o", "json")
    assert r.exit_code == 0, r.stderr
    assert (r.json["selected"], r.json["resumedRemovals"]) == (0, 0)
    assert not path.exists()
    [new] = entries_for(sandbox.url, 1)
    new["id"] = "order-1"
    fill(FileBackend(str(path)), [new])
    assert [e["id"] for e in cli("dlq", "list", src, "-o", "json").json["entries"]] == ["order-1"]


@pytest.mark.parametrize("alias", ["file", "directory"])
def test_a_symlink_to_the_file_shares_its_replay_journal(
    cli: Any, sandbox: Any, tmp_path: Path, alias: str
) -> None:
    """A replay killed after the agent's acks but before the removals, rerun through a symlink to the
    DLQ file (or to its directory): the default journal was keyed by the path as written, so the
    rerun read another journal and delivered every entry again. One file, one journal."""
    real = tmp_path / "data" / "dlq.jsonl"
    real.parent.mkdir()
    real.touch()
    if alias == "file":
        via = tmp_path / "alias.jsonl"
        via.symlink_to(real)
    else:
        (tmp_path / "link").symlink_to(real.parent)
        via = tmp_path / "link" / "dlq.jsonl"
    env = {"XDG_STATE_HOME": str(tmp_path / "state")}
    assert cli("dlq", "replay", str(real), "--yes", "-o", "json", env=env).exit_code == 0  # opens its journal
    (journal,) = (tmp_path / "state" / "a2actl" / "journals").iterdir()
    es = entries_for(sandbox.url, 3)
    ids = fill(FileBackend(real), es)
    with open(journal, "a") as f:  # what a run through the file's name, killed after the acks, leaves
        f.writelines(json.dumps({"id": i, "event": "delivered", "at": 0}) + "\n" for i in ids)
    r = cli("dlq", "replay", str(via), "--yes", "-o", "json", env=env)
    assert r.exit_code == 0, r.stderr[-500:]
    assert (r.json["resumedRemovals"], r.json["replayed"]) == (3, 0)
    assert not {e["request"]["params"]["message"]["messageId"] for e in es} & set(received(sandbox))
    assert list((tmp_path / "state" / "a2actl" / "journals").iterdir()) == [journal]
    assert cli("dlq", "list", str(real), "-o", "json").json["count"] == 0


async def _count(backend: Any) -> int:
    return sum([1 async for _ in backend.iter_entries()])


def test_replay_into_a_gateway_error_records_the_http_status(cli: Any, fault: str, tmp_path: Path) -> None:
    """Issue #13 item 9: an HTTP 502 whose JSON is not JSON-RPC is the agent's HTTP error; the dead
    letter's lastError gets the status as its code (it got ``code: null``) and the gateway's text."""
    target = {"url": fault + "/gateway502/jsonrpc", "protocolBinding": "JSONRPC", "protocolVersion": "1.0"}
    entry = new_entry(
        "SendMessage",
        {"message": {"messageId": "gw-1", "role": "ROLE_USER", "parts": [{"text": "x"}]}},
        target,
        attempts=1,
        source="orders",
        error={"code": -32603, "message": "x", "class": "transient"},
    )
    fill(FileBackend(str(tmp_path / "dlq.jsonl")), [entry])
    r = cli("dlq", "replay", f"file://{tmp_path}/dlq.jsonl", "--yes", "-o", "json")
    assert r.exit_code == 7, r.stdout
    shown = cli("dlq", "list", f"file://{tmp_path}/dlq.jsonl", "-o", "json").json["entries"][0]
    assert shown["errorCode"] == 502 and shown["attempts"] > 1


def test_sigterm_commits_every_entry_reported_acknowledged(cli: Any, tmp_path: Path) -> None:
    """SIGTERM (handled as Ctrl-C) mid-replay: exit 130, and every entry the replay reported
    ``acknowledged`` is journalled and removed. The acks of a burst after the first waited for their
    batch, and ``asyncio.run`` cancelled the replay again while it stopped: they stayed dead and were
    delivered again by the next replay."""
    sb = RunningSandbox(SandboxOptions(rpc_delay=1.0)).start()
    try:
        store = FileBackend(tmp_path / "dlq.jsonl")
        ids = fill(store, entries_for(sb.url, 40))
        journal = tmp_path / "journal"
        proc = subprocess.Popen(
            [sys.executable, "-m", "a2actl", "dlq", "replay", str(tmp_path / "dlq.jsonl"), "--yes"]
            + ["--max-in-flight", "8", "--journal", str(journal), "-o", "jsonl"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # as a terminal's job
        )
        assert proc.stdout is not None
        acked: list[str] = []
        while len(acked) < 8:  # the first burst of answers (the next one is a second away)
            line = proc.stdout.readline()
            assert line, proc.stderr.read() if proc.stderr else ""
            rec = json.loads(line)
            if rec.get("status") == "acknowledged":
                acked.append(rec["id"])
        proc.send_signal(signal.SIGTERM)
        out, err = finish(proc, 30)  # not communicate(): it loses what readline() buffered
        assert proc.returncode == 130, err
        records = [json.loads(x) for x in out.splitlines()]
        acked += [rec["id"] for rec in records if rec.get("status") == "acknowledged"]
        assert records[-1]["type"] == "summary" and records[-1]["interrupted"] is True
    finally:
        sb.stop()
    left = [e["id"] for e in cli("dlq", "list", str(tmp_path / "dlq.jsonl"), "-o", "json").json["entries"]]
    assert set(acked) <= set(ids) and not set(acked) & set(left), "acknowledged entries are still dead"
    assert len(left) == 40 - len(acked)
    assert json.loads(journal.read_text().splitlines()[-1])["event"] == "removed"


def _replay_then_stop(
    tmp_path: Path, signals: int, *, delay: float, n: int, after: int
) -> tuple[subprocess.Popen[str], list[dict[str, Any]], str, float, Any, list[str]]:
    """Replay ``n`` entries (8 in flight) into a sandbox answering after ``delay`` seconds, send
    SIGTERM ``signals`` times once ``after`` entries were acknowledged; returns the process, every
    record it wrote (``-o jsonl``), its stderr, the seconds from the first SIGTERM to its end, the
    sandbox (stopped by the caller) and the entry ids."""
    sb = RunningSandbox(SandboxOptions(rpc_delay=delay)).start()
    ids = fill(FileBackend(tmp_path / "dlq.jsonl"), entries_for(sb.url, n))
    proc = subprocess.Popen(
        [sys.executable, "-m", "a2actl", "dlq", "replay", str(tmp_path / "dlq.jsonl"), "--yes"]
        + ["--max-in-flight", "8", "--journal", str(tmp_path / "journal"), "-o", "jsonl"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # as a terminal's job
    )
    assert proc.stdout is not None
    records: list[dict[str, Any]] = []
    while sum(r.get("status") == "acknowledged" for r in records) < after:
        line = proc.stdout.readline()
        assert line, proc.stderr.read() if proc.stderr else ""
        records.append(json.loads(line))
    time.sleep(0.2)  # the next deliveries are out
    stopped = time.monotonic()
    for _ in range(signals):
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.1)
    out, err = finish(proc, 30)
    took = time.monotonic() - stopped
    records += [json.loads(x) for x in out.splitlines()]
    return proc, records, err, took, sb, ids


def test_sigterm_lets_the_deliveries_in_flight_finish(cli: Any, tmp_path: Path) -> None:
    """SIGTERM (or Ctrl-C) while 8 deliveries are in flight: no new delivery starts, those in flight
    get 2 s to be answered (here in 1 s), are acknowledged, journalled and removed, and the replay
    ends with exit 130 and its summary (``interrupted``, nothing cut). They were cancelled at once:
    the agent had them, the DLQ kept them, and the next run delivered them a second time."""
    proc, records, err, _, sb, ids = _replay_then_stop(tmp_path, 1, delay=1.0, n=24, after=8)
    try:
        assert proc.returncode == 130, err
        summary = records[-1]
        assert summary["type"] == "summary" and summary["interrupted"] is True, records[-3:]
        assert summary["cut"] == {"inFlight": 0, "waiting": 0, "grace": 2.0}
        assert summary["exitCode"] == 130 and summary["acknowledged"] == 16, summary
        assert "a2actl: interrupted: no new delivery started" in err
        acked = [r["id"] for r in records if r.get("status") == "acknowledged"]
        left = [
            e["id"] for e in cli("dlq", "list", str(tmp_path / "dlq.jsonl"), "-o", "json").json["entries"]
        ]
        assert sorted(acked + left) == sorted(ids) and len(left) == 8
        again = cli(
            "dlq", "replay", str(tmp_path / "dlq.jsonl"), "--yes", "--journal", str(tmp_path / "journal")
        )
        assert again.exit_code == 0, again.stderr
        deliveries = [r["deliveries"] for r in received(sb).values()]
        assert len(deliveries) == 24 and set(deliveries) == {1}, deliveries
    finally:
        sb.stop()


def test_sigterm_cuts_what_is_still_in_flight_after_the_grace(cli: Any, tmp_path: Path) -> None:
    """Deliveries still unanswered 2 s after SIGTERM are cut (they stay in the DLQ; the summary's
    ``cut.inFlight`` counts them); a second SIGTERM (a second Ctrl-C) cuts them at once."""
    proc, records, err, took, sb, ids = _replay_then_stop(tmp_path, 1, delay=4.0, n=16, after=8)
    try:
        assert proc.returncode == 130, err
        assert records[-1]["cut"] == {"inFlight": 8, "waiting": 0, "grace": 2.0}, records[-1]
        assert 1.9 < took < 3.9, took
        assert "8 deliveries still in flight after 2s cut" in err
        left = cli("dlq", "list", str(tmp_path / "dlq.jsonl"), "-o", "json").json["count"]
        assert left == 8
    finally:
        sb.stop()
    (tmp_path / "twice").mkdir()
    proc, records, err, took, sb, ids = _replay_then_stop(tmp_path / "twice", 2, delay=4.0, n=16, after=8)
    try:
        assert proc.returncode == 130, err
        assert took < 1.5, took
        # the deliveries the second signal cut were on the wire: counted (it said inFlight 0)
        assert records[-1]["cut"]["inFlight"] == 8, records[-1]
    finally:
        sb.stop()


def test_a_dead_cancel_answered_with_the_canceled_task_is_an_ack(
    cli: Any, sandbox: Any, tmp_path: Path
) -> None:
    """A dead-lettered CancelTask replayed: the agent answers the task, now ``canceled``, which is
    what was asked, so it is the ack (removed, exit 0). The failed-task rule is for sends only: the
    entry was kept dead forever ('task … canceled', permanent, exit 7). A GetTask of a task that
    ended ``failed`` likewise did its job."""
    running = cli("send", sandbox.url, "/slow 30", "--no-wait", "-o", "json").json["taskId"]
    failed = cli("send", sandbox.url, "/fail", "-o", "json").json["taskId"]
    target = {"url": sandbox.url + "/a2a/jsonrpc", "protocolBinding": "JSONRPC", "protocolVersion": "1.0"}
    error = {"code": 503, "message": "down", "class": "transient"}
    entries = [
        new_entry("CancelTask", {"id": running}, target, error=error, attempts=1, source="test"),
        new_entry("GetTask", {"id": failed}, target, error=error, attempts=1, source="test"),
    ]
    src = f"file://{tmp_path}/dlq.jsonl"
    fill(FileBackend(str(tmp_path / "dlq.jsonl")), entries)
    r = cli("dlq", "replay", src, "--yes", "--journal", str(tmp_path / "j"), "-o", "json")
    assert r.exit_code == 0, r.stdout[-600:]
    assert [x["status"] for x in r.json["results"]] == ["acknowledged", "acknowledged"]
    assert cli("task", "get", sandbox.url, running, "-o", "json").json["task"]["state"] == "canceled"
    assert cli("dlq", "list", src, "-o", "json").json["count"] == 0


def test_stats_counts_only_entries_with_an_error_code_or_class(cli: Any, tmp_path: Path) -> None:
    """``topErrorCodes`` ranks ``lastError.code``s: an entry whose ``lastError`` has no code (a send
    answered with a failed task) or that has no ``lastError`` is left out, and ``byClass`` counts
    only entries with a ``lastError``. Both showed them under the code and class ``"None"`` (Python's
    ``str(None)``). An integral float code is the integer it is."""
    target = {"url": "http://127.0.0.1:1/a2a/jsonrpc", "protocolBinding": "JSONRPC", "protocolVersion": "1.0"}
    params = {"message": {"messageId": "m", "role": "ROLE_USER", "parts": [{"text": "x"}]}}
    failed = {"code": None, "message": "task t failed", "class": "permanent", "state": "failed"}
    entries = [
        new_entry(
            "SendMessage", params, target, error={"code": -32603, "message": "x", "class": "transient"}
        ),
        new_entry(
            "SendMessage", params, target, error={"code": -32603.0, "message": "x", "class": "transient"}
        ),
        new_entry("SendMessage", params, target, error=failed),
        new_entry("SendMessage", params, target, error=None),
    ]
    src = f"file://{tmp_path}/dlq.jsonl"
    fill(FileBackend(str(tmp_path / "dlq.jsonl")), entries)
    r = cli("dlq", "stats", src, "-o", "json")
    assert r.exit_code == 0, r.stderr
    assert r.json["depth"] == 4
    assert r.json["topErrorCodes"] == [{"code": "-32603", "count": 2}]
    assert r.json["byClass"] == {"transient": 2, "permanent": 1}
    table = cli("dlq", "stats", src)
    assert table.exit_code == 0 and "None" not in table.stdout


def test_a_line_break_in_a_target_or_code_keeps_its_table_row_whole(cli: Any, tmp_path: Path) -> None:
    """A target URL holding a line feed split its ``dlq stats`` row: the rest of it read as a row of
    its own ("FAKE ROW 99" under "by target"); a tab in a ``messageId`` widened its ``dlq list``
    cell. In table cells they are shown as ``\\n``, ``\\t``; ``-o json`` keeps the value as it is."""
    target = {
        "url": "http://127.0.0.1:1/a2a\nFAKE ROW   99",
        "protocolBinding": "JSONRPC",
        "protocolVersion": "1.0",
    }
    params = {"message": {"messageId": "m\tid", "role": "ROLE_USER", "parts": [{"text": "x"}]}}
    error = {"code": -32603, "message": "x", "class": "transient"}
    fill(FileBackend(str(tmp_path / "dlq.jsonl")), [new_entry("SendMessage", params, target, error=error)])
    src = f"file://{tmp_path}/dlq.jsonl"
    doc = cli("dlq", "stats", src, "-o", "json").json
    assert doc["byTarget"] == [{"target": "http://127.0.0.1:1/a2a\nFAKE ROW   99", "count": 1}]
    r = cli("dlq", "stats", src, env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.stderr
    (row,) = [line for line in r.stdout.splitlines() if "127.0.0.1:1" in line]
    assert row.split() == ["http://127.0.0.1:1/a2a\\nFAKE", "ROW", "99", "1"]
    assert "FAKE" not in r.stdout.replace(row, "")
    r = cli("dlq", "list", src, env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.stderr
    (row,) = [line for line in r.stdout.splitlines() if "SendMessage" in line]
    assert row.split()[1:3] == ["SendMessage", "m\\tid"] and row.split()[-2:] == ["transient", "-32603"]


def test_an_entry_dated_ahead_and_a_message_id_that_is_no_string(cli: Any, tmp_path: Path) -> None:
    """An entry whose ``enqueuedAt`` is ahead of this clock (the producer's clock skew) had a negative
    age in ``dlq list`` ("-62.4s") and ``dlq stats`` counted it under ``<1m`` without a word; a
    ``messageId`` that is no string showed in Python's spelling (``{'n': 1}``). The age is shown as
    ``sessions`` shows one dated ahead ("0s (clock skew +1m02s)"), ``dlq stats`` says how many are
    dated ahead (``datedAhead``, and a line under the histogram), the id as JSON (``{"n":1}``).
    ``-o json`` keeps the negative age and the id as they are."""
    import datetime as dt

    target = {"url": "http://127.0.0.1:1/a2a/jsonrpc", "protocolBinding": "JSONRPC", "protocolVersion": "1.0"}
    error = {"code": -32603, "message": "x", "class": "transient"}
    entries = []
    for mid, shift in (({"n": 1}, 62.0), (True, -30.0)):
        params = {"message": {"messageId": mid, "role": "ROLE_USER", "parts": [{"text": "x"}]}}
        e = new_entry("SendMessage", params, target, error=error)
        when = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=shift)
        e["enqueuedAt"] = when.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        entries.append(e)
    fill(FileBackend(str(tmp_path / "dlq.jsonl")), entries)
    src = f"file://{tmp_path}/dlq.jsonl"
    listed = cli("dlq", "list", src, "-o", "json").json["entries"]
    assert [e["messageId"] for e in listed] == [{"n": 1}, True]
    assert -63 < listed[0]["ageSeconds"] < -60 and 29 < listed[1]["ageSeconds"] < 32
    r = cli("dlq", "list", src, env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.stderr
    rows = [line.split() for line in r.stdout.splitlines() if "SendMessage" in line]
    assert [row[2] for row in rows] == ['{"n":1}', "true"]
    assert rows[0][3:6] == ["0s", "(clock", "skew"] and re.fullmatch(r"\+1m0[12]s\)", rows[0][6])
    assert re.fullmatch(r"3[01]s", rows[1][3])
    doc = cli("dlq", "stats", src, "-o", "json").json
    assert doc["datedAhead"]["count"] == 1 and 60 < doc["datedAhead"]["maxSeconds"] < 63
    assert doc["ageHistogram"][0] == {"bucket": "<1m", "count": 2}
    r = cli("dlq", "stats", src, env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.stderr
    (note,) = [line for line in r.stdout.splitlines() if "in the future" in line]
    assert re.fullmatch(
        r"  1 entry dated in the future, counted as <1m; the furthest: 0s \(clock skew \+1m0[12]s\)", note
    )


def test_replay_ids_that_name_no_entry_exit_1(cli: Any, sandbox: Any, tmp_path: Path) -> None:
    """``--ids`` naming no entry: the ids found are replayed as always, the others are named in
    ``notFound`` and on stderr, and the exit is 1 (as ``dlq show`` of an unknown id). The replay
    exited 0 with nothing said, so an operator could not tell a typo (or an id given as ``A,B``) from
    a done replay. ``--dry-run`` says the same."""
    src = f"file://{tmp_path}/dlq.jsonl"
    es = entries_for(sandbox.url, 2)
    ids = fill(FileBackend(str(tmp_path / "dlq.jsonl")), es)
    journal = str(tmp_path / "j")
    dry = cli("dlq", "replay", src, "--ids", ids[0], "--ids", "nope", "--dry-run", "-o", "json")
    assert dry.exit_code == 1, dry.stderr
    assert dry.json["notFound"] == ["nope"] and [e["id"] for e in dry.json["entries"]] == [ids[0]]
    r = cli(
        "dlq", "replay", src, "--ids", ids[0], "--ids", "nope", "--yes", "--journal", journal, "-o", "json"
    )
    assert r.exit_code == 1, r.stderr
    assert r.json["notFound"] == ["nope"] and r.json["exitCode"] == 1
    assert [(x["id"], x["status"]) for x in r.json["results"]] == [(ids[0], "acknowledged")]
    assert "'nope'" in r.stderr
    assert [e["id"] for e in cli("dlq", "list", src, "-o", "json").json["entries"]] == [ids[1]]
    # all of them unknown, one given as "A,B": nothing replayed, the entry left, exit 1
    both = f"{ids[1]},x"
    r = cli("dlq", "replay", src, "--ids", both, "--yes", "--journal", journal, "-o", "json")
    assert r.exit_code == 1 and r.json["notFound"] == [both] and r.json["selected"] == 0
    assert "--ids A --ids B" in r.stderr
    assert cli("dlq", "list", src, "-o", "json").json["count"] == 1
    # every id found: 0, notFound empty
    r = cli("dlq", "replay", src, "--ids", ids[1], "--yes", "--journal", journal, "-o", "json")
    assert r.exit_code == 0 and r.json["notFound"] == []


def test_replay_of_a_streamed_send(cli: Any, sandbox: Any, streams: str, tmp_path: Path) -> None:
    """Dead ``SendStreamingMessage`` (JSON-RPC and HTTP+JSON) and 0.3 ``message/stream`` entries are
    delivered as streams, once each (one attempt), and acknowledged on their first event (a task still
    submitted, as a non-blocking send's). They were read as unary answers ("a body that is not
    JSON", the agent's SSE), retried, delivered --max-attempts times and kept dead every run. A
    stream that sends only comments is a transient failure after --timeout, not a hang."""
    mid = uuid.uuid4().hex[:8]
    v1 = {"messageId": f"{mid}-1", "role": "ROLE_USER", "parts": [{"text": "streamed"}]}
    rest = {"messageId": f"{mid}-2", "role": "ROLE_USER", "parts": [{"text": "streamed rest"}]}
    v03 = {
        "kind": "message",
        "messageId": f"{mid}-3",
        "role": "user",
        "parts": [{"kind": "text", "text": "hi"}],
    }
    t = {"protocolBinding": "JSONRPC", "protocolVersion": "1.0"}
    err = {"code": 503, "message": "down", "class": "transient"}
    entries = [
        new_entry(
            "SendStreamingMessage", {"message": v1}, {**t, "url": sandbox.url + "/a2a/jsonrpc"}, error=err
        ),
        new_entry(
            "SendStreamingMessage",
            {"message": rest},
            {**t, "url": sandbox.url + "/a2a/rest", "protocolBinding": "HTTP+JSON"},
            error=err,
        ),
        new_entry(
            "message/stream",
            {"message": v03},
            {**t, "url": sandbox.url + "/a2a/jsonrpc", "protocolVersion": "0.3"},
            error=err,
        ),
    ]
    src = f"file://{tmp_path}/dlq.jsonl"
    fill(FileBackend(str(tmp_path / "dlq.jsonl")), entries)
    r = cli("dlq", "replay", src, "--yes", "--journal", str(tmp_path / "j"), "-o", "json")
    assert r.exit_code == 0, r.stdout[-800:]
    assert [(x["status"], x["attempts"]) for x in r.json["results"]] == [("acknowledged", 1)] * 3
    assert cli("dlq", "list", src, "-o", "json").json["count"] == 0

    silent = new_entry(
        "SendStreamingMessage", {"message": v1}, {**t, "url": f"{streams}/silent/jsonrpc"}, error=err
    )
    fill(FileBackend(str(tmp_path / "dlq.jsonl")), [silent])
    start = time.monotonic()
    r = cli(
        "--timeout", "1s", "dlq", "replay", src, "--yes", "--max-attempts", "1",
        "--journal", str(tmp_path / "j"), "-o", "json",
    )  # fmt: skip
    assert r.exit_code == 7, r.stdout[-800:]
    assert time.monotonic() - start < 20
    res = r.json["results"][0]
    assert res["status"] == "dead-transient" and "no stream event" in res["error"]["message"]
    assert cli("dlq", "show", src, silent["id"], "-o", "json").json["lastError"]["class"] == "transient"


def test_http_backend_ids_are_one_path_segment(cli: Any, tmp_path: Path) -> None:
    """The HTTP DLQ puts an entry id in ``/dlq/{id}`` as ``protocol.versions.rest_path`` does: ``.``
    and ``..`` were sent bare and normalised away, so ``dlq show`` of ``..`` showed the debug API's
    root and of ``.`` the first page, each as if it were the entry, and an acknowledged entry's
    ``DELETE`` missed it. The debug server routes an id holding ``/`` (sent as %2F, decoded before
    routing) to the entry instead of a 404 ("no dead letter")."""
    sb = RunningSandbox(SandboxOptions(dlq=f"file://{tmp_path}/sb.jsonl")).start()
    try:
        ids = ["..", ".", "a/b", "q?x#y"]
        es = [e | {"id": i} for e, i in zip(entries_for(sb.url, len(ids)), ids, strict=True)]
        fill(FileBackend(str(tmp_path / "sb.jsonl")), es)
        src = sb.url + "/debug/a2a/dlq"
        for i in ids:
            shown = cli("dlq", "show", src, i, "-o", "json")
            assert shown.exit_code == 0 and shown.json["id"] == i, (i, shown.stdout[:200])
        _replay_all(cli, src, sb, tmp_path, ids, [e["request"]["params"]["message"]["messageId"] for e in es])
        assert cli("dlq", "show", src, "..", "-o", "json").exit_code == 1
    finally:
        sb.stop()


def test_a_fifo_source_is_refused_not_waited_on(tmp_path: Path) -> None:
    """A file source that is a FIFO (or a device such as /dev/zero) is a usage error (2). Opening the
    FIFO blocked until a writer came (a device was read without end), synchronously, so neither
    --max-time nor SIGTERM ended it."""
    fifo = tmp_path / "dlq.jsonl"
    os.mkfifo(fifo)
    for cmd in (["list"], ["stats"], ["replay", "--yes"]):
        done = subprocess.run(
            [sys.executable, "-m", "a2actl", "--max-time", "5s", "dlq", *cmd, str(fifo), "-o", "json"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert done.returncode == 2, (cmd, done.stderr)
        assert "is a FIFO, not a regular file" in json.loads(done.stdout)["error"]["message"]


@pytest.mark.parametrize("cmd", [["list"], ["stats"], ["replay", "--yes"]], ids=["list", "stats", "replay"])
def test_an_amqp_password_file_that_never_arrives_obeys_max_time(
    tmp_path: Path, refused_url: str, monkeypatch: pytest.MonkeyPatch, cmd: list[str]
) -> None:
    """``amqp://…?password-file=FIFO`` (or ``<(cmd)``) that nobody writes: the password was read on
    the event loop, which blocked in ``open`` for ever, past --max-time and SIGTERM. It is read off
    the loop: exit 5 at --max-time; one SIGTERM is exit 130. No broker is needed: the password is
    read before the connection."""
    from tests.fifo import run_a2actl

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))  # the replay's journal
    monkeypatch.delenv("A2ACTL_AMQP_PASSWORD", raising=False)
    fifo = tmp_path / "pw.fifo"
    os.mkfifo(fifo)
    port = refused_url.rsplit(":", 1)[1]
    src = f"amqp://ops@127.0.0.1:{port}/%2F?queue=orders.dlq&password-file={fifo}"
    ran = run_a2actl("--max-time", "1.5s", "-o", "json", "dlq", *cmd, src, timeout=15)
    assert ran.code == 5, (ran.code, ran.out[-500:], ran.err[-500:])
    error = json.loads(ran.out)["error"]
    assert (error["code"], error["message"]) == ("timeout", "gave up after --max-time 1.5s")
    assert ran.elapsed < 10, ran.elapsed
    ran = run_a2actl("dlq", *cmd, src, term_after=1.0, timeout=15)
    assert ran.code == 130, (ran.code, ran.err[-500:])
    # one that delivers is read once and used: the broker is then reached (here: refused, exit 3)
    ran = run_a2actl("-o", "json", "dlq", *cmd, src, feed=(str(fifo), b"s3cret-pw\n"), feed_after=0.5)
    assert ran.code == 3, (ran.code, ran.out[-500:], ran.err[-500:])
    assert json.loads(ran.out)["error"]["code"] == "unreachable"
    assert "s3cret-pw" not in ran.out + ran.err


def test_a_symlink_loop_is_a_usage_error(cli: Any, tmp_path: Path) -> None:
    """``dlq replay`` of a symlink loop was exit 1 "unexpected RuntimeError: Symlink loop" (the
    replay lock resolves the path), after a warning that the file does not exist."""
    (tmp_path / "a.jsonl").symlink_to(tmp_path / "b.jsonl")
    (tmp_path / "b.jsonl").symlink_to(tmp_path / "a.jsonl")
    env = {"XDG_STATE_HOME": str(tmp_path / "state")}
    for args in (("replay", "--yes"), ("list",), ("stats",)):
        r = cli("dlq", args[0], str(tmp_path / "a.jsonl"), *args[1:], "-o", "json", env=env)
        assert r.exit_code == 2, r.stdout + r.stderr
        assert "symlink" in r.json["error"]["message"] and "does not exist" not in r.stderr


# ------------------------------------------- the replay confirmation, asked on a real terminal (a pty)
def test_replay_confirmation_is_asked_on_stderr_with_the_password_masked(tmp_path: Path) -> None:
    """The question went to stdout through typer.confirm: it corrupted the ``-o json`` document
    (``replay dead letters from …? [y/N]: {…``), hid from a user whose stdout was redirected, and
    printed SRC's ``user:password@`` in clear. Answering ``y`` replays."""
    from tests.procs import at_a_prompt

    sb = RunningSandbox(SandboxOptions(stream_interval=0.005, dlq=f"file://{tmp_path}/sb.jsonl")).start()
    try:
        es = entries_for(sb.url, 2)
        ids = fill(FileBackend(str(tmp_path / "sb.jsonl")), es)
        secret = "pw-s3cret-for-the-replay-prompt"
        src = sb.url.replace("http://", f"http://operator:{secret}@") + "/debug/a2a/dlq"
        journal = str(tmp_path / "j.jsonl")
        code, out, err = at_a_prompt(["-o", "json", "dlq", "replay", src, "--journal", journal], b"y\n")
        assert code == 0, (out, err)
        doc = json.loads(out)  # stdout is the document alone
        assert doc["acknowledged"] == 2 and sorted(x["id"] for x in doc["results"]) == sorted(ids)
        assert "replay dead letters from http://operator:***@" in err and "[y/N]" not in out
        assert secret not in out + err
    finally:
        sb.stop()


@pytest.mark.parametrize(
    ("answer", "signum", "code"), [(None, signal.SIGINT, 130), (None, signal.SIGTERM, 130), (b"n\n", None, 1)]
)
def test_ctrl_c_or_no_at_the_replay_confirmation_replays_nothing(
    sandbox: Any, tmp_path: Path, answer: bytes | None, signum: int | None, code: int
) -> None:
    """Ctrl-C or SIGTERM at the question was typer's "Aborted!", exit 1: an interrupt is 130
    everywhere else (docs/exit-codes.md). Answering no is exit 1. Neither delivers nor removes an
    entry."""
    from tests.procs import at_a_prompt

    src = str(tmp_path / "dlq.jsonl")
    es = entries_for(sandbox.url, 2)
    fill(FileBackend(src), es)
    before = Path(src).read_bytes()
    got, out, err = at_a_prompt(
        ["dlq", "replay", src, "--journal", str(tmp_path / "j.jsonl")], answer, signum=signum
    )
    assert got == code, (out, err)
    assert "Aborted" not in err and out == ""
    if code == 130:
        assert "a2actl: interrupted" in err
    assert Path(src).read_bytes() == before
    mids = {e["request"]["params"]["message"]["messageId"] for e in es}
    assert not mids & set(received(sandbox))


def test_replay_with_stdin_closed_is_a_usage_error(tmp_path: Path) -> None:
    """``a2actl dlq replay SRC <&-`` (no stdin at all, as under some job runners): Python's
    ``sys.stdin`` is None, and asking it ``isatty`` was exit 1 "unexpected AttributeError". It is the
    documented refusal without --yes: exit 2."""
    r = a2actl_stdin_closed("-o", "json", "dlq", "replay", str(tmp_path / "dlq.jsonl"))
    assert r.returncode == 2, (r.stdout, r.stderr)
    error = json.loads(r.stdout)["error"]
    assert error["code"] == "usage" and "stdin is not a terminal" in error["message"]


@pytest.mark.parametrize(
    ("args", "hidden", "message", "extra"),
    [
        (
            ["dlq", "list", "sqs://eu-west-1/orders-dlq"],
            ("aiobotocore", "botocore"),
            "SQS sources need aiobotocore",
            "sqs",
        ),
        (
            ["dlq", "list", "amqp://guest@127.0.0.1:1/%2F?queue=q"],
            ("aio_pika", "aiormq"),
            "AMQP sources need aio-pika",
            "amqp",
        ),
        (
            ["sandbox", "serve", "--port", "0", "--no-grpc", "--dlq", "amqp://guest@127.0.0.1:1/%2F?queue=q"],
            ("aio_pika", "aiormq"),
            "AMQP sources need aio-pika",
            "amqp",
        ),
    ],
)
def test_a_broker_source_without_its_extra_is_a_usage_error(
    cli: Any,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    hidden: tuple[str, ...],
    message: str,
    extra: str,
) -> None:
    """Without ``a2actl[sqs]``/``a2actl[amqp]`` it was exit 1 ``unexpected ModuleNotFoundError: No
    module named 'botocore'`` (``'aiormq'``); it is exit 2 with the install hint."""
    for name in hidden:
        monkeypatch.setitem(sys.modules, name, None)
    r = cli("-o", "json", *args)
    assert r.exit_code == 2
    assert r.json["error"] == {
        "code": "usage",
        "message": message,
        "exitCode": 2,
        "hint": f"pip install 'a2actl[{extra}]'",
    }


def test_a_file_rotated_during_a_replay_keeps_that_runs_removals(cli: Any, tmp_path: Path) -> None:
    """The DLQ file is rotated while a replay runs (renamed, a new file at its path, as logrotate
    does): the replay's tombstones and updates go to the file its entries were read from, now
    ``dlq.jsonl.1``, and the new file is not touched (a warning says so). They went to the new file
    at the path: the rotated file kept every entry the agent had acknowledged (a replay of it
    delivered them again), and a tombstone there removed a new dead letter that reuses an id
    (a producer naming entries by its own ids): it was never delivered."""
    sb = RunningSandbox(SandboxOptions(rpc_delay=0.5)).start()
    path = tmp_path / "dlq.jsonl"
    try:
        olds = entries_for(sb.url, 12)
        for i, e in enumerate(olds):
            e["id"] = f"order-{i}"
        fill(FileBackend(path), olds)
        proc = subprocess.Popen(
            [sys.executable, "-m", "a2actl", "dlq", "replay", str(path), "--yes"]
            + ["--max-in-flight", "2", "--journal", str(tmp_path / "journal"), "-o", "jsonl"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None
        first = json.loads(proc.stdout.readline())  # the first ack: the rest are still to come
        assert first["status"] == "acknowledged", first
        os.rename(path, tmp_path / "dlq.jsonl.1")
        reused = entries_for(sb.url, 1)[0] | {"id": "order-11"}  # dead again, under its old id
        fill(FileBackend(path), [reused])
        out, err = finish(proc, 60)
        assert proc.returncode == 0, err
        records = [first] + [json.loads(x) for x in out.splitlines()]
        assert sum(r.get("status") == "acknowledged" for r in records) == 12
        assert "was rotated or replaced during the replay" in err
    finally:
        sb.stop()
    rotated = cli("dlq", "list", str(tmp_path / "dlq.jsonl.1"), "-o", "json").json
    assert rotated["count"] == 0 and rotated["invalid"]["count"] == 0, rotated
    fresh = cli("dlq", "list", str(path), "-o", "json").json
    assert [e["messageId"] for e in fresh["entries"]] == [reused["request"]["params"]["message"]["messageId"]]
    assert b"$tombstone" not in path.read_bytes()
