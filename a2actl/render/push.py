"""Table views of ``push listen`` records and summary (docs/push.md). Each view takes the ``Output``
and the command's ``-o json`` document; secrets never reach here (the records carry none) and the
``Output`` masks any that would."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich import box
from rich.table import Table
from rich.text import Text

from a2actl.core.units import format_bytes, format_seconds
from a2actl.protocol.versions import TASK_STATES, StateKind
from a2actl.render.terminal import cell, safe

if TYPE_CHECKING:
    from a2actl.render.output import Output

#: Canonical states in which the agent waits for the client (the listen ends there, as on a terminal one).
INTERRUPTED = frozenset(name for name, (_, _, kind) in TASK_STATES.items() if kind is StateKind.INTERRUPTED)


def record(out: Output, rec: dict[str, Any]) -> None:
    """One line per delivery: receive time, +delta, number, kind, state, size, latency, then what is
    wrong (credentials, body, order) or ``duplicate``; a ``summary`` record as the summary table."""
    if rec.get("type") == "summary":
        summary(out, rec)
        return
    clock = str(rec.get("wall", ""))[11:23]
    latency = f"lat {format_seconds(rec['latency'])}" if rec.get("latency") is not None else ""
    line = Text(
        f"{clock}  {'+' + format_seconds(rec['delta']):>9}  #{rec['n']:<4}{cell(rec['kind'] or '-'):<16}"
        f"{cell(rec['state'] or '-'):<15}{format_bytes(rec['bytes']):>10}  {latency}"
    )
    if rec["auth"] != "ok":
        line.append(f"  AUTH {rec['auth']}", style="bold red")
    elif not rec["valid"]:
        line.append("  INVALID", style="bold red")
    if rec["duplicate"]:
        line.append("  duplicate", style="yellow")
    for p in rec["problems"]:
        if p["rule"] != rec["auth"]:
            line.append(f"  ! {p['rule']}: {cell(p['message'])}", style="bold red")
    for p in rec.get("order") or []:
        line.append(f"  ~ {p['rule']}: {cell(p['message'])}", style="yellow")
    out.out.print(line)


def summary(out: Output, s: dict[str, Any]) -> None:
    """The ``push listen`` summary as a two-column table: outcome and exit code, task and final
    state, counts (unique, duplicates, credential failures, invalid, out of order), latency, problems."""
    t = Table(title="Summary", title_justify="left", box=box.SIMPLE_HEAD, show_header=False)
    t.add_column(style="bold")
    t.add_column()
    lat = s["latency"]
    outcome = {
        "completed": "task ended",
        "max-time": "--max-time reached",
        "no-task": "no task: the agent answered a Message",
        "interrupted": "interrupted (Ctrl-C)",
    }.get(s["outcome"], s["outcome"])
    final = s.get("finalState")
    if s["outcome"] == "completed" and final in INTERRUPTED:
        outcome = f"task waits for the client: {final}"
    elif s.get("failedOn"):
        outcome += f": {s['failedOn']}"
    if s.get("failedOn"):
        outcome += " (--fail-on)"
    reg = s.get("registration") or {}
    rows = [
        ("outcome", f"{outcome} (exit {s['exitCode']})"),
        ("webhook", s.get("url") or "-"),
        ("registered", f"{reg.get('method')}" if reg else "no (config printed)"),
        ("task", s.get("taskId") or "-"),
        ("final state", s.get("finalState") or "-"),
        (
            "deliveries",
            f"{s['deliveries']} ({s['unique']} unique, {s['duplicates']} duplicate, {format_bytes(s['bytes'])})",
        ),
        ("credential failures", str(s["authFailures"])),
        ("invalid bodies", str(s["invalid"])),
        ("out of order", str(s["outOfOrder"])),
        (
            "latency",
            f"p50 {format_seconds(lat['p50'])}, p99 {format_seconds(lat['p99'])}, max {format_seconds(lat['max'])}"
            if lat.get("p50") is not None
            else "- (no event timestamps)",
        ),
        ("first delivery", format_seconds(s["firstDelivery"])),
        ("duration", format_seconds(s["duration"])),
        (
            "problems",
            "; ".join(
                f"#{p['delivery']} {p['rule']}{' (warning)' if p.get('check') == 'order' else ''}: {p['message']}"
                for p in s["problems"][:10]
            )
            or "none",
        ),
    ]
    for k, v in rows:
        t.add_row(k, Text(safe(v)))
    out.out.print(t)


def config(out: Output, doc: dict[str, Any]) -> None:
    """The push config to register, as one line of JSON on stderr (narration, not the run's data;
    secrets are ``***`` and the output masks any known one)."""
    import json

    out.stderr.write(json.dumps(doc, ensure_ascii=False) + "\n")
    out.stderr.flush()
