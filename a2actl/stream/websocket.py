"""``stream tail ws://…``: the same tail over the WebSocket channel (``docs/websocket.md``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from a2actl.stream.follow import tail_a2a
from a2actl.stream.summary import TailSummary
from a2actl.stream.tail import Emit, TailOptions

if TYPE_CHECKING:
    from a2actl.core.config import Settings


async def tail_websocket(
    url: str, settings: Settings, opts: TailOptions, emit: Emit, send: str | None, task: str | None
) -> TailSummary:
    """Tail a send (``SendStreamingMessage`` of the text ``send``) or a task (``SubscribeToTask`` of
    ``task``) over WebSocket at ``url``. Client pings every ``--heartbeat / 2`` seconds (5 s without
    it) are the heartbeats, each with its RTT in seconds. Raises what ``tail_a2a`` raises."""
    from a2actl.protocol.events import text_message_params
    from a2actl.protocol.versions import BINDING_JSONRPC, Family
    from a2actl.transport.ws import WebSocketClient

    interval = opts.heartbeat / 2 if opts.heartbeat else 5.0
    client = WebSocketClient(url, settings, ping_interval=interval)
    if send is not None:
        return await tail_a2a(
            client,
            "SendStreamingMessage",
            text_message_params(send, Family.V1_0, BINDING_JSONRPC),
            opts,
            emit,
        )
    return await tail_a2a(client, "SubscribeToTask", {"id": task}, opts, emit)
