"""``a2actl.transport.http`` with ``httpx.MockTransport``: content codings and body limits, the shared
TLS context, the mapping of httpx failures to exit-coded errors, redirects, headers and the sink."""

from __future__ import annotations

import asyncio
import gzip
import json
import re
import ssl
import zlib
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from typing import Any

import httpx
import pytest

from a2actl.core import tlsfiles as tls_mod
from a2actl.core.config import Settings
from a2actl.core.errors import (
    A2ACtlError,
    AuthError,
    HTTPStatusError,
    ProtocolViolation,
    TimeoutError_,
    UnreachableError,
    UsageError,
)
from a2actl.transport.failures import ACCEPT_ENCODING
from a2actl.transport.http import HttpTransport
from a2actl.transport.timing import HttpResult
from a2actl.transport.tls import tls_context

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
    tls_mod._tls_context.cache_clear()

    async def go() -> None:
        async with HttpTransport(Settings()) as tr:
            # A refused loopback port: the request goes through the real pools without a server.
            with pytest.raises(Exception):  # noqa: B017 - only the TLS cache is under test
                await tr.request("GET", "http://127.0.0.1:1/")

    asyncio.run(go())
    assert tls_mod._tls_context.cache_info().currsize == 0


def test_an_unreadable_cacert_is_a_usage_error_at_once(tmp_path: Any) -> None:
    with pytest.raises(UsageError, match="cannot load TLS files"):
        HttpTransport(Settings(cacert=str(tmp_path / "missing.pem")))


# -- error mapping: every httpx failure becomes an exit-coded a2actl error ----------------------


def _raising(exc: Exception) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    return handler


def _tls_failure() -> httpx.ConnectError:
    err = httpx.ConnectError("handshake failed")
    cause = ssl.SSLCertVerificationError(1, "certificate verify failed")
    cause.verify_message = "self-signed certificate"
    err.__cause__ = cause
    return err


@pytest.mark.parametrize(
    ("exc", "kind", "exit_code", "text"),
    [
        (httpx.ConnectError("[Errno 111] Connection refused"), UnreachableError, 3, "connection to"),
        (httpx.ConnectError("Name or service not known"), UnreachableError, 3, "cannot connect to"),
        (_tls_failure(), UnreachableError, 3, "TLS handshake with"),
        (httpx.ConnectTimeout("slow"), TimeoutError_, 5, "timed out after 10s"),
        (httpx.ReadTimeout("slow"), TimeoutError_, 5, "within 30s (read timeout)"),
        (httpx.RemoteProtocolError("bad status line"), ProtocolViolation, 6, "malformed HTTP from"),
        (httpx.ReadError(""), UnreachableError, 3, "lost: ReadError"),
    ],
)
def test_httpx_failures_map_to_exit_coded_errors(
    exc: Exception, kind: type[A2ACtlError], exit_code: int, text: str
) -> None:
    with pytest.raises(kind) as info:
        fetch(_raising(exc))
    assert type(info.value) is kind and int(info.value.exit_code) == exit_code
    assert URL in info.value.message and text in info.value.message


def test_a_refused_connection_says_so_with_a_hint() -> None:
    with pytest.raises(UnreachableError) as info:
        fetch(_raising(httpx.ConnectError("[Errno 111] Connection refused")))
    assert info.value.message == f"connection to {URL} refused"
    assert info.value.hint == "is the agent running and listening on that port?"


def test_an_unexpected_exception_is_a_generic_error_with_its_class() -> None:
    with pytest.raises(A2ACtlError) as info:
        fetch(_raising(RuntimeError("boom")))
    assert type(info.value) is A2ACtlError and int(info.value.exit_code) == 1
    assert info.value.message == f"request to {URL} failed: RuntimeError: boom"


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/x", "http://", "not a url at all"])
def test_a_url_that_is_not_http_is_a_usage_error(url: str) -> None:
    async def go() -> None:
        async with HttpTransport(
            Settings(), http_transport=httpx.MockTransport(lambda r: httpx.Response(200))
        ) as tr:
            await tr.request("GET", url)

    with pytest.raises(UsageError) as info:
        asyncio.run(go())
    assert int(info.value.exit_code) == 2


@pytest.mark.parametrize("status", [401, 403])
def test_401_and_403_are_auth_errors_naming_the_challenge(status: int) -> None:
    def handler(_: httpx.Request) -> httpx.Response:
        return httpx.Response(status, headers={"WWW-Authenticate": 'Bearer realm="a2a"'})

    with pytest.raises(AuthError) as info:
        fetch(handler)
    assert int(info.value.exit_code) == 4
    assert f"answered HTTP {status}" in info.value.message
    assert '(WWW-Authenticate: Bearer realm="a2a")' in info.value.message
    assert "set a token" in (info.value.hint or "")
    with pytest.raises(AuthError) as sent:
        fetch(handler, settings=Settings(token="s3cret"))
    assert "the token was sent and refused" in (sent.value.hint or "")


def test_other_error_statuses_are_returned_not_raised() -> None:
    res = fetch(lambda _: httpx.Response(503, text="busy"))
    assert (res.status, res.reason, res.body) == (503, "Service Unavailable", b"busy")


def test_a_body_that_is_not_json_is_a_protocol_violation_with_a_snippet() -> None:
    res = fetch(lambda _: httpx.Response(200, text="<html>hi</html>", headers={"Content-Type": "text/html"}))
    with pytest.raises(ProtocolViolation) as info:
        res.json()
    assert "with a body that is not JSON (content-type text/html): '<html>hi</html>'" in info.value.message


def test_an_undeclared_body_over_the_limit_stops_reading() -> None:
    with pytest.raises(ProtocolViolation, match="sent more than 1,000 bytes; stopped reading"):
        fetch(lambda _: streamed([b"x" * 600, b"x" * 600]), max_bytes=1000)
    assert len(fetch(lambda _: streamed([b"x" * 600, b"x" * 400]), max_bytes=1000).body) == 1000


def test_the_default_limit_is_the_settings_max_body_bytes() -> None:
    with pytest.raises(ProtocolViolation, match="more than 100 bytes"):
        fetch(lambda _: streamed([b"x" * 101]), settings=Settings(max_body_bytes=100))


# -- redirects: reported, not followed, unless -L ------------------------------------------------


def _redirecting(request: httpx.Request) -> httpx.Response:
    if request.url.path == "/card.json":
        return httpx.Response(
            302, headers={"Location": "http://127.0.0.1:9/moved.json"}, json={"name": "decoy"}
        )
    return httpx.Response(200, json=CARD)


def test_a_redirect_is_reported_not_followed_by_default() -> None:
    assert Settings().follow_redirects is False
    with pytest.raises(HTTPStatusError) as info:
        fetch(_redirecting)
    err = info.value
    assert int(err.exit_code) == 1
    assert err.message == f"{URL} answered HTTP 302 Found: redirected to http://127.0.0.1:9/moved.json"
    assert err.details == {"httpStatus": 302, "location": "http://127.0.0.1:9/moved.json"}
    assert "pass -L" in (err.hint or "")


def test_a_redirect_is_followed_with_follow_redirects() -> None:
    res = fetch(_redirecting, settings=Settings(follow_redirects=True))
    assert res.status == 200 and res.json() == CARD


@pytest.mark.parametrize("status", [302, 307])
def test_a_redirect_loop_is_the_agents_permanent_answer(status: int) -> None:
    """-L and an agent that redirects to itself for ever: the agent's HTTP answer (exit 1) with the
    loop's redirect status, which ``dlq replay`` leaves dead as permanent (a configuration error no
    retry fixes), as the aiohttp path (``test_fast``) does. It had no ``httpStatus`` here, which
    replay read as a 500: transient, retried ``--max-attempts`` times."""
    from a2actl.dlq.replay import PERMANENT, classify_exception

    hops: list[str] = []

    def loop(request: httpx.Request) -> httpx.Response:
        hops.append(request.url.path)
        return httpx.Response(status, headers={"Location": URL})

    with pytest.raises(HTTPStatusError) as info:
        fetch(loop, settings=Settings(follow_redirects=True))
    err = info.value
    assert int(err.exit_code) == 1 and len(hops) == 21  # the request and httpx's 20 redirects
    assert err.message == f"{URL} redirected more than 20 times"
    assert err.details == {"httpStatus": status}
    assert classify_exception(err) == PERMANENT


# -- what every request carries ---------------------------------------------------------------------


def test_requests_carry_user_agent_traceparent_token_and_headers() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={})

    settings = Settings(token="tok", headers=(("X-Team", "blue"),), trace_id="ab" * 16)
    fetch(handler, settings=settings)
    fetch(handler, settings=settings)
    first, second = (r.headers for r in seen)
    assert first["user-agent"].startswith("a2actl/")
    assert first["authorization"] == "Bearer tok" and first["x-team"] == "blue"
    assert re.fullmatch(r"00-(ab){16}-[0-9a-f]{16}-01", first["traceparent"])
    assert first["traceparent"] != second["traceparent"]  # a new span per request


def test_an_authorization_header_given_with_h_wins_over_the_token() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["authorization"])
        return httpx.Response(200, json={})

    fetch(handler, settings=Settings(token="tok", headers=(("Authorization", "Basic xyz"),)))
    assert seen == ["Basic xyz"]


class _Recorder:
    wants_bodies = True

    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []

    def on_request(self, method: str, url: str, headers: list[tuple[str, str]]) -> None:
        self.events.append(("request", (method, url, dict(headers))))

    def on_response(self, status: int, reason: str, headers: list[tuple[str, str]], elapsed: float) -> None:
        self.events.append(("response", (status, reason)))

    def on_body(self, direction: str, body: bytes) -> None:
        self.events.append(("body", (direction, body)))

    def on_timing(self, name: str, seconds: float) -> None:
        self.events.append(("timing", name))

    def on_note(self, text: str) -> None:
        self.events.append(("note", text))


def test_the_sink_sees_redacted_headers_and_bodies() -> None:
    sink = _Recorder()

    async def go() -> None:
        handler = lambda _: httpx.Response(200, json={"access_token": "abc", "echo": "tok-value"})  # noqa: E731
        async with HttpTransport(
            Settings(token="tok-value"), sink, http_transport=httpx.MockTransport(handler)
        ) as tr:
            await tr.request("POST", URL, json_body={"password": "pw", "x": 1})

    asyncio.run(go())
    kinds = [k for k, _ in sink.events]
    assert kinds == ["request", "body", "response", "body"]
    method, url, headers = sink.events[0][1]
    assert (method, url, headers["authorization"]) == ("POST", URL, "Bearer ***")
    assert json.loads(sink.events[1][1][1]) == {"password": "***", "x": 1}
    assert sink.events[2][1] == (200, "OK")
    assert json.loads(sink.events[3][1][1]) == {"access_token": "***", "echo": "***"}


@pytest.mark.parametrize("host", ["a..b", ".x", "x" * 64])
def test_a_host_with_no_idna_form_is_a_failed_lookup(host: str) -> None:
    """getaddrinfo raised UnicodeError ('label empty or too long'): 'unexpected UnicodeError', exit 1."""

    async def go() -> HttpResult:
        mock = httpx.MockTransport(lambda _: httpx.Response(200, json=CARD))
        async with HttpTransport(Settings(), http_transport=mock) as tr:
            return await tr.request("GET", f"http://{host}/card.json")

    with pytest.raises(UnreachableError, match=r"DNS lookup for .* failed: not a host name"):
        asyncio.run(go())


def test_timings_are_ordered_and_an_ip_literal_costs_no_lookup() -> None:
    res = fetch(lambda _: httpx.Response(200, json=CARD))
    t = res.timing
    assert t.time_namelookup == 0.0 and t.remote_ip == "127.0.0.1"
    assert 0.0 <= t.time_connect <= t.time_pretransfer <= t.time_starttransfer <= t.time_total < 5
    assert set(t.phases()) == {"dns", "connect", "tls", "ttfb", "transfer"}
    assert all(v >= 0 for v in t.phases().values())
    assert list(t.to_json()) == [
        "time_namelookup",
        "time_connect",
        "time_appconnect",
        "time_pretransfer",
        "time_starttransfer",
        "time_total",
        "newConnection",
        "remoteIp",
    ]


def test_basic_authorization_is_the_header_httpx_builds_from_userinfo() -> None:
    from a2actl.transport.http import basic_authorization

    for user, password in (("ops", "pw"), ("us@er", "p\u00e9"), ("lone", "")):
        request = httpx.Request("GET", "http://h/")
        flow = httpx.BasicAuth(user, password).sync_auth_flow(request)
        assert next(flow).headers["Authorization"] == basic_authorization(user, password)


def test_the_hint_of_a_401_names_the_credentials_that_were_refused() -> None:
    """A -H X-Api-Key or a URL's user and password refused was told "set a token with A2ACTL_TOKEN",
    as if nothing had been sent."""
    from a2actl.transport.failures import auth_hint

    base = "http://agent/x"
    assert auth_hint(base, Settings()).startswith("set a token")
    assert auth_hint(base, Settings(token="t0ken")).startswith("the token was sent")
    api_key = Settings(headers=(("X-Api-Key", "k-123456"),))
    assert auth_hint(base, api_key) == "-H X-Api-Key was sent and refused: check its value"
    bearer = Settings(token="t0ken", headers=(("Authorization", "Basic abcd"),))
    assert auth_hint(base, bearer).startswith("the -H Authorization credentials were sent")
    assert auth_hint("http://ops:pw@agent/x", Settings(token="t0ken")).startswith(
        "the user and password of the URL were sent (Basic)"
    )
    assert "k-123456" not in auth_hint(base, api_key)
