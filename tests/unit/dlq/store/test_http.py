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
