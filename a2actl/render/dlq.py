"""Table views of ``dlq list|show|stats|purge|replay``. Each view takes the ``Output`` and the command's ``-o json`` document."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich import box
from rich.table import Table
from rich.text import Text

from a2actl.core.units import format_seconds
from a2actl.render.terminal import cell, safe, since

if TYPE_CHECKING:
    from a2actl.render.output import Output


def _json_text(value: Any) -> Any:
    """A value read from an entry as the table shows it: a string as it is, ``None`` as nothing,
    anything else (a number, an object: an entry's ``messageId`` is what its producer wrote) as
    compact JSON, not Python's spelling of it (``{'a': 1}``, ``True``)."""
    if value is None or isinstance(value, str):
        return value
    import json

    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def entries(out: Output, doc: dict[str, Any]) -> None:
    """Human view of ``dlq list`` (and ``replay --dry-run``)."""
    title = f"{doc['count']} dead letter(s) in {doc['source']}" + (
        " would be replayed" if doc.get("dryRun") else ""
    )
    t = Table(box=box.SIMPLE_HEAD, title=title, title_justify="left")
    for col in ("id", "method", "messageId", "age", "attempts", "error"):
        t.add_column(col, overflow="fold")
    for e in doc["entries"]:
        err = f"{e['errorClass'] or '-'} {e['errorCode'] if e['errorCode'] is not None else ''}".strip()
        t.add_row(
            Text(cell(e["id"])),
            Text(cell(e["method"])),
            Text(cell(_json_text(e["messageId"]))),
            since(e["ageSeconds"]),
            str(e["attempts"]),
            Text(cell(err)),
        )
    out.out.print(t)


def stats(out: Output, doc: dict[str, Any]) -> None:
    """Human view of ``dlq stats``."""
    oldest = doc["oldest"]
    out.out.print(
        Text(
            f"{doc['source']}: depth {doc['depth']}"
            + (f", oldest {cell(oldest['id'])} ({since(oldest['ageSeconds'])})" if oldest else "")
            + (
                f", {doc['invalid']['count']} invalid (skipped)"
                if doc.get("invalid", {}).get("count")
                else ""
            )
            + (
                "; the broker counts " + ", ".join(f"{k} {v}" for k, v in doc["broker"].items())
                if doc.get("broker")
                else ""
            ),
            style="bold",
        )
    )
    peak = max([b["count"] for b in doc["ageHistogram"]] + [1])
    for b in doc["ageHistogram"]:
        out.out.print(Text(f"  {b['bucket']:>5} {b['count']:>8}  " + "█" * round(30 * b["count"] / peak)))
    ahead = doc.get("datedAhead") or {}
    if ahead.get("count"):
        n = ahead["count"]
        out.out.print(
            Text(
                f"  {n} entr{'y' if n == 1 else 'ies'} dated in the future, counted as <1m; the "
                f"furthest: {since(-ahead['maxSeconds'])}",
                style="yellow",
            )
        )
    t = Table(box=box.SIMPLE_HEAD, title="top error codes", title_justify="left")
    t.add_column("code")
    t.add_column("count", justify="right")
    for c in doc["topErrorCodes"]:
        t.add_row(Text(cell(c["code"])), str(c["count"]))
    out.out.print(t)
    t = Table(box=box.SIMPLE_HEAD, title="by target", title_justify="left")
    t.add_column("target", overflow="fold")
    t.add_column("count", justify="right")
    for c in doc["byTarget"]:
        t.add_row(Text(cell(c["target"])), str(c["count"]))
    out.out.print(t)


def entry(out: Output, doc: dict[str, Any]) -> None:
    """Human view of ``dlq show``: the record pretty-printed as JSON (the same as ``-o json``)."""
    out.json(doc)


def purged(out: Output, doc: dict[str, Any]) -> None:
    """Human view of ``dlq purge``: one line per id."""
    for r in doc["results"]:
        out.out.print(
            Text(f"{cell(r['id'])}: " + ("removed" if r["removed"] else "not found (nothing removed)"))
        )


class ReplayProgress:
    """A progress bar on stderr for ``dlq replay`` in table mode: ``record`` per result (a
    ``RecordWriter`` record view), ``notice(text)`` for resume and breaker notices, ``stop()`` at the end."""

    def __init__(self, out: Output) -> None:
        """Start the bar on ``out.err``."""
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.p = Progress(
            TextColumn("replay"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[acked]} acked, {task.fields[dead]} dead"),
            TimeElapsedColumn(),
            console=out.err,
            transient=False,
        )
        self.task = self.p.add_task("replay", total=None, acked=0, dead=0)
        self.acked = self.dead = 0
        self.p.start()

    def record(self, out: Output, rec: dict[str, Any]) -> None:
        """Count one ``{"type": "result", "status", …}`` record (``status`` ``acknowledged`` or
        ``dead-…``)."""
        self.advance(rec)

    def advance(self, rec: dict[str, Any]) -> None:
        """Count one result record."""
        if rec["status"] == "acknowledged":
            self.acked += 1
        else:
            self.dead += 1
        self.p.update(self.task, advance=1, acked=self.acked, dead=self.dead)

    def notice(self, text: str) -> None:
        """One line above the bar."""
        self.p.console.print(Text(safe(text), style="yellow"))

    def stop(self) -> None:
        """Stop refreshing (the bar stays on screen)."""
        self.p.stop()


def replay_progress(out: Output) -> ReplayProgress:
    """A started ``ReplayProgress`` on ``out``'s stderr."""
    return ReplayProgress(out)


def replay_summary(out: Output, s: dict[str, Any]) -> None:
    """Human view of the ``dlq replay`` summary (docs/output-formats.md); ``duration`` in seconds.
    An SQS ``--to-broker`` summary (``"mode": "to-broker"``) is the message move task's end."""
    if s.get("mode") == "to-broker":
        _redrive_summary(out, s)
        return
    t = Table(box=box.SIMPLE_HEAD, show_header=False, title="Replay", title_justify="left")
    t.add_column(style="bold")
    t.add_column()
    dead = s["stillDead"]
    for k, v in [
        ("selected", s["selected"]),
        ("replayed", s["replayed"]),
        ("acknowledged", s["acknowledged"]),
        ("retried", s["retried"]),
        ("still dead", f"{dead['transient']} transient, {dead['permanent']} permanent"),
        ("invalid (skipped)", s.get("invalid", {}).get("count", 0)),
        *([("not found", ", ".join(s["notFound"]))] if s.get("notFound") else []),
        ("resumed removals", s["resumedRemovals"]),
        ("breaker trips", s["breakerTrips"]),
        *([("interrupted", _cut_text(s["cut"]))] if s.get("cut") else []),
        ("duration", format_seconds(s["duration"])),
        ("msgs/s", s["rate"] if s["rate"] is not None else "-"),
        ("journal", s["journal"]),
    ]:
        t.add_row(k, Text(cell(v)))
    out.out.print(t)


def _cut_text(cut: dict[str, Any]) -> str:
    """What Ctrl-C cut (the summary's ``cut``): ``2 in flight after 2s, 3 waiting``."""
    return (
        f"{cut['inFlight']} in flight cut after {cut['grace']:g}s, {cut['waiting']} waiting (not sent again)"
    )


def interrupted(out: Output, s: dict[str, Any]) -> None:
    """The stderr line of a replay that Ctrl-C or SIGTERM stopped (``s``: its summary, with
    ``cut``), as ``load run`` says it: what was kept, what was cut and what that means."""
    cut = s["cut"]
    line = (
        "a2actl: interrupted: no new delivery started; what the agent acknowledged is removed from "
        "the DLQ and journalled"
    )
    if cut["inFlight"]:
        line += (
            f"; {cut['inFlight']} deliver{'y' if cut['inFlight'] == 1 else 'ies'} still in flight after "
            f"{cut['grace']:g}s cut (the agent may have them; they stay in the DLQ, and the next run "
            "delivers them again)"
        )
    if cut["waiting"]:
        line += f"; {cut['waiting']} waiting for a retry, the rate or the breaker not sent again (they stay)"
    out.stderr.write(line + "\n")
    out.stderr.flush()


def _redrive_summary(out: Output, s: dict[str, Any]) -> None:
    """``dlq replay --to-broker`` on SQS: the native redrive's task (``StartMessageMoveTask``)."""
    t = Table(
        box=box.SIMPLE_HEAD, show_header=False, title="Redrive to the source queues", title_justify="left"
    )
    t.add_column(style="bold")
    t.add_column()
    rows: list[tuple[str, Any]] = [
        ("source", s["source"]),
        ("task", s["taskHandle"] or "-"),
        ("status", s["status"]),
        ("moved", f"{s['moved']} of {s['toMove'] if s['toMove'] is not None else '?'}"),
        ("duration", format_seconds(s["duration"])),
    ]
    if s.get("failureReason"):
        rows.append(("failure", s["failureReason"]))
    for k, v in rows:
        t.add_row(k, Text(cell(v)))
    out.out.print(t)
