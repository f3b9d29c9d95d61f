"""The Redis Streams store (``docs/dlq.md``), through redis-py.

Source: ``redis://HOST:PORT/DB?stream=KEY[&group=NAME[&consumer=NAME]]`` (also ``rediss://`` and
``unix://``; other query parameters go to redis-py). Entries are ``XADD`` ed (field ``entry``: the
JSON without its ``id``); the stream id is the entry id; ``XRANGE`` pages through them; removal is
``XDEL``; attempts and lastError updates live in the hash ``KEY:meta``. With ``group``, a replay reads
through the consumer group (``XREADGROUP``; ``XACK`` with the ``XDEL`` after the agent's ack;
``XAUTOCLAIM`` for entries a dead replayer left pending), so several replayers share one stream.

redis-py is imported on first use, so importing this module stays cheap (``--help``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import socket
import time
from collections.abc import AsyncIterator, Awaitable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

from a2actl.core.errors import AuthError, ProtocolViolation, TimeoutError_, UnreachableError, UsageError
from a2actl.dlq.store.entry import LONE_SURROGATE, TOO_DEEP, Entry, Invalid, OnInvalid, check, valid_text
from a2actl.dlq.store.ticker import stop_task, ticks
from a2actl.protocol.jsondoc import LoneSurrogate, loads_utf8

if TYPE_CHECKING:
    from a2actl.dlq.store.lock import RedisLease

#: A stream row as redis-py returns it: ``(stream id, {field: value})`` (fields empty when the entry
#: was deleted while pending in a group).
Row = tuple[str, dict[str, str]]

#: A stream id as Redis writes it: ``MS-SEQ``, no leading zeros (what ``dlq purge --ids`` and ``show`` take).
_STREAM_ID = re.compile(r"(?:0|[1-9][0-9]*)-(?:0|[1-9][0-9]*)")

#: The query parameters a2actl reads; the rest go to redis-py's ``from_url``.
_OURS = ("stream", "group", "consumer")

#: Reset the idle time of the entries (ARGV[3..]) the consumer ARGV[2] of group ARGV[1] still owns in
#: stream KEYS[1] (``XCLAIM … 0 JUSTID`` on each); returns those ids. An entry another consumer
#: claimed meanwhile (``XAUTOCLAIM`` after this one stalled past ``claim_after``), or acknowledged, is
#: left alone: a plain ``XCLAIM … 0`` took it back from its new owner. One script: no other command
#: runs between the ownership check and the claim.
_REFRESH_OWN = """
local kept = {}
for i = 3, #ARGV do
  local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1)
  if p[1] and p[1][2] == ARGV[2] then
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'JUSTID')
    kept[#kept + 1] = ARGV[i]
  end
end
return kept
"""


def _client_url(url: str) -> str:
    """``url`` without the parameters a2actl reads (what redis-py's ``from_url`` gets)."""
    parts = urlsplit(url)
    rest = urlencode({k: v[0] for k, v in parse_qs(parts.query).items() if k not in _OURS})
    return urlunsplit((parts.scheme, parts.netloc, parts.path, rest, ""))


def _timed_out(url: str, exc: Exception) -> TimeoutError_:
    """``TimeoutError_`` (exit 5) for a redis-py ``TimeoutError``: Redis at ``url`` accepted the
    connection and did not answer (a hung server, TLS spoken to a plain port, a firewall). It was
    exit 1 "unexpected TimeoutError"."""
    return TimeoutError_(
        f"Redis at {url} did not answer in time: {exc}",
        hint="check the server; redis-py waits socket_timeout=SECONDS (in SRC's query; default 5)",
    )


#: What an operator does about credentials Redis refused.
_AUTH_HINT = (
    "give a user and password Redis accepts in SRC: redis://USER:PASSWORD@HOST:PORT/DB "
    "(redis://:PASSWORD@… for the default user), with the rights to the stream's commands"
)


def _lost(url: str, exc: Exception) -> AuthError | UnreachableError:
    """For a redis-py ``ConnectionError``: ``AuthError`` (exit 4) when it is an
    ``AuthenticationError`` (no password, or a wrong one: it was exit 3 "cannot reach Redis",
    sending the operator after the network), else ``UnreachableError`` (exit 3)."""
    import redis.exceptions as rexc

    if isinstance(exc, rexc.AuthenticationError):
        return AuthError(f"Redis at {url} refused the credentials: {exc}", hint=_AUTH_HINT)
    return UnreachableError(f"cannot reach Redis at {url}: {exc}")


def _refused(url: str, exc: Exception) -> AuthError | ProtocolViolation:
    """For a redis-py ``ResponseError``: ``AuthError`` (exit 4) for ``NOPERM`` (an ACL denies this
    user the command or the key, as HTTP 403 is exit 4; it was exit 6), else ``ProtocolViolation``
    (exit 6)."""
    import redis.exceptions as rexc

    if isinstance(exc, rexc.NoPermissionError):
        return AuthError(f"Redis at {url} refused the command to this user: {exc}", hint=_AUTH_HINT)
    return ProtocolViolation(f"Redis {url}: {exc}")


def _invalid_stream_id(exc: ProtocolViolation) -> bool:
    """Whether Redis refused a command because an id is no stream id (``MS-SEQ`` past 64 bits):
    such an id names no entry. Any other error reply (the key holds no stream: ``WRONGTYPE``; an ACL
    refusal) is the error it is."""
    return "Invalid stream ID" in exc.message


def _utf8(text: str) -> bool:
    """Whether ``text`` (read with ``surrogateescape``) was UTF-8 on the wire."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _shown(text: Any) -> Any:
    """``text`` read with ``surrogateescape``, its bytes that were not UTF-8 as U+FFFD."""
    if isinstance(text, str) and not _utf8(text):
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return text


class RedisBackend:
    """Redis Streams (see the module docstring); satisfies ``Backend``.
    ``url``: ``redis://HOST:PORT/DB?stream=KEY[&group=NAME[&consumer=NAME]]``."""

    kind = "redis"
    #: Entries read per XREADGROUP in a group replay (small: the rest of the group shares the stream).
    group_page = 64

    def __init__(self, url: str) -> None:
        """Parse ``url`` and build the client (no connection yet). Raises ``UsageError`` (exit 2)
        without ``stream=``, with an empty ``group=`` or ``consumer=``, ``consumer=`` without
        ``group=``, or a URL redis-py refuses (a port past 65535, an unclosed ``[``, ``db=x``): it
        was exit 1 "unexpected ValueError"."""
        try:
            self._parse(url)
        except ValueError as exc:
            raise UsageError(f"bad Redis URL {url}: {exc}", hint="redis://HOST:PORT/DB?stream=KEY") from exc

    def _parse(self, url: str) -> None:
        """``__init__``'s work; raises ``UsageError``, or ``ValueError`` for a URL that is no URL."""
        import redis.asyncio as redis

        parts = urlsplit(url)
        q = parse_qs(parts.query, keep_blank_values=True)
        if not q.get("stream", [""])[0]:
            raise UsageError(f"{url}: name the stream, e.g. redis://localhost:6379/0?stream=a2a:dlq")
        self.stream = q["stream"][0]
        self.meta = self.stream + ":meta"
        self.url = url
        self.group: str | None = q["group"][0] if "group" in q else None
        if self.group == "":
            raise UsageError(f"{url}: group= needs a name")
        if "consumer" in q and self.group is None:
            raise UsageError(f"{url}: consumer= needs group=NAME")
        given = q["consumer"][0] if "consumer" in q else None
        if given == "":
            raise UsageError(f"{url}: consumer= needs a name")
        #: A stable name lets a restarted replayer take back its own pending entries at once.
        self.consumer = given or f"{socket.gethostname()}-{os.getpid()}"
        self.consumer_given = given is not None
        #: Seconds another consumer's pending entry must be idle before this one claims it.
        self.claim_after = 60.0
        #: Entries taken over from other consumers in this run (``XAUTOCLAIM``).
        self.claimed = 0
        self.held: set[str] = set()  # read through the group and not finished: kept from XAUTOCLAIM
        self.seen: set[str] = set()  # read through the group in this run and not removed: not taken twice
        #: Held entries found owned by another consumer (it claimed them while this one stalled): not
        #: delivered from here (``_take``), not refreshed (``_keep_held``).
        self.lost: set[str] = set()
        #: ``time.monotonic()`` when the last whole refresh of ``held`` began (``_keep_held``).
        self._fresh_at = 0.0
        #: Whether Redis runs ``_REFRESH_OWN`` (scripting may be disabled: then plain ``XCLAIM``).
        self._scripted = True
        self._heartbeat: asyncio.Task[None] | None = None
        #: Set by ``close``: the idle-time refresher ends on it even when a cancellation is swallowed
        #: inside a Redis call (redis-py's connection handling can absorb one; the task then looped on).
        self._stop = asyncio.Event()
        rest = urlencode({k: v[0] for k, v in q.items() if k not in _OURS})
        # surrogateescape: a field or meta value that is not UTF-8 (binary junk XADDed by anyone)
        # is read, and reported invalid by _decode, instead of a UnicodeDecodeError that ended
        # every list, stats and replay of the stream (one bad record blocked the rest)
        self.client = redis.from_url(
            urlunsplit((parts.scheme, parts.netloc, parts.path, rest, "")),
            decode_responses=True,
            encoding_errors="surrogateescape",
        )

    async def close(self) -> None:
        """Stop the idle-time refresher (group replays) and close the connection pool."""
        await stop_task(self._heartbeat, self._stop)
        await self.client.aclose()

    async def missing(self) -> str | None:
        """A warning when the stream key does not exist (``XADD`` creates it on the first dead letter),
        else ``None``. Raises ``UnreachableError`` (exit 3) when Redis cannot be reached."""
        if await self._call(self.client.exists(self.stream)):
            return None
        return (
            f"Redis stream {self.stream!r} does not exist in {self.url}: nothing dead-lettered there yet "
            "(or a wrong key)"
        )

    def check_writable(self) -> None:
        """For producers at start (synchronous): Redis answers and ``KEY`` is a stream or absent.
        Raises ``UnreachableError`` (exit 3) when Redis is down, ``AuthError`` (exit 4) when it refuses
        the credentials, ``UsageError`` (exit 2) otherwise."""
        import redis
        import redis.exceptions as rexc

        client = redis.Redis.from_url(
            _client_url(self.url),
            decode_responses=True,
            socket_connect_timeout=5,
            socket_timeout=5,
        )
        try:
            got = client.type(self.stream)
            kind = got.decode() if isinstance(got, bytes) else str(got)
        except rexc.AuthenticationError as exc:
            raise AuthError(
                f"cannot dead-letter into {self.url}: Redis refused the credentials ({exc})", hint=_AUTH_HINT
            ) from exc
        except rexc.ConnectionError as exc:
            raise UnreachableError(
                f"cannot dead-letter into {self.url}: Redis is unreachable ({exc})"
            ) from exc
        except rexc.RedisError as exc:
            raise UsageError(f"cannot dead-letter into {self.url}: {exc}") from exc
        finally:
            client.close()
        if kind not in ("stream", "none"):
            raise UsageError(
                f"cannot dead-letter into {self.url}: the key {self.stream!r} holds a {kind}, not a stream"
            )

    def replay_lock(self, src: str) -> RedisLease:
        """The stream's exclusive lease, or with ``group`` one per consumer name (two processes with the
        same explicit consumer= would otherwise both take its pending entries)."""
        from a2actl.dlq.store.lock import RedisLease

        name = self.stream + ":replay-lock"
        if self.group is not None:
            name += f":{self.group}:{self.consumer}"
        return RedisLease(self.client, name, src)

    async def exclusive_holder(self) -> bool:
        """Whether an exclusive (group-less) replay holds the stream now."""
        return bool(await self._call(self.client.exists(self.stream + ":replay-lock")))

    @property
    def journal_key(self) -> str:
        """The URL; in a group with a generated consumer name, the URL with that name (each
        process journals its own share)."""
        return (
            self.url if self.group is None or self.consumer_given else f"{self.url}&consumer={self.consumer}"
        )

    async def _call(self, coro: Awaitable[Any]) -> Any:
        """Await one redis-py call; a connection error is ``UnreachableError`` (exit 3), credentials
        refused (``AuthenticationError``, ``NOPERM``) ``AuthError`` (exit 4), no answer within
        redis-py's ``socket_timeout`` (5 s unless the URL sets it) ``TimeoutError_`` (exit 5), another
        error reply ``ProtocolViolation`` (exit 6)."""
        import redis.exceptions as rexc

        try:
            return await coro
        except rexc.ConnectionError as exc:
            raise _lost(self.url, exc) from exc
        except rexc.TimeoutError as exc:
            raise _timed_out(self.url, exc) from exc
        except rexc.ResponseError as exc:
            raise _refused(self.url, exc) from exc

    async def append(self, entry: Entry) -> str:
        """``XADD`` the entry (without its ``id``); returns the stream id, which becomes its id."""
        body = {k: v for k, v in entry.items() if k != "id"}
        if "lastError" in body:  # an agent's text: lone surrogates as U+FFFD (``valid_text``)
            body["lastError"] = valid_text(body["lastError"])
        return str(
            await self._call(
                self.client.xadd(self.stream, {"entry": json.dumps(body, separators=(",", ":"))})
            )
        )

    def _decode(
        self, sid: str, fields: dict[str, str], meta: str | None
    ) -> tuple[dict[str, Any] | None, str | None]:
        """``(entry, None)`` for a valid one, ``(record or None, why)`` for one that is not."""
        raw = fields.get("entry")
        if raw is None:
            return None, "no 'entry' field"
        if not _utf8(raw):
            return None, "the 'entry' field is not UTF-8 text"
        try:
            # orjson where it can; a lone surrogate (only the stdlib reads one) is LoneSurrogate
            entry = loads_utf8(raw, lone_surrogates=False)
        except LoneSurrogate:
            return None, f"the 'entry' field is {LONE_SURROGATE}"
        except RecursionError:
            return None, f"the 'entry' field is {TOO_DEEP}"
        except ValueError:
            return None, "the 'entry' field is not JSON"
        if not isinstance(entry, dict):
            return None, f"the 'entry' field is a JSON {type(entry).__name__}, not an object"
        entry["id"] = sid
        if meta:
            if not _utf8(meta):
                return entry, f"{self.meta}[{sid}] is not UTF-8 text"
            try:
                m = loads_utf8(meta, lone_surrogates=False)
            except LoneSurrogate as exc:
                # the store's own update: one an older a2actl wrote with an agent's text as it came
                # is folded with U+FFFD (its attempts kept), not an invalid entry
                m = valid_text(exc.value)
            except (ValueError, RecursionError):
                return entry, f"{self.meta}[{sid}] is not JSON"
            if not isinstance(m, dict):
                return entry, f"{self.meta}[{sid}] is not a JSON object"
            entry.update({k: m[k] for k in ("attempts", "lastError") if k in m})
        return entry, check(entry)

    async def _rows(self, rows: list[Row], on_invalid: OnInvalid | None) -> list[Entry]:
        metas = await self._call(self.client.hmget(self.meta, [sid for sid, _ in rows])) if rows else []
        out = []
        for (sid, fields), meta in zip(rows, metas, strict=True):
            entry, why = self._decode(sid, fields or {}, meta)
            if why is None and entry is not None:
                out.append(entry)
            elif on_invalid is not None:
                on_invalid(Invalid(sid, f"stream id {sid}", why or "invalid"))
        return out

    async def iter_entries(
        self, on_invalid: OnInvalid | None = None, page: int = 1000
    ) -> AsyncIterator[Entry]:
        """Every valid entry in stream order (``XRANGE`` pages of ``page``); invalid ones go to
        ``on_invalid`` (``where``: ``stream id ID``)."""
        start = "-"
        while True:
            rows = await self._call(self.client.xrange(self.stream, min=start, max="+", count=page))
            if not rows:
                return
            for e in await self._rows(rows, on_invalid):
                yield e
            if len(rows) < page:
                return
            start = "(" + rows[-1][0]

    async def iter_replay(self, on_invalid: OnInvalid | None = None) -> AsyncIterator[Entry]:
        """What a replay takes: every entry (``XRANGE``), or with ``group`` this consumer's share:
        its own pending entries first (a run that stopped, or entries still dead last time), then new
        ones (``XREADGROUP >``) and entries other consumers left pending for ``claim_after`` seconds
        (``XAUTOCLAIM``), until the group has nothing more for it."""
        if self.group is None:
            async for e in self.iter_entries(on_invalid):
                yield e
            return
        if not await self._ensure_group():
            return
        if self._heartbeat is None:
            self._heartbeat = asyncio.create_task(self._keep_held())
        start = "0-0"
        while True:  # our own pending entries
            rows = await self._read(start)
            if not rows:
                break
            start = rows[-1][0]
            async for e in self._take(rows, on_invalid):
                yield e
        while True:
            progressed = False
            while rows := await self._read(">"):
                progressed = True
                async for e in self._take(rows, on_invalid):
                    yield e
            cursor = "0-0"
            while True:
                # Redis 7 answers [cursor, entries, deleted ids]; 6.2 has no third element
                cursor, claimed, *deleted_ = await self._call(
                    self.client.xautoclaim(
                        self.stream,
                        self._group,
                        self.consumer,
                        min_idle_time=int(self.claim_after * 1000),
                        start_id=cursor,
                        count=self.group_page,
                    )
                )
                deleted = deleted_[0] if deleted_ else []
                if deleted:  # removed from the stream while pending: nothing left to deliver
                    await self._call(self.client.xack(self.stream, self._group, *deleted))
                # (None, None): how redis-py reads a deleted entry 6.2 answers as nil (no id to ack;
                # it stays pending, as it did)
                fresh = [(sid, f) for sid, f in claimed if sid is not None and sid not in self.seen]
                self.claimed += len(fresh)
                if fresh:
                    progressed = True
                    async for e in self._take(fresh, on_invalid):
                        yield e
                if cursor in ("0-0", "0"):
                    break
            if not progressed:
                return

    @property
    def _group(self) -> str:
        assert self.group is not None, "a consumer-group operation without group="
        return self.group

    async def _ensure_group(self) -> bool:
        """Create the group at the start of the stream unless it exists; ``False`` without a stream."""
        import redis.exceptions as rexc

        try:
            await self.client.xgroup_create(self.stream, self._group, id="0")
        except rexc.ResponseError as exc:
            if "BUSYGROUP" in str(exc):
                return True
            if "requires the key to exist" in str(exc):
                return False
            raise _refused(self.url, exc) from exc
        except rexc.ConnectionError as exc:
            raise _lost(self.url, exc) from exc
        except rexc.TimeoutError as exc:
            raise _timed_out(self.url, exc) from exc
        return True

    async def _read(self, start: str) -> list[Row]:
        res = await self._call(
            self.client.xreadgroup(self._group, self.consumer, {self.stream: start}, count=self.group_page)
        )
        if isinstance(res, dict):  # RESP3 (?protocol=3): {stream: [[rows]]}
            return list(res[self.stream][0]) if res.get(self.stream) else []
        return list(res[0][1]) if res else []

    async def _take(self, rows: list[Row], on_invalid: OnInvalid | None) -> AsyncIterator[Entry]:
        """Yield the valid entries of ``rows`` (just read or claimed: their idle time reset), held
        until finished. An entry waits here until the replay has a free delivery slot; if this
        process stalled meanwhile (no refresh for ``2/3 claim_after``: a pause, a blocked loop, Redis
        out of reach), another consumer may have claimed it: the rest of the page is checked first
        (one round trip, only then) and what is no longer this consumer's is skipped, not delivered
        a second time."""
        page_at = time.monotonic()
        gone = [sid for sid, fields in rows if not fields]  # deleted while pending
        if gone:
            await self._call(self.client.xack(self.stream, self._group, *gone))
        live = [(sid, fields) for sid, fields in rows if fields and sid not in self.seen]
        self.seen.update(sid for sid, _ in live)
        entries = await self._rows(live, on_invalid)
        self.held.update(e["id"] for e in entries)  # from now on: the page waits in this process
        stale = self.claim_after * 2 / 3
        for i, e in enumerate(entries):
            if time.monotonic() - max(page_at, self._fresh_at) > stale:
                page_at = time.monotonic()
                rest = [x["id"] for x in entries[i:] if x["id"] in self.held]
                with contextlib.suppress(Exception):  # not checked: delivered as before; the ack will say
                    self._lose(set(rest) - await self._refresh_own(rest))
            if e["id"] in self.lost:
                continue
            yield e

    async def _refresh_own(self, ids: list[str]) -> set[str]:
        """Reset the idle time of ``ids`` this consumer still owns (``_REFRESH_OWN``); returns them.
        Where scripting is refused, a plain ``XCLAIM … 0 JUSTID`` of all (as before; returns all).
        Raises ``UnreachableError``/``ProtocolViolation`` (``_call``)."""
        import redis.exceptions as rexc

        if not ids:
            return set()
        if self._scripted:
            try:
                kept = await self.client.eval(_REFRESH_OWN, 1, self.stream, self._group, self.consumer, *ids)
                return {str(k) for k in kept or []}
            except rexc.ResponseError as exc:
                text = str(exc).lower()
                refused = ("no permissions", "noperm", "unknown command", "not allowed", "disabled")
                if not isinstance(exc, rexc.NoPermissionError) and not any(t in text for t in refused):
                    raise ProtocolViolation(f"Redis {self.url}: {exc}") from exc
                self._scripted = False  # EVAL refused to this user or on this server: as before
            except rexc.ConnectionError as exc:
                raise _lost(self.url, exc) from exc
            except rexc.TimeoutError as exc:
                raise _timed_out(self.url, exc) from exc
        await self._call(
            self.client.xclaim(self.stream, self._group, self.consumer, 0, list[Any](ids), justid=True)
        )
        return set(ids)

    def _lose(self, ids: set[str]) -> None:
        """``ids`` are held no longer: another consumer owns them (or they were acknowledged)."""
        if ids:
            self.held.difference_update(ids)
            self.lost.update(ids)

    async def _keep_held(self) -> None:
        """Reset the idle time of the entries this replayer holds and still owns (``_refresh_own``)
        every ``claim_after / 3`` s, so no other replayer claims an entry that is slow to deliver. One
        another consumer claimed meanwhile (this process stalled past ``claim_after``) is left to it
        and not delivered from here (``lost``)."""
        async for _ in ticks(self._stop, max(self.claim_after / 3, 0.05)):
            began, whole = time.monotonic(), True
            ids = list(self.held)
            for i in range(0, len(ids), 500):
                if self._stop.is_set():
                    return
                batch = ids[i : i + 500]
                try:
                    kept = await self._refresh_own(batch)
                except Exception:  # best effort: the next tick tries again
                    whole = False
                    continue
                self._lose({x for x in batch if x in self.held} - kept)  # not those finished meanwhile
            if whole:
                self._fresh_at = began

    async def get(self, entry_id: str) -> dict[str, Any] | None:
        """The entry with this stream id, valid or not (``lookup``)."""
        return (await self.lookup(entry_id))[0]

    async def lookup(self, entry_id: str) -> tuple[dict[str, Any] | None, str | None]:
        """``(record, why)`` for the entry with this stream id (``dlq show``): ``why`` is what
        ``list`` reports for it (``no 'entry' field``, ``KEY:meta[ID] is not JSON``, a schema
        violation), ``None`` for a valid entry; ``show`` said a schema violation of the fallback
        record instead. A record whose ``entry`` field cannot be decoded comes back as
        ``{"id", "fields"}``. ``(None, None)`` for an id that is not there or not a whole stream id
        as Redis writes it (``MS-SEQ``). Raises ``ProtocolViolation`` (exit 6) when the key holds no
        stream (``WRONGTYPE``: it said "no dead letter")."""
        if not _STREAM_ID.fullmatch(entry_id):
            return None, None  # XRANGE reads "MS" as every entry of that millisecond, "01-0" as "1-0"
        try:
            rows = await self._call(self.client.xrange(self.stream, min=entry_id, max=entry_id))
        except ProtocolViolation as exc:
            if _invalid_stream_id(exc):
                return None, None  # not a stream id at all (past 64 bits)
            raise  # WRONGTYPE (the key is no stream), NOPERM: not "no dead letter"
        if not rows:
            return None, None
        sid, fields = rows[0]
        entry, why = self._decode(sid, fields, await self._call(self.client.hget(self.meta, entry_id)))
        if entry is not None:
            return entry, why
        # what cannot be decoded is shown with U+FFFD for the bytes that are not UTF-8
        return {"id": sid, "fields": {_shown(k): _shown(v) for k, v in fields.items()}}, why

    async def remove(self, entry_id: str) -> bool:
        """Remove one entry (``remove_many``); ``False`` when it was not there or is not a whole
        stream id as Redis writes it (``MS-SEQ``: XDEL reads ``MS`` as ``MS-0``, another entry than
        the one named, perhaps). Raises ``ProtocolViolation`` (exit 6) when the key holds no stream."""
        if not _STREAM_ID.fullmatch(entry_id):
            return False
        try:
            return bool(await self.remove_many([entry_id]))
        except ProtocolViolation as exc:
            if _invalid_stream_id(exc):
                return False
            raise  # WRONGTYPE (the key is no stream), NOPERM: not "not found"

    async def remove_many(self, entry_ids: list[str]) -> int:
        """``XDEL`` (with the meta ``HDEL`` and, in a group, the ``XACK``) in one ``MULTI``; returns
        how many were still there."""
        if not entry_ids:
            return 0
        pipe = self.client.pipeline(transaction=True)
        if self.group is not None:
            pipe.xack(self.stream, self.group, *entry_ids)
        pipe.xdel(self.stream, *entry_ids)
        pipe.hdel(self.meta, *entry_ids)
        res = await self._call(pipe.execute())
        self.held.difference_update(entry_ids)
        self.seen.difference_update(entry_ids)  # gone from the stream: cannot come back
        self.lost.difference_update(entry_ids)
        return int(res[-2])

    async def update(self, entry_id: str, attempts: int, last_error: dict[str, Any] | None) -> None:
        """Record a failed replay in ``KEY:meta``. In a group the entry stays pending (no ``XACK``): a
        later replay of this consumer takes it back first, others after ``claim_after``.
        ``last_error`` (an agent's text) is written with U+FFFD for any lone surrogate
        (``valid_text``): written as an escape, it made the entry invalid."""
        doc = {"attempts": attempts, "lastError": valid_text(last_error)}
        await self._call(self.client.hset(self.meta, entry_id, json.dumps(doc)))
        self.held.discard(entry_id)
