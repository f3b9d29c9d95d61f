"""The RabbitMQ store's pure parts (``a2actl.dlq.store.amqp``): the source URL and its password,
the entry of a dead-lettered message from its body and ``x-death`` headers, the republish origin.
The broker itself is exercised in tests/amqp (a real rabbitmq-server)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from a2actl.core.errors import UsageError
from a2actl.dlq.store.amqp import AmqpBackend, death_of, entry_of, origin_of, parse_source
from a2actl.dlq.store.backends import open_backend
from a2actl.dlq.store.entry import check
from a2actl.dlq.store.local import open_producer

WHEN = datetime(2026, 11, 26, 10, 0, 1, tzinfo=timezone.utc)


def x_death(reason: str = "rejected", count: int = 2, queue: str = "orders") -> dict[str, Any]:
    return {
        "x-death": [
            {
                "count": count,
                "reason": reason,
                "queue": queue,
                "time": WHEN,
                "exchange": "orders-in",
                "routing-keys": ["order.created"],
            }
        ],
        "x-first-death-queue": queue,
        "x-first-death-reason": reason,
        "x-first-death-exchange": "orders-in",
    }


def test_parse_source_fields() -> None:
    s = parse_source(
        "amqps://ops@rabbit.example:5673/prod%2Fa?queue=a2a.dlq&password-env=RMQ_PW&to=http://a:1"
    )
    assert (s.tls, s.host, s.port, s.vhost, s.user, s.queue) == (
        True,
        "rabbit.example",
        5673,
        "prod/a",
        "ops",
        "a2a.dlq",
    )
    assert (s.password_env, s.password_file, s.to, s.work) == ("RMQ_PW", None, "http://a:1", "a2a.dlq.work")
    d = parse_source("amqp://h/?queue=q&work=w")
    assert (d.port, d.vhost, d.user, d.work) == (5672, "/", None, "w")
    assert parse_source("amqps://h?queue=q").port == 5671


@pytest.mark.parametrize(
    ("url", "needle"),
    [
        ("amqp://h/", "queue="),
        ("amqp://h/?queue=", "queue="),
        ("amqp://h/?queue=q&password-env=A&password-file=B", "not both"),
        ("amqp://h/?queue=q&bogus=1", "unknown parameter"),
        ("amqp://h:notaport/?queue=q", "not a valid"),
    ],
)
def test_bad_sources_are_usage_errors(url: str, needle: str) -> None:
    with pytest.raises(UsageError, match=needle):
        parse_source(url)


def test_a_password_in_the_url_is_refused_and_not_echoed() -> None:
    with pytest.raises(UsageError) as info:
        parse_source("amqp://ops:hunter2secret@h/?queue=q")
    assert "hunter2secret" not in info.value.message and "hunter2secret" not in (info.value.hint or "")
    assert "password-env" in (info.value.hint or "")


def test_password_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("A2ACTL_AMQP_PASSWORD", raising=False)
    assert parse_source("amqp://h/?queue=q").password() is None
    monkeypatch.setenv("A2ACTL_AMQP_PASSWORD", "from-default")
    assert parse_source("amqp://h/?queue=q").password() == "from-default"
    monkeypatch.setenv("RMQ_PW", "from-named")
    assert parse_source("amqp://h/?queue=q&password-env=RMQ_PW").password() == "from-named"
    f = tmp_path / "pw"
    f.write_text("from-file\n")
    assert parse_source(f"amqp://h/?queue=q&password-file={f}").password() == "from-file"
    with pytest.raises(UsageError, match="not set or empty"):
        parse_source("amqp://h/?queue=q&password-env=UNSET_RMQ_PW_X").password()
    with pytest.raises(UsageError, match="cannot read"):
        parse_source(f"amqp://h/?queue=q&password-file={tmp_path}/none").password()


def test_a_password_file_without_end_or_not_utf8_is_a_usage_error(tmp_path: Path) -> None:
    """``password-file=/dev/zero`` (or ``<(yes)``) was read whole: memory grew until the machine ran
    out. At most 64 KiB are read now; bytes that are not UTF-8 were "unexpected UnicodeDecodeError"."""
    with pytest.raises(UsageError, match="over the 65,536-byte limit"):
        parse_source("amqp://h/?queue=q&password-file=/dev/zero").password()
    f = tmp_path / "pw"
    f.write_bytes(b"caf\xe9\n")
    with pytest.raises(UsageError, match="not UTF-8"):
        parse_source(f"amqp://h/?queue=q&password-file={f}").password()


def test_opened_by_scheme_for_readers_and_producers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("A2ACTL_AMQP_PASSWORD", raising=False)
    for opener in (open_backend, open_producer):
        b = opener("amqp://guest@127.0.0.1:1/?queue=q")
        assert isinstance(b, AmqpBackend) and b.kind == "amqp" and b.journal_key == b.url


def test_bare_http_json_body_with_x_death() -> None:
    body = {"message": {"messageId": "m-1", "role": "ROLE_USER", "parts": [{"text": "x"}]}}
    headers = {**x_death(), "x-a2a-target": "http://agent/a2a/jsonrpc", "x-a2a-error": "db down"}
    e, why = entry_of(json.dumps(body).encode(), headers, "mid-1")
    assert why is None and e is not None and check(e) is None
    assert e["id"] == "mid-1"
    assert e["request"] == {"method": "SendMessage", "params": body}
    assert e["target"] == {"url": "http://agent/a2a/jsonrpc", "protocolBinding": "JSONRPC"}
    assert e["attempts"] == 2 and e["enqueuedAt"] == "2026-11-26T10:00:01.000Z" and e["source"] == "orders"
    assert e["lastError"] == {"code": "rejected", "message": "db down", "class": "transient"}
    assert e["amqp"]["firstDeath"] == {"queue": "orders", "reason": "rejected", "exchange": "orders-in"}
    assert e["amqp"]["xDeath"][0]["time"] == "2026-11-26T10:00:01.000Z"


def test_bare_json_rpc_body_and_reasons() -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "message/send", "params": {"message": {"messageId": "m"}}}
    e, why = entry_of(json.dumps(body).encode(), x_death("delivery_limit", 20), to="http://fallback")
    assert why is None and e is not None
    assert e["request"] == {"method": "message/send", "params": body["params"]}
    assert e["target"]["url"] == "http://fallback"
    assert e["lastError"]["class"] == "permanent" and e["lastError"]["code"] == "delivery_limit"
    assert "delivery_limit in queue orders" in e["lastError"]["message"]
    assert e["id"].startswith("amqp-")
    for reason in ("expired", "maxlen", "rejected"):
        got, _ = entry_of(json.dumps(body).encode(), x_death(reason))
        assert got is not None and got["lastError"]["class"] == "transient"
    # the producer's own class and code win
    hdr = {**x_death("expired"), "x-a2a-error-class": "permanent", "x-a2a-error-code": -32602}
    got, _ = entry_of(json.dumps(body).encode(), hdr)
    assert got is not None and got["lastError"]["class"] == "permanent" and got["lastError"]["code"] == -32602


def test_hash_ids_are_stable_and_distinguish_bodies() -> None:
    a = json.dumps({"message": {"messageId": "a"}}).encode()
    b = json.dumps({"message": {"messageId": "b"}}).encode()
    ida = entry_of(a, x_death())[0]
    assert ida is not None and ida["id"] == (entry_of(a, x_death())[0] or {}).get("id")
    assert ida["id"] != (entry_of(b, x_death())[0] or {}).get("id")


def test_entry_format_body_is_taken_as_it_is() -> None:
    entry = {
        "id": "dlq-1",
        "request": {"method": "SendMessage", "params": {"message": {"messageId": "m"}}},
        "target": {"url": "http://a/a2a/jsonrpc"},
        "enqueuedAt": "2026-11-22T04:30:01.695Z",
        "attempts": 3,
        "lastError": {"code": -32603, "message": "down", "class": "transient"},
    }
    e, why = entry_of(json.dumps(entry).encode(), x_death(), None)
    assert why is None and e is not None
    assert {k: e[k] for k in entry} == entry and e["amqp"]["firstDeath"]["reason"] == "rejected"
    e2, _ = entry_of(json.dumps(entry).encode(), {}, "other-id")
    assert e2 is not None and e2["id"] == "other-id" and "amqp" not in e2


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", json.dumps({"hello": 1}).encode()])
def test_invalid_bodies_say_why(body: bytes) -> None:
    e, why = entry_of(body, x_death())
    assert why is not None and e is not None and e["id"].startswith("amqp-") and "body" in e


def test_origin_and_death_of() -> None:
    assert origin_of(x_death()) == ("orders-in", "order.created")
    assert origin_of({}) is None
    assert origin_of({"x-death": [{"exchange": "", "routing-keys": []}]}) is None
    assert origin_of({"x-death": [{"exchange": b"", "routing-keys": [b"work"]}]}) == ("", "work")
    assert death_of({}) == {}
    assert death_of({"x-first-death-reason": b"expired"}) == {"firstDeath": {"reason": "expired"}}
    assert death_of({"x-first-death-exchange": ""}) == {"firstDeath": {"exchange": ""}}


def _context_handed_over(url: str, settings: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The ``ssl_context`` ``AmqpBackend`` hands ``aio_pika.connect`` for ``url`` (the connect stubbed:
    it records its arguments and refuses, as a broker that is not there)."""
    import asyncio

    import aio_pika

    from a2actl.core.errors import UnreachableError

    seen: dict[str, Any] = {}

    async def connect(**kwargs: Any) -> Any:
        seen.update(kwargs)
        raise ConnectionRefusedError("stub")

    monkeypatch.setattr(aio_pika, "connect", connect)
    with pytest.raises(UnreachableError):
        asyncio.run(AmqpBackend(url, settings)._connection())
    return seen.get("ssl_context", seen)


def test_amqps_uses_the_shared_tls_context_of_https(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """amqps:// gets the very context https:// gets for the same --cacert/--cert/--key/--insecure
    (``core.tlsfiles.build_ssl_context``): the CA trusted, the client certificate loaded, hostname
    checks off only with --insecure; plain amqp:// gets none."""
    import ssl

    import trustme

    from a2actl.core.config import Settings
    from a2actl.core.tlsfiles import build_ssl_context

    monkeypatch.setenv("A2ACTL_AMQP_PASSWORD", "pw")
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    client = ca.issue_cert("client@example")
    client.private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "client.pem"))
    url = "amqps://u@127.0.0.1:1/%2F?queue=q"
    settings = Settings(cacert=str(tmp_path / "ca.pem"), cert=str(tmp_path / "client.pem"))
    ctx = _context_handed_over(url, settings, monkeypatch)
    assert ctx is build_ssl_context(settings)
    assert ctx.verify_mode is ssl.CERT_REQUIRED and ctx.check_hostname
    assert len(ctx.get_ca_certs()) == 1  # our CA only, not the system store
    insecure = Settings(cacert=str(tmp_path / "ca.pem"), insecure=True)
    ctx = _context_handed_over(url, insecure, monkeypatch)
    assert ctx is build_ssl_context(insecure)
    assert ctx.verify_mode is ssl.CERT_NONE and not ctx.check_hostname
    assert "ssl_context" not in _context_handed_over(
        "amqp://u@127.0.0.1:1/%2F?queue=q", settings, monkeypatch
    )


def test_amqps_tls_file_that_cannot_be_loaded_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As for https:// (exit 2, 'cannot load TLS files'); it was 'unexpected SSLError', exit 1."""
    from a2actl.core.config import Settings

    monkeypatch.setenv("A2ACTL_AMQP_PASSWORD", "pw")
    (tmp_path / "bad.pem").write_text("not a certificate\n")
    with pytest.raises(UsageError, match="cannot load TLS files"):
        _context_handed_over(
            "amqps://u@h:1/%2F?queue=q", Settings(cacert=str(tmp_path / "bad.pem")), monkeypatch
        )
