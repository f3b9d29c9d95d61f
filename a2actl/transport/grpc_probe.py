"""Raw gRPC probes for ``caps fingerprint`` (issue #18): a side-effect-free ``GetTask`` on a random id
with chosen ``a2a-version`` metadata, on the 1.0 service (``lf.a2a.v1.A2AService``) or the 0.3 one
(``a2a.v1.A2AService``, resource name ``tasks/{id}``), and the server-reflection service list.

They ride the channel of an ``a2actl.transport.grpc.GrpcClient`` (its TLS, ``-H`` metadata, token and
timeouts) but return the bare gRPC outcome (``RawAnswer``) instead of raising: a probe records a
failure, it never stops the fingerprint. The caller (``a2actl.caps.fingerprint``) decodes the status
with ``a2actl.protocol.grpc_errors.decode_grpc_error``.

Sources: A2A spec v1.0 §10 (service ``lf.a2a.v1.A2AService``, metadata ``a2a-version``); the 0.3
``specification/grpc/a2a.proto`` (package ``a2a.v1``, ``GetTaskRequest.name``); gRPC server reflection
(``grpc/reflection/v1/reflection.proto``; ``v1alpha`` is the same messages under an older name, which
grpcio-reflection still serves).

Only code that already chose to probe a gRPC interface imports this module (grpc is the optional
``grpc`` extra).
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

# as in a2actl.transport.grpc: grpcio's core reads GRPC_VERBOSITY once, at the first import of grpc
os.environ.setdefault("GRPC_VERBOSITY", "ERROR")

import grpc  # type: ignore[import-untyped,unused-ignore]  # noqa: E402
import grpc.aio  # type: ignore[import-untyped,unused-ignore]  # noqa: E402

from a2actl.core.errors import A2ACtlError  # noqa: E402
from a2actl.core.redact import redact_headers  # noqa: E402
from a2actl.transport.grpc import metadata_for, status_details  # noqa: E402

if TYPE_CHECKING:
    from a2actl.transport.grpc import GrpcClient

#: The 0.3 service (``specification/grpc/a2a.proto`` of A2A 0.3, package ``a2a.v1``).
SERVICE_V03 = "a2a.v1.A2AService"
SERVICE_V1 = "lf.a2a.v1.A2AService"
#: Reflection services, newest first: ``grpc.reflection.v1`` and the older ``v1alpha`` name.
REFLECTION = ("grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection")


@dataclass
class RawAnswer:
    """The outcome of one probe call: ``status`` the gRPC status name (``OK``, ``NOT_FOUND``, …, or
    ``NO_CALL`` when the call could not be made: ``message`` says why), ``message`` the status
    message, ``details`` the ``google.rpc.Status`` details as ProtoJSON, ``seconds`` the call's
    duration, ``method`` the gRPC path, ``metadata`` what was sent (secrets redacted);
    ``exit_code`` for ``NO_CALL``, the exit code of the error that prevented the call (5 a channel
    not ready within the connect timeout, 3 unreachable, …)."""

    method: str
    status: str
    message: str = ""
    details: list[Any] = field(default_factory=list)
    seconds: float = 0.0
    metadata: list[tuple[str, str]] = field(default_factory=list)
    exit_code: int = 1


def _wire(md: list[tuple[str, str]]) -> list[tuple[str, str | bytes]]:
    """Metadata as grpcio takes it: values of ``-bin`` keys as bytes."""
    return [(k, v.encode() if k.endswith("-bin") else v) for k, v in md]


def _metadata(client: GrpcClient, version: str | None) -> list[tuple[str, str]]:
    """The client's metadata (``-H``, token, traceparent) with ``a2a-version: version`` (``None``: no
    ``a2a-version`` key at all, as a 0.3 client sends)."""
    md, _notes = metadata_for(client.settings)
    md = [(k, v) for k, v in md if k != "a2a-version"]
    if version is not None:
        md.insert(0, ("a2a-version", version))
    return md


async def _unary(client: GrpcClient, method: str, request: bytes, md: list[tuple[str, str]]) -> RawAnswer:
    """One unary call of ``method`` with a serialized ``request``; the answer's bytes are dropped."""
    shown = redact_headers(md)
    try:
        await client.wait_ready()
    except A2ACtlError as exc:
        return RawAnswer(method, "NO_CALL", exc.message, metadata=shown, exit_code=int(exc.exit_code))
    channel = client.open_channel()
    call_fn = channel.unary_unary(method, request_serializer=lambda b: b, response_deserializer=lambda b: b)
    sink = client.transport.sink
    sink.on_request("POST", f"{client.endpoint.target}{method}", shown)
    t0 = time.perf_counter()
    try:
        await call_fn(request, timeout=client.settings.read_timeout, metadata=_wire(md))
    except grpc.aio.AioRpcError as exc:
        code = exc.code()
        name = code.name if code is not None else "UNKNOWN"
        elapsed = time.perf_counter() - t0
        sink.on_response(code.value[0] if code is not None else 2, name, [], elapsed)
        return RawAnswer(
            method, name, exc.details() or "", status_details(exc.trailing_metadata()), elapsed, shown
        )
    elapsed = time.perf_counter() - t0
    sink.on_response(0, "OK", [], elapsed)
    return RawAnswer(method, "OK", "", [], elapsed, shown)


async def get_task(client: GrpcClient, family: str, version: str | None) -> RawAnswer:
    """``GetTask`` on a random id (``a2actl-fingerprint-…``): ``family="1.0"`` on
    ``lf.a2a.v1.A2AService`` (``id``, and the interface's ``tenant``), ``"0.3"`` on
    ``a2a.v1.A2AService`` (``name: tasks/{id}``); with ``a2a-version: version`` metadata (``None``:
    without the key). Never raises for the call itself (``RawAnswer.status``)."""
    task_id = "a2actl-fingerprint-" + uuid.uuid4().hex[:12]
    if family == "1.0":
        from a2a.types import a2a_pb2

        req = a2a_pb2.GetTaskRequest(id=task_id)
        tenant = client.selection.interface.tenant
        if tenant:
            req.tenant = tenant
        return await _unary(
            client, f"/{SERVICE_V1}/GetTask", req.SerializeToString(), _metadata(client, version)
        )
    from a2a.compat.v0_3 import a2a_v0_3_pb2

    old = a2a_v0_3_pb2.GetTaskRequest(name=f"tasks/{task_id}")
    return await _unary(
        client, f"/{SERVICE_V03}/GetTask", old.SerializeToString(), _metadata(client, version)
    )


@dataclass
class Reflection:
    """What server reflection says: ``service`` the reflection service that answered (``None``: none
    did), ``services`` the full names it lists, ``status`` the gRPC status of the last attempt
    (``UNIMPLEMENTED``: the server has no reflection), ``message`` its message."""

    service: str | None
    services: list[str]
    status: str
    message: str = ""

    def to_json(self) -> dict[str, Any]:
        """``{"enabled", "service", "services", "status", "message"}``. ``enabled``: ``True`` when a
        reflection service answered, ``False`` when the server said it has none (``UNIMPLEMENTED``),
        ``None`` (unknown) when the call could not be made or failed otherwise (no channel, a deadline,
        UNAVAILABLE)."""
        known = self.service is not None or self.status == "UNIMPLEMENTED"
        return {
            "enabled": (self.service is not None) if known else None,
            "service": self.service,
            "services": self.services,
            "status": self.status,
            "message": self.message,
        }


async def reflection(client: GrpcClient) -> Reflection:
    """List the services through server reflection (``v1``, then ``v1alpha``): one
    ``ServerReflectionInfo`` stream with a ``list_services`` request, at most ``--timeout`` seconds.
    Never raises: a server without reflection gives ``service=None, status="UNIMPLEMENTED"``; an
    answer that does not parse, ``service=None, status="OK"`` with a message (unknown)."""
    from grpc_reflection.v1alpha import reflection_pb2  # type: ignore[import-untyped,unused-ignore]

    try:
        await client.wait_ready()
    except A2ACtlError as exc:
        return Reflection(None, [], "NO_CALL", exc.message)
    channel = client.open_channel()
    md = _wire(_metadata(client, None))
    status, message = "UNIMPLEMENTED", ""
    for service in REFLECTION:
        # ServerReflectionInfo is bidirectional; one request then half-close is the same on the wire as
        # a server-streaming call, which grpcio (1.85) also ends with UNIMPLEMENTED on a server without
        # the method (a client-streaming call there ends INTERNAL "Internal error from Core" once the
        # connection is up).
        call_fn = channel.unary_stream(
            f"/{service}/ServerReflectionInfo",
            request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
            response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
        )
        call = call_fn(
            reflection_pb2.ServerReflectionRequest(list_services=""),
            timeout=client.settings.read_timeout,
            metadata=md,
        )
        try:
            answer = await asyncio.wait_for(call.read(), client.settings.read_timeout)
        except grpc.aio.AioRpcError as exc:
            code = exc.code()
            status = code.name if code is not None else "UNKNOWN"
            message = exc.details() or ""
            if status == "UNIMPLEMENTED":
                continue
            return Reflection(None, [], status, message)
        except asyncio.TimeoutError:
            call.cancel()
            return Reflection(
                None, [], "DEADLINE_EXCEEDED", f"no answer within {client.settings.read_timeout:g}s"
            )
        finally:
            if not call.done():
                call.cancel()
        if answer is grpc.aio.EOF:
            return Reflection(None, [], "OK", "the reflection stream ended without an answer")
        if answer is None:  # grpcio's answer to bytes the deserializer refused (status OK)
            return Reflection(
                None, [], "OK", f"the answer of {service} does not parse as a ServerReflectionResponse"
            )
        names = sorted(s.name for s in answer.list_services_response.service)
        return Reflection(service, names, "OK")
    return Reflection(None, [], status, message)


__all__ = ["REFLECTION", "SERVICE_V03", "SERVICE_V1", "RawAnswer", "Reflection", "get_task", "reflection"]
