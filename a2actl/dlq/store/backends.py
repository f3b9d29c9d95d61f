"""Dead-letter queues, chosen by URL (``docs/dlq.md``):

* ``file:PATH`` in the forms users write (``file://dlq.jsonl``, ``file:dlq.jsonl``,
  ``file://./dlq.jsonl``, ``file:///abs/dlq.jsonl``, ``file://localhost/abs/dlq.jsonl``) or a plain
  path: an append-only **tombstone log**. Entries, updates (``{"$update": id, "attempts",
  "lastError"}``) and removals (``{"$tombstone": id}``) are appended as whole lines with one
  ``write`` under ``flock``, then ``fsync``; readers fold the log. A crash can leave at most one torn
  last line: it is reported as invalid when reading and terminated before the next append. Nothing
  is rewritten in place, so no crash can lose or duplicate an entry.
* ``redis://HOST:PORT/DB?stream=KEY[&group=NAME&consumer=NAME]``: a Redis Stream via redis-py.
  Entries are ``XADD`` ed (field ``entry``: the JSON); the stream id is the entry id; ``XRANGE``
  pages through them; removal is ``XDEL``; attempts and lastError updates live in the hash
  ``KEY:meta``. With ``group``, a replay reads through the consumer group (``XREADGROUP``; ``XACK``
  with the ``XDEL`` after the agent's ack; ``XAUTOCLAIM`` for entries a dead replayer left pending),
  so several replayers share one stream.
* ``http(s)://AGENT/debug/a2a/dlq``: the debug API's DLQ endpoints (``GET /dlq``, ``GET``,
  ``PATCH`` and ``DELETE /dlq/{id}``; ``docs/debug-endpoints.md``).

Every backend streams entries (memory stays flat over millions), checks each against the shipped
schema (an invalid one goes to ``on_invalid`` and never blocks the rest) and removes idempotently:
``remove`` returns whether it removed a live entry.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import json
import os
import socket
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit, urlunsplit

from a2actl.core.errors import HTTPStatusError, ProtocolViolation, UnreachableError, UsageError
from a2actl.dlq.store.entry import Invalid, OnInvalid, check
from a2actl.dlq.store.ticker import stop_task, ticks

if TYPE_CHECKING:
    from a2actl.core.config import Settings
    from a2actl.core.sink import EventSink
    from a2actl.dlq.store.lock import FileLock, RedisLease


def _key(entry_id: str) -> int:
    """A 64-bit digest of an id: a tombstone set of 1M ids stays ~60 MB instead of ~150."""
    return int.from_bytes(hashlib.blake2b(entry_id.encode(), digest_size=8).digest(), "big")


def file_path(src: str) -> Path:
    """The absolute path of a file source. ``file://X`` with a relative X (``file://dlq.jsonl``,
    ``file://./dlq.jsonl``, ``file://sub/dlq.jsonl``) is relative to the working directory, as users
    mean it; ``file:///abs`` and ``file://localhost/abs`` are absolute (RFC 8089); ``file:X`` and a
    plain path as written. ``file:`` forms are percent-decoded; ``~`` is expanded."""
    rest = src
    if src.startswith("file:"):
        rest = src[len("file:") :]
        if rest.startswith("//"):
            rest = rest[2:]
            if rest.startswith("localhost/"):
                rest = rest[len("localhost") :]
        rest = unquote(rest)
    if not rest or "\0" in rest:
        raise UsageError(
            f"DLQ source {src!r} names no file", hint="file://dlq.jsonl, file:///var/lib/dlq.jsonl or a path"
        )
    return Path(rest).expanduser().absolute()


class FileBackend:
    """The tombstone-log file backend (see the module docstring)."""

    kind = "file"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser().absolute()
        self.url = f"file://{self.path}"
        self._tombstones: set[int] | None = None

    async def close(self) -> None:
        return None

    async def missing(self) -> str | None:
        """Why the source reads as empty because it does not exist (a warning), else ``None``.
        Raises ``UsageError`` when the directory does not exist either (a typo, not an empty queue)
        or the path is a directory."""
        if self.path.is_dir():
            raise UsageError(f"DLQ file {self.path} is a directory", hint="SRC names a .jsonl file")
        if self.path.exists():
            return None
        if not self.path.parent.is_dir():
            raise UsageError(
                f"DLQ file {self.path}: the directory {self.path.parent} does not exist", hint="check SRC"
            )
        return f"DLQ file {self.path} does not exist: nothing dead-lettered there yet (or a wrong path)"

    def check_writable(self) -> None:
        """For producers (the sandbox worker) at start: raise ``UsageError`` unless entries can be
        appended (the directory exists, the path is not a directory, the file opens for appending)."""
        if not self.path.parent.is_dir():
            raise UsageError(
                f"cannot dead-letter into {self.path}: the directory {self.path.parent} does not exist"
            )
        try:
            os.close(os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644))
        except OSError as exc:
            raise UsageError(f"cannot dead-letter into {self.path}: {exc.strerror or exc}") from exc

    def replay_lock(self, src: str) -> FileLock:
        from a2actl.dlq.store.lock import FileLock

        return FileLock(self.path.with_name(self.path.name + ".replay-lock"), src)

    @property
    def journal_key(self) -> str:
        return self.url

    @staticmethod
    def line(record: dict[str, Any]) -> bytes:
        """One log line: UTF-8 JSON, or ASCII-escaped when the record holds text UTF-8 cannot encode
        (a lone surrogate from a ``\\ud800`` escape), so every record can be written and read back."""
        try:
            return (json.dumps(record, separators=(",", ":"), ensure_ascii=False) + "\n").encode()
        except UnicodeEncodeError:
            return (json.dumps(record, separators=(",", ":")) + "\n").encode()

    def _append(self, records: list[dict[str, Any]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = b"".join(self.line(r) for r in records)
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":  # terminate a line torn by an earlier crash
                data = b"\n" + data
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)

    def _records(self) -> Iterator[tuple[int, Any, str | None]]:
        """``(line number, record, None)`` for every JSON line, ``(line number, None, why)`` for a line
        that is not (torn by a crash, or garbage). Blank lines are skipped."""
        try:
            f = open(self.path, "rb")  # noqa: SIM115 - closed by the with below
        except FileNotFoundError:
            return
        except OSError as exc:
            raise UsageError(f"cannot read DLQ file {self.path}: {exc.strerror or exc}") from exc
        with f:
            for n, raw in enumerate(f, 1):
                if not raw.strip():
                    continue
                try:
                    rec = json.loads(raw.decode("utf-8"))
                except UnicodeDecodeError:
                    yield n, None, "not UTF-8 text"
                except (ValueError, RecursionError):
                    yield n, None, "not JSON (a torn or garbage line)"
                else:
                    yield n, rec, None

    @staticmethod
    def _meta(rec: Any) -> bool:
        return isinstance(rec, dict) and ("$tombstone" in rec or "$update" in rec)

    @staticmethod
    def _ref(n: int, rec: Any) -> str:
        """What ``purge --ids`` takes: the entry's id, or ``line:N`` for a line without a usable one."""
        eid = rec.get("id") if isinstance(rec, dict) else None
        return eid if isinstance(eid, str) and eid else f"line:{n}"

    def _scan(self) -> tuple[set[int], dict[str, dict[str, Any]]]:
        tombstones: set[int] = set()
        updates: dict[str, dict[str, Any]] = {}
        for _, rec, _why in self._records():
            if isinstance(rec, dict):
                if "$tombstone" in rec:
                    tombstones.add(_key(str(rec["$tombstone"])))
                elif "$update" in rec:
                    updates[str(rec["$update"])] = rec
        self._tombstones = tombstones
        return tombstones, updates

    def _live(self) -> Iterator[tuple[int, str, Any, str | None]]:
        """``(line, ref, record, why)`` for every record not tombstoned, updates folded in."""
        tombstones, updates = self._scan()
        for n, rec, why in self._records():
            if self._meta(rec):
                continue
            ref = self._ref(n, rec)
            if _key(ref) in tombstones:
                continue
            if why is None and isinstance(rec, dict):
                upd = updates.get(ref)
                if upd is not None:
                    rec["attempts"] = upd.get("attempts", rec.get("attempts"))
                    rec["lastError"] = upd.get("lastError", rec.get("lastError"))
            yield n, ref, rec, why

    async def append(self, entry: dict[str, Any]) -> str:
        self._append([entry])
        return str(entry["id"])

    async def iter_entries(self, on_invalid: OnInvalid | None = None) -> AsyncIterator[dict[str, Any]]:
        for n, ref, rec, why in self._live():
            why = why or check(rec)
            if why is None:
                yield rec
            elif on_invalid is not None:
                on_invalid(Invalid(ref, f"line {n}", why))

    async def get(self, entry_id: str) -> dict[str, Any] | None:
        """The record with this id (or ``line:N``), valid or not (``dlq show`` says which)."""
        for _, ref, rec, _why in self._live():
            if ref == entry_id and isinstance(rec, dict):
                return rec
        return None

    async def remove(self, entry_id: str) -> bool:
        if self._tombstones is None:
            self._scan()
        assert self._tombstones is not None
        k = _key(entry_id)
        if k in self._tombstones or not any(
            not self._meta(rec) and self._ref(n, rec) == entry_id for n, rec, _ in self._records()
        ):
            return False  # already removed, or never there
        self._append([{"$tombstone": entry_id, "at": time.time()}])
        self._tombstones.add(k)
        return True

    async def remove_many(self, entry_ids: list[str]) -> int:
        """Tombstone ``entry_ids`` not yet tombstoned, in one append and one fsync; returns how many.
        The ids must come from this queue (replay passes ids it read or journalled)."""
        if self._tombstones is None:
            self._scan()
        assert self._tombstones is not None
        fresh, at = [], time.time()
        for eid in entry_ids:
            k = _key(eid)
            if k not in self._tombstones:
                self._tombstones.add(k)
                fresh.append({"$tombstone": eid, "at": at})
        if fresh:
            self._append(fresh)
        return len(fresh)

    async def update(self, entry_id: str, attempts: int, last_error: dict[str, Any] | None) -> None:
        self._append([{"$update": entry_id, "attempts": attempts, "lastError": last_error}])

    def removal_counts(self) -> dict[str, int]:
        """Tombstones per id (for crash tests: every id must be removed exactly once)."""
        counts: dict[str, int] = {}
        for _, rec, _why in self._records():
            if isinstance(rec, dict) and "$tombstone" in rec:
                counts[str(rec["$tombstone"])] = counts.get(str(rec["$tombstone"]), 0) + 1
        return counts


class RedisBackend:
    """Redis Streams (see the module docstring).
    ``url``: ``redis://HOST:PORT/DB?stream=KEY[&group=NAME[&consumer=NAME]]``."""

    kind = "redis"
    #: Entries read per XREADGROUP in a group replay (small: the rest of the group shares the stream).
    group_page = 64

    def __init__(self, url: str) -> None:
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
        self.claim_after = 60.0
        self.claimed = 0
        self.held: set[str] = set()  # read through the group and not finished: kept from XAUTOCLAIM
        self.seen: set[str] = set()  # read through the group in this run and not removed: not taken twice
        self._heartbeat: asyncio.Task[None] | None = None
        #: Set by ``close``: the idle-time refresher ends on it even when a cancellation is swallowed
        #: inside a Redis call (redis-py's connection handling can absorb one; the task then looped on).
        self._stop = asyncio.Event()
        rest = urlencode({k: v[0] for k, v in q.items() if k not in ("stream", "group", "consumer")})
        self.client = redis.from_url(
            urlunsplit((parts.scheme, parts.netloc, parts.path, rest, "")), decode_responses=True
        )

    async def close(self) -> None:
        await stop_task(self._heartbeat, self._stop)
        await self.client.aclose()

    async def missing(self) -> str | None:
        """A warning when the stream key does not exist (``XADD`` creates it on the first dead letter),
        else ``None``. Raises ``UnreachableError`` when Redis cannot be reached."""
        if await self._call(self.client.exists(self.stream)):
            return None
        return (
            f"Redis stream {self.stream!r} does not exist in {self.url}: nothing dead-lettered there yet "
            "(or a wrong key)"
        )

    def check_writable(self) -> None:
        """For producers at start (synchronous): Redis answers and ``KEY`` is a stream or absent."""
        import redis
        import redis.exceptions as rexc

        parts = urlsplit(self.url)
        rest = urlencode(
            {k: v[0] for k, v in parse_qs(parts.query).items() if k not in ("stream", "group", "consumer")}
        )
        client = redis.Redis.from_url(
            urlunsplit((parts.scheme, parts.netloc, parts.path, rest, "")),
            decode_responses=True,
            socket_connect_timeout=5,
            socket_timeout=5,
        )
        try:
            kind = client.type(self.stream)
            kind = kind.decode() if isinstance(kind, bytes) else str(kind)
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
        return (
            self.url if self.group is None or self.consumer_given else f"{self.url}&consumer={self.consumer}"
        )

    async def _call(self, coro: Any) -> Any:
        import redis.exceptions as rexc

        try:
            return await coro
        except rexc.ConnectionError as exc:
            raise UnreachableError(f"cannot reach Redis at {self.url}: {exc}") from exc
        except rexc.ResponseError as exc:
            raise ProtocolViolation(f"Redis {self.url}: {exc}") from exc

    async def append(self, entry: dict[str, Any]) -> str:
        body = {k: v for k, v in entry.items() if k != "id"}
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
        try:
            entry = json.loads(raw)
        except (ValueError, RecursionError):
            return None, "the 'entry' field is not JSON"
        if not isinstance(entry, dict):
            return None, f"the 'entry' field is a JSON {type(entry).__name__}, not an object"
        entry["id"] = sid
        if meta:
            try:
                m = json.loads(meta)
            except (ValueError, RecursionError):
                return entry, f"{self.meta}[{sid}] is not JSON"
            if not isinstance(m, dict):
                return entry, f"{self.meta}[{sid}] is not a JSON object"
            entry.update({k: m[k] for k in ("attempts", "lastError") if k in m})
        return entry, check(entry)

    async def _rows(self, rows: list[Any], on_invalid: OnInvalid | None) -> list[dict[str, Any]]:
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
    ) -> AsyncIterator[dict[str, Any]]:
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

    async def iter_replay(self, on_invalid: OnInvalid | None = None) -> AsyncIterator[dict[str, Any]]:
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
                cursor, claimed, deleted = await self._call(
                    self.client.xautoclaim(
                        self.stream,
                        self._group,
                        self.consumer,
                        min_idle_time=int(self.claim_after * 1000),
                        start_id=cursor,
                        count=self.group_page,
                    )
                )
                if deleted:  # removed from the stream while pending: nothing left to deliver
                    await self._call(self.client.xack(self.stream, self._group, *deleted))
                fresh = [(sid, f) for sid, f in claimed if sid not in self.seen]
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
            raise ProtocolViolation(f"Redis {self.url}: {exc}") from exc
        except rexc.ConnectionError as exc:
            raise UnreachableError(f"cannot reach Redis at {self.url}: {exc}") from exc
        return True

    async def _read(self, start: str) -> list[Any]:
        res = await self._call(
            self.client.xreadgroup(self._group, self.consumer, {self.stream: start}, count=self.group_page)
        )
        if isinstance(res, dict):  # RESP3 (?protocol=3): {stream: [[rows]]}
            return list(res[self.stream][0]) if res.get(self.stream) else []
        return list(res[0][1]) if res else []

    async def _take(self, rows: list[Any], on_invalid: OnInvalid | None) -> AsyncIterator[dict[str, Any]]:
        gone = [sid for sid, fields in rows if not fields]  # deleted while pending
        if gone:
            await self._call(self.client.xack(self.stream, self._group, *gone))
        live = [(sid, fields) for sid, fields in rows if fields and sid not in self.seen]
        self.seen.update(sid for sid, _ in live)
        entries = await self._rows(live, on_invalid)
        self.held.update(e["id"] for e in entries)  # from now on: the page waits in this process
        for e in entries:
            yield e

    async def _keep_held(self) -> None:
        """Reset the idle time of the entries this replayer holds (``XCLAIM … 0 JUSTID``) every
        ``claim_after / 3`` s, so no other replayer claims an entry that is slow to deliver."""
        async for _ in ticks(self._stop, max(self.claim_after / 3, 0.05)):
            ids = list(self.held)
            for i in range(0, len(ids), 500):
                if self._stop.is_set():
                    return
                with contextlib.suppress(Exception):  # best effort; a gone entry is simply not claimed
                    await self.client.xclaim(
                        self.stream, self._group, self.consumer, 0, list[Any](ids[i : i + 500]), justid=True
                    )

    async def get(self, entry_id: str) -> dict[str, Any] | None:
        """The entry with this stream id, valid or not (``dlq show`` says which)."""
        try:
            rows = await self._call(self.client.xrange(self.stream, min=entry_id, max=entry_id))
        except ProtocolViolation:
            return None  # not a stream id at all
        if not rows:
            return None
        sid, fields = rows[0]
        entry, _ = self._decode(sid, fields, await self._call(self.client.hget(self.meta, entry_id)))
        return entry if entry is not None else {"id": sid, "fields": fields}

    async def remove(self, entry_id: str) -> bool:
        try:
            return bool(await self.remove_many([entry_id]))
        except ProtocolViolation:
            return False

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
        return int(res[-2])

    async def update(self, entry_id: str, attempts: int, last_error: dict[str, Any] | None) -> None:
        """Record a failed replay. In a group the entry stays pending (no ``XACK``): a later replay of
        this consumer takes it back first, others after ``claim_after``."""
        await self._call(
            self.client.hset(self.meta, entry_id, json.dumps({"attempts": attempts, "lastError": last_error}))
        )
        self.held.discard(entry_id)


class HttpBackend:
    """The debug API's DLQ (``GET /dlq``, ``GET|PATCH|DELETE /dlq/{id}``) through a2actl's transport."""

    kind = "http"

    def __init__(self, url: str, settings: Settings, sink: EventSink | None) -> None:
        from a2actl.transport.http import HttpTransport

        self.url = url.rstrip("/")
        self.transport = HttpTransport(settings, sink)

    async def missing(self) -> str | None:
        """Always ``None``: the debug API answers for its own queue (an unknown path is a 404)."""
        return None

    def check_writable(self) -> None:
        raise UsageError(
            "the HTTP DLQ is read/replay only; dead-letter into file://PATH.jsonl or redis://…?stream=KEY"
        )

    def replay_lock(self, src: str) -> FileLock:
        """A lock file in the state directory: one replay at a time from this machine."""
        from a2actl.dlq.store.lock import FileLock, state_lock_path

        return FileLock(state_lock_path(self.url), src)

    @property
    def journal_key(self) -> str:
        return self.url

    async def close(self) -> None:
        await self.transport.client.aclose()

    def _check(self, res: Any) -> Any:
        if res.status == 404:
            return None
        if res.status >= 400:
            raise HTTPStatusError(
                f"{res.url} answered HTTP {res.status} {res.reason}", details={"httpStatus": res.status}
            )
        return res.json() if res.body else {}

    async def append(self, entry: dict[str, Any]) -> str:
        raise UsageError("the HTTP DLQ is read/replay only; producers enqueue on the agent's side")

    async def iter_entries(
        self, on_invalid: OnInvalid | None = None, page: int = 500
    ) -> AsyncIterator[dict[str, Any]]:
        cursor, n = None, 0
        while True:
            q = {"pageSize": page, **({"cursor": cursor} if cursor else {})}
            doc = self._check(
                await self.transport.request(
                    "GET", f"{self.url}?{urlencode(q)}", headers={"Accept": "application/json"}
                )
            )
            if not isinstance(doc, dict) or not isinstance(doc.get("entries"), list):
                raise ProtocolViolation(f"{self.url} did not answer a DLQ page")
            for e in doc["entries"]:
                n += 1
                why = check(e)
                if why is None:
                    yield e
                elif on_invalid is not None:
                    eid = e.get("id") if isinstance(e, dict) else None
                    on_invalid(Invalid(eid if isinstance(eid, str) and eid else None, f"entry {n}", why))
            cursor = doc.get("nextCursor")
            if not cursor:
                return

    async def get(self, entry_id: str) -> dict[str, Any] | None:
        return self._check(await self.transport.request("GET", f"{self.url}/{quote(entry_id, safe='')}"))

    async def remove(self, entry_id: str) -> bool:
        doc = self._check(await self.transport.request("DELETE", f"{self.url}/{quote(entry_id, safe='')}"))
        return bool(doc and doc.get("removed"))

    async def update(self, entry_id: str, attempts: int, last_error: dict[str, Any] | None) -> None:
        self._check(
            await self.transport.request(
                "PATCH",
                f"{self.url}/{quote(entry_id, safe='')}",
                json_body={"attempts": attempts, "lastError": last_error},
            )
        )


def open_backend(src: str, settings: Settings | None = None, sink: EventSink | None = None) -> Any:
    """The backend for SRC. Raises ``UsageError`` for an unknown scheme or a file URL without a path."""
    if src.startswith("file:") or "://" not in src:
        return FileBackend(file_path(src))
    if src.startswith(("redis://", "rediss://", "unix://")):
        return RedisBackend(src)
    if src.startswith(("http://", "https://")):
        from a2actl.core.config import Settings as _S

        return HttpBackend(src, settings or _S(), sink)
    raise UsageError(
        f"unknown DLQ source {src!r}",
        hint="file://PATH.jsonl, redis://HOST:PORT/DB?stream=KEY or http(s)://AGENT/debug/a2a/dlq",
    )
