"""Hostile and misconfigured gRPC peers (#18 review): a card whose GRPC url is an HTTP/1.1 port, a TCP
server that accepts and never speaks, a gRPC server without the A2A service, TLS that cannot be
verified. Each is one error line with the documented exit code (docs/grpc.md, docs/exit-codes.md)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.grpc.views import grpc_card_file

GRPC = ("--binding", "GRPC")


def _card(tmp_path: Path, url: str) -> str:
    """A 1.0 card file whose only interface is GRPC at ``url``."""
    return grpc_card_file(tmp_path, url, "a card pointing GRPC somewhere odd", {"streaming": True})


@pytest.fixture
def silent_tcp() -> Iterator[int]:
    """A TCP server that accepts connections and never sends a byte: its port."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def loop() -> None:
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except OSError:
                continue
            held.append(conn)

    t = threading.Thread(target=loop, daemon=True)
    t.start()
    try:
        yield srv.getsockname()[1]
    finally:
        stop.set()
        t.join(2)
        for c in held:
            c.close()
        srv.close()


@pytest.fixture(scope="module")
def grpc_without_a2a() -> Iterator[int]:
    """A real gRPC server that serves only reflection (no A2A service): its port. grpcio's threaded
    server, so no second asyncio loop runs beside the CLI's."""
    from concurrent import futures

    import grpc  # type: ignore[import-untyped,unused-ignore]
    from grpc_reflection.v1alpha import reflection

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    reflection.enable_server_reflection([reflection.SERVICE_NAME], server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield port
    finally:
        server.stop(0).wait(5)


@pytest.fixture(scope="module")
def raw_grpc_peer() -> Iterator[int]:
    """A gRPC server on ``lf.a2a.v1.A2AService`` (and 0.3's ``a2a.v1.A2AService``) that answers raw
    bytes: its port. The metadata
    ``x-mode`` (``-H 'X-Mode: …'``) picks the answer: ``garbage`` bytes no protobuf parser takes
    (a stream sends one working Task first), ``empty`` an empty message (a Task with no id, a
    SendMessageResponse with no payload), ``deadline`` DEADLINE_EXCEEDED at once. Server reflection answers garbage bytes. grpcio's
    threaded server, as ``grpc_without_a2a``."""
    from concurrent import futures

    import grpc  # type: ignore[import-untyped,unused-ignore]
    from a2a.types import a2a_pb2

    garbage = b"\xff\xff\xff\xff\xff"
    working = a2a_pb2.StreamResponse(
        task=a2a_pb2.Task(id="t-1", context_id="c-1", status=a2a_pb2.TaskStatus(state="TASK_STATE_WORKING"))
    ).SerializeToString()

    def mode(ctx: Any) -> str:
        return str(dict(ctx.invocation_metadata()).get("x-mode", ""))

    def unary(request: bytes, ctx: Any) -> bytes:
        if mode(ctx) == "deadline":
            ctx.abort(grpc.StatusCode.DEADLINE_EXCEEDED, "upstream deadline")
        return garbage if mode(ctx) == "garbage" else b""

    def stream(request: bytes, ctx: Any) -> Iterator[bytes]:
        if mode(ctx) == "garbage":
            yield working
            yield garbage
        else:
            yield b""

    def ident(b: bytes) -> bytes:
        return b

    class Handler(grpc.GenericRpcHandler):  # type: ignore[misc,unused-ignore]
        def service(self, details: Any) -> Any:
            if details.method.endswith("ServerReflection/ServerReflectionInfo"):
                return grpc.stream_stream_rpc_method_handler(
                    lambda requests, ctx: iter([garbage]),
                    request_deserializer=ident,
                    response_serializer=ident,
                )
            if not details.method.startswith(("/lf.a2a.v1.A2AService/", "/a2a.v1.A2AService/")):
                return None
            if details.method.endswith(("/SendStreamingMessage", "/SubscribeToTask", "/TaskSubscription")):
                return grpc.unary_stream_rpc_method_handler(
                    stream, request_deserializer=ident, response_serializer=ident
                )
            return grpc.unary_unary_rpc_method_handler(
                unary, request_deserializer=ident, response_serializer=ident
            )

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4), handlers=[Handler()])
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield port
    finally:
        server.stop(0).wait(5)


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (("send", "CARD", "hi"), "lf.a2a.v1.SendMessageResponse"),
        (("task", "get", "CARD", "t-1"), "lf.a2a.v1.Task"),
        (("stream", "tail", "CARD", "--send", "hi"), "lf.a2a.v1.StreamResponse"),
    ],
)
def test_an_answer_that_does_not_parse_is_a_protocol_violation(
    cli, raw_grpc_peer, tmp_path, command, expected
):
    """Bytes that are not the method's response message: grpcio hands the call None with status OK.
    Exit 6 naming the message type expected, not 'unexpected AttributeError' (exit 1); a stream's
    such message after an event is no cut to resubscribe into."""
    card = _card(tmp_path, f"grpc://127.0.0.1:{raw_grpc_peer}")
    args = [card if a == "CARD" else a for a in command]
    r = cli(*args, *GRPC, "-H", "X-Mode: garbage", "--timeout", "5", "-o", "json")
    assert r.exit_code == 6, r.stdout + r.stderr
    doc = r.json
    err = doc["error"]
    assert err["code"] == "protocol"
    assert expected in err["message"]
    if command[0] == "stream":
        assert [rec["state"] for rec in doc["records"] if rec["type"] == "event"] == ["working"]


@pytest.mark.parametrize("command", [("send", "CARD", "hi"), ("task", "get", "CARD", "t-1")])
def test_an_empty_answer_is_a_protocol_violation_as_over_json_rpc(cli, raw_grpc_peer, tmp_path, command):
    """An OK answer that is an empty message (no task id, no state; a SendMessageResponse with no
    payload): exit 6 as a JSON-RPC result of that shape is, not 'task -' with exit 0."""
    card = _card(tmp_path, f"grpc://127.0.0.1:{raw_grpc_peer}")
    args = [card if a == "CARD" else a for a in command]
    r = cli(*args, *GRPC, "-H", "X-Mode: empty", "--timeout", "5", "-o", "json")
    assert r.exit_code == 6, r.stdout + r.stderr
    err = r.json["error"]
    assert err["code"] == "protocol"
    assert "without an id" in err["message"]


def test_a_0_3_stream_message_the_compat_types_cannot_convert_is_a_protocol_violation(
    cli, raw_grpc_peer, tmp_path
):
    """A2A 0.3 over gRPC: an empty StreamResponse (no payload) is what a2a-sdk's compat types refuse
    ('Unsupported StreamResponse type'). Exit 6 naming the message, not exit 1 'unexpected ValueError'."""
    card = json.loads(Path(_card(tmp_path, f"grpc://127.0.0.1:{raw_grpc_peer}")).read_text())
    card["supportedInterfaces"][0]["protocolVersion"] = "0.3"
    path = tmp_path / "card03.json"
    path.write_text(json.dumps(card))
    r = cli("stream", "tail", str(path), "--send", "hi", *GRPC, "-H", "X-Mode: empty", "-o", "json")
    assert r.exit_code == 6, r.stdout + r.stderr
    err = r.json["error"]
    assert err["code"] == "protocol"
    assert "/a2a.v1.A2AService/SendStreamingMessage" in err["message"]
    assert "not an A2A 0.3 StreamResponse" in err["message"]


@pytest.mark.parametrize(
    ("header", "problem"),
    [
        ("X-Tab: a\tb", "holds a tab"),
        ("X!Id: 1", "not a gRPC metadata name"),
        ("X~Id: 1", "not a gRPC metadata name"),
    ],
)
@pytest.mark.parametrize(
    "command",
    [("send", "CARD", "hi"), ("task", "get", "CARD", "t-1"), ("stream", "tail", "CARD", "--send", "hi")],
)
def test_a_header_grpc_metadata_cannot_carry_is_exit_2_at_once(
    cli, raw_grpc_peer, tmp_path, header, problem, command
):
    """A -H value with a tab, or a name with an HTTP token character gRPC lacks: grpcio logs 'Metadata
    value … is invalid' and never ends the call, so the command hung until --max-time (default 10
    min for send). Exit 2 naming the header (not its value), before any call."""
    card = _card(tmp_path, f"grpc://127.0.0.1:{raw_grpc_peer}")
    args = [card if a == "CARD" else a for a in command]
    r = cli(*args, *GRPC, "-H", header, "--max-time", "5", "-o", "json")
    assert r.exit_code == 2, r.stdout + r.stderr
    err = r.json["error"]
    assert err["code"] == "usage"
    assert problem in err["message"] and header.split(":")[0] in err["message"]
    assert "a\tb" not in err["message"] and "a\tb" not in r.stderr


def test_a_token_with_a_tab_is_exit_2_without_the_token(cli, raw_grpc_peer, tmp_path):
    """A token holding a tab (HTTP allows one in a header value; gRPC metadata does not): exit 2 at
    once, the token never printed."""
    card = _card(tmp_path, f"grpc://127.0.0.1:{raw_grpc_peer}")
    token = tmp_path / "token"
    token.write_text("tok\tSECRET")
    r = cli("task", "get", card, "t-1", *GRPC, "--token-file", str(token), "--max-time", "5", "-o", "json")
    assert r.exit_code == 2, r.stdout + r.stderr
    assert "tab" in r.json["error"]["message"]
    assert "SECRET" not in r.stdout + r.stderr


def test_a_deadline_exceeded_the_agent_answers_at_once_is_not_our_timeout(cli, raw_grpc_peer, tmp_path):
    """DEADLINE_EXCEEDED answered long before --timeout is the agent's own deadline (or one behind it):
    still exit 5 (docs/exit-codes.md), but it does not say 'no answer within 30s' nor advise raising
    --timeout, and the status message is kept."""
    card = _card(tmp_path, f"grpc://127.0.0.1:{raw_grpc_peer}")
    r = cli("task", "get", card, "t-1", *GRPC, "-H", "X-Mode: deadline", "--timeout", "30", "-o", "json")
    assert r.exit_code == 5, r.stdout + r.stderr
    err = r.json["error"]
    assert err["details"]["grpcStatus"] == "DEADLINE_EXCEEDED"
    assert "no answer within" not in err["message"]
    assert "the agent answered gRPC DEADLINE_EXCEEDED" in err["message"]
    assert "upstream deadline" in err["message"]
    assert "raise it" not in err["hint"]


def test_a_reflection_answer_that_does_not_parse_is_unknown_not_a_crash(cli, raw_grpc_peer, tmp_path):
    """caps fingerprint: reflection answered with bytes that are no ServerReflectionResponse. The
    endpoint's reflection is unknown (enabled null) with the reason; it was exit 1 'unexpected
    AttributeError'."""
    card = _card(tmp_path, f"grpc://127.0.0.1:{raw_grpc_peer}")
    r = cli("caps", "fingerprint", card, "--timeout", "5", "-o", "json")
    assert r.exit_code == 0, r.stdout + r.stderr
    (endpoint,) = [e for e in r.json["endpoints"] if e["protocolBinding"] == "GRPC"]
    refl = endpoint["reflection"]
    assert refl["enabled"] is None
    assert refl["services"] == []
    assert "does not parse" in refl["message"]


def test_grpc_url_on_an_http1_port_says_so(cli, sandbox_grpc, tmp_path):
    """The card's GRPC url is the sandbox's HTTP/1.1 port: unreachable (3), and the hint says the
    port speaks HTTP/1.x, not gRPC (grpcio's own text is kept in the message)."""
    port = sandbox_grpc.url.rsplit(":", 1)[1]
    r = cli("send", _card(tmp_path, f"127.0.0.1:{port}"), "hi", *GRPC, "-o", "json")
    assert r.exit_code == 3, r.stdout
    err = r.json["error"]
    assert err["details"]["grpcStatus"] == "UNAVAILABLE"
    assert "HTTP/1" in err["hint"] and "not gRPC" in err["hint"]


def test_send_to_a_silent_peer_is_a_connect_timeout_with_no_task_claimed(cli, silent_tcp, tmp_path):
    """A peer that accepts TCP and never answers HTTP/2: the channel is never READY, so nothing was
    sent. Exit 5 with the connect timeout alone: no 'the task this message started', and no ListTasks
    on that dead channel (which would wait another --connect-timeout)."""
    card = _card(tmp_path, f"grpc://127.0.0.1:{silent_tcp}")
    r = cli("send", card, "hi", *GRPC, "--connect-timeout", "1", "-o", "json")
    assert r.exit_code == 5, r.stdout
    err = r.json["error"]
    assert "connect timeout" in err["message"]
    assert "messageId" not in err["details"]
    assert err["details"]["phase"] == "connect"


def test_a_server_without_the_a2a_service_is_method_not_found_with_a_grpc_hint(
    cli, grpc_without_a2a, tmp_path
):
    """UNIMPLEMENTED without an A2A ErrorInfo: the service or method is not served on that port.
    Exit 1 (an answer, -32601 as docs/grpc.md's table says); the hint names the gRPC service, not the
    A2A-Version header of the HTTP bindings."""
    card = _card(tmp_path, f"127.0.0.1:{grpc_without_a2a}")
    r = cli("task", "get", card, "t-1", *GRPC, "-o", "json")
    assert r.exit_code == 1, r.stdout
    err = r.json["error"]
    assert err["a2aCode"] == -32601
    assert err["details"]["grpcStatus"] == "UNIMPLEMENTED"
    assert "lf.a2a.v1.A2AService" in err["hint"]
    assert "A2A-Version header" not in err["hint"]


def test_unverifiable_tls_is_one_line_with_the_cacert_hint(sdk_grpc_agent_tls, tmp_path):
    """grpcs:// to a server whose CA is not trusted: exit 3, the --cacert hint, and stderr is ONE
    line (grpcio's C core logs the failed handshake to stderr unless GRPC_VERBOSITY is set; a2actl
    defaults it to ERROR). A subprocess: the core reads the variable once, at import."""
    port = sdk_grpc_agent_tls.grpc_url.rsplit(":", 1)[1]
    card = _card(tmp_path, f"grpcs://127.0.0.1:{port}")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("A2ACTL_", "GRPC_"))}
    env["NO_COLOR"] = "1"
    proc = subprocess.run(
        [sys.executable, "-m", "a2actl", "send", card, "hi", *GRPC, "--connect-timeout", "5"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 3, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("a2actl: ") and "--cacert" in lines[0]


def test_userinfo_in_a_card_interface_url_is_never_printed(cli, tmp_path):
    """A card's GRPC url with userinfo (grpcio ignores it): the password is masked in the -v
    negotiation note and in the error (docs: URL userinfo is never printed)."""
    secret = "pa55-in-the-card-url"
    with socket.socket() as s:  # a port with nobody listening: refused, exit 3
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    card = _card(tmp_path, f"grpc://user:{secret}@127.0.0.1:{port}")
    r = cli("send", card, "hi", *GRPC, "-v", "--connect-timeout", "3")
    assert r.exit_code == 3, r.stderr
    assert "negotiated GRPC" in r.stderr
    assert secret not in r.stderr + r.stdout


def test_plaintext_to_a_tls_port_suggests_tls(cli, sdk_grpc_agent_tls):
    """The card's bare host:port is plaintext without TLS options; the port speaks TLS, closes the
    connection: exit 3 and the hint says to use TLS (grpcs:// or --cacert)."""
    r = cli("send", sdk_grpc_agent_tls.url, "hi", *GRPC, "--connect-timeout", "3", "-o", "json")
    assert r.exit_code == 3, r.stdout
    hint = r.json["error"]["hint"]
    assert "--cacert" in hint and "grpcs://" in hint


@pytest.fixture(scope="module")
def mtls_grpc_peer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    """A TLS gRPC server that requires a client certificate (no service registered): its port and
    the path of its CA."""
    from concurrent import futures

    import grpc  # type: ignore[import-untyped,unused-ignore]
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    ca_path = tmp_path_factory.mktemp("mtls") / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    creds = grpc.ssl_server_credentials(
        [(cert.private_key_pem.bytes(), cert.cert_chain_pems[0].bytes())],
        root_certificates=ca.cert_pem.bytes(),
        require_client_auth=True,
    )
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    port = server.add_secure_port("127.0.0.1:0", creds)
    server.start()
    try:
        yield port, ca_path
    finally:
        server.stop(0).wait(5)


def test_a_tls_server_that_wants_a_client_certificate_hints_cert_and_key(cli, mtls_grpc_peer, tmp_path):
    """Mutual TLS required and no --cert given: the server closes the connection after the handshake.
    Exit 3 and the hint asks for --cert/--key (it asked whether the agent was running)."""
    port, ca_path = mtls_grpc_peer
    card = _card(tmp_path, f"grpcs://127.0.0.1:{port}")
    r = cli(
        "task", "get", card, "t-1", *GRPC, "--cacert", str(ca_path), "--connect-timeout", "5", "-o", "json"
    )
    assert r.exit_code == 3, r.stdout + r.stderr
    err = r.json["error"]
    assert err["details"]["grpcStatus"] == "UNAVAILABLE"
    assert "--cert" in err["hint"] and "--key" in err["hint"]
