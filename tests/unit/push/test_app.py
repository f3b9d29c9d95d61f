"""Unit tests of ``a2actl.push.app``: the address parser and the receiver app through httpx's ASGI
transport (plain request/response, no streaming)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from a2actl.core.errors import UsageError
from a2actl.push.app import build_app, check_public_url, check_tls, parse_listen
from a2actl.push.checks import MAX_BODY, PushChecker, PushConfig

TOKEN = "tok-0123456789abcdef"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("127.0.0.1:0", ("127.0.0.1", 0)),
        ("0.0.0.0:8443", ("0.0.0.0", 8443)),
        ("[::1]:9000", ("::1", 9000)),
        (":7000", ("127.0.0.1", 7000)),
    ],
)
def test_parse_listen(text: str, expected: tuple[str, int]) -> None:
    assert parse_listen(text) == expected


@pytest.mark.parametrize("text", ["localhost", "host:port", "host:70000", ""])
def test_parse_listen_refuses(text: str) -> None:
    with pytest.raises(UsageError):
        parse_listen(text)


def test_check_tls_needs_both_files() -> None:
    check_tls(None, None)
    with pytest.raises(UsageError, match="go together"):
        check_tls("cert.pem", None)


def post_all(
    requests: list[tuple[str, str, bytes, dict[str, str]]],
) -> tuple[list[int], list[dict[str, Any]]]:
    records: list[dict[str, Any]] = []
    checker = PushChecker(PushConfig("http://h/a2a/push", TOKEN), records.append)
    seen: list[int] = []

    async def run() -> list[int]:
        app = build_app(checker, lambda: seen.append(checker.count))
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://h") as c:
            return [
                (await c.request(method, path, content=body, headers=headers)).status_code
                for method, path, body, headers in requests
            ]

    statuses = asyncio.run(run())
    assert seen == list(range(1, len(records) + 1)), "on_delivery runs after each checked delivery"
    return statuses, records


def test_the_receiver_answers_each_verdict() -> None:
    ok = json.dumps({"statusUpdate": {"taskId": "t", "status": {"state": "TASK_STATE_WORKING"}}}).encode()
    good = {"x-a2a-notification-token": TOKEN, "content-type": "application/json"}
    statuses, records = post_all(
        [
            ("POST", "/a2a/push", ok, good),
            ("POST", "/any/path", ok, good),
            ("POST", "/a2a/push", ok, {"x-a2a-notification-token": "nope"}),
            ("POST", "/a2a/push", b"[]", good),
            ("POST", "/a2a/push", b"", {**good, "content-length": str(MAX_BODY + 1)}),
            ("GET", "/a2a/push", b"", good),
        ]
    )
    assert statuses == [204, 204, 401, 400, 400, 405]
    assert [r["path"] for r in records] == ["/a2a/push", "/any/path", "/a2a/push", "/a2a/push", "/a2a/push"]
    assert records[1]["duplicate"] is True
    assert records[4]["problems"][0]["rule"] == "oversize"


def test_check_tls_refuses_an_encrypted_key_without_prompting(tmp_path: Any) -> None:
    """OpenSSL prompts for the pass phrase of an encrypted key on the terminal (a hang); the key
    is refused with a usage error naming it instead."""
    trustme = pytest.importorskip("trustme")
    from cryptography.hazmat.primitives import serialization

    cert = trustme.CA().issue_cert("127.0.0.1")
    key = serialization.load_pem_private_key(cert.private_key_pem.bytes(), password=None)
    encrypted = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pass phrase"),
    )
    (tmp_path / "key.pem").write_bytes(encrypted)
    cert.cert_chain_pems[0].write_to_path(str(tmp_path / "cert.pem"))
    with pytest.raises(UsageError, match="encrypted") as info:
        check_tls(str(tmp_path / "cert.pem"), str(tmp_path / "key.pem"))
    assert info.value.exit_code == 2


@pytest.mark.parametrize("url", ["notaurl", "ftp://h/hook", "http://", "https:///hook", "/a2a/push"])
def test_check_public_url_refuses_what_an_agent_cannot_post_to(url: str) -> None:
    with pytest.raises(UsageError, match="--public-url"):
        check_public_url(url)


@pytest.mark.parametrize("url", [None, "https://hooks.example.com/a2a/push/", "http://[::1]:8443/h?sig=x"])
def test_check_public_url_takes_http_urls(url: str | None) -> None:
    check_public_url(url)


def test_a_sender_that_hangs_up_mid_body_is_recorded_incomplete() -> None:
    """The sender closes the connection before the end of the body (ASGI ``http.disconnect``): the
    delivery is recorded (rule ``incomplete``) instead of the app raising ClientDisconnect (which
    uvicorn printed as a traceback, the delivery lost)."""
    records: list[dict[str, Any]] = []
    checker = PushChecker(PushConfig("http://h/a2a/push", TOKEN), records.append)
    app = build_app(checker, lambda: None)
    incoming = [
        {"type": "http.request", "body": b'{"statusUpdate": {"ta', "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/a2a/push",
        "raw_path": b"/a2a/push",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"x-a2a-notification-token", TOKEN.encode()), (b"content-length", b"500")],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 80),
    }
    asyncio.run(app(scope, receive, send))
    (rec,) = records
    assert [p["rule"] for p in rec["problems"]] == ["incomplete"]
    assert rec["bytes"] == len(b'{"statusUpdate": {"ta') and rec["valid"] is False
    assert checker.summary("max-time").invalid == 1


def test_a_body_still_arriving_when_the_listen_ends_is_recorded_incomplete() -> None:
    """uvicorn cancels a request whose body is still arriving (a slow sender) at the end of its
    graceful shutdown: what came is recorded (rule ``incomplete``) and the handler ends quietly,
    rather than the delivery vanishing with a CancelledError traceback."""
    records: list[dict[str, Any]] = []
    checker = PushChecker(PushConfig("http://h/a2a/push", TOKEN), records.append)
    app = build_app(checker, lambda: None)
    first = [{"type": "http.request", "body": b'{"statusUpdate"', "more_body": True}]

    async def receive() -> dict[str, Any]:
        if first:
            return first.pop()
        await asyncio.Event().wait()  # the rest never comes
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        pass

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/a2a/push",
        "raw_path": b"/a2a/push",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"x-a2a-notification-token", TOKEN.encode()), (b"transfer-encoding", b"chunked")],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 80),
    }

    async def run() -> None:
        request = asyncio.ensure_future(app(scope, receive, send))
        while first:
            await asyncio.sleep(0)
        await asyncio.sleep(0.01)
        request.cancel()  # what uvicorn's shutdown does after timeout_graceful_shutdown
        await asyncio.gather(request, return_exceptions=True)

    asyncio.run(run())
    (rec,) = records
    assert [p["rule"] for p in rec["problems"]] == ["incomplete"]
    assert rec["bytes"] == len(b'{"statusUpdate"')


def test_an_untrusted_body_is_read_only_up_to_64_kib() -> None:
    """Credentials are checked on the headers first: a sender without them cannot make the
    receiver buffer 16 MiB per request; a trusted body of the same size is read."""
    untrusted_max = 64 * 1024
    big = json.dumps(
        {
            "statusUpdate": {
                "taskId": "t",
                "status": {"state": "TASK_STATE_WORKING"},
                "metadata": {"pad": "x" * 100_000},
            }
        }
    ).encode()
    assert len(big) > untrusted_max
    statuses, records = post_all(
        [
            ("POST", "/a2a/push", big, {"x-a2a-notification-token": "nope"}),
            ("POST", "/a2a/push", big, {"x-a2a-notification-token": TOKEN}),
        ]
    )
    assert statuses == [401, 204]
    assert [p["rule"] for p in records[0]["problems"]] == ["wrong-token", "oversize"]
    assert f"over {untrusted_max}" in records[0]["problems"][1]["message"]
    assert records[1]["valid"] is True and records[1]["bytes"] == len(big)
