"""``a2actl.transport.http`` with ``httpx.MockTransport``: content codings and body limits (issue #12
item 5), and the shared TLS context (item 7)."""

from __future__ import annotations

import asyncio
import gzip
import json
import zlib
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from typing import Any

import httpx
import pytest

from a2actl.core.config import Settings
from a2actl.core.errors import ProtocolViolation, UsageError
from a2actl.transport import http as http_mod
from a2actl.transport.http import ACCEPT_ENCODING, HttpResult, HttpTransport, tls_context

URL = "http://127.0.0.1:9/card.json"  # an IP literal: no name lookup; MockTransport never connects
CARD = {"name": "gzip agent", "skills": [{"id": "x" * 2000}]}


def fetch(
    handler: Callable[[httpx.Request], httpx.Response],
    max_bytes: int | None = None,
    settings: Settings | None = None,
) -> HttpResult:
    async def go() -> HttpResult:
        async with HttpTransport(settings or Settings(), http_transport=httpx.MockTransport(handler)) as tr:
            return await tr.request("GET", URL, max_bytes=max_bytes)

    return asyncio.run(go())


def streamed(chunks: Iterable[bytes], **headers: str) -> httpx.Response:
    """A response whose body arrives as a stream, as from the network (``content=bytes`` would make
    httpx read and decode it inside the mock)."""

    async def body() -> AsyncIterator[bytes]:
        for c in chunks:
            yield c

    return httpx.Response(200, content=body(), headers={k.replace("_", "-"): v for k, v in headers.items()})


def encoded(body: bytes, coding: str) -> httpx.Response:
    return streamed([body], Content_Encoding=coding, Content_Type="application/json")


def deflate(body: bytes) -> bytes:
    return zlib.compress(body)


def raw_deflate(body: bytes) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    return c.compress(body) + c.flush()


def test_asks_for_the_codings_it_decodes() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["accept-encoding"])
        return httpx.Response(200, json=CARD)

    fetch(handler)
    assert seen == [ACCEPT_ENCODING] == ["gzip, deflate"]


@pytest.mark.parametrize(
    ("coding", "encode"),
    [("gzip", gzip.compress), ("deflate", deflate), ("deflate", raw_deflate), ("GZip", gzip.compress)],
)
def test_decodes_and_counts_wire_bytes(coding: str, encode: Callable[[bytes], bytes]) -> None:
    plain = json.dumps(CARD).encode()
    wire = encode(plain)
    res = fetch(lambda _: encoded(wire, coding))
    assert res.json() == CARD
    assert res.body == plain
    assert res.wire_bytes == len(wire) < len(plain)
    assert res.content_encoding == coding.lower()


def test_identity_wire_equals_decoded() -> None:
    res = fetch(lambda _: streamed([json.dumps(CARD).encode()]))
    assert res.content_encoding is None and res.wire_bytes == len(res.body) > 0


def _bomb(total: int, seg: int = 1024 * 1024) -> Iterator[bytes]:
    comp = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(seg)
    for _ in range(total // seg):
        yield comp.compress(zeros) + comp.flush(zlib.Z_SYNC_FLUSH)
    yield comp.flush()


def test_a_gzip_bomb_stops_at_the_limit_counted_on_decoded_bytes() -> None:
    sent = []

    def chunks() -> Iterator[bytes]:
        for c in _bomb(512 * 1024 * 1024):
            sent.append(len(c))
            yield c

    def handler(_: httpx.Request) -> httpx.Response:
        return streamed(chunks(), Content_Encoding="gzip")

    with pytest.raises(ProtocolViolation) as info:
        fetch(handler, max_bytes=4 * 1024 * 1024)
    msg = info.value.message
    assert "gzip body that decodes to more than 4,194,304 bytes" in msg and "on the wire so far" in msg
    assert "decompression bomb" in (info.value.hint or "")
    assert len(sent) <= 6  # stopped after ~4 MiB decoded, not 512 MiB


def test_a_small_limit_applies_to_decoded_not_wire_size() -> None:
    plain = b'{"a": "' + b"x" * 5000 + b'"}'
    wire = gzip.compress(plain)
    assert len(wire) < 1000
    with pytest.raises(ProtocolViolation, match="decodes to more than 1,000 bytes"):
        fetch(lambda _: encoded(wire, "gzip"), max_bytes=1000)
    assert fetch(lambda _: encoded(wire, "gzip"), max_bytes=len(plain)).body == plain


@pytest.mark.parametrize("value", ["gzip, gzip", "br", "zstd", "deflate, gzip", "compress"])
def test_codings_not_asked_for_or_stacked_are_protocol_violations(value: str) -> None:
    with pytest.raises(ProtocolViolation, match="a2actl asked for gzip, deflate"):
        fetch(lambda _: encoded(b"whatever", value))


def test_identity_listed_is_no_coding() -> None:
    res = fetch(lambda _: encoded(json.dumps(CARD).encode(), "identity"))
    assert res.json() == CARD and res.content_encoding is None


def test_a_corrupt_gzip_body_is_a_protocol_violation() -> None:
    with pytest.raises(ProtocolViolation, match="does not decode as its Content-Encoding says"):
        fetch(lambda _: encoded(b"\x1f\x8b\x08\x00garbage-not-gzip" * 10, "gzip"))


def test_the_declared_length_over_the_limit_stops_before_reading() -> None:
    with pytest.raises(ProtocolViolation, match="declares a 2,000-byte body"):
        fetch(lambda _: streamed([b"x" * 2000], Content_Length="2000"), max_bytes=1000)


# -- TLS state: built once per process and option set, never for plain HTTP ----------------------


def test_tls_context_is_shared_per_option_set(tmp_path: Any) -> None:
    a = tls_context(None, None, None, False)
    assert tls_context(None, None, None, False) is a
    insecure = tls_context(None, None, None, True)
    assert insecure is not a and insecure.verify_mode.name == "CERT_NONE" and not insecure.check_hostname


def test_plain_http_builds_no_tls_context() -> None:
    http_mod._tls_context.cache_clear()

    async def go() -> None:
        async with HttpTransport(Settings()) as tr:
            # A refused loopback port: the request goes through the real pools without a server.
            with pytest.raises(Exception):  # noqa: B017 - only the TLS cache is under test
                await tr.request("GET", "http://127.0.0.1:1/")

    asyncio.run(go())
    assert http_mod._tls_context.cache_info().currsize == 0


def test_an_unreadable_cacert_is_a_usage_error_at_once(tmp_path: Any) -> None:
    with pytest.raises(UsageError, match="cannot load TLS files"):
        HttpTransport(Settings(cacert=str(tmp_path / "missing.pem")))
