"""The dlq operator jobs: list, show, stats, replay, purge. Each returns a typed result whose
``to_json()`` is the command's ``-o json`` document (docs/output-formats.md) and whose ``exit`` is its
exit code (docs/exit-codes.md)."""

from __future__ import annotations

import functools
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from a2actl.core.errors import A2ACtlError, UsageError
from a2actl.core.exit_codes import ExitCode
from a2actl.core.redact import mask_urls, register_urls_in_json
from a2actl.core.units import parse_timestamp as parse_iso
from a2actl.dlq.filter import EntryFilter, IdLookup, select
from a2actl.dlq.replay import Emit, ReplayOptions, ReplayResult
from a2actl.dlq.store.backends import open_backend
from a2actl.dlq.store.base import Backend
from a2actl.dlq.store.entry import InvalidEntries, check, register_target_secrets
from a2actl.dlq.store.file import FileBackend
from a2actl.dlq.store.redis import RedisBackend
from a2actl.dlq.store.sqs import Redrive, SqsBackend

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
    """A one-line view of an entry for ``list`` (``now`` in epoch seconds; ``ageSeconds`` in seconds);
    the secrets of a URL its error message names masked (a gateway's ``http://user:pw@…``)."""
    register_target_secrets(e)
    err = e.get("lastError") or {}
    text = err.get("message")
    if isinstance(text, str) and "://" in text:
        text = mask_urls(text)
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
        "error": text,
        "source": e.get("source"),
    }


async def open_source(
    src: str,
    settings: Settings,
    sink: EventSink | None,
    warn: Warn | None = None,
    *,
    endpoint_url: str | None = None,
) -> Backend:
    """``open_backend`` for the commands that read SRC (``endpoint_url``: an SQS source's endpoint,
    ``--endpoint-url``). A source that does not exist yet (a missing file, a missing Redis stream
    key) reads as an empty DLQ and ``warn`` is told why; a file in a directory that does not exist
    or a missing SQS queue raises ``UsageError`` (exit 2); an unreachable Redis or SQS endpoint
    ``UnreachableError`` (exit 3); missing or refused AWS credentials ``AuthError`` (exit 4)."""
    backend = open_backend(src, settings, sink, endpoint_url=endpoint_url)
    if warn is not None and hasattr(backend, "warn"):
        backend.warn = warn  # a broker store's own warnings (AmqpBackend: a quorum queue)
    try:
        why = await backend.missing()
    except BaseException:
        await backend.close()
        raise
    if why and warn is not None:
        warn(why)
    return backend


def _warn_invalid(invalid: InvalidEntries, warn: Warn | None) -> None:
    line = invalid.warning()
    if line and warn is not None:
        warn(line)


def _warn_not_found(src: str, not_found: list[str], warn: Warn | None) -> None:
    """One line naming the ``--ids`` that name no entry in ``src`` (with a hint when one holds a
    comma: ``--ids`` takes one id, repeat it for several)."""
    if not not_found or warn is None:
        return
    shown = ", ".join(repr(i) for i in not_found[:20]) + (
        f" and {len(not_found) - 20} more" if len(not_found) > 20 else ""
    )
    line = f"no entry in {src} for --ids {shown}: nothing is replayed for {'it' if len(not_found) == 1 else 'them'}"
    if any("," in i for i in not_found):
        line += " (--ids takes one id; repeat it for several: --ids A --ids B)"
    warn(line)


@dataclass
class EntryList:
    """``dlq list`` (and ``replay --dry-run``, with ``dry_run``): the matching entries as
    ``summary_of`` rows (empty when they were streamed out through ``emit``); ``not_found`` the
    ``--ids`` of a dry run that name no entry."""

    source: str
    entries: list[dict[str, Any]]
    count: int
    invalid: InvalidEntries
    dry_run: bool = False
    not_found: list[str] = field(default_factory=list)

    @property
    def exit(self) -> ExitCode:
        """0: listing never fails on content (invalid entries are counted and warned about); 1 when
        an ``--ids`` id of a dry run names no entry (as the replay would)."""
        return ExitCode.ERROR if self.not_found else ExitCode.OK

    def to_json(self) -> dict[str, Any]:
        """``{"source", "entries", "count", "invalid"[, "dryRun": true, "notFound"]}``."""
        doc: dict[str, Any] = {
            "source": self.source,
            "entries": self.entries,
            "count": self.count,
            "invalid": self.invalid.to_json(),
        }
        if self.dry_run:
            doc["dryRun"] = True
            doc["notFound"] = self.not_found
        return doc


async def list_job(
    src: str,
    settings: Settings,
    sink: EventSink | None,
    sel: EntryFilter,
    emit: Callable[[dict[str, Any]], None] | None = None,
    warn: Warn | None = None,
    *,
    endpoint_url: str | None = None,
) -> EntryList:
    """``dlq list``: matching entries, oldest first as stored. With ``emit`` (JSONL), entries stream
    out and the result holds none (``count`` then counts what was kept: 0)."""
    backend = await open_source(src, settings, sink, warn, endpoint_url=endpoint_url)
    now = time.time()
    out = []
    invalid = InvalidEntries()
    lookup = IdLookup()
    try:
        async for e in select(backend, sel, invalid, lookup=lookup):
            row = summary_of(e, now)
            if emit is not None:
                emit(row)
            else:
                out.append(row)
    finally:
        await backend.close()
    _warn_invalid(invalid, warn)
    not_found = lookup.not_found(sel)
    _warn_not_found(src, not_found, warn)
    return EntryList(src, out, len(out), invalid, not_found=not_found)


@dataclass
class ShownEntry:
    """``dlq show``: one stored record, as stored (valid or not); exit 0."""

    entry: dict[str, Any]

    @property
    def exit(self) -> ExitCode:
        """Always 0 (an absent entry raises instead)."""
        return ExitCode.OK

    def to_json(self) -> dict[str, Any]:
        """The record itself."""
        return self.entry


async def show_job(
    src: str,
    settings: Settings,
    sink: EventSink | None,
    entry_id: str,
    warn: Warn | None = None,
    *,
    endpoint_url: str | None = None,
) -> ShownEntry:
    """``dlq show``: the record with ``entry_id`` (the secrets of every URL in it masked); an invalid
    one is shown with a warning saying why. Raises ``A2ACtlError`` (exit 1) when there is none."""
    backend = await open_source(src, settings, sink, warn, endpoint_url=endpoint_url)
    try:
        # the file and Redis stores say why a record is invalid as list does (a torn line, no
        # 'entry' field, a duplicate id); the others are checked against the schema here
        lookup = getattr(backend, "lookup", None)
        if lookup is not None:
            entry, why = await lookup(entry_id)
        else:
            entry = await backend.get(entry_id)
            why = check(entry) if entry is not None else None
    finally:
        await backend.close()
    register_target_secrets(entry)
    # the record is printed as stored: a URL may be anywhere in it (a valid entry's lastError naming
    # a gateway, a torn line, an 'entry' field that is not JSON), and its password must not be printed
    register_urls_in_json(entry)
    if why is not None and warn is not None:
        warn(f"{entry_id} is not a valid entry (skipped by list and replay until fixed or purged): {why}")
    if entry is None:
        raise A2ACtlError(f"no dead letter {entry_id!r} in {src}")
    return ShownEntry(entry)


@dataclass
class DlqStats:
    """``dlq stats``: ``depth`` valid entries; ``oldest`` ``(id, age seconds)``; counters by age
    bucket (``AGE_BUCKETS`` labels), error code (entries whose ``lastError`` has one), error class
    (entries with a ``lastError``) and target URL; exit 0."""

    source: str
    depth: int
    invalid: InvalidEntries
    oldest: tuple[Any, float] | None
    ages: Counter[str] = field(default_factory=Counter)
    codes: Counter[str] = field(default_factory=Counter)
    classes: Counter[str] = field(default_factory=Counter)
    targets: Counter[str] = field(default_factory=Counter)
    #: Entries whose ``enqueuedAt`` is in the future (the producer's clock ahead of this machine's),
    #: counted in ``<1m`` (their age as 0), and how far ahead the furthest is (seconds).
    ahead: int = 0
    ahead_max: float = 0.0
    #: The broker's own counts, read before the entries (SQS: ``{"messages", "notVisible",
    #: "delayed"}``; RabbitMQ: ``{"messages"}``); ``None`` for file, Redis and HTTP sources.
    broker: dict[str, int] | None = None

    @property
    def exit(self) -> ExitCode:
        """Always 0."""
        return ExitCode.OK

    def to_json(self) -> dict[str, Any]:
        """``{"source", "depth", "invalid", "oldest": {"id", "ageSeconds"} | null, "ageHistogram",
        "datedAhead": {"count", "maxSeconds"}, "topErrorCodes" (10), "byClass", "byTarget" (20)[,
        "broker"]}``; ``datedAhead``: the entries dated in the future (in ``<1m``), ``maxSeconds``
        how far ahead the furthest is (``null`` without one)."""
        doc = {
            "source": self.source,
            "depth": self.depth,
            "invalid": self.invalid.to_json(),
            "oldest": (
                {"id": self.oldest[0], "ageSeconds": round(self.oldest[1], 3)}
                if self.oldest is not None
                else None
            ),
            "ageHistogram": [{"bucket": label, "count": self.ages.get(label, 0)} for _, label in AGE_BUCKETS],
            "datedAhead": {
                "count": self.ahead,
                "maxSeconds": round(self.ahead_max, 3) if self.ahead else None,
            },
            "topErrorCodes": [{"code": c, "count": n} for c, n in self.codes.most_common(10)],
            "byClass": dict(self.classes),
            "byTarget": [{"target": t, "count": n} for t, n in self.targets.most_common(20)],
        }
        if self.broker is not None:
            doc["broker"] = self.broker
        return doc


async def stats_job(
    src: str,
    settings: Settings,
    sink: EventSink | None,
    warn: Warn | None = None,
    *,
    endpoint_url: str | None = None,
) -> DlqStats:
    """``dlq stats``: depth, oldest, an age histogram, top error codes, counts by target (one pass);
    for a broker source (SQS, RabbitMQ) also the broker's own counts, read first (``broker``)."""
    backend = await open_source(src, settings, sink, warn, endpoint_url=endpoint_url)
    now = time.time()
    oldest: float | None = None
    oldest_id: Any = None
    stats = DlqStats(src, 0, InvalidEntries(), None)
    try:
        broker_depth = getattr(backend, "broker_depth", None)
        if broker_depth is not None:
            stats.broker = await broker_depth()
        async for e in backend.iter_entries(stats.invalid):
            stats.depth += 1
            register_target_secrets(e)
            enq = parse_iso(e.get("enqueuedAt"))
            if enq is not None:
                if oldest is None or enq < oldest:
                    oldest, oldest_id = enq, e.get("id")
                age = now - enq
                stats.ages[next(label for bound, label in AGE_BUCKETS if age < bound)] += 1
                if age < 0:  # dated ahead: its age is 0 as far as this clock can tell (``<1m``)
                    stats.ahead += 1
                    stats.ahead_max = max(stats.ahead_max, -age)
            err = e.get("lastError") or {}
            code = _code_key(err.get("code"))
            if code is not None:
                stats.codes[code] += 1
            if err.get("class") is not None:
                stats.classes[str(err["class"])] += 1
            stats.targets[str((e.get("target") or {}).get("url"))] += 1
    finally:
        await backend.close()
    _warn_invalid(stats.invalid, warn)
    stats.oldest = (oldest_id, now - oldest) if oldest is not None else None
    return stats


def _code_key(code: Any) -> str | None:
    """``topErrorCodes``' key for a ``lastError.code``: the code as a string (``-32603``, ``503``,
    ``rejected``; an integral float as the integer it is), ``None`` for an entry without one (a send
    answered with a failed task, an entry never attempted), which that list leaves out."""
    if code is None or code == "":
        return None
    if isinstance(code, float) and code.is_integer():
        return str(int(code))
    return str(code)


@dataclass
class PurgeResult:
    """``dlq purge``: per id whether a live entry was removed (``False``: not found); exit 0."""

    source: str
    removed: list[tuple[str, bool]]

    @property
    def exit(self) -> ExitCode:
        """Always 0 (an id not found is reported, not an error)."""
        return ExitCode.OK

    def to_json(self) -> dict[str, Any]:
        """``{"source", "results": [{"id", "removed"}]}``."""
        return {"source": self.source, "results": [{"id": i, "removed": r} for i, r in self.removed]}


async def purge_job(
    src: str,
    settings: Settings,
    sink: EventSink | None,
    ids: list[str],
    warn: Warn | None = None,
    *,
    endpoint_url: str | None = None,
) -> PurgeResult:
    """``dlq purge``: remove exactly these ids (never by filter), in order (a file source in one
    read and one append: ``FileBackend.remove_each``)."""
    backend = await open_source(src, settings, sink, warn, endpoint_url=endpoint_url)
    try:
        remove_each = getattr(backend, "remove_each", None)
        if remove_each is not None:
            removed = list(zip(ids, await remove_each(ids), strict=True))
        else:
            removed = [(i, await backend.remove(i)) for i in ids]
    finally:
        await backend.close()
    return PurgeResult(src, removed)


async def replay_job(
    src: str,
    settings: Settings,
    sink: EventSink | None,
    sel: EntryFilter,
    opts: ReplayOptions,
    journal_path: Path | None,
    emit: Emit,
    warn: Warn | None = None,
    wait_lock: bool = False,
    *,
    endpoint_url: str | None = None,
    to_broker: bool = False,
    on_interrupted: Callable[[ReplayResult], None] | None = None,
) -> ReplayResult | Redrive:
    """``dlq replay`` under the source's replay lock (``a2actl.dlq.store.lock``); ``journal_path``
    ``None``: the default journal of the source. ``to_broker``: back into the broker instead of the
    agent (SQS: its native redrive, ``SqsBackend.to_broker``, whose ``Redrive`` is returned). A FIFO
    SQS queue is replayed one message at a time (its group order). Raises ``UsageError`` (exit 2)
    for filters on a consumer-group replay or an SQS ``--to-broker``, and for ``--to-broker`` on a
    source that is not a broker; ``SourceLocked`` (exit 1) when another replay holds the source.

    Ctrl-C or SIGTERM during the deliveries: the replay stops as ``Replayer`` does (the deliveries
    in flight get their grace, what the agent acknowledged is committed) and its result, marked
    ``interrupted`` (exit 130), goes to ``on_interrupted`` as well as being returned: the caller's
    deadline wrapper (``core.deadline.within``) drops the result of work whose caller was
    cancelled."""
    from a2actl.dlq.journal import Journal, default_journal
    from a2actl.dlq.replay import Replayer
    from a2actl.dlq.store.lock import SourceLocked

    backend = await open_source(src, settings, sink, warn, endpoint_url=endpoint_url)
    try:
        if to_broker and not hasattr(backend, "to_broker") and not hasattr(backend, "republish"):
            raise UsageError(f"--to-broker needs a broker source (amqp:// or sqs://), not {backend.kind}")
        if to_broker and isinstance(backend, SqsBackend) and sel.filtered:
            raise UsageError(
                "--to-broker on SQS moves the whole queue (StartMessageMoveTask): --ids, --since, "
                "--error-class, --method and --limit do not apply",
                hint="replay to the agent for a filtered replay",
            )
        if isinstance(backend, SqsBackend) and backend.fifo and opts.max_in_flight > 1 and not to_broker:
            opts = replace(opts, max_in_flight=1)
            if warn is not None:
                warn(
                    f"{backend.url} is a FIFO queue: replaying one message at a time to keep its group order"
                )
        if isinstance(backend, RedisBackend) and backend.group is not None:
            if sel.filtered:
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
        elif isinstance(backend, RedisBackend):
            busy = await _group_pending(backend)
            if busy and warn is not None:
                warn(
                    f"consumer group(s) on {backend.stream} hold pending entries ({busy}): a group replay may be "
                    "running, and this replay delivers every entry; use the same group= to share the stream"
                )
        lock = backend.replay_lock(src)
        await lock.acquire(wait_lock, warn)
        try:
            if to_broker and isinstance(backend, SqsBackend):
                return await backend.to_broker(emit, opts.rate)
            if journal_path is not None:
                _not_the_source(backend, journal_path)
            if isinstance(backend, FileBackend):
                backend.pin()  # removals go to the file read, even if it is rotated meanwhile
            journal = Journal(
                journal_path or default_journal(backend.journal_key),
                getattr(backend, "identity", None),
                marks=backend if isinstance(backend, FileBackend) else None,
            )
            try:
                # --to-broker on RabbitMQ: the same replay, republishing instead of delivering
                redeliver = getattr(backend, "republish", None) if to_broker else None
                replayer = Replayer(
                    backend, opts, journal, settings, sink, emit, guard=lock.check, redeliver=redeliver
                )
                if isinstance(backend, SqsBackend):  # a FIFO replay waiting for its removals commits them
                    backend.on_blocked = functools.partial(replayer._flush, True)
                result = await replayer.run(sel)
                if result.interrupted is not None and on_interrupted is not None:
                    on_interrupted(result)
                _warn_invalid(replayer.invalid, warn)
                _warn_not_found(src, result.not_found, warn)
                return result
            finally:
                journal.close()
        finally:
            await lock.release()
    finally:
        await backend.close()


def _not_the_source(backend: Backend, journal: Path) -> None:
    """Raise ``UsageError`` (exit 2) when ``journal`` is a file source's DLQ file itself (any name
    of it) or its ``PATH.replay-lock``: the journal's lines were appended to the DLQ as invalid
    entries (exit 7 on every later run until each was purged by its ``line:N``), and the lock,
    truncated as it is taken and released, wiped the journal."""
    import os

    if not isinstance(backend, FileBackend):
        return
    real = backend.path.resolve()
    for what, path in (
        ("the DLQ file", backend.path),
        ("its replay lock", real.with_name(real.name + ".replay-lock")),
    ):
        try:
            same = os.path.samefile(journal, path)
        except (OSError, ValueError):  # one of them does not exist (yet)
            same = os.path.realpath(journal) == os.path.realpath(path)
        if same:
            raise UsageError(
                f"--journal {journal} is {what} of {backend.url}: the journal needs a file of its own",
                hint="give --journal another PATH, or leave it out for the default one",
            )


async def _group_pending(backend: RedisBackend) -> str:
    """``"NAME: N, …"`` for the stream's consumer groups with pending entries."""
    try:
        groups = await backend.client.xinfo_groups(backend.stream)
    except Exception:  # noqa: BLE001 - only a warning: no stream, no groups, an old Redis
        return ""
    return ", ".join(f"{g.get('name')}: {g.get('pending')}" for g in groups if g.get("pending"))
