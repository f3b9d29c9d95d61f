"""``Replayer``'s delivery transport: ``FastTransport`` by default with a pool of at least
``max_in_flight`` connections, and the ``transport_factory`` seam (here ``HttpTransport`` over an
``httpx.MockTransport``) through which every delivery goes, with acks and dead entries as usual."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from a2actl.core.config import Settings
from a2actl.core.sink import EventSink
from a2actl.dlq.filter import EntryFilter
from a2actl.dlq.journal import Journal
from a2actl.dlq.replay import Replayer, ReplayOptions, fast_transport
from a2actl.dlq.store.file import FileBackend
from a2actl.transport.base import Transport
from a2actl.transport.fast import FastTransport
from a2actl.transport.http import HttpTransport
from tests.unit.dlq.store.entries import entry


def _completed(doc: dict[str, Any]) -> httpx.Response:
    """The agent's ack of the JSON-RPC request ``doc``: a task ``completed``."""
    task = {"id": "t", "contextId": "c", "status": {"state": "TASK_STATE_COMPLETED"}}
    return httpx.Response(200, json={"jsonrpc": "2.0", "id": doc["id"], "result": {"task": task}})


def _mock_factory(agent: Any, opened: list[int] | None = None) -> Any:
    """A ``Replayer.transport_factory`` whose transport is ``agent`` (an ``httpx.MockTransport``
    handler); ``opened`` gets each factory call's ``max_connections``."""

    @asynccontextmanager
    async def mock(
        settings: Settings, sink: EventSink | None, max_connections: int
    ) -> AsyncIterator[Transport]:
        if opened is not None:
            opened.append(max_connections)
        async with HttpTransport(settings, sink, http_transport=httpx.MockTransport(agent)) as tr:
            yield tr

    return mock


def test_the_default_transport_is_fast_with_a_pool_of_max_in_flight() -> None:
    tr = fast_transport(Settings(), None, 64)
    assert isinstance(tr, FastTransport) and tr.max_connections == 64
    assert Replayer.__dataclass_fields__["transport_factory"].default is fast_transport


def test_a_transport_factory_carries_every_delivery(tmp_path: Path) -> None:
    store = FileBackend(tmp_path / "dlq.jsonl")
    for i in range(5):
        asyncio.run(store.append(entry(i, "permanent" if i == 4 else "transient")))
    seen: list[str] = []
    opened: list[int] = []

    def agent(request: httpx.Request) -> httpx.Response:
        doc = json.loads(request.content)
        mid = doc["params"]["message"]["messageId"]
        seen.append(mid)
        if mid == "m4":  # refused for good: stays dead, not retried
            return httpx.Response(
                200, json={"jsonrpc": "2.0", "id": doc["id"], "error": {"code": -32602, "message": "bad"}}
            )
        return _completed(doc)

    mock = _mock_factory(agent, opened)

    records: list[dict[str, Any]] = []
    journal = Journal(tmp_path / "journal")
    try:
        replayer = Replayer(
            store,
            ReplayOptions(max_in_flight=3, max_attempts=2, backoff=0.0),
            journal,
            Settings(),
            None,
            records.append,
            transport_factory=mock,
        )
        result = asyncio.run(replayer.run(EntryFilter()))
    finally:
        journal.close()
    assert opened == [3]
    assert sorted(seen) == ["m0", "m1", "m2", "m3", "m4"]
    doc = result.to_json()
    assert (doc["selected"], doc["acknowledged"], doc["stillDead"], doc["exitCode"]) == (
        5,
        4,
        {"transient": 0, "permanent": 1},
        7,
    )
    status = {r["id"]: r["status"] for r in records if r["type"] == "result"}
    assert status == {
        "e0": "acknowledged",
        "e1": "acknowledged",
        "e2": "acknowledged",
        "e3": "acknowledged",
        "e4": "dead-permanent",
    }

    async def left() -> list[str]:
        return [e["id"] async for e in store.iter_entries()]

    assert asyncio.run(left()) == ["e4"]


def test_entries_for_one_agent_keep_their_own_tenant(tmp_path: Path) -> None:
    """Clients are cached per target including its tenant: two tenants of one agent are two clients
    (the first entry's tenant was reused for both)."""
    store = FileBackend(tmp_path / "dlq.jsonl")
    for i, tenant in enumerate(["acme", "globex", "acme", None]):
        e = entry(i)
        if tenant is not None:
            e["target"]["tenant"] = tenant
        asyncio.run(store.append(e))
    tenants: dict[str, str | None] = {}

    def agent(request: httpx.Request) -> httpx.Response:
        doc = json.loads(request.content)
        tenants[doc["params"]["message"]["messageId"]] = doc["params"].get("tenant")
        return _completed(doc)

    mock = _mock_factory(agent)

    journal = Journal(tmp_path / "journal")
    try:
        opts = ReplayOptions(max_in_flight=1)
        replayer = Replayer(store, opts, journal, Settings(), None, lambda _: None, transport_factory=mock)
        assert asyncio.run(replayer.run(EntryFilter())).counts.acknowledged == 4
    finally:
        journal.close()
    assert tenants == {"m0": "acme", "m1": "globex", "m2": "acme", "m3": None}
    assert len(replayer.clients) == 3


def test_a_cancelled_run_commits_the_acks_waiting_for_their_batch(tmp_path: Path) -> None:
    """Ctrl-C or SIGTERM cancels the run: entries the agent acknowledged (and the replay reported
    ``acknowledged``) but whose batch was not yet due are committed (journalled, removed) before the
    run ends. They stayed in the source and were delivered again by the next replay."""
    store = FileBackend(tmp_path / "dlq.jsonl")
    for i in range(4):
        asyncio.run(store.append(entry(i)))
    never = asyncio.Event()

    async def agent(request: httpx.Request) -> httpx.Response:
        doc = json.loads(request.content)
        mid = doc["params"]["message"]["messageId"]
        if mid == "m3":
            await never.wait()  # in flight when the run is stopped
        while mid != "m0" and not records:
            await asyncio.sleep(0.01)  # after m0's ack was committed (the first batch is due at once)
        return _completed(doc)

    mock = _mock_factory(agent)

    records: list[dict[str, Any]] = []
    journal = Journal(tmp_path / "journal")

    async def run_then_stop() -> None:
        # a batch is due only every 60 s: after the first commit, acks wait in the batch
        opts = ReplayOptions(max_in_flight=4, batch=1000, batch_interval=60.0)
        replayer = Replayer(store, opts, journal, Settings(), None, records.append, transport_factory=mock)
        task = asyncio.ensure_future(replayer.run(EntryFilter()))
        while sum(r.get("status") == "acknowledged" for r in records) < 3:
            assert not task.done()
            await asyncio.sleep(0.01)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    try:
        asyncio.run(run_then_stop())
    finally:
        journal.close()
    acked = sorted(r["id"] for r in records if r.get("status") == "acknowledged")
    assert acked == ["e0", "e1", "e2"]

    async def left() -> list[str]:
        return [e["id"] async for e in store.iter_entries()]

    assert asyncio.run(left()) == ["e3"]
    reread = Journal(tmp_path / "journal")
    try:
        assert (list(reread.pending), reread.done) == ([], 3)
    finally:
        reread.close()


def test_a_run_cancelled_mid_commit_reports_every_entry_it_removes(tmp_path: Path) -> None:
    """Ctrl-C or SIGTERM while a batch is being committed: the commit finishes (it is shielded), and
    each entry it removes has its ``acknowledged`` result record. The delivery that started the
    commit was cancelled while it waited for it and never wrote its record: an entry removed from
    the source without a word in ``-o jsonl``."""
    release = asyncio.Event()
    removing = asyncio.Event()

    class SlowRemovals(FileBackend):
        async def remove_many(self, entry_ids: list[str]) -> int:
            removing.set()
            await release.wait()
            return await super().remove_many(entry_ids)

    store = SlowRemovals(tmp_path / "dlq.jsonl")
    asyncio.run(store.append(entry(0)))

    def agent(request: httpx.Request) -> httpx.Response:
        doc = json.loads(request.content)
        return _completed(doc)

    mock = _mock_factory(agent)

    records: list[dict[str, Any]] = []
    journal = Journal(tmp_path / "journal")

    async def run_then_stop() -> None:
        replayer = Replayer(
            store, ReplayOptions(), journal, Settings(), None, records.append, transport_factory=mock
        )
        task = asyncio.ensure_future(replayer.run(EntryFilter()))
        await asyncio.wait_for(removing.wait(), 10)  # the first ack's commit is removing it
        task.cancel()
        asyncio.get_running_loop().call_later(0.1, release.set)
        with contextlib.suppress(asyncio.CancelledError):
            await task

    try:
        asyncio.run(run_then_stop())
    finally:
        journal.close()

    async def left() -> list[str]:
        return [e["id"] async for e in FileBackend(tmp_path / "dlq.jsonl").iter_entries()]

    assert asyncio.run(left()) == []
    assert [(r["id"], r["status"]) for r in records if r["type"] == "result"] == [("e0", "acknowledged")]


def _sse(*frames: Any) -> httpx.Response:
    """An SSE answer whose events are ``frames`` (JSON documents)."""
    body = "".join(": ping\n\n" + "data: " + json.dumps(f) + "\n\n" for f in frames)
    return httpx.Response(200, text=body, headers={"Content-Type": "text/event-stream"})


def test_a_streamed_send_is_decided_by_its_first_event(tmp_path: Path) -> None:
    """A dead ``SendStreamingMessage`` (or 0.3 ``message/stream``) is delivered as a stream and its
    first event decides, as a send's answer does: a task that already ended failed/rejected is
    dead-permanent, a task still submitted is the ack, an A2A error is what it is, a stream that
    ends without an event is transient. Each was read as a unary answer, "a body that is not JSON",
    and retried (delivered again) up to --max-attempts, every run."""
    store = FileBackend(tmp_path / "dlq.jsonl")
    v03 = {"url": "http://127.0.0.1:9/a2a", "protocolBinding": "JSONRPC", "protocolVersion": "0.3"}
    for i in range(5):
        e = entry(i)
        e["request"]["method"] = "SendStreamingMessage"
        if i == 4:
            e["request"]["method"], e["target"] = "message/stream", v03
        asyncio.run(store.append(e))
    seen: list[tuple[str, str, str | None]] = []

    def task(state: str, rid: Any, v1: bool = True) -> dict[str, Any]:
        t = {"id": "t", "contextId": "c", "status": {"state": state}}
        return {"jsonrpc": "2.0", "id": rid, "result": {"task": t} if v1 else {**t, "kind": "task"}}

    def agent(request: httpx.Request) -> httpx.Response:
        doc = json.loads(request.content)
        mid = doc["params"]["message"]["messageId"]
        seen.append((mid, doc["method"], request.headers.get("accept")))
        rid = doc["id"]
        if mid == "m0":
            return _sse(task("TASK_STATE_FAILED", rid))
        if mid == "m1":
            return _sse(task("TASK_STATE_SUBMITTED", rid), task("TASK_STATE_FAILED", rid))
        if mid == "m2":
            return httpx.Response(200, text=": ping\n\n", headers={"Content-Type": "text/event-stream"})
        if mid == "m3":
            return httpx.Response(
                200, json={"jsonrpc": "2.0", "id": rid, "error": {"code": -32602, "message": "bad"}}
            )
        return _sse(task("rejected", rid, v1=False))

    records: list[dict[str, Any]] = []
    journal = Journal(tmp_path / "journal")
    try:
        opts = ReplayOptions(max_in_flight=1, max_attempts=2, backoff=0.0)
        replayer = Replayer(
            store, opts, journal, Settings(), None, records.append, transport_factory=_mock_factory(agent)
        )
        result = asyncio.run(replayer.run(EntryFilter()))
    finally:
        journal.close()
    got = {r["id"]: r for r in records if r["type"] == "result"}
    assert {k: (r["status"], r["attempts"]) for k, r in got.items()} == {
        "e0": ("dead-permanent", 1),
        "e1": ("acknowledged", 1),
        "e2": ("dead-transient", 2),
        "e3": ("dead-permanent", 1),
        "e4": ("dead-permanent", 1),
    }
    assert got["e0"]["error"]["state"] == "failed" and got["e4"]["error"]["state"] == "rejected"
    assert "before its first event" in got["e2"]["error"]["message"]
    assert got["e3"]["error"]["code"] == -32602
    assert {(m, a) for _, m, a in seen} == {
        ("SendStreamingMessage", "text/event-stream"),
        ("message/stream", "text/event-stream"),
    }
    assert result.exit == 7 and result.counts.acknowledged == 1


def test_a_2xx_answer_over_the_body_limit_is_permanent_not_retried(tmp_path: Path) -> None:
    """An answer over the body limit with a 2xx status (declared by Content-Length, or found while
    reading, a streamed send's JSON answer too): the agent took the message, but the answer cannot
    be read. It was transient: retried --max-attempts times in each run, each retry one more
    delivery of a message the agent had received. Now it is permanent (one delivery, left dead);
    over the limit with a 5xx it is still transient."""
    store = FileBackend(tmp_path / "dlq.jsonl")
    cases = {"m0": (200, True), "m1": (200, False), "m2": (202, False), "m3": (503, False)}
    for i in range(4):
        asyncio.run(store.append(entry(i)))
    stream = entry(4)
    stream["request"]["method"] = "SendStreamingMessage"
    asyncio.run(store.append(stream))
    seen: list[str] = []

    def agent(request: httpx.Request) -> httpx.Response:
        doc = json.loads(request.content)
        mid = doc["params"]["message"]["messageId"]
        seen.append(mid)
        status, declared = cases.get(mid, (200, False))
        body = b'{"jsonrpc":"2.0","id":1,"result":{"message":{"parts":[{"text":"' + b"a" * 5000 + b'"}]}}}'
        if declared:
            return httpx.Response(status, content=body, headers={"Content-Type": "application/json"})
        return httpx.Response(
            status, stream=httpx.ByteStream(body), headers={"Content-Type": "application/json"}
        )

    records: list[dict[str, Any]] = []
    journal = Journal(tmp_path / "journal")
    try:
        replayer = Replayer(
            store,
            ReplayOptions(max_attempts=3, backoff=0.0, breaker_failures=100),
            journal,
            Settings(max_body_bytes=1000),
            None,
            records.append,
            transport_factory=_mock_factory(agent),
        )
        result = asyncio.run(replayer.run(EntryFilter()))
    finally:
        journal.close()
    assert sorted(seen) == ["m0", "m1", "m2", "m3", "m3", "m3", "m4"]
    results = {r["id"]: r for r in records if r["type"] == "result"}
    assert {k: (r["status"], r["attempts"]) for k, r in results.items()} == {
        "e0": ("dead-permanent", 1),
        "e1": ("dead-permanent", 1),
        "e2": ("dead-permanent", 1),
        "e3": ("dead-transient", 3),
        "e4": ("dead-permanent", 1),
    }
    assert "an HTTP 202 answer: the agent took the message" in results["e2"]["error"]["message"]
    assert "the agent took the message" not in results["e3"]["error"]["message"]
    assert result.to_json()["stillDead"] == {"transient": 1, "permanent": 4}


def test_an_unexpected_error_still_commits_the_acks_before_it(tmp_path: Path) -> None:
    """A delivery that raises something unexpected (not an a2actl error) ends the run, but the
    entries the agent acknowledged before it are committed (journalled, removed): they were left in
    the source, reported ``acknowledged``, and delivered again by the next run."""
    store = FileBackend(tmp_path / "dlq.jsonl")
    for i in range(4):
        asyncio.run(store.append(entry(i)))

    class Broken(Replayer):
        async def _deliver(self, transport: Transport, e: dict[str, Any]) -> Any:
            if e["id"] == "e3":
                while sum(r.get("status") == "acknowledged" for r in records) < 3:
                    await asyncio.sleep(0.01)
                raise RuntimeError("a bug")
            return await super()._deliver(transport, e)

    records: list[dict[str, Any]] = []
    journal = Journal(tmp_path / "journal")
    try:
        opts = ReplayOptions(max_in_flight=4, batch=1000, batch_interval=60.0)
        replayer = Broken(
            store,
            opts,
            journal,
            Settings(),
            None,
            records.append,
            transport_factory=_mock_factory(_completed_rpc),
        )
        with pytest.raises(RuntimeError, match="a bug"):
            asyncio.run(replayer.run(EntryFilter()))
    finally:
        journal.close()

    async def left() -> list[str]:
        return [e["id"] async for e in store.iter_entries()]

    assert asyncio.run(left()) == ["e3"]


def _completed_rpc(request: httpx.Request) -> httpx.Response:
    return _completed(json.loads(request.content))
