"""The Redis Streams store on a real redis-server (the ``redis_url`` fixture of tests/conftest.py):
XADD/XRANGE/XDEL, updates in ``KEY:meta``, invalid records skipped and counted, a consumer group
handing out each entry once."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from a2actl.core.errors import UnreachableError, UsageError
from a2actl.dlq.store.entry import InvalidEntries
from a2actl.dlq.store.redis import RedisBackend
from tests.unit.dlq.store.entries import entry


def _src(redis_url: str, **params: str) -> str:
    q = "&".join(f"{k}={v}" for k, v in {"stream": f"unit-{uuid.uuid4().hex[:8]}", **params}.items())
    return f"{redis_url}?{q}"


async def _all(it: AsyncIterator[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e async for e in it]


async def _filled(src: str, n: int) -> tuple[RedisBackend, list[str]]:
    store = RedisBackend(src)
    ids = [await store.append(entry(i)) for i in range(n)]
    return store, ids


async def _group(src: str, n: int, *consumers: str) -> tuple[list[str], list[RedisBackend]]:
    """``n`` entries appended to ``src`` (the filler closed), and one reader of group ``g`` for each
    name of ``consumers``: ``(ids, readers)``."""
    filler, ids = await _filled(src, n)
    await filler.close()
    return ids, [RedisBackend(f"{src}&group=g&consumer={name}") for name in consumers]


def test_append_list_get_remove(redis_url: str) -> None:
    async def go() -> None:
        store, ids = await _filled(_src(redis_url), 3)
        try:
            got = await _all(store.iter_entries())
            assert [e["id"] for e in got] == ids  # the stream id is the entry id
            assert [e["request"]["params"]["message"]["messageId"] for e in got] == ["m0", "m1", "m2"]
            one = await store.get(ids[1])
            assert one is not None and one["source"] == "unit"
            assert await store.get("0-1") is None
            assert await store.get("not-a-stream-id") is None
            assert await store.remove(ids[1]) is True
            assert await store.remove(ids[1]) is False
            assert await store.remove("not-a-stream-id") is False
            assert await store.remove_many([ids[0], ids[1]]) == 1
            assert [e["id"] for e in await _all(store.iter_entries())] == [ids[2]]
        finally:
            await store.close()

    asyncio.run(go())


def test_paging_keeps_order(redis_url: str) -> None:
    async def go() -> None:
        store, ids = await _filled(_src(redis_url), 5)
        try:
            assert [e["id"] async for e in store.iter_entries(page=2)] == ids
        finally:
            await store.close()

    asyncio.run(go())


def test_update_lives_in_the_meta_hash(redis_url: str) -> None:
    async def go() -> None:
        store, ids = await _filled(_src(redis_url), 1)
        try:
            err = {"code": 503, "message": "again", "class": "transient"}
            await store.update(ids[0], 5, err)
            (got,) = await _all(store.iter_entries())
            assert (got["attempts"], got["lastError"]) == (5, err)
            meta = await store.client.hget(store.meta, ids[0])
            assert json.loads(meta) == {"attempts": 5, "lastError": err}
        finally:
            await store.close()

    asyncio.run(go())


def test_invalid_records_are_skipped_and_counted(redis_url: str) -> None:
    async def go() -> None:
        store, ids = await _filled(_src(redis_url), 1)
        try:
            c = store.client
            bad = [
                await c.xadd(store.stream, {"other": "x"}),
                await c.xadd(store.stream, {"entry": "{not json"}),
                await c.xadd(store.stream, {"entry": "[1, 2]"}),
                await c.xadd(store.stream, {"entry": json.dumps({"request": {}})}),
            ]
            ids.append(await store.append(entry(1)))
            await c.hset(store.meta, ids[1], "not json")  # a bad meta makes a good entry invalid
            invalid = InvalidEntries()
            got = await _all(store.iter_entries(invalid))
            assert [e["id"] for e in got] == ids[:1]
            assert invalid.count == 5
            assert [b.ref for b in invalid.first] == [*bad, ids[1]]
            assert [b.error for b in invalid.first[:3]] == [
                "no 'entry' field",
                "the 'entry' field is not JSON",
                "the 'entry' field is a JSON list, not an object",
            ]
            assert invalid.first[4].error == f"{store.meta}[{ids[1]}] is not JSON"
            # dlq show still shows a record it cannot decode
            assert await store.get(bad[0]) == {"id": bad[0], "fields": {"other": "x"}}
        finally:
            await store.close()

    asyncio.run(go())


def test_missing_stream_and_writability(redis_url: str) -> None:
    async def go() -> None:
        store = RedisBackend(_src(redis_url))
        try:
            why = await store.missing()
            assert why is not None and "does not exist" in why
            store.check_writable()  # absent key: fine
            await store.client.set(store.stream, "a string")
            with pytest.raises(UsageError, match="holds a string, not a stream"):
                store.check_writable()
        finally:
            await store.close()

    asyncio.run(go())


def test_unreachable_redis() -> None:
    async def go() -> None:
        store = RedisBackend("redis://127.0.0.1:1/0?stream=x")
        try:
            with pytest.raises(UnreachableError):
                await store.missing()
            with pytest.raises(UnreachableError):
                store.check_writable()
        finally:
            await store.close()

    asyncio.run(go())


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("", "name the stream"),
        ("stream=s&group=", "group= needs a name"),
        ("stream=s&consumer=c", "consumer= needs group=NAME"),
        ("stream=s&group=g&consumer=", "consumer= needs a name"),
    ],
)
def test_bad_urls(query: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        RedisBackend(f"redis://127.0.0.1:1/0?{query}")


def test_journal_key_names_a_generated_consumer() -> None:
    assert RedisBackend("redis://h:1/0?stream=s").journal_key == "redis://h:1/0?stream=s"
    named = RedisBackend("redis://h:1/0?stream=s&group=g&consumer=c")
    assert named.journal_key == "redis://h:1/0?stream=s&group=g&consumer=c"
    generated = RedisBackend("redis://h:1/0?stream=s&group=g")
    assert generated.journal_key == f"redis://h:1/0?stream=s&group=g&consumer={generated.consumer}"


def test_a_group_hands_each_entry_to_one_consumer(redis_url: str) -> None:
    async def go() -> None:
        ids, (a, b) = await _group(_src(redis_url), 4, "a", "b")
        a.group_page = b.group_page = 2
        try:
            it = a.iter_replay()
            first = [await it.__anext__(), await it.__anext__()]  # a holds one page
            rest = await _all(b.iter_replay())  # b takes what a has not read
            assert sorted(e["id"] for e in first + rest) == ids
            assert not {e["id"] for e in first} & {e["id"] for e in rest}
            assert await a.remove_many([e["id"] for e in first]) == 2
            assert await _all(it) == []  # nothing left for a
            assert (a.claimed, b.claimed) == (0, 0)
        finally:
            await a.close()
            await b.close()

    asyncio.run(go())


def test_a_group_takes_back_its_own_pending_entries_first(redis_url: str) -> None:
    async def go() -> None:
        src = _src(redis_url) + "&group=g&consumer=c"
        filler, ids = await _filled(src.split("&group")[0], 2)
        await filler.close()
        first = RedisBackend(src)
        try:
            got = await _all(first.iter_replay())
            await first.update(got[0]["id"], 2, {"code": 1, "message": "x", "class": "transient"})
        finally:
            await first.close()
        again = RedisBackend(src)  # a rerun with the same consumer name
        try:
            assert [e["id"] for e in await _all(again.iter_replay())] == ids
        finally:
            await again.close()

    asyncio.run(go())


def test_claiming_reads_the_two_element_xautoclaim_answer_of_redis_6_2(redis_url: str) -> None:
    """Redis 6.2 (the oldest docs/dlq.md supports) answers XAUTOCLAIM with [cursor, entries], no list
    of deleted ids (Redis 7): the replay unpacked three and ended 'unexpected ValueError' as soon as
    it looked for entries to claim. The answer is taken as 6.2 gives it here (the server is 7)."""

    async def go() -> None:
        src = _src(redis_url)
        filler, ids = await _filled(src, 3)
        await filler.close()
        dead = RedisBackend(src + "&group=g&consumer=dead")
        try:
            assert len(await _all(dead.iter_replay())) == 3  # then it died holding them
        finally:
            await dead.close()
        alive = RedisBackend(src + "&group=g&consumer=alive")
        alive.claim_after = 0.001
        real = alive.client.xautoclaim

        async def six_two(*args: Any, **kwargs: Any) -> Any:
            cursor, claimed, _ = await real(*args, **kwargs)
            return [cursor, [*claimed, (None, None)]]  # and a deleted entry as 6.2's nil reads

        alive.client.xautoclaim = six_two  # type: ignore[method-assign]
        try:
            await asyncio.sleep(0.01)
            assert [e["id"] for e in await _all(alive.iter_replay())] == ids
            assert alive.claimed == 3
        finally:
            await alive.close()

    asyncio.run(go())


def test_a_held_entry_another_consumer_claimed_is_not_taken_back_or_handed_out(redis_url: str) -> None:
    """The consumer that stalled past claim_after (here: its refresher not run, its page waiting)
    finds the rest of its page claimed by another: it skips those entries (the other delivers them)
    and its refresh does not XCLAIM them back; what it still owns it hands out."""

    async def go() -> None:
        ids, (a, b) = await _group(_src(redis_url), 4, "a", "b")
        a.claim_after = b.claim_after = 0.3
        try:
            it = a.iter_replay()
            first = await it.__anext__()  # a holds the page of 4 and delivers the first
            a._stop.set()  # its refresher stops: as if the process stalled
            await asyncio.sleep(0.35)
            taken = await _all(b.iter_replay())  # b claims the three a holds and has not sent
            assert [e["id"] for e in taken] == ids and b.claimed == 4
            for e in taken[2:]:  # b delivers two; the other two it still holds
                await b.remove_many([e["id"]])
            assert await _all(it) == []  # a hands out none of them
            assert a.lost == set(ids[1:]) and a.held == {first["id"]}
            await a._refresh_own(list(a.held))  # still a's? no: b claimed the first too
            r = b.client
            owners = {
                p["message_id"]: p["consumer"] for p in await r.xpending_range(b.stream, "g", "-", "+", 10)
            }
            assert owners == {ids[0]: "b", ids[1]: "b"}  # a took nothing back
        finally:
            await a.close()
            await b.close()

    asyncio.run(go())


def test_without_scripting_the_refresh_is_a_plain_xclaim(redis_url: str) -> None:
    """A Redis user that may not run scripts (ACL ``-@scripting``): the idle-time refresh falls back
    to ``XCLAIM … 0 JUSTID`` of every held entry, as before the ownership check."""
    import redis

    admin = redis.Redis.from_url(redis_url)
    admin.acl_setuser(
        "noscript",
        enabled=True,
        passwords=["+pw"],
        keys=["*"],
        channels=["*"],
        commands=["+@all", "-@scripting"],
    )
    try:
        user_url = redis_url.replace("redis://", "redis://noscript:pw@")

        async def go() -> None:
            ids, (store,) = await _group(_src(user_url), 2, "a")
            try:
                assert len(await _all(store.iter_replay())) == 2
                assert await store._refresh_own(ids) == set(ids) and store._scripted is False
            finally:
                await store.close()

        asyncio.run(go())
    finally:
        admin.acl_deluser("noscript")


def test_an_update_holding_a_lone_surrogate_is_written_as_text(redis_url: str) -> None:
    """``lastError`` is an agent's text: a lone surrogate in it was written into ``KEY:meta`` as the
    ``\\ud800`` escape and read back as an invalid entry (its attempts lost). An update an older
    a2actl wrote so is folded with U+FFFD; an ``entry`` field holding one is still invalid."""

    async def go() -> None:
        store, ids = await _filled(_src(redis_url), 3)
        try:
            await store.update(ids[0], 4, {"code": 1, "message": "db \ud800 down", "class": "transient"})
            old = '{"attempts": 9, "lastError": {"code": 1, "message": "x\\udc00", "class": "transient"}}'
            await store.client.hset(store.meta, ids[1], old)
            bad = await store.client.xadd(store.stream, {"entry": '{"request": "\\ud800"}'})
            invalid = InvalidEntries()
            got = await _all(store.iter_entries(invalid))
            assert [(e["id"], e["attempts"], e["lastError"]["message"]) for e in got] == [
                (ids[0], 4, "db \ufffd down"),
                (ids[1], 9, "x\ufffd"),
                (ids[2], 1, "down"),
            ]
            assert [(b.ref, b.error) for b in invalid.first] == [
                (
                    bad,
                    "the 'entry' field is not valid Unicode text: a lone surrogate escape (\\ud800-\\udfff) in a string",
                )
            ]
            shown = await store.get(ids[1])
            assert shown is not None and shown["lastError"]["message"] == "x\ufffd"
        finally:
            await store.close()

    asyncio.run(go())


def test_show_and_purge_take_whole_stream_ids_only(redis_url: str) -> None:
    """``purge --ids MS`` (a stream id without its sequence) removed ``MS-0``, and ``show MS`` showed
    the first entry of that millisecond: perhaps not the one meant (a burst shares one MS)."""

    async def go() -> None:
        store, ids = await _filled(_src(redis_url), 1)
        try:
            ms, seq = ids[0].split("-")
            for partial in (ms, f"0{ms}-{seq}", f"{ms}-0{seq}", f"{ms}-{seq} ", "-", "+"):
                assert await store.get(partial) is None, partial
                assert await store.remove(partial) is False, partial
            assert [e["id"] for e in await _all(store.iter_entries())] == ids
            assert (await store.get(ids[0]) or {}).get("id") == ids[0]
            assert await store.remove(ids[0]) is True
        finally:
            await store.close()

    asyncio.run(go())
