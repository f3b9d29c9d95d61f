"""``a2actl.agent.connect.connect``: discovery, negotiation and the client it returns."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest

from a2actl.agent.connect import connect
from a2actl.agent.target import Target, parse_target
from a2actl.core.config import Settings
from a2actl.core.errors import UsageError
from a2actl.protocol.versions import BINDING_HTTP_JSON, BINDING_JSONRPC, Family
from a2actl.transport.a2a import A2AClient
from a2actl.transport.http import HttpTransport

HOST = "http://127.0.0.1:9"
CARD = {
    "name": "unit agent",
    "supportedInterfaces": [
        {"url": HOST + "/a2a/v1", "protocolBinding": "JSONRPC", "protocolVersion": "1.0"},
        {"url": HOST + "/a2a/v03", "protocolBinding": "JSONRPC", "protocolVersion": "0.3"},
    ],
}


class Notes:
    wants_bodies = False

    def __init__(self) -> None:
        self.notes: list[str] = []

    def on_request(self, *args: object) -> None:
        pass

    def on_response(self, *args: object) -> None:
        pass

    def on_body(self, *args: object) -> None:
        pass

    def on_timing(self, *args: object) -> None:
        pass

    def on_note(self, text: str) -> None:
        self.notes.append(text)


def run(
    target: Target | str, settings: Settings, sink: Notes | None = None, card: dict[str, object] = CARD
) -> A2AClient:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/.well-known/agent-card.json":
            return httpx.Response(200, json=card)
        return httpx.Response(404)

    async def go() -> A2AClient:
        async with HttpTransport(settings, sink, http_transport=httpx.MockTransport(handler)) as tr:
            return await connect(target, settings, tr)

    return asyncio.run(go())


def test_connect_negotiates_the_first_1_0_interface_and_notes_it() -> None:
    sink = Notes()
    client = run(HOST, Settings(), sink)
    assert isinstance(client, A2AClient)
    assert (client.family, client.binding, client.url) == (Family.V1_0, BINDING_JSONRPC, HOST + "/a2a/v1")
    assert sink.notes[-1].startswith(f"negotiated JSONRPC 1.0 at {HOST}/a2a/v1: ")


def test_connect_follows_a2a_version() -> None:
    client = run(HOST, Settings(a2a_version="0.3"))
    assert (client.family, client.url) == (Family.V0_3, HOST + "/a2a/v03")


def test_connect_takes_a_parsed_target() -> None:
    assert run(parse_target(HOST), Settings()).url == HOST + "/a2a/v1"


def test_no_interface_for_the_binding_is_a_usage_error() -> None:
    with pytest.raises(UsageError) as info:
        run(HOST, Settings(binding=BINDING_HTTP_JSON))
    err = info.value
    assert int(err.exit_code) == 2
    assert err.message == "the card declares no HTTP+JSON interface (declared: JSONRPC)"
    assert err.hint == "see the card's interfaces with 'a2actl card get TARGET'"


def test_discovery_notes_reach_the_sink() -> None:
    sink = Notes()

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/.well-known/agent.json":
            return httpx.Response(200, json=CARD)
        return httpx.Response(404)

    async def go() -> None:
        async with HttpTransport(Settings(), sink, http_transport=httpx.MockTransport(handler)) as tr:
            await connect(HOST, Settings(), tr)

    asyncio.run(go())
    assert any("legacy path" in n for n in sink.notes) and sink.notes[-1].startswith("negotiated")


def test_a_card_file_needs_no_network(tmp_path: Path) -> None:
    path = tmp_path / "card.json"
    path.write_text(json.dumps(CARD))

    def handler(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"no request expected, got {request.url}")

    async def go() -> A2AClient:
        async with HttpTransport(Settings(), http_transport=httpx.MockTransport(handler)) as tr:
            return await connect(str(path), Settings(), tr)

    assert asyncio.run(go()).url == HOST + "/a2a/v1"


def test_a_malformed_target_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="unsupported TARGET scheme 'ftp'"):
        run("ftp://h/", Settings())
