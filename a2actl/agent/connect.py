"""Connect to an agent: fetch or read its card, choose an interface for ``--a2a-version`` /
``--binding`` (``protocol.negotiation.select_interface``, spec v1.0 §3.2.6 and §5.8) and return a
typed client on it. Every domain that calls an agent over A2A goes through ``connect`` (an
``A2AClient``: JSON-RPC or HTTP+JSON) or ``connected`` (a ``Channel`` that may also be a gRPC
``GrpcClient``, for the commands that speak gRPC: ``docs/grpc.md``)."""

from __future__ import annotations

import importlib.util
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, TypeAlias

from a2actl.agent.target import Target, parse_target
from a2actl.core.errors import UsageError

if TYPE_CHECKING:
    from a2actl.agent.discovery import CardFetch
    from a2actl.core.config import Settings
    from a2actl.protocol.negotiation import Selection
    from a2actl.transport.a2a import A2AClient
    from a2actl.transport.base import Transport
    from a2actl.transport.grpc import GrpcClient

    #: A client on the negotiated interface: HTTP (JSON-RPC, HTTP+JSON) or gRPC.
    AgentClient: TypeAlias = A2AClient | GrpcClient

#: The install hint for a gRPC interface without the extra (``docs/grpc.md``).
GRPC_INSTALL = "pip install 'a2actl[grpc]'"


def grpc_available() -> bool:
    """Whether the gRPC extra is installed (``grpc`` and a2a-sdk's stubs can be imported). Looks the
    modules up without importing them: non-gRPC paths never import grpc."""
    try:
        return (
            importlib.util.find_spec("grpc") is not None
            and importlib.util.find_spec("google.rpc") is not None
        )
    except (ImportError, ValueError):
        return False


def _wants_grpc(settings: Settings) -> bool:
    return settings.binding.strip().upper() == "GRPC"


def check_grpc_extra(settings: Settings) -> None:
    """``--binding GRPC`` without the extra: ``UsageError`` (exit 2) with the install hint."""
    if _wants_grpc(settings) and not grpc_available():
        raise UsageError("--binding GRPC needs the gRPC extra, which is not installed", hint=GRPC_INSTALL)


async def _fetch(
    target: Target | str, settings: Settings, transport: Transport, card_path: str | None
) -> CardFetch:
    from a2actl.agent.discovery import fetch_card, read_card_file

    parsed = parse_target(target) if isinstance(target, str) else target
    return (
        await fetch_card(transport, parsed, card_path)
        if parsed.is_remote
        else await read_card_file(parsed.value, settings.max_card_bytes)
    )


async def connect(
    target: Target | str, settings: Settings, transport: Transport, card_path: str | None = None
) -> A2AClient:
    """Discover the card of ``target`` (a parsed ``Target``, or TARGET text parsed here) and return an
    ``A2AClient`` on the negotiated interface. Discovery notes and the negotiation go to the
    transport's sink (``-v``). gRPC interfaces are skipped (this caller does not speak gRPC).

    Raises ``UsageError`` (exit 2) when no interface fits ``--a2a-version``/``--binding`` or TARGET is
    malformed, and what ``fetch_card``/``load_card_file`` raise (3/4/5 transport, 6 not a card)."""
    client, _ = await connect_with_card(target, settings, transport, card_path)
    return client


async def connect_with_card(
    target: Target | str, settings: Settings, transport: Transport, card_path: str | None = None
) -> tuple[A2AClient, CardFetch]:
    """``connect``, and the card it negotiated on (``CardFetch``: its ``view`` says what the agent
    declares, e.g. ``capabilities``). Raises as ``connect``."""
    check_grpc_extra(settings)
    fetched = await _fetch(target, settings, transport, card_path)
    return client_for(fetched, settings, transport), fetched


def _select(fetched: CardFetch, settings: Settings, transport: Transport, grpc: bool) -> Selection:
    from a2actl.protocol.negotiation import GRPC_EXTRA_HINT, NegotiationFailed, select_interface

    for note in fetched.notes:
        transport.sink.on_note(note)
    extra = grpc_available()
    try:
        selection = select_interface(
            fetched.view,
            settings.a2a_version,
            settings.binding,
            grpc=grpc and extra,
            grpc_hint=None if extra else GRPC_EXTRA_HINT,
        )
    except NegotiationFailed as exc:
        hint = (
            GRPC_INSTALL
            if not extra and "a2actl[grpc]" in str(exc)
            else "see the card's interfaces with 'a2actl card get TARGET'"
        )
        raise UsageError(str(exc), hint=hint) from exc
    # userinfo in the chosen interface's URL (gRPC's host:port form has no scheme) is a secret: masked
    # in every output from here on, the note below included
    from a2actl.core.redact import register_url

    url = selection.interface.url
    register_url(url if "://" in url else f"grpc://{url}")
    transport.sink.on_note(
        f"negotiated {selection.interface.protocol_binding} {selection.family.value} at "
        f"{selection.interface.url}: {selection.reason}"
    )
    return selection


def client_for(fetched: CardFetch, settings: Settings, transport: Transport) -> A2AClient:
    """An ``A2AClient`` on the interface of an already fetched card that fits ``--a2a-version`` /
    ``--binding`` (gRPC interfaces skipped); the discovery notes and the negotiation go to the
    transport's sink. Raises ``UsageError`` (exit 2) when no interface fits."""
    from a2actl.transport.a2a import A2AClient

    selection = _select(fetched, settings, transport, grpc=False)
    return A2AClient(transport, selection)


def channel_for(fetched: CardFetch, settings: Settings, transport: Transport) -> AgentClient:
    """A client on the negotiated interface, gRPC ones included when the extra is installed: a
    ``GrpcClient`` for a ``GRPC`` interface (close it: ``aclose``), else an ``A2AClient``. Raises
    ``UsageError`` (exit 2) when no interface fits, or ``--binding GRPC`` without the extra."""
    from a2actl.protocol.versions import BINDING_GRPC
    from a2actl.transport.a2a import A2AClient

    selection = _select(fetched, settings, transport, grpc=True)
    if selection.interface.protocol_binding == BINDING_GRPC:
        from a2actl.transport.grpc import GrpcClient

        return GrpcClient(transport, selection)
    return A2AClient(transport, selection)


async def connect_channel(
    target: Target | str, settings: Settings, transport: Transport, card_path: str | None = None
) -> AgentClient:
    """``connect`` that may return a ``GrpcClient`` (``channel_for``); the caller closes it
    (``aclose``) when it is one. Raises as ``connected``."""
    check_grpc_extra(settings)
    fetched = await _fetch(target, settings, transport, card_path)
    return channel_for(fetched, settings, transport)


async def close_client(client: AgentClient) -> None:
    """Close ``client`` when it owns a channel (a ``GrpcClient``); an ``A2AClient`` shares the
    caller's transport, which the caller closes."""
    close = getattr(client, "aclose", None)
    if close is not None:
        await close()


@asynccontextmanager
async def connected(
    target: Target | str, settings: Settings, transport: Transport, card_path: str | None = None
) -> AsyncIterator[AgentClient]:
    """``connect`` for the commands that speak gRPC too: yields an ``A2AClient`` or a ``GrpcClient``
    (``channel_for``) and closes the gRPC channel on exit. Raises as ``connect``, plus ``UsageError``
    (exit 2, hint ``pip install 'a2actl[grpc]'``) for ``--binding GRPC`` without the extra."""
    client = await connect_channel(target, settings, transport, card_path)
    try:
        yield client
    finally:
        await close_client(client)
