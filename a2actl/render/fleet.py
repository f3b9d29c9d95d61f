"""Table views of ``fleet probe`` / ``fleet report`` and the live progress line on stderr.

Views take the ``Output`` and the ``-o json`` document (``FleetReport.to_json`` or ``summary_json``,
shape in docs/fleet.md; times in seconds, shown with ``format_seconds``). Agent names, URLs and
details are untrusted text: every one goes through ``safe``."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from rich import box
from rich.table import Table
from rich.text import Text

from a2actl.core.units import format_seconds
from a2actl.render.terminal import bar, cell, safe

if TYPE_CHECKING:
    from collections.abc import Iterable

    from a2actl.render.output import Output

_BAR = 30
_DETAIL = 100


def _head(doc: dict[str, Any]) -> Text:
    totals = doc["totals"]
    head = Text()
    head.append("fleet       ", style="bold")
    sources = doc.get("sources") or []
    where = (
        f"merged {len(sources)} reports: {', '.join(map(safe, sources))}"
        if len(sources) > 1
        else safe(doc.get("source") or (sources[0] if sources else "-"))
    )
    head.append(where)
    if doc.get("shard"):
        head.append(f"  shard {doc['shard']}", style="dim")
    rate = totals.get("agentsPerSecond")
    n_agents = totals["agents"]
    line = (
        f"\n            {n_agents:,} agent{'s' if n_agents != 1 else ''} in {format_seconds(doc['elapsed'])}"
        + (f", {rate:,.1f} agents/s" if rate else "")
    )
    if totals.get("duplicates"):
        n = totals["duplicates"]
        line += f"; {n:,} duplicate URL{'s' if n != 1 else ''} dropped"
    options = doc.get("options") or {}
    if options:
        checks = ",".join(options.get("checks") or [])
        line += f"; checks {checks}, -c {options.get('concurrency')}"
        if options.get("budget"):
            line += f", budget {format_seconds(options['budget'])}"
    head.append(line, style="dim")
    return head


def _example(example: dict[str, Any]) -> str:
    """``name: detail``; the name left out when it is the URL and the detail already names it."""
    name, url, detail = example.get("name") or "", example.get("url") or "", example.get("detail")
    if not detail:
        return safe(name or url, 80)
    try:
        host = urlsplit(url).netloc if name == url else ""
    except ValueError:  # a hand-edited report's URL
        host = ""
    if host and host in detail:
        return safe(detail, _DETAIL)
    return safe(name or url, 80) + ": " + safe(detail, _DETAIL)


def funnel(out: Output, doc: dict[str, Any]) -> None:
    """The funnel: one row per counted stage with its count, share of the listed agents and a bar."""
    rows = doc["funnel"]
    top = rows[0]["count"] if rows else 0
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, title="funnel", title_justify="left")
    table.add_column("stage")
    table.add_column("agents", justify="right")
    table.add_column("%", justify="right")
    table.add_column("")
    for row in rows:
        table.add_row(
            row["label"],
            f"{row['count']:,}",
            f"{row['percent']:.1f}",
            Text(bar(row["count"], top, _BAR), style="green" if row["count"] == top else "yellow"),
        )
    out.out.print(table)


def causes(out: Output, doc: dict[str, Any]) -> None:
    """Failures grouped by cause, one line per stage they failed at (``byStage``): count, the stage,
    codes seen, an example that failed at that stage (for an invalid card: its first schema error).
    A report without ``byStage`` (an older a2actl's) shows one line per cause."""
    rows = doc["causes"]
    if not rows:
        return
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, title="failures by cause", title_justify="left")
    table.add_column("cause")
    table.add_column("agents", justify="right")
    table.add_column("failed at")
    table.add_column("codes")
    table.add_column("example", overflow="fold")
    labels = {f["stage"]: f["label"] for f in doc["funnel"]}
    for row in rows:
        examples = row.get("examples") or []
        parts = row.get("byStage") or [{"stage": row["stage"], "count": row["count"], "codes": row["codes"]}]
        for i, part in enumerate(parts):
            stage = part["stage"]
            example = next(
                (e for e in examples if e.get("stage") == stage),
                examples[0] if examples and i == 0 and "byStage" not in row else None,
            )
            codes = ", ".join(
                f"{safe(k)}×{v}" if v > 1 else safe(k) for k, v in list((part.get("codes") or {}).items())[:4]
            )
            table.add_row(
                Text(row["cause"], style="red"),
                f"{part['count']:,}",
                labels.get(stage, safe(str(stage))),
                codes,
                _example(example) if example else "",
            )
    out.out.print(table)


def slowest(out: Output, doc: dict[str, Any]) -> None:
    """The slowest agents (by total time, all attempts), with their phases."""
    rows = doc["slowest"]
    if not rows:
        return
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, title="slowest", title_justify="left")
    table.add_column("agent", overflow="fold")
    table.add_column("total", justify="right")
    table.add_column("phases")
    table.add_column("result")
    for row in rows:
        phases = "  ".join(f"{k} {format_seconds(v)}" for k, v in row["phases"].items())
        table.add_row(
            cell(row["name"], 80),
            format_seconds(row["total"]),
            phases,
            Text("ok", style="green") if row["ok"] else Text(cell(row["cause"] or "failed"), style="red"),
        )
    out.out.print(table)


def distribution(out: Output, doc: dict[str, Any]) -> None:
    """Declared versions of the cards read, negotiated version/binding, and how many are 0.x-only."""
    dist = doc["distribution"]
    if not dist["withCard"]:
        return
    line = Text()
    line.append("declared    ", style="bold")
    line.append(", ".join(f"{safe(k)} {v:,}" for k, v in dist["declared"].items()))
    if dist["legacyOnly"]:
        line.append(f"   ({dist['legacyOnly']:,} still 0.x-only)", style="yellow")
    out.out.print(line)
    if dist["negotiated"]:
        neg = Text()
        neg.append("negotiated  ", style="bold")
        neg.append(", ".join(f"{safe(k)} {v:,}" for k, v in dist["negotiated"].items()))
        out.out.print(neg)


def cross_host(out: Output, doc: dict[str, Any]) -> None:
    """How many agents' interface URL is on another host than their card, with the first example."""
    found = doc.get("crossHost") or {}
    n = found.get("agents") or 0
    if not n:
        return
    line = Text()
    line.append("cross-host  ", style="bold")
    line.append(
        f"{n:,} agent{'s' if n != 1 else ''} with an interface URL on another host than the card",
        style="yellow",
    )
    examples = found.get("examples") or []
    if examples:
        first = examples[0]
        line.append(
            f" (e.g. {safe(first.get('name') or first.get('url') or '', 60)}: {safe(first.get('note') or '', 120)})"
        )
    out.out.print(line)


def report(out: Output, doc: dict[str, Any]) -> None:
    """Human view of a fleet report: the run line, the funnel, failures by cause, the slowest agents,
    the version distribution, the verdict."""
    out.out.print(_head(doc))
    funnel(out, doc)
    causes(out, doc)
    slowest(out, doc)
    distribution(out, doc)
    cross_host(out, doc)
    for note in doc.get("notes") or []:
        out.out.print(Text("note        " + safe(note), style="dim"))
    totals = doc["totals"]
    verdict = (
        f"{totals['ok']:,} of {totals['agents']:,} agent{'s' if totals['agents'] != 1 else ''} ok "
        f"({totals['okPercent']:g}%)"
    )
    if totals.get("unchecked"):
        why = "interrupted" if doc.get("interrupted") else "--max-time"
        verdict += f"; {totals['unchecked']:,} not checked ({why})"
    if doc.get("failUnder") is not None:
        verdict += f"; --fail-under {doc['failUnder']:g}%"
    if doc.get("junit"):
        verdict += f"; JUnit: {safe(doc['junit'])}"
    out.out.print(Text(verdict, style="bold green" if doc["exitCode"] == 0 else "bold red"))


def write_json(out: Output, chunks: Iterable[str]) -> None:
    """``-o json`` of a fleet report written in pieces (``FleetReport.json_chunks``): each piece
    through ``out.stdout`` (secrets masked), then a newline, as ``Output.json`` ends a document."""
    for chunk in chunks:
        out.stdout.write(chunk)
    out.stdout.write("\n")
    out.stdout.flush()


class ProgressLine:
    """The live line on stderr while a fleet runs: agents done of total, the running funnel (stage
    counts among the finished agents), failures, agents/s. Drawn only when stderr is a terminal
    (redrawn in place at most 5 times a second, cleared at the end); otherwise nothing."""

    _SHORT = {"reachable": "reach", "card": "card", "negotiated": "neg", "rpc": "rpc", "send": "send"}

    def __init__(self, out: Output, stages: tuple[str, ...], enabled: bool = True) -> None:
        self.out = out
        self.stages = [s for s in stages if s != "listed"]
        self.enabled = enabled and out.err.is_terminal
        self._last = 0.0

    def text(self, p: Any) -> str:
        """The line for a ``FleetProgress`` snapshot (``a2actl.fleet.result.FleetProgress``)."""
        width = 20
        filled = round(width * p.done / p.total) if p.total else width
        rate = p.done / p.elapsed if p.elapsed > 0 else 0.0
        funnel = " > ".join(f"{self._SHORT[s]} {p.stages.get(s, 0):,}" for s in self.stages)
        return (
            f"[{'#' * filled}{'.' * (width - filled)}] {p.done:,}/{p.total:,}  {funnel}  "
            f"failed {p.failures:,}  {rate:,.0f}/s  {format_seconds(p.elapsed)}"
        )

    def update(self, p: Any) -> None:
        """Redraw from a snapshot (throttled to 5 per second, and always the last one)."""
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._last < 0.2 and p.done < p.total:
            return
        self._last = now
        self.out.stderr.write("\r\x1b[2K" + self.text(p))
        self.out.stderr.flush()

    def close(self) -> None:
        """Clear the line."""
        if self.enabled:
            self.out.stderr.write("\r\x1b[2K")
            self.out.stderr.flush()
