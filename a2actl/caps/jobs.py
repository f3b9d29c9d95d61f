"""The caps operator jobs: load what they need, run the pure checks, return a typed result
(``a2actl.caps.results``) with ``.exit`` and ``.to_json()``; shapes in ``docs/output-formats.md``.

Loading a card (``a2actl.agent.discovery.load_card``) raises ``UsageError`` (exit 2),
``UnreachableError`` (3), ``AuthError`` (4), ``TimeoutError_`` (5), ``ProtocolViolation`` (6, not
JSON) or ``HTTPStatusError`` (1, no card); every job lets those through.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from a2actl.agent.discovery import CardFetch, load_card
from a2actl.caps.results import DiffResult, FingerprintResult, SnapshotResult, Source, ValidateResult
from a2actl.core.errors import UsageError

if TYPE_CHECKING:
    from a2actl.caps.diff import Change
    from a2actl.core.config import Settings
    from a2actl.core.sink import EventSink


def source_of(fetched: CardFetch) -> Source:
    """Where a loaded card came from: its URL (``kind`` ``url``) or path (``file``), with notes."""
    return Source(fetched.source, "url" if fetched.http is not None else "file", fetched.notes)


async def validate_job(
    target: str,
    settings: Settings,
    sink: EventSink | None,
    *,
    card_path: str | None,
    strict: bool,
    live: bool,
) -> ValidateResult:
    """``caps validate``: schema findings and operational checks (``a2actl.caps.validate``), plus
    with ``live`` the capabilities the endpoint contradicts (``a2actl.caps.live``). The result exits
    6 for schema violations, 7 for failed checks, else 0. Raises ``UsageError`` (exit 2) for
    ``--live`` on a card file that declares no interface."""
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
    return ValidateResult(source_of(fetched), live, report)


async def snapshot_job(
    target: str, settings: Settings, sink: EventSink | None, card_path: str | None
) -> SnapshotResult:
    """``caps snapshot``: the snapshot document of TARGET (a snapshot file is passed through)."""
    snap, _ = await _side(target, settings, sink, card_path)
    return SnapshotResult(snap)


def _is_local_json(target: str) -> bool:
    """Whether TARGET names a local file (not a URL)."""
    from a2actl.agent.target import parse_target

    try:
        return parse_target(target).kind == "file"
    except UsageError:
        return False


def _read_json_file(path: str) -> Any:
    """The JSON value of a local file. Raises ``UsageError`` (exit 2) when it cannot be read, is not
    UTF-8 or is not JSON."""
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
) -> tuple[dict[str, Any], Source]:
    """A diff side: ``(snapshot, source)`` from a URL, a card file or a snapshot file."""
    from a2actl.caps.snapshot import is_snapshot, snapshot

    if _is_local_json(target):
        doc = _read_json_file(target)
        if is_snapshot(doc):
            return doc, Source(target, "snapshot", [])
    fetched = await load_card(target, settings, sink, card_path)
    return snapshot(fetched.raw), source_of(fetched)


async def diff_job(
    target: str,
    other: str | None,
    expect: str | None,
    settings: Settings,
    sink: EventSink | None,
    *,
    card_path: str | None,
    fail_on: str,
) -> DiffResult:
    """``caps diff``: ``TARGET --expect FILE`` or ``A B`` (A before, B after). The result exits 7
    when a change reaches ``fail_on``. Raises ``UsageError`` (exit 2) unless exactly one of
    ``other`` and ``expect`` is given, and for an unreadable or malformed expectation."""
    from a2actl.caps.diff import diff_snapshots
    from a2actl.caps.expect import compare

    kind: str | None
    changes: list[Change]
    if other is not None and expect is None:
        before, before_src = await _side(target, settings, sink, card_path)
        after, after_src = await _side(other, settings, sink, card_path)
        kind, changes = None, diff_snapshots(before, after)
    elif expect is not None and other is None:
        expectation = _read_json_file(expect)
        after, after_src = await _side(target, settings, sink, card_path)
        kind, changes = compare(expectation, after)
        before_src = Source(expect, kind, [])
    else:
        raise UsageError(
            "give either TARGET --expect FILE, or two targets TARGET_A TARGET_B",
            hint="a2actl caps diff URL --expect expected.json | a2actl caps diff BLUE_URL GREEN_URL",
        )
    return DiffResult(
        mode="expect" if expect is not None else "targets",
        before=before_src,
        after=after_src,
        expectation=kind,
        fail_on=fail_on,
        changes=changes,
    )


async def fingerprint_job(
    target: str, settings: Settings, sink: EventSink | None, card_path: str | None
) -> FingerprintResult:
    """``caps fingerprint``: what the card's endpoints really speak (``a2actl.caps.fingerprint``).
    The result exits 7 when the card claims a version an endpoint rejects."""
    from a2actl.caps.fingerprint import fingerprint
    from a2actl.transport.http import HttpTransport

    fetched = await load_card(target, settings, sink, card_path)
    async with HttpTransport(settings, sink) as transport:
        fp = await fingerprint(fetched, transport)
    return FingerprintResult(fp, fetched.notes)
