"""Table views of ``smoke run|validate``. Each view takes the ``Output`` and the command's ``-o json`` document."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich import box
from rich.table import Table
from rich.text import Text

from a2actl.core.units import format_seconds
from a2actl.render.terminal import cell, safe

if TYPE_CHECKING:
    from a2actl.render.output import Output


def results(out: Output, doc: dict[str, Any]) -> None:
    """Human view of ``smoke run``: one row per check (``duration`` in seconds), a line per check that
    did not pass, then the verdict."""
    t = Table(box=box.SIMPLE_HEAD, title=f"{doc['suite']} ({doc['path']})", title_justify="left")
    for col in ("check", "target", "status", "time", "measured", "bound"):
        t.add_column(col, overflow="fold")
    style = {"pass": "bold green", "fail": "bold red", "error": "bold yellow"}
    for r in doc["results"]:
        t.add_row(
            Text(cell(r["name"])),
            Text(cell(r["target"] or "-")),
            Text(r["status"], style=style[r["status"]]),
            format_seconds(r["duration"]),
            Text(cell(r["measured"])),
            Text(cell(r["bound"])),
        )
    out.out.print(t)
    for r in doc["results"]:
        if r["status"] != "pass" and r["message"]:
            out.out.print(
                Text(f"{r['status']}: {safe(r['name'])}: {safe(r['message'])}", style=style[r["status"]])
            )
    verdict = f"{doc['passed']} passed, {doc['failed']} failed, {doc['errors']} errors"
    out.out.print(
        Text(
            verdict + (f"; JUnit: {doc['junit']}" if doc.get("junit") else ""),
            style="bold green" if doc["exitCode"] == 0 else "bold red",
        )
    )


def valid(out: Output, doc: dict[str, Any]) -> None:
    """Human view of ``smoke validate``: one line with the number of checks and the targets."""
    out.out.print(
        Text(
            f"{doc['path']}: valid, {len(doc['checks'])} check(s) against "
            f"{', '.join(doc['targets']) or 'their own targets'}",
            style="bold green",
        )
    )


def unexpected(out: Output, row: dict[str, Any], exc: BaseException | None = None) -> None:
    """One line on stderr for a check that ended in an unexpected exception (``row``: its ``-o json``
    result; a bug, or a library error a2actl does not map): which check, what was raised, and the
    ``--debug`` hint; with ``exc`` (``--debug``) the traceback after it."""
    where = f" ({row['target']})" if row.get("target") else ""
    line = " ".join(f"check {row['name']!r}{where}: {row['message']}".split())
    out.err.print(
        Text(
            "a2actl: "
            + safe(line, 2000)
            + ("" if exc is not None else " (rerun with --debug for a traceback)"),
            style="bold yellow",
        )
    )
    if exc is not None:
        import traceback

        out.err.print(Text(safe("".join(traceback.format_exception(exc)).rstrip("\n"), 100_000)))


def failed_junit(out: Output, message: str) -> None:
    """One line on stderr: the ``--junit`` file could not be written at the end (``message`` names
    the option, the path and the reason); the results were written already."""
    out.err.print(Text("a2actl: " + safe(message, 2000), style="bold red"))
