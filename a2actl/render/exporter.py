"""Table view of ``a2actl exporter --check-config``: the modules (what each probe does, never a
secret: header names and the token's variable name only) and the inventory the schedule would probe.

The document: ``{"modules": [Module.to_json()...], "inventory": {"source", "format", "agents",
"module", "interval"} | null}`` (seconds)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich import box
from rich.table import Table

from a2actl.core.units import format_seconds
from a2actl.render.terminal import cell, safe

if TYPE_CHECKING:
    from a2actl.render.output import Output


def config(out: Output, doc: dict[str, Any]) -> None:
    """One row per module (timeout, checks, budgets, version/binding, credentials, the targets /probe
    accepts), then the inventory line and ``config ok``."""
    table = Table(box=box.SIMPLE, show_edge=False, pad_edge=False)
    for col in ("module", "timeout", "checks", "budgets", "a2a", "credentials", "/probe targets"):
        table.add_column(col)
    for m in doc["modules"]:
        creds = [f"token ${m['tokenEnv']}"] if m.get("tokenEnv") else []
        creds += [f"header {n}" for n in m.get("credentialHeaders") or []]
        budgets = ", ".join(f"{b['metric']}<{format_seconds(b['limit'])}" for b in m.get("budgets") or [])
        allow = ", ".join(m.get("allowTargets") or [])
        allowed = cell(allow) if allow else ("none (credentials)" if creds else "any")
        table.add_row(
            cell(m["name"]),
            format_seconds(m["timeout"]),
            ",".join(m["checks"]),
            budgets or "-",
            f"{m['a2aVersion']}/{m['binding']}",
            cell(", ".join(creds)) or "-",
            allowed,
        )
    out.out.print(table)
    inv = doc.get("inventory")
    if inv:
        out.out.print(
            f"inventory   {safe(inv['source'])} ({inv['format']}): {inv['agents']} agents every "
            f"{format_seconds(inv['interval'])} with module {safe(inv['module'])}"
        )
    out.out.print("config ok")
