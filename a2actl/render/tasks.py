"""Table views of ``send`` and ``task get|list``. Each view takes the ``Output`` and the command's ``-o json`` document."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from rich import box
from rich.table import Table
from rich.text import Text

from a2actl.core.units import format_seconds
from a2actl.render.terminal import cell, safe

if TYPE_CHECKING:
    from a2actl.render.output import Output

_STATE_STYLE = {
    "completed": "bold green",
    "failed": "bold red",
    "rejected": "bold red",
    "canceled": "yellow",
    "input-required": "bold yellow",
    "auth-required": "bold yellow",
    "working": "cyan",
    "submitted": "cyan",
}


def send_result(out: Output, doc: dict[str, Any]) -> None:
    """Human view of ``send``: the dry run, or the task / message it produced."""
    if doc.get("dryRun"):
        out.out.print(Text(f"{doc['method']}  {safe(doc['url'])}", style="bold"))
        for k, v in doc["headers"].items():
            out.out.print(Text(f"{safe(k)}: {safe(v)}"))
        out.out.print(Text(json.dumps(doc["body"], indent=2, ensure_ascii=False)))
        out.out.print(Text("\n" + (doc.get("grpcurl") or doc["curl"])))
        return
    if doc.get("streaming"):
        if doc.get("taskId") is None:
            # no task: a bare Message answered the send (the stream reached its end), or the stream
            # ended before any event named a task ("task : -" said neither)
            done = doc.get("outcome") == "completed" and doc.get("events")
            out.out.print(Text("answered with a message (no task)" if done else "no task seen", style="bold"))
            return
        out.out.print(
            Text(f"task {safe(doc['taskId'])}: ", style="bold").append(
                safe(doc["state"] or "-"), style=_STATE_STYLE.get(doc["state"] or "", "")
            )
        )
        if doc.get("statusMessage"):
            out.out.print(Text("status: " + safe(doc["statusMessage"], 2000)))
        elif doc.get("reason"):
            from a2actl.render.stream import reason_source

            out.out.print(
                Text(f"reason (no status message; from {safe(reason_source(doc['reason']))}): ")
                + Text(safe(doc["reason"].get("text"), 2000))
            )
        return
    if doc.get("polled"):
        p = doc["polled"]
        out.err.print(
            Text(
                f"note: {safe(p['reason'])} ({p['polls']} GetTask poll(s), {format_seconds(p['seconds'])})",
                style="yellow",
            )
        )
    task(out, {"task": doc["result"], "method": doc["method"]})


def task(out: Output, doc: dict[str, Any]) -> None:
    """Human view of one task (or a bare Message answer)."""
    v = doc["task"]
    if v.get("kind") == "message":
        out.out.print(Text(f"message {safe(v.get('id'))} (no task)", style="bold"))
        out.out.print(Text(safe(v.get("text"), 4000)))
        return
    head = Text(f"task {safe(v.get('id'))}  ", style="bold")
    head.append(safe(v.get("state") or "-"), style=_STATE_STYLE.get(v.get("state") or "", ""))
    head.append(f"  context {safe(v.get('contextId'))}", style="dim")
    out.out.print(head)
    if v.get("statusMessage"):
        out.out.print(Text("status: " + safe(v["statusMessage"], 2000)))
    for a in v.get("artifacts") or []:
        out.out.print(
            Text(f"artifact {safe(a.get('name') or a.get('artifactId'))}: ", style="bold").append(
                safe(a.get("text"), 2000)
            )
        )


def task_list(out: Output, doc: dict[str, Any]) -> None:
    """Human view of ``task list``."""
    t = Table(box=box.SIMPLE_HEAD)
    for col in ("id", "state", "contextId", "artifacts"):
        t.add_column(col, overflow="fold")
    for v in doc["tasks"]:
        t.add_row(
            Text(cell(v.get("id"))),
            Text(cell(v.get("state") or "-"), style=_STATE_STYLE.get(v.get("state") or "", "")),
            Text(cell(v.get("contextId"))),
            str(len(v.get("artifacts") or [])),
        )
    out.out.print(t)
    more = f"; next page: --page-token {doc['nextPageToken']}" if doc.get("nextPageToken") else ""
    out.out.print(Text(f"{len(doc['tasks'])} task(s) (total {doc.get('totalSize')}){more}", style="dim"))
