"""``a2actl.transport.redirects`` (which hops of a ``-L`` chain may carry secret headers) and how
``HttpTransport`` applies it through httpx: these tests pin the httpx behaviour the fix relies on
(request event hooks run for every redirect hop before it is sent, and what they remove is not sent;
``request.url`` keeps the name while the connection goes to the resolved address), so an httpx
upgrade that changes it fails here."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from a2actl.core.config import Settings
from a2actl.transport.http import HttpTransport
from a2actl.transport.redirects import RedirectGuard, leaves, origin, secret_names

HEADERS = (("X-API-Key", "key-1"), ("X-Auth-Token", "tok-2"), ("Cookie", "c=3"), ("X-Plain", "p"))
SECRET = ["authorization", "x-api-key", "x-auth-token"]  # Cookie: httpx drops it on every hop


@pytest.mark.parametrize(
    ("first", "hop", "left"),
    [
        (("http", "a", 80), ("http", "a", 80), False),
        (("http", "a", 80), ("https", "a", 443), False),  # httpx's upgrade rule, kept
        (("http", "a", 8080), ("https", "a", 443), True),  # not the default ports: another origin
        (("https", "a", 443), ("http", "a", 80), True),  # a downgrade
        (("http", "a", 80), ("http", "b", 80), True),
        (("http", "a", 80), ("http", "a", 81), True),
        (("http", "a", 80), ("https", "b", 443), True),
    ],
)
def test_leaves(first: Any, hop: Any, left: bool) -> None:
    assert leaves(first, hop) is left


def test_origin_defaults_ports_and_case() -> None:
    assert origin("HTTP", "Example.COM", None) == ("http", "example.com", 80)
    assert origin("https", "[::1]", None) == ("https", "::1", 443)


def test_secret_names_follow_the_redactor() -> None:
    names = [
        "Authorization",
        "X-API-Key",
        "X-Foo-Token",
        "X-Foo-Secret",
        "Mcp-Session-Id",
        "X-Plain",
        "Accept",
    ]
    assert secret_names((n, "v") for n in names) == names[:5]


def test_the_guard_is_sticky_and_notes_once() -> None:
    guard = RedirectGuard(("http", "a", 80), ["Authorization"])
    assert guard.check(("http", "a", 80)) is False
    assert guard.check(("http", "b", 80)) is True
    assert guard.check(("http", "a", 80)) is True  # back at the origin: the chain already left it
    assert guard.note(("http", "b", 80)) == (
        "-L: the redirect to http://b:80 leaves http://a:80: not forwarding Authorization "
        "(secret headers go only to the origin they were given for)"
    )
    assert guard.note(("http", "b", 80)) is None


class _Notes:
    wants_bodies = False

    def __init__(self) -> None:
        self.notes: list[str] = []

    def on_request(self, *_: Any) -> None: ...
    def on_response(self, *_: Any) -> None: ...
    def on_body(self, *_: Any) -> None: ...
    def on_timing(self, *_: Any) -> None: ...
    def on_note(self, text: str) -> None:
        self.notes.append(text)


def _chain(
    start: str, hops: dict[str, str], settings: Settings
) -> tuple[list[tuple[str, str, list[str]]], _Notes]:
    """GET ``start`` under ``-L`` through a mock that redirects by path (``hops``: URL → Location);
    what each hop carried: (URL, Host header, secret header names)."""
    seen: list[tuple[str, str, list[str]]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        seen.append((url, request.headers["host"], sorted(k for k in request.headers if k in SECRET)))
        if url in hops:
            return httpx.Response(302, headers={"Location": hops[url]})
        return httpx.Response(200, json={})

    sink = _Notes()

    async def go() -> None:
        async with HttpTransport(settings, sink, http_transport=httpx.MockTransport(handler)) as tr:
            r = await tr.request("GET", start)
            assert r.status == 200

    asyncio.run(go())
    return seen, sink


SETTINGS = Settings(token="tok-value", headers=HEADERS, follow_redirects=True)


def test_every_hop_after_leaving_goes_without_secrets() -> None:
    seen, sink = _chain(
        "http://127.0.0.1:9/a",
        {
            "http://127.0.0.1:9/a": "/b",
            "http://127.0.0.1:9/b": "http://10.0.0.2:9/c",
            "http://10.0.0.2:9/c": "http://127.0.0.1:9/d",
        },
        SETTINGS,
    )
    assert seen == [
        ("http://127.0.0.1:9/a", "127.0.0.1:9", SECRET),
        ("http://127.0.0.1:9/b", "127.0.0.1:9", SECRET),  # a relative redirect: the same origin
        ("http://10.0.0.2:9/c", "10.0.0.2:9", []),
        ("http://127.0.0.1:9/d", "127.0.0.1:9", []),  # back, after the chain left: still nothing
    ]
    assert len(sink.notes) == 1
    assert "X-API-Key, X-Auth-Token, Cookie, Authorization" in sink.notes[0]
    assert "key-1" not in sink.notes[0] and "tok-value" not in sink.notes[0]


def test_an_https_upgrade_of_the_same_host_keeps_them() -> None:
    seen, sink = _chain("http://127.0.0.1/a", {"http://127.0.0.1/a": "https://127.0.0.1/b"}, SETTINGS)
    assert [names for _, _, names in seen] == [SECRET, SECRET]
    assert sink.notes == []


def test_a_name_is_pinned_to_its_address_but_redirects_see_the_name() -> None:
    """``localhost`` is resolved by a2actl and the connection made to the address, while httpx judges
    redirects on the name: ``localhost`` → ``127.0.0.1`` is another origin (and its Host header
    follows), ``localhost`` → ``localhost`` is not."""
    seen, _ = _chain(
        "http://localhost:9/a",
        {"http://127.0.0.1:9/a": "http://localhost:9/b", "http://127.0.0.1:9/b": "http://127.0.0.1:9/c"},
        SETTINGS,
    )
    assert seen == [
        ("http://127.0.0.1:9/a", "localhost:9", SECRET),
        ("http://127.0.0.1:9/b", "localhost:9", SECRET),
        ("http://127.0.0.1:9/c", "127.0.0.1:9", []),
    ]


def test_without_dash_l_no_hook_is_installed() -> None:
    async def go() -> dict[str, list[Any]]:
        async with HttpTransport(
            Settings(), http_transport=httpx.MockTransport(lambda _: httpx.Response(200))
        ) as tr:
            return tr.client.event_hooks

    assert asyncio.run(go()) == {"request": [], "response": []}


def test_a_header_whose_value_is_a_registered_secret_is_a_secret() -> None:
    # an inventory's ${VAR} header or an exporter module's: secret whatever its name
    from a2actl.core.redact import register_secret

    register_secret("registered-value-for-redirects-6060")
    headers = [("X-Tenant", " registered-value-for-redirects-6060 "), ("X-Plain", "p"), ("X-Api-Key", "k")]
    assert secret_names(headers) == ["X-Tenant", "X-Api-Key"]
