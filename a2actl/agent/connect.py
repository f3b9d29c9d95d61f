"""Connect to an agent: fetch or read its card, choose an interface for ``--a2a-version`` /
``--binding`` (``protocol.negotiation.select_interface``, spec v1.0 §3.2.6 and §5.8) and return a
typed client on it. Every domain that calls an agent over A2A goes through ``connect``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from a2actl.agent.target import Target, parse_target
from a2actl.core.errors import UsageError

if TYPE_CHECKING:
    from a2actl.agent.discovery import CardFetch
    from a2actl.core.config import Settings
    from a2actl.transport.a2a import A2AClient
    from a2actl.transport.base import Transport


async def connect(
    target: Target | str, settings: Settings, transport: Transport, card_path: str | None = None
) -> A2AClient:
    """Discover the card of ``target`` (a parsed ``Target``, or TARGET text parsed here) and return an
    ``A2AClient`` on the negotiated interface. Discovery notes and the negotiation go to the
    transport's sink (``-v``).

    Raises ``UsageError`` (exit 2) when no interface fits ``--a2a-version``/``--binding`` or TARGET is
    malformed, and what ``fetch_card``/``load_card_file`` raise (3/4/5 transport, 6 not a card)."""
    from a2actl.agent.discovery import fetch_card, load_card_file

    parsed = parse_target(target) if isinstance(target, str) else target
    fetched = (
        await fetch_card(transport, parsed, card_path)
        if parsed.is_remote
        else load_card_file(parsed.value, settings.max_card_bytes)
    )
    return client_for(fetched, settings, transport)


def client_for(fetched: CardFetch, settings: Settings, transport: Transport) -> A2AClient:
    """An ``A2AClient`` on the interface of an already fetched card that fits ``--a2a-version`` /
    ``--binding``; the discovery notes and the negotiation go to the transport's sink. Raises
    ``UsageError`` (exit 2) when no interface fits."""
    from a2actl.protocol.negotiation import NegotiationFailed, select_interface
    from a2actl.transport.a2a import A2AClient

    for note in fetched.notes:
        transport.sink.on_note(note)
    try:
        selection = select_interface(fetched.view, settings.a2a_version, settings.binding)
    except NegotiationFailed as exc:
        raise UsageError(str(exc), hint="see the card's interfaces with 'a2actl card get TARGET'") from exc
    transport.sink.on_note(
        f"negotiated {selection.interface.protocol_binding} {selection.family.value} at "
        f"{selection.interface.url}: {selection.reason}"
    )
    return A2AClient(transport, selection)
