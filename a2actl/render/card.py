"""Table views of ``card get``: identity, interfaces, capabilities, skills, security. Each view takes the ``Output`` and the command's ``-o json`` document."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich import box
from rich.table import Table
from rich.text import Text

from a2actl.render.terminal import cell, safe

if TYPE_CHECKING:
    from a2actl.render.output import Output


def card(out: Output, doc: dict[str, Any]) -> None:
    """Human view of ``card get``: identity, interfaces, capabilities, skills, security."""
    v = doc["normalized"]
    ident = Table(box=box.SIMPLE_HEAD, show_header=False, pad_edge=False)
    ident.add_column(style="bold")
    ident.add_column()
    provider = v.get("provider") or {}
    rows = [
        ("name", v.get("name")),
        ("description", v.get("description")),
        ("version", v.get("version")),
        ("provider", provider.get("organization")),
        ("source", doc.get("source")),
        *([("redirected to", doc["finalUrl"])] if doc.get("finalUrl") else []),
        ("card shape", f"{v['shape']} (declares {', '.join(v['declaredVersions']) or 'no version'})"),
        ("signed", "yes" if v.get("signed") else "no"),
    ]
    for k, val in rows:
        ident.add_row(k, Text(safe(val) if k == "description" else cell(val)))
    out.out.print(ident)
    ifs = Table(title="Interfaces", box=box.SIMPLE_HEAD, title_justify="left")
    for col in ("#", "binding", "version", "url", "declared by"):
        ifs.add_column(col)
    for i, iface in enumerate(v["interfaces"], 1):
        ifs.add_row(
            str(i),
            Text(cell(iface["protocolBinding"])),
            Text(cell(iface["protocolVersion"] or "?")),
            Text(cell(iface["url"])),
            iface["source"],
        )
    out.out.print(ifs)
    caps = v["capabilities"]
    out.out.print(
        Text(
            "Capabilities: "
            + ", ".join(f"{k}={'yes' if val else 'no'}" for k, val in caps.items())
            + (f"; extensions: {len(v['extensions'])}" if v["extensions"] else "")
        )
    )
    sk = Table(title=f"Skills ({len(v['skills'])})", box=box.SIMPLE_HEAD, title_justify="left")
    for col in ("id", "name", "tags", "examples"):
        sk.add_column(col)
    for s in v["skills"]:
        sk.add_row(
            Text(cell(s["id"])),
            Text(cell(s["name"])),
            Text(cell(", ".join(s["tags"]))),
            Text(cell("; ".join(s["examples"]), 120)),
        )
    out.out.print(sk)
    if v["securitySchemes"] or v["securityRequirements"]:
        sec = Table(title="Security", box=box.SIMPLE_HEAD, title_justify="left")
        sec.add_column("scheme")
        sec.add_column("type")
        sec.add_column("required")
        required = {name for req in v["securityRequirements"] for name in req}
        for name, scheme in v["securitySchemes"].items():
            detail = scheme.get("scheme") or scheme.get("location") or ""
            sec.add_row(
                Text(cell(name)),
                Text(cell(f"{scheme.get('type')} {detail}".strip())),
                "yes" if name in required else "no",
            )
        out.out.print(sec)
    else:
        out.out.print(Text("Security: none declared"))
    for note in doc.get("notes", []) + v.get("warnings", []):
        out.warn(note)
