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

Ctrl-C or SIGTERM (the run's task cancelled) stops it gently, as ``load run``: no delivery attempt
starts after it, those whose request is out get ``INTERRUPT_GRACE`` seconds to be answered (acks
committed as usual), then the rest are cut, and the run returns its result marked ``interrupted``
(``Cut``: what was cut; exit 130). A second cancellation cuts at once.

Delivery runs on the throughput path, ``FastTransport`` (aiohttp + orjson, ``a2actl.transport.fast``),
with a pool of at least ``max_in_flight`` connections: this replayer, same code, 64 in flight into
``bench/dlq_replay.py``'s sink on a busy 2-core machine, spent 2.2 ms of CPU per message over
``HttpTransport`` (300-460 msgs/s) and 0.6 ms over ``FastTransport`` (850-1,480 msgs/s), interleaved.
``Replayer.transport_factory`` is the seam for another ``Transport`` (tests pass ``HttpTransport`` over
an ``httpx.MockTransport``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import random
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from a2actl.core.errors import (
    A2ACtlError,
    AuthError,
    BodyTooLarge,
    HTTPStatusError,
    ProtocolViolation,
    StreamCut,
    TimeoutError_,
    UnreachableError,
    UsageError,
)
from a2actl.core.exit_codes import ExitCode
from a2actl.core.gcpause import quiet_gc
from a2actl.dlq.filter import EntryFilter, IdLookup, select
from a2actl.dlq.journal import Journal
from a2actl.dlq.pacing import Breaker, RateLimiter
from a2actl.dlq.store.base import Backend
from a2actl.dlq.store.entry import (
    PERMANENT,
    TRANSIENT,
    Entry,
    InvalidEntries,
    message_id,
    now_iso,
    register_target_secrets,
    valid_text,
)
from a2actl.dlq.store.redis import RedisBackend
from a2actl.protocol.events import result_state, task_view
from a2actl.protocol.versions import FAILED_STATES
from a2actl.transport.channel import TimedEvent, close_inner

#: Seconds the deliveries in flight get to be answered after Ctrl-C or SIGTERM before they are cut
#: (``load run``'s ``INTERRUPT_GRACE``): well within ``core.deadline``'s stop grace (5 s), which also
#: covers the commit of what they acknowledged. A second Ctrl-C cuts them at once.
INTERRUPT_GRACE = 2.0

#: The longest wait a ``Retry-After`` gets before the next attempt (seconds): an agent asking for an
#: hour would hold a delivery slot for it (a longer one is waited this long, then retried as asked).
RETRY_AFTER_CAP = 60.0

if TYPE_CHECKING:
    from a2actl.agent.connect import AgentClient
    from a2actl.core.config import Settings
    from a2actl.core.sink import EventSink
    from a2actl.transport.base import Transport

#: Receives the replay's records as they happen: ``{"type": "result", …}`` per entry (the JSONL
#: record of docs/output-formats.md), ``{"type": "resume" | "circuit-open", …, "message"}`` notices.
Emit = Callable[[dict[str, Any]], None]
#: Opens the delivery transport: ``(settings, sink, max_connections)`` → an async context manager
#: yielding a ``Transport`` whose pool holds at least ``max_connections`` connections.
TransportFactory = Callable[["Settings", "EventSink | None", int], AbstractAsyncContextManager["Transport"]]


def fast_transport(
    settings: Settings, sink: EventSink | None, max_connections: int
) -> AbstractAsyncContextManager[Transport]:
    """The default ``TransportFactory``: a ``FastTransport`` (aiohttp) with ``max_connections``
    pooled connections."""
    from a2actl.transport.fast import FastTransport

    return FastTransport(settings, sink, max_connections=max_connections)


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
    (``{"code", "message", "class"}``, the entry's ``lastError`` shape). ``sent`` is False for an
    entry that failed here before anything went to the agent (no ``request.method``/``params``, a
    body JSON cannot carry, no ``target.url``: a ``UsageError``): the agent's circuit breaker does
    not count it, so a run of such entries does not pause deliveries to a healthy agent. Whatever
    failed after the request went out is the agent's, and counts: the transports raise a
    ``UsageError`` only before sending (a failure of ``-L`` following the agent's redirect to a URL
    a2actl cannot follow is ``HTTPStatusError`` or ``ProtocolViolation``, as the answer it is)."""

    ok: bool
    error: dict[str, Any] | None = None
    sent: bool = True
    #: Seconds a 429 or 503 asked to wait before the next attempt (``Retry-After``), or ``None``.
    retry_after: float | None = None

    @property
    def error_class(self) -> str:
        """``transient`` or ``permanent`` (a failed outcome always has an error)."""
        return str((self.error or {}).get("class", TRANSIENT))


def classify_exception(exc: A2ACtlError) -> str:
    """Transient: unreachable, timeouts, cuts, HTTP 5xx and 429. Permanent: auth, other 4xx, usage,
    and a 2xx answer over the body limit (``_answered_unread``)."""
    if _answered_unread(exc):
        return PERMANENT
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
class Cut:
    """What Ctrl-C or SIGTERM cut short: ``in_flight`` deliveries still unanswered after the grace
    (``grace`` seconds; 0 after a second Ctrl-C), cancelled (the agent may have received them: their
    entries stay, and the next run delivers them again), and ``waiting`` deliveries that were not
    on the wire (waiting for a retry's backoff, the rate or the breaker: their entries stay, as
    they were)."""

    in_flight: int
    waiting: int
    grace: float


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
    #: The ``--ids`` that name no entry in the source (sorted; nothing was replayed for them).
    not_found: list[str] = field(default_factory=list)
    #: Set when Ctrl-C or SIGTERM stopped the run (``None``: it ran to its end).
    interrupted: Cut | None = None

    @property
    def exit(self) -> ExitCode:
        """130 when Ctrl-C or SIGTERM stopped it; else 1 an ``--ids`` id names no entry in the
        source (what was asked for is not there); else 7 some are still dead or invalid entries were
        skipped; else 0 (docs/exit-codes.md)."""
        if self.interrupted is not None:
            return ExitCode.INTERRUPTED
        if self.not_found:
            return ExitCode.ERROR
        dead = self.counts.still_dead[TRANSIENT] + self.counts.still_dead[PERMANENT]
        return ExitCode.CHECK_FAILED if dead or self.invalid.count else ExitCode.OK

    def to_json(self) -> dict[str, Any]:
        """``{"type": "summary", selected, replayed, acknowledged, retried, resumedRemovals,
        stillDead, invalid, notFound, duration, rate (messages/s), breakerTrips, journal,
        interrupted, exitCode[, group][, cut: {inFlight, waiting, grace}]}``; ``cut`` only when
        ``interrupted``."""
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
            "notFound": self.not_found,
            "duration": round(self.duration, 6),
            "rate": round(c.replayed / self.duration, 1) if self.duration > 0 else None,
            "breakerTrips": self.breaker_trips,
            "journal": self.journal,
            "interrupted": self.interrupted is not None,
            "exitCode": int(self.exit),
        }
        if self.interrupted is not None:
            cut = self.interrupted
            out["cut"] = {"inFlight": cut.in_flight, "waiting": cut.waiting, "grace": cut.grace}
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
    #: Opens the delivery transport (default ``FastTransport``, pool >= ``max_in_flight``).
    transport_factory: TransportFactory = field(default=fast_transport)
    #: Delivers an entry instead of the agent (``dlq replay --to-broker``: the broker the entry died
    #: in, e.g. ``AmqpBackend.republish``): ``None`` when it acknowledged, else the ``lastError``
    #: dict (``{"code", "message", "class"}``). The rest of the replay (journal, rate, in-flight,
    #: retries, breaker, lock) is unchanged.
    redeliver: Callable[[Entry], Awaitable[dict[str, Any] | None]] | None = None
    invalid: InvalidEntries = field(default_factory=InvalidEntries)
    #: Which of the selection's ``--ids`` the source holds (``ReplayResult.not_found``).
    lookup: IdLookup = field(default_factory=IdLookup)
    #: Clients by (url, binding, version, tenant): ``--to`` is ``(URL, "", "", None)``.
    clients: dict[tuple[str, str, str, str | None], AgentClient] = field(default_factory=dict)
    #: The same clients by the entry's ``target`` fields as stored (no normalising per entry).
    _by_target: dict[tuple[Any, ...], AgentClient] = field(default_factory=dict, repr=False)
    breakers: dict[str, Breaker] = field(default_factory=dict)
    counts: ReplayCounts = field(default_factory=ReplayCounts)
    acked: list[str] = field(default_factory=list)
    last_flush: float = 0.0
    #: The one thread that writes (and fsyncs) the journal while ``run`` runs (``_flush``).
    _journaller: ThreadPoolExecutor | None = field(default=None, repr=False)
    #: Commits running as their own tasks (``_commit_shielded``).
    _flushes: set[asyncio.Task[None]] = field(default_factory=set, repr=False)
    #: The commit task created and not yet started, which a due batch joins.
    _queued_flush: asyncio.Task[None] | None = field(default=None, repr=False)
    #: Masks the secrets in the ``lastError`` written back (``_stored_error``); made on first use.
    _redactor: Callable[[str], str] | None = field(default=None, repr=False)
    #: Set by Ctrl-C or SIGTERM (``_wind_down``): no delivery attempt is started after it.
    stopping: bool = False
    #: Where each delivery task is (``_one``): ``"waiting"`` (for the breaker, the rate or a retry's
    #: backoff: nothing on the wire), ``"sending"`` (its request is out), ``"answered"`` (recording
    #: the outcome); a task not in it has not started.
    _stage: dict[asyncio.Task[Any], str] = field(default_factory=dict, repr=False)

    async def _client(self, transport: Transport, entry: Entry) -> AgentClient:
        """The client for ``--to`` (discovered once; a gRPC interface with ``--binding GRPC`` or a
        gRPC-first card) or the entry's stored target (its binding, GRPC included, protocol version
        and tenant as stored; no discovery). Raises ``UsageError`` for an entry
        without ``target.url`` (no ``--to``) or whose ``protocolBinding`` or ``protocolVersion`` a2actl
        does not speak (nothing is sent; the entry stays), and what discovery raises for ``--to``."""
        target = entry.get("target") or {}
        if not self.opts.to and isinstance(target, dict):
            raw = (
                target.get("url"),
                target.get("protocolBinding"),
                target.get("protocolVersion"),
                target.get("tenant"),
            )
            try:
                return self._by_target[raw]
            except (KeyError, TypeError):  # TypeError: a non-scalar field, not cached
                pass
            client = await self._new_client(transport, entry, target)
            with contextlib.suppress(TypeError):
                self._by_target[raw] = client
            return client
        if self.opts.to and (known := self.clients.get((self.opts.to, "", "", None))) is not None:
            return known
        return await self._new_client(transport, entry, target)

    async def _new_client(self, transport: Transport, entry: Entry, target: Any) -> AgentClient:
        from a2actl.protocol.card import Interface
        from a2actl.protocol.negotiation import Selection
        from a2actl.protocol.versions import STANDARD_BINDINGS, family_of, normalise_binding

        if self.opts.to:
            key: tuple[str, str, str, str | None] = (self.opts.to, "", "", None)
            if key not in self.clients:
                from a2actl.agent.connect import connect_channel

                self.clients[key] = await connect_channel(self.opts.to, self.settings, transport)
            return self.clients[key]
        url = target.get("url") if isinstance(target, dict) else None
        if not isinstance(url, str) or not url:
            raise UsageError(f"entry {entry.get('id')} has no target.url; give --to URL")
        register_target_secrets(entry)  # its password is masked in every output (errors name the URL)
        stored = target.get("protocolBinding") or "JSONRPC"
        binding = normalise_binding(str(stored))
        version = str(target.get("protocolVersion") or "1.0")
        fam = family_of(version)
        # a binding or version a2actl does not speak is not guessed (it was sent as JSON-RPC 1.0:
        # the message to the wrong protocol): the entry stays, its lastError saying why (nothing sent)
        if binding not in STANDARD_BINDINGS:
            raise UsageError(
                f"entry {entry.get('id')}: target.protocolBinding {str(stored)[:80]!r} is no binding "
                f"a2actl speaks ({', '.join(STANDARD_BINDINGS)}); replay it with --to URL (the agent's card)"
            )
        if fam is None:
            raise UsageError(
                f"entry {entry.get('id')}: target.protocolVersion {version[:40]!r} is no A2A version "
                "a2actl speaks (0.2, 0.3, 1.x); replay it with --to URL (the agent's card)"
            )
        tenant = target.get("tenant")
        key = (url, binding, version, tenant if isinstance(tenant, str) else None)
        if key not in self.clients:
            from a2actl.transport.a2a import A2AClient

            iface = Interface(
                url=url,
                protocol_binding=binding,
                protocol_version=version,
                family=fam,
                source="dlq entry",
                tenant=key[3],
            )
            selection = Selection(iface, fam, "the dead letter's target")
            if binding == "GRPC":
                from a2actl.agent.connect import GRPC_INSTALL, grpc_available

                if not grpc_available():
                    raise UsageError(
                        f"entry {entry.get('id')} targets a gRPC interface, which needs the gRPC extra "
                        f"({GRPC_INSTALL})",
                        hint=GRPC_INSTALL,
                    )
                from a2actl.transport.grpc import GrpcClient

                self.clients[key] = GrpcClient(transport, selection)
            else:
                self.clients[key] = A2AClient(transport, selection)
        return self.clients[key]

    async def _close_clients(self) -> None:
        """Close the gRPC channels the replay opened (HTTP clients share the transport)."""
        from a2actl.agent.connect import close_client

        for client in list(self.clients.values()):
            with contextlib.suppress(Exception):
                await close_client(client)

    async def _deliver(self, transport: Transport, entry: Entry) -> Outcome:
        if self.redeliver is not None:
            error = await self.redeliver(entry)
            return Outcome(error is None, error)
        request = entry.get("request") or {}
        method, params = request.get("method"), request.get("params")
        if not isinstance(method, str) or not isinstance(params, dict):
            return Outcome(
                False,
                {"code": None, "message": "entry has no request.method/params", "class": PERMANENT},
                sent=False,
            )
        try:
            client = await self._client(transport, entry)
            operation = _operation(method)
            if operation in _STREAMING:
                return await self._streamed(client, operation, method, params)
            out = await client.call(operation, params)
        except A2ACtlError as exc:
            return _raised(exc)
        if out.error is None:
            # a failed task is the agent refusing the message; a CancelTask answered with the task
            # canceled (or a GetTask with a task that ended failed) did what was asked: the ack
            return self._answered(out.result) if operation in _SENDS else Outcome(True)
        return _refused(out)

    async def _streamed(
        self, client: AgentClient, operation: str, method: str, params: dict[str, Any]
    ) -> Outcome:
        """Deliver a streaming operation (``SendStreamingMessage`` / ``message/stream``,
        ``SubscribeToTask``) as ``stream tail`` does (``client.stream``: SSE, gRPC or WebSocket) and
        decide on its first event, as for a send's answer: a task (or status update) that already
        ended ``failed``/``rejected``/``canceled`` keeps the entry dead (permanent), anything else
        is the ack (a streamed task is still ``submitted`` or ``working`` then, as a non-blocking
        send's; the agent goes on with it when the stream is closed). An error answer is the error
        it is. A stream that ends before its first event, or sends nothing but comments for
        ``--timeout``, is a transient failure; a first event that is not an A2A stream event, or
        is over ``--max-event-bytes``, a permanent one. It was retried as a "body that is not JSON"
        (the agent's SSE read as a unary answer), and each retry was one more delivery. Raises the
        transport's errors (``_deliver`` classes them)."""
        stream = client.stream(operation, params)
        try:
            while True:
                try:
                    item = await asyncio.wait_for(stream.__anext__(), self.settings.read_timeout)
                except StopAsyncIteration:
                    return Outcome(
                        False,
                        {
                            "code": None,
                            "message": f"{method}: the stream ended before its first event",
                            "class": TRANSIENT,
                        },
                    )
                except asyncio.TimeoutError as exc:
                    raise TimeoutError_(
                        f"{method}: no stream event within --timeout {self.settings.read_timeout:g}s"
                    ) from exc
                if isinstance(item, TimedEvent):
                    return self._first_event(operation, method, item)
                if getattr(item, "error", None) is not None:
                    return _refused(item)
        finally:
            with contextlib.suppress(Exception):
                await close_inner(stream)

    def _first_event(self, operation: str, method: str, item: TimedEvent) -> Outcome:
        """``_streamed``'s decision on the stream's first event."""
        ev = item.event
        if item.truncated or ev.kind in ("oversize", "unknown"):
            what = (
                f"is over --max-event-bytes ({item.size:,} bytes)"
                if item.truncated
                else "is not an A2A stream event (a task, message, status or artifact update)"
            )
            return Outcome(
                False,
                {"code": None, "message": f"{method}: the stream's first event {what}", "class": PERMANENT},
            )
        if operation not in _SENDS or ev.state not in FAILED_STATES:
            return Outcome(True)
        return _failed_task(ev.task_id, ev.state, task_view(ev.payload).get("statusMessage"))

    @staticmethod
    def _answered(result: Any) -> Outcome:
        """The outcome of a send answered without an error: the ack, unless it is a task that already
        ended ``failed``, ``rejected`` or ``canceled`` (``FAILED_STATES``, A2A spec v1.0 §4.1.3
        TaskState). The agent took the message but did not do it: the entry stays dead (permanent:
        a retry in this run would only fail again, or an idempotent agent would answer the same
        task), with the task's id, state and status text as ``lastError``. A task still
        ``submitted``/``working`` (a non-blocking send), ``input-required`` or a message is the ack."""
        _, task_id, state = result_state(result)
        if state not in FAILED_STATES:
            return Outcome(True)
        return _failed_task(task_id, state, task_view(result).get("statusMessage"))

    def _due(self, force: bool = False) -> bool:
        """Whether the acknowledged batch is to be committed now (``batch`` ids or ``batch_interval``
        seconds since the last commit; ``force``: whatever there is)."""
        return bool(self.acked) and (
            force
            or len(self.acked) >= self.opts.batch
            or time.monotonic() - self.last_flush >= self.opts.batch_interval
        )

    async def _commit_shielded(self) -> None:
        """``_flush`` as its own task, awaited but not cancelled with the delivery that started it:
        a stopped run waits for it (``run``) instead of leaving a batch half committed.

        Deliveries that find the batch due before that task has started join it instead of starting
        another: it takes every id acknowledged until it starts, theirs included. (Answers arrive in
        bursts; each of a burst found the batch due and started its own commit task, ~0.9 per
        message, all but one finding nothing left to commit.)"""
        task = self._queued_flush
        if task is None:
            task = self._queued_flush = asyncio.ensure_future(self._queued())
            self._flushes.add(task)
            task.add_done_callback(self._flushes.discard)
        await asyncio.shield(task)

    async def _queued(self) -> None:
        self._queued_flush = None  # started: what is acknowledged from now on waits for the next one
        await self._flush()

    async def _flush(self, force: bool = False) -> None:
        """Commit the acknowledged batch: journal ``delivered``, remove, journal ``removed`` (fsync).

        The journal's writes and ``fsync`` run on the replay's one journal thread, not on the event
        loop, where an ``fsync`` (1-6 ms on this machine) stalled every request in flight. One thread
        keeps the journal's order; batches committed concurrently only interleave lines of different
        ids. ``run`` waits for the thread before it returns, also when cancelled, so nothing is
        written after the journal is closed. (A file source's tombstone append and its ``fsync`` stay
        on the loop: the source is read on the loop at the same time, and a read racing an append
        could see a torn line.)"""
        if not self._due(force):
            return
        ids, self.acked = self.acked, []
        self.last_flush = time.monotonic()
        await self._journal(ids, "delivered", sync=False)
        await self.backend.remove_many(ids)
        await self._journal(ids, "removed", sync=True)

    async def _journal(self, ids: list[str], event: str, sync: bool) -> None:
        """``Journal.write`` on the journal thread (inline when ``run`` has not started it)."""
        if self._journaller is None:
            self.journal.write(ids, event, sync)
            return
        await asyncio.wrap_future(self._journaller.submit(self.journal.write, ids, event, sync))

    async def _one(
        self, transport: Transport, entry: Entry, limiter: RateLimiter, release: Callable[[], None]
    ) -> None:
        """Deliver ``entry`` (retries included) in the delivery slot ``_deliver_all`` took for it,
        ``release`` it, then acknowledge or record the failure."""
        # where the delivery goes: --to when given (the breaker guards that agent, and its notice names it)
        target = self.opts.to or (entry.get("target") or {}).get("url") or "?"
        breaker = self.breakers.get(target)
        if breaker is None:
            breaker = self.breakers[target] = Breaker(self.opts.breaker_failures, self.opts.breaker_cooldown)
        attempts, outcome = 0, Outcome(False)
        stage, me = self._stage, asyncio.current_task()
        assert me is not None  # _deliver_all runs each delivery as a task
        try:
            while True:
                stage[me] = "waiting"
                await breaker.wait()
                await limiter.acquire()
                if self.guard is not None:
                    self.guard()
                attempts += 1
                if attempts == 1:  # counted when it goes out: Ctrl-C may cut it before
                    self.counts.replayed += 1
                stage[me] = "sending"
                outcome = await self._deliver(transport, entry)
                stage[me] = "answered"
                if outcome.error is not None:
                    # an agent's text may hold a lone surrogate (the stdlib read "\ud800"): as U+FFFD,
                    # so the result can be printed (-o json raised UnicodeEncodeError) and stored
                    outcome.error = valid_text(outcome.error)
                if outcome.sent and breaker.record(outcome.ok):
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
                    or self.stopping  # Ctrl-C: no retry; the failure is recorded as it stands
                ):
                    break
                self.counts.retried += 1
                cap = min(self.opts.max_backoff, self.opts.backoff * 2 ** (attempts - 1))
                delay = random.uniform(0, cap)  # full jitter
                if outcome.retry_after is not None:
                    # a 429/503 that says when to come back (Retry-After, RFC 9110 §10.2.3): at least
                    # that long, up to RETRY_AFTER_CAP (a retry within the jitter's 0.2 s was refused
                    # again, and three attempts in 0.4 s left the entry dead)
                    delay = max(delay, min(outcome.retry_after, RETRY_AFTER_CAP))
                stage[me] = "waiting"
                await asyncio.sleep(delay)
        finally:
            release()
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
            # reported before the commit is awaited: a stop (Ctrl-C, SIGTERM) cancels this wait, not
            # the shielded commit, which removes the entry all the same
            self.emit(result)
            if self._due():
                await self._commit_shielded()
            return
        self.counts.still_dead[outcome.error_class] += 1
        await self.backend.update(
            eid, int(entry.get("attempts") or 0) + attempts, self._stored_error(outcome)
        )
        self.emit(result)

    def _stored_error(self, outcome: Outcome) -> dict[str, Any]:
        """The ``lastError`` written to the source for a failed ``outcome``, stamped ``at``, its
        message with every known secret masked (the token, secret ``-H`` values, URL credentials): an
        agent or proxy that echoes the request (``500 … you sent Bearer …``) must not put them in the
        queue, where ``dlq list`` of another run (without those secrets) would print them."""
        error = {**(outcome.error or {}), "at": now_iso()}
        if isinstance(error.get("message"), str):
            redact = self._redactor
            if redact is None:  # one per run: it rebuilds its needles only when the registry grows
                from a2actl.core.redact import Redactor

                redact = self._redactor = Redactor(self.settings.secrets())
            error["message"] = redact(error["message"])
        return error

    async def run(self, sel: EntryFilter) -> ReplayResult:
        """Finish the removals a crashed run journalled, then deliver every selected entry. Raises
        what stops the run (a lost lease ``LeaseLost``, the source gone); acknowledged entries are
        removed first."""
        # Built (aiohttp imported, ~0.3 s) before the clock starts: the rate is the replay's.
        transport = self.transport_factory(self.settings, self.sink, max(1, self.opts.max_in_flight))
        started = time.perf_counter()
        # Resume: delivered before a crash but not yet removed; what a run on another source
        # identity delivered (the file was rotated or replaced since) is not removed: an entry with
        # such an id now is another one, never delivered (it was tombstoned unseen)
        pending, stale = self.journal.resumable()
        if stale:
            self.journal.write(stale, "stale", sync=True)
            self.emit(
                {
                    "type": "resume",
                    "removed": 0,
                    "message": f"not resumed: {len(stale)} entr(y/ies) delivered before the last run "
                    "stopped, from another file at this path (rotated, replaced or truncated): delivered again "
                    "if still there",
                }
            )
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
        self._journaller = ThreadPoolExecutor(max_workers=1, thread_name_prefix="a2actl-dlq-journal")
        try:
            # fewer collector passes (as load run and fleet probe): ~7% of the CPU instructions a
            # replayed message costs went to the collector walking the requests in flight
            with quiet_gc():
                return await self._deliver_all(transport, sel, started)
        finally:
            for t in self._flushes:  # only left over when the run itself was cancelled
                t.cancel()
            # Synchronous on purpose: a cancelled run must not leave a commit writing to the journal
            # after the caller closes it (a re-cancel cannot interrupt this wait).
            self._journaller.shutdown(wait=True)
            self._journaller = None
            await self._close_clients()

    async def _deliver_all(
        self, opened: AbstractAsyncContextManager[Transport], sel: EntryFilter, started: float
    ) -> ReplayResult:
        """Read the selected entries and deliver each in its own task, at most ``max_in_flight`` at
        once: an entry is read when a delivery slot is free (so memory stays flat), and its task
        holds the slot while it delivers (retries and their backoff included). A slot is a counter
        and one wake-up future, not an ``asyncio.Semaphore`` with a queue of waiting tasks and an
        ``asyncio.wait`` over all of them (measured: ~2x the event-loop work per message)."""
        limiter = RateLimiter(self.opts.rate)
        loop = asyncio.get_running_loop()
        free = max(1, self.opts.max_in_flight)  # delivery slots
        tasks: set[asyncio.Task[None]] = set()
        failed: list[asyncio.Task[None]] = []
        wake: asyncio.Future[None] | None = None

        def nudge() -> None:
            if wake is not None and not wake.done():
                wake.set_result(None)

        def release() -> None:
            nonlocal free
            free += 1
            nudge()

        def ended(task: asyncio.Task[None]) -> None:
            tasks.discard(task)
            self._stage.pop(task, None)
            if not task.cancelled() and task.exception() is not None:
                failed.append(task)
                nudge()  # surface it now, not after the next free slot

        cut: Cut | None = None
        async with opened as transport:
            try:
                async for entry in select(self.backend, sel, self.invalid, replay=True, lookup=self.lookup):
                    self.counts.selected += 1
                    while free <= 0 and not failed:
                        wake = loop.create_future()
                        await wake
                    if failed:
                        failed[0].result()  # an unexpected error, or a lost lease: raise it now
                    free -= 1
                    task = loop.create_task(self._one(transport, entry, limiter, release))
                    tasks.add(task)
                    task.add_done_callback(ended)
                while tasks and not failed:
                    # not gather: Ctrl-C cancelling it would cancel every delivery under it at once
                    await asyncio.wait(list(tasks), return_when=asyncio.FIRST_EXCEPTION)
                if failed:
                    failed[0].result()
            except asyncio.CancelledError:
                # Ctrl-C or SIGTERM: start nothing more, give the deliveries on the wire their grace,
                # commit what the agent acknowledged, and return what happened (exit 130)
                _handled()
                cut = await self._wind_down(list(tasks))
                for t in failed:  # retrieved: an error while stopping is not the outcome
                    t.exception()
                await asyncio.gather(*self._flushes)
                await self._flush(force=True)
            except BaseException:
                # Stopped (a lost lease, the source went away, a second Ctrl-C, an unexpected error
                # in one delivery): keep what the agent acknowledged. An ack waiting for its batch to
                # be due (it was already reported `acknowledged`) is committed now, not delivered
                # again next run.
                for t in tasks:
                    t.cancel()
                await asyncio.gather(*tasks, *self._flushes, return_exceptions=True)
                with contextlib.suppress(A2ACtlError):
                    await self._flush(force=True)
                raise
            else:
                await asyncio.gather(*self._flushes)
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
            not_found=self.lookup.not_found(sel),
            interrupted=cut,
        )

    async def _wind_down(self, tasks: list[asyncio.Task[None]]) -> Cut:
        """Ctrl-C or SIGTERM stopped the run: no delivery attempt starts after it (``stopping``; a
        retry is not made, the failure is recorded as it stands). Deliveries with nothing on the
        wire (waiting for the breaker, the rate or a retry's backoff, or not started) are cancelled
        now; those whose request is out get ``INTERRUPT_GRACE`` seconds to be answered (an ack is
        committed as usual, a failure recorded), then are cancelled. A second cancellation (a
        second Ctrl-C) ends the grace at once. Returns what was cut."""
        self.stopping = True
        stage = self._stage
        idle = [t for t in tasks if not t.done() and stage.get(t, "waiting") == "waiting"]
        for t in idle:
            t.cancel()
        busy = [t for t in tasks if not t.done() and stage.get(t, "waiting") != "waiting"]
        grace = INTERRUPT_GRACE
        if busy:
            loop = asyncio.get_running_loop()
            began = loop.time()
            try:
                await asyncio.wait(busy, timeout=INTERRUPT_GRACE)
            except asyncio.CancelledError:  # a second Ctrl-C: at once
                _handled()
                grace = round(loop.time() - began, 3)
        # a second Ctrl-C cancelled every task at once (asyncio.run's KeyboardInterrupt): those it
        # cut are done by now, cancelled, their stage forgotten (``ended``); they were on the wire
        in_flight = sum(
            1 for t in busy if (not t.done() or t.cancelled()) and stage.get(t, "sending") == "sending"
        )
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        return Cut(in_flight, len(idle), grace)


#: The operations whose answer with a task that ended failed/rejected/canceled is no ack (``_answered``).
_SENDS = frozenset({"SendMessage", "SendStreamingMessage"})
#: The operations answered with a stream (SSE over HTTP), delivered by ``Replayer._streamed``.
_STREAMING = frozenset({"SendStreamingMessage", "SubscribeToTask"})


def _handled() -> None:
    """Take back the cancellation of the current task that was just caught (Python 3.11+'s
    ``Task.uncancel``; nothing on 3.10): the run stopped as Ctrl-C asks, and returns its result."""
    task = asyncio.current_task()
    uncancel = getattr(task, "uncancel", None)
    if uncancel is not None:
        uncancel()


def _answered_unread(exc: A2ACtlError) -> bool:
    """Whether ``exc`` is an answer with a 2xx status whose body is over the limit (``BodyTooLarge``)
    or cannot be read as an answer (a ``ProtocolViolation`` with that ``answer_status``: not JSON,
    not UTF-8, not a JSON-RPC envelope, not the operation's shape, not SSE; ``A2AClient`` sets it): the agent took the message, but whether it did it cannot be read. A retry would
    deliver it again and most likely get the same answer (a proxy's or login page's 200 as well),
    so it is permanent: not retried, left dead for the operator, as a streamed send's oversize or
    malformed first event is. A cut (``StreamCut``) is not an answer."""
    status = _answer_status(exc)
    return status is not None and 200 <= status < 300


def _answer_status(exc: A2ACtlError) -> int | None:
    """The HTTP status of the answer ``exc`` could not read (``BodyTooLarge.status``,
    ``ProtocolViolation.answer_status``); ``None`` for a cut or when no answer came."""
    if isinstance(exc, BodyTooLarge):
        return exc.status
    if isinstance(exc, ProtocolViolation) and not isinstance(exc, StreamCut):
        return exc.answer_status
    return None


def _raised(exc: A2ACtlError) -> Outcome:
    """The failed outcome of a delivery that raised (its HTTP status as ``code`` when it has one)."""
    message = exc.message
    if _answered_unread(exc):
        message += (
            f" (an HTTP {getattr(exc, 'status', '2xx')} answer: the agent took the message, but its answer "
            "cannot be read; not retried, a retry delivers it again)"
        )
    return Outcome(
        False,
        {
            "code": exc.details["httpStatus"] if "httpStatus" in exc.details else _answer_status(exc),
            "message": message,
            "class": classify_exception(exc),
        },
        sent=not isinstance(exc, UsageError),  # a bad URL, a body JSON cannot carry: nothing was sent
        retry_after=exc.details.get("retryAfter"),
    )


def _refused(out: Any) -> Outcome:
    """The failed outcome of an A2A error answer (``out.error``, a ``DecodedError``); an HTTP+JSON
    429/503 answer's ``Retry-After`` in ``retry_after``."""
    from a2actl.transport.a2a import retry_after

    klass = TRANSIENT if out.error.error_class == TRANSIENT else PERMANENT
    http = getattr(out, "http", None)
    # an error without a JSON-RPC code (an HTTP+JSON answer in no known shape) keeps its HTTP status
    code = out.error.code if out.error.code is not None else getattr(http, "status", None)
    return Outcome(
        False,
        {"code": code, "message": f"{out.error.name}: {out.error.message}", "class": klass},
        retry_after=retry_after(http) if http is not None else None,
    )


def _failed_task(task_id: Any, state: str, why: Any) -> Outcome:
    """A send answered with a task that ended ``state`` (one of ``FAILED_STATES``): dead, permanent."""
    return Outcome(
        False,
        {
            "code": None,
            "message": f"task {task_id} {state}" + (f": {str(why)[:200]}" if why else ""),
            "class": PERMANENT,
            "state": state,
        },
    )


@functools.lru_cache(maxsize=64)
def _operation(method: str) -> str:
    """The operation name for a stored method (``SendMessage`` or ``message/send``). Raises
    ``UsageError`` for a method no supported A2A version has."""
    from a2actl.protocol.versions import WIRE_VERSIONS

    for wire in WIRE_VERSIONS.values():
        for op, name in wire.methods.items():
            if name == method or op == method:
                return op
    raise UsageError(f"unknown A2A method {method!r} in a dead letter")
