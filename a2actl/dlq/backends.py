"""Dead-letter queues, chosen by URL (``docs/dlq.md``):

* ``file://PATH.jsonl`` (or a bare ``*.jsonl`` path): an append-only **tombstone log**. Entries,
  updates (``{"$update": id, "attempts", "lastError"}``) and removals (``{"$tombstone": id}``) are
  appended as whole lines with one ``write`` under ``flock``, then ``fsync``; readers fold the log.
  A crash can leave at most one torn last line: it is skipped when reading and terminated before the
  next append. Nothing is rewritten in place, so no crash can lose or duplicate an entry.
* ``redis://HOST:PORT/DB?stream=KEY``: a Redis Stream via redis-py. Entries are ``XADD`` ed
  (field ``entry``: the JSON); the stream id is the entry id; ``XRANGE`` pages through them;
  removal is ``XDEL``; attempts and lastError updates live in the hash ``KEY:meta``.
* ``http(s)://AGENT/debug/a2a/dlq``: the debug API's DLQ endpoints (``GET /dlq``, ``GET``,
  ``PATCH`` and ``DELETE /dlq/{id}``; ``docs/debug-endpoints.md``).

Every backend streams entries (memory stays flat over millions) and removes idempotently:
``remove`` returns whether it removed a live entry.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit, urlunsplit

from a2actl.errors import HTTPStatusError, ProtocolViolation, UnreachableError, UsageError

if TYPE_CHECKING:
    from a2actl.config import Settings
    from a2actl.events import EventSink


def _key(entry_id: str) -> int:
    """A 64-bit digest of an id: a tombstone set of 1M ids stays ~60 MB instead of ~150."""
    return int.from_bytes(hashlib.blake2b(entry_id.encode(), digest_size=8).digest(), "big")


class FileBackend:
    """The tombstone-log file backend (see the module docstring)."""

    kind = "file"

    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self.url = f"file://{self.path}"
        self._tombstones: set[int] | None = None
        self.torn_lines = 0

    async def close(self) -> None:
        return None

    async def missing(self) -> str | None:
        """Why the source reads as empty because it does not exist (a warning), else ``None``.
        Raises ``UsageError`` when the directory does not exist either: a typo, not an empty queue."""
        if self.path.exists():
            return None
        if not self.path.parent.is_dir():
            raise UsageError(f"DLQ file {self.path}: the directory {self.path.parent} does not exist",
                             hint="check SRC")
        return f"DLQ file {self.path} does not exist: nothing dead-lettered there yet (or a wrong path)"

    def _append(self, records: list[dict[str, Any]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = "".join(json.dumps(r, separators=(",", ":"), ensure_ascii=False) + "\n" for r in records).encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            size = os.fstat(fd).st_size
            if size:
                with open(self.path, "rb") as f:  # terminate a line torn by an earlier crash
                    f.seek(size - 1)
                    if f.read(1) != b"\n":
                        data = b"\n" + data
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)

    def _lines(self) -> Any:
        if not self.path.exists():
            return
        with open(self.path, encoding="utf-8", errors="replace") as f:
            for line in f:
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                except ValueError:
                    self.torn_lines += 1
                    continue
                if isinstance(rec, dict):
                    yield rec

    def _scan(self) -> tuple[set[int], dict[str, dict[str, Any]]]:
        tombstones: set[int] = set()
        updates: dict[str, dict[str, Any]] = {}
        for rec in self._lines():
            if "$tombstone" in rec:
                tombstones.add(_key(str(rec["$tombstone"])))
            elif "$update" in rec:
                updates[str(rec["$update"])] = rec
        self._tombstones = tombstones
        return tombstones, updates

    async def append(self, entry: dict[str, Any]) -> str:
        self._append([entry])
        return str(entry["id"])

    async def iter_entries(self) -> AsyncIterator[dict[str, Any]]:
        tombstones, updates = self._scan()
        self.torn_lines = 0
        for rec in self._lines():
            if "$tombstone" in rec or "$update" in rec or "id" not in rec:
                continue
            eid = str(rec["id"])
            if _key(eid) in tombstones:
                continue
            upd = updates.get(eid)
            if upd is not None:
                rec["attempts"] = upd.get("attempts", rec.get("attempts"))
                rec["lastError"] = upd.get("lastError", rec.get("lastError"))
            yield rec

    async def get(self, entry_id: str) -> dict[str, Any] | None:
        async for e in self.iter_entries():
            if e["id"] == entry_id:
                return e
        return None

    async def remove(self, entry_id: str) -> bool:
        if self._tombstones is None:
            self._scan()
        assert self._tombstones is not None
        k = _key(entry_id)
        if k in self._tombstones or not any(
                "id" in r and "$update" not in r and str(r["id"]) == entry_id for r in self._lines()):
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
        for rec in self._lines():
            if "$tombstone" in rec:
                counts[str(rec["$tombstone"])] = counts.get(str(rec["$tombstone"]), 0) + 1
        return counts


class RedisBackend:
    """Redis Streams (see the module docstring). ``url``: ``redis://HOST:PORT/DB?stream=KEY``."""

    kind = "redis"

    def __init__(self, url: str) -> None:
        import redis.asyncio as redis

        parts = urlsplit(url)
        q = parse_qs(parts.query)
        if "stream" not in q:
            raise UsageError(f"{url}: name the stream, e.g. redis://localhost:6379/0?stream=a2a:dlq")
        self.stream = q["stream"][0]
        self.meta = self.stream + ":meta"
        self.url = url
        rest = urlencode({k: v[0] for k, v in q.items() if k != "stream"})
        self.client = redis.from_url(urlunsplit((parts.scheme, parts.netloc, parts.path, rest, "")),
                                     decode_responses=True)

    async def close(self) -> None:
        await self.client.aclose()

    async def missing(self) -> str | None:
        """A warning when the stream key does not exist (``XADD`` creates it on the first dead letter),
        else ``None``. Raises ``UnreachableError`` when Redis cannot be reached."""
        if await self._call(self.client.exists(self.stream)):
            return None
        return (f"Redis stream {self.stream!r} does not exist in {self.url}: nothing dead-lettered there yet "
                "(or a wrong key)")

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
        return str(await self._call(self.client.xadd(self.stream, {"entry": json.dumps(body, separators=(",", ":"))})))

    def _decode(self, sid: str, fields: dict[str, str], meta: str | None) -> dict[str, Any]:
        try:
            entry = json.loads(fields.get("entry", "{}"))
        except ValueError:
            entry = {"request": None, "corrupt": fields}
        entry["id"] = sid
        if meta:
            entry.update(json.loads(meta))
        return entry

    async def iter_entries(self, page: int = 1000) -> AsyncIterator[dict[str, Any]]:
        start = "-"
        while True:
            rows = await self._call(self.client.xrange(self.stream, min=start, max="+", count=page))
            if not rows:
                return
            metas = await self._call(self.client.hmget(self.meta, [sid for sid, _ in rows]))
            for (sid, fields), meta in zip(rows, metas, strict=True):
                yield self._decode(sid, fields, meta)
            if len(rows) < page:
                return
            start = "(" + rows[-1][0]

    async def get(self, entry_id: str) -> dict[str, Any] | None:
        try:
            rows = await self._call(self.client.xrange(self.stream, min=entry_id, max=entry_id))
        except ProtocolViolation:
            return None  # not a stream id at all
        if not rows:
            return None
        return self._decode(rows[0][0], rows[0][1], await self._call(self.client.hget(self.meta, entry_id)))

    async def remove(self, entry_id: str) -> bool:
        try:
            removed = await self._call(self.client.xdel(self.stream, entry_id))
        except ProtocolViolation:
            return False
        await self._call(self.client.hdel(self.meta, entry_id))
        return bool(removed)

    async def remove_many(self, entry_ids: list[str]) -> int:
        """``XDEL`` (and the meta ``HDEL``) in one round trip; returns how many were still there."""
        if not entry_ids:
            return 0
        pipe = self.client.pipeline(transaction=False)
        pipe.xdel(self.stream, *entry_ids)
        pipe.hdel(self.meta, *entry_ids)
        removed, _ = await self._call(pipe.execute())
        return int(removed)

    async def update(self, entry_id: str, attempts: int, last_error: dict[str, Any] | None) -> None:
        await self._call(self.client.hset(self.meta, entry_id,
                                          json.dumps({"attempts": attempts, "lastError": last_error})))


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

    async def close(self) -> None:
        await self.transport.client.aclose()

    def _check(self, res: Any) -> Any:
        if res.status == 404:
            return None
        if res.status >= 400:
            raise HTTPStatusError(f"{res.url} answered HTTP {res.status} {res.reason}", details={"httpStatus": res.status})
        return res.json() if res.body else {}

    async def append(self, entry: dict[str, Any]) -> str:
        raise UsageError("the HTTP DLQ is read/replay only; producers enqueue on the agent's side")

    async def iter_entries(self, page: int = 500) -> AsyncIterator[dict[str, Any]]:
        cursor = None
        while True:
            q = {"pageSize": page, **({"cursor": cursor} if cursor else {})}
            doc = self._check(await self.transport.request("GET", f"{self.url}?{urlencode(q)}",
                                                          headers={"Accept": "application/json"}))
            if not isinstance(doc, dict) or not isinstance(doc.get("entries"), list):
                raise ProtocolViolation(f"{self.url} did not answer a DLQ page")
            for e in doc["entries"]:
                yield e
            cursor = doc.get("nextCursor")
            if not cursor:
                return

    async def get(self, entry_id: str) -> dict[str, Any] | None:
        return self._check(await self.transport.request("GET", f"{self.url}/{quote(entry_id, safe='')}"))

    async def remove(self, entry_id: str) -> bool:
        doc = self._check(await self.transport.request("DELETE", f"{self.url}/{quote(entry_id, safe='')}"))
        return bool(doc and doc.get("removed"))

    async def update(self, entry_id: str, attempts: int, last_error: dict[str, Any] | None) -> None:
        self._check(await self.transport.request("PATCH", f"{self.url}/{quote(entry_id, safe='')}",
                                                 json_body={"attempts": attempts, "lastError": last_error}))


def open_backend(src: str, settings: Settings | None = None, sink: EventSink | None = None) -> Any:
    """The backend for SRC. Raises ``UsageError`` for an unknown scheme."""
    if src.startswith("file://"):
        return FileBackend(urlsplit(src).path)
    if "://" not in src:
        return FileBackend(src)
    if src.startswith(("redis://", "rediss://", "unix://")):
        return RedisBackend(src)
    if src.startswith(("http://", "https://")):
        from a2actl.config import Settings as _S

        return HttpBackend(src, settings or _S(), sink)
    raise UsageError(f"unknown DLQ source {src!r}",
                     hint="file://PATH.jsonl, redis://HOST:PORT/DB?stream=KEY or http(s)://AGENT/debug/a2a/dlq")
