"""``a2actl.agent.target.parse_target``: TARGET classified once (file, card URL, base URL, WebSocket)."""

from __future__ import annotations

from pathlib import Path

import pytest

from a2actl.agent.target import Target, parse_target
from a2actl.core.errors import UsageError


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("http://127.0.0.1:8000", "base_url", "http://127.0.0.1:8000"),
        ("https://agent.example/a2a/v1", "base_url", "https://agent.example/a2a/v1"),
        ("127.0.0.1:8000", "base_url", "http://127.0.0.1:8000"),  # bare host:port gets http://, as curl
        ("  http://h:1  ", "base_url", "http://h:1"),
        ("http://h/.well-known/agent-card.json", "card_url", "http://h/.well-known/agent-card.json"),
        ("http://h/cards/mine.json", "card_url", "http://h/cards/mine.json"),
        ("file:///tmp/card.json", "file", "/tmp/card.json"),
        ("missing-card.json", "file", "missing-card.json"),  # a .json name is a file even if absent
    ],
)
def test_classification(text: str, kind: str, value: str) -> None:
    assert parse_target(text) == Target(kind, value)


def test_an_existing_path_is_a_file(tmp_path: Path) -> None:
    card = tmp_path / "card"
    card.write_text("{}")
    target = parse_target(str(card))
    assert target == Target("file", str(card)) and not target.is_remote and not target.is_websocket


@pytest.mark.parametrize("url", ["ws://127.0.0.1:9/ws", "wss://agent.example/ws"])
def test_websocket_urls_only_where_accepted(url: str) -> None:
    target = parse_target(url, websocket=True)
    assert target == Target("websocket", url) and target.is_websocket and target.is_remote
    with pytest.raises(UsageError) as info:
        parse_target(url)
    assert info.value.message == f"unsupported TARGET scheme {url.split(':')[0]!r}"
    assert info.value.hint == "use http://, https:// or a file path" and int(info.value.exit_code) == 2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "TARGET is empty"),
        ("   ", "TARGET is empty"),
        ("ftp://h/x", "unsupported TARGET scheme 'ftp'"),
        ("http://", "TARGET 'http://' has no host"),
        ("ws://", "unsupported TARGET scheme 'ws'"),
    ],
)
def test_malformed_targets_are_usage_errors(text: str, message: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_target(text)
    assert info.value.message == message


def test_a_bad_port_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="is not a valid URL"):
        parse_target("http://h:notaport/")


def test_ws_without_host_is_not_a_websocket_target() -> None:
    with pytest.raises(UsageError):
        parse_target("ws://", websocket=True)
