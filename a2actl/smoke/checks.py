"""The smoke checks (docs/smoke.md, "The suite file"): each reuses the job of its command (never a
subprocess) and returns a ``CheckResult``. ``run_check`` turns an ``A2ACtlError`` into ``status:
error`` with the error's exit class (3 unreachable, 4 auth, 5 timeout), and any other exception (a
bug) into ``status: error`` for that check alone, so the other checks and the JUnit file survive it."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from a2actl.core.errors import A2ACtlError, AuthError, TimeoutError_, UnreachableError
from a2actl.core.exit_codes import ExitCode
from a2actl.smoke.result import CheckResult
from a2actl.smoke.suite import Check

if TYPE_CHECKING:
    from a2actl.core.config import Settings
    from a2actl.core.sink import EventSink


def _fmt(seconds: float | None) -> str:
    from a2actl.core.units import format_seconds

    return format_seconds(seconds)


async def _probe(c: Check, target: str, settings: Settings, sink: EventSink | None) -> CheckResult:
    """``kind: probe``: ``handshake probe`` with ``samples``, ``concurrency``, ``budget``/``budgets``;
    pass when its exit is 0, fail on a budget violation (exit 7), error otherwise: the message
    counts the failed samples per class and quotes the first one's error, ``details.failures`` has
    the counts (``{"auth": 2}``)."""
    from a2actl.agent.target import parse_target
    from a2actl.probe.budget import parse_budgets
    from a2actl.probe.handshake import run_probe
    from a2actl.probe.report import ProbeOptions

    specs = [str(c.options["budget"])] if "budget" in c.options else []
    specs += [f"{k}={v}" for k, v in (c.options.get("budgets") or {}).items()]
    budgets = tuple(parse_budgets(specs))
    report = await run_probe(
        ProbeOptions(
            target=parse_target(target),
            samples=int(c.options.get("samples", 5)),
            concurrency=int(c.options.get("concurrency", 1)),
            budgets=budgets,
        ),
        settings,
        sink,
    )
    p99 = report.total_p99
    code = report.exit
    bound = ", ".join(f"{b.metric} p99 <= {_fmt(b.limit)}" for b in report.budget.limits) or "no budget"
    if code == ExitCode.OK:
        return CheckResult(
            c.name,
            c.kind,
            target,
            "pass",
            0,
            f"total p99 {_fmt(p99)}",
            bound,
            details={"p99": p99, "stats": report.stats()},
        )
    if code == ExitCode.CHECK_FAILED:
        violations = report.budget.violations
        return CheckResult(
            c.name,
            c.kind,
            target,
            "fail",
            0,
            f"total p99 {_fmt(p99)}",
            bound,
            f"over budget: {violations[0].message}",
            details={"p99": p99, "violations": [v.to_json() for v in violations]},
        )
    # "samples failed: {'auth': 2}" was a Python dict, and said nothing of what the agent answered
    fails = report.failures()
    first = next((s.error for s in report.samples if s.error), None)
    counts = ", ".join(f"{k} {v}" for k, v in sorted(fails.items()))
    return CheckResult(
        c.name,
        c.kind,
        target,
        "error",
        0,
        f"{len(report.samples)} sample(s)",
        bound,
        f"{sum(fails.values())} of {len(report.samples)} samples failed ({counts})"
        + (f"; first: {first.get('message')}" if first and first.get("message") else ""),
        details={"failures": fails},
        exit_class=code,
    )


#: Which change classes fail a ``caps-diff`` check at each ``failOn`` level.
_FAILING = {
    "breaking": ["breaking"],
    "risky": ["breaking", "risky"],
    "any": ["breaking", "risky", "cosmetic"],
}


async def _caps(
    c: Check, target: str, suite_dir: Path, settings: Settings, sink: EventSink | None
) -> CheckResult:
    """``kind: caps-diff``: ``caps diff TARGET --expect FILE`` (relative to the suite file) with
    ``failOn``; fail when a change reaches it."""
    from a2actl.caps.jobs import diff_job

    expect = Path(c.options["expect"])
    if not expect.is_absolute():
        expect = suite_dir / expect
    fail_on = c.options.get("failOn", "breaking")
    result = await diff_job(target, None, str(expect), settings, sink, card_path=None, fail_on=fail_on)
    doc = result.to_json()
    failed = result.exit == ExitCode.CHECK_FAILED
    n = doc["counts"]
    measured = f"{n['breaking']} breaking, {n['risky']} risky, {n['cosmetic']} cosmetic"
    failing = [ch for ch in doc["changes"] if failed and ch["class"] in _FAILING[fail_on]]
    return CheckResult(
        c.name,
        c.kind,
        target,
        "fail" if failed else "pass",
        0,
        measured,
        f"no {fail_on} change" if fail_on != "any" else "no change",
        "; ".join(f"{ch['path']}: {ch['reason']}" for ch in failing[:3]),
        details={"counts": n},
    )


async def _send(c: Check, target: str, settings: Settings, sink: EventSink | None) -> CheckResult:
    """``kind: send``: ``send TEXT``; fail when the state is not ``expectState`` (default
    ``completed``, not checked for a message reply unless given), the text does not match
    ``expectText``, or the first streamed event comes after ``firstEvent``."""
    from a2actl.core import textmatch
    from a2actl.core.units import parse_duration
    from a2actl.protocol.events import PartSpec
    from a2actl.tasks.jobs import send_job
    from a2actl.tasks.request import SendOptions
    from a2actl.tasks.results import SentMessage

    sent = await send_job(
        target, settings, sink, SendOptions(parts=[PartSpec("text", text=c.options["text"])]), None
    )
    assert isinstance(sent, SentMessage), "a blocking send answers a SentMessage"
    state = sent.state
    view = sent.result
    text: str = (
        (view.get("text") or "")  # a message's joined text parts (protocol.events.task_view): a str
        if view.get("kind") == "message"
        else "\n".join(
            [a.get("text") or "" for a in view.get("artifacts") or []] + [view.get("statusMessage") or ""]
        )
    )
    problems = []
    want_state = c.options.get("expectState", "completed")
    # a Message has no task state: the row said "state None" against "state completed", and passed
    message = view.get("kind") == "message"
    got = "a message (no task)" if message else f"state {state}"
    if state != want_state and not (message and "expectState" not in c.options):
        problems.append(f"{got}, expected state {want_state}" if message else f"{got}, expected {want_state}")
    pattern = c.options.get("expectText")
    # in a child process: a pattern that backtracks for ages must not hold the loop past --max-time
    if pattern is not None and not await textmatch.search(pattern, text, settings.max_time):
        problems.append(f"text {text[:80]!r} does not match /{pattern}/")
    wanted = (
        f"state {want_state} or a message"
        if message and "expectState" not in c.options
        else f"state {want_state}"
    )
    measured, bound = got, wanted + (f", text /{pattern}/" if pattern else "")
    details: dict[str, Any] = {"state": state, "taskId": sent.task_id}
    if "firstEvent" in c.options:
        deadline = parse_duration(str(c.options["firstEvent"]))
        first = await _first_event(target, c.options["text"], deadline, settings, sink)
        details["firstEvent"] = first
        measured += f", first event {_fmt(first)}" if first is not None else ", no first event"
        bound += f", first event <= {_fmt(deadline)}"
        if first is None:
            problems.append(f"no first event within {_fmt(deadline)}")
        elif first > deadline:
            problems.append(f"first event after {_fmt(first)}, deadline {_fmt(deadline)}")
    return CheckResult(
        c.name,
        c.kind,
        target,
        "fail" if problems else "pass",
        0,
        measured,
        bound,
        "; ".join(problems),
        details=details,
    )


async def _first_event(
    target: str, text: str, deadline: float, settings: Settings, sink: EventSink | None
) -> float | None:
    """Seconds from sending ``text`` with streaming to the first event; ``None`` when none came
    within ``deadline`` seconds (and a little: the heartbeat watchdog's tick). The tail ends at the
    first event, or once it is past ``deadline`` without one: it waited for the whole stream, and a
    stream that never sent an event (pings only, or silent) held the check, and every check after
    it, until the suite's ``--max-time`` (exit 5) instead of failing it. The clock starts at the
    streaming call, after the card is read, as ``stream tail``'s ``firstEvent``."""
    from a2actl.stream.jobs import tail_job
    from a2actl.stream.tail import TailOptions

    first: list[float] = []
    settled = asyncio.Event()

    def seen(record: dict[str, Any]) -> None:
        # an event: measured; any other record past the deadline (a ping, or the watchdog's stall
        # record for a silence of `deadline`): none came in time
        if record.get("type") == "event" and not first:
            first.append(float(record["t"]))
            settled.set()
        elif float(record.get("t") or 0) > deadline:
            settled.set()

    tail = asyncio.ensure_future(
        tail_job(
            target,
            settings,
            sink,
            seen,
            send=text,
            task=None,
            sse=None,
            opts=TailOptions(reconnect_attempts=0, heartbeat=deadline),
        )
    )
    waiter = asyncio.ensure_future(settled.wait())
    try:
        await asyncio.wait({tail, waiter}, return_when=asyncio.FIRST_COMPLETED)
        if tail.done():
            summary = tail.result()  # raises what the tail raised (an error answer: the check's error)
            return first[0] if first else summary.first_event
        return first[0] if first else None
    finally:
        for job in (tail, waiter):
            if not job.done():
                job.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await job


async def _stream(c: Check, target: str, settings: Settings, sink: EventSink | None) -> CheckResult:
    """``kind: stream``: ``stream tail --send TEXT`` with ``heartbeat`` (longest silence) and
    ``maxEventBytes``; fail on a stall, an oversize event, events missed across a reconnect (the
    message names the cut first), a cut not recovered, a stream violation, or a task that ended
    in another state than ``expectState`` (default ``completed``, as ``kind: send``; not checked
    for a stream that answered with a message unless given); error at --max-time. ``details``:
    ``events``, ``maxEventBytes``, ``gaps`` (seconds), ``finalState``, ``outcome``, ``cuts`` (a
    count) and ``missed`` (what a reconnect lost, one string each)."""
    from a2actl.core.units import parse_duration, parse_size
    from a2actl.stream.jobs import tail_job
    from a2actl.stream.tail import TailOptions

    hb = parse_duration(str(c.options["heartbeat"])) if "heartbeat" in c.options else None
    limit = parse_size(str(c.options["maxEventBytes"])) if "maxEventBytes" in c.options else None
    s = await tail_job(
        target,
        settings,
        sink,
        lambda _r: None,
        send=c.options["text"],
        task=None,
        sse=None,
        opts=TailOptions(heartbeat=hb, max_event_bytes=limit, max_time=settings.max_time),
    )
    want_state = c.options.get("expectState", "completed")
    measured = (
        f"{s.events} events, max gap {_fmt(s.gaps['max'])}, largest {s.max_event_bytes} B, {s.outcome}"
        + (f", state {s.final_state}" if s.final_state else "")
    )
    bound = ", ".join(
        x
        for x in (
            f"silence <= {_fmt(hb)}" if hb else "",
            f"event <= {limit} B" if limit else "",
            f"state {want_state}",
        )
        if x
    )
    problems = (
        [f"silence {_fmt(g['seconds'])}" for g in s.stalls]
        + [f"event of {o['bytes']} B" for o in s.oversize]
        + [f"missed across the reconnect: {m}" for m in s.missed]
        + [v["message"] for v in s.violations]
    )
    if s.cuts and (s.missed or s.outcome == "cut"):
        # the cut itself: the row said "recovered" alone for a stream whose events were lost in it
        if s.outcome == "cut":
            how = "not recovered"
        else:
            how = f"resumed via {s.reconnects[-1]['via']}" if s.reconnects else "recovered"
        problems.insert(0, f"{s.cuts[-1]['reason']} ({how})")
    # a stream that reached a terminal state is healthy as a stream; the task's own outcome is the
    # suite's business (a `failed` task must not pass a smoke test): as `kind: send`
    if (s.final_state is not None or "expectState" in c.options) and s.final_state != want_state:
        # no state at all: the stream answered with a message (or ended before any task event)
        problems.append(
            f"state {s.final_state}, expected {want_state}"
            if s.final_state is not None
            else f"no task state, expected state {want_state}"
        )
    if s.exit == ExitCode.TIMEOUT:
        return CheckResult(
            c.name,
            c.kind,
            target,
            "error",
            0,
            measured,
            bound,
            "--max-time reached",
            exit_class=ExitCode.TIMEOUT,
        )
    return CheckResult(
        c.name,
        c.kind,
        target,
        "pass" if s.exit == ExitCode.OK and not problems else "fail",
        0,
        measured,
        bound,
        "; ".join(problems) or s.outcome,
        details={
            "events": s.events,
            "maxEventBytes": s.max_event_bytes,
            "gaps": s.gaps,
            "finalState": s.final_state,
            "outcome": s.outcome,
            "cuts": len(s.cuts),
            "missed": s.missed,
        },
    )


async def _leaks(c: Check, target: str, settings: Settings, sink: EventSink | None) -> CheckResult:
    """``kind: sessions-leaks``: ``sessions leaks`` with ``maxAge`` and ``grace`` (default 5s)
    through the debug API at ``debugPrefix``; fail when any session leaks."""
    from a2actl.core.units import parse_duration
    from a2actl.sessions.client import Sessions
    from a2actl.sessions.rules import Filters, find_leaks

    max_age = parse_duration(str(c.options["maxAge"]))
    grace = parse_duration(str(c.options.get("grace", "5s")))
    async with Sessions(target, settings, sink, c.options.get("debugPrefix", "/debug/a2a")) as conn:
        found = await conn.list(Filters())
        leaks = find_leaks(found, max_age, grace)
    return CheckResult(
        c.name,
        c.kind,
        target,
        "fail" if leaks else "pass",
        0,
        f"{len(leaks)} leaked of {len(found)} open",
        f"none older than {_fmt(max_age)} or open after their tasks",
        "; ".join(f"{x['id']}: {x['reasons'][0]}" for x in leaks[:3]),
        details={"leaks": len(leaks), "open": len(found), "source": conn.source},
    )


async def _dlq(c: Check, settings: Settings, sink: EventSink | None) -> CheckResult:
    """``kind: dlq-depth``: the entries in ``source`` (any DLQ source) at most ``max``, invalid ones
    included (``details.invalid`` counts them): they are dead letters too, still in the queue for an
    operator (``dlq replay`` exits 7 for them). A source that does not exist yet has depth 0 and the
    row says why. A broker source (SQS, RabbitMQ) is not read: its depth is the broker's own count
    (SQS: ``ApproximateNumberOfMessages`` + ``…NotVisible`` + ``…Delayed``; ``details.broker`` has
    them apart)."""
    from a2actl.dlq.jobs import open_source
    from a2actl.dlq.store.entry import InvalidEntries

    notes: list[str] = []
    backend = await open_source(str(c.options["source"]), settings, sink, notes.append)
    depth = 0
    broker: dict[str, int] | None = None
    invalid: InvalidEntries | None = None
    try:
        broker_depth = getattr(backend, "broker_depth", None)
        if broker_depth is not None:
            broker = await broker_depth()
            depth = sum(broker.values())
        else:
            invalid = InvalidEntries()
            async for _ in backend.iter_entries(invalid):
                depth += 1
            depth += invalid.count
    finally:
        await backend.close()
    bound = int(c.options["max"])
    if invalid is not None and invalid.count:
        first = invalid.first[0]
        notes.append(
            f"{invalid.count} of them invalid (not replayable until fixed or purged; 'dlq list -o json' "
            f"names them); first: {first.where}: {first.error}"
        )
    return CheckResult(
        c.name,
        c.kind,
        str(c.options["source"]),
        "pass" if depth <= bound else "fail",
        0,
        f"depth {depth}" + (f" ({invalid.count} invalid)" if invalid is not None and invalid.count else ""),
        f"depth <= {bound}",
        "; ".join(notes) if depth <= bound else "; ".join([f"{depth - bound} over", *notes]),
        details={
            "depth": depth,
            **({"invalid": invalid.count} if invalid is not None else {}),
            **({"note": notes[0]} if notes else {}),
            **({"broker": broker} if broker is not None else {}),
        },
    )


#: The check kinds that take a ``binding`` (``auto``, ``JSONRPC``, ``HTTP+JSON``, ``GRPC``): the run's
#: ``--binding`` for that check alone; the row's ``details.binding`` names it.
BINDING_KINDS = ("probe", "send", "stream")

#: The connection classes whose exit code an ``error`` row keeps (docs/exit-codes.md).
_CLASS = (
    (UnreachableError, ExitCode.UNREACHABLE),
    (AuthError, ExitCode.AUTH),
    (TimeoutError_, ExitCode.TIMEOUT),
)


async def run_check(
    c: Check, target: str | None, suite_dir: Path, settings: Settings, sink: EventSink | None
) -> CheckResult:
    """Run one check against ``target`` (``None`` only for ``dlq-depth``, which names its source);
    never raises an ``Exception``: an ``A2ACtlError`` becomes ``status: error`` with its exit class,
    and any other exception (a bug, or a library error a2actl does not map) ``status: error`` with
    ``message`` ``unexpected TYPE: MESSAGE``, ``details.exception`` ``{"type", "message"}`` and the
    exception itself in ``CheckResult.exception`` (``--debug`` shows its traceback). Cancellation
    (``--max-time``, Ctrl-C/SIGTERM) propagates. ``duration`` is the check's wall time in seconds."""
    t0 = time.perf_counter()
    binding = c.options.get("binding")
    if binding and c.kind in BINDING_KINDS:
        # ``binding: GRPC`` on one check: that check goes through the card's gRPC interface (#18)
        settings = dataclasses.replace(settings, binding=str(binding))
    try:
        if c.kind == "dlq-depth":
            res = await _dlq(c, settings, sink)
        else:
            assert target is not None, f"a {c.kind} check runs against a target"
            if c.kind == "probe":
                res = await _probe(c, target, settings, sink)
            elif c.kind == "caps-diff":
                res = await _caps(c, target, suite_dir, settings, sink)
            elif c.kind == "send":
                res = await _send(c, target, settings, sink)
            elif c.kind == "stream":
                res = await _stream(c, target, settings, sink)
            else:
                res = await _leaks(c, target, settings, sink)
    except A2ACtlError as exc:
        klass = next((code for cls, code in _CLASS if isinstance(exc, cls)), None)
        res = CheckResult(c.name, c.kind, target, "error", 0, message=exc.message, exit_class=klass)
    except Exception as exc:  # noqa: BLE001 - one check's bug must not lose the others and the JUnit file
        res = CheckResult(
            c.name,
            c.kind,
            target,
            "error",
            0,
            message=f"unexpected {type(exc).__name__}: {exc}",
            details={"exception": {"type": type(exc).__name__, "message": str(exc)}},
            exception=exc,
        )
    res.duration = time.perf_counter() - t0
    if binding and c.kind in BINDING_KINDS:
        res.details = {**res.details, "binding": str(binding)}
    return res
