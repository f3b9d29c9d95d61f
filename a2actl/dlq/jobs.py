"""The dlq operator jobs: list, show, stats, replay, purge (documents per ``docs/output-formats.md``)."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from a2actl.core.errors import UsageError
from a2actl.core.units import parse_timestamp as parse_iso
from a2actl.dlq.replay import Selection, select
from a2actl.dlq.store.backends import open_backend
from a2actl.dlq.store.entry import InvalidEntries, check

if TYPE_CHECKING:
    from a2actl.core.config import Settings
    from a2actl.core.sink import EventSink

#: Receives one-line warnings (the CLI prints them on stderr).
Warn = Callable[[str], None]

#: Age histogram buckets for ``stats`` (upper bounds in seconds).
AGE_BUCKETS = [
    (60, "<1m"),
    (600, "<10m"),
    (3600, "<1h"),
    (86400, "<1d"),
    (7 * 86400, "<7d"),
    (float("inf"), ">=7d"),
]


def summary_of(e: dict[str, Any], now: float) -> dict[str, Any]:
    """A one-line view of an entry for ``list``."""
    err = e.get("lastError") or {}
    req = e.get("request") or {}
    params = req.get("params") or {}
    msg = params.get("message") if isinstance(params, dict) else None
    enq = parse_iso(e.get("enqueuedAt"))
    return {
        "id": e.get("id"),
        "method": req.get("method"),
        "messageId": (msg or {}).get("messageId") if isinstance(msg, dict) else None,
        "target": (e.get("target") or {}).get("url"),
        "enqueuedAt": e.get("enqueuedAt"),
        "ageSeconds": round(now - enq, 3) if enq else None,
        "attempts": e.get("attempts"),
        "errorClass": err.get("class"),
        "errorCode": err.get("code"),
        "error": err.get("message"),
        "source": e.get("source"),
    }


async def open_source(src: str, settings: Settings, sink: EventSink | None, warn: Warn | None = None) -> Any:
    """``open_backend`` for the commands that read SRC. A source that does not exist yet (a missing
    file, a missing Redis stream key) reads as an empty DLQ and ``warn`` is told why; a file in a
    directory that does not exist raises ``UsageError``; an unreachable Redis ``UnreachableError``."""
    backend = open_backend(src, settings, sink)
    try:
        why = await backend.missing()
    except BaseException:
        await backend.close()
        raise
    if why and warn is not None:
        warn(why)
    return backend


async def list_job(
    src: str,
    settings: Settings,
    sink: EventSink | None,
    sel: Selection,
    emit: Any = None,
    warn: Warn | None = None,
) -> dict[str, Any]:
    """``dlq list``: matching entries, oldest first as stored. With ``emit`` (JSONL), entries stream out."""
    backend = await open_source(src, settings, sink, warn)
    now = time.time()
    out = []
    invalid = InvalidEntries()
    try:
        async for e in select(backend, sel, invalid):
            row = summary_of(e, now)
            if emit is not None:
                emit(row)
            else:
                out.append(row)
    finally:
        await backend.close()
    _warn_invalid(invalid, warn)
    return {"source": src, "entries": out, "count": len(out), "invalid": invalid.to_json()}


def _warn_invalid(invalid: InvalidEntries, warn: Warn | None) -> None:
    line = invalid.warning()
    if line and warn is not None:
        warn(line)


async def show_job(
    src: str, settings: Settings, sink: EventSink | None, entry_id: str, warn: Warn | None = None
) -> dict[str, Any] | None:
    backend = await open_source(src, settings, sink, warn)
    try:
        entry: dict[str, Any] | None = await backend.get(entry_id)
    finally:
        await backend.close()
    why = check(entry) if entry is not None else None
    if why is not None and warn is not None:
        warn(f"{entry_id} is not a valid entry (skipped by list and replay until fixed or purged): {why}")
    return entry


async def stats_job(
    src: str, settings: Settings, sink: EventSink | None, warn: Warn | None = None
) -> dict[str, Any]:
    """``dlq stats``: depth, oldest, an age histogram, top error codes, counts by target (one pass)."""
    backend = await open_source(src, settings, sink, warn)
    now = time.time()
    depth, oldest, oldest_id = 0, None, None
    ages: Counter[str] = Counter()
    codes: Counter[str] = Counter()
    targets: Counter[str] = Counter()
    classes: Counter[str] = Counter()
    invalid = InvalidEntries()
    try:
        async for e in backend.iter_entries(invalid):
            depth += 1
            enq = parse_iso(e.get("enqueuedAt"))
            if enq is not None:
                if oldest is None or enq < oldest:
                    oldest, oldest_id = enq, e.get("id")
                age = now - enq
                ages[next(label for bound, label in AGE_BUCKETS if age < bound)] += 1
            err = e.get("lastError") or {}
            codes[str(err.get("code"))] += 1
            classes[str(err.get("class"))] += 1
            targets[str((e.get("target") or {}).get("url"))] += 1
    finally:
        await backend.close()
    _warn_invalid(invalid, warn)
    return {
        "source": src,
        "depth": depth,
        "invalid": invalid.to_json(),
        "oldest": {"id": oldest_id, "ageSeconds": round(now - oldest, 3)} if oldest is not None else None,
        "ageHistogram": [{"bucket": label, "count": ages.get(label, 0)} for _, label in AGE_BUCKETS],
        "topErrorCodes": [{"code": c, "count": n} for c, n in codes.most_common(10)],
        "byClass": dict(classes),
        "byTarget": [{"target": t, "count": n} for t, n in targets.most_common(20)],
    }


async def purge_job(
    src: str, settings: Settings, sink: EventSink | None, ids: list[str], warn: Warn | None = None
) -> dict[str, Any]:
    """``dlq purge``: remove exactly these ids (never by filter)."""
    backend = await open_source(src, settings, sink, warn)
    try:
        results = [{"id": i, "removed": await backend.remove(i)} for i in ids]
    finally:
        await backend.close()
    return {"source": src, "results": results}


async def replay_job(
    src: str,
    settings: Settings,
    sink: EventSink | None,
    sel: Selection,
    opts: Any,
    journal_path: Any,
    emit: Any,
    warn: Warn | None = None,
    wait_lock: bool = False,
) -> dict[str, Any]:
    """``dlq replay`` under the source's replay lock (``a2actl.dlq.store.lock``); ``journal_path`` ``None``:
    the default journal of the source."""
    from a2actl.dlq.replay import Journal, Replayer, default_journal
    from a2actl.dlq.store.lock import SourceLocked

    backend = await open_source(src, settings, sink, warn)
    try:
        if getattr(backend, "group", None) is not None:
            if (
                sel.ids is not None
                or sel.since is not None
                or sel.error_class is not None
                or sel.method is not None
                or sel.limit is not None
            ):
                raise UsageError(
                    "a consumer-group replay (group=) takes what the group hands out: --ids, --since, "
                    "--error-class, --method and --limit do not apply",
                    hint="drop group= from SRC for a filtered replay",
                )
            backend.claim_after = opts.claim_after
            if await backend.exclusive_holder():
                raise SourceLocked(
                    f"an exclusive replay (without group=) of {backend.stream} is running",
                    hint="wait for it; do not mix group and exclusive replays on one stream",
                )
        elif getattr(backend, "kind", None) == "redis":
            busy = await _group_pending(backend)
            if busy and warn is not None:
                warn(
                    f"consumer group(s) on {backend.stream} hold pending entries ({busy}): a group replay may be "
                    "running, and this replay delivers every entry; use the same group= to share the stream"
                )
        lock = backend.replay_lock(src)
        await lock.acquire(wait_lock, warn)
        try:
            journal = Journal(journal_path or default_journal(backend.journal_key))
            try:
                replayer = Replayer(backend, opts, journal, settings, sink, emit, guard=lock.check)
                summary = await replayer.run(sel)
                _warn_invalid(replayer.invalid, warn)
                return summary
            finally:
                journal.close()
        finally:
            await lock.release()
    finally:
        await backend.close()


async def _group_pending(backend: Any) -> str:
    """``"NAME: N, …"`` for the stream's consumer groups with pending entries."""
    try:
        groups = await backend.client.xinfo_groups(backend.stream)
    except Exception:  # noqa: BLE001 - only a warning: no stream, no groups, an old Redis
        return ""
    return ", ".join(f"{g.get('name')}: {g.get('pending')}" for g in groups if g.get("pending"))
