"""Issue 13, items 11 and 13: concurrent ``a2actl dlq replay`` processes on one source deliver every
entry exactly once (the real sandbox agent counts deliveries per messageId at
``/debug/a2a/received``): a lock per source (file ``flock``, Redis lease) refuses or queues a second
replay, and Redis consumer groups let N replayers share one stream, claiming what a dead one left."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from a2actl.dlq.store.file import FileBackend
from a2actl.dlq.store.redis import RedisBackend
from tests.cli.test_dlq import entries_for, fill
from tests.dlq_helpers import removal_counts
from tests.procs import finish


def deliveries(sb: Any, mids: list[str]) -> dict[str, int]:
    got = httpx.get(sb.url + "/debug/a2a/received").json()["messages"]
    return {m: got.get(m, {}).get("deliveries", 0) for m in mids}


def _mids(es: list[dict[str, Any]]) -> list[str]:
    return [e["request"]["params"]["message"]["messageId"] for e in es]


def _replay(src: str, journal: Path, *extra: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "a2actl",
            "dlq",
            "replay",
            src,
            "--yes",
            "--journal",
            str(journal),
            "--max-in-flight",
            "8",
            "-o",
            "json",
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=None if env is None else {**os.environ, **env},
    )


def _stderr_until(proc: subprocess.Popen[str], text: str, timeout: float = 60) -> str:
    """Read ``proc``'s stderr line by line until a line holds ``text`` (what was read, returned), so
    a test acts only once the process has reached that point, however slowly it started."""
    import select

    assert proc.stderr is not None
    seen = ""
    end = time.monotonic() + timeout
    while text not in seen:
        left = end - time.monotonic()
        assert left > 0, f"no {text!r} on stderr within {timeout}s; got {seen!r}"
        ready, _, _ = select.select([proc.stderr], [], [], left)
        if ready:
            line = proc.stderr.readline()
            assert line, f"stderr closed before {text!r}; got {seen!r}"
            seen += line
    return seen


def _done(proc: subprocess.Popen[str], timeout: float = 120) -> tuple[int, dict[str, Any], str]:
    out, err = finish(proc, timeout)  # not communicate(): it loses what readline() buffered
    return proc.returncode, json.loads(out), err


# -- one replay per source ---------------------------------------------------------------------------


def test_second_file_replay_is_refused_then_waits(cli: Any, sandbox: Any, tmp_path: Path) -> None:
    path = tmp_path / "dlq.jsonl"
    es = entries_for(sandbox.url, 5)
    fill(FileBackend(path), es)
    src = f"file://{path}"
    fd = os.open(tmp_path / "dlq.jsonl.replay-lock", os.O_RDWR | os.O_CREAT)  # another replay holds it
    fcntl.flock(fd, fcntl.LOCK_EX)
    os.write(fd, json.dumps({"pid": 4242, "host": "elsewhere", "since": time.time()}).encode())
    try:
        r = cli("dlq", "replay", src, "--yes", "--journal", str(tmp_path / "j"), "-o", "json")
        assert r.exit_code == 1
        assert r.json["error"]["code"] == "locked" and "pid 4242 on elsewhere" in r.json["error"]["message"]
        assert "--wait-lock" in r.json["error"]["hint"]
        assert deliveries(sandbox, _mids(es)) == {m: 0 for m in _mids(es)}
        waiting = _replay(src, tmp_path / "j2", "--wait-lock")
        seen = _stderr_until(waiting, "waiting for the replay")  # it reached the lock (slow starts too)
        time.sleep(0.5)
        assert waiting.poll() is None  # still waiting, nothing delivered
        assert deliveries(sandbox, _mids(es)) == {m: 0 for m in _mids(es)}
    finally:
        os.close(fd)  # the other replay ends
    code, doc, err = _done(waiting)
    err = seen + err
    assert code == 0 and doc["acknowledged"] == 5, err
    assert "waiting for the replay" in err and "pid 4242" in err
    assert deliveries(sandbox, _mids(es)) == {m: 1 for m in _mids(es)}


@pytest.mark.parametrize("wait", [True, False])
def test_two_concurrent_file_replays_deliver_each_entry_once(
    sandbox: Any, tmp_path: Path, wait: bool
) -> None:
    path = tmp_path / "dlq.jsonl"
    es = entries_for(sandbox.url, 400)
    ids = fill(FileBackend(path), es)
    extra = ("--wait-lock",) if wait else ()
    procs = [_replay(f"file://{path}", tmp_path / f"j{i}", *extra) for i in range(2)]
    results = [_done(p) for p in procs]
    codes = sorted(code for code, _, _ in results)
    if wait:
        assert codes == [0, 0]
        assert sorted(doc["acknowledged"] for _, doc, _ in results) == [0, 400]
    else:  # the second is refused (or, if it started after the first ended, finds nothing left)
        assert codes in ([0, 1], [0, 0])
        assert all(doc["error"]["code"] == "locked" for code, doc, _ in results if code == 1)
    assert deliveries(sandbox, _mids(es)) == {m: 1 for m in _mids(es)}
    assert removal_counts(FileBackend(path)) == {i: 1 for i in ids}


@pytest.mark.parametrize("wait", [True, False])
def test_replays_through_three_hard_links_deliver_each_entry_once(
    sandbox: Any, tmp_path: Path, wait: bool
) -> None:
    """Three names of one file (hard links): the lock was ``PATH.replay-lock`` beside each name, so
    replays, one through each, all held "the" lock and each delivered every entry. The lock of the
    file's device and inode is shared by every name. Its holder removes it as it ends (one was left
    per file ever replayed); a replay waiting on it then starts over on the file at its path, so
    the third never runs beside the second."""
    path = tmp_path / "a" / "dlq.jsonl"
    path.parent.mkdir()
    es = entries_for(sandbox.url, 400)
    ids = fill(FileBackend(path), es)
    names = [path]
    for d in "bc":  # other names, in other directories
        (tmp_path / d).mkdir()
        names.append(tmp_path / d / "other.jsonl")
        os.link(path, names[-1])
    env = {"XDG_STATE_HOME": str(tmp_path / "state")}
    extra = ("--wait-lock",) if wait else ()
    procs = [_replay(f"file://{p}", tmp_path / f"j{i}", *extra, env=env) for i, p in enumerate(names)]
    results = [_done(p) for p in procs]
    codes = sorted(code for code, _, _ in results)
    if wait:
        assert codes == [0, 0, 0], [err[-300:] for _, _, err in results]
        assert sorted(doc["acknowledged"] for _, doc, _ in results) == [0, 0, 400]
    else:  # the others are refused (or, if they started after the first ended, find nothing left)
        assert codes[0] == 0 and set(codes) <= {0, 1}
        assert all(doc["error"]["code"] == "locked" for code, doc, _ in results if code == 1)
    assert deliveries(sandbox, _mids(es)) == {m: 1 for m in _mids(es)}
    assert removal_counts(FileBackend(path)) == {i: 1 for i in ids}
    assert list((tmp_path / "state" / "a2actl" / "locks").iterdir()) == []


def test_two_concurrent_redis_replays_deliver_each_entry_once(
    sandbox: Any, redis_url: str, tmp_path: Path
) -> None:
    stream = f"dlq-lease-{uuid.uuid4().hex[:6]}"
    src = f"{redis_url}?stream={stream}"
    es = entries_for(sandbox.url, 400)
    fill(RedisBackend(src), es)
    procs = [_replay(src, tmp_path / f"j{i}", "--wait-lock") for i in range(2)]
    results = [_done(p) for p in procs]
    assert [code for code, _, _ in results] == [0, 0], [err for _, _, err in results]
    assert sorted(doc["acknowledged"] for _, doc, _ in results) == [0, 400]
    assert deliveries(sandbox, _mids(es)) == {m: 1 for m in _mids(es)}
    r = redis.Redis.from_url(redis_url)
    assert r.xlen(stream) == 0 and not r.exists(stream + ":replay-lock")  # released at the end


def test_redis_lease_refuses_a_second_replay(cli: Any, sandbox: Any, redis_url: str, tmp_path: Path) -> None:
    stream = f"dlq-held-{uuid.uuid4().hex[:6]}"
    src = f"{redis_url}?stream={stream}"
    es = entries_for(sandbox.url, 3)
    fill(RedisBackend(src), es)
    r = redis.Redis.from_url(redis_url)
    r.set(stream + ":replay-lock", json.dumps({"pid": 77, "host": "box-b", "since": time.time()}), px=1500)
    res = cli("dlq", "replay", src, "--yes", "--journal", str(tmp_path / "j"), "-o", "json")
    assert res.exit_code == 1 and res.json["error"]["code"] == "locked"
    assert "pid 77 on box-b" in res.json["error"]["message"] and "expires in" in res.json["error"]["message"]
    # A group replay does not mix with an exclusive one either.
    res = cli("dlq", "replay", src + "&group=g", "--yes", "--journal", str(tmp_path / "j"), "-o", "json")
    assert res.exit_code == 1 and res.json["error"]["code"] == "locked"
    assert deliveries(sandbox, _mids(es)) == {m: 0 for m in _mids(es)}
    # The holder died: its lease expires and a waiting replay goes ahead.
    res = cli("dlq", "replay", src, "--yes", "--wait-lock", "--journal", str(tmp_path / "j"), "-o", "json")
    assert res.exit_code == 0 and res.json["acknowledged"] == 3
    assert deliveries(sandbox, _mids(es)) == {m: 1 for m in _mids(es)}


# -- consumer groups ---------------------------------------------------------------------------------


def test_three_group_replayers_share_one_stream(sandbox: Any, redis_url: str, tmp_path: Path) -> None:
    stream = f"dlq-group-{uuid.uuid4().hex[:6]}"
    base = f"{redis_url}?stream={stream}&group=redrive"
    es = entries_for(sandbox.url, 300)
    fill(RedisBackend(base), es)
    procs = [_replay(f"{base}&consumer=c{i}", tmp_path / f"j{i}") for i in range(3)]
    results = [_done(p) for p in procs]
    assert [code for code, _, _ in results] == [0, 0, 0], [err for _, _, err in results]
    assert sum(doc["acknowledged"] for _, doc, _ in results) == 300
    assert {doc["group"]["consumer"] for _, doc, _ in results} == {"c0", "c1", "c2"}
    assert deliveries(sandbox, _mids(es)) == {m: 1 for m in _mids(es)}
    r = redis.Redis.from_url(redis_url)
    assert r.xlen(stream) == 0 and r.xpending(stream, "redrive")["pending"] == 0


def test_group_replay_claims_what_a_dead_replayer_left(
    cli: Any, sandbox: Any, redis_url: str, tmp_path: Path
) -> None:
    stream = f"dlq-claim-{uuid.uuid4().hex[:6]}"
    base = f"{redis_url}?stream={stream}&group=redrive"
    es = entries_for(sandbox.url, 30)
    fill(RedisBackend(base), es)
    r = redis.Redis.from_url(redis_url, decode_responses=True)
    r.xgroup_create(stream, "redrive", id="0")
    taken: Any = r.xreadgroup("redrive", "dead", {stream: ">"}, count=10)  # then it died
    dead_mids = {json.loads(f["entry"])["request"]["params"]["message"]["messageId"] for _, f in taken[0][1]}
    # Not idle long enough yet: left to their owner.
    res = cli(
        "dlq",
        "replay",
        base + "&consumer=alive",
        "--yes",
        "--claim-after",
        "1h",
        "--journal",
        str(tmp_path / "j"),
        "-o",
        "json",
    )
    assert res.exit_code == 0 and res.json["acknowledged"] == 20 and res.json["group"]["claimed"] == 0
    assert r.xlen(stream) == 10 and r.xpending(stream, "redrive")["pending"] == 10
    assert deliveries(sandbox, sorted(dead_mids)) == {m: 0 for m in dead_mids}
    time.sleep(0.4)
    res = cli(
        "dlq",
        "replay",
        base + "&consumer=alive",
        "--yes",
        "--claim-after",
        "300ms",
        "--journal",
        str(tmp_path / "j"),
        "-o",
        "json",
    )
    assert res.exit_code == 0 and res.json["acknowledged"] == 10 and res.json["group"]["claimed"] == 10
    assert deliveries(sandbox, _mids(es)) == {m: 1 for m in _mids(es)}
    assert r.xlen(stream) == 0 and r.xpending(stream, "redrive")["pending"] == 0


def test_group_entries_still_dead_stay_pending_and_are_retried(
    cli: Any, sandbox: Any, sandbox_down: Any, redis_url: str, tmp_path: Path
) -> None:
    stream = f"dlq-dead-{uuid.uuid4().hex[:6]}"
    src = f"{redis_url}?stream={stream}&group=redrive&consumer=c1"
    es = entries_for(sandbox_down.url, 4)
    fill(RedisBackend(src), es)
    res = cli(
        "dlq", "replay", src, "--yes", "--max-attempts", "1", "--journal", str(tmp_path / "j"), "-o", "json"
    )
    assert res.exit_code == 7 and res.json["stillDead"]["transient"] == 4
    r = redis.Redis.from_url(redis_url)
    assert r.xlen(stream) == 4 and r.xpending(stream, "redrive")["pending"] == 4
    shown = cli("dlq", "list", src, "-o", "json").json["entries"]
    assert [e["attempts"] for e in shown] == [4, 4, 4, 4]
    # The fix: the same consumer takes its pending entries back first.
    res = cli(
        "dlq", "replay", src, "--to", sandbox.url, "--yes", "--journal", str(tmp_path / "j"), "-o", "json"
    )
    assert res.exit_code == 0 and res.json["acknowledged"] == 4
    assert deliveries(sandbox, _mids(es)) == {m: 1 for m in _mids(es)}
    assert r.xlen(stream) == 0 and r.xpending(stream, "redrive")["pending"] == 0


def test_group_replay_refuses_filters_and_bad_options(cli: Any, redis_url: str, tmp_path: Path) -> None:
    src = f"{redis_url}?stream=s-{uuid.uuid4().hex[:6]}&group=g"
    fill(RedisBackend(src), entries_for("http://127.0.0.1:9", 1))
    for extra in (["--limit", "1"], ["--error-class", "transient"], ["--ids", "1-0"]):
        r = cli("dlq", "replay", src, *extra, "--yes", "--journal", str(tmp_path / "j"), "-o", "json")
        assert r.exit_code == 2 and r.json["error"]["code"] == "usage", extra
    for bad in ("&group=", "&consumer=x".replace("&group=g", "")):
        r = cli("dlq", "list", src.replace("&group=g", "") + bad, "-o", "json")
        assert r.exit_code == 2 and r.json["error"]["code"] == "usage", bad
    r = cli("dlq", "replay", src, "--claim-after", "0s", "--yes", "-o", "json")
    assert r.exit_code == 2 and "--claim-after" in r.json["error"]["message"]


def test_group_replayer_keeps_slow_entries_from_being_claimed(redis_url: str, tmp_path: Path) -> None:
    """A replayer holding entries longer than --claim-after (a slow agent) keeps them: its heartbeat
    resets their idle time, so a second replayer claims none and nothing is delivered twice."""
    from a2actl.server.sandbox.options import SandboxOptions
    from a2actl.server.sandbox.server import RunningSandbox

    slow = RunningSandbox(SandboxOptions(stream_interval=0.005, rpc_delay=0.4)).start()
    try:
        stream = f"dlq-slow-{uuid.uuid4().hex[:6]}"
        base = f"{redis_url}?stream={stream}&group=redrive"
        es = entries_for(slow.url, 30)
        fill(RedisBackend(base), es)
        first = _replay(
            f"{base}&consumer=a", tmp_path / "ja", "--claim-after", "300ms", "--max-in-flight", "2"
        )
        time.sleep(1.5)  # a has taken all 30 and works through them 2 at a time (6 s)
        assert first.poll() is None
        code, doc, err = _done(_replay(f"{base}&consumer=b", tmp_path / "jb", "--claim-after", "300ms"))
        assert code == 0 and doc["group"]["claimed"] == 0 and doc["acknowledged"] == 0, err
        code, doc, err = _done(first)
        assert code == 0 and doc["acknowledged"] == 30, err
        assert deliveries(slow, _mids(es)) == {m: 1 for m in _mids(es)}
    finally:
        slow.stop()


def test_a_stalled_replayer_does_not_deliver_what_another_claimed_meanwhile(
    redis_url: str, tmp_path: Path
) -> None:
    """A replayer stopped (SIGSTOP: a VM pause, a laptop lid) for longer than --claim-after looks dead:
    a second one claims what it held (XAUTOCLAIM) and delivers it. When the first resumes, the entries
    it had read ahead and not yet sent are no longer its own: it skips them instead of delivering
    them a second time (it delivered its whole read-ahead page: 14-18 of 20 twice), and it does not
    take them back from the claimer (its idle-time refresher did, with XCLAIM). What it had already
    sent (--max-in-flight 1), the one waiting for a free slot and one acknowledged but not yet
    removed can still go twice: at least once."""
    from a2actl.server.sandbox.options import SandboxOptions
    from a2actl.server.sandbox.server import RunningSandbox

    slow = RunningSandbox(SandboxOptions(stream_interval=0.005, rpc_delay=0.3)).start()
    first: subprocess.Popen[str] | None = None
    try:
        stream = f"dlq-stall-{uuid.uuid4().hex[:6]}"
        base = f"{redis_url}?stream={stream}&group=redrive"
        es = entries_for(slow.url, 20)
        mids = _mids(es)
        fill(RedisBackend(base), es)
        r = redis.Redis.from_url(redis_url, decode_responses=True)
        first = _replay(
            f"{base}&consumer=a", tmp_path / "ja", "--claim-after", "300ms", "--max-in-flight", "1"
        )
        end = time.monotonic() + 30
        while sum(deliveries(slow, mids).values()) < 2:  # a has read the page and is delivering
            assert time.monotonic() < end and first.poll() is None
            time.sleep(0.05)
        os.kill(first.pid, signal.SIGSTOP)
        second = _replay(
            f"{base}&consumer=b", tmp_path / "jb", "--claim-after", "300ms", "--max-in-flight", "4"
        )
        code, doc, err = _done(second)  # b claims what a held, delivers it, acks it
        assert code == 0 and doc["group"]["claimed"] >= 10, err
        os.kill(first.pid, signal.SIGCONT)
        code, doc, err = _done(first)
        first = None
        assert code == 0, err
        got = deliveries(slow, mids)
        assert all(n >= 1 for n in got.values()), got  # nothing lost
        # what a had sent (one), the one waiting for a slot, and one the agent acknowledged whose
        # removal a batches (up to 50 ms): b found them pending too
        assert sum(n - 1 for n in got.values()) <= 3, got
        assert r.xlen(stream) == 0 and r.xpending(stream, "redrive")["pending"] == 0
    finally:
        if first is not None:
            os.kill(first.pid, signal.SIGCONT)
            first.kill()
            first.wait()
        slow.stop()
