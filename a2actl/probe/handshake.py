"""The handshake probe: card fetch, parse, negotiation, optional session handshake, first RPC and
optional real send, each timed, over N samples with concurrency C.

Phases (durations in seconds, non-overlapping, in this order; see ``PHASES``):

=============  ==============================================================================
``dns``        name resolution (curl ``time_namelookup``)
``connect``    TCP connect (curl ``time_connect - time_namelookup``)
``tls``        TLS handshake (curl ``time_appconnect - time_connect``)
``ttfb``       card request sent → first response byte (server processing)
``transfer``   card first byte → last byte
``parse``      card JSON decode and normalisation
``negotiate``  interface and version selection
``session``    ``--handshake-path`` POST round trip (seed 001's explicit session handshake)
``rpc``        first RPC: GetTask / ``tasks/get`` on a random id; TaskNotFound (-32001) means healthy,
               proving routing, version and auth without side effects. Timed on the wire: request
               sent → answer's last byte (curl ``time_total`` on the reused connection); the wall
               time, with the client's own encoding and decoding, is ``rpc.wallSeconds``
``first_event`` ``--send``: request → first event (streaming) or the answer (blocking)
``terminal``   ``--send``: request → terminal or interrupted state
=============  ==============================================================================

Each sample also keeps the card request's curl-style cumulative timings (``time_namelookup`` …
``time_total``) and its size (``cardBytes``: on the wire and decoded, with the content coding).
Timings come from ``a2actl.transport.http`` (httpx ``trace`` extension).

The card is fetched once per sample: discovery's fetch (a new connection) is the first warmup's or,
with ``-c 1``, the first sample's card phase, so an agent whose card takes 8 s is probed in 8 s, not
16. With ``-c N --warmup 0`` discovery is fetched apart, so that no timed sample ran uncontended; with
``--reuse`` it is the request that opens the shared connection, and every sample times the warm path.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from a2actl.agent.discovery import CardFetch, Target, decode_card, fetch_card
from a2actl.core.config import Settings
from a2actl.core.errors import (
    A2ACtlError,
    HTTPStatusError,
    ProtocolViolation,
    UsageError,
)
from a2actl.core.exit_codes import ExitCode
from a2actl.core.redact import redact_json
from a2actl.core.sink import EventSink, NullSink
from a2actl.core.stats import histogram, summarize
from a2actl.protocol.card import NegotiationFailed, Selection, select_interface
from a2actl.protocol.events import classify_event, text_message_params
from a2actl.protocol.versions import Family, StateKind, state_kind

PHASES = (
    "dns",
    "connect",
    "tls",
    "ttfb",
    "transfer",
    "parse",
    "negotiate",
    "session",
    "rpc",
    "first_event",
    "terminal",
)
CARD_PHASES = ("dns", "connect", "tls", "ttfb", "transfer")
CURL_NAMES = (
    "time_namelookup",
    "time_connect",
    "time_appconnect",
    "time_pretransfer",
    "time_starttransfer",
    "time_total",
)
PHASE_LABELS = {
    "dns": "DNS lookup",
    "connect": "TCP connect",
    "tls": "TLS handshake",
    "ttfb": "card TTFB",
    "transfer": "card transfer",
    "parse": "card parse",
    "negotiate": "negotiation",
    "session": "session handshake",
    "rpc": "first RPC",
    "first_event": "send: first event",
    "terminal": "send: terminal state",
    "card": "card total",
    "total": "total",
}
#: Failure classes, most severe first (ties in counts resolve to the earlier one).
FAILURE_ORDER = ("unreachable", "auth", "timeout", "protocol", "a2a_error", "http_status", "error")
_CLASS_EXIT = {
    "unreachable": ExitCode.UNREACHABLE,
    "auth": ExitCode.AUTH,
    "timeout": ExitCode.TIMEOUT,
    "protocol": ExitCode.PROTOCOL,
    "a2a_error": ExitCode.ERROR,
    "http_status": ExitCode.ERROR,
    "error": ExitCode.ERROR,
    "usage": ExitCode.USAGE,
}


@dataclass(frozen=True)
class Budget:
    """A latency bound on a metric's p99 (seconds). ``metric`` is a phase, ``card`` (the whole card
    fetch), ``total`` or a curl name (cumulative, card request)."""

    metric: str
    limit: float


def parse_budgets(specs: list[str]) -> list[Budget]:
    """Parse ``--budget`` values: ``5s`` (total), ``rpc=2s``, ``ttfb=300ms,rpc=1s``.

    Raises ``ValueError`` naming the bad item.
    """
    from a2actl.core.units import parse_duration

    out: list[Budget] = []
    allowed = set(PHASES) | {"card", "total"} | set(CURL_NAMES)
    for spec in specs:
        for item in (s.strip() for s in spec.split(",")):
            if not item:
                continue
            name, sep, value = item.partition("=")
            metric, raw = (name.strip(), value) if sep else ("total", item)
            if metric not in allowed:
                raise ValueError(f"unknown budget phase {metric!r}; use one of: {', '.join(sorted(allowed))}")
            out.append(Budget(metric, parse_duration(raw)))
    return out


@dataclass(frozen=True)
class ProbeOptions:
    """What to probe and how. ``samples`` counted after ``warmup``; ``reuse``: one connection pool
    for all samples (warm path) instead of new connections per sample."""

    target: Target
    card_path: str | None = None
    samples: int = 1
    concurrency: int = 1
    warmup: int = 0
    reuse: bool = False
    send_text: str | None = None
    handshake_path: str | None = None
    budgets: tuple[Budget, ...] = ()


@dataclass
class Sample:
    """One timed handshake. ``phases`` durations and ``curl`` cumulative timings are seconds; on
    failure ``error`` is the ``{"error": ...}`` object's inner dict and ``failed_phase`` where it broke."""

    index: int
    ok: bool = False
    phases: dict[str, float] = field(default_factory=dict)
    curl: dict[str, Any] = field(default_factory=dict)
    card_bytes: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    error_class: str | None = None
    failed_phase: str | None = None
    rpc: dict[str, Any] | None = None
    send: dict[str, Any] | None = None
    session: dict[str, Any] | None = None
    negotiated: dict[str, Any] | None = None

    @property
    def total(self) -> float:
        return sum(self.phases.values())

    def metric(self, name: str) -> float | None:
        if name == "total":
            return self.total
        if name == "card":
            return sum(self.phases.get(p, 0.0) for p in CARD_PHASES)
        if name in CURL_NAMES:
            v = self.curl.get(name)
            return float(v) if isinstance(v, (int, float)) else None
        return self.phases.get(name)

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "ok": self.ok,
            "total": self.total,
            "phases": self.phases,
            "curl": self.curl,
            "cardBytes": self.card_bytes,
            "failedPhase": self.failed_phase,
            "error": self.error,
            "errorClass": self.error_class,
            "rpc": self.rpc,
            "send": self.send,
            "session": self.session,
            "negotiated": self.negotiated,
        }


@dataclass
class ProbeReport:
    """The result of a probe. ``exit_code()`` is what the CLI exits with."""

    trace_id: str
    target: str
    card_url: str
    discovery_notes: list[str]
    card_shape: str
    declared_versions: list[str]
    selection: Selection
    samples: list[Sample]
    warmup: int
    options: ProbeOptions
    version_check: dict[str, Any] | None = None
    budget_violations: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok_samples(self) -> list[Sample]:
        return [s for s in self.samples if s.ok]

    def failures(self) -> dict[str, int]:
        counts = Counter(s.error_class for s in self.samples if not s.ok and s.error_class)
        return {k: counts.get(k, 0) for k in FAILURE_ORDER if counts.get(k)}

    def phases_present(self) -> list[str]:
        seen = {p for s in self.samples for p in s.phases}
        return [p for p in PHASES if p in seen]

    def stats(self) -> dict[str, dict[str, Any]]:
        """Per phase (and ``card``, ``total``): min/p50/p90/p99/max over successful samples."""
        ok = self.ok_samples
        out = {p: summarize([s.phases[p] for s in ok if p in s.phases]) for p in self.phases_present()}
        out["card"] = summarize([s.metric("card") or 0.0 for s in ok])
        out["total"] = summarize([s.total for s in ok])
        return out

    def exit_code(self) -> ExitCode:
        fails = self.failures()
        if fails:
            dominant = max(fails, key=lambda k: (fails[k], -FAILURE_ORDER.index(k)))
            return _CLASS_EXIT.get(dominant, ExitCode.ERROR)
        if self.budget_violations:
            return ExitCode.CHECK_FAILED
        return ExitCode.OK

    def to_json(self) -> dict[str, Any]:
        return {
            "traceId": self.trace_id,
            "target": self.target,
            "cardUrl": self.card_url,
            "discovery": {"notes": self.discovery_notes},
            "card": {"shape": self.card_shape, "declaredVersions": self.declared_versions},
            "negotiation": self.selection.to_json(),
            "versionCheck": self.version_check,
            "options": {
                "samples": self.options.samples,
                "concurrency": self.options.concurrency,
                "warmup": self.warmup,
                "reuse": self.options.reuse,
                "send": self.options.send_text is not None,
                "handshakePath": self.options.handshake_path,
            },
            "units": "seconds",
            "samples": [s.to_json() for s in self.samples],
            "stats": self.stats(),
            "histogram": histogram([s.total for s in self.ok_samples]),
            "failures": self.failures(),
            "budget": {
                "limits": [{"metric": b.metric, "limit": b.limit} for b in self.options.budgets],
                "violations": self.budget_violations,
                "ok": not self.budget_violations,
            },
            "exitCode": int(self.exit_code()),
        }


def _error_class(err: A2ACtlError) -> str:
    """The failure class of a sample: the error's own code when it is a class, else the class of its
    exit code (``no_such_route`` and ``stream_cut`` are protocol violations: exit 6)."""
    if err.code in _CLASS_EXIT:
        return err.code
    by_exit = {code: name for name, code in _CLASS_EXIT.items() if name != "error"}
    return by_exit.get(err.exit_code, "error")


def _session_url(card_url: str, path: str) -> str:
    p = urlsplit(card_url)
    return urlunsplit((p.scheme, p.netloc, path if path.startswith("/") else "/" + path, "", ""))


async def _run_send(client: Any, view_streaming: bool, text: str, sample: Sample) -> None:
    """``--send``: a real SendMessage; fills ``first_event``/``terminal`` and ``sample.send``."""
    params = text_message_params(
        text, client.family, client.binding, tenant=client.selection.interface.tenant
    )
    t0 = time.perf_counter()
    if view_streaming:
        events = 0
        state = None
        final = False
        sample.failed_phase = "first_event"
        async for item in client.stream("SendStreamingMessage", params):
            if not hasattr(item, "event"):
                raise item.error.to_exception(f"{item.method} failed")
            events += 1
            if events == 1:
                sample.phases["first_event"] = time.perf_counter() - t0
                sample.failed_phase = "terminal"
            ev = item.event
            state = ev.state or state
            # classify_event applies the family's end rule (0.3 `final`, 1.0 terminal/interrupted state,
            # a bare Message); also accept a 0.3 server that reaches a terminal state without `final`.
            if ev.final or (
                ev.kind != "task"
                and state
                and state_kind(state) in (StateKind.TERMINAL, StateKind.INTERRUPTED)
            ):
                final = True
                sample.phases["terminal"] = time.perf_counter() - t0 - sample.phases["first_event"]
                break
        if not final:
            raise ProtocolViolation(
                f"the stream closed after {events} event(s) without a terminal state"
                f" (last state: {state or 'none'})",
                hint="a dropped stream is not a finished task; check the agent and proxies",
            )
        sample.send = {
            "method": client.method_name("SendStreamingMessage"),
            "streaming": True,
            "events": events,
            "finalState": state,
        }
    else:
        sample.failed_phase = "first_event"
        out = await client.call("SendMessage", params)
        elapsed = time.perf_counter() - t0
        if out.error:
            raise out.error.to_exception(f"{out.method} failed")
        ev = classify_event(out.result)
        sample.phases["first_event"] = elapsed
        sample.phases["terminal"] = 0.0
        sample.send = {"method": out.method, "streaming": False, "events": 1, "finalState": ev.state}


async def _one_sample(
    index: int,
    transport: Any,
    card_url: str,
    opts: ProbeOptions,
    settings: Settings,
    fetched: CardFetch | None = None,
) -> Sample:
    """Time one handshake on ``transport``. ``fetched``: discovery's fetch of the card on this
    transport, used as this sample's card and parse phases instead of fetching the card again."""
    from a2actl.transport.a2a import A2AClient

    sample = Sample(index)
    try:
        sample.failed_phase = "card"
        if fetched is not None and fetched.http is not None:
            res = fetched.http
        else:
            res = await transport.request(
                "GET", card_url, headers={"Accept": "application/json"}, max_bytes=settings.max_card_bytes
            )
        sample.phases.update(res.timing.phases())
        sample.curl = res.timing.to_json()
        sample.card_bytes = {
            "wire": res.wire_bytes,
            "decoded": len(res.body),
            "contentEncoding": res.content_encoding,
        }
        if res.status >= 400:
            raise HTTPStatusError(
                f"{card_url} answered HTTP {res.status} {res.reason}", details={"httpStatus": res.status}
            )
        sample.failed_phase = "parse"
        if fetched is not None:
            view = fetched.view
            sample.phases["parse"] = fetched.parse_seconds
        else:
            t = time.perf_counter()
            _, view = decode_card(res.body, card_url)
            sample.phases["parse"] = time.perf_counter() - t
        sample.failed_phase = "negotiate"
        t = time.perf_counter()
        try:
            selection = select_interface(view, settings.a2a_version, settings.binding)
        except NegotiationFailed as exc:
            raise A2ACtlError(
                f"negotiation failed: {exc}", hint="see `a2actl card get` for what the card declares"
            ) from exc
        sample.phases["negotiate"] = time.perf_counter() - t
        sample.negotiated = {
            "url": selection.interface.url,
            "protocolBinding": selection.interface.protocol_binding,
            "protocolVersion": selection.family.value,
        }
        if opts.handshake_path:
            sample.failed_phase = "session"
            url = _session_url(card_url, opts.handshake_path)
            t = time.perf_counter()
            hs = await transport.request(
                "POST",
                url,
                json_body={
                    "client": "a2actl",
                    "protocolVersions": [selection.family.value],
                    "capabilities": {"streaming": True, "pushNotifications": False},
                },
            )
            sample.phases["session"] = time.perf_counter() - t
            if hs.status >= 400:
                raise HTTPStatusError(
                    f"session handshake {url} answered HTTP {hs.status} {hs.reason}",
                    details={"httpStatus": hs.status},
                )
            body = hs.json()
            got_token = isinstance(body, dict) and any(
                isinstance(k, str) and "token" in k.lower() and body[k] for k in body
            )
            sample.session = {
                "url": url,
                "status": hs.status,
                "tokenIssued": got_token,
                "response": redact_json(body),
            }
        client = A2AClient(transport, selection)
        sample.failed_phase = "rpc"
        task_id = f"a2actl-probe-{uuid.uuid4()}"
        t = time.perf_counter()
        out = await client.call("GetTask", {"id": task_id})
        wall = time.perf_counter() - t
        # The exchange on the wire (request sent → answer's last byte, as curl's time_total on a
        # reused connection); the wall time also holds the client's encoding, decoding and, under
        # -c N, the wait for the other samples' CPU.
        sample.phases["rpc"] = out.http.timing.time_total if out.http.timing.time_total > 0 else wall
        sample.rpc = out.to_json()
        sample.rpc["wallSeconds"] = wall
        if out.error is not None and out.error.code != -32001:
            raise out.error.to_exception(f"{out.method} on {selection.interface.url} failed")
        sample.rpc["healthy"] = True
        sample.rpc["meaning"] = (
            "TaskNotFound for a random id: routing, version and auth work"
            if out.error is not None
            else "the agent returned a task for a random id"
        )
        if opts.send_text is not None:
            await _run_send(client, bool(view.capabilities.get("streaming")), opts.send_text, sample)
        sample.ok = True
        sample.failed_phase = None
    except A2ACtlError as err:
        sample.error = err.to_json()["error"]
        sample.error_class = _error_class(err)
    return sample


def _check_budgets(report: ProbeReport) -> list[dict[str, Any]]:
    from a2actl.core.units import format_seconds

    ok = report.ok_samples
    if not ok:
        return []
    stats = report.stats()
    out = []
    for b in report.options.budgets:
        vals = sorted(v for v in (s.metric(b.metric) for s in ok) if v is not None)
        if not vals:
            continue
        p99 = summarize(vals)["p99"]
        if p99 <= b.limit:
            continue
        parts = (
            CARD_PHASES
            if b.metric == "card"
            else (
                tuple(p for p in PHASES if p in stats) if b.metric in ("total",) + CURL_NAMES else (b.metric,)
            )
        )
        culprit = max(
            (p for p in parts if p in stats and stats[p]["p99"] is not None),
            key=lambda p: stats[p]["p99"],
            default=b.metric,
        )
        label = PHASE_LABELS.get(culprit, culprit)
        out.append(
            {
                "metric": b.metric,
                "p99": p99,
                "limit": b.limit,
                "culprit": culprit,
                "culpritP99": stats.get(culprit, {}).get("p99"),
                "message": f"{PHASE_LABELS.get(b.metric, b.metric)} p99 {format_seconds(p99)} is over the "
                f"{format_seconds(b.limit)} budget; {label} used {format_seconds(stats.get(culprit, {}).get('p99'))} of it",
            }
        )
    return out


async def _version_check(
    transport: Any, selection: Selection, failures: list[Sample]
) -> dict[str, Any] | None:
    """When the first RPC hit a version mismatch, try the other family once on the same URL to tell
    the operator what the endpoint really speaks."""
    from a2actl.transport.a2a import A2AClient

    # -32009/-32601, or (HTTP+JSON) a path the endpoint does not route: 0.3 and 1.0 REST paths differ
    # (/v1/tasks/{id} vs /tasks/{id}), so a version the endpoint does not speak shows as no route.
    mismatch = [
        s
        for s in failures
        if s.error
        and s.failed_phase == "rpc"
        and (s.error.get("a2aCode") in (-32009, -32601) or s.error.get("code") == "no_such_route")
    ]
    if not mismatch:
        return None
    other = Family.V0_3 if selection.family is Family.V1_0 else Family.V1_0
    alt = Selection(selection.interface, other, f"diagnostic retry in {other.value}")
    try:
        out = await A2AClient(transport, alt).call("GetTask", {"id": f"a2actl-probe-{uuid.uuid4()}"})
    except A2ACtlError as err:
        return {
            "sent": selection.family.value,
            "retriedAs": other.value,
            "retryOk": False,
            "retryError": err.message,
        }
    works = out.error is None or out.error.code == -32001
    return {
        "sent": selection.family.value,
        "retriedAs": other.value,
        "retryOk": works,
        "conclusion": (
            f"{selection.interface.url} answers {other.value} but not {selection.family.value}"
            if works
            else f"{selection.interface.url} answers neither version cleanly"
        ),
    }


async def run_probe(
    opts: ProbeOptions, settings: Settings, sink: EventSink | None = None, on_sample: Any = None
) -> ProbeReport:
    """Probe ``opts.target``: discover the card once, then time ``opts.samples`` handshakes.

    ``on_sample(sample)`` is called as each sample completes (for JSONL streaming). Raises the
    discovery error (``UnreachableError``, ``TimeoutError_``, ``HTTPStatusError``, ...) when the card
    cannot be found at all; per-sample failures are counted in the report instead.
    """
    from a2actl.transport.http import HttpTransport

    if not opts.target.is_remote:
        raise UsageError("handshake probe needs a URL, not a card file")
    sink = sink or NullSink()
    shared = HttpTransport(settings, sink) if opts.reuse else None
    first: list[tuple[HttpTransport, CardFetch]] = []
    try:
        disco_transport = shared or HttpTransport(settings, sink)
        reusable = False
        try:
            fetched = await fetch_card(disco_transport, opts.target, opts.card_path)
            try:
                selection = select_interface(fetched.view, settings.a2a_version, settings.binding)
            except NegotiationFailed as exc:
                raise A2ACtlError(
                    f"negotiation failed: {exc}", hint="see `a2actl card get` for what the card declares"
                ) from exc
            # Without --reuse, discovery's fetch is the first sample's card phase (on the same
            # transport) when it opened its own connection (not after a 404 on the first path) and
            # the sample it stands for is a warmup or runs alone: under -c N, a timed sample whose
            # card was fetched before the others started would be the one uncontended sample.
            reusable = (
                shared is None
                and fetched.http is not None
                and fetched.http.timing.new_connection
                and (opts.warmup > 0 or opts.concurrency == 1)
            )
        finally:
            if shared is None and not reusable:
                await disco_transport.client.aclose()
        if reusable:
            first.append((disco_transport, fetched))

        async def one(idx: int) -> Sample:
            if shared is not None:
                return await _one_sample(idx, shared, fetched.source, opts, settings)
            if first:
                tr, prefetched = first.pop()
                async with tr:
                    return await _one_sample(idx, tr, fetched.source, opts, settings, prefetched)
            async with HttpTransport(settings, sink) as tr:
                return await _one_sample(idx, tr, fetched.source, opts, settings)

        for w in range(opts.warmup):
            await one(-1 - w)
        sem = asyncio.Semaphore(max(1, opts.concurrency))
        samples: list[Sample] = []

        async def guarded(idx: int) -> None:
            async with sem:
                s = await one(idx)
            samples.append(s)
            if on_sample is not None:
                on_sample(s)

        await asyncio.gather(*(guarded(i) for i in range(opts.samples)))
        samples.sort(key=lambda s: s.index)
        report = ProbeReport(
            trace_id=settings.trace_id,
            target=opts.target.value,
            card_url=fetched.source,
            discovery_notes=fetched.notes,
            card_shape=fetched.view.shape,
            declared_versions=fetched.view.declared_families(),
            selection=selection,
            samples=samples,
            warmup=opts.warmup,
            options=opts,
        )
        failed = [s for s in samples if not s.ok]
        if failed:
            if shared is not None:
                report.version_check = await _version_check(shared, selection, failed)
            else:
                async with HttpTransport(settings, sink) as tr:
                    report.version_check = await _version_check(tr, selection, failed)
        report.budget_violations = _check_budgets(report)
        return report
    finally:
        if shared is not None:
            await shared.client.aclose()
        for tr, _ in first:  # not consumed (cancelled before the first sample)
            await tr.client.aclose()
