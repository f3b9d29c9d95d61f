"""Running a smoke suite: each check reuses the core function of its command (never a subprocess).

A check ends ``pass``, ``fail`` (the agent answered but a bound did not hold) or ``error`` (the check
could not run: unreachable, auth, timeout, protocol). Each result carries the measured figure and the
bound it was held to. Exit code (``suite_exit_code``): 7 when any check failed or errored; but when
no check passed and every error was of one connection class, that class (3 unreachable, 4 auth,
5 timeout), so CI logs show why.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from a2actl.core.errors import A2ACtlError, AuthError, TimeoutError_, UnreachableError
from a2actl.smoke.suite import Check, Suite

if TYPE_CHECKING:
    from a2actl.core.config import Settings
    from a2actl.core.sink import EventSink


@dataclass
class CheckResult:
    """One check against one target. ``measured`` and ``bound`` are display strings; ``details``
    machine-readable figures (seconds, bytes, counts)."""

    name: str
    kind: str
    target: str | None
    status: str
    duration: float
    measured: str = ""
    bound: str = ""
    message: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    exit_class: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "target": self.target,
            "status": self.status,
            "duration": round(self.duration, 6),
            "measured": self.measured,
            "bound": self.bound,
            "message": self.message,
            "details": self.details,
        }


def _fmt(seconds: float | None) -> str:
    from a2actl.core.units import format_seconds

    return format_seconds(seconds)


async def _probe(c: Check, target: str, settings: Settings, sink: EventSink | None) -> CheckResult:
    from a2actl.agent.target import parse_target
    from a2actl.probe.handshake import ProbeOptions, parse_budgets, run_probe

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
    doc = report.to_json()
    p99 = (doc["stats"].get("total") or {}).get("p99")
    code = doc["exitCode"]
    bound = (
        ", ".join(f"{b['metric']} p99 <= {_fmt(b['limit'])}" for b in doc["budget"]["limits"]) or "no budget"
    )
    if code == 0:
        return CheckResult(
            c.name,
            c.kind,
            target,
            "pass",
            0,
            f"total p99 {_fmt(p99)}",
            bound,
            details={"p99": p99, "stats": doc["stats"]},
        )
    if code == 7:
        v = doc["budget"]["violations"][0]
        return CheckResult(
            c.name,
            c.kind,
            target,
            "fail",
            0,
            f"total p99 {_fmt(p99)}",
            bound,
            f"over budget: {v.get('message', v)}",
            details={"p99": p99, "violations": doc["budget"]["violations"]},
        )
    return CheckResult(
        c.name,
        c.kind,
        target,
        "error",
        0,
        f"{len(doc['samples'])} sample(s)",
        bound,
        f"samples failed: {doc['failures']}",
        exit_class=code,
    )


async def _caps(
    c: Check, target: str, suite_dir: Path, settings: Settings, sink: EventSink | None
) -> CheckResult:
    from a2actl.caps.jobs import diff_job

    expect = Path(c.options["expect"])
    if not expect.is_absolute():
        expect = suite_dir / expect
    fail_on = c.options.get("failOn", "breaking")
    doc, code = await diff_job(target, None, str(expect), settings, sink, card_path=None, fail_on=fail_on)
    n = doc["counts"]
    measured = f"{n['breaking']} breaking, {n['risky']} risky, {n['cosmetic']} cosmetic"
    failing = [
        ch
        for ch in doc["changes"]
        if code == 7
        and ch["class"]
        in {
            "breaking": ["breaking"],
            "risky": ["breaking", "risky"],
            "any": ["breaking", "risky", "cosmetic"],
        }[fail_on]
    ]
    return CheckResult(
        c.name,
        c.kind,
        target,
        "fail" if code == 7 else "pass",
        0,
        measured,
        f"no {fail_on} change" if fail_on != "any" else "no change",
        "; ".join(f"{ch['path']}: {ch['reason']}" for ch in failing[:3]),
        details={"counts": n},
    )


async def _send(c: Check, target: str, settings: Settings, sink: EventSink | None) -> CheckResult:
    from a2actl.core.units import parse_duration
    from a2actl.protocol.events import PartSpec
    from a2actl.tasks.jobs import SendOptions, send_job

    doc, _ = await send_job(
        target, settings, sink, SendOptions(parts=[PartSpec("text", text=c.options["text"])]), None
    )
    state = doc["state"]
    view = doc["result"]
    text = (
        view.get("text")
        if view.get("kind") == "message"
        else "\n".join(
            [a.get("text") or "" for a in view.get("artifacts") or []] + [view.get("statusMessage") or ""]
        )
    )
    problems = []
    want_state = c.options.get("expectState", "completed")
    if state != want_state and not (view.get("kind") == "message" and "expectState" not in c.options):
        problems.append(f"state {state}, expected {want_state}")
    pattern = c.options.get("expectText")
    if pattern is not None and not re.search(pattern, text or ""):
        problems.append(f"text {text[:80]!r} does not match /{pattern}/")
    measured, bound = f"state {state}", f"state {want_state}" + (f", text /{pattern}/" if pattern else "")
    details: dict[str, Any] = {"state": state, "taskId": doc.get("taskId")}
    if "firstEvent" in c.options:
        deadline = parse_duration(str(c.options["firstEvent"]))
        first = await _first_event(target, c.options["text"], settings, sink)
        details["firstEvent"] = first
        measured += f", first event {_fmt(first)}"
        bound += f", first event <= {_fmt(deadline)}"
        if first is None or first > deadline:
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


async def _first_event(target: str, text: str, settings: Settings, sink: EventSink | None) -> float | None:
    from a2actl.stream.jobs import tail_job
    from a2actl.stream.tail import TailOptions

    summary = await tail_job(
        target,
        settings,
        sink,
        lambda _r: None,
        send=text,
        task=None,
        sse=None,
        opts=TailOptions(reconnect_attempts=0),
    )
    return summary["firstEvent"]


async def _stream(c: Check, target: str, settings: Settings, sink: EventSink | None) -> CheckResult:
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
    gaps = s["gaps"]
    measured = (
        f"{s['events']} events, max gap {_fmt(gaps['max'])}, largest {s['maxEventBytes']} B, {s['outcome']}"
    )
    bound = ", ".join(
        x
        for x in (
            f"silence <= {_fmt(hb)}" if hb else "",
            f"event <= {limit} B" if limit else "",
            "terminal state",
        )
        if x
    )
    problems = (
        [f"silence {_fmt(g['seconds'])}" for g in s["stalls"]]
        + [f"event of {o['bytes']} B" for o in s["oversize"]]
        + [v["message"] for v in s["violations"]]
    )
    if s["exitCode"] == 5:
        return CheckResult(
            c.name, c.kind, target, "error", 0, measured, bound, "--max-time reached", exit_class=5
        )
    return CheckResult(
        c.name,
        c.kind,
        target,
        "pass" if s["exitCode"] == 0 else "fail",
        0,
        measured,
        bound,
        "; ".join(problems) or s["outcome"],
        details={k: s[k] for k in ("events", "maxEventBytes", "gaps", "finalState", "outcome")},
    )


async def _leaks(c: Check, target: str, settings: Settings, sink: EventSink | None) -> CheckResult:
    from a2actl.core.units import parse_duration
    from a2actl.sessions.jobs import Filters, Sessions, find_leaks

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
    from a2actl.dlq.jobs import open_source

    notes: list[str] = []  # a source that does not exist yet has depth 0; the row says why
    backend = await open_source(str(c.options["source"]), settings, sink, notes.append)
    depth = 0
    try:
        async for _ in backend.iter_entries():
            depth += 1
    finally:
        await backend.close()
    bound = int(c.options["max"])
    return CheckResult(
        c.name,
        c.kind,
        str(c.options["source"]),
        "pass" if depth <= bound else "fail",
        0,
        f"depth {depth}",
        f"depth <= {bound}",
        "; ".join(notes) if depth <= bound else f"{depth - bound} over",
        details={"depth": depth, **({"note": notes[0]} if notes else {})},
    )


_CLASS = ((UnreachableError, 3), (AuthError, 4), (TimeoutError_, 5))


async def run_check(
    c: Check, target: str | None, suite_dir: Path, settings: Settings, sink: EventSink | None
) -> CheckResult:
    """Run one check; never raises for agent behaviour (errors become ``status: error``)."""
    t0 = time.perf_counter()
    try:
        if c.kind == "dlq-depth":
            res = await _dlq(c, settings, sink)
        elif c.kind == "probe":
            res = await _probe(c, target, settings, sink)  # type: ignore[arg-type]
        elif c.kind == "caps-diff":
            res = await _caps(c, target, suite_dir, settings, sink)  # type: ignore[arg-type]
        elif c.kind == "send":
            res = await _send(c, target, settings, sink)  # type: ignore[arg-type]
        elif c.kind == "stream":
            res = await _stream(c, target, settings, sink)  # type: ignore[arg-type]
        else:
            res = await _leaks(c, target, settings, sink)  # type: ignore[arg-type]
    except A2ACtlError as exc:
        klass = next((code for cls, code in _CLASS if isinstance(exc, cls)), None)
        res = CheckResult(c.name, c.kind, target, "error", 0, message=exc.message, exit_class=klass)
    res.duration = time.perf_counter() - t0
    return res


async def run_suite(
    suite: Suite, settings: Settings, sink: EventSink | None, on_result: Any = None
) -> list[CheckResult]:
    """Every check against every target, in file order (a check's own ``target`` overrides)."""
    results = []
    suite_dir = Path(suite.path).resolve().parent
    for c in suite.checks:
        for target in [c.target] if c.target else (suite.targets if c.kind != "dlq-depth" else [None]):
            res = await run_check(c, target, suite_dir, settings, sink)
            results.append(res)
            if on_result is not None:
                on_result(res)
            await asyncio.sleep(0)
    return results


def suite_exit_code(results: list[CheckResult]) -> int:
    """0 all passed; 3/4/5 when nothing passed and every error is of that class; else 7."""
    if all(r.status == "pass" for r in results):
        return 0
    classes = {r.exit_class for r in results if r.status == "error"}
    if (
        not any(r.status == "pass" for r in results)
        and len(classes) == 1
        and None not in classes
        and all(r.status == "error" for r in results)
    ):
        return int(next(iter(classes)))  # type: ignore[arg-type]
    return 7


def junit_xml(suite: Suite, results: list[CheckResult]) -> str:
    """JUnit XML (the dialect GitHub Actions, GitLab and Jenkins read): one testsuite per target,
    one testcase per check; ``failure`` for fail, ``error`` for error; times in seconds."""
    import xml.etree.ElementTree as ET

    root = ET.Element(
        "testsuites",
        name=suite.name,
        tests=str(len(results)),
        failures=str(sum(r.status == "fail" for r in results)),
        errors=str(sum(r.status == "error" for r in results)),
        time=f"{sum(r.duration for r in results):.3f}",
    )
    by_target: dict[str, list[CheckResult]] = {}
    for r in results:
        by_target.setdefault(r.target or "local", []).append(r)
    for target, rs in by_target.items():
        ts = ET.SubElement(
            root,
            "testsuite",
            name=f"{suite.name} @ {target}",
            tests=str(len(rs)),
            failures=str(sum(r.status == "fail" for r in rs)),
            errors=str(sum(r.status == "error" for r in rs)),
            time=f"{sum(r.duration for r in rs):.3f}",
        )
        for r in rs:
            tc = ET.SubElement(
                ts, "testcase", classname=f"a2actl.smoke.{r.kind}", name=r.name, time=f"{r.duration:.3f}"
            )
            text = f"measured: {r.measured}\nbound: {r.bound}\n{r.message}".strip()
            if r.status == "fail":
                ET.SubElement(tc, "failure", message=r.message or "check failed", type=r.kind).text = text
            elif r.status == "error":
                ET.SubElement(
                    tc, "error", message=r.message or "check could not run", type=r.kind
                ).text = text
            ET.SubElement(tc, "system-out").text = text
    return ET.tostring(root, encoding="unicode", xml_declaration=True)
