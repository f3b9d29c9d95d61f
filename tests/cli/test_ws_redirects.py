"""The WebSocket binding follows redirects only with ``-L``, and never carries secret headers to
another origin (``a2actl.transport.ws._redirect_policy``): websockets alone follows up to 10
redirects whatever ``-L`` says and drops only ``Authorization``/``Cookie`` on another origin."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs

import pytest

from tests.servers import LoopbackServer

#: (Host header, path, the credential-looking header names) of every upgrade the server saw.
SEEN: list[tuple[str, str, list[str]]] = []


def _app(_: str) -> Any:
    """A raw ASGI app: a WebSocket upgrade to ``/redir?to=URL`` is answered 302 to URL; any other
    upgrade is recorded in ``SEEN`` and refused 403 (nothing needs to stream here)."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "websocket"
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        if scope["path"] == "/redir":
            to = parse_qs(scope["query_string"].decode())["to"][0]
            await send(
                {
                    "type": "websocket.http.response.start",
                    "status": 302,
                    "headers": [(b"location", to.encode())],
                }
            )
            await send({"type": "websocket.http.response.body", "body": b""})
            return
        names = sorted(k for k in headers if k in ("authorization", "x-api-key", "cookie", "x-trace-note"))
        SEEN.append((headers.get("host", ""), scope["path"], names))
        await send({"type": "websocket.http.response.start", "status": 403, "headers": []})
        await send({"type": "websocket.http.response.body", "body": b""})

    return app


@pytest.fixture(scope="module")
def ws_redirects() -> Iterator[str]:
    with LoopbackServer(_app) as srv:
        yield srv.url.replace("http://", "ws://")


def _tail(cli: Any, url: str, *flags: str) -> Any:
    SEEN.clear()
    return cli(
        *flags,
        "-H",
        "X-API-Key: k-secret",
        "-H",
        "X-Trace-Note: kept",
        "stream",
        "tail",
        url,
        "--send",
        "hi",
        "--reconnect",
        "0",
        "-o",
        "json",
        env={"A2ACTL_TOKEN": "t-secret"},
    )


def test_without_L_a_redirect_is_the_answer(cli: Any, ws_redirects: str) -> None:
    """No ``-L``: the 302 ends it (exit 1, the HTTP status), and the target sees no request."""
    r = _tail(cli, f"{ws_redirects}/redir?to={ws_redirects}/target")
    assert r.exit_code == 1, r.stdout[-500:]
    assert r.json["error"]["details"]["httpStatus"] == 302
    assert SEEN == []


def test_with_L_the_same_origin_gets_the_secrets(cli: Any, ws_redirects: str) -> None:
    r = _tail(cli, f"{ws_redirects}/redir?to={ws_redirects}/target", "-L")
    assert r.exit_code == 4, r.stdout[-500:]  # the target refuses: 403
    assert SEEN == [
        (ws_redirects.removeprefix("ws://"), "/target", ["authorization", "x-api-key", "x-trace-note"])
    ]


def test_with_L_another_origin_gets_no_secret(cli: Any, ws_redirects: str) -> None:
    """127.0.0.1 → localhost (another origin): neither the token nor ``X-API-Key`` goes there; the
    other headers do."""
    other = ws_redirects.replace("127.0.0.1", "localhost")
    r = _tail(cli, f"{ws_redirects}/redir?to={other}/target", "-L")
    assert r.exit_code == 4, r.stdout[-500:]
    assert SEEN == [(other.removeprefix("ws://"), "/target", ["x-trace-note"])]
    assert "k-secret" not in r.stdout + r.stderr and "t-secret" not in r.stdout + r.stderr


@pytest.mark.parametrize(
    ("to", "code", "needle"),
    [
        ("https://elsewhere.example/x", 1, "which a2actl cannot follow"),
        ("http://[::1/x", 6, "invalid URL in the Location header: http://[::1/x"),
    ],
)
def test_with_L_a_redirect_to_no_websocket_url_is_the_agents_answer(
    cli: Any, ws_redirects: str, to: str, code: int, needle: str
) -> None:
    """A redirect to an https:// URL (not ws/wss) or to no URL at all: the agent's answer, exit 1 or
    6 as over HTTP. It escaped as 'unexpected InvalidURI' / 'unexpected ValueError' (exit 1 and a
    --debug hint; a dlq replay --to ws:// ended the whole run on it)."""
    from urllib.parse import quote

    r = _tail(cli, f"{ws_redirects}/redir?to={quote(to, safe='')}", "-L")
    assert r.exit_code == code, r.stdout[-500:]
    error = r.json["error"]
    assert error["code"] != "error" and "unexpected" not in error["message"], error
    assert needle in error["message"], error
