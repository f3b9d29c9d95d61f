"""Table views of ``caps validate|snapshot|diff|fingerprint``. Each view takes the ``Output`` and the
command's ``-o json`` document (shapes in ``docs/output-formats.md``; change classes, expectation
kinds and fingerprint verdicts in ``docs/caps.md``)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from rich import box
from rich.table import Table
from rich.text import Text

from a2actl.render.terminal import cell, safe

if TYPE_CHECKING:
    from a2actl.render.output import Output

_SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "info": "dim"}

_CLASS_STYLE = {"breaking": "bold red", "risky": "yellow", "cosmetic": "dim"}

_STATUS_STYLE = {"valid": "green", "invalid": "bold red", "unknown-key": "yellow", "malformed": "bold red"}
_SIGNATURE_STYLE = {"valid": "green", "invalid": "bold red", "unverified-no-key": "yellow", "absent": "dim"}


def source_text(doc: dict[str, Any]) -> str:
    """Where a card came from, for a header line: the ``source`` asked for, and when ``-L`` followed
    redirects to another URL (``finalUrl``) that one too: ``ASKED (redirected to FINAL)``. Escaped
    for the terminal (``safe``)."""
    final = doc.get("finalUrl")
    where = safe(doc.get("source"))
    return f"{where} (redirected to {safe(final)})" if final else where


def validate(out: Output, doc: dict[str, Any]) -> None:
    """Human view of ``caps validate``: one row per finding, then a verdict line."""
    counts = doc["counts"]
    out.out.print(
        Text(
            f"{source_text(doc)}: {doc['shape']} card, checked against the "
            f"{' and '.join(doc['schemas']) or 'no'} schema"
            + ("s" if len(doc["schemas"]) > 1 else "")
            + (" (strict)" if doc["strict"] else "")
            + (" + live checks" if doc["live"] else "")
        )
    )
    # groups with more findings than shown (``truncated``): "… and N more" after the last one shown
    more = {(t["kind"], t["schema"], t["check"]): t for t in doc.get("truncated", []) if isinstance(t, dict)}
    printed: dict[tuple[Any, Any, Any], int] = {}
    for f in doc["findings"]:
        line = Text(f"{f['severity']:<8}", style=_SEVERITY_STYLE.get(f["severity"], ""))
        line.append(safe(f["pointer"] or "/"), style="bold")
        line.append("  " + safe(f["message"]))
        out.out.print(line)
        what = f"schema {f['schema']}" if f["kind"] == "schema" else f"check {f['check']}"
        out.out.print(Text(f"{'':8}{what} · {safe(f['section'])}", style="dim"))
        key = (f["kind"], f["schema"] if f["kind"] == "schema" else None, f["check"])
        printed[key] = printed.get(key, 0) + 1
        cut = more.get(key)
        if cut is not None and printed[key] == cut["shown"]:
            out.out.print(Text(f"{'':8}… and {cut['omitted']:,} more ({safe(what)})", style="bold"))
    verdict = (
        "schema violations"
        if counts["schemaErrors"]
        else "operational checks failed"
        if counts["checkErrors"]
        else "valid"
    )
    style = "bold green" if verdict == "valid" else "bold red"
    out.out.print(
        Text(
            f"{verdict}: {counts['schemaErrors']} schema error(s), {counts['checkErrors']} "
            f"failed check(s), {counts['warnings']} warning(s)",
            style=style,
        )
    )
    sig = doc.get("signature")
    if sig is not None:
        n = len(sig.get("signatures", []))
        out.out.print(
            Text(
                f"signature: {sig['state']}" + (f" ({n} signature{'s' if n != 1 else ''})" if n else ""),
                style=_SIGNATURE_STYLE.get(sig["state"], ""),
            )
        )
    for note in doc.get("notes", []):
        out.warn(note)


def snapshot(out: Output, doc: dict[str, Any]) -> None:
    """``caps snapshot`` has no table: the snapshot is always written as JSON (it is meant to be
    committed and read back by ``caps diff --expect``). A card with several skills of one id
    (``duplicateSkillIds``) also gets a warning on stderr: the snapshot keeps the first of each."""
    out.json(doc)
    ids = doc.get("duplicateSkillIds")
    if isinstance(ids, list) and ids:
        out.warn(
            f"more than one skill with id {', '.join(repr(i) for i in ids[:5])}"
            f"{' …' if len(ids) > 5 else ''}: the snapshot keeps the first of each "
            "(duplicateSkillIds; caps validate: duplicate-skill-id)"
        )


def diff(out: Output, doc: dict[str, Any]) -> None:
    """Human view of ``caps diff``: changes grouped by class, then the verdict against --fail-on."""
    before, after = doc["before"], doc["after"]
    label = f" ({doc['expectation']})" if doc.get("expectation") else ""
    out.out.print(Text(f"{source_text(before)}{label} → {source_text(after)}"))
    if not doc["changes"]:
        out.out.print(Text("no changes", style="bold green"))
    for klass in ("breaking", "risky", "cosmetic"):
        rows = [c for c in doc["changes"] if c["class"] == klass]
        if not rows:
            continue
        t = Table(
            title=f"{klass} ({len(rows)})",
            title_justify="left",
            title_style=_CLASS_STYLE[klass],
            box=box.SIMPLE_HEAD,
        )
        t.add_column("path", no_wrap=True)  # a JSON pointer is read whole: the prose columns wrap
        for col in ("change", "reason"):
            t.add_column(col, overflow="fold")
        for c in rows:
            t.add_row(
                Text(cell(c["path"] or "/")),
                Text(cell(_change_text(c), 70)),
                Text(cell(c["reason"])),
            )
        out.out.print(t)
    for side in (before, after):
        for note in side.get("notes", []):
            out.warn(f"{side['source']}: {note}")
    n = doc["counts"]
    line = (
        f"{n['breaking']} breaking, {n['risky']} risky, {n['cosmetic']} cosmetic; --fail-on {doc['failOn']}: "
    )
    out.out.print(
        Text(
            line + ("FAIL" if doc["failed"] else "pass"),
            style="bold red" if doc["failed"] else "bold green",
        )
    )


def _change_text(c: dict[str, Any]) -> str:
    """A change's value(s) in one line: ``+ after``, ``- before`` or ``before → after``."""

    def short(v: Any) -> str:
        if isinstance(v, dict) and isinstance(v.get("url"), str):
            return str(v["url"])  # a whole interface: its url says which one
        return json.dumps(v, ensure_ascii=False, default=str) if not isinstance(v, str) else v

    if c["op"] == "added":
        return f"+ {short(c['after'])}"
    if c["op"] == "removed":
        return f"- {short(c['before'])}"
    return f"{short(c['before'])} → {short(c['after'])}"


def fingerprint(out: Output, doc: dict[str, Any]) -> None:
    """Human view of ``caps fingerprint``: per endpoint, declared vs answered; then mismatches."""
    out.out.print(
        Text(
            f"{source_text(doc)}: speaks {', '.join(doc['speaks']) or 'nothing'} "
            f"({doc['verdict']}); the card declares {', '.join(doc['declared']) or 'nothing'}",
            style="bold",
        )
    )
    t = Table(box=box.SIMPLE_HEAD)
    t.add_column("binding", no_wrap=True)
    t.add_column("url", overflow="fold", min_width=24)
    for col in ("declared", "1.0", "0.3", "A2A-Version"):
        t.add_column(col, no_wrap=True)
    for e in doc["endpoints"]:
        cells = []
        for fam in ("1.0", "0.3"):
            p = e["probes"].get(fam)
            mark = (
                {"answers": "answers", "rejects": "rejected", "error": "error"}.get(p["verdict"], "?")
                if p
                else "-"
            )
            style = (
                {"answers": "green", "rejects": "red", "error": "yellow"}.get(p["verdict"], "") if p else ""
            )
            cells.append(Text(mark, style=style))
        vh = e["versionHeader"]
        header = "honoured" if vh["honoured"] else "ignored" if vh["honoured"] is False else "n/a"
        if vh["missingHeaderReadAs"] == "1.0":
            header += "; missing = 1.0"
        t.add_row(
            Text(cell(e["protocolBinding"])),
            Text(cell(e["url"])),
            ", ".join(e["declaredVersions"]) or "-",
            *cells,
            header,
        )
    out.out.print(t)
    out.out.print(
        Text(
            "1.0 = GetTask with 'A2A-Version: 1.0'; 0.3 = tasks/get without the header; "
            "both on a random task id (TaskNotFound = answers)",
            style="dim",
        )
    )
    grpc = [e for e in doc["endpoints"] if e["protocolBinding"] == "GRPC"]
    if grpc:
        out.out.print(
            Text(
                "GRPC: 1.0 = lf.a2a.v1.A2AService/GetTask with 'a2a-version: 1.0'; "
                "0.3 = a2a.v1.A2AService/GetTask without it",
                style="dim",
            )
        )
    for e in grpc:
        refl = e.get("reflection")
        if refl is None:
            continue
        if refl["enabled"]:
            text = f"{', '.join(refl['services']) or 'no services'} ({refl['service']})"
        elif refl["enabled"] is None:
            text = f"unknown ({refl['status']}: {refl.get('message') or 'no answer'})"
        else:
            text = "off" + (f" ({refl['status']})" if refl["status"] != "OK" else "")
        out.out.print(Text(f"reflection on {safe(e['url'])}: {safe(text)}"))
    cv = doc.get("cardVariants")
    if cv:
        out.out.print(
            Text(
                "card: "
                + ("changes with A2A-Version" if cv["varies"] else "same for every A2A-Version")
                + (f" (Vary: {safe(cv['vary'])})" if cv.get("vary") else "")
            )
        )
    if doc["bindingsAgree"] is not None:
        names = {"JSONRPC": "JSON-RPC", "GRPC": "gRPC"}
        seen = list(
            dict.fromkeys(names.get(e["protocolBinding"], e["protocolBinding"]) for e in doc["endpoints"])
        )
        both = ", ".join(seen[:-1]) + f" and {seen[-1]}" if len(seen) > 1 else "".join(seen)
        out.out.print(Text("bindings: " + (f"{both} agree" if doc["bindingsAgree"] else "disagree")))
    for m in doc["mismatches"]:
        line = Text(f"{m['severity']}: ", style=_SEVERITY_STYLE.get(m["severity"], ""))
        line.append(safe(m["message"]))
        line.append(" → try: " + safe(m["suggestion"]), style="cyan")
        out.out.print(line)
    for note in doc.get("notes", []):
        out.warn(note)


def verify(out: Output, doc: dict[str, Any]) -> None:
    """Human view of ``caps verify``: one row per signature (kid, alg, key source, status, why), what
    was signed (sha256), the fields the signature does not cover, the verdict; with ``-vv`` the
    canonical JSON that was signed."""
    sigs = doc["signatures"]
    out.out.print(
        Text(f"{source_text(doc)}: {len(sigs)} signature{'s' if len(sigs) != 1 else ''}", style="bold")
    )
    if sigs:
        t = Table(box=box.SIMPLE_HEAD)
        for col in ("#", "kid", "alg", "key source", "status"):
            t.add_column(col, no_wrap=col != "key source", overflow="fold")
        t.add_column("why", overflow="fold")
        for s in sigs:
            why = s["reason"] or ""
            if s.get("jkuUse") and s["status"] == "valid" and s["jkuUse"] in ("same-host", "allowed"):
                why = f"key from jku ({s['jkuUse']})"
            t.add_row(
                str(s["index"]),
                Text(cell(s["kid"] if s["kid"] is not None else "-", 64)),  # no_wrap column: cut
                Text(cell(s["alg"] or "-", 16)),
                Text(cell(s["keySource"] or "-")),
                Text(s["status"], style=_STATUS_STYLE.get(s["status"], "")),
                Text(cell(why)),
            )
        out.out.print(t)
        out.out.print(Text(f"signed bytes: sha256 {doc['sha256']}", style="dim"))
    if doc["uncovered"]:
        out.out.print(
            Text(
                "not covered by the signature (v0.3 compatibility, unknown or emptied fields): "
                + ", ".join(safe(p) for p in doc["uncovered"]),
                style="dim",
            )
        )
    if doc.get("canonical") is not None:
        out.out.print(Text("canonical JSON (the signed payload):", style="dim"))
        out.out.print(Text(safe(doc["canonical"], 1_000_000)))
    c = doc["counts"]
    if not sigs:
        verdict = "no signature (--require-signature: FAIL)" if doc["requireSignature"] else "no signature"
    else:
        verdict = f"{c['valid']} valid, {c['invalid']} invalid, {c['unknownKey']} unknown key, {c['malformed']} malformed"
    out.out.print(
        Text(
            verdict + (": verified" if doc["verified"] and sigs else ""),
            style="bold green"
            if doc["verified"] and sigs
            else "bold red"
            if not doc["verified"]
            else "yellow",
        )
    )
    for note in doc.get("notes", []):
        out.warn(note)


def signed_card(out: Output, doc: dict[str, Any]) -> None:
    """Human view of ``caps sign`` without ``--out``: the signed card as JSON, whatever fields it has
    (it is meant to be redirected to a file)."""
    out.json(doc)


def sign(out: Output, doc: dict[str, Any]) -> None:
    """Human view of ``caps sign --out FILE``: one summary line, the sha256 of the signed bytes, the
    JWK Set file and the uncovered fields (never any key material). Without ``--out`` the CLI uses
    ``signed_card``: the document is then the card, not this summary."""
    out.out.print(
        Text(
            f"signed {source_text(doc)} → {safe(doc['out'])}: kid {safe(doc['kid'])}, {doc['alg']}, "
            f"{doc['signatures']} signature{'s' if doc['signatures'] != 1 else ''} on the card"
        )
    )
    out.out.print(Text(f"signed bytes: sha256 {doc['sha256']}", style="dim"))
    if doc.get("jwksOut"):
        out.out.print(Text(f"public key (JWK Set): {safe(doc['jwksOut'])}", style="dim"))
    if doc["uncovered"]:
        out.out.print(
            Text("not covered by the signature: " + ", ".join(safe(p) for p in doc["uncovered"]), style="dim")
        )
