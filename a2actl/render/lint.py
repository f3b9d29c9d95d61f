"""Table view of ``caps lint`` (the ``-o json`` document is ``LintResult.to_json``; rules in
``docs/lint-rules.md``), and the ``-o sarif`` writer."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich import box
from rich.table import Table
from rich.text import Text

from a2actl.render.caps import source_text
from a2actl.render.terminal import cell, safe

if TYPE_CHECKING:
    from a2actl.render.output import Output

_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}


def lint(out: Output, doc: dict[str, Any]) -> None:
    """Human view of ``caps lint``: a header, one row per finding (severity, rule, pointer, message
    and the fix), the ``--live`` checks, the rules not run, then the verdict against ``--fail-on``."""
    out.out.print(
        Text(
            f"{source_text(doc)}: {doc['shape']} card, {len(doc['rulesRun'])} "
            + ("rule" if len(doc["rulesRun"]) == 1 else "rules")
            + (" + live checks" if doc["live"] else "")
            + (f", config {safe(doc['config'])}" if doc.get("config") else "")
        )
    )
    findings = doc["findings"]
    if findings:
        t = Table(box=box.SIMPLE_HEAD, show_edge=False)
        t.add_column("severity", no_wrap=True)
        t.add_column("rule", no_wrap=True)
        t.add_column("pointer", no_wrap=True)
        t.add_column("finding", overflow="fold")
        for f in findings:
            sup = f.get("suppressed")
            sev = Text(f["severity"], style="dim" if sup else _STYLE.get(f["severity"], ""))
            msg = Text(cell(f["message"]), style="dim" if sup else "")
            if sup:
                msg.append(f"\nallowed ({cell(sup['source'])}): {cell(sup['reason'])}", style="dim")
            else:
                msg.append(f"\nfix: {cell(f['fix'])}", style="dim")
            t.add_row(sev, Text(f"{f['id']} {f['name']}"), Text(cell(f["pointer"] or "/")), msg)
        out.out.print(t)
    else:
        out.out.print(Text("no findings", style="bold green"))
    for rule_id, n in doc.get("omitted", {}).items():
        out.out.print(Text(f"… {n} more {rule_id} finding{'s' if n != 1 else ''} not listed", style="dim"))
    for c in doc.get("liveChecks", []):
        style = {"answered": "bold red", "refused": "green"}.get(c["outcome"], "yellow")
        line = Text("live     ", style="dim")
        line.append(f"{c['outcome']:<9}", style=style)
        line.append(f"{safe(c['url'])} ({c['binding']} {c['version']}): {safe(c['detail'])}")
        out.out.print(line)
    for n in doc.get("notRun", []):
        out.out.print(Text(f"not run  {n['id']}: {safe(n['reason'])}", style="dim"))
    for src in doc.get("unusedAllow", []):
        out.warn(f"allow entry {src} matched no finding")
    c = doc["counts"]
    verdict = (
        f"{c['error']} error(s), {c['warning']} warning(s), {c['info']} info"
        + (f", {c['suppressed']} allowed" if c["suppressed"] else "")
        + f"; --fail-on {doc['failOn']}: "
    )
    out.out.print(
        Text(
            verdict + ("FAIL" if doc["failed"] else "pass"),
            style="bold red" if doc["failed"] else "bold green",
        )
    )
    for note in doc.get("notes", []):
        out.warn(note)


def sarif(out: Output, log: dict[str, Any]) -> None:
    """Write a SARIF log (``a2actl.caps.sarif.to_sarif``) as one JSON document on stdout, through
    the run's redacting stream."""
    out.json(log)
