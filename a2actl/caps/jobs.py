"""The caps operator jobs: load what they need, run the pure checks, return output documents.

Each job returns ``(document, exit_code)``; shapes are documented in ``docs/output-formats.md``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from a2actl.agent.discovery import load_card, source_json
from a2actl.core.errors import UsageError

if TYPE_CHECKING:
    from a2actl.core.config import Settings
    from a2actl.core.sink import EventSink


async def validate_job(
    target: str,
    settings: Settings,
    sink: EventSink | None,
    *,
    card_path: str | None,
    strict: bool,
    live: bool,
) -> tuple[dict[str, Any], int]:
    """``caps validate``: exit 6 for schema violations, 7 for failed checks, else 0."""
    from a2actl.caps.validate import validate_card

    fetched = await load_card(target, settings, sink, card_path)
    report = validate_card(
        fetched.raw,
        fetched.source if fetched.http is not None else None,
        version=settings.a2a_version,
        strict=strict,
    )
    if live:
        if fetched.http is None and not fetched.view.interfaces:
            raise UsageError("--live needs interfaces to call; this card declares none")
        from a2actl.caps.live import live_findings
        from a2actl.transport.http import HttpTransport

        async with HttpTransport(settings, sink) as transport:
            report.findings += await live_findings(fetched, transport)
    doc = {**source_json(fetched), "live": live, **report.to_json()}
    return doc, report.exit_code()


async def snapshot_job(
    target: str, settings: Settings, sink: EventSink | None, card_path: str | None
) -> dict[str, Any]:
    """``caps snapshot``: the snapshot document of TARGET (a snapshot file is passed through)."""
    return (await _side(target, settings, sink, card_path))[0]


def _is_local_json(target: str) -> bool:
    from a2actl.agent.target import parse_target

    try:
        return parse_target(target).kind == "file"
    except UsageError:
        return False


def _read_json_file(path: str) -> Any:
    from a2actl.agent.target import parse_target

    p = Path(parse_target(path).value)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path} is not UTF-8 text") from exc
    try:
        return json.loads(text)
    except ValueError as exc:
        raise UsageError(f"{path} is not JSON: {exc}") from exc


async def _side(
    target: str, settings: Settings, sink: EventSink | None, card_path: str | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A diff side: ``(snapshot, source document)`` from a URL, a card file or a snapshot file."""
    from a2actl.caps.snapshot import is_snapshot, snapshot

    if _is_local_json(target):
        doc = _read_json_file(target)
        if is_snapshot(doc):
            return doc, {"source": target, "kind": "snapshot", "notes": []}
    fetched = await load_card(target, settings, sink, card_path)
    return snapshot(fetched.raw), source_json(fetched)


async def diff_job(
    target: str,
    other: str | None,
    expect: str | None,
    settings: Settings,
    sink: EventSink | None,
    *,
    card_path: str | None,
    fail_on: str,
) -> tuple[dict[str, Any], int]:
    """``caps diff``: ``TARGET --expect FILE`` or ``A B`` (A before, B after). Exit 7 when a change
    reaches ``fail_on``; 2 for a bad expectation."""
    from a2actl.caps.diff import counts, diff_snapshots, failed
    from a2actl.caps.expect import compare

    kind: str | None
    if (other is None) == (expect is None):
        raise UsageError(
            "give either TARGET --expect FILE, or two targets TARGET_A TARGET_B",
            hint="a2actl caps diff URL --expect expected.json | a2actl caps diff BLUE_URL GREEN_URL",
        )
    if expect is not None:
        expectation = _read_json_file(expect)
        after, after_src = await _side(target, settings, sink, card_path)
        kind, changes = compare(expectation, after)  # type: ignore[assignment]
        before_src: dict[str, Any] = {"source": expect, "kind": kind, "notes": []}
    else:
        before, before_src = await _side(target, settings, sink, card_path)
        after, after_src = await _side(other, settings, sink, card_path)  # type: ignore[arg-type]
        kind, changes = None, diff_snapshots(before, after)
    is_failed = failed(changes, fail_on)
    doc = {
        "mode": "expect" if expect is not None else "targets",
        "before": before_src,
        "after": after_src,
        "expectation": kind,
        "failOn": fail_on,
        "failed": is_failed,
        "counts": counts(changes),
        "changes": [c.to_json() for c in changes],
    }
    return doc, 7 if is_failed else 0


async def fingerprint_job(
    target: str, settings: Settings, sink: EventSink | None, card_path: str | None
) -> tuple[dict[str, Any], int]:
    """``caps fingerprint``: exit 7 when the card claims a version an endpoint rejects."""
    from a2actl.caps.fingerprint import fingerprint
    from a2actl.transport.http import HttpTransport

    fetched = await load_card(target, settings, sink, card_path)
    async with HttpTransport(settings, sink) as transport:
        fp = await fingerprint(fetched, transport)
    return {**fp.to_json(), "notes": fetched.notes}, fp.exit_code()
