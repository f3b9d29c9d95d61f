"""``a2actl dlq`` against hostile input: agents whose answers hold text UTF-8 cannot carry, records
with odd shapes, and what a replay writes back into its source from them. Real CLI, real loopback
agents, real file and Redis (redis-server) sources."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis as sync_redis
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from a2actl.core.config import DEFAULT_MAX_BODY_BYTES
from a2actl.dlq.store.file import FileBackend
from a2actl.dlq.store.redis import RedisBackend
from tests.cli.test_dlq import entries_for, fill, received
from tests.servers import LoopbackServer


def _lone_surrogate_agent(_: str) -> Starlette:
    """Answers every JSON-RPC call with an error whose message holds a lone surrogate escape (orjson
    refuses it; the stdlib reads it as the code point U+D800)."""

    async def rpc(request: Request) -> Response:
        rid = json.dumps(json.loads(await request.body()).get("id"))
        text = '{"jsonrpc":"2.0","id":' + rid + ',"error":{"code":-32603,"message":"db \\ud800 down"}}'
        return Response(text, media_type="application/json")

    return Starlette(routes=[Route("/a2a/jsonrpc", rpc, methods=["POST"])])


@pytest.fixture(scope="module")
def lone_agent() -> Iterator[str]:
    with LoopbackServer(_lone_surrogate_agent) as srv:
        yield srv.url


def _source(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> tuple[str, Any]:
    if kind == "file":
        return f"file://{tmp_path}/dlq.jsonl", FileBackend(tmp_path / "dlq.jsonl")
    src = f"{request.getfixturevalue('redis_url')}?stream=dlq-{uuid.uuid4().hex[:6]}"
    return src, RedisBackend(src)


@pytest.mark.parametrize("kind", ["file", "redis"])
def test_an_agent_error_holding_a_lone_surrogate_is_stored_as_text(
    cli: Any, lone_agent: str, tmp_path: Path, kind: str, request: pytest.FixtureRequest
) -> None:
    """An error message with a lone surrogate (``"\\ud800"`` read by the stdlib) was written into the
    store's own update (a file ``$update`` line, the Redis ``KEY:meta`` value) as the escape and read
    back as an invalid entry: the entry's attempts were lost and every later replay exited 7 for an
    "invalid entry". The replay's ``-o json`` ended in an unexpected UnicodeEncodeError (exit 1).
    Now the text is stored and printed with U+FFFD, and the entry stays a valid, counted dead letter."""
    src, store = _source(kind, tmp_path, request)
    ids = fill(store, entries_for(lone_agent, 2))  # attempts 3 each
    journal = str(tmp_path / "journal")
    for run, attempts in ((1, 4), (2, 5)):
        r = cli("dlq", "replay", src, "--yes", "--max-attempts", "1", "--journal", journal, "-o", "json")
        assert r.exit_code == 7, (run, r.stderr[-600:])
        doc = r.json
        assert doc["stillDead"] == {"transient": 2, "permanent": 0}, run
        assert doc["invalid"] == {"count": 0, "first": []}, run
        assert {x["error"]["message"] for x in doc["results"]} == {"InternalError: db \ufffd down"}
        listed = cli("dlq", "list", src, "-o", "json")
        assert listed.exit_code == 0 and listed.json["invalid"]["count"] == 0, run
        assert [(e["id"], e["attempts"]) for e in listed.json["entries"]] == [(i, attempts) for i in ids]
    shown = cli("dlq", "show", src, ids[0], "-o", "json")
    assert shown.exit_code == 0 and shown.json["lastError"]["message"] == "InternalError: db \ufffd down"


def _strict(text: str) -> Any:
    """``json.loads`` that refuses ``NaN``/``Infinity`` as strict JSON readers (jq, JavaScript) do."""

    def refuse(name: str) -> Any:
        raise ValueError(f"{name} is not JSON")

    return json.loads(text, parse_constant=refuse)


@pytest.mark.parametrize("kind", ["file", "redis"])
def test_show_and_list_of_a_record_holding_nan_are_json(
    cli: Any, tmp_path: Path, kind: str, request: pytest.FixtureRequest
) -> None:
    """``NaN`` and infinities in a stored record (Python's reader takes them) are ``null`` in
    ``dlq show -o json`` and ``dlq list -o json``, as in every other command's ``-o json``."""
    src, store = _source(kind, tmp_path, request)
    (e,) = entries_for("http://127.0.0.1:9", 1)
    e["request"]["params"]["message"]["parts"] = [{"data": {"x": float("nan"), "y": float("inf")}}]
    e["lastError"]["code"] = float("-inf")  # invalid: the schema wants an integer code
    (eid,) = fill(store, [e])
    shown = cli("dlq", "show", src, eid, "-o", "json")
    assert shown.exit_code == 0
    doc = _strict(shown.stdout)
    assert doc["request"]["params"]["message"]["parts"] == [{"data": {"x": None, "y": None}}]
    assert doc["lastError"]["code"] is None
    listed = cli("dlq", "list", src, "-o", "json")
    assert listed.exit_code == 0 and _strict(listed.stdout)["invalid"]["count"] == 1


#: Deliveries the big-answer agent received, by messageId.
BIG_SEEN: dict[str, int] = {}


def _big_answer_agent(_: str) -> Starlette:
    """Answers every JSON-RPC call with a message over the 64 MiB body limit: ``/{status}/{how}``,
    ``how`` ``chunked`` (found while reading) or ``length`` (declared by Content-Length)."""

    async def rpc(request: Request) -> Response:
        doc = json.loads(await request.body())
        mid = doc["params"]["message"]["messageId"]
        BIG_SEEN[mid] = BIG_SEEN.get(mid, 0) + 1
        head = b'{"jsonrpc":"2.0","id":' + json.dumps(doc.get("id")).encode() + b',"result":{"message":'
        head += b'{"messageId":"a","role":"ROLE_AGENT","parts":[{"text":"'
        chunk, n = b"a" * (1 << 20), DEFAULT_MAX_BODY_BYTES // (1 << 20) + 1
        status = int(request.path_params["status"])
        if request.path_params["how"] == "length":
            return Response(head + chunk * n + b'"}]}}}', status_code=status, media_type="application/json")

        async def gen() -> Any:
            yield head
            for _ in range(n):
                yield chunk
            yield b'"}]}}}'

        return StreamingResponse(gen(), status_code=status, media_type="application/json")

    return Starlette(routes=[Route("/{status:int}/{how}/a2a/jsonrpc", rpc, methods=["POST"])])


def test_a_2xx_answer_over_the_body_limit_is_delivered_once(cli: Any, tmp_path: Path) -> None:
    """The agent answers 2xx with a body over the 64 MiB limit: it took the message, but the answer
    cannot be read. It was a transient failure, retried --max-attempts times in every run: three
    deliveries a run of a message the agent had received. Now it is a permanent failure (one
    delivery, not retried; the entry stays dead, exit 7, lastError says why); a 5xx answer over the
    limit is still transient."""
    with LoopbackServer(_big_answer_agent) as srv:
        es = entries_for(srv.url, 3)
        paths = ["/200/chunked", "/200/length", "/503/chunked"]
        for e, path in zip(es, paths, strict=True):
            e["target"] = {**e["target"], "url": srv.url + path + "/a2a/jsonrpc"}  # entries share one
        ids = fill(FileBackend(tmp_path / "dlq.jsonl"), es)
        r = cli("dlq", "replay", str(tmp_path / "dlq.jsonl"), "--yes", "--max-attempts", "2", "-o", "json")
    assert r.exit_code == 7, r.stderr
    mids = [e["request"]["params"]["message"]["messageId"] for e in es]
    assert [BIG_SEEN.get(m) for m in mids] == [1, 1, 2]
    results = {x["id"]: x for x in r.json["results"]}
    assert [(results[i]["status"], results[i]["attempts"]) for i in ids] == [
        ("dead-permanent", 1),
        ("dead-permanent", 1),
        ("dead-transient", 2),
    ]
    assert "an HTTP 200 answer: the agent took the message" in results[ids[0]]["error"]["message"]
    assert "declares a" in results[ids[1]]["error"]["message"]
    left = cli("dlq", "list", str(tmp_path / "dlq.jsonl"), "-o", "json").json
    assert [(e["id"], e["errorClass"]) for e in left["entries"]] == [
        (ids[0], "permanent"),
        (ids[1], "permanent"),
        (ids[2], "transient"),
    ]


#: What the ack agent received: messageId -> the request's params as the stdlib read them.
ACKED: dict[str, list[Any]] = {}


def _ack_agent(_: str) -> Starlette:
    """Acknowledges every SendMessage with a completed task, keeping the params it got (read by the
    stdlib: integers past 64 bits exactly, any depth)."""

    async def rpc(request: Request) -> Response:
        doc = json.loads(await request.body())
        ACKED.setdefault(doc["params"]["message"]["messageId"], []).append(doc["params"])
        task = {"id": "t", "contextId": "c", "status": {"state": "TASK_STATE_COMPLETED"}}
        return Response(json.dumps({"jsonrpc": "2.0", "id": doc["id"], "result": {"task": task}}))

    return Starlette(routes=[Route("/a2a/jsonrpc", rpc, methods=["POST"])])


def test_entries_orjson_cannot_write_are_delivered(cli: Any, tmp_path: Path) -> None:
    """An entry holding an integer past 64 bits (read exactly from the file) or nested past 255
    levels: orjson refused to write the request and the replay ended at it with exit 1
    "unexpected TypeError", before the entries after it (and a delivery in flight got "Connector is
    closed" recorded as its error). Each is delivered now (the stdlib writes it), the integer exact."""
    deep: Any = "bottom"
    for _ in range(300):
        deep = {"d": deep}
    with LoopbackServer(_ack_agent) as srv:
        es = entries_for(srv.url, 4)
        es[0]["request"]["params"]["message"]["metadata"] = {"n": 123456789012345678901234567890}
        es[1]["request"]["params"]["message"]["metadata"] = {"deep": deep}
        fill(FileBackend(tmp_path / "dlq.jsonl"), es)
        r = cli(
            "dlq",
            "replay",
            str(tmp_path / "dlq.jsonl"),
            "--yes",
            "--journal",
            str(tmp_path / "j"),
            "-o",
            "json",
        )
    assert r.exit_code == 0, r.stdout[-600:] + r.stderr[-600:]
    assert r.json["acknowledged"] == 4
    mids = [e["request"]["params"]["message"]["messageId"] for e in es]
    assert {m: len(ACKED.get(m, [])) for m in mids} == {m: 1 for m in mids}
    assert ACKED[mids[0]][0]["message"]["metadata"] == {"n": 123456789012345678901234567890}
    assert ACKED[mids[1]][0]["message"]["metadata"] == {"deep": deep}
    assert cli("dlq", "list", str(tmp_path / "dlq.jsonl"), "-o", "json").json["count"] == 0


def _offset_dlq_agent(base: str, page_cap: int | None = None, held: int = 0) -> Starlette:
    """A debug API DLQ in memory whose cursor is an offset (as a2actl's own debug API pages), plus
    a JSON-RPC endpoint that acknowledges every message (``ACKED``). ``POST /fill?n=N`` fills it.

    ``page_cap``: a page holds at most this many entries, whatever ``pageSize`` asks (a server may
    send fewer). ``held``: the agent holds its answer to the first ``held`` entries until the queue
    is read from the start a second time (a slow ack, landing while the replay reads again), then
    answers 0.1 s later (so the replay commits it at once: past its 50 ms batch interval); and a
    page is answered only once every entry served on an earlier page and not held (or released) is
    deleted (at most 2 s): the replay's removals land between two pages every time, not by chance."""
    entries: list[dict[str, Any]] = []
    held_mids: set[str] = set()
    served: set[str] = set()
    reads = [0]  # reads from the start (a GET without a cursor)
    release = asyncio.Event()
    ack = _ack_agent(base).routes[0].endpoint

    def mid(e: dict[str, Any]) -> str:
        return str(e["request"]["params"]["message"]["messageId"])

    async def fill_(request: Request) -> Response:
        entries[:] = entries_for(base, int(request.query_params["n"]))
        held_mids.update(mid(e) for e in entries[:held])
        return Response("{}")

    async def page(request: Request) -> Response:
        size, offset = int(request.query_params["pageSize"]), int(request.query_params.get("cursor", "0"))
        size = min(size, page_cap or size)
        deadline = time.monotonic() + 2
        while held and time.monotonic() < deadline:
            unsettled = [
                e for e in entries if e["id"] in served and (mid(e) not in held_mids or release.is_set())
            ]
            if not unsettled:
                break
            await asyncio.sleep(0.005)
        reads[0] += "cursor" not in request.query_params
        more = offset + size < len(entries)
        doc = {"entries": entries[offset : offset + size], "nextCursor": str(offset + size) if more else None}
        served.update(e["id"] for e in doc["entries"])
        if reads[0] >= 2:
            release.set()
        return Response(json.dumps(doc), media_type="application/json")

    async def delete(request: Request) -> Response:
        eid, before = request.path_params["id"], len(entries)
        entries[:] = [e for e in entries if e["id"] != eid]
        return Response(json.dumps({"id": eid, "removed": len(entries) < before}))

    async def rpc(request: Request) -> Response:
        doc = json.loads(await request.body())
        if doc["params"]["message"]["messageId"] in held_mids:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(release.wait(), 5)
            await asyncio.sleep(0.1)
        return await ack(request)  # the body is read once: Starlette keeps it

    return Starlette(
        routes=[
            Route("/fill", fill_, methods=["POST"]),
            Route("/dlq", page, methods=["GET"]),
            Route("/dlq/{id}", delete, methods=["DELETE"]),
            Route("/a2a/jsonrpc", rpc, methods=["POST"]),
        ]
    )


def test_a_replay_over_the_debug_api_drains_it_though_its_cursor_is_an_offset(
    cli: Any, tmp_path: Path
) -> None:
    """The replay removes what the agent acknowledged while it pages the debug API's DLQ; with an
    offset cursor each removal made a later page skip an entry, and the replay exited 0 with ~40% of
    1,200 entries still in the queue. It reads the pages again until nothing new is left."""
    with LoopbackServer(_offset_dlq_agent) as srv:
        httpx.post(srv.url + "/fill?n=1200")
        r = cli("dlq", "replay", srv.url + "/dlq", "--yes", "--journal", str(tmp_path / "j"), "-o", "json")
        assert r.exit_code == 0, r.stderr[-500:]
        assert (r.json["selected"], r.json["acknowledged"]) == (1200, 1200)
        assert cli("dlq", "stats", srv.url + "/dlq", "-o", "json").json["depth"] == 0
    mids = [x["messageId"] for x in r.json["results"]]
    assert all(len(ACKED[m]) == 1 for m in mids) and len(set(mids)) == 1200


def test_a_replay_reads_again_when_its_acks_land_during_a_read_that_found_nothing_new(
    cli: Any, tmp_path: Path
) -> None:
    """Pages of one entry, and an agent slow to acknowledge the first: the first read takes S and A,
    A's removal shifts M past the cursor; the second read finds nothing new, but S's ack lands
    between its pages and shifts M past the cursor again. The replay stopped there (a read with
    nothing new), exit 0 with M never read and still in the queue. After exit 0 nothing is left to
    deliver, and every entry was delivered once."""
    with LoopbackServer(functools.partial(_offset_dlq_agent, page_cap=1, held=1)) as srv:
        httpx.post(srv.url + "/fill?n=3")
        r = cli("dlq", "replay", srv.url + "/dlq", "--yes", "--journal", str(tmp_path / "j"), "-o", "json")
        assert r.exit_code == 0, r.stderr[-500:]
        assert cli("dlq", "list", srv.url + "/dlq", "-o", "json").json["count"] == 0
    mids = [x["messageId"] for x in r.json["results"]]
    assert (r.json["selected"], r.json["acknowledged"], len(set(mids))) == (3, 3, 3)
    assert {m: len(ACKED[m]) for m in mids} == {m: 1 for m in mids}


def test_a_fifo_journal_is_refused_not_waited_on(tmp_path: Path) -> None:
    """``--journal`` naming a FIFO: its open blocked until a writer came, past --max-time and
    SIGTERM (the replay lock held all the while). Exit 2 now, naming it."""
    fill(FileBackend(tmp_path / "dlq.jsonl"), entries_for("http://127.0.0.1:9", 1))
    fifo = tmp_path / "journal"
    os.mkfifo(fifo)
    done = subprocess.run(
        [sys.executable, "-m", "a2actl", "--max-time", "5s", "dlq", "replay", str(tmp_path / "dlq.jsonl")]
        + ["--yes", "--journal", str(fifo), "-o", "json"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2, done.stderr
    assert "it is a FIFO" in json.loads(done.stdout)["error"]["message"]


@pytest.fixture
def opens(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Every ``os.open`` of a path in ``/proc``, ``/sys`` or ``/dev``, or of a socket, as ``(real
    path, flags)``. One that could write (or create) is refused with ``PermissionError`` instead of
    made, so a test of the refusal never writes a kernel setting even when the refusal is broken."""
    real_open = os.open
    seen: list[tuple[str, int]] = []
    writes = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC

    def guarded(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        where = os.path.realpath(path) if isinstance(path, (str, os.PathLike)) else ""
        if where.startswith(("/proc/", "/sys/", "/dev/")) or where.endswith(".sock"):
            seen.append((where, flags))
            if flags & writes:
                raise PermissionError(13, "refused by the test: a write to a kernel file")
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", guarded)
    return seen


@pytest.mark.parametrize(
    ("where", "said"),
    [
        ("/proc/sys/kernel/hostname", "it is on proc, a kernel interface, not a file"),
        ("/sys/kernel/profiling", "it is on sysfs, a kernel interface, not a file"),
        ("link-to-proc", "it is on proc, a kernel interface, not a file"),
        ("/dev/null", "it is a character device"),
        ("j.sock", "it is a socket"),
    ],
)
def test_a_journal_on_a_kernel_interface_or_a_device_is_refused_before_it_is_opened(
    cli: Any, sandbox: Any, tmp_path: Path, opens: list[tuple[str, int]], where: str, said: str
) -> None:
    """``--journal /proc/sys/kernel/hostname`` was taken: procfs files look regular, so the journal
    was opened for appending and its start line written there (as root: the machine's hostname).
    ``/dev/null`` was opened before being refused (opening a device can act: a tape rewinds, a
    watchdog arms), a socket gave "No such device or address". Each is refused with exit 2 and one
    line saying what the path is, before it is opened at all and before anything is delivered."""
    import socket

    es = entries_for(sandbox.url, 1)
    fill(FileBackend(tmp_path / "dlq.jsonl"), es)
    journal = tmp_path / where
    if where == "link-to-proc":
        journal.symlink_to("/proc/sys/kernel/hostname")
    elif where == "j.sock":
        server = socket.socket(socket.AF_UNIX)
        server.bind(str(journal))
    try:
        r = cli(
            "dlq", "replay", str(tmp_path / "dlq.jsonl"), "--yes", "--journal", str(journal), "-o", "json"
        )
    finally:
        if where == "j.sock":
            server.close()
    assert r.exit_code == 2, r.stdout
    assert r.json["error"]["message"] == f"cannot use {journal} as the replay journal: {said}"
    assert opens == []
    assert es[0]["request"]["params"]["message"]["messageId"] not in received(sandbox)


@pytest.mark.parametrize("command", ["purge", "list"])
def test_a_dlq_file_on_a_kernel_interface_is_refused(
    cli: Any, opens: list[tuple[str, int]], command: str
) -> None:
    """``dlq purge /proc/sys/kernel/hostname --ids line:1 --yes`` took the file as a DLQ whose line 1
    is invalid and appended a tombstone for it: as root, a new hostname. A DLQ file on a kernel
    interface is refused (exit 2, one line) before it is opened."""
    args = ["--ids", "line:1", "--yes"] if command == "purge" else []
    r = cli("dlq", command, "/proc/sys/kernel/hostname", *args, "-o", "json")
    assert r.exit_code == 2, r.stdout
    assert r.json["error"]["message"] == (
        "DLQ file /proc/sys/kernel/hostname: the path is on proc, a kernel interface, not a file"
    )
    assert opens == []


def _replay_with_a_file_size_limit(
    tmp_path: Path, limit: int, *args: str
) -> subprocess.CompletedProcess[str]:
    """``a2actl dlq replay DLQ --yes --journal J -o json ARGS`` with ``RLIMIT_FSIZE`` at ``limit``
    bytes: a write past it fails with EFBIG, as a full disk fails with ENOSPC (Python ignores
    SIGXFSZ), so a journal longer than ``limit`` cannot be written while the DLQ file can."""
    import resource

    def limited() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return subprocess.run(
        [sys.executable, "-m", "a2actl", "dlq", "replay", str(tmp_path / "dlq.jsonl"), "--yes"]
        + ["--journal", str(tmp_path / "journal"), "-o", "json", *args],
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=limited,  # noqa: PLW1509 - no threads to speak of in the child yet
        check=False,
    )


def test_a_journal_that_cannot_be_written_is_refused_before_any_delivery(
    sandbox: Any, tmp_path: Path
) -> None:
    """A journal that opens but refuses writes (a full disk; here a file size limit it is already
    over): the replay delivered the first batch, then failed to journal it, exit 1 "unexpected
    OSError". It is refused before anything is delivered: exit 2 naming the path and the reason,
    nothing delivered, nothing removed."""
    es = entries_for(sandbox.url, 3)
    ids = fill(FileBackend(tmp_path / "dlq.jsonl"), es)
    assert (tmp_path / "dlq.jsonl").stat().st_size < 8000
    (tmp_path / "journal").write_text("x" * 9000 + "\n")  # a foreign line: skipped when read
    done = _replay_with_a_file_size_limit(tmp_path, 8000)
    assert done.returncode == 2, done.stderr[-500:]
    error = json.loads(done.stdout)["error"]
    assert error["code"] == "usage"
    assert error["message"] == (
        f"cannot use {tmp_path / 'journal'} as the replay journal: cannot write it: File too large"
    )
    assert not {e["request"]["params"]["message"]["messageId"] for e in es} & set(received(sandbox))
    listed = json.loads(
        subprocess.run(
            [sys.executable, "-m", "a2actl", "dlq", "list", str(tmp_path / "dlq.jsonl"), "-o", "json"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
    )
    assert [x["id"] for x in listed["entries"]] == ids


def test_a_journal_that_fills_up_during_the_replay_stops_it_with_exit_2(sandbox: Any, tmp_path: Path) -> None:
    """The journal's disk fills up after the replay started (here: a file size limit that leaves
    room for the run's start line only): the first acknowledged batch cannot be journalled. Exit 2,
    one line naming the journal and the reason (it was exit 1 "unexpected OSError"); the entries
    acknowledged but not journalled are not removed, and the next run delivers them again."""
    es = entries_for(sandbox.url, 3)
    ids = fill(FileBackend(tmp_path / "dlq.jsonl"), es)
    start_line = len(json.dumps({"event": "start", "pid": 4194304, "at": time.time()}) + "\n")
    (tmp_path / "journal").write_text("x" * (7999 - start_line - 40) + "\n")  # room: the start line
    done = _replay_with_a_file_size_limit(tmp_path, 8000)
    assert done.returncode == 2, done.stderr[-500:]
    error = json.loads(done.stdout)["error"]
    assert error["message"] == (
        f"cannot write the replay journal {tmp_path / 'journal'}: File too large; the replay stopped"
    )
    assert "delivered again by the next run" in error["hint"]
    mids = [e["request"]["params"]["message"]["messageId"] for e in es]
    assert {received(sandbox).get(m, {}).get("deliveries", 0) for m in mids} <= {0, 1}
    rerun = subprocess.run(
        [sys.executable, "-m", "a2actl", "dlq", "replay", str(tmp_path / "dlq.jsonl"), "--yes"]
        + ["--journal", str(tmp_path / "journal2"), "-o", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert rerun.returncode == 0, rerun.stderr[-500:]
    assert sorted(x["id"] for x in json.loads(rerun.stdout)["results"]) == sorted(ids)  # none removed
    assert all(received(sandbox)[m]["deliveries"] in (1, 2) for m in mids)


@pytest.mark.parametrize("room", [0, 30])
def test_a_dlq_file_that_fills_up_during_the_replay_stops_it_with_exit_2(
    cli: Any, sandbox: Any, tmp_path: Path, room: int
) -> None:
    """The DLQ file's disk fills up during the replay (here: a file size limit at its size, or
    ``room`` bytes past it, less than a tombstone; the shorter journal stays under it): the first
    acknowledged batch cannot be removed. It was exit 1 "unexpected OSError: [Errno 27] File too
    large", or, with room for part of a tombstone, the cut write was taken as done: the entry was
    journalled removed, a torn line left (an invalid entry, exit 7 ever after). Exit 2, one line
    naming the file and the reason, the file as it was; the journal says ``delivered``, and the
    next run removes those entries without delivering them again."""
    es = entries_for(sandbox.url, 3)
    fill(FileBackend(tmp_path / "dlq.jsonl"), es)
    before = (tmp_path / "dlq.jsonl").read_bytes()
    done = _replay_with_a_file_size_limit(tmp_path, len(before) + room)
    assert (tmp_path / "dlq.jsonl").read_bytes() == before
    assert done.returncode == 2, done.stderr[-500:]
    error = json.loads(done.stdout)["error"]
    assert error["message"] == f"cannot write DLQ file {tmp_path / 'dlq.jsonl'}: File too large"
    assert "removes it without delivering it again" in error["hint"]
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    journalled = [json.loads(line) for line in (tmp_path / "journal").read_text().splitlines()]
    delivered = [x["id"] for x in journalled if x.get("event") == "delivered"]
    assert delivered and "removed" not in {x.get("event") for x in journalled}
    rerun = cli(
        "dlq",
        "replay",
        str(tmp_path / "dlq.jsonl"),
        "--yes",
        "--journal",
        str(tmp_path / "journal"),
        "-o",
        "json",
    )
    assert rerun.exit_code == 0, rerun.stderr
    assert (rerun.json["resumedRemovals"], rerun.json["invalid"]["count"]) == (len(delivered), 0)
    mids = {e["id"]: e["request"]["params"]["message"]["messageId"] for e in es}
    assert [received(sandbox)[mids[i]]["deliveries"] for i in delivered] == [1] * len(delivered)
    assert cli("dlq", "list", str(tmp_path / "dlq.jsonl"), "-o", "json").json["count"] == 0


def test_a_line_over_64_mib_is_an_invalid_entry_not_read_whole(
    cli: Any, sandbox: Any, tmp_path: Path
) -> None:
    """A DLQ file holding a line longer than 64 MiB (a producer's runaway write, binary garbage
    without line ends): every command read it whole, and parsed it (a 300 MB line: ~1 GB resident
    for ``dlq list``; a few GiB, and the machine ran out). It is an invalid entry, skipped a MiB at
    a time; ``show`` prints its first KiB, ``purge`` removes it by its ``line:N``."""
    too_long = "longer than 64 MiB: not read (no dead letter is that long)"
    path = tmp_path / "dlq.jsonl"
    es = entries_for(sandbox.url, 2)
    fill(FileBackend(path), es[:1])
    with path.open("ab") as f:
        f.write(b'{"id": "huge", "x": "' + b"a" * (64 * 1024 * 1024) + b'"}\n')
    fill(FileBackend(path), es[1:])
    listed = cli("dlq", "list", str(path), "-o", "json")
    assert listed.exit_code == 0, listed.stderr
    assert [e["id"] for e in listed.json["entries"]] == [e["id"] for e in es]
    assert listed.json["invalid"] == {
        "count": 1,
        "first": [{"ref": "line:2", "where": "line 2", "error": too_long}],
    }
    shown = cli("dlq", "show", str(path), "line:2", "-o", "json")
    assert shown.exit_code == 0 and shown.json == {
        "id": "line:2",
        "line": '{"id": "huge", "x": "' + "a" * 1003 + "…",
    }
    replayed = cli("dlq", "replay", str(path), "--yes", "--journal", str(tmp_path / "j"), "-o", "json")
    assert replayed.exit_code == 7 and replayed.json["acknowledged"] == 2
    assert cli("dlq", "purge", str(path), "--ids", "line:2", "--yes", "-o", "json").json["results"] == [
        {"id": "line:2", "removed": True}
    ]
    assert cli("dlq", "list", str(path), "-o", "json").json["invalid"]["count"] == 0


@pytest.mark.parametrize("command", ["list", "replay", "purge"])
def test_credentials_redis_refuses_are_exit_4_not_unreachable(cli: Any, redis_url: str, command: str) -> None:
    """A wrong password was exit 3 "cannot reach Redis at …: invalid username-password pair",
    sending the operator after the network; an ACL user without the rights to a command (``NOPERM``)
    was exit 6, a protocol violation. Both are the credentials refused: exit 4, as an agent's 401 and
    403 are, with a hint saying where the credentials go."""
    stream = f"acl-{uuid.uuid4().hex[:6]}"
    user = f"ro-{uuid.uuid4().hex[:6]}"
    admin = sync_redis.Redis.from_url(redis_url)
    admin.acl_setuser(
        user, enabled=True, passwords=["+ropw"], keys=["*"], commands=["+@read", "+hello", "+auth"]
    )
    admin.xadd(stream, {"entry": "{}"})
    admin.close()
    host = redis_url.removeprefix("redis://")
    args = {"list": [], "replay": ["--yes"], "purge": ["--ids", "1-0", "--yes"]}[command]
    bad = f"pw-{uuid.uuid4().hex[:8]}"
    wrong = cli("dlq", command, f"redis://{user}:{bad}@{host}?stream={stream}", *args, "-o", "json")
    assert wrong.exit_code == 4, wrong.stdout
    assert (
        wrong.json["error"]["code"] == "auth" and "refused the credentials" in wrong.json["error"]["message"]
    )
    assert "redis://USER:PASSWORD@HOST:PORT/DB" in wrong.json["error"]["hint"]
    assert bad not in wrong.stdout + wrong.stderr  # the password, masked
    if command != "list":  # reading is allowed to this user; taking the lease or XDEL is not
        denied = cli("dlq", command, f"redis://{user}:ropw@{host}?stream={stream}", *args, "-o", "json")
        assert denied.exit_code == 4, denied.stdout
        assert denied.json["error"]["code"] == "auth" and "no permissions" in denied.json["error"]["message"]


@pytest.mark.parametrize("journal", ["the file", "a hard link", "its lock"])
def test_a_journal_that_is_the_dlq_file_itself_is_refused(
    cli: Any, sandbox: Any, tmp_path: Path, journal: str
) -> None:
    """``dlq replay dlq.jsonl --journal dlq.jsonl`` (a slip of the fingers) appended the journal's
    lines to the DLQ: start, mark, delivered and removed lines, each an invalid entry that made every
    later replay exit 7 until purged one by one. ``--journal dlq.jsonl.replay-lock`` was wiped by
    the lock. Both are refused (exit 2) before anything is delivered."""
    path = tmp_path / "dlq.jsonl"
    es = entries_for(sandbox.url, 2)
    fill(FileBackend(path), es)
    before = path.read_bytes()
    where = {
        "the file": path,
        "a hard link": tmp_path / "other.jsonl",
        "its lock": tmp_path / "dlq.jsonl.replay-lock",
    }
    if journal == "a hard link":
        os.link(path, where[journal])
    r = cli("dlq", "replay", f"file://{path}", "--yes", "--journal", str(where[journal]), "-o", "json")
    assert r.exit_code == 2, r.stdout
    what = "its replay lock" if journal == "its lock" else "the DLQ file"
    assert r.json["error"]["message"] == (
        f"--journal {where[journal]} is {what} of file://{path}: the journal needs a file of its own"
    )
    assert path.read_bytes() == before
    assert not {e["request"]["params"]["message"]["messageId"] for e in es} & set(received(sandbox))


@pytest.mark.parametrize("src", ["~a2actl-no-such-user/dlq.jsonl", "file:~a2actl-no-such-user/dlq.jsonl"])
@pytest.mark.parametrize("command", ["list", "stats", "replay"])
def test_a_home_of_no_user_is_a_usage_error(cli: Any, src: str, command: str) -> None:
    """``dlq list ~nosuchuser/dlq.jsonl`` (a quoted tilde, or one the shell left alone) was exit 1
    "unexpected RuntimeError: Could not determine home directory."."""
    r = cli("dlq", command, src, *(["--yes"] if command == "replay" else []), "-o", "json")
    assert r.exit_code == 2, r.stdout
    assert r.json["error"]["message"] == (
        "DLQ file ~a2actl-no-such-user/dlq.jsonl: Could not determine home directory."
    )


@pytest.mark.parametrize("command", ["list", "stats", "replay"])
def test_a_debug_api_dlq_that_is_not_there_is_an_http_404(
    cli: Any, sandbox: Any, tmp_path: Path, command: str
) -> None:
    """An agent without the debug API's DLQ (or a typo in its path) answers 404: exit 6 "did not
    answer a DLQ page", a protocol violation that named no status. It is the HTTP error it is: exit 1
    naming the 404, with a hint at SRC."""
    src = sandbox.url + "/debug/a2a/no-dlq-here"
    extra = ["--yes", "--journal", str(tmp_path / "j")] if command == "replay" else []
    r = cli("dlq", command, src, *extra, "-o", "json")
    assert r.exit_code == 1, r.stdout
    assert r.json["error"]["message"] == (
        f"{src}?pageSize=500 answered HTTP 404 Not Found: no debug API DLQ there"
    )
    assert r.json["error"]["hint"].startswith("check SRC")


def test_purge_of_many_ids_reads_the_file_once(
    cli: Any, sandbox: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``dlq purge`` read the whole file for each id (purging the last 200 ids of a 20,000-line file
    took 15 s; a thousand of a million lines, hours, past ``--max-time``, purging part). It reads
    it once, and each id's result is as before: removed, already removed (given twice), not there."""
    path = tmp_path / "dlq.jsonl"
    ids = fill(FileBackend(path), entries_for(sandbox.url, 50))
    with path.open("ab") as f:
        f.write(b"not json\n")  # line 51: an invalid entry, purged by its ref
    assert cli("dlq", "purge", str(path), "--ids", ids[0], "--yes").exit_code == 0
    reads = 0
    real = FileBackend._entry_lines

    def counted(self: FileBackend, tombstones: set[int]) -> Any:
        nonlocal reads
        reads += 1
        return real(self, tombstones)

    monkeypatch.setattr(FileBackend, "_entry_lines", counted)
    asked = [*ids[-20:], ids[-1], ids[0], "line:51", "no-such-id"]
    r = cli("dlq", "purge", str(path), *[x for i in asked for x in ("--ids", i)], "--yes", "-o", "json")
    assert r.exit_code == 0, r.stderr
    assert r.json["results"] == [{"id": i, "removed": n < 20 or i == "line:51"} for n, i in enumerate(asked)]
    assert reads == 1
    monkeypatch.undo()
    listed = cli("dlq", "list", str(path), "-o", "json").json
    assert [e["id"] for e in listed["entries"]] == ids[1:-20] and listed["invalid"]["count"] == 0


def test_a_target_urls_password_is_never_printed(cli: Any, refused_url: str, tmp_path: Path) -> None:
    """A stored ``target.url`` with userinfo: ``dlq list``, ``show``, ``stats`` and a replay's errors
    printed the password as stored; every other command masks a URL's password (``***``)."""
    (e,) = entries_for(refused_url.replace("http://", "http://ops:s3cr3t-pw@"), 1)
    e["target"] = {**e["target"], "url": e["target"]["url"] + "?api_key=k3y-value"}
    (eid,) = fill(FileBackend(tmp_path / "dlq.jsonl"), [e])
    src = str(tmp_path / "dlq.jsonl")
    runs = [
        cli("dlq", "list", src, "-o", "json"),
        cli("dlq", "list", src, "-o", "jsonl"),
        cli("dlq", "list", src),
        cli("dlq", "show", src, eid),
        cli("dlq", "stats", src),
        cli(
            "dlq",
            "replay",
            src,
            "--yes",
            "--max-attempts",
            "1",
            "--journal",
            str(tmp_path / "j"),
            "-o",
            "jsonl",
        ),
        cli("dlq", "list", src, "-o", "json"),  # with the replay's lastError
    ]
    assert [r.exit_code for r in runs] == [0, 0, 0, 0, 0, 7, 0]
    for r in runs:
        assert "s3cr3t-pw" not in r.stdout + r.stderr and "k3y-value" not in r.stdout + r.stderr
    assert runs[0].json["entries"][0]["target"].startswith("http://ops:***@")
    assert "ops:***@" in runs[-1].json["entries"][0]["error"]


def test_a_string_targets_password_is_never_printed(cli: Any, tmp_path: Path) -> None:
    """An invalid entry whose ``target`` is a bare URL string (the schema wants an object): its
    error names the target, and ``dlq list``/``show`` printed the password in it."""
    path = tmp_path / "dlq.jsonl"
    entry = {
        "id": "e1",
        "target": "http://user:S3cretPassw0rd@127.0.0.1:1/?api_key=k3y-value",
        "request": {"jsonrpc": "2.0", "id": "1", "method": "SendMessage", "params": {}},
    }
    path.write_text(json.dumps(entry) + "\n")
    runs = [
        cli("dlq", "list", str(path), "-o", "json"),
        cli("dlq", "list", str(path)),
        cli("dlq", "show", str(path), "e1"),
        cli("dlq", "stats", str(path)),
    ]
    for r in runs:
        out = r.stdout + r.stderr
        assert "S3cretPassw0rd" not in out and "k3y-value" not in out, out


@pytest.mark.parametrize(
    "netloc_and_query",
    [
        "127.0.0.1:99999/0?stream=s",  # a port past 65535
        "[::1/0?stream=s",  # a bracket never closed
        "127.0.0.1:1/0?stream=s&db=x",  # redis-py's own parameter, not a number
        "127.0.0.1:1/0?stream=s&socket_timeout=soon",
    ],
)
@pytest.mark.parametrize("command", ["list", "stats", "replay"])
def test_a_bad_redis_url_is_a_usage_error(cli: Any, command: str, netloc_and_query: str) -> None:
    """A Redis SRC that redis-py (or the URL parser) refuses: exit 2, one line, the password masked.
    It was exit 1 'unexpected ValueError: Port out of range 0-65535'."""
    src = f"redis://:S3cretPassw0rd@{netloc_and_query}"
    r = cli("dlq", command, src, *(["--yes"] if command == "replay" else []), "-o", "json")
    assert r.exit_code == 2, r.stderr
    assert "unexpected" not in r.stderr and "S3cretPassw0rd" not in r.stdout + r.stderr
    assert r.stderr.startswith("a2actl: bad Redis URL redis://:***@"), r.stderr


@pytest.mark.parametrize("command", ["list", "stats", "show", "replay", "purge"])
def test_a_redis_that_does_not_answer_is_a_timeout(cli: Any, command: str, tmp_path: Path) -> None:
    """A Redis that accepts the connection and never answers (a hung server, TLS spoken to it, a
    firewall holding the connection): redis-py's read timeout is exit 5 naming Redis, not exit 1
    'unexpected TimeoutError: Timeout reading from 127.0.0.1:P'."""
    with contextlib.closing(__import__("socket").socket()) as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # the kernel completes the handshake; nothing ever reads or answers
        port = silent.getsockname()[1]
        src = f"redis://:S3cretPassw0rd@127.0.0.1:{port}/0?stream=s&socket_timeout=0.3"
        extra = {
            "show": ["1-0"],
            "replay": ["--yes", "--journal", str(tmp_path / "j")],
            "purge": ["--ids", "1-0", "--yes"],
        }.get(command, [])
        r = cli("dlq", command, src, *extra, "-o", "json")
    assert r.exit_code == 5, r.stderr
    assert "unexpected" not in r.stderr and "S3cretPassw0rd" not in r.stdout + r.stderr
    assert "Redis at redis://:***@127.0.0.1" in r.stderr and "did not answer" in r.stderr, r.stderr


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_a_file_that_begins_with_a_byte_order_mark_is_read_whole(
    cli: Any, sandbox: Any, tmp_path: Path, newline: str
) -> None:
    """A DLQ file saved by an editor that writes a UTF-8 byte order mark (and CRLF line ends): its
    first entry was invalid, 'not JSON (a torn or garbage line)', and never replayed (exit 7). The
    mark is skipped (RFC 8259 §8.1 lets a reader ignore it); every entry is listed and replayed."""
    path = tmp_path / "dlq.jsonl"
    es = entries_for(sandbox.url, 3)
    path.write_bytes(b"\xef\xbb\xbf" + "".join(json.dumps(e) + newline for e in es).encode())
    listed = cli("dlq", "list", str(path), "-o", "json")
    assert listed.exit_code == 0, listed.stderr
    assert [e["id"] for e in listed.json["entries"]] == [e["id"] for e in es]
    assert listed.json["invalid"]["count"] == 0
    shown = cli("dlq", "show", str(path), es[0]["id"], "-o", "json")
    assert (shown.exit_code, shown.json["id"]) == (0, es[0]["id"])
    replayed = cli("dlq", "replay", str(path), "--yes", "--journal", str(tmp_path / "j"), "-o", "json")
    assert replayed.exit_code == 0, replayed.stderr
    assert (replayed.json["acknowledged"], replayed.json["invalid"]["count"]) == (3, 0)
    assert cli("dlq", "list", str(path), "-o", "json").json["count"] == 0


def _show_warning(stderr: str) -> str:
    """What ``dlq show``'s warning says is wrong with the record (after ``…purged): ``)."""
    (line,) = [x for x in stderr.splitlines() if "is not a valid entry" in x]
    return line.split("until fixed or purged): ", 1)[1]


def test_show_of_an_invalid_file_line_says_what_list_says(cli: Any, sandbox: Any, tmp_path: Path) -> None:
    """``dlq show SRC line:N`` of every line ``list`` reports invalid by that ref: a line that is not
    JSON (garbage, torn by a crash) was 'no dead letter line:N' (exit 1), though ``purge --ids
    line:N`` removes it; a line with a duplicate id was shown with no warning at all. Each is shown
    as stored, with list's reason, and the password of a URL in it masked."""
    path = tmp_path / "dlq.jsonl"
    (e,) = entries_for(sandbox.url, 1)
    torn = json.dumps({"id": "t", "target": {"url": "http://ops:S3cretPassw0rd@127.0.0.1:1/a2a"}})[:-9]
    path.write_text(
        json.dumps(e)
        + "\n"
        + json.dumps(e)
        + "\n"
        + "[1, 2]\n"
        + "garbage http://ops:S3cretPassw0rd@h/\n"
        + torn
    )
    listed = cli("dlq", "list", str(path), "-o", "json")
    why = {i["ref"]: i["error"] for i in listed.json["invalid"]["first"]}
    assert list(why) == ["line:2", "line:3", "line:4", "line:5"], why
    for ref, error in why.items():
        shown = cli("dlq", "show", str(path), ref, "-o", "json")
        assert shown.exit_code == 0, (ref, shown.stderr)
        assert _show_warning(shown.stderr) == error
        assert "S3cretPassw0rd" not in shown.stdout + shown.stderr
        assert shown.json["id"] == (e["id"] if ref == "line:2" else ref)
    assert cli("dlq", "show", str(path), "line:5", "-o", "json").json["line"] == torn.replace(
        "S3cretPassw0rd", "***"
    )
    good = cli("dlq", "show", str(path), e["id"], "-o", "json")
    assert (good.exit_code, good.stderr, good.json) == (0, "", e)
    assert cli("dlq", "show", str(path), "line:9").exit_code == 1  # no such line


def test_show_of_an_invalid_redis_record_says_what_list_says(cli: Any, redis_url: str) -> None:
    """``dlq show`` of a Redis record ``list`` reports invalid said a schema violation of the record
    it prints instead ('/: 'request' is a required property' for one with no ``entry`` field, or
    whose ``KEY:meta`` value is not an object), and printed the password of a URL in an ``entry``
    field that is not JSON."""
    stream = f"dlq-{uuid.uuid4().hex[:6]}"
    src = f"{redis_url}?stream={stream}"
    good = json.dumps({k: v for k, v in entries_for("http://127.0.0.1:1", 1)[0].items() if k != "id"})
    client = sync_redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        client.xadd(stream, {"other": "x"})
        client.xadd(stream, {"entry": '{"target": {"url": "http://ops:S3cretPassw0rd@h/"}, "req'})
        bad_meta = client.xadd(stream, {"entry": good})
        client.hset(f"{stream}:meta", bad_meta, "[1]")
    finally:
        client.close()
    listed = cli("dlq", "list", src, "-o", "json")
    why = {i["ref"]: i["error"] for i in listed.json["invalid"]["first"]}
    assert len(why) == 3
    for ref, error in why.items():
        shown = cli("dlq", "show", src, ref, "-o", "json")
        assert shown.exit_code == 0, shown.stderr
        assert _show_warning(shown.stderr) == error
        assert "S3cretPassw0rd" not in shown.stdout + shown.stderr


@pytest.mark.parametrize("kind", ["file", "redis"])
def test_an_invalid_entrys_reason_masks_the_password_of_a_url_it_quotes(
    cli: Any, tmp_path: Path, request: pytest.FixtureRequest, kind: str
) -> None:
    """An entry whose ``lastError`` is a string (a producer's error text naming the agent's URL with
    its password) is invalid, and its reason quotes the value: ``list``, ``stats``, ``show`` and
    ``replay`` printed the password in it. A value too long for the 200-character reason was cut
    inside the URL, where no mask could find the password's end (``http://ops:S3cretP...``)."""
    src, store = _source(kind, tmp_path, request)
    pw = f"S3cret{kind}Passw0rd"  # one per case: a password registered in one run is masked in the next
    (e,) = entries_for("http://127.0.0.1:1", 1)
    short = {**e, "lastError": f"POST http://ops:{pw}@127.0.0.1:1/a2a refused"}
    cut = {**e, "lastError": "x" * 177 + f" http://ops:{pw}@127.0.0.1:1/a2a"}
    ids = fill(store, [short, cut])
    runs = [
        cli("dlq", "list", src, "-o", "json"),
        cli("dlq", "list", src),
        cli("dlq", "stats", src, "-o", "json"),
        *(cli("dlq", "show", src, i, "-o", "json") for i in ids),
        cli("dlq", "replay", src, "--yes", "--journal", str(tmp_path / "j"), "-o", "json"),
    ]
    assert [r.exit_code for r in runs] == [0, 0, 0, 0, 0, 7]
    assert runs[0].json["invalid"]["count"] == 2
    for r in runs:
        out = r.stdout + r.stderr
        assert "S3cret" not in out, out  # nor the start of a password cut off
        assert "ops:***@" in out


@pytest.mark.parametrize("command", ["show", "purge"])
def test_show_or_purge_on_a_redis_key_that_is_not_a_stream_says_so(
    cli: Any, redis_url: str, command: str
) -> None:
    """SRC names a key that holds a string: ``list`` and ``stats`` say WRONGTYPE (exit 6), but
    ``show ID`` said 'no dead letter' (exit 1) and ``purge --ids ID`` 'not found (nothing removed)'
    (exit 0) for an id that may well be in the stream SRC meant. An id Redis cannot read as a
    stream id (past 64 bits) is still simply not there."""
    key = f"str-{uuid.uuid4().hex[:6]}"
    client = sync_redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        client.set(key, "hello")
        client.xadd(f"{key}-s", {"a": "b"})
    finally:
        client.close()
    extra = ["--yes"] if command == "purge" else []
    ids = (["--ids"] if command == "purge" else []) + ["1-0"]
    r = cli("dlq", command, f"{redis_url}?stream={key}", *ids, *extra, "-o", "json")
    assert r.exit_code == 6, r.stderr
    assert "WRONGTYPE" in r.stderr
    past = (["--ids"] if command == "purge" else []) + ["18446744073709551616-0"]
    r = cli("dlq", command, f"{redis_url}?stream={key}-s", *past, *extra, "-o", "json")
    assert r.exit_code == (1 if command == "show" else 0), r.stderr
    if command == "purge":
        assert r.json["results"] == [{"id": "18446744073709551616-0", "removed": False}]


@pytest.mark.parametrize("fmt", ["json", "table"])
def test_show_of_a_valid_entry_masks_the_password_of_a_url_its_last_error_quotes(
    cli: Any, sandbox: Any, tmp_path: Path, fmt: str
) -> None:
    """A valid entry whose ``lastError`` names another URL with its password (a gateway the producer
    went through): ``dlq show`` (table and ``-o json``) and ``dlq list -o json`` printed it in clear;
    an invalid record's was already masked."""
    path = tmp_path / "dlq.jsonl"
    (e,) = entries_for(sandbox.url, 1)
    e["lastError"] = {
        "code": -32603,
        "message": "via http://gw:Gw4yPassw0rd@10.0.0.9/rpc: upstream reset",
        "class": "transient",
    }
    path.write_text(json.dumps(e) + "\n")
    listed = cli("dlq", "list", str(path), "-o", "json")
    assert listed.json["count"] == 1  # a valid entry
    assert listed.json["entries"][0]["error"] == "via http://gw:***@10.0.0.9/rpc: upstream reset"
    shown = cli("dlq", "show", str(path), e["id"], "-o", fmt)
    assert (shown.exit_code, shown.stderr) == (0, "")
    assert "Gw4yPassw0rd" not in shown.stdout
    assert "http://gw:***@10.0.0.9/rpc" in shown.stdout


def test_a_target_binding_or_version_a2actl_does_not_speak_is_not_guessed(
    cli: Any, sandbox: Any, tmp_path: Path
) -> None:
    """An entry whose stored ``target.protocolBinding`` (``CARRIER-PIGEON``) or ``protocolVersion``
    (``9.9``) a2actl does not speak was sent as JSON-RPC 1.0, a guess that delivers the message to
    the wrong protocol. Nothing is sent now; the entries stay with a lastError saying why (exit 7),
    and a well-formed entry beside them is replayed."""
    pigeon, future, good = entries_for(sandbox.url, 3)
    pigeon["target"] = {**pigeon["target"], "protocolBinding": "CARRIER-PIGEON"}
    future["target"] = {**future["target"], "protocolVersion": "9.9"}
    src = tmp_path / "dlq.jsonl"
    ids = fill(FileBackend(str(src)), [pigeon, future, good])
    before = set(received(sandbox))  # messageId → deliveries
    r = cli("dlq", "replay", str(src), "--yes", "--journal", str(tmp_path / "j"), "-o", "json")
    assert r.exit_code == 7, r.stdout[-600:]
    sent = set(received(sandbox)) - before
    assert sent == {good["request"]["params"]["message"]["messageId"]}
    left = {e["id"]: e["error"] for e in cli("dlq", "list", str(src), "-o", "json").json["entries"]}
    assert set(left) == {ids[0], ids[1]}
    assert "target.protocolBinding 'CARRIER-PIGEON' is no binding a2actl speaks" in left[ids[0]]
    assert "target.protocolVersion '9.9' is no A2A version a2actl speaks" in left[ids[1]]


#: messageId → the times (time.monotonic()) the rate-limited agent saw it
LIMITED: dict[str, list[float]] = {}


def _limited_agent(_: str) -> Starlette:
    """Answers each message's first delivery ``429 Too Many Requests`` with ``Retry-After: 1`` (a
    gateway's JSON, not JSON-RPC), the next with a completed task."""

    async def rpc(request: Request) -> Response:
        doc = json.loads(await request.body())
        seen = LIMITED.setdefault(doc["params"]["message"]["messageId"], [])
        seen.append(time.monotonic())
        if len(seen) == 1:
            return Response('{"message": "slow down"}', status_code=429, headers={"Retry-After": "1"})
        task = {"id": "t", "contextId": "c", "status": {"state": "TASK_STATE_COMPLETED"}}
        return Response(json.dumps({"jsonrpc": "2.0", "id": doc["id"], "result": {"task": task}}))

    return Starlette(routes=[Route("/a2a/jsonrpc", rpc, methods=["POST"])])


def test_a_429_with_retry_after_is_retried_after_what_it_asks(cli: Any, tmp_path: Path) -> None:
    """A 429 (or 503) that says when to come back (``Retry-After: 1``) was retried within the
    jitter's 0.2 s, refused again, and after --max-attempts in 0.4 s the entry stayed dead (exit 7).
    The next attempt now waits at least what the agent asked (up to 60 s), and the replay drains."""
    with LoopbackServer(_limited_agent) as srv:
        es = entries_for(srv.url, 2)
        fill(FileBackend(tmp_path / "dlq.jsonl"), es)
        r = cli(
            "dlq", "replay", str(tmp_path / "dlq.jsonl"), "--yes", "--max-attempts", "3",
            "--journal", str(tmp_path / "j"), "-o", "json",
        )  # fmt: skip
    assert r.exit_code == 0, r.stdout[-600:] + r.stderr[-600:]
    assert r.json["acknowledged"] == 2
    for e in es:
        first, second = LIMITED[e["request"]["params"]["message"]["messageId"]]
        assert second - first >= 0.95, second - first  # Retry-After: 1 (the jitter alone: <= 0.2 s)


def test_an_id_holding_a_nul_byte_is_reached_by_its_line_ref(cli: Any, sandbox: Any, tmp_path: Path) -> None:
    """A file line whose id holds a NUL byte (JSON ``\\u0000``): no command line can carry it, so
    an invalid one was reported under that id and could never be purged (``--ids line:N`` found
    nothing either). Such a line is named by its ``line:N`` (``entryId`` the id as stored): an
    invalid one is shown and purged by it, a valid one is replayed and removed by it, and a line
    that an older run tombstoned by the id itself stays removed."""
    src = f"file://{tmp_path}/dlq.jsonl"
    good, valid_nul, gone = entries_for(sandbox.url, 3)
    invalid_nul = {**good, "id": "bad\x00id", "request": "oops"}
    fill(
        FileBackend(tmp_path / "dlq.jsonl"),
        [invalid_nul, valid_nul | {"id": "v\x00w"}, gone | {"id": "g\x00h"}],
    )
    with open(tmp_path / "dlq.jsonl", "a") as f:  # as a replay before this fix removed it: by the id
        f.write(json.dumps({"$tombstone": "g\x00h", "at": 0}) + "\n")
    listed = cli("dlq", "list", src, "-o", "json").json
    assert [(e["id"], e["messageId"]) for e in listed["entries"]] == [
        ("line:2", valid_nul["request"]["params"]["message"]["messageId"])
    ]
    assert [i["ref"] for i in listed["invalid"]["first"]] == ["line:1"]
    shown = cli("dlq", "show", src, "line:1", "-o", "json")
    assert shown.exit_code == 0 and shown.json["entryId"] == "bad\x00id", shown.stderr
    purged = cli("dlq", "purge", src, "--ids", "line:1", "--yes", "-o", "json")
    assert purged.json["results"] == [{"id": "line:1", "removed": True}]
    r = cli("dlq", "replay", src, "--yes", "--journal", str(tmp_path / "j"), "-o", "json")
    assert r.exit_code == 0, r.stderr
    assert [(x["id"], x["status"]) for x in r.json["results"]] == [("line:2", "acknowledged")]
    after = cli("dlq", "list", src, "-o", "json").json
    assert after["count"] == 0 and after["invalid"]["count"] == 0
    mid = valid_nul["request"]["params"]["message"]["messageId"]
    assert received(sandbox)[mid]["deliveries"] == 1


@pytest.mark.parametrize("output", ["table", "json"])
def test_a_redis_password_of_any_length_is_masked(cli: Any, redis_url: str, output: str) -> None:
    """A Redis password shorter than 4 characters was printed as given: secrets that short are not
    masked wherever they appear (``ab`` would be masked in every word), so ``redis://u:ab@…`` in
    ``dlq list``'s title and JSON ``source``, and in the error of a refused or unreachable Redis,
    showed it. Masked where it stands in the URL: ``redis://u:***@…``."""
    stream = f"short-{uuid.uuid4().hex[:6]}"
    user = f"u-{uuid.uuid4().hex[:6]}"
    admin = sync_redis.Redis.from_url(redis_url)
    admin.acl_setuser(user, enabled=True, passwords=["+ab"], keys=["*"], commands=["+@all"])
    admin.close()
    host = redis_url.removeprefix("redis://")
    unused = socket.socket()
    unused.bind(("127.0.0.1", 0))
    port = unused.getsockname()[1]
    unused.close()
    for src, code in [
        (f"redis://{user}:ab@{host}?stream={stream}", 0),  # listed (the stream does not exist yet)
        (f"redis://{user}:xy@{host}?stream={stream}", 4),  # refused
        (f"redis://:z@127.0.0.1:{port}/0?stream={stream}", 3),  # unreachable
    ]:
        r = cli("dlq", "list", src, "-o", output)
        assert r.exit_code == code, r.stdout + r.stderr
        shown = r.stdout + r.stderr
        secret = src.split("@")[0].rsplit(":", 1)[1]
        assert f":{secret}@" not in shown and ":***@" in shown, shown


def test_a_dlq_file_locked_by_another_writer_does_not_hold_past_max_time(cli: Any, tmp_path: Path) -> None:
    """Another process holds the DLQ file's ``flock`` and does not let go (a producer stopped in
    the middle of its append, a hung network file system): ``dlq purge --max-time 1`` waited in a
    blocking ``flock`` on the event loop, past --max-time and SIGTERM, until the lock was released.
    It waits for the lock without blocking the loop: exit 5 at --max-time, nothing written; then
    the purge goes through once the lock is free."""
    import fcntl

    path = tmp_path / "dlq.jsonl"
    ids = fill(FileBackend(path), entries_for("http://127.0.0.1:9", 2))
    before = path.read_bytes()
    holder = os.open(path, os.O_RDWR)  # another open file description: as another process's
    try:
        fcntl.flock(holder, fcntl.LOCK_EX)
        started = time.monotonic()
        r = cli("--max-time", "1", "dlq", "purge", str(path), "--ids", ids[0], "--yes", "-o", "json")
        assert r.exit_code == 5, r.stdout + r.stderr
        assert time.monotonic() - started < 4
        assert path.read_bytes() == before
    finally:
        os.close(holder)
    r = cli("dlq", "purge", str(path), "--ids", ids[0], "--yes", "-o", "json")
    assert r.json["results"] == [{"id": ids[0], "removed": True}]


def test_an_http_entry_whose_id_no_url_can_name_is_not_delivered(
    cli: Any, sandbox: Any, tmp_path: Path
) -> None:
    """A debug API listing an entry whose id is so long that ``DELETE /dlq/{id}`` is over the 65,536
    characters the HTTP client sends: it was delivered, its removal failed (exit 2, "invalid URL"
    and the whole URL), and every later run stopped at the same removal (the journal said
    delivered). It is an invalid entry, reported and not delivered; the others are replayed."""
    short, long = entries_for(sandbox.url, 2)
    long["id"] = "x" * 70_000
    deleted: list[str] = []

    def api(_: str) -> Starlette:
        async def page(request: Request) -> Response:
            return Response(
                json.dumps({"entries": [long, short], "nextCursor": None}), media_type="application/json"
            )

        async def one(request: Request) -> Response:
            deleted.append(request.path_params["id"])
            return Response(json.dumps({"removed": True}), media_type="application/json")

        return Starlette(
            routes=[
                Route("/debug/a2a/dlq", page),
                Route("/debug/a2a/dlq/{id:path}", one, methods=["GET", "PATCH", "DELETE"]),
            ]
        )

    with LoopbackServer(api) as srv:
        r = cli(
            "dlq",
            "replay",
            srv.url + "/debug/a2a/dlq",
            "--yes",
            "--journal",
            str(tmp_path / "j"),
            "-o",
            "json",
        )
    assert r.exit_code == 7, r.stdout[-500:] + r.stderr[-500:]
    assert [x["id"] for x in r.json["results"]] == [short["id"]] and deleted == [short["id"]]
    assert r.json["invalid"]["count"] == 1 and "over the 65,536" in r.json["invalid"]["first"][0]["error"]
    mids = {e["request"]["params"]["message"]["messageId"] for e in (short, long)}
    assert {m for m in received(sandbox) if m in mids} == {short["request"]["params"]["message"]["messageId"]}
