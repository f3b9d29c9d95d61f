"""The sandbox's gRPC interface (a2actl/server/sandbox/grpc.py), driven with a2a-sdk's own stubs
(``a2a_pb2_grpc.A2AServiceStub``, the 0.3 ``a2a_v0_3_pb2_grpc`` stub) and grpc's reflection client,
independent of a2actl's gRPC client: the card, both services, errors as ``google.rpc.Status``, the
shared task store, reflection and the fault knobs."""

from __future__ import annotations

import asyncio
import functools
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import grpc
import httpx
import pytest
from a2a.compat.v0_3 import a2a_v0_3_pb2 as pb03
from a2a.compat.v0_3 import a2a_v0_3_pb2_grpc as pb03_grpc
from a2a.types import a2a_pb2 as pb
from a2a.types import a2a_pb2_grpc
from google.rpc import error_details_pb2, status_pb2

from a2actl.server.sandbox.options import SandboxOptions
from a2actl.server.sandbox.server import RunningSandbox
from tests.conftest import TOKEN
from tests.procs import first_document

T = TypeVar("T")
CARD = "/.well-known/agent-card.json"


def run(make: Callable[[grpc.aio.Channel], Awaitable[T]], target: str) -> T:
    """Open a plaintext channel to ``target``, run ``make(channel)``, close it."""

    async def go() -> T:
        async with grpc.aio.insecure_channel(target) as channel:
            return await make(channel)

    return asyncio.run(go())


def message(text: str = "hi") -> pb.SendMessageRequest:
    return pb.SendMessageRequest(
        message=pb.Message(message_id=uuid.uuid4().hex, role=pb.ROLE_USER, parts=[pb.Part(text=text)])
    )


def error_info(exc: grpc.aio.AioRpcError) -> tuple[str, str]:
    """(reason, domain) of the ErrorInfo in the ``grpc-status-details-bin`` trailer."""
    raw = dict(exc.trailing_metadata() or ())["grpc-status-details-bin"]
    status = status_pb2.Status.FromString(raw)
    for detail in status.details:
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(info):
            return info.reason, info.domain
    raise AssertionError("no ErrorInfo in the status details")


def interfaces(sb: RunningSandbox) -> list[tuple[str, str, str]]:
    card = httpx.get(sb.url + CARD).json()
    return [(i["protocolBinding"], i["url"], i["protocolVersion"]) for i in card["supportedInterfaces"]]


def test_the_card_declares_grpc_last_as_host_port(sandbox_grpc: RunningSandbox) -> None:
    got = interfaces(sandbox_grpc)
    assert sandbox_grpc.grpc_url == f"127.0.0.1:{sandbox_grpc.opts.grpc_port}"
    assert got[-2:] == [("GRPC", sandbox_grpc.grpc_url, "1.0"), ("GRPC", sandbox_grpc.grpc_url, "0.3")]
    assert got[0][0] == "JSONRPC"  # auto-selection keeps JSON-RPC
    assert all(binding != "GRPC" for binding, _, _ in got[:-2])


def test_a_1_0_only_sandbox_declares_and_serves_1_0_grpc_only(sandbox_grpc_v1: RunningSandbox) -> None:
    assert [i for i in interfaces(sandbox_grpc_v1) if i[0] == "GRPC"] == [
        ("GRPC", sandbox_grpc_v1.grpc_url, "1.0")
    ]

    async def old(channel: grpc.aio.Channel) -> Any:
        return await pb03_grpc.A2AServiceStub(channel).GetTask(pb03.GetTaskRequest(name="tasks/x"))

    with pytest.raises(grpc.aio.AioRpcError) as err:
        run(old, str(sandbox_grpc_v1.grpc_url))
    assert err.value.code() == grpc.StatusCode.UNIMPLEMENTED


def test_no_grpc_by_default_in_the_options() -> None:
    with RunningSandbox(SandboxOptions()) as sb:
        assert sb.grpc_url is None
        assert "GRPC" not in [i[0] for i in interfaces(sb)]


def test_send_then_get_over_grpc_and_jsonrpc_share_the_task(sandbox_grpc: RunningSandbox) -> None:
    async def go(channel: grpc.aio.Channel) -> tuple[pb.SendMessageResponse, pb.Task]:
        stub = a2a_pb2_grpc.A2AServiceStub(channel)
        sent = await stub.SendMessage(message("hello grpc"), metadata=[("a2a-version", "1.0")])
        got = await stub.GetTask(pb.GetTaskRequest(id=sent.task.id))
        return sent, got

    sent, got = run(go, str(sandbox_grpc.grpc_url))
    assert sent.task.status.state == pb.TASK_STATE_COMPLETED
    assert got.id == sent.task.id
    assert "".join(p.text for a in got.artifacts for p in a.parts) == "echo: hello grpc"
    r = httpx.post(
        sandbox_grpc.url + "/a2a/jsonrpc",
        json={"jsonrpc": "2.0", "id": 1, "method": "GetTask", "params": {"id": sent.task.id}},
        headers={"A2A-Version": "1.0"},
    )
    assert r.json()["result"]["id"] == sent.task.id


def test_an_unknown_task_is_not_found_with_the_a2a_error_info(sandbox_grpc: RunningSandbox) -> None:
    async def go(channel: grpc.aio.Channel) -> Any:
        return await a2a_pb2_grpc.A2AServiceStub(channel).GetTask(pb.GetTaskRequest(id="no-such-task"))

    with pytest.raises(grpc.aio.AioRpcError) as err:
        run(go, str(sandbox_grpc.grpc_url))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    assert error_info(err.value) == ("TASK_NOT_FOUND", "a2a-protocol.org")


def test_the_0_3_service_answers_on_the_same_port(sandbox_grpc: RunningSandbox) -> None:
    async def go(channel: grpc.aio.Channel) -> pb03.Task:
        stub = pb03_grpc.A2AServiceStub(channel)
        sent = await stub.SendMessage(
            pb03.SendMessageRequest(
                request=pb03.Message(
                    message_id=uuid.uuid4().hex, role=pb03.ROLE_USER, content=[pb03.Part(text="old")]
                )
            )
        )
        task: pb03.Task = await stub.GetTask(pb03.GetTaskRequest(name=f"tasks/{sent.task.id}"))
        return task

    task = run(go, str(sandbox_grpc.grpc_url))
    assert task.status.state == pb03.TASK_STATE_COMPLETED


def test_a_stream_yields_status_and_artifact_events(sandbox_grpc: RunningSandbox) -> None:
    async def go(channel: grpc.aio.Channel) -> list[str]:
        stub = a2a_pb2_grpc.A2AServiceStub(channel)
        return [str(ev.WhichOneof("payload")) async for ev in stub.SendStreamingMessage(message())]

    kinds = run(go, str(sandbox_grpc.grpc_url))
    assert kinds[0] == "task" and "artifact_update" in kinds and kinds[-1] == "status_update"


def test_reflection_lists_the_services(sandbox_grpc: RunningSandbox) -> None:
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

    async def go(channel: grpc.aio.Channel) -> list[str]:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        async for answer in stub.ServerReflectionInfo(iter([request])):
            return sorted(s.name for s in answer.list_services_response.service)
        return []

    assert run(go, str(sandbox_grpc.grpc_url)) == [
        "a2a.v1.A2AService",
        "grpc.reflection.v1alpha.ServerReflection",
        "lf.a2a.v1.A2AService",
    ]


def test_rpcs_need_the_bearer_token(sandbox_grpc_auth: RunningSandbox) -> None:
    async def go(channel: grpc.aio.Channel, token: str | None) -> Any:
        stub = a2a_pb2_grpc.A2AServiceStub(channel)
        md = [("authorization", f"Bearer {token}")] if token else []
        return await stub.SendMessage(message(), metadata=md)

    target = str(sandbox_grpc_auth.grpc_url)
    for token in (None, "wrong"):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            run(functools.partial(go, token=token), target)
        assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert run(functools.partial(go, token=TOKEN), target).task.status.state == pb.TASK_STATE_COMPLETED


def test_a_send_stream_is_cut_after_n_events_a_resubscribe_is_not(
    sandbox_grpc_streams: RunningSandbox,
) -> None:
    async def go(channel: grpc.aio.Channel) -> tuple[int, grpc.aio.AioRpcError | None]:
        stub = a2a_pb2_grpc.A2AServiceStub(channel)
        seen = 0
        try:
            async for _ in stub.SendStreamingMessage(message("/slow 0.05")):
                seen += 1
        except grpc.aio.AioRpcError as exc:
            return seen, exc
        return seen, None

    seen, exc = run(go, str(sandbox_grpc_streams.grpc_url))
    assert seen == 3
    assert exc is not None and exc.code() == grpc.StatusCode.UNAVAILABLE
    assert exc.details() == "stream cut after 3 events (--drop-after)"

    async def resubscribe(channel: grpc.aio.Channel) -> list[str]:
        stub = a2a_pb2_grpc.A2AServiceStub(channel)
        sent = await stub.SendMessage(
            pb.SendMessageRequest(
                message=message("/slow 0.1").message,
                configuration=pb.SendMessageConfiguration(return_immediately=True),
            )
        )
        return [
            str(ev.WhichOneof("payload"))
            async for ev in stub.SubscribeToTask(pb.SubscribeToTaskRequest(id=sent.task.id))
        ]

    kinds = run(resubscribe, str(sandbox_grpc_streams.grpc_url))
    assert len(kinds) > 3  # the whole task, not cut


def test_the_first_rpc_of_a_connection_waits_the_handshake_delay(sandbox_grpc_slow: RunningSandbox) -> None:
    async def go(channel: grpc.aio.Channel) -> float:
        stub = a2a_pb2_grpc.A2AServiceStub(channel)
        start = time.monotonic()
        with pytest.raises(grpc.aio.AioRpcError):
            await stub.GetTask(pb.GetTaskRequest(id="x"))
        return time.monotonic() - start

    assert run(go, str(sandbox_grpc_slow.grpc_url)) >= 0.3  # a lower bound the knob imposes


def test_fail_rate_answers_unavailable(sandbox_grpc_down: RunningSandbox) -> None:
    async def go(channel: grpc.aio.Channel) -> Any:
        return await a2a_pb2_grpc.A2AServiceStub(channel).SendMessage(message())

    with pytest.raises(grpc.aio.AioRpcError) as err:
        run(go, str(sandbox_grpc_down.grpc_url))
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE
    assert err.value.details() == "injected failure (--fail-rate)"


def test_a_taken_grpc_port_fails_to_start() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(OSError):
            RunningSandbox(SandboxOptions(grpc=True, grpc_port=taken.getsockname()[1]))


def test_a_fixed_grpc_port_is_used(make_sandbox_grpc: Callable[..., RunningSandbox]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sb = make_sandbox_grpc(grpc_port=port)
    assert sb.grpc_url == f"127.0.0.1:{port}"
    assert ("GRPC", f"127.0.0.1:{port}", "1.0") in interfaces(sb)


def test_rpc_delay_and_a_queue_of_one_slot_hold_grpc_calls(
    make_sandbox_grpc: Callable[..., RunningSandbox],
) -> None:
    """Lower bounds the knobs impose: each RPC waits ``rpc_delay``; with one slot and a constant
    service time, three concurrent RPCs are served one after another."""
    from a2actl.server.sandbox.options import ServiceTime

    sb = make_sandbox_grpc(rpc_delay=0.1, max_concurrency=1, service_time=ServiceTime("const", 0.1))

    async def go(channel: grpc.aio.Channel) -> tuple[list[float], float]:
        stub = a2a_pb2_grpc.A2AServiceStub(channel)
        await channel.channel_ready()

        async def one() -> float:
            start = time.monotonic()
            with pytest.raises(grpc.aio.AioRpcError):
                await stub.GetTask(pb.GetTaskRequest(id="x"))
            return time.monotonic() - start

        t0 = time.monotonic()
        each = await asyncio.gather(one(), one(), one())
        return list(each), time.monotonic() - t0

    each, total = run(go, str(sb.grpc_url))
    assert min(each) >= 0.2  # rpc_delay + its own service time
    assert total >= 0.1 + 3 * 0.1  # the delays overlap; the three service times do not


def test_a_stream_stalls_after_n_events(make_sandbox_grpc: Callable[..., RunningSandbox]) -> None:
    sb = make_sandbox_grpc(stall=0.4, stall_after=2)

    async def go(channel: grpc.aio.Channel) -> list[float]:
        stub = a2a_pb2_grpc.A2AServiceStub(channel)
        stamps = []
        async for _ in stub.SendStreamingMessage(message()):
            stamps.append(time.monotonic())
        return stamps

    stamps = run(go, str(sb.grpc_url))
    assert len(stamps) > 3
    assert stamps[2] - stamps[1] >= 0.4  # the pause falls between the 2nd and the 3rd event


def test_a_port_taken_after_the_reservation_is_an_oserror() -> None:
    """``GrpcSide.start`` (in the serving loop) raises OSError, which ``sandbox serve`` turns into
    exit 2, when the reserved port was taken in between."""
    from a2actl.server.sandbox.grpc import GrpcSide

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        side = GrpcSide(SandboxOptions(), "127.0.0.1", taken.getsockname()[1])

        async def go() -> None:
            await side.start(handler=None)

        with pytest.raises(OSError, match="gRPC could not listen on 127.0.0.1:"):
            asyncio.run(go())


def test_sandbox_serve_in_the_foreground_serves_grpc_and_stops_cleanly() -> None:
    """The real command in a subprocess (uvicorn's loop, uvloop when installed): stdout has the HTTP URL
    and ``grpcUrl`` (``-o json``), the gRPC interface answers, SIGINT stops both without a traceback."""
    import signal
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-m", "a2actl", "sandbox", "serve", "--port", "0", "--grpc-port", "0", "-o", "json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        doc = first_document(proc)
        assert doc["url"].startswith("http://127.0.0.1:") and doc["grpcUrl"].startswith("127.0.0.1:")

        async def go(channel: grpc.aio.Channel) -> Any:
            return await a2a_pb2_grpc.A2AServiceStub(channel).SendMessage(message("foreground"))

        assert run(go, doc["grpcUrl"]).task.status.state == pb.TASK_STATE_COMPLETED
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "Traceback" not in err
    assert f"gRPC interface on {doc['grpcUrl']} (plaintext, reflection on)" in err.splitlines()
