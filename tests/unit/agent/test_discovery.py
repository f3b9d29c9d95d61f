"""``a2actl.agent.discovery``: the candidate card URLs and their order, fetching with fallthrough on
404 (and only on 404), the legacy-path and path-prefix notes, and decoding cards from URLs and files;
through ``httpx.MockTransport``."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from a2actl.agent.discovery import CardFetch, card_urls, decode_card, fetch_card, load_card_file, source_json
from a2actl.agent.target import Target, parse_target
from a2actl.core.config import Settings
from a2actl.core.errors import HTTPStatusError, ProtocolViolation, UnreachableError, UsageError
from a2actl.transport.http import HttpTransport

HOST = "http://127.0.0.1:9"
CARD = {
    "name": "unit agent",
    "supportedInterfaces": [{"url": HOST + "/a2a", "protocolBinding": "JSONRPC", "protocolVersion": "1.0"}],
}

Handler = Callable[[httpx.Request], httpx.Response]


def serving(routes: dict[str, httpx.Response], seen: list[str] | None = None) -> Handler:
    """Answer the paths in ``routes``, 404 elsewhere; record every path asked for in ``seen``."""

    def handler(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request.url.path)
        return routes.get(request.url.path, httpx.Response(404, text="not here"))

    return handler


def fetch(
    handler: Handler, target: str, card_path: str | None = None, settings: Settings | None = None
) -> CardFetch:
    async def go() -> CardFetch:
        async with HttpTransport(settings or Settings(), http_transport=httpx.MockTransport(handler)) as tr:
            return await fetch_card(tr, parse_target(target), card_path)

    return asyncio.run(go())


# -- card_urls ----------------------------------------------------------------------------------------


def test_a_base_url_tries_the_current_then_the_legacy_path() -> None:
    assert card_urls(Target("base_url", HOST)) == [
        HOST + "/.well-known/agent-card.json",
        HOST + "/.well-known/agent.json",
    ]


def test_a_base_url_with_a_path_tries_under_it_first_then_the_root() -> None:
    assert card_urls(Target("base_url", HOST + "/agents/42/?q=1")) == [
        HOST + "/agents/42/.well-known/agent-card.json",
        HOST + "/agents/42/.well-known/agent.json",
        HOST + "/.well-known/agent-card.json",
        HOST + "/.well-known/agent.json",
    ]


def test_a_card_path_is_relative_to_the_base_path_and_the_only_candidate() -> None:
    assert card_urls(Target("base_url", HOST + "/agents/42"), "meta/card.json") == [
        HOST + "/agents/42/meta/card.json"
    ]
    assert card_urls(Target("base_url", HOST), "/card.json") == [HOST + "/card.json"]


def test_a_card_url_is_taken_as_given() -> None:
    url = HOST + "/x/.well-known/agent-card.json"
    assert card_urls(Target("card_url", url)) == [url]


# -- fetch_card ---------------------------------------------------------------------------------------


def test_the_current_path_wins_without_notes() -> None:
    seen: list[str] = []
    got = fetch(serving({"/.well-known/agent-card.json": httpx.Response(200, json=CARD)}, seen), HOST)
    assert seen == ["/.well-known/agent-card.json"]
    assert got.source == HOST + "/.well-known/agent-card.json" and got.raw == CARD
    assert got.view.name == "unit agent" and not got.fallback_used and got.notes == []
    assert got.http is not None and got.http.status == 200 and got.parse_seconds >= 0
    assert source_json(got) == {"source": got.source, "kind": "url", "notes": []}


def test_a_404_falls_through_to_the_legacy_path_with_a_note() -> None:
    seen: list[str] = []
    got = fetch(serving({"/.well-known/agent.json": httpx.Response(200, json=CARD)}, seen), HOST)
    assert seen == ["/.well-known/agent-card.json", "/.well-known/agent.json"]
    assert got.fallback_used and got.source == HOST + "/.well-known/agent.json"
    assert got.notes == [
        f"{HOST}/.well-known/agent-card.json answered 404; trying the next discovery path",
        "card found at the legacy path /.well-known/agent.json (A2A ≤ 0.2.6); "
        "A2A 0.3+ serves /.well-known/agent-card.json",
    ]


def test_a_card_under_the_path_prefix_says_so() -> None:
    got = fetch(serving({"/p/.well-known/agent-card.json": httpx.Response(200, json=CARD)}), HOST + "/p")
    assert got.notes == ["card found under the path prefix /p"]


def test_a_card_only_at_the_root_says_the_prefix_had_none() -> None:
    seen: list[str] = []
    got = fetch(serving({"/.well-known/agent-card.json": httpx.Response(200, json=CARD)}, seen), HOST + "/p")
    assert seen == [
        "/p/.well-known/agent-card.json",
        "/p/.well-known/agent.json",
        "/.well-known/agent-card.json",
    ]
    assert got.notes[-1] == "no card under the path prefix /p; the host root answered"
    assert not got.fallback_used


def test_a_legacy_card_at_an_explicit_url_is_no_fallback() -> None:
    got = fetch(
        serving({"/.well-known/agent.json": httpx.Response(200, json=CARD)}), HOST + "/.well-known/agent.json"
    )
    assert not got.fallback_used and got.notes == []


def test_no_card_anywhere_is_an_http_status_error_listing_what_was_tried() -> None:
    with pytest.raises(HTTPStatusError) as info:
        fetch(serving({}), HOST)
    err = info.value
    assert int(err.exit_code) == 1 and err.details == {"httpStatus": 404}
    assert err.message == (
        f"no agent card: {HOST}/.well-known/agent.json answered HTTP 404 Not Found "
        f"(tried {HOST}/.well-known/agent-card.json, {HOST}/.well-known/agent.json)"
    )
    assert err.hint == "pass --card-path PATH if the card lives elsewhere"


def test_an_error_other_than_404_stops_discovery() -> None:
    seen: list[str] = []
    with pytest.raises(HTTPStatusError) as info:
        fetch(serving({"/.well-known/agent-card.json": httpx.Response(500)}, seen), HOST)
    assert seen == ["/.well-known/agent-card.json"]
    assert "answered HTTP 500 Internal Server Error" in info.value.message and info.value.hint is None


def test_a_non_json_card_is_a_protocol_violation() -> None:
    html = httpx.Response(200, text="<html>login</html>", headers={"Content-Type": "text/html"})
    with pytest.raises(ProtocolViolation) as info:
        fetch(serving({"/.well-known/agent-card.json": html}), HOST)
    assert int(info.value.exit_code) == 6
    assert info.value.message.startswith(
        f"the agent card at {HOST}/.well-known/agent-card.json is not valid JSON"
    )
    assert info.value.hint == "is this URL serving the card, or an HTML error page?"


def test_a_card_over_the_card_limit_is_a_protocol_violation() -> None:
    big = httpx.Response(200, content=json.dumps({**CARD, "pad": "x" * 500}).encode())
    with pytest.raises(ProtocolViolation, match="over the 100-byte limit"):
        fetch(serving({"/.well-known/agent-card.json": big}), HOST, settings=Settings(max_card_bytes=100))


def test_the_request_asks_for_json() -> None:
    accept: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        accept.append(request.headers["accept"])
        return httpx.Response(200, json=CARD)

    fetch(handler, HOST)
    assert accept == ["application/json"]


def test_transport_failures_pass_through() -> None:
    def handler(_: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused")

    with pytest.raises(UnreachableError):
        fetch(handler, HOST)


# -- decode_card and load_card_file -------------------------------------------------------------------


def test_a_json_array_is_not_a_card() -> None:
    with pytest.raises(ProtocolViolation, match="is a JSON array, not an object"):
        decode_card(b"[1]", "x.json")


def test_a_card_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "card.json"
    path.write_text(json.dumps(CARD))
    got = load_card_file(str(path), 10_000)
    assert got.raw == CARD and got.http is None and got.source == str(path)
    assert source_json(got)["kind"] == "file"


def test_a_missing_card_file_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot read card file .*missing.json: No such file"):
        load_card_file(str(tmp_path / "missing.json"), 10_000)


def test_a_card_file_over_the_limit_is_a_protocol_violation(tmp_path: Path) -> None:
    path = tmp_path / "card.json"
    path.write_text(json.dumps(CARD))
    with pytest.raises(ProtocolViolation, match="over the 10-byte card limit"):
        load_card_file(str(path), 10)


def test_a_card_file_that_never_ends_is_cut_at_the_limit() -> None:
    # /dev/zero reports size 0: the read itself must be bounded (it used to read forever)
    from a2actl.agent.discovery import load_card_file
    from a2actl.core.errors import ProtocolViolation

    with pytest.raises(ProtocolViolation, match="over the 1,024-byte card limit"):
        load_card_file("/dev/zero", 1024)


@pytest.mark.parametrize(
    ("doc", "name"), [(b"null", "null"), (b"[1]", "array"), (b"3", "number"), (b'"x"', "string")]
)
def test_a_card_that_is_not_an_object_is_named_in_json_terms(doc: bytes, name: str) -> None:
    from a2actl.agent.discovery import decode_card
    from a2actl.core.errors import ProtocolViolation

    with pytest.raises(ProtocolViolation, match=f"is a JSON {name}, not an object"):
        decode_card(doc, "card.json")
