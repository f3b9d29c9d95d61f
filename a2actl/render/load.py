"""Table views of ``load run`` / ``load report`` and the live progress line on stderr.

Views take the ``Output`` and the ``-o json`` document (``LoadReport.to_json``, shape in
docs/load.md; times in seconds, shown with ``format_seconds``)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from rich import box
from rich.table import Table
from rich.text import Text

from a2actl.core.units import format_bytes, format_seconds
from a2actl.render.terminal import bar, cell, safe

if TYPE_CHECKING:
    from a2actl.render.output import Output

_METRIC_LABELS = {
    "latency": "latency",
    "ttfe": "time to first event",
    "ttfa": "time to first artifact",
    "terminal": "time to terminal state",
    "gap": "inter-event gap",
    "lag": "schedule lag",
}
_COLUMNS = ("p50", "p90", "p95", "p99", "p99.9", "max")


def _model_line(doc: dict[str, Any]) -> str:
    m = doc["model"]
    if m["kind"] == "merged":
        models, sources = m.get("models") or [], doc.get("sources") or []
        one = models[0] if len(models) == 1 and len(sources) == 1 else None
        if isinstance(one, dict) and one.get("kind") in ("open", "closed"):
            try:  # one report shown again: its own model (a model line from a file may lack fields)
                return f"{_model_line({**doc, 'model': one})} (from {safe(sources[0])})"
            except (KeyError, TypeError, ValueError):
                pass
        runs = doc["runs"]
        return f"merged {runs} run{'s' if runs != 1 else ''}: {', '.join(map(safe, sources))}"
    ends = []
    if m.get("requests") is not None:
        ends.append(f"{m['requests']} requests")
    if m.get("duration") is not None:
        ends.append(f"{format_seconds(m['duration'])}")
    if m["kind"] == "closed":
        workers = f"{m['concurrency']} worker" + ("s" if m["concurrency"] != 1 else "")
        return f"closed model: {workers}, " + " or ".join(ends)
    ramp = f", ramp {format_seconds(m['ramp'])}" if m.get("ramp") else ""
    return f"open model: {m['rate']:g} req/s{ramp}, max in flight {m['maxInFlight']}, " + " or ".join(ends)


def report(out: Output, doc: dict[str, Any]) -> None:
    """Human view of a load report: the run line, requests and throughput, a percentile table per
    metric, the latency histogram, errors by class and code, task states, thresholds."""
    neg = doc.get("negotiated") or {}
    o = out.out
    head = Text()
    head.append("load        ", style="bold")
    head.append(f"{doc['scenario']} on {safe(doc['target'])}")
    if neg:
        head.append(f"  ({neg.get('protocolBinding')} {neg.get('protocolVersion')})", style="dim")
    o.print(head)
    o.print(Text("            " + _model_line(doc), style="dim"))
    req, thr = doc["requests"], doc["throughput"]
    asked = f" of {thr['asked']:g} asked" if thr.get("asked") is not None else ""
    sending, achieved = thr.get("sent"), thr.get("achieved")
    line = Text()
    line.append("requests    ", style="bold")
    line.append(
        f"{req['sent']} sent in {format_seconds(doc.get('sendingWindow') or doc['elapsed'])}"
        + (f" ({sending:.1f} req/s{asked})" if sending is not None else "")
        + f", {req['ok']} ok, {req['failures']} failed"
        + (f", {req['dropped']} dropped by --max-in-flight" if req["dropped"] else "")
        + (f", {req['cancelled']} cancelled in flight" if req.get("cancelled") else "")
    )
    o.print(line)
    if achieved is not None:
        line = Text()
        line.append("throughput  ", style="bold")
        line.append(
            f"{achieved:.1f} req/s answered ({thr['ok']:.1f} ok) over "
            f"{format_seconds(doc.get('answerWindow') or doc['elapsed'])}, from the first request "
            + (
                "to the stop (requests in flight were cancelled)"
                if req.get("cancelled")
                else "to the last answer"
            )
        )
        o.print(line)
    if doc["events"] or doc["bytes"]:
        o.print(
            Text(
                "            "
                + (f"{doc['events']} events, " if doc["events"] else "")
                + f"{format_bytes(doc['bytes'])} received",
                style="dim",
            )
        )
    metrics = doc["metrics"]
    if metrics:
        table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
        table.add_column("metric")
        table.add_column("count", justify="right")
        for c in _COLUMNS:
            table.add_column(c, justify="right")
        for name, stats in metrics.items():
            label = _METRIC_LABELS.get(name) or (
                "phase " + name.removeprefix("phase.") if name.startswith("phase.") else name
            )
            table.add_row(label, str(stats["count"]), *(format_seconds(stats[c]) for c in _COLUMNS))
        o.print(table)
    for note in doc.get("notes") or []:
        o.print(Text("note        " + safe(note), style="dim"))
    _histogram(out, doc.get("latencyBuckets") or [])
    if doc["errors"]:
        errors = Table(box=box.SIMPLE_HEAD, pad_edge=False, title="errors", title_justify="left")
        errors.add_column("status")
        errors.add_column("code")
        errors.add_column("count", justify="right")
        errors.add_column("example")
        for e in doc["errors"]:
            errors.add_row(e["status"], cell(e["code"]), str(e["count"]), cell(e.get("example") or "", 120))
        o.print(errors)
    if doc["states"]:
        o.print(Text("task states " + ", ".join(f"{k} {v}" for k, v in doc["states"].items())))
    for t in doc["thresholds"]:
        actual = t["actual"]
        shown = (
            "no samples"
            if actual is None
            else (
                f"{actual * 100:.2f}%"
                if t["stat"] is None and t["metric"] != "rps"
                else f"{actual:.1f}"
                if t["metric"] == "rps"
                else format_seconds(actual)
            )
        )
        o.print(
            Text(
                f"threshold   {'✓' if t['ok'] else '✗'} {safe(t['threshold'])}  (actual {shown})",
                style="green" if t["ok"] else "red",
            )
        )
    if doc.get("aborted"):
        o.print(Text(f"aborted     {safe(doc['aborted'])}", style="red"))


def _histogram(out: Output, buckets: list[dict[str, Any]]) -> None:
    if not buckets:
        return
    top = max(b["count"] for b in buckets) or 1
    out.out.print(Text("latency histogram", style="bold"))
    for b in buckets:
        drawn = bar(b["count"], top, 40)
        out.out.print(Text(f"  ≤ {format_seconds(b['le']):>8} {drawn} {b['count']}"))


class ProgressLine:
    """The live progress line on stderr while a load runs: elapsed, the rates of requests sent and
    of answers over the last second (apart: an agent that falls behind answers slower than it is
    sent to), in flight, answers so far, p99 so far, errors, dropped. Drawn only when stderr is a terminal (redrawn in place, cleared at the end);
    otherwise nothing, so logs and CI stay clean."""

    def __init__(self, out: Output, enabled: bool = True) -> None:
        self.out = out
        self.enabled = enabled and out.err.is_terminal
        self._last = 0.0

    def update(self, p: Any) -> None:
        """Redraw from a ``Progress`` snapshot (``a2actl.load.report.Progress``)."""
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._last < 0.2:
            return
        self._last = now
        p99 = format_seconds(p.p99) if p.p99 is not None else "-"
        text = (
            f"{format_seconds(p.elapsed)}  sent {p.sending:.0f} req/s  answers {p.rate:.0f} req/s  "
            f"in flight {p.in_flight}  answered {p.answered}  p99 {p99}  errors {p.failures}"
            + (f"  dropped {p.dropped}" if p.dropped else "")
        )
        self.out.stderr.write("\r\x1b[2K" + text)
        self.out.stderr.flush()

    def close(self) -> None:
        """Clear the line."""
        if self.enabled:
            self.out.stderr.write("\r\x1b[2K")
            self.out.stderr.flush()
