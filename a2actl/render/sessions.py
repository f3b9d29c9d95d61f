"""Table views of ``sessions list|show|kill|leaks``. Each view takes the ``Output`` and the command's ``-o json`` document."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

from rich import box
from rich.table import Table
from rich.text import Text

from a2actl.render.terminal import BOGUS_AHEAD, age, cell, count, safe, since

if TYPE_CHECKING:
    from rich.live import Live

    from a2actl.render.output import Output


def _ago(stamp: Any, seconds: float, suffix: str = "ago") -> str:
    """``STAMP (4m12s ago)`` for ``sessions show``; ``STAMP (3.2s in the future: clock skew)``
    for a time dated in the future, ``…: bogus timestamp)`` beyond ``BOGUS_AHEAD`` (see ``since``)."""
    if seconds < -BOGUS_AHEAD:
        return f"{stamp} ({age(-seconds)} in the future: bogus timestamp)"
    if seconds < 0:
        return f"{stamp} ({age(-seconds)} in the future: clock skew)"
    return f"{stamp} ({age(seconds)} {suffix})"


def _table(out: Output, doc: dict[str, Any]) -> Table:
    t = Table(
        box=box.SIMPLE_HEAD,
        title=f"{len(doc['sessions'])} session(s) from {doc['source']}",
        title_justify="left",
    )
    for col in ("id", "state", "age", "idle", "tasks", "peer", "token"):
        t.add_column(col, overflow="fold")
    for s in doc["sessions"]:
        tasks = s.get("tasks") or []
        running = sum(1 for x in tasks if x["state"] not in ("completed", "failed", "canceled", "rejected"))
        tok = s.get("token")
        tok_text = (
            "-" if not tok else ("revoked" if tok["revoked"] else f"{tok['scope']} until {tok['expiresAt']}")
        )
        t.add_row(
            Text(cell(s["id"])),
            Text(
                s["state"],
                style={"active": "cyan", "idle": "yellow", "closed": "dim"}.get(s["state"], ""),
            ),
            since(s.get("ageSeconds")),
            since(s.get("idleSeconds")),
            f"{len(tasks)} ({running} running)",
            Text(cell(s.get("peer") or "-")),
            Text(cell(tok_text)),
        )
    return t


def table(out: Output, doc: dict[str, Any]) -> None:
    """Human view of ``sessions list``."""
    out.out.print(_table(out, doc))


#: The live table of each ``Output`` that shows ``sessions list --watch`` (one per run).
_LIVE: WeakKeyDictionary[Output, Live] = WeakKeyDictionary()


def live(out: Output, doc: dict[str, Any] | None, failure: tuple[str, int] | None = None) -> None:
    """``sessions list --watch``: one live table (the ``sessions list`` document ``doc``; ``None``
    before a refresh has succeeded), redrawn in place. ``failure``: ``(message, in a row)`` of the
    refreshes that failed since ``doc``, said in the caption under the table it leaves shown."""
    from rich.live import Live

    if doc is None:
        view = Table(box=box.SIMPLE_HEAD, title="no sessions listed yet", title_justify="left")
        for col in ("id", "state", "age", "idle", "tasks", "peer", "token"):
            view.add_column(col)
    else:
        view = _table(out, doc)
    if failure is not None:
        message, times = failure
        view.caption = Text(
            safe(f"refresh failed ({times} in a row), still watching: {message}", 2000)
            + ("; the table is the last good refresh" if doc is not None else ""),
            style="yellow",
        )
        view.caption_justify = "left"
    shown = _LIVE.get(out)
    if shown is None:
        shown = _LIVE[out] = Live(view, console=out.out, auto_refresh=False)
        shown.start()
    shown.update(view, refresh=True)


def stop_live(out: Output) -> None:
    """End ``out``'s live table (``live``), if it has one: rich shows the cursor again (it stayed
    hidden after Ctrl-C) and, on a console that is not a terminal (a pipe, a file: nothing is drawn
    while it runs), writes the last table. A no-op when no table was shown."""
    shown = _LIVE.pop(out, None)
    if shown is not None:
        shown.stop()


def detail(out: Output, doc: dict[str, Any]) -> None:
    """Human view of ``sessions show``."""
    s = doc["session"]
    t = Table(box=box.SIMPLE_HEAD, show_header=False)
    t.add_column(style="bold")
    t.add_column()
    tok = s.get("token")
    rows = [
        ("id", s["id"]),
        ("state", s["state"]),
        ("peer", s.get("peer") or "-"),
        ("contexts", ", ".join(s.get("contextIds") or []) or "-"),
        # ageSeconds/idleSeconds stop at closedAt (docs/debug-endpoints.md): for a closed
        # session they are its lifetime and its last idle spell, not "ago".
        (
            "created",
            _ago(s["createdAt"], s["ageSeconds"])
            if not s.get("closedAt")
            else f"{s['createdAt']} (lived {since(s['ageSeconds'])})",
        ),
        (
            "last activity",
            _ago(s["lastActivityAt"], s["idleSeconds"])
            if not s.get("closedAt")
            else f"{s['lastActivityAt']} ({since(s['idleSeconds'])} before it closed)",
        ),
        (
            "token",
            "-"
            if not tok
            else f"scope {tok['scope']}, expires {tok['expiresAt']}"
            + (", revoked" if tok["revoked"] else ""),
        ),
        (
            "messages",
            f"{s.get('messages')} ({count(s.get('bytesIn'))} bytes in, {count(s.get('bytesOut'))} out)",
        ),
        ("closed", f"{s['closedAt']} ({s['closeReason']})" if s.get("closedAt") else "-"),
    ]
    for k, v in rows:
        t.add_row(k, Text(safe(v)))
    for task in s.get("tasks") or []:
        t.add_row("task", Text(f"{cell(task['id'])}  {task['state']}"))
    out.out.print(t)


def killed(out: Output, doc: dict[str, Any]) -> None:
    """Human view of ``sessions kill``: the plan (dry run) or what was cancelled and revoked."""
    if doc["dryRun"] or not doc["results"]:
        verb = "would kill" if doc["dryRun"] else "nothing to kill:"
        listed = ": " + ", ".join(doc["selected"]) if doc["selected"] else ""
        out.out.print(Text(safe(f"{verb} {len(doc['selected'])} session(s){listed}", 4000)))
        return
    t = Table(box=box.SIMPLE_HEAD)
    for col in ("session", "result", "cancelled tasks", "already ended", "token revoked"):
        t.add_column(col, overflow="fold")
    for r in doc["results"]:
        if "error" in r:
            result = f"failed: {r['error']['code']}" + (" (partly killed)" if r["canceledTasks"] else "")
        elif not r["found"]:
            result = "not found"
        else:
            result = "already closed" if r["alreadyClosed"] else "killed"
        t.add_row(
            Text(cell(r["id"])),
            Text(result, style="red" if "error" in r or not r["found"] else ""),
            Text(cell(", ".join(r["canceledTasks"]) or "-")),
            Text(cell(", ".join(r["alreadyTerminalTasks"]) or "-")),
            "yes" if r["tokenRevoked"] else "no",
        )
    out.out.print(t)


def kill_failures(out: Output, doc: dict[str, Any]) -> None:
    """One ``a2actl:`` line on stderr per session whose kill failed (every format: the document on
    stdout carries the same errors)."""
    for r in doc.get("results") or []:
        e = r.get("error")
        if not e:
            continue
        line = Text("a2actl: ", style="bold red")
        line.append(safe(f"kill {r['id']} failed: {e['message']}", 2000))
        if e.get("hint"):
            line.append(" (hint: " + safe(e["hint"]) + ")", style="yellow")
        out.err.print(line)


def leaks(out: Output, doc: dict[str, Any]) -> None:
    """Human view of ``sessions leaks``."""
    ahead = doc.get("clockAheadSeconds") or 0
    if ahead > 0:
        out.err.print(
            Text(
                f"note: sessions are dated up to {age(ahead)} in the future: the agent's clock is at "
                f"least that far ahead of this machine's; their ages are counted with it added",
                style="yellow",
            )
        )
    bogus = doc.get("bogusTimestamps") or []
    if bogus:
        shown = ", ".join(bogus[:5]) + (f" and {len(bogus) - 5} more" if len(bogus) > 5 else "")
        out.err.print(
            Text(
                safe(
                    f"note: {len(bogus)} session(s) dated more than a day in the future "
                    f"(a bogus timestamp, not a clock skew): {shown}; their ages so dated are not "
                    "judged nor counted in the skew",
                    2000,
                ),
                style="yellow",
            )
        )
    pending = doc.get("withinGrace") or []
    if pending:
        out.err.print(
            Text(
                f"note: {len(pending)} session(s) have ended all their tasks but are still within "
                f"--grace {age(doc['grace'])}: not counted yet; check again later or pass "
                "--grace 0",
                style="yellow",
            )
        )
    if doc["ok"]:
        out.out.print(
            Text(
                f"no leaks: {doc['checked']} open session(s), none over --max-age "
                f"{age(doc['maxAge'])} or open after their tasks ended"
                + (f" ({len(pending)} within --grace)" if pending else ""),
                style="bold green",
            )
        )
        return
    for leak in doc["leaks"]:
        line = Text(f"LEAK {safe(leak['id'])}: ", style="bold red")
        line.append(safe("; ".join(leak["reasons"])))
        out.out.print(line)
    out.out.print(Text(f"{len(doc['leaks'])} leaked of {doc['checked']} open session(s)", style="bold red"))
