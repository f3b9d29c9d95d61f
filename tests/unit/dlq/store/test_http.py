"""The debug API's DLQ as a store, through ``HttpTransport`` with an ``httpx.MockTransport``: cursor
paging, invalid entries counted, GET/PATCH/DELETE per id, errors by status."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from a2actl.core.config import Settings
from a2actl.core.errors import HTTPStatusError, ProtocolViolation, UsageError
from a2actl.dlq.store.entry import InvalidEntries
from a2actl.dlq.store.http import HttpBackend
from a2actl.transport.http import HttpTransport
from tests.unit.dlq.store.entries import entry

URL = "http://127.0.0.1:9/debug/a2a/dlq"  # never dialled: the MockTransport answers


def _store(handler: Callable[[httpx.Request], httpx.Response]) -> HttpBackend:
    return HttpBackend(
        URL + "/", HttpTransport(Settings(), None, http_transport=httpx.MockTransport(handler))
    )


async def _all(it: AsyncIterator[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e async for e in it]


def _run(store: HttpBackend, coro: Any) -> Any:
    async def go() -> Any:
        try:
            return await coro
        finally:
            await store.close()

    return asyncio.run(go())


def test_pages_follow_the_cursor_and_invalid_entries_are_counted() -> None:
    seen: list[str] = []
    pages = {
        None: {"entries": [entry(0), {"id": "bad"}], "nextCursor": "c1"},
        "c1": {"entries": [entry(1), "not an object"], "nextCursor": None},
    }

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        assert request.method == "GET" and request.headers["accept"] == "application/json"
        return httpx.Response(200, json=pages[request.url.params.get("cursor")])

    store = _store(handler)
    invalid = InvalidEntries()
    got = _run(store, _all(store.iter_entries(invalid, page=2)))
    assert [e["id"] for e in got] == ["e0", "e1"]
    assert seen == [URL + "?pageSize=2", URL + "?pageSize=2&cursor=c1"]
    assert invalid.count == 2
    assert [(b.ref, b.where) for b in invalid.first] == [("bad", "entry 2"), (None, "entry 4")]


def test_iter_replay_is_every_entry() -> None:
    store = _store(lambda r: httpx.Response(200, json={"entries": [entry(0)]}))
    assert [e["id"] for e in _run(store, _all(store.iter_replay()))] == ["e0"]


def test_an_answer_that_is_not_a_page_is_a_protocol_violation() -> None:
    store = _store(lambda r: httpx.Response(200, json={"items": []}))
    with pytest.raises(ProtocolViolation, match="did not answer a DLQ page"):
        _run(store, _all(store.iter_entries()))


def test_a_cursor_that_loops_is_a_protocol_violation() -> None:
    """A server whose pages lead back to a cursor already followed: exit 6 once the loop shows, not
    the same entries read (and replayed) again until --max-time."""
    pages = {
        None: {"entries": [entry(0)], "nextCursor": "c1"},
        "c1": {"entries": [entry(1)], "nextCursor": "c2"},
        "c2": {"entries": [entry(2)], "nextCursor": "c1"},
    }
    calls: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.params.get("cursor"))
        return httpx.Response(200, json=pages[request.url.params.get("cursor")])

    store = _store(handler)
    got: list[str] = []

    async def read() -> None:
        async for e in store.iter_entries():
            got.append(e["id"])

    with pytest.raises(ProtocolViolation, match="nextCursor 'c1' was already followed"):
        _run(store, read())
    assert got == ["e0", "e1", "e2"] and calls == [None, "c1", "c2"]


def test_get_quotes_the_id_and_404_is_none() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.raw_path == b"/debug/a2a/dlq/a%2Fb":
            return httpx.Response(200, json=entry(7))
        return httpx.Response(404, json={"error": {"code": "not_found"}})

    store = _store(handler)
    got = _run(store, store.get("a/b"))
    assert got is not None and got["id"] == "e7"
    store = _store(handler)
    assert _run(store, store.get("zzz")) is None


def test_remove_and_remove_many() -> None:
    calls: list[tuple[str, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append((request.method, request.url.path))
        eid = request.url.path.rsplit("/", 1)[1]
        if eid == "gone":
            return httpx.Response(404)
        return httpx.Response(200, json={"id": eid, "removed": eid != "old"})

    store = _store(handler)
    assert _run(store, store.remove("e1")) is True
    store = _store(handler)
    assert _run(store, store.remove_many(["e2", "old", "gone", "e3"])) == 2
    assert [m for m, _ in calls] == ["DELETE"] * 5
    assert [p.rsplit("/", 1)[1] for _, p in calls] == ["e1", "e2", "old", "gone", "e3"]


def test_update_patches_attempts_and_last_error() -> None:
    bodies: list[Any] = []

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.method == "PATCH" and request.url.path.endswith("/e1")
        bodies.append(json.loads(request.content))
        return httpx.Response(200, json={})

    store = _store(handler)
    err = {"code": 503, "message": "x", "class": "transient"}
    _run(store, store.update("e1", 3, err))
    assert bodies == [{"attempts": 3, "lastError": err}]


def test_error_statuses() -> None:
    store = _store(lambda r: httpx.Response(500))
    with pytest.raises(HTTPStatusError, match="answered HTTP 500") as info:
        _run(store, store.get("e1"))
    assert info.value.details == {"httpStatus": 500}


def test_read_only() -> None:
    store = _store(lambda r: httpx.Response(200))
    with pytest.raises(UsageError, match="read/replay only"):
        store.check_writable()
    with pytest.raises(UsageError, match="producers enqueue on the agent's side"):
        _run(store, store.append(entry(0)))
    assert store.journal_key == URL
    assert _run(_store(lambda r: httpx.Response(200)), store.missing()) is None


class _OffsetDlq:
    """A debug API DLQ whose cursor is an offset (as a2actl's own): a removal while a read pages
    shifts every later entry one place back."""

    def __init__(self, n: int, cap: int | None = None) -> None:
        self.entries = [entry(i) for i in range(n)]
        self.gets = 0
        self.cap = cap  # at most this many entries a page, whatever pageSize asks

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.method == "DELETE":
            eid = request.url.path.rsplit("/", 1)[1]
            before = len(self.entries)
            self.entries = [e for e in self.entries if e["id"] != eid]
            return httpx.Response(200, json={"id": eid, "removed": len(self.entries) < before})
        self.gets += 1
        size = min(int(request.url.params["pageSize"]), self.cap or 1 << 30)
        offset = int(request.url.params.get("cursor", "0"))
        more = offset + size < len(self.entries)
        return httpx.Response(
            200,
            json={
                "entries": self.entries[offset : offset + size],
                "nextCursor": str(offset + size) if more else None,
            },
        )


def test_a_replay_takes_every_entry_once_though_removals_shift_an_offset_cursor() -> None:
    """A replay removes acknowledged entries while it pages: with an offset cursor each removal made
    the next page skip one entry, so one read took ~60% of the queue and the replay ended with exit
    0. The pages are read again while a read saw removals and found entries not yet taken."""
    dlq = _OffsetDlq(1300)
    store = _store(dlq)

    async def replay() -> list[str]:
        got = []
        async for e in store.iter_replay():
            got.append(e["id"])
            if e["id"] not in ("e7", "e1100"):  # these two stay dead
                await store.remove(e["id"])
        return got

    got = _run(store, replay())
    assert sorted(got) == sorted(f"e{i}" for i in range(1300))  # each once
    assert [e["id"] for e in dlq.entries] == ["e7", "e1100"]


def test_a_replay_reads_once_when_nothing_was_removed() -> None:
    dlq = _OffsetDlq(1200)
    store = _store(dlq)
    assert len(_run(store, _all(store.iter_replay()))) == 1200
    assert dlq.gets == 3


def test_a_read_of_one_page_is_not_repeated_though_removals_overlap_it() -> None:
    """One page is every entry there was when it was answered: removals cannot have moved one past a
    cursor, so the replay does not read it again."""
    dlq = _OffsetDlq(3)
    store = _store(dlq)

    async def replay() -> list[str]:
        got = []
        async for e in store.iter_replay():
            got.append(e["id"])
            await store.remove(e["id"])
        return got

    assert _run(store, replay()) == ["e0", "e1", "e2"]
    assert dlq.gets == 1 and dlq.entries == []


def test_a_delete_answered_as_the_read_ends_makes_the_replay_read_again() -> None:
    """The agent applied a DELETE between two pages (e1 moved past the cursor) and answered it with
    the last page: counting removals as their answers came, that read saw none, and the replay
    left e1 in the queue. A DELETE sent during a read counts, and is waited for before the next."""
    dlq = _OffsetDlq(3, cap=1)
    applied, answer = asyncio.Event(), asyncio.Event()

    async def handler(request: httpx.Request) -> httpx.Response:
        res = dlq(request)
        if request.method == "DELETE":
            applied.set()
            await answer.wait()
        elif json.loads(res.content)["nextCursor"] is None:
            answer.set()  # the last page: the DELETE's answer comes with it
        return res

    store = _store(handler)

    async def replay() -> list[str]:
        got, removal = [], None
        async for e in store.iter_replay():
            got.append(e["id"])
            if removal is None:
                removal = asyncio.ensure_future(store.remove(e["id"]))
                await applied.wait()
        assert removal is not None and await removal
        return got

    assert _run(store, replay()) == ["e0", "e2", "e1"]
    assert [e["id"] for e in dlq.entries] == ["e1", "e2"]


def test_removals_by_another_consumer_do_not_keep_a_replay_reading() -> None:
    """Only this store's DELETEs make a replay read the pages again, so another consumer removing
    entries all the while cannot keep it reading (one read; the entries it moved past the cursor
    are left for the next run)."""
    dlq = _OffsetDlq(40, cap=5)

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "GET" and dlq.entries:
            dlq.entries.pop(0)  # another consumer takes the oldest between two pages
        return dlq(request)

    store = _store(handler)
    got = _run(store, _all(store.iter_replay()))
    assert dlq.gets < 10 and 0 < len(got) < 40


def test_an_entry_listed_twice_is_taken_once_and_a_page_of_repeats_is_a_loop() -> None:
    """A server that lists an entry on two pages: taken once (a replay delivered it twice). One whose
    pages repeat with a new cursor each time: exit 6 once a page holds nothing new, not a read (and
    a replay) that goes round until --max-time."""
    pages = {
        None: {"entries": [entry(0), entry(1)], "nextCursor": "c1"},
        "c1": {"entries": [entry(1), entry(2), {"id": "bad"}], "nextCursor": None},
    }
    store = _store(lambda r: httpx.Response(200, json=pages[r.url.params.get("cursor")]))
    invalid = InvalidEntries()
    assert [e["id"] for e in _run(store, _all(store.iter_entries(invalid)))] == ["e0", "e1", "e2"]
    assert invalid.count == 1
    store = _store(lambda r: httpx.Response(200, json=pages[r.url.params.get("cursor")]))
    assert [e["id"] for e in _run(store, _all(store.iter_replay()))] == ["e0", "e1", "e2"]

    n = 0

    def fresh_cursors(_: httpx.Request) -> httpx.Response:
        nonlocal n
        n += 1
        return httpx.Response(200, json={"entries": [entry(0), {"id": "bad"}], "nextCursor": f"c{n}"})

    for read in ("iter_entries", "iter_replay"):
        n = 0
        store = _store(fresh_cursors)
        invalid = InvalidEntries()
        with pytest.raises(ProtocolViolation, match="the pages loop"):
            _run(store, _all(getattr(store, read)(invalid)))
        assert n == 2 and invalid.count == 1


def test_a_delete_answered_with_json_that_is_not_an_object_removed_nothing() -> None:
    store = _store(lambda r: httpx.Response(200, json=["removed"]))
    assert _run(store, store.remove("e0")) is False


def test_a_url_with_a_query_keeps_it_on_pages_and_per_entry_calls() -> None:
    """A DLQ URL with a query of its own (``?key=v``, a gateway's): pages add theirs with ``&`` and
    ``/dlq/{id}`` goes before it. They were ``…/dlq?key=v?pageSize=500`` and ``…/dlq?key=v/e0``."""
    seen: list[tuple[str, str, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.method, request.url.path, request.url.query.decode()))
        if request.method == "GET" and request.url.path.endswith("/dlq"):
            return httpx.Response(200, json={"entries": [entry(0)], "nextCursor": None})
        return httpx.Response(200, json={"removed": True})

    store = HttpBackend(
        URL + "?key=v", HttpTransport(Settings(), None, http_transport=httpx.MockTransport(handler))
    )

    async def go() -> list[dict[str, Any]]:
        got = await _all(store.iter_entries(InvalidEntries(), page=2))
        await store.remove("e0")
        return got

    assert [e["id"] for e in _run(store, go())] == ["e0"]
    assert seen == [
        ("GET", "/debug/a2a/dlq", "key=v&pageSize=2"),
        ("DELETE", "/debug/a2a/dlq/e0", "key=v"),
    ]
