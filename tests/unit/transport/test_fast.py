"""``a2actl.transport.fast.FastTransport`` (aiohttp + orjson) against real loopback servers: a raw
HTTP/1.1 server in the test's own event loop (``RawServer``, port 0) that reads each request and lets
the test write any bytes back — whole answers, gzip bombs, resets, silence.

What each failure maps to is the same class (exit code) as ``HttpTransport`` gives for it:
refused/DNS/reset → ``UnreachableError`` (3), read timeout → ``TimeoutError_`` (5), 401 →
``AuthError`` (4), unfollowed 3xx → ``HTTPStatusError`` (1), malformed or over-limit bodies →
``ProtocolViolation`` (6)."""

from __future__ import annotations

import asyncio
import gzip
import json
import re
import socket
import ssl
import struct
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import orjson
import pytest

from a2actl import __version__
from a2actl.core.config import Settings
from a2actl.core.errors import (
    A2ACtlError,
    AuthError,
    HTTPStatusError,
    ProtocolViolation,
    StreamCut,
    TimeoutError_,
    UnreachableError,
    UsageError,
)
from a2actl.transport.fast import AiohttpStream, FastTransport, map_aiohttp_error
from a2actl.transport.timing import HttpResult

T = TypeVar("T")
TOKEN = "s3cr3t-token-for-fast-tests"
TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-01$")


@dataclass
class Seen:
    """One request as the server read it: header names lowercased, in arrival order (repeats kept)."""

    method: str
    path: str
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k == name]


Answer = Callable[[Seen, asyncio.StreamWriter], Awaitable[None]]


@dataclass
class RawServer:
    """Requests seen, and the base URL of the listening server."""

    url: str
    seen: list[Seen] = field(default_factory=list)


async def _read_request(reader: asyncio.StreamReader) -> Seen | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    lines = head.decode("latin-1").split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    headers = [(k.strip().lower(), v.strip()) for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)]
    length = int(dict(headers).get("content-length", "0"))
    body = await reader.readexactly(length) if length else b""
    return Seen(method, path, headers, body)


@asynccontextmanager
async def raw_server(answer: Answer) -> AsyncIterator[RawServer]:
    """Serve on 127.0.0.1:0; each request on a connection goes to ``answer`` (keep-alive until the
    answer closes the writer)."""
    server: RawServer | None = None

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        assert server is not None
        try:
            while not writer.is_closing():
                req = await _read_request(reader)
                if req is None:
                    break
                server.seen.append(req)
                await answer(req, writer)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    srv = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    server = RawServer(f"http://127.0.0.1:{port}")
    try:
        yield server
    finally:
        srv.close()
        for w in list(getattr(srv, "_clients", ()) or ()):  # py3.12+ close_clients; 3.11 keeps none
            w.close()


def response(
    body: bytes = b"", status: str = "200 OK", headers: dict[str, str] | None = None, length: bool = True
) -> bytes:
    hdrs = {"Content-Type": "application/json", **(headers or {})}
    if length:
        hdrs["Content-Length"] = str(len(body))
    head = "".join(f"{k}: {v}\r\n" for k, v in hdrs.items())
    return f"HTTP/1.1 {status}\r\n{head}\r\n".encode() + body


def answer_with(data: bytes, close: bool = False) -> Answer:
    async def answer(_: Seen, writer: asyncio.StreamWriter) -> None:
        writer.write(data)
        await writer.drain()
        if close:
            writer.close()

    return answer


def reset(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP RST (SO_LINGER 0), as a crashed process or a middlebox does."""
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


def run(coro: Awaitable[T]) -> T:
    async def main() -> T:
        return await coro

    return asyncio.run(main())


async def fetch(
    answer: Answer,
    settings: Settings | None = None,
    *,
    path: str = "/rpc",
    method: str = "GET",
    sink: Any = None,
    **kw: Any,
) -> tuple[HttpResult, RawServer]:
    async with raw_server(answer) as srv, FastTransport(settings or Settings(), sink) as tr:
        return await tr.request(method, srv.url + path, **kw), srv


class RecordingSink:
    """The ``-v`` sink: keeps every event as the transport hands it over (already redacted)."""

    wants_bodies = True

    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []

    def on_request(self, method: str, url: str, headers: list[tuple[str, str]]) -> None:
        self.events.append(("request", (method, url, headers)))

    def on_response(self, status: int, reason: str, headers: list[tuple[str, str]], elapsed: float) -> None:
        self.events.append(("response", (status, reason, headers, elapsed)))

    def on_body(self, direction: str, body: bytes) -> None:
        self.events.append(("body", (direction, body)))

    def on_timing(self, name: str, seconds: float) -> None:
        self.events.append(("timing", (name, seconds)))

    def on_note(self, text: str) -> None:
        self.events.append(("note", text))


# --- success: body, headers, token, traceparent -------------------------------------------------


def test_json_body_goes_out_orjson_encoded_with_a2actls_headers() -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": {"text": "héllo ✓", "n": 2**40}}
    settings = Settings(token=TOKEN, headers=(("X-Tenant", "acme"),))

    async def go() -> tuple[list[HttpResult], RawServer]:
        async with raw_server(answer_with(response(b'{"ok": true}'))) as srv, FastTransport(settings) as tr:
            return [await tr.request("POST", srv.url + "/rpc", json_body=body) for _ in range(2)], srv

    results, srv = run(go())
    assert [r.json() for r in results] == [{"ok": True}] * 2
    first, second = srv.seen
    assert first.method == "POST" and first.path == "/rpc"
    assert first.body == orjson.dumps(body) and json.loads(first.body) == body
    assert first.header("content-type") == ["application/json"]
    assert first.header("user-agent") == [f"a2actl/{__version__}"]
    assert first.header("accept-encoding") == ["gzip, deflate"]
    assert first.header("authorization") == [f"Bearer {TOKEN}"]
    assert first.header("x-tenant") == ["acme"]
    spans = []
    for seen, result in zip(srv.seen, results, strict=True):
        (tp,) = seen.header("traceparent")
        m = TRACEPARENT.match(tp)
        assert m is not None and m.group(1) == settings.trace_id
        assert result.traceparent == tp
        spans.append(m.group(2))
    assert spans[0] != spans[1]  # a new span id per request, one trace id per invocation
    assert second.header("authorization") == [f"Bearer {TOKEN}"]
    res = results[0]
    assert res.status == 200 and res.content_encoding is None and res.wire_bytes == len(res.body) == 12
    assert 0 < res.timing.time_starttransfer <= res.timing.time_total


def test_dash_h_replaces_a2actls_headers_whatever_the_case_and_beats_the_token() -> None:
    settings = Settings(
        token=TOKEN, headers=(("user-agent", "probe/1"), ("AUTHORIZATION", "Basic dXNlcjpwdw=="))
    )
    _, srv = run(
        fetch(answer_with(response(b"{}")), settings, headers={"A2A-Version": "1.0", "a2a-version": "0.3"})
    )
    (seen,) = srv.seen
    assert seen.header("user-agent") == ["probe/1"]  # one value: -H replaced a2actl's
    assert seen.header("authorization") == ["Basic dXNlcjpwdw=="]  # -H wins over the token
    assert seen.header("a2a-version") == ["0.3"]  # per-call headers: the last spelling wins


def test_per_call_content_type_is_kept_and_raw_bytes_get_no_invented_type() -> None:
    async def go() -> RawServer:
        async with raw_server(answer_with(response(b"{}"))) as srv, FastTransport(Settings()) as tr:
            await tr.request(
                "POST", srv.url, json_body={"a": 1}, headers={"content-type": "application/a2a+json"}
            )
            await tr.request("POST", srv.url, content=b"raw")
            return srv

    typed, raw = run(go()).seen
    assert typed.header("content-type") == ["application/a2a+json"]
    assert raw.body == b"raw" and raw.header("content-type") == []


def test_the_header_names_on_the_wire_are_these_and_in_this_order() -> None:
    """Exactly what aiohttp sends for a2actl (names, order, the values it fills in): nothing added to
    or dropped from a JSON call, a body-less POST, raw bytes or a GET; no Content-Type is invented."""

    async def go() -> RawServer:
        async with raw_server(answer_with(response(b"{}"))) as srv, FastTransport(Settings()) as tr:
            await tr.request("POST", srv.url + "/rpc", json_body={"a": 1}, headers={"A2A-Version": "1.0"})
            await tr.request("POST", srv.url + "/rpc")
            await tr.request("GET", srv.url + "/card", headers={"Accept": "application/json"})
            await tr.request("POST", srv.url + "/rpc", content=b"x")
            return srv

    json_call, empty, get, raw = run(go()).seen
    base = ["host", "user-agent", "accept-encoding"]
    assert [k for k, _ in json_call.headers] == [
        *base,
        "a2a-version",
        "traceparent",
        "content-type",
        "accept",
        "content-length",
    ]
    assert (json_call.header("accept"), json_call.header("content-length")) == (["*/*"], ["7"])
    assert [k for k, _ in empty.headers] == [*base, "traceparent", "accept", "content-length"]
    assert empty.header("content-length") == ["0"]
    assert [k for k, _ in get.headers] == [*base, "accept", "traceparent"]
    assert get.header("accept") == ["application/json"]
    assert [k for k, _ in raw.headers] == [*base, "traceparent", "accept", "content-length"]


def test_span_ids_are_fresh_and_never_all_zero() -> None:
    from a2actl.transport.fast import _span_id

    spans = [_span_id() for _ in range(3 * 512 + 5)]  # across several refills
    assert len(set(spans)) == len(spans)
    assert all(re.fullmatch(r"[0-9a-f]{16}", s) and s != "0" * 16 for s in spans)


def test_without_read_timeouts_a_slow_answer_is_waited_for() -> None:
    """``read_timeouts = False`` (load run bounds every request itself): a read slower than
    --timeout is not cut by the transport; with the default it is (the read-timeout test below)."""

    async def slow(_: Seen, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(0.4)
        writer.write(response(b'{"late": true}'))
        await writer.drain()

    async def go() -> HttpResult:
        async with raw_server(slow) as srv, FastTransport(Settings(read_timeout=0.1)) as tr:
            tr.read_timeouts = False
            return await tr.request("POST", srv.url + "/rpc", json_body={})

    assert run(go()).json() == {"late": True}
    with pytest.raises(TimeoutError_):
        run(fetch(slow, Settings(read_timeout=0.1)))


# --- content codings and limits ------------------------------------------------------------------


def test_gzip_body_is_decoded_and_the_limit_counts_decoded_bytes() -> None:
    plain = b'{"a": "' + b"x" * 5000 + b'"}'
    wire = gzip.compress(plain)
    assert len(wire) < 1000
    ok = answer_with(response(wire, headers={"Content-Encoding": "gzip"}))
    res, _ = run(fetch(ok, max_bytes=len(plain)))
    assert res.body == plain and res.content_encoding == "gzip" and res.wire_bytes == len(wire)
    with pytest.raises(ProtocolViolation, match="gzip body that decodes to more than 1,000 bytes"):
        run(fetch(ok, max_bytes=1000))


def _bomb(segments: int, segment: int = 1024 * 1024) -> Iterator[bytes]:
    """A gzip member of ``segments`` MiB of zeros, ~1 KiB on the wire per MiB decoded. Every segment
    after the first compresses to the same bytes, so the server pays nothing per segment."""
    comp = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(segment)
    yield comp.compress(zeros) + comp.flush(zlib.Z_SYNC_FLUSH)
    again = comp.compress(zeros) + comp.flush(zlib.Z_SYNC_FLUSH)
    for _ in range(segments - 1):
        yield again


def test_a_gzip_bomb_stops_at_the_limit() -> None:
    total = 16 * 1024  # 16 GiB decoded, 16 MiB on the wire: more than the socket buffers hold
    sent = [0]

    async def bomb(_: Seen, writer: asyncio.StreamWriter) -> None:
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        for seg in _bomb(total):
            if writer.is_closing():
                return
            writer.write(b"%x\r\n%s\r\n" % (len(seg), seg))
            sent[0] += 1
            await writer.drain()

    with pytest.raises(ProtocolViolation) as info:
        run(fetch(bomb, max_bytes=4 * 1024 * 1024))
    msg = info.value.message
    assert "gzip body that decodes to more than 4,194,304 bytes" in msg
    assert "decompression bomb" in (info.value.hint or "")
    found = re.search(r"\(([\d,]+) bytes on the wire so far\)", msg)
    assert found is not None and int(found.group(1).replace(",", "")) < 1036 * sent[0]
    assert sent[0] < total  # the client hung up: the server could not write the rest


def test_a_declared_length_over_the_limit_fails_before_reading() -> None:
    # Headers only: reading the promised 10 MB would wait for the read timeout instead.
    answer = answer_with(response(b"", headers={"Content-Length": str(10 * 1024 * 1024)}, length=False))
    with pytest.raises(ProtocolViolation, match="declares a 10,485,760-byte body, over the 1,000-byte limit"):
        run(fetch(answer, Settings(read_timeout=5), max_bytes=1000))


def test_an_undeclared_body_over_the_limit_stops_reading() -> None:
    async def endless(_: Seen, writer: asyncio.StreamWriter) -> None:
        writer.write(response(b"", length=False, headers={"Connection": "close"}))
        while not writer.is_closing():
            writer.write(b"x" * 65536)
            await writer.drain()

    with pytest.raises(ProtocolViolation, match="sent more than 100,000 bytes; stopped reading"):
        run(fetch(endless, max_bytes=100_000))


@pytest.mark.parametrize("coding", ["br", "zstd", "gzip, gzip"])
def test_codings_not_asked_for_are_protocol_violations(coding: str) -> None:
    answer = answer_with(response(b"\x1b\x00\x00", headers={"Content-Encoding": coding}))
    with pytest.raises(ProtocolViolation, match="a2actl asked for gzip, deflate"):
        run(fetch(answer))


def test_a_body_that_does_not_decode_is_a_protocol_violation() -> None:
    answer = answer_with(response(b"not gzip at all", headers={"Content-Encoding": "gzip"}))
    with pytest.raises(ProtocolViolation, match="does not decode as its Content-Encoding says"):
        run(fetch(answer))


# --- statuses --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "hint"), [(None, "set a token"), (TOKEN, "the token was sent and refused")]
)
def test_401_is_an_auth_error_with_the_challenge(token: str | None, hint: str) -> None:
    answer = answer_with(
        response(
            b"{}", "401 Unauthorized", {"WWW-Authenticate": 'Bearer realm="agents", error="invalid_token"'}
        )
    )
    with pytest.raises(AuthError) as info:
        run(fetch(answer, Settings(token=token)))
    assert info.value.exit_code == 4
    assert (
        'HTTP 401 Unauthorized (WWW-Authenticate: Bearer realm="agents", error="invalid_token")'
        in info.value.message
    )
    assert (info.value.hint or "").startswith(hint)


def _redirect_then_ok(req: Seen) -> bytes:
    if req.path == "/old":
        return response(b'{"card": "decoy"}', "302 Found", {"Location": "/new"})
    return response(b'{"card": "real"}')


def test_302_without_dash_l_is_an_http_status_error() -> None:
    async def answer(req: Seen, writer: asyncio.StreamWriter) -> None:
        writer.write(_redirect_then_ok(req))
        await writer.drain()

    with pytest.raises(HTTPStatusError) as info:
        run(fetch(answer, path="/old"))
    assert info.value.details == {"httpStatus": 302, "location": "/new"}
    assert "pass -L" in (info.value.hint or "")
    res, srv = run(fetch(answer, Settings(follow_redirects=True), path="/old"))
    assert res.json() == {"card": "real"} and [s.path for s in srv.seen] == ["/old", "/new"]


def test_a_redirect_loop_is_the_agents_permanent_answer() -> None:
    """-L and an agent on loopback that redirects to itself for ever: the agent's HTTP answer (exit
    1) that ``dlq replay`` leaves dead as permanent (a configuration error no retry fixes), as on
    the httpx path (``test_http``)."""
    from a2actl.dlq.replay import PERMANENT, classify_exception

    loop = response(b"", "302 Found", {"Location": "/rpc"})
    with pytest.raises(HTTPStatusError) as info:
        run(fetch(answer_with(loop), Settings(follow_redirects=True)))
    err = info.value
    assert int(err.exit_code) == 1
    # httpx's limit and wording, and the last redirect's status (aiohttp's own is 0)
    assert err.message.endswith("/rpc redirected more than 20 times")
    assert (err.details or {}).get("httpStatus") == 302
    assert classify_exception(err) == PERMANENT


def test_an_https_redirect_under_dash_l_is_verified_with_a2actls_tls_options(tmp_path: Any) -> None:
    """``http://`` → 302 → ``https://`` under ``-L``: the TLS hop checks the certificate against
    ``--cacert`` (aiohttp's ``ssl=False``, once passed for http URLs, meant *no checks* there)."""
    import ssl

    import trustme

    ca = trustme.CA()
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_ctx)

    async def go(settings: Settings) -> HttpResult:
        async def tls_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            if await _read_request(reader) is not None:
                writer.write(response(b'{"over": "tls"}', headers={"Connection": "close"}))
                await writer.drain()
            writer.close()

        tls = await asyncio.start_server(tls_answer, "127.0.0.1", 0, ssl=server_ctx)
        target = f"https://127.0.0.1:{tls.sockets[0].getsockname()[1]}/card"
        try:
            async with raw_server(answer_with(response(b"", "302 Found", {"Location": target}))) as srv:
                async with FastTransport(settings) as tr:
                    return await tr.request("GET", srv.url + "/card")
        finally:
            tls.close()

    with pytest.raises(
        UnreachableError, match="TLS handshake with .* failed: unable to get local issuer certificate"
    ):
        run(go(Settings(follow_redirects=True)))
    assert run(go(Settings(follow_redirects=True, cacert=str(ca_file)))).json() == {"over": "tls"}


# --- failures to connect, timeouts, cuts -------------------------------------------------------------


def test_a_refused_port_is_unreachable() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # bound, never listened: nothing accepts on it

    async def go(host: str) -> None:
        async with FastTransport(Settings()) as tr:
            await tr.request("GET", f"http://{host}:{port}/")

    with pytest.raises(UnreachableError, match=rf"connection to http://127.0.0.1:{port}/ refused"):
        run(go("127.0.0.1"))
    with pytest.raises(UnreachableError, match=rf"connection to http://localhost:{port}/ refused"):
        run(go("localhost"))  # a name: aiohttp may try several addresses and report them together


def test_an_invalid_host_is_a_dns_failure() -> None:
    async def go() -> None:
        async with FastTransport(Settings()) as tr:
            await tr.request("GET", "http://agent.invalid/card")

    with pytest.raises(UnreachableError, match="DNS lookup for 'agent.invalid' failed"):
        run(go())


def test_a_server_that_never_answers_is_a_read_timeout() -> None:
    async def silent(_: Seen, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(5)

    with pytest.raises(TimeoutError_) as info:
        run(fetch(silent, Settings(read_timeout=0.2)))
    assert "within 0.2s (read timeout)" in info.value.message and info.value.exit_code == 5


async def _cut(writer: asyncio.StreamWriter, head: bytes, rst: bool) -> None:
    writer.write(head + b'{"partial": "')
    await writer.drain()
    await asyncio.sleep(0.05)  # the client is reading the body when the connection ends
    if rst:
        reset(writer)
    else:
        writer.close()


LENGTH = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
CHUNKED = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nd\r\n"
UNTIL_CLOSE = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n"


@pytest.mark.parametrize("head", [LENGTH, CHUNKED, UNTIL_CLOSE], ids=["length", "chunked", "until-close"])
def test_a_reset_mid_body_is_unreachable(head: bytes) -> None:
    """An RST mid-body is ``UnreachableError`` (3, as httpx's ``ReadError``): the connection was
    lost, the agent did not answer badly; a retry may succeed (``dlq replay`` classes it transient).
    aiohttp ends a read-until-close body as complete even on a reset: FastTransport tells them apart."""

    async def answer(_: Seen, writer: asyncio.StreamWriter) -> None:
        await _cut(writer, head, rst=True)

    with pytest.raises(UnreachableError, match="lost: .*Connection reset by peer") as info:
        run(fetch(answer))
    assert info.value.exit_code == 3


@pytest.mark.parametrize("head", [LENGTH, CHUNKED], ids=["length", "chunked"])
def test_a_clean_close_before_the_promised_body_is_a_protocol_violation(head: bytes) -> None:
    """A FIN before Content-Length (or the last chunk) is the agent's HTTP broken: exit 6, as httpx's
    ``RemoteProtocolError``; with no length, a FIN is how the body ends (valid)."""

    async def answer(_: Seen, writer: asyncio.StreamWriter) -> None:
        await _cut(writer, head, rst=False)

    with pytest.raises(ProtocolViolation, match="malformed HTTP from .*: incomplete body"):
        run(fetch(answer))

    async def whole(_: Seen, writer: asyncio.StreamWriter) -> None:
        await _cut(writer, UNTIL_CLOSE, rst=False)

    assert run(fetch(whole))[0].body == b'{"partial": "'


def test_a_close_before_any_answer_is_a_protocol_violation() -> None:
    async def hang_up(_: Seen, writer: asyncio.StreamWriter) -> None:
        writer.close()

    with pytest.raises(ProtocolViolation, match="closed the connection without an answer"):
        run(fetch(hang_up))


@pytest.mark.parametrize(
    "headers",
    [
        {"Content-Security-Policy": "default-src 'self'" + " https://cdn.example" * 1000},  # ~20 KiB
        {"Set-Cookie": "session=" + "x" * 60_000},
        {f"X-Header-{i}": "v" for i in range(300)},
    ],
    ids=["20KiB-line", "60KiB-cookie", "300-headers"],
)
def test_a_head_httpx_reads_is_read_here_too(headers: dict[str, str]) -> None:
    """A long header line or many headers: aiohttp's defaults (8,190 bytes a line, 128 headers) made
    these exit 6 on ``load run``/``dlq replay`` while ``card get`` (httpx, ~100 KiB a head) read them."""
    from a2actl.transport.http import HttpTransport

    async def go() -> tuple[int, int]:
        async with raw_server(answer_with(response(b"{}", headers=headers))) as srv:
            async with FastTransport(Settings()) as fast, HttpTransport(Settings()) as slow:
                a = await fast.request("GET", srv.url + "/rpc")
                b = await slow.request("GET", srv.url + "/rpc")
                return a.status, b.status

    assert run(go()) == (200, 200)


def test_bad_urls_are_usage_errors() -> None:
    async def go(url: str) -> None:
        async with FastTransport(Settings()) as tr:
            await tr.request("GET", url)

    with pytest.raises(UsageError, match="unsupported URL"):
        run(go("ftp://127.0.0.1/x"))
    with pytest.raises(UsageError, match="invalid URL"):
        run(go("http://[::1/x"))


def test_map_aiohttp_error_keeps_a2actl_errors_and_never_raises() -> None:
    err = UsageError("x")
    assert map_aiohttp_error(err, "http://h/", Settings()) is err
    other = map_aiohttp_error(RuntimeError("boom"), "http://h/", Settings())
    assert other.exit_code == 1 and "RuntimeError: boom" in other.message


def test_a_tls_alert_after_the_handshake_is_a_tls_failure() -> None:
    """TLS 1.3: a server that requires a client certificate refuses after the client's handshake is
    done, so the alert arrives with the first read; aiohttp raises it as ``ClientOSError`` from the
    ``SSLError`` (seen against ``openssl s_server -Verify 1 -verify_return_error``). It was
    "connection lost … retry" (the reset hint); httpx's ``map_httpx_error`` reports it as the TLS
    failure it is, with the --cert/--key hint (exit 3 either way)."""
    import aiohttp

    text = "[SSL: TLSV13_ALERT_CERTIFICATE_REQUIRED] tlsv13 alert certificate required (_ssl.c:2580)"
    exc = aiohttp.ClientOSError(1, text)
    exc.__cause__ = ssl.SSLError(1, text)
    err = map_aiohttp_error(exc, "https://h/rpc", Settings())
    assert isinstance(err, UnreachableError)
    assert (
        err.message.startswith("TLS handshake with https://h/rpc failed: ")
        and "certificate required" in err.message
    )
    assert "--cert/--key" in (err.hint or "")


# --- streams ----------------------------------------------------------------------------------------


def test_open_stream_decodes_utf8_split_across_reads() -> None:
    text = "data: héllo €uro 😀 ✓\n\n" * 3
    raw = text.encode()

    async def trickle(_: Seen, writer: asyncio.StreamWriter) -> None:
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        for i in range(0, len(raw), 3):  # 3-byte pieces split the 2- and 4-byte characters
            piece = raw[i : i + 3]
            writer.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            await writer.drain()
            await asyncio.sleep(0.001)
        writer.write(b"0\r\n\r\n")
        await writer.drain()

    async def go() -> tuple[list[str], AiohttpStream]:
        async with raw_server(trickle) as srv, FastTransport(Settings()) as tr:
            stream, clock = await tr.open_stream("POST", srv.url + "/rpc", json_body={"x": 1})
            assert clock.traceparent
            try:
                return [t async for t in stream.aiter_text()], stream
            finally:
                await stream.aclose()

    chunks, stream = run(go())
    assert "".join(chunks) == text
    assert len(chunks) > 3 and "\ufffd" not in "".join(chunks)  # many reads, no character torn
    assert stream.status_code == 200 and stream.headers["content-type"] == "text/event-stream"


def test_open_stream_text_is_utf8_without_a_leading_bom_whatever_the_charset() -> None:
    """An event stream is UTF-8, one leading BOM dropped (WHATWG HTML §9.2.5): the BOM made the first
    line an unknown field and lost the first event; a BOM later on is text."""
    raw = "\ufeffdata: h\u00e9llo\n\ndata: \ufeffx\n\n".encode()

    async def answer(_: Seen, writer: asyncio.StreamWriter) -> None:
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=iso-8859-1\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(raw), raw)
        )
        await writer.drain()

    async def go() -> list[str]:
        async with raw_server(answer) as srv, FastTransport(Settings()) as tr:
            stream, _ = await tr.open_stream("GET", srv.url + "/events")
            try:
                return [t async for t in stream.aiter_text()]
            finally:
                await stream.aclose()

    assert "".join(run(go())) == "data: h\u00e9llo\n\ndata: \ufeffx\n\n"


@pytest.mark.parametrize("head", [CHUNKED, UNTIL_CLOSE], ids=["chunked", "until-close"])
def test_a_stream_reset_midway_is_a_stream_cut(head: bytes) -> None:
    async def answer(_: Seen, writer: asyncio.StreamWriter) -> None:
        await _cut(writer, head.replace(b"application/json", b"text/event-stream"), rst=True)

    async def go() -> None:
        async with raw_server(answer) as srv, FastTransport(Settings()) as tr:
            stream, _ = await tr.open_stream("GET", srv.url)
            try:
                async for _ in stream.aiter_text():
                    pass
            finally:
                await stream.aclose()

    with pytest.raises(StreamCut, match="was cut: connection to .* lost"):
        run(go())


def test_open_stream_checks_auth_and_codings_before_returning() -> None:
    async def go(answer: Answer) -> None:
        async with raw_server(answer) as srv, FastTransport(Settings()) as tr:
            await tr.open_stream("GET", srv.url)

    with pytest.raises(AuthError):
        run(go(answer_with(response(b"{}", "403 Forbidden"))))
    with pytest.raises(ProtocolViolation, match="asked for gzip, deflate"):
        run(go(answer_with(response(b"x", headers={"Content-Encoding": "br"}))))


def test_read_rest_is_bounded() -> None:
    body = json.dumps({"error": "x" * 5000}).encode()

    async def go(max_bytes: int | None) -> bytes:
        async with raw_server(answer_with(response(body))) as srv, FastTransport(Settings()) as tr:
            stream, _ = await tr.open_stream("POST", srv.url, json_body={})
            try:
                return await tr.read_rest(stream, srv.url, max_bytes)
            finally:
                await stream.aclose()

    assert run(go(None)) == body
    with pytest.raises(ProtocolViolation, match="sent more than 1,000 bytes; stopped reading"):
        run(go(1000))


def test_read_rest_says_how_much_arrived_before_a_reset() -> None:
    async def answer(_: Seen, writer: asyncio.StreamWriter) -> None:
        await _cut(writer, LENGTH.replace(b"200 OK", b"500 Internal Server Error"), rst=True)

    async def go() -> bytes:
        async with raw_server(answer) as srv, FastTransport(Settings()) as tr:
            stream, _ = await tr.open_stream("POST", srv.url, json_body={})
            try:
                return await tr.read_rest(stream, srv.url)
            finally:
                await stream.aclose()

    with pytest.raises(UnreachableError) as info:
        run(go())
    assert re.search(
        r"lost: .*Connection reset by peer.*\(after 13 bytes of an HTTP 500 answer\)$", info.value.message
    )


# --- the -v sink -----------------------------------------------------------------------------------


def test_the_verbose_sink_sees_redacted_headers_and_bodies() -> None:
    settings = Settings(token=TOKEN, headers=(("X-Api-Key", "k3y-value-123"), ("X-Tenant", "acme")))
    sink = RecordingSink()
    answer = answer_with(response(json.dumps({"echo": TOKEN, "access_token": "abcd1234"}).encode()))
    res, srv = run(fetch(answer, settings, method="POST", sink=sink, json_body={"sessionToken": "zzzz9999"}))
    assert srv.seen[0].header("authorization") == [f"Bearer {TOKEN}"]  # the wire has the real token
    kinds = [k for k, _ in sink.events]
    assert kinds == ["request", "body", "response", "body"]
    method, url, headers = sink.events[0][1]
    sent = dict(headers)
    assert (method, url) == ("POST", srv.url + "/rpc")
    assert sent["authorization"] == "Bearer ***" and sent["x-api-key"] == "***" and sent["x-tenant"] == "acme"
    assert json.loads(sink.events[1][1][1]) == {"sessionToken": "***"}
    status, _, _, elapsed = sink.events[2][1]
    assert status == 200 and elapsed == res.timing.time_total
    assert json.loads(sink.events[3][1][1]) == {"echo": "***", "access_token": "***"}
    assert TOKEN not in repr(sink.events) and "k3y-value-123" not in repr(sink.events)


def test_a_body_orjson_cannot_write_is_written_by_the_stdlib() -> None:
    """orjson refuses integers past 64 bits, nesting past 255 levels and lone surrogates (a
    ``TypeError``, which ended ``dlq replay`` as an unexpected error); the stdlib writes them, and
    what no JSON can carry is a ``UsageError``."""
    tr = FastTransport(Settings())
    deep: Any = 1
    for _ in range(300):
        deep = [deep]
    for body in ({"n": 2**70}, {"deep": deep}, {"s": "a\ud800b", "n": 2**70}):
        _, data, _ = tr._prepare("http://agent/", body, None, None)
        assert data is not None and json.loads(data) == body
    _, data, _ = tr._prepare("http://agent/", {"n": 2**70, "é": "é"}, None, None)
    assert data == '{"n":1180591620717411303424,"é":"é"}'.encode()
    with pytest.raises(UsageError, match="cannot be written as JSON"):
        tr._prepare("http://agent/", {"n": 2**70, "x": float("nan")}, None, None)


@pytest.mark.parametrize(
    ("location", "error", "needle"),
    [
        (
            "ftp://elsewhere/x",
            HTTPStatusError,
            "/rpc redirected to ftp://elsewhere/x, which a2actl cannot follow",
        ),
        ("http://[::1/x", ProtocolViolation, "malformed HTTP from http://127.0.0.1:"),
    ],
)
def test_a_redirect_a2actl_cannot_follow_is_the_agents_answer(
    location: str, error: type, needle: str
) -> None:
    """-L and a Location that is not http(s) (exit 1) or not a URL (exit 6): the request went out
    and the agent answered, as httpx's path says. aiohttp's InvalidUrlRedirectClientError is an
    InvalidURL and read 'invalid URL <the request's URL>' (UsageError, exit 2: a bad command line;
    dlq replay took it for an entry never sent), its NonHttpUrlRedirectClientError 'request …
    failed: NonHttpUrlRedirectClientError'."""
    from a2actl.transport.http import HttpTransport

    redirect = (
        f"HTTP/1.1 307 Temporary Redirect\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n".encode()
    )
    settings = Settings(follow_redirects=True)

    async def go(transport: Any, url: str) -> BaseException:
        async with transport:
            with pytest.raises(A2ACtlError) as info:
                await transport.request("POST", url, json_body={"x": 1})
            return info.value

    async def both() -> list[BaseException]:
        async with raw_server(answer_with(redirect)) as srv:
            return [
                await go(FastTransport(settings), srv.url + "/rpc"),
                await go(HttpTransport(settings), srv.url + "/rpc"),
            ]

    for err in run(both()):
        assert type(err) is error, (type(err), err)
        assert needle in str(err), err


def test_a_url_with_userinfo_under_a_token_sends_the_urls_credentials() -> None:
    """A URL with ``user:pw@`` and a token (``A2ACTL_TOKEN``, ``-H Authorization``): the URL's own
    credentials go out as Basic, as on the httpx path (its BasicAuth replaces the header). aiohttp
    refused the request ("Cannot combine AUTHORIZATION header with ... credentials encoded in URL"),
    so ``fleet probe`` of an inventory line with userinfo failed as ``protocol`` under a token."""
    import base64

    async def go() -> RawServer:
        async with (
            raw_server(answer_with(response(b"{}"))) as srv,
            FastTransport(Settings(token=TOKEN)) as tr,
        ):
            url = srv.url.replace("http://", "http://agent:pw%40x@") + "/rpc"
            res = await tr.request("POST", url, json_body={})
            assert res.status == 200
            return srv

    (seen,) = run(go()).seen
    assert seen.header("authorization") == ["Basic " + base64.b64encode(b"agent:pw@x").decode()]

    # an empty userinfo carries no credentials (httpx sends no Basic for it): the token goes out
    async def empty() -> RawServer:
        async with (
            raw_server(answer_with(response(b"{}"))) as srv,
            FastTransport(Settings(token=TOKEN)) as tr,
        ):
            await tr.request("GET", srv.url.replace("http://", "http://@") + "/rpc")
            return srv

    (seen,) = run(empty()).seen
    assert seen.header("authorization") == [f"Bearer {TOKEN}"]
