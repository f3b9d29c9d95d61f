"""Table views of ``stream tail`` records and summary (also ``send --stream`` and ``task subscribe``). Each view takes the ``Output`` and the command's ``-o json`` document."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich import box
from rich.table import Table
from rich.text import Text

from a2actl.core.units import format_bytes, format_seconds
from a2actl.render.terminal import cell, safe

if TYPE_CHECKING:
    from a2actl.render.output import Output


def record(out: Output, rec: dict[str, Any]) -> None:
    """One line per ``stream tail`` record (``docs/output-formats.md``: ``event``, ``heartbeat``,
    ``gap``, ``stall``, ``cut``, ``reconnect``; times in seconds, sizes in bytes); a ``summary``
    record as the summary table."""
    kind = rec["type"]
    if kind == "summary":
        summary(out, rec)
        return
    clock = str(rec.get("wall", ""))[11:23]
    if kind == "event":
        line = Text(
            f"{clock}  {'+' + format_seconds(rec['delta']):>9}  {cell(rec['kind']):<16}"
            f"{cell(rec['state'] or '-'):<15}{format_bytes(rec['bytes']):>10}"
        )
        if rec["oversize"]:
            line.append("  OVER --max-event-bytes", style="bold red")
        for v in rec["violations"]:
            line.append(f"  ! {v['rule']}: {cell(v['message'])}", style="bold red")
    elif kind == "heartbeat":
        rtt = f" rtt {format_seconds(rec['rtt'])}" if rec.get("rtt") is not None else ""
        line = Text(
            f"{clock}  {'+' + format_seconds(rec['delta']):>9}  heartbeat ({rec['source']}){rtt}",
            style="dim",
        )
    elif kind == "gap":
        line = Text(
            f"{clock}  silence of {format_seconds(rec['seconds'])}, over --heartbeat "
            f"{format_seconds(rec['expected'])}",
            style="bold yellow",
        )
    elif kind == "stall":
        limit = rec.get("stallTimeout")
        line = Text(
            f"{clock}  STALL: silent for {format_seconds(rec['silentFor'])} (--heartbeat "
            f"{format_seconds(rec['expected'])}"
            + (f"; giving up at {format_seconds(limit)}" if limit else "")
            + ")",
            style="bold yellow",
        )
    elif kind == "cut":
        line = Text(f"{clock}  CUT (attempt {rec['attempt']}): {cell(rec['reason'])}", style="bold red")
    else:  # reconnect
        line = Text(
            f"{clock}  reconnected via {rec['via']} after {format_seconds(rec['outage'])}", style="cyan"
        )
        for m in rec["missed"]:
            line.append(f"; missed: {cell(m)}", style="bold yellow")
    out.out.print(line)


def reason_source(reason: dict[str, Any]) -> str:
    """Where a ``reason`` (``TailSummary.reason``) outside the status message came from: ``the
    task's history``, ``artifact NAME``."""
    if reason.get("from") == "artifact":
        return f"artifact {reason.get('artifact') or '-'}"
    return "the task's history"


def _reason_row(reason: dict[str, Any] | None) -> list[tuple[str, str]]:
    """The summary's ``reason`` row, for a reason found outside the status message (one in it is
    the ``status message`` row already)."""
    if not reason or reason.get("from") == "status":
        return []
    return [("reason", f"{reason.get('text')} (no status message; from {reason_source(reason)})")]


#: The summary rows that hold an agent's text (multi-line as it wrote it); the others are one line.
_PROSE = frozenset({"status message", "reason"})


def summary(out: Output, s: dict[str, Any]) -> None:
    """The ``stream tail`` summary (the ``summary`` record) as a two-column table: outcome and exit
    code, final state, counts, sizes, timings, silences, cuts, what was missed, violations."""
    t = Table(title="Summary", title_justify="left", box=box.SIMPLE_HEAD, show_header=False)
    t.add_column(style="bold")
    t.add_column()
    gaps = s["gaps"]
    outcome = {
        "completed": "stream completed",
        "recovered": "stream recovered after cuts",
        "stalled": f"stalled: silent past --stall-timeout {format_seconds(s.get('stallTimeout'))}",
        "oversize": "the stream ended after an event over --max-event-bytes, not read (its end, as a "
        "rule: raise the bound to read it)",
    }.get(s["outcome"], s["outcome"])
    if s.get("failedOn"):
        outcome += f"; task {s['failedOn']} (--fail-on)"
    elif s["outcome"] in ("completed", "recovered", "oversize") and s.get("finalState"):
        outcome += f"; task {s['finalState']}"
    rows = [
        ("outcome", f"{outcome} (exit {s['exitCode']})"),
        ("final state", s["finalState"] or "-"),
        ("status message", s.get("statusMessage") or "-"),
        *_reason_row(s.get("reason")),
        (
            "events",
            f"{s['events']} ({format_bytes(s['bytes'])}, largest {format_bytes(s['maxEventBytes'])})",
        ),
        ("duration", format_seconds(s["duration"])),
        ("first event", format_seconds(s["firstEvent"])),
        (
            "gaps",
            f"p50 {format_seconds(gaps['p50'])}, p99 {format_seconds(gaps['p99'])}, "
            f"max {format_seconds(gaps['max'])}",
        ),
        (
            "heartbeats",
            str(s["heartbeats"]) + (f" (rtt p50 {format_seconds(s['rtt']['p50'])})" if s.get("rtt") else ""),
        ),
        (
            "silences over --heartbeat",
            ", ".join(format_seconds(g["seconds"]) for g in s["stalls"]) or "none",
        ),
        ("oversized events", str(len(s["oversize"]))),
        ("cuts / reconnects", f"{len(s['cuts'])} / {len(s['reconnects'])}"),
        ("missed", "; ".join(s["missed"]) or "nothing"),
        ("violations", "; ".join(f"{v['rule']}: {v['message']}" for v in s["violations"]) or "none"),
    ]
    for k, v in rows:  # the agent's text as it is: lines of its own in the cell
        t.add_row(k, Text(safe(v) if k in _PROSE else cell(v)))
    out.out.print(t)
