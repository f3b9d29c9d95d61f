"""``dlq replay``: redeliver dead letters at least once, without losing or double-removing one.

Order for every entry (``docs/dlq.md``): deliver → the agent answers without an error (the ack) →
journal ``delivered`` → remove from the source → journal ``removed``. Acks are committed in small
batches (one ``fsync`` per batch, not per message). A crash anywhere loses nothing:

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
import hashlib
import json
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from a2actl.core.errors import (
    A2ACtlError,
    AuthError,
    HTTPStatusError,
    TimeoutError_,
    UnreachableError,
    UsageError,
)
from a2actl.core.units import parse_timestamp as parse_iso
from a2actl.dlq.store.entry import (
    PERMANENT,
    TRANSIENT,
    Invalid,
    InvalidEntries,
    OnInvalid,
    message_id,
    now_iso,
)

if TYPE_CHECKING:
    from a2actl.core.config import Settings
    from a2actl.core.sink import EventSink

Emit = Callable[[dict[str, Any]], None]


def default_journal(src: str) -> Path:
    """``$XDG_STATE_HOME/a2actl/journals/<sha256(SRC)[:16]>.jsonl`` (``~/.local/state`` by default)."""
    base = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    return base / "a2actl" / "journals" / (hashlib.sha256(src.encode()).hexdigest()[:16] + ".jsonl")


@dataclass
class Selection:
    """Which entries: explicit ``ids``, or filters (``since`` epoch seconds, ``error_class``, ``method``), ``limit``."""

    ids: set[str] | None = None
    since: float | None = None
    error_class: str | None = None
    method: str | None = None
    limit: int | None = None

    def matches(self, e: dict[str, Any]) -> bool:
        if self.ids is not None and e.get("id") not in self.ids:
            return False
        if self.since is not None and (parse_iso(e.get("enqueuedAt")) or 0) < self.since:
            return False
        if self.error_class is not None and ((e.get("lastError") or {}).get("class") != self.error_class):
            return False
        return self.method is None or (e.get("request") or {}).get("method") == self.method


async def select(
    backend: Any, sel: Selection, on_invalid: OnInvalid | None = None, replay: bool = False
) -> Any:
    """Stream the matching entries, at most ``sel.limit``. Invalid records go to ``on_invalid`` (with
    ``sel.ids``, only those whose ref is among them). ``replay``: what a replay takes (a Redis
    consumer group hands out this replayer's share)."""
    n = 0

    def invalid(bad: Invalid) -> None:
        if on_invalid is not None and (sel.ids is None or bad.ref in sel.ids):
            on_invalid(bad)

    source = (
        backend.iter_replay(invalid)
        if replay and hasattr(backend, "iter_replay")
        else backend.iter_entries(invalid)
    )
    async for e in source:
        if sel.matches(e):
            yield e
            n += 1
            if sel.limit is not None and n >= sel.limit:
                return


@dataclass(frozen=True)
class ReplayOptions:
    """Seconds for times; ``rate`` messages per second (``None``: unlimited)."""

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


class Journal:
    """The replay journal: JSONL of ``{"id", "event": "delivered"|"removed", "at"}``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.pending: dict[str, None] = {}  # delivered, not yet removed (ordered)
        self.done = 0
        if path.exists():
            with open(path, encoding="utf-8") as f:
                for line in f:
                    try:
                        rec = json.loads(line)
                    except (ValueError, RecursionError):
                        continue  # a torn last line
                    if not isinstance(rec, dict) or not isinstance(rec.get("id"), str):
                        continue  # not a journal line
                    if rec.get("event") == "delivered":
                        self.pending[rec["id"]] = None
                    elif rec.get("event") == "removed":
                        self.pending.pop(rec["id"], None)
                        self.done += 1
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    def write(self, ids: list[str], event: str, sync: bool) -> None:
        if not ids:
            return
        at = time.time()
        data = "".join(json.dumps({"id": i, "event": event, "at": at}) + "\n" for i in ids).encode()
        os.write(self.fd, data)
        if sync:
            os.fsync(self.fd)

    def close(self) -> None:
        os.close(self.fd)


class RateLimiter:
    """``rate`` acquisitions per second, evenly spaced (no bursts)."""

    def __init__(self, rate: float | None) -> None:
        self.interval = 1.0 / rate if rate else 0.0
        self.next = 0.0

    async def acquire(self) -> None:
        if not self.interval:
            return
        now = time.monotonic()
        slot = max(now, self.next)
        self.next = slot + self.interval
        if slot > now:
            await asyncio.sleep(slot - now)


@dataclass
class Breaker:
    """Consecutive failures per target; open (pausing deliveries) for ``cooldown`` seconds after ``limit``."""

    limit: int
    cooldown: float
    failures: int = 0
    open_until: float = 0.0
    trips: int = 0

    async def wait(self) -> None:
        delay = self.open_until - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)

    def record(self, ok: bool) -> bool:
        """Returns True when this failure trips the breaker."""
        if ok:
            self.failures = 0
            return False
        self.failures += 1
        if self.failures >= self.limit and time.monotonic() >= self.open_until:
            self.open_until = time.monotonic() + self.cooldown
            self.failures = 0
            self.trips += 1
            return True
        return False


@dataclass
class Outcome:
    ok: bool
    error: dict[str, Any] | None = None


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
class Replayer:
    """One replay run over ``backend``; ``emit`` receives per-entry results and notices."""

    backend: Any
    opts: ReplayOptions
    journal: Journal
    settings: Settings
    sink: EventSink | None
    emit: Emit
    #: Raises to stop before the next delivery (a lost Redis lease).
    guard: Callable[[], None] | None = None
    invalid: InvalidEntries = field(default_factory=InvalidEntries)
    clients: dict[tuple[str, str, str], Any] = field(default_factory=dict)
    breakers: dict[str, Breaker] = field(default_factory=dict)
    stats: dict[str, Any] = field(
        default_factory=lambda: {
            "selected": 0,
            "replayed": 0,
            "acknowledged": 0,
            "retried": 0,
            "resumedRemovals": 0,
            "stillDead": {TRANSIENT: 0, PERMANENT: 0},
        }
    )
    acked: list[str] = field(default_factory=list)
    last_flush: float = 0.0

    async def _client(self, transport: Any, entry: dict[str, Any]) -> Any:
        from a2actl.protocol.card import Interface
        from a2actl.protocol.card import Selection as Sel
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
            self.clients[key] = A2AClient(transport, Sel(iface, fam, "the dead letter's target"))
        return self.clients[key]

    async def _deliver(self, transport: Any, entry: dict[str, Any]) -> Outcome:
        request = entry.get("request") or {}
        method, params = request.get("method"), request.get("params")
        if not isinstance(method, str) or not isinstance(params, dict):
            return Outcome(
                False, {"code": None, "message": "entry has no request.method/params", "class": PERMANENT}
            )
        try:
            client = await self._client(transport, entry)
            operation = _operation(client, method)
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
        await self._remove_all(ids)
        self.journal.write(ids, "removed", sync=True)

    async def _remove_all(self, ids: list[str]) -> None:
        """Remove acknowledged entries: one batch where the backend has one (one fsync / one round trip)."""
        if hasattr(self.backend, "remove_many"):
            await self.backend.remove_many(ids)
        else:
            for eid in ids:
                await self.backend.remove(eid)

    async def _one(
        self, transport: Any, entry: dict[str, Any], limiter: RateLimiter, sem: asyncio.Semaphore
    ) -> None:
        target = (entry.get("target") or {}).get("url") or self.opts.to or "?"
        breaker = self.breakers.setdefault(
            target, Breaker(self.opts.breaker_failures, self.opts.breaker_cooldown)
        )
        attempts, outcome = 0, Outcome(False)
        async with sem:
            self.stats["replayed"] += 1
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
                self.stats["retried"] += 1
                cap = min(self.opts.max_backoff, self.opts.backoff * 2 ** (attempts - 1))
                await asyncio.sleep(random.uniform(0, cap))  # full jitter
        eid = str(entry["id"])
        result = {
            "type": "result",
            "id": eid,
            "messageId": message_id(entry),
            "attempts": attempts,
            "status": "acknowledged" if outcome.ok else f"dead-{outcome.error['class']}",  # type: ignore[index]
            "error": outcome.error,
        }
        if outcome.ok:
            self.stats["acknowledged"] += 1
            self.acked.append(eid)
            await self._flush()
        else:
            klass = outcome.error["class"]  # type: ignore[index]
            self.stats["stillDead"][klass] += 1
            await self.backend.update(
                eid, int(entry.get("attempts") or 0) + attempts, {**outcome.error, "at": now_iso()}
            )  # type: ignore[dict-item]
        self.emit(result)

    async def run(self, sel: Selection) -> dict[str, Any]:
        from a2actl.transport.http import HttpTransport

        started = time.perf_counter()
        # Resume: delivered before a crash but not yet removed.
        pending = list(self.journal.pending)
        if pending:
            await self._remove_all(pending)
            self.journal.write(pending, "removed", sync=True)
            self.stats["resumedRemovals"] = len(pending)
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
                    self.stats["selected"] += 1
                    while len(tasks) >= self.opts.max_in_flight * 2:  # bounded: memory stays flat
                        done, tasks = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)  # type: ignore[assignment]
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
        duration = time.perf_counter() - started
        st = self.stats
        still_dead = st["stillDead"][TRANSIENT] + st["stillDead"][PERMANENT]
        out = {
            "type": "summary",
            **st,
            "invalid": self.invalid.to_json(),
            "duration": round(duration, 6),
            "rate": round(st["replayed"] / duration, 1) if duration > 0 else None,
            "breakerTrips": sum(b.trips for b in self.breakers.values()),
            "journal": str(self.journal.path),
            "exitCode": 7 if still_dead or self.invalid.count else 0,
        }
        if getattr(self.backend, "group", None) is not None:
            out["group"] = {
                "name": self.backend.group,
                "consumer": self.backend.consumer,
                "claimed": self.backend.claimed,
            }
        return out


def _operation(client: Any, method: str) -> str:
    """The operation name for a stored method (``SendMessage`` or ``message/send``)."""
    from a2actl.protocol.versions import WIRE_VERSIONS

    for wire in WIRE_VERSIONS.values():
        for op, name in wire.methods.items():
            if name == method or op == method:
                return op
    raise UsageError(f"unknown A2A method {method!r} in a dead letter")
