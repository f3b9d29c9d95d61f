"""``dlq replay``: redeliver dead letters at least once, without losing or double-removing one.

Order for every entry (``docs/dlq.md``, "Replay semantics"): deliver → the agent answers without an
error (the ack) → journal ``delivered`` → remove from the source → journal ``removed``. Acks are
committed in small batches (one ``fsync`` per batch, not per message). A crash anywhere loses nothing:

* before the ack was journalled: the entry is still in the source and is delivered again (at least
  once; ``messageId`` is kept, so an idempotent agent dedupes);
* after ``delivered`` but before ``removed``: the rerun removes it without redelivering;
* a removal is idempotent (a tombstone is written only for a live entry; ``XDEL`` of a gone id is a no-op).

Transient failures (transport errors, HTTP 5xx/429, JSON-RPC errors classed transient) are retried
with exponential backoff and full jitter up to ``max_attempts``; permanent ones (invalid params,
unsupported operation, content type, auth, other 4xx) are not retried. Entries that stay get their
``attempts`` and ``lastError`` updated in the source. Backpressure: at most ``max_in_flight``
requests, an optional rate (messages per second), and a circuit breaker per target that pauses after
``breaker_failures`` consecutive failures for ``breaker_cooldown`` seconds and says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from a2actl.core.errors import (
    A2ACtlError,
    AuthError,
    HTTPStatusError,
    TimeoutError_,
    UnreachableError,
    UsageError,
)
from a2actl.core.exit_codes import ExitCode
from a2actl.dlq.filter import EntryFilter, select
from a2actl.dlq.journal import Journal
from a2actl.dlq.pacing import Breaker, RateLimiter
from a2actl.dlq.store.base import Backend
from a2actl.dlq.store.entry import PERMANENT, TRANSIENT, Entry, InvalidEntries, message_id, now_iso
from a2actl.dlq.store.redis import RedisBackend

if TYPE_CHECKING:
    from a2actl.core.config import Settings
    from a2actl.core.sink import EventSink
    from a2actl.transport.a2a import A2AClient
    from a2actl.transport.http import HttpTransport

#: Receives the replay's records as they happen: ``{"type": "result", …}`` per entry (the JSONL
#: record of docs/output-formats.md), ``{"type": "resume" | "circuit-open", …, "message"}`` notices.
Emit = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class ReplayOptions:
    """Seconds for times; ``rate`` messages per second (``None``: unlimited); ``to``: deliver every
    entry to this agent instead of its stored target."""

    to: str | None = None
    rate: float | None = None
    max_in_flight: int = 16
    max_attempts: int = 3
    backoff: float = 0.2
    max_backoff: float = 5.0
    breaker_failures: int = 5
    breaker_cooldown: float = 5.0
    batch: int = 256
    batch_interval: float = 0.05
    #: Redis consumer groups: take over entries another replayer left pending this long.
    claim_after: float = 60.0


@dataclass
class Outcome:
    """One delivery attempt: ``ok`` (the agent answered without an error), else ``error``
    (``{"code", "message", "class"}``, the entry's ``lastError`` shape)."""

    ok: bool
    error: dict[str, Any] | None = None

    @property
    def error_class(self) -> str:
        """``transient`` or ``permanent`` (a failed outcome always has an error)."""
        return str((self.error or {}).get("class", TRANSIENT))


def classify_exception(exc: A2ACtlError) -> str:
    """Transient: unreachable, timeouts, cuts, HTTP 5xx and 429. Permanent: auth, other 4xx, usage."""
    if isinstance(exc, (UnreachableError, TimeoutError_)):
        return TRANSIENT
    if isinstance(exc, HTTPStatusError):
        status = exc.details.get("httpStatus", 500)
        return TRANSIENT if status >= 500 or status == 429 else PERMANENT
    if isinstance(exc, (AuthError, UsageError)):
        return PERMANENT
    return TRANSIENT


@dataclass
class ReplayCounts:
    """Running counts of one replay (entries)."""

    selected: int = 0
    replayed: int = 0
    acknowledged: int = 0
    retried: int = 0
    resumed_removals: int = 0
    still_dead: dict[str, int] = field(default_factory=lambda: {TRANSIENT: 0, PERMANENT: 0})


@dataclass(frozen=True)
class GroupShare:
    """A consumer-group replay's share: the group, this consumer, entries claimed from others."""

    name: str
    consumer: str
    claimed: int


@dataclass
class ReplayResult:
    """The outcome of ``dlq replay`` (the summary document of docs/output-formats.md). ``duration``
    in seconds; ``journal`` the journal's path."""

    counts: ReplayCounts
    invalid: InvalidEntries
    duration: float
    breaker_trips: int
    journal: str
    group: GroupShare | None = None

    @property
    def exit(self) -> ExitCode:
        """0 every selected entry acknowledged; 7 some are still dead or invalid entries were skipped
        (docs/exit-codes.md)."""
        dead = self.counts.still_dead[TRANSIENT] + self.counts.still_dead[PERMANENT]
        return ExitCode.CHECK_FAILED if dead or self.invalid.count else ExitCode.OK

    def to_json(self) -> dict[str, Any]:
        """``{"type": "summary", selected, replayed, acknowledged, retried, resumedRemovals,
        stillDead, invalid, duration, rate (messages/s), breakerTrips, journal, exitCode[, group]}``."""
        c = self.counts
        out: dict[str, Any] = {
            "type": "summary",
            "selected": c.selected,
            "replayed": c.replayed,
            "acknowledged": c.acknowledged,
            "retried": c.retried,
            "resumedRemovals": c.resumed_removals,
            "stillDead": c.still_dead,
            "invalid": self.invalid.to_json(),
            "duration": round(self.duration, 6),
            "rate": round(c.replayed / self.duration, 1) if self.duration > 0 else None,
            "breakerTrips": self.breaker_trips,
            "journal": self.journal,
            "exitCode": int(self.exit),
        }
        if self.group is not None:
            out["group"] = {
                "name": self.group.name,
                "consumer": self.group.consumer,
                "claimed": self.group.claimed,
            }
        return out


@dataclass
class Replayer:
    """One replay run over ``backend``; ``emit`` receives per-entry results and notices."""

    backend: Backend
    opts: ReplayOptions
    journal: Journal
    settings: Settings
    sink: EventSink | None
    emit: Emit
    #: Raises to stop before the next delivery (a lost Redis lease).
    guard: Callable[[], None] | None = None
    invalid: InvalidEntries = field(default_factory=InvalidEntries)
    clients: dict[tuple[str, str, str], A2AClient] = field(default_factory=dict)
    breakers: dict[str, Breaker] = field(default_factory=dict)
    counts: ReplayCounts = field(default_factory=ReplayCounts)
    acked: list[str] = field(default_factory=list)
    last_flush: float = 0.0

    async def _client(self, transport: HttpTransport, entry: Entry) -> A2AClient:
        """The client for ``--to`` (discovered once) or the entry's stored target (its binding and
        protocol version as stored; no discovery)."""
        from a2actl.protocol.card import Interface
        from a2actl.protocol.negotiation import Selection
        from a2actl.protocol.versions import family_of, normalise_binding

        target = entry.get("target") or {}
        if self.opts.to:
            key = (self.opts.to, "", "")
            if key not in self.clients:
                from a2actl.agent.connect import connect

                self.clients[key] = await connect(self.opts.to, self.settings, transport)
            return self.clients[key]
        url = target.get("url")
        if not isinstance(url, str) or not url:
            raise UsageError(f"entry {entry.get('id')} has no target.url; give --to URL")
        binding = normalise_binding(target.get("protocolBinding") or "JSONRPC")
        version = str(target.get("protocolVersion") or "1.0")
        key = (url, binding, version)
        if key not in self.clients:
            from a2actl.protocol.versions import Family
            from a2actl.transport.a2a import A2AClient

            fam = family_of(version) or Family.V1_0
            iface = Interface(
                url=url,
                protocol_binding=binding,
                protocol_version=version,
                family=fam,
                source="dlq entry",
                tenant=target.get("tenant"),
            )
            self.clients[key] = A2AClient(transport, Selection(iface, fam, "the dead letter's target"))
        return self.clients[key]

    async def _deliver(self, transport: HttpTransport, entry: Entry) -> Outcome:
        request = entry.get("request") or {}
        method, params = request.get("method"), request.get("params")
        if not isinstance(method, str) or not isinstance(params, dict):
            return Outcome(
                False, {"code": None, "message": "entry has no request.method/params", "class": PERMANENT}
            )
        try:
            client = await self._client(transport, entry)
            operation = _operation(method)
            out = await client.call(operation, params)
        except A2ACtlError as exc:
            return Outcome(
                False,
                {
                    "code": exc.details.get("httpStatus") if exc.details else None,
                    "message": exc.message,
                    "class": classify_exception(exc),
                },
            )
        if out.error is None:
            return Outcome(True)
        klass = TRANSIENT if out.error.error_class == TRANSIENT else PERMANENT
        # an error without a JSON-RPC code (an HTTP+JSON answer in no known shape) keeps its HTTP status
        code = out.error.code if out.error.code is not None else out.http.status
        return Outcome(
            False, {"code": code, "message": f"{out.error.name}: {out.error.message}", "class": klass}
        )

    async def _flush(self, force: bool = False) -> None:
        """Commit the acknowledged batch: journal ``delivered``, remove, journal ``removed`` (fsync)."""
        now = time.monotonic()
        if not self.acked or (
            not force
            and len(self.acked) < self.opts.batch
            and now - self.last_flush < self.opts.batch_interval
        ):
            return
        ids, self.acked = self.acked, []
        self.last_flush = now
        self.journal.write(ids, "delivered", sync=False)
        await self.backend.remove_many(ids)
        self.journal.write(ids, "removed", sync=True)

    async def _one(
        self, transport: HttpTransport, entry: Entry, limiter: RateLimiter, sem: asyncio.Semaphore
    ) -> None:
        target = (entry.get("target") or {}).get("url") or self.opts.to or "?"
        breaker = self.breakers.setdefault(
            target, Breaker(self.opts.breaker_failures, self.opts.breaker_cooldown)
        )
        attempts, outcome = 0, Outcome(False)
        async with sem:
            self.counts.replayed += 1
            while True:
                await breaker.wait()
                await limiter.acquire()
                if self.guard is not None:
                    self.guard()
                attempts += 1
                outcome = await self._deliver(transport, entry)
                if breaker.record(outcome.ok):
                    self.emit(
                        {
                            "type": "circuit-open",
                            "target": target,
                            "cooldown": self.opts.breaker_cooldown,
                            "message": f"{self.opts.breaker_failures} consecutive failures to {target}: pausing "
                            f"{self.opts.breaker_cooldown:g}s",
                        }
                    )
                if (
                    outcome.ok
                    or (outcome.error or {}).get("class") == PERMANENT
                    or attempts >= self.opts.max_attempts
                ):
                    break
                self.counts.retried += 1
                cap = min(self.opts.max_backoff, self.opts.backoff * 2 ** (attempts - 1))
                await asyncio.sleep(random.uniform(0, cap))  # full jitter
        eid = str(entry["id"])
        result = {
            "type": "result",
            "id": eid,
            "messageId": message_id(entry),
            "attempts": attempts,
            "status": "acknowledged" if outcome.ok else f"dead-{outcome.error_class}",
            "error": outcome.error,
        }
        if outcome.ok:
            self.counts.acknowledged += 1
            self.acked.append(eid)
            await self._flush()
        else:
            self.counts.still_dead[outcome.error_class] += 1
            await self.backend.update(
                eid, int(entry.get("attempts") or 0) + attempts, {**(outcome.error or {}), "at": now_iso()}
            )
        self.emit(result)

    async def run(self, sel: EntryFilter) -> ReplayResult:
        """Finish the removals a crashed run journalled, then deliver every selected entry. Raises
        what stops the run (a lost lease ``LeaseLost``, the source gone); acknowledged entries are
        removed first."""
        from a2actl.transport.http import HttpTransport

        started = time.perf_counter()
        # Resume: delivered before a crash but not yet removed.
        pending = list(self.journal.pending)
        if pending:
            await self.backend.remove_many(pending)
            self.journal.write(pending, "removed", sync=True)
            self.counts.resumed_removals = len(pending)
            self.emit(
                {
                    "type": "resume",
                    "removed": len(pending),
                    "message": f"resumed: removed {len(pending)} entr(y/ies) delivered before the last run stopped",
                }
            )
        limiter = RateLimiter(self.opts.rate)
        sem = asyncio.Semaphore(self.opts.max_in_flight)
        tasks: set[asyncio.Task[None]] = set()
        async with HttpTransport(self.settings, self.sink) as transport:
            try:
                async for entry in select(self.backend, sel, self.invalid, replay=True):
                    self.counts.selected += 1
                    while len(tasks) >= self.opts.max_in_flight * 2:  # bounded: memory stays flat
                        done, tasks = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
                        for t in done:
                            t.result()  # surface an unexpected error now
                    task = asyncio.create_task(self._one(transport, entry, limiter, sem))
                    tasks.add(task)
                if tasks:
                    await asyncio.gather(*tasks)
            except A2ACtlError:
                # Stopped (a lost lease, the source went away): keep what the agent acknowledged.
                for t in tasks:
                    t.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                with contextlib.suppress(A2ACtlError):
                    await self._flush(force=True)
                raise
            await self._flush(force=True)
        group = None
        if isinstance(self.backend, RedisBackend) and self.backend.group is not None:
            group = GroupShare(self.backend.group, self.backend.consumer, self.backend.claimed)
        return ReplayResult(
            counts=self.counts,
            invalid=self.invalid,
            duration=time.perf_counter() - started,
            breaker_trips=sum(b.trips for b in self.breakers.values()),
            journal=str(self.journal.path),
            group=group,
        )


def _operation(method: str) -> str:
    """The operation name for a stored method (``SendMessage`` or ``message/send``). Raises
    ``UsageError`` for a method no supported A2A version has."""
    from a2actl.protocol.versions import WIRE_VERSIONS

    for wire in WIRE_VERSIONS.values():
        for op, name in wire.methods.items():
            if name == method or op == method:
                return op
    raise UsageError(f"unknown A2A method {method!r} in a dead letter")
