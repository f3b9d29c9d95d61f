"""Loading a TARGET (base URL, card URL or card file) for the caps commands."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from a2actl.discovery import CardFetch, fetch_card, load_card_file, parse_target

if TYPE_CHECKING:
    from a2actl.config import Settings
    from a2actl.events import EventSink


async def load_card(
    target_text: str, settings: Settings, sink: EventSink | None = None, card_path: str | None = None
) -> CardFetch:
    """Fetch (with discovery) or read one card. Raises what ``fetch_card``/``load_card_file`` raise:
    ``UsageError`` (2), ``UnreachableError`` (3), ``AuthError`` (4), ``TimeoutError_`` (5),
    ``ProtocolViolation`` (6, not JSON), ``HTTPStatusError`` (1, no card)."""
    target = parse_target(target_text)
    if not target.is_remote:
        return load_card_file(target.value, settings.max_card_bytes)
    from a2actl.transport.http import HttpTransport

    async with HttpTransport(settings, sink) as transport:
        return await fetch_card(transport, target, card_path)


def source_json(fetched: CardFetch) -> dict[str, Any]:
    """Where a card came from, for JSON output: ``{"source", "kind": "url"|"file", "notes"}``."""
    return {
        "source": fetched.source,
        "kind": "url" if fetched.http is not None else "file",
        "notes": fetched.notes,
    }
