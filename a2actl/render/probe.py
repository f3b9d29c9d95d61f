"""Table views of ``handshake probe`` and ``demo``: waterfall, percentiles, histogram, failures,
budget. Each view takes the ``Output`` and the command's ``-o json`` document (``ProbeReport.to_json``,
shape in ``docs/output-formats.md``; times in seconds, shown with ``format_seconds``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich import box
from rich.table import Table
from rich.text import Text

from a2actl.core.phases import PHASE_LABELS
from a2actl.core.units import format_seconds
from a2actl.render.terminal import bar, safe

if TYPE_CHECKING:
    from a2actl.render.output import Output


def report(out: Output, report: dict[str, Any]) -> None:
    """Human view of ``handshake probe``: a waterfall for one sample, percentiles and a histogram
    for many, then failures and budget verdicts."""
    neg = report["negotiation"]
    head = Text()
    head.append("card        ", style="bold")
    head.append(safe(report["cardUrl"]))
    head.append(
        f"  ({report['card']['shape']} card; declares {', '.join(report['card']['declaredVersions']) or '?'})"
    )
    out.out.print(head)
    line = Text()
    line.append("negotiated  ", style="bold")
    line.append(f"{neg['protocolBinding']} {neg['protocolVersion']} at {safe(neg['url'])}")
    out.out.print(line)
    out.out.print(Text("            " + safe(neg["reason"]), style="dim"))
    for n in report["discovery"]["notes"]:
        out.note(n)
    samples = report["samples"]
    ok = [s for s in samples if s["ok"]]
    if len(samples) == 1:
        _waterfall(out, samples[0], PHASE_LABELS)
    else:
        _percentiles(out, report, PHASE_LABELS)
        _histogram(out, report["histogram"])
    if ok and ok[0].get("rpc"):
        rpc = ok[0]["rpc"]
        err = rpc.get("error")
        what = f"{err['code']} {err['name']}" if err else "a task"
        out.out.print(Text(f"first RPC   {rpc['method']} → {what}: {rpc.get('meaning', '')}"))
    if ok and ok[0].get("send"):
        s = ok[0]["send"]
        out.out.print(
            Text(
                f"send        {s['method']}: {s['events']} event(s), "
                + (
                    f"final state {s['finalState']}"
                    + (f" ({safe(s['statusMessage'], 300)})" if s.get("statusMessage") else "")
                    if s["finalState"]
                    else "answered with a message (no task)"
                )
            )
        )
    if ok and ok[0].get("session"):
        ses = ok[0]["session"]
        out.out.print(
            Text(
                f"session     {safe(ses['url'])}: HTTP {ses['status']}, token issued: "
                f"{'yes (not shown)' if ses['tokenIssued'] else 'no'}"
            )
        )
    if report["failures"]:
        total = len(samples)
        fails = ", ".join(f"{k} {v}" for k, v in report["failures"].items())
        out.out.print(
            Text(f"failures    {sum(report['failures'].values())} of {total}: {fails}", style="red")
        )
        first = next(s for s in samples if not s["ok"])
        e = first["error"]
        out.out.print(Text(f"            in {first['failedPhase']}: {safe(e['message'], 400)}", style="red"))
        if e.get("hint"):
            out.out.print(Text(f"            hint: {safe(e['hint'])}", style="yellow"))
    vc = report.get("versionCheck")
    if vc and vc.get("conclusion"):
        out.out.print(Text(f"version     {vc['conclusion']}", style="yellow"))
    budget = report["budget"]
    for v in budget["violations"]:
        out.out.print(Text(f"budget      FAIL {v['message']}", style="bold red"))
    if budget["limits"] and budget["ok"] and ok:
        limits = ", ".join(f"{b['metric']}≤{format_seconds(b['limit'])}" for b in budget["limits"])
        out.out.print(Text(f"budget      ok ({limits}, on p99)", style="green"))
    out.out.print(Text(f"trace id    {report['traceId']}", style="dim"))


def demo(out: Output, report_doc: dict[str, Any]) -> None:
    """Human view of ``demo``: the probe report, then where to go next (on stderr)."""
    report(out, report_doc)
    out.note(
        "next: a2actl sandbox serve --port 9999, then a2actl caps validate http://127.0.0.1:9999 "
        "or a2actl stream tail http://127.0.0.1:9999 --send hi"
    )


#: The waterfall's bars get what the phase and time columns leave of the terminal: at most
#: ``_BARS`` columns, and none under ``_MIN_BARS``.
_BARS, _MIN_BARS = 40, 8


def _waterfall(out: Output, sample: dict[str, Any], labels: dict[str, str]) -> None:
    """One sample's phases: label, time and a bar per phase. The bars fit the terminal (40 columns
    at most): 40 fixed columns of bars on a narrow terminal (``COLUMNS=40``) squeezed the label and
    time columns to nothing, so only the bars were shown; under ``_MIN_BARS`` columns there are no
    bars, the figures stay."""
    phases = sample["phases"]
    total = sum(phases.values()) or 1e-9
    names = [labels.get(name, name) for name in phases] + ["total"]
    times = [format_seconds(d) for d in phases.values()] + [format_seconds(sum(phases.values()))]
    # between the three columns two gaps of three (padding and the box's divider; none at the edges)
    width = min(_BARS, out.out.width - max(map(len, names)) - max(map(len, times)) - 6)
    bars = width >= _MIN_BARS
    t = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    t.add_column("phase", no_wrap=True)
    t.add_column("time", justify="right", no_wrap=True)
    if bars:
        t.add_column("", no_wrap=True)
    start = 0.0
    for name, dur in phases.items():
        left = int(start / total * width)
        bar = max(1, round(dur / total * width)) if dur > 0 else 0
        drawn = [" " * left + "█" * min(bar, width - left)] if bars else []
        t.add_row(labels.get(name, name), format_seconds(dur), *drawn)
        start += dur
    t.add_row("total", format_seconds(sum(phases.values())), *([""] if bars else []))
    out.out.print(t)
    curl = sample.get("curl") or {}
    if curl:
        out.out.print(
            Text(
                "curl-style  "
                + "  ".join(
                    f"{k}={curl[k]:.6f}"
                    for k in (
                        "time_namelookup",
                        "time_connect",
                        "time_appconnect",
                        "time_starttransfer",
                        "time_total",
                    )
                    if k in curl
                ),
                style="dim",
            )
        )
    if not sample["ok"]:
        out.out.print(Text(f"FAILED in {sample['failedPhase']}", style="bold red"))


def _percentiles(out: Output, report: dict[str, Any], labels: dict[str, str]) -> None:
    ok = sum(1 for s in report["samples"] if s["ok"])
    t = Table(
        title=f"{ok} of {len(report['samples'])} samples ok "
        f"(concurrency {report['options']['concurrency']}, "
        f"{'reused connections' if report['options']['reuse'] else 'new connection each'})",
        box=box.SIMPLE_HEAD,
        title_justify="left",
    )
    for col in ("phase", "min", "p50", "p90", "p99", "max"):
        # a narrow terminal wraps a figure rather than cut it to "1.…"
        t.add_column(col, justify="left" if col == "phase" else "right", overflow="fold")
    for name, st in report["stats"].items():
        if st["count"] == 0:
            continue
        t.add_row(
            labels.get(name, name),
            *(format_seconds(st[k]) for k in ("min", "p50", "p90", "p99", "max")),
            style="bold" if name == "total" else None,
        )
    out.out.print(t)


def _histogram(out: Output, buckets: list[dict[str, Any]]) -> None:
    if not buckets:
        return
    top = max(b["count"] for b in buckets) or 1
    out.out.print(Text("total latency histogram", style="bold"))
    extra = _edge_digits([b["from"] for b in buckets] + [buckets[-1]["to"]]) if len(buckets) > 1 else 0
    edges = [(_seconds(b["from"], extra), _seconds(b["to"], extra)) for b in buckets]
    width = max(8, *(len(x) for pair in edges for x in pair))
    for b, (lo, hi) in zip(buckets, edges, strict=True):
        drawn = bar(b["count"], top, 30)
        out.out.print(Text(f"  {lo:>{width}} – {hi:<{width}} {drawn} {b['count']}"))


#: The most digits ``_edge_digits`` adds to ``format_seconds``'s (then 1e-11 s apart at seconds).
_MAX_EXTRA_DIGITS = 9


def _edge_digits(edges: list[float]) -> int:
    """How many digits past ``format_seconds``'s the bucket edges (seconds, ascending) need for
    each label to differ from the next: samples under 10 ms apart gave eight buckets labelled
    "8.25s – 8.25s". 0 when ``format_seconds`` tells them apart; at most ``_MAX_EXTRA_DIGITS``."""
    for extra in range(_MAX_EXTRA_DIGITS + 1):
        labels = [_seconds(e, extra) for e in edges]
        if all(a != b for a, b in zip(labels, labels[1:], strict=False)):
            return extra
    return _MAX_EXTRA_DIGITS


def _seconds(seconds: float, extra: int) -> str:
    """``format_seconds(seconds)`` (its unit: µs, ms or s) with ``extra`` more decimal digits."""
    return format_seconds(seconds, extra)
