"""``a2actl.transport.grpc``: URL forms and TLS choice, metadata, and ``GrpcClient`` against a real
``grpc.aio`` server on loopback whose servicer records what it received and answers what a test asks
(a task, a ``google.rpc.Status`` with details, a slow answer, a stream cut after N events)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

grpc = pytest.importorskip("grpc")

from a2a.types import a2a_pb2, a2a_pb2_grpc  # noqa: E402
from google.protobuf import any_pb2  # noqa: E402
from google.rpc import error_details_pb2, status_pb2  # noqa: E402

from a2actl.core.config import Settings  # noqa: E402
from a2actl.core.errors import (  # noqa: E402
    AuthError,
    StreamCut,
    TimeoutError_,
    UnreachableError,
    UsageError,
)
from a2actl.core.sink import NullSink  # noqa: E402
from a2actl.protocol.card import Interface  # noqa: E402
from a2actl.protocol.negotiation import Selection  # noqa: E402
from a2actl.protocol.versions import Family  # noqa: E402
from a2actl.transport.channel import TimedEvent  # noqa: E402
from a2actl.transport.grpc import GrpcClient, GrpcOutcome, metadata_for, parse_endpoint  # noqa: E402


# ------------------------------------------------------------------------------------- URL forms
@pytest.mark.parametrize(
    ("url", "target", "tls"),
    [
        ("grpc://h.example:50051", "h.example:50051", False),
        ("http://127.0.0.1:8080", "127.0.0.1:8080", False),
        ("grpcs://h.example:50051", "h.example:50051", True),
        ("https://h.example", "h.example:443", True),
        ("h.example:443", "h.example:443", True),
        ("h.example:50051", "h.example:50051", False),
        ("127.0.0.1:50051/grpc", "127.0.0.1:50051", False),
        ("[::1]:50051", "[::1]:50051", False),
    ],
)
def test_endpoint_forms(url: str, target: str, tls: bool):
    e = parse_endpoint(url, Settings())
    assert (e.target, e.tls) == (target, tls)


@pytest.mark.parametrize(
    ("url", "target", "tls"),
    [
        ("dns:///h.example:50051", "h.example:50051", False),
        ("dns://8.8.8.8/h.example:50051", "h.example:50051", False),
        ("dns:h.example:50051", "h.example:50051", False),
        ("DNS:///h.example", "h.example:443", True),
    ],
)
def test_grpc_dns_names_are_host_port(url: str, target: str, tls: bool):
    """gRPC's own name syntax (grpc/doc/naming.md: ``dns:[//authority/]host[:port]``, port 443 by
    default): the authority (a DNS server) is not ours to use; the host and port are."""
    e = parse_endpoint(url, Settings())
    assert (e.target, e.tls) == (target, tls)


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("unix:/tmp/agent.sock", "unix"),
        ("unix:///tmp/agent.sock", "unix"),
        ("unix-abstract:agent", "unix-abstract"),
        ("ipv4:127.0.0.1:50051", "ipv4"),
        ("vsock:3:50051", "vsock"),
    ],
)
def test_other_grpc_name_schemes_are_refused_by_name(url: str, says: str):
    """gRPC target schemes a card's interface should not use (spec v1.0 §10: host:port) are refused
    as what they are, not as 'no port' or 'port could not be cast'."""
    with pytest.raises(UsageError) as exc:
        parse_endpoint(url, Settings())
    assert f"{says}: targets are not supported" in exc.value.message


def test_a_bare_host_port_is_tls_with_tls_options(tmp_path):
    assert parse_endpoint("h:50051", Settings(cacert=str(tmp_path / "ca.pem"))).tls is True


@pytest.mark.parametrize("url", ["ftp://h:1", "h.example", "grpc://:5", "grpc://h:notaport"])
def test_bad_endpoints_are_usage_errors(url: str):
    with pytest.raises(UsageError):
        parse_endpoint(url, Settings())


# -------------------------------------------------------------------------------------- metadata
def test_metadata_names_lowercased_token_and_traceparent():
    s = Settings(headers=(("A2A-Extensions", "urn:a"), ("X-Foo", "bar"), ("Content-Type", "x")), token="tok")
    md, notes = metadata_for(s)
    d = dict(md)
    assert md[0] == ("a2a-version", "1.0")
    assert (d["a2a-extensions"], d["x-foo"], d["authorization"]) == ("urn:a", "bar", "Bearer tok")
    assert "content-type" not in d and any("Content-Type" in n for n in notes)
    assert re.fullmatch(rf"00-{s.trace_id}-[0-9a-f]{{16}}-01", d["traceparent"])


def test_an_explicit_authorization_header_wins_over_the_token():
    md, _ = metadata_for(Settings(headers=(("Authorization", "Basic abc"),), token="tok"))
    assert [v for k, v in md if k == "authorization"] == ["Basic abc"]


def test_insecure_and_bad_tls_files_are_usage_errors(tmp_path):
    from a2actl.transport.grpc import credentials

    with pytest.raises(UsageError, match="--insecure"):
        credentials(Settings(insecure=True))
    with pytest.raises(UsageError, match="--cacert"):
        credentials(Settings(cacert=str(tmp_path / "missing.pem")))
    with pytest.raises(UsageError, match="--key needs --cert"):
        credentials(Settings(key=str(tmp_path / "k.pem")))


# ------------------------------------------------------------------------- a recording servicer
def _abort_status(code: Any, message: str, reason: str | None) -> tuple[Any, str, tuple[Any, ...]]:
    status = status_pb2.Status(code=code.value[0], message=message)
    if reason is not None:
        detail = any_pb2.Any()
        detail.Pack(error_details_pb2.ErrorInfo(reason=reason, domain="a2a-protocol.org"))
        status.details.append(detail)
    return code, message, (("grpc-status-details-bin", status.SerializeToString()),)


class Recorder(a2a_pb2_grpc.A2AServiceServicer):
    """GetTask by id: ``ok`` a working task; ``slow`` sleeps 2 s; ``CODE[:REASON]`` aborts with that
    status (and an A2A ErrorInfo). SendStreamingMessage: ``events`` StreamResponses, then the abort
    given by the message text (``CODE[:REASON]``) or a normal end (``end``); ``silent`` never sends."""

    def __init__(self) -> None:
        self.metadata: list[dict[str, str]] = []

    def _record(self, context: Any) -> None:
        self.metadata.append({k: v for k, v in context.invocation_metadata() if isinstance(v, str)})

    async def _abort(self, context: Any, spec: str) -> None:
        name, _, reason = spec.partition(":")
        code, message, trailers = _abort_status(
            getattr(grpc.StatusCode, name), f"{name} here", reason or None
        )
        context.set_trailing_metadata(trailers)
        await context.abort(code, message)

    async def GetTask(self, request: Any, context: Any) -> Any:  # noqa: N802 - the RPC's name
        self._record(context)
        if request.id == "slow":
            await asyncio.sleep(2)
        if request.id == "big":  # an answer over a 4 KiB limit
            return a2a_pb2.Task(id="big", context_id="c1", metadata={"pad": "x" * 8192})
        if request.id not in ("ok", "slow"):
            await self._abort(context, request.id)
        return a2a_pb2.Task(
            id=request.id,
            context_id="c1",
            status=a2a_pb2.TaskStatus(state=a2a_pb2.TaskState.TASK_STATE_WORKING),
        )

    async def SendStreamingMessage(self, request: Any, context: Any) -> AsyncIterator[Any]:  # noqa: N802
        self._record(context)
        text = request.message.parts[0].text
        count, _, end = text.partition(" ")
        if end == "silent":
            await asyncio.sleep(5)
        for i in range(int(count)):
            yield a2a_pb2.StreamResponse(
                status_update=a2a_pb2.TaskStatusUpdateEvent(
                    task_id="t1",
                    context_id="c1",
                    status=a2a_pb2.TaskStatus(state=a2a_pb2.TaskState.TASK_STATE_WORKING),
                )
            )
            await asyncio.sleep(0.001 * i)
        if end == "big":  # one message over a 4 KiB limit
            yield a2a_pb2.StreamResponse(
                message=a2a_pb2.Message(
                    message_id="m", role=a2a_pb2.Role.ROLE_AGENT, parts=[a2a_pb2.Part(text="x" * 8192)]
                )
            )
            return
        if end != "end":
            await self._abort(context, end)


def _client(port: int, **settings: Any) -> GrpcClient:
    class Tr:
        def __init__(self) -> None:
            self.settings = Settings(**settings)
            self.sink = NullSink()

        def redact_body(self, body: bytes) -> bytes:
            return body

    iface = Interface(f"127.0.0.1:{port}", "GRPC", "1.0", Family.V1_0, "supportedInterfaces")
    return GrpcClient(Tr(), Selection(iface, Family.V1_0, "test"))  # type: ignore[arg-type]


def serve(test: Callable[[GrpcClient, Recorder, int], Awaitable[None]], **settings: Any) -> Recorder:
    """Run ``test(client, recorder, port)`` against a fresh server on 127.0.0.1:0 in one loop."""
    recorder = Recorder()

    async def main() -> None:
        server = grpc.aio.server()
        a2a_pb2_grpc.add_A2AServiceServicer_to_server(recorder, server)
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        client = _client(port, **settings)
        try:
            await test(client, recorder, port)
        finally:
            await client.aclose()
            await server.stop(0)

    asyncio.run(main())
    return recorder


def test_unary_result_is_protojson_and_metadata_arrives():
    got: list[GrpcOutcome] = []

    async def t(c: GrpcClient, r: Recorder, port: int) -> None:
        got.append(await c.call("GetTask", {"id": "ok", "historyLength": 2}))

    rec = serve(t, headers=(("X-Trace-Me", "yes"), ("A2A-Extensions", "urn:e")), token="tok-123")
    [out] = got
    assert out.error is None and out.status == "OK"
    assert out.method == "/lf.a2a.v1.A2AService/GetTask"
    assert out.result == {"id": "ok", "contextId": "c1", "status": {"state": "TASK_STATE_WORKING"}}
    md = rec.metadata[0]
    assert md["a2a-version"] == "1.0" and md["a2a-extensions"] == "urn:e" and md["x-trace-me"] == "yes"
    assert md["authorization"] == "Bearer tok-123"
    assert md["traceparent"].startswith("00-")


@pytest.mark.parametrize(
    ("spec", "code", "name"),
    [
        ("NOT_FOUND:TASK_NOT_FOUND", -32001, "TaskNotFoundError"),
        ("FAILED_PRECONDITION:UNSUPPORTED_OPERATION", -32004, "UnsupportedOperationError"),
        ("FAILED_PRECONDITION:TASK_NOT_CANCELABLE", -32002, "TaskNotCancelableError"),
        ("INVALID_ARGUMENT:INVALID_PARAMS", -32602, "InvalidParamsError"),
        ("INVALID_ARGUMENT", -32602, "InvalidParamsError"),
        ("INTERNAL", -32603, "InternalError"),
    ],
)
def test_a2a_errors_decode_like_jsonrpc(spec: str, code: int, name: str):
    got: list[GrpcOutcome] = []

    async def t(c: GrpcClient, r: Recorder, port: int) -> None:
        got.append(await c.call("GetTask", {"id": spec}))

    serve(t)
    [out] = got
    assert out.error is not None
    assert (out.error.code, out.error.name, out.status) == (code, name, spec.split(":")[0])


@pytest.mark.parametrize(
    ("spec", "exc"),
    [("UNAVAILABLE", UnreachableError), ("UNAUTHENTICATED", AuthError), ("PERMISSION_DENIED", AuthError)],
)
def test_transport_statuses_raise(spec: str, exc: type[Exception]):
    async def t(c: GrpcClient, r: Recorder, port: int) -> None:
        with pytest.raises(exc) as info:
            await c.call("GetTask", {"id": spec})
        assert info.value.details["grpcStatus"] == spec  # type: ignore[attr-defined]

    serve(t)


def test_the_deadline_is_the_read_timeout():
    async def t(c: GrpcClient, r: Recorder, port: int) -> None:
        with pytest.raises(TimeoutError_, match="DEADLINE_EXCEEDED"):
            await c.call("GetTask", {"id": "slow"})

    serve(t, read_timeout=0.2)


def _stream_params(text: str) -> dict[str, Any]:
    return {"message": {"messageId": "m1", "role": "ROLE_USER", "parts": [{"text": text}]}}


def test_a_stream_ends_normally():
    items: list[Any] = []

    async def t(c: GrpcClient, r: Recorder, port: int) -> None:
        items.extend([i async for i in c.stream("SendStreamingMessage", _stream_params("3 end"))])

    serve(t)
    assert [type(i) for i in items] == [TimedEvent] * 3
    assert all(i.size > 0 and i.event.kind == "status-update" for i in items)
    assert [i.at for i in items] == sorted(i.at for i in items)


def test_a_stream_aborted_after_events_is_a_cut():
    items: list[Any] = []

    async def t(c: GrpcClient, r: Recorder, port: int) -> None:
        with pytest.raises(StreamCut, match="after 2 event"):
            async for i in c.stream("SendStreamingMessage", _stream_params("2 UNAVAILABLE")):
                items.append(i)

    serve(t)
    assert len(items) == 2


def test_an_a2a_error_on_a_stream_is_an_outcome():
    items: list[Any] = []

    async def t(c: GrpcClient, r: Recorder, port: int) -> None:
        items.extend(
            [i async for i in c.stream("SendStreamingMessage", _stream_params("0 NOT_FOUND:TASK_NOT_FOUND"))]
        )

    serve(t)
    [only] = items
    assert isinstance(only, GrpcOutcome) and only.error is not None and only.error.code == -32001


def test_a_silent_stream_times_out_per_message():
    async def t(c: GrpcClient, r: Recorder, port: int) -> None:
        with pytest.raises(TimeoutError_, match="read timeout"):
            async for _ in c.stream("SendStreamingMessage", _stream_params("0 silent")):
                pass

    serve(t, read_timeout=0.2)


def test_nothing_listening_is_unreachable():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    async def main() -> None:
        c = _client(port, connect_timeout=3.0)
        try:
            with pytest.raises(UnreachableError):
                await c.call("GetTask", {"id": "x"})
            assert c.ready is False
        finally:
            await c.aclose()

    asyncio.run(main())


def test_a_request_that_does_not_fit_the_message_is_a_usage_error():
    async def main() -> None:
        c = _client(9)
        with pytest.raises(UsageError, match="GetTaskRequest"):
            await c.call("GetTask", {"id": "x", "noSuchField": 1})

    asyncio.run(main())


def test_a_message_over_the_limit_is_a_protocol_violation_not_a_cut():
    from a2actl.core.errors import ProtocolViolation

    items: list[Any] = []

    async def t(c: GrpcClient, r: Recorder, port: int) -> None:
        with pytest.raises(ProtocolViolation) as info:
            async for i in c.stream("SendStreamingMessage", _stream_params("2 big")):
                items.append(i)
        assert len(items) == 2  # after events: still over the limit, not a cut to resubscribe
        assert not isinstance(info.value, StreamCut)
        assert info.value.details["grpcStatus"] == "RESOURCE_EXHAUSTED"  # type: ignore[attr-defined]

    serve(t, max_body_bytes=4096, max_event_bytes=4096)


@pytest.mark.parametrize(
    ("reason", "says"),
    [
        (
            "failed to connect to all addresses; last error: UNIMPLEMENTED: ipv4:127.0.0.1:1: Failed parsing"
            " HTTP/2 (Expected SETTINGS frame as the first frame, got frame type 80) (Trying to connect an"
            " http1.x server (HTTP status 404))",
            "HTTP/1.x, not gRPC",
        ),
        (
            "Tls handshake failed (TSI_PROTOCOL_FAILURE): SSL_ERROR_SSL: error:1000007d:SSL routines:"
            "OPENSSL_internal:CERTIFICATE_VERIFY_FAILED: unable to get local issuer certificate",
            "--cacert",
        ),
        ("SSL_ERROR_SSL: error:100000f7:SSL routines:OPENSSL_internal:WRONG_VERSION_NUMBER", "plaintext"),
        ("failed to connect to all addresses; Connection refused", "is the agent running"),
    ],
)
def test_unavailable_hint_reads_grpcios_reason(reason, says):
    """grpcio's UNAVAILABLE text (as seen from grpcio 1.85) picks the hint: HTTP/1 port, untrusted
    certificate, TLS to a plaintext port, else the generic one."""
    from a2actl.transport.grpc import unavailable_hint

    assert says in unavailable_hint(reason)


def test_a_unary_answer_over_the_limit_names_the_limit_not_a_stream_flag():
    """A unary answer over the receive limit: exit 6 with a hint that names the limit in bytes;
    ``--max-event-bytes`` (a stream option ``send`` does not have) is offered only for streams."""
    from a2actl.core.errors import ProtocolViolation

    async def t(c: GrpcClient, r: Recorder, port: int) -> None:
        with pytest.raises(ProtocolViolation) as unary:
            await c.call("GetTask", {"id": "big"})
        assert "4096 bytes" in (unary.value.hint or "")
        assert "--max-event-bytes" not in (unary.value.hint or "")
        with pytest.raises(ProtocolViolation) as streamed:
            async for _ in c.stream("SendStreamingMessage", _stream_params("1 big")):
                pass
        assert "--max-event-bytes" in (streamed.value.hint or "")

    serve(t, max_body_bytes=4096, max_event_bytes=4096)
