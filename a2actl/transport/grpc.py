"""A2A over gRPC (spec v1.0 §10): ``GrpcClient``, a ``Channel`` on a card's ``GRPC`` interface.

Service ``lf.a2a.v1.A2AService`` through the official stubs that ``a2a-sdk[grpc]`` ships
(``a2a.types.a2a_pb2`` / ``a2a_pb2_grpc``; not generated here) on ``grpc.aio``. Requests and answers
cross this module as the JSON the rest of a2actl uses: ProtoJSON (``google.protobuf.json_format``:
camelCase names, enum names such as ``TASK_STATE_COMPLETED``, default values left out), the same
shapes as the 1.0 JSON-RPC and HTTP+JSON bindings. A 0.x interface is spoken as A2A 0.3's service
``a2a.v1.A2AService`` (a2a-sdk's ``a2a.compat.v0_3`` stubs and types: params and results in the 0.3
JSON-RPC shapes).

* **URL and TLS** (the card's ``AgentInterface.url``; spec v1.0: ``host:port`` for gRPC):
  ``grpc://host:port`` and ``http://host:port`` are plaintext (h2c); ``grpcs://host:port`` and
  ``https://host:port`` are TLS; a bare ``host:port`` (or gRPC's ``dns:[//authority/]host[:port]``)
  is TLS when the port is 443 or ``--cacert`` / ``--cert`` is given, plaintext otherwise; the other
  gRPC target schemes (``unix:``, ``ipv4:`` …) are refused (``UsageError``, exit 2). TLS uses ``--cacert`` (else the system roots grpcio
  ships) and ``--cert``/``--key`` for mutual TLS. ``--insecure`` cannot be honoured: grpcio cannot
  skip certificate verification (``UsageError``, exit 2).
* **Metadata** (spec v1.0 §10: service parameters as lowercase metadata): ``a2a-version: 1.0``, every
  ``-H`` header lowercased (``A2A-Extensions`` → ``a2a-extensions``; names gRPC reserves, such as
  ``content-type``, ``te``, ``host`` and ``grpc-*``, are left out with a note), ``authorization:
  Bearer <token>`` when a token is set and no ``-H Authorization`` is given, and the invocation's W3C
  ``traceparent`` with a fresh span id per call.
* **No proxy**: ``grpc_proxy``/``https_proxy``/``http_proxy`` are not used (``grpc.enable_http_proxy``
  0), as on every other a2actl connection.
* **Timeouts**: ``--connect-timeout`` bounds the wait for the channel to be ready (exit 5); each unary
  RPC has ``--timeout`` as its deadline (DEADLINE_EXCEEDED, exit 5); a stream waits at most
  ``--timeout`` for each message (``TimeoutError_``, which ``stream tail`` treats as a cut).
* **Errors**: a non-OK status with a ``google.rpc.Status`` in ``grpc-status-details-bin`` is decoded
  by ``a2actl.protocol.grpc_errors.decode_grpc_error`` into the JSON-RPC names, codes and hints;
  UNAVAILABLE raises ``UnreachableError`` (3), UNAUTHENTICATED/PERMISSION_DENIED ``AuthError`` (4),
  DEADLINE_EXCEEDED ``TimeoutError_`` (5), a stream that ends with a non-A2A error after its first
  event ``StreamCut`` (6; resubscribed by ``stream tail``). The gRPC status name is in every error's
  ``details`` (``grpcStatus``).

Only code that already chose a gRPC interface imports this module (``a2actl.agent.connect``): grpc
is an optional extra (``pip install 'a2actl[grpc]'``).
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import time
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

# grpcio's C core logs to stderr on its own (a failed TLS handshake is an INFO line before our one-line
# error); it reads GRPC_VERBOSITY once, when grpc is first imported. An operator's own setting wins.
os.environ.setdefault("GRPC_VERBOSITY", "ERROR")

import grpc  # type: ignore[import-untyped,unused-ignore]  # noqa: E402
import grpc.aio  # type: ignore[import-untyped,unused-ignore]  # noqa: E402
from a2a.types import a2a_pb2, a2a_pb2_grpc  # noqa: E402
from google.protobuf import json_format  # noqa: E402
from google.protobuf.message import Message  # noqa: E402
from google.rpc import error_details_pb2, status_pb2  # type: ignore[import-untyped,unused-ignore]  # noqa: E402

from a2actl.core.errors import (  # noqa: E402
    A2ACtlError,
    AuthError,
    ProtocolViolation,
    StreamCut,
    TimeoutError_,
    UnreachableError,
    UsageError,
)
from a2actl.core.redact import redact_headers  # noqa: E402
from a2actl.protocol.events import classify_event, result_shape_error  # noqa: E402
from a2actl.protocol.grpc_errors import STATUS_DETAILS_KEY, decode_grpc_error  # noqa: E402
from a2actl.protocol.jsonrpc import DecodedError  # noqa: E402
from a2actl.protocol.versions import BINDING_GRPC, Family  # noqa: E402
from a2actl.transport.channel import Heartbeat, TimedEvent  # noqa: E402

if TYPE_CHECKING:
    from a2actl.core.config import Settings
    from a2actl.protocol.negotiation import Selection
    from a2actl.transport.base import Transport

_ = error_details_pb2  # imported for its descriptors: ErrorInfo / BadRequest details decode to JSON

#: The service's full name (spec v1.0 §10; ``specification/a2a.proto`` package ``lf.a2a.v1``).
SERVICE = "lf.a2a.v1.A2AService"
#: A2A 0.3's service (``specification/grpc/a2a.proto`` at v0.3.0, package ``a2a.v1``), as a2a-sdk's
#: ``CompatGrpcHandler`` serves it; stubs ``a2a.compat.v0_3.a2a_v0_3_pb2_grpc``.
SERVICE_V03 = "a2a.v1.A2AService"
#: operation (1.0 name) → the 0.3 RPC name; ``ListTasks`` does not exist in 0.3.
V03_RPCS = {
    "SendMessage": "SendMessage",
    "SendStreamingMessage": "SendStreamingMessage",
    "GetTask": "GetTask",
    "CancelTask": "CancelTask",
    "SubscribeToTask": "TaskSubscription",
}
#: operation → (request message class, streaming?)
OPERATIONS: dict[str, tuple[type[Message], bool]] = {
    "SendMessage": (a2a_pb2.SendMessageRequest, False),
    "SendStreamingMessage": (a2a_pb2.SendMessageRequest, True),
    "GetTask": (a2a_pb2.GetTaskRequest, False),
    "ListTasks": (a2a_pb2.ListTasksRequest, False),
    "CancelTask": (a2a_pb2.CancelTaskRequest, False),
    "SubscribeToTask": (a2a_pb2.SubscribeToTaskRequest, True),
    "GetExtendedAgentCard": (a2a_pb2.GetExtendedAgentCardRequest, False),
    "CreateTaskPushNotificationConfig": (a2a_pb2.TaskPushNotificationConfig, False),
    "GetTaskPushNotificationConfig": (a2a_pb2.GetTaskPushNotificationConfigRequest, False),
    "ListTaskPushNotificationConfigs": (a2a_pb2.ListTaskPushNotificationConfigsRequest, False),
    "DeleteTaskPushNotificationConfig": (a2a_pb2.DeleteTaskPushNotificationConfigRequest, False),
}
#: gRPC target-name schemes (grpc/doc/naming.md): only ``dns`` names a host and port.
_NAME_SCHEMES = frozenset(("dns", "unix", "unix-abstract", "vsock", "ipv4", "ipv6", "xds"))
#: The characters of a gRPC metadata name (grpc/doc/PROTOCOL-HTTP2.md ``Header-Name``, lowercased):
#: an HTTP token character outside them (``!``, ``~`` …) is one grpcio refuses.
_MD_NAME_CHARS = frozenset("0123456789abcdefghijklmnopqrstuvwxyz-_.")
#: Seconds before ``--timeout`` a unary DEADLINE_EXCEEDED may come and still be grpcio's own
#: expiry of the deadline a2actl set (clock reads apart); an earlier one is the agent's answer.
_DEADLINE_SLACK = 0.05
#: Metadata names gRPC itself owns (HTTP/2 pseudo and transport headers): never sent from ``-H``.
_RESERVED = frozenset(("content-type", "te", "host", "user-agent", "connection", "content-length"))


@dataclass(frozen=True)
class Endpoint:
    """Where a gRPC interface URL points: ``target`` (``host:port`` for grpcio), ``tls`` and the host
    and port apart (for ``handshake probe``'s own phases)."""

    url: str
    target: str
    host: str
    port: int
    tls: bool


def parse_endpoint(url: str, settings: Settings) -> Endpoint:
    """Read a card's gRPC interface URL (rules in the module docstring). Raises ``UsageError`` (exit 2)
    for a URL without a host or port, or another scheme."""
    text = url.strip()
    scheme = ""
    head, colon, tail = text.partition(":")
    if colon and head.lower() in _NAME_SCHEMES:
        # gRPC's own target syntax (grpc/doc/naming.md): dns:[//authority/]host[:port] is a host and
        # port (the authority names a DNS server: not ours to use); the others are not host:port
        scheme = head.lower()
        if scheme != "dns":
            raise UsageError(
                f"gRPC interface URL {url!r}: {scheme}: targets are not supported",
                hint="a card's gRPC interface is host:port, grpc://host:port (plaintext) or "
                "grpcs://host:port (TLS) (spec v1.0 §10)",
            )
        rest = tail
        if rest.startswith("//"):
            rest = rest[2:].split("/", 1)[1] if "/" in rest[2:] else ""
    elif "://" in text:
        scheme = text.split("://", 1)[0].lower()
        rest = text.split("://", 1)[1]
    else:
        rest = text
    if scheme not in ("", "grpc", "grpcs", "http", "https", "dns"):
        raise UsageError(
            f"gRPC interface URL {url!r}: unsupported scheme {scheme!r}",
            hint="a gRPC interface is host:port, grpc://host:port (plaintext) or grpcs://host:port (TLS)",
        )
    try:
        parts = urlsplit("//" + rest.split("/", 1)[0] if rest else "//")
        host, port = parts.hostname, parts.port
    except ValueError as exc:
        raise UsageError(f"gRPC interface URL {url!r} is malformed: {exc}") from exc
    if not host:
        raise UsageError(f"gRPC interface URL {url!r} has no host")
    if port is None:
        port = 443 if scheme in ("grpcs", "https", "dns") else 80 if scheme == "http" else 0
    if not port:
        raise UsageError(
            f"gRPC interface URL {url!r} has no port", hint="the card should give host:port (spec v1.0 §10)"
        )
    if scheme in ("grpcs", "https"):
        tls = True
    elif scheme in ("grpc", "http"):
        tls = False
    else:
        tls = port == 443 or bool(settings.cacert or settings.cert)
    shown = f"[{host}]" if ":" in host else host
    return Endpoint(url, f"{shown}:{port}", host, port, tls)


def credentials(settings: Settings) -> grpc.ChannelCredentials:
    """TLS channel credentials from ``--cacert`` (else grpcio's roots) and ``--cert``/``--key``.
    Raises ``UsageError`` (exit 2) for an unreadable file, ``--key`` without ``--cert`` or
    ``--insecure`` (grpcio has no way to skip verification)."""
    if settings.insecure:
        raise UsageError(
            "--insecure cannot be honoured over gRPC: grpcio cannot skip certificate verification",
            hint="pass the server's CA with --cacert FILE",
        )

    def read(flag: str, path: str | None) -> bytes | None:
        if path is None:
            return None
        ahead = settings.tls_file(path)  # a FIFO or <(cmd), read once by the CLI
        if ahead is not None:
            return ahead
        try:
            with open(path, "rb") as f:
                return f.read()
        except OSError as exc:
            raise UsageError(f"{flag} {path}: cannot read: {exc.strerror or exc}") from exc

    if settings.key and not settings.cert:
        raise UsageError("--key needs --cert (the client certificate for mutual TLS)")
    return grpc.ssl_channel_credentials(
        root_certificates=read("--cacert", settings.cacert),
        private_key=read("--key", settings.key or settings.cert),
        certificate_chain=read("--cert", settings.cert),
    )


def metadata_for(
    settings: Settings, *, trace_span: str | None = None, version: str = "1.0"
) -> tuple[list[tuple[str, str]], list[str]]:
    """The metadata of one call and notes about ``-H`` headers left out (module docstring rules):
    ``[(name, value)]`` with lowercase names, ``a2a-version`` (``version``) first. Raises
    ``UsageError`` (exit 2) for a header or token gRPC metadata cannot carry (``_check_metadata``)."""
    md: list[tuple[str, str]] = [("a2a-version", version)]
    notes: list[str] = []
    has_auth = False
    for name, value in settings.headers:
        key = name.strip().lower()
        if key in _RESERVED or key.startswith((":", "grpc-")):
            notes.append(f"-H {name}: not sent over gRPC (the name is reserved by gRPC/HTTP/2)")
            continue
        _check_metadata(name, key, value)
        if key == "a2a-version":
            md = [m for m in md if m[0] != "a2a-version"]
        has_auth = has_auth or key == "authorization"
        md.append((key, value))
    if settings.token and not has_auth:
        if not _md_value_ok(settings.token):
            raise UsageError(
                "the token holds a tab, which gRPC metadata cannot carry (authorization: Bearer …)",
                hint="check the token (A2ACTL_TOKEN, --token-env NAME or --token-file PATH)",
            )
        md.append(("authorization", f"Bearer {settings.token}"))
    md.append(("traceparent", f"00-{settings.trace_id}-{trace_span or secrets.token_hex(8)}-01"))
    return md, notes


def _md_value_ok(value: str) -> bool:
    """Whether ``value`` is a gRPC metadata ASCII value: space and printable ASCII (%x20-%x7E) only."""
    return all(" " <= c <= "~" for c in value)


def _check_metadata(name: str, key: str, value: str) -> None:
    """Raise ``UsageError`` (exit 2) for a ``-H`` header gRPC metadata cannot carry: a name with an
    HTTP token character gRPC lacks (``X!Id``), or a value with a tab (``-bin`` values are bytes).
    grpcio does not fail such a call: it logs "Metadata value … is invalid" and the call never
    ends. Messages name the header, never its value."""
    if not key or not set(key) <= _MD_NAME_CHARS:
        raise UsageError(
            f"-H {name}: not a gRPC metadata name (lowercase letters, digits, '-', '_' and '.' only)",
            hint="rename the header, or use --binding JSONRPC / HTTP+JSON for this one",
        )
    if not key.endswith("-bin") and not _md_value_ok(value):
        raise UsageError(
            f"-H {name}: the value holds a tab, which gRPC metadata cannot carry",
            hint="replace the tab (gRPC metadata values are printable ASCII and spaces)",
        )


def _wire_md(md: list[tuple[str, str]]) -> list[tuple[str, str | bytes]]:
    """Metadata as grpcio takes it: values of ``-bin`` keys as bytes."""
    return [(k, v.encode() if k.endswith("-bin") else v) for k, v in md]


def _to_json(msg: Message) -> Any:
    return json_format.MessageToDict(msg)


def _details_json(status: status_pb2.Status) -> list[Any]:
    out: list[Any] = []
    for d in status.details:
        try:
            out.append(json_format.MessageToDict(d))
        except (TypeError, KeyError, json_format.Error):
            out.append({"@type": d.type_url})
    return out


def status_details(trailers: Any) -> list[Any]:
    """The ``google.rpc.Status.details`` of a call's trailing metadata as ProtoJSON ``Any`` objects
    (``[]`` when the trailer is missing or unreadable)."""
    for k, v in trailers or ():
        if k == STATUS_DETAILS_KEY:
            try:
                return _details_json(status_pb2.Status.FromString(v if isinstance(v, bytes) else v.encode()))
            except Exception:  # noqa: BLE001 - a malformed trailer: no details, never a crash
                return []
    return []


@dataclass
class GrpcOutcome:
    """The answer to one operation over gRPC (satisfies ``transport.channel.Outcome``): ``result`` (the
    ProtoJSON of the response) or ``error``; ``method`` the gRPC method path
    (``/lf.a2a.v1.A2AService/GetTask``); ``status`` the gRPC status name; ``initial_metadata`` the
    response headers; ``seconds`` from the call's start to its end; ``headers_seconds`` from the start
    to the response headers (initial metadata; an error answered trailers-only has none apart: then
    ``None``)."""

    operation: str
    method: str
    result: Any
    error: DecodedError | None
    status: str = "OK"
    initial_metadata: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    headers_seconds: float | None = None
    #: The answer's size in protobuf bytes (0 for an error).
    size: int = 0

    @property
    def ok(self) -> bool:
        """True when the agent answered without an error."""
        return self.error is None

    def to_json(self) -> dict[str, Any]:
        """A summary for JSON documents: operation, method, gRPC status, ``ok``, the decoded error."""
        return {
            "operation": self.operation,
            "method": self.method,
            "grpcStatus": self.status,
            "ok": self.ok,
            "error": self.error.to_json() if self.error else None,
        }


class GrpcClient:
    """Calls operations on a card's ``GRPC`` interface (``selection.interface``) over one ``grpc.aio``
    channel, opened on the first call and closed by ``aclose`` (``agent.connect.connected`` does it).

    ``transport`` is the HTTP transport the card came through: its ``settings`` and ``sink`` (``-v``)
    are used here; no HTTP request is made. Satisfies ``transport.channel.Channel``; also offers
    what the task jobs read on ``A2AClient`` (``selection``, ``method_name``, ``transport``)."""

    binding = BINDING_GRPC

    def __init__(self, transport: Transport, selection: Selection, *, address: str | None = None) -> None:
        """``address``: an IP address already resolved for the interface's host (``handshake probe``
        times name resolution itself): the channel connects there, with the host name kept as the
        HTTP/2 authority and the TLS server name. A 0.x interface is spoken as A2A 0.3's service
        (``a2a.v1.A2AService``): params and results in the 0.3 JSON-RPC shapes, converted with
        a2a-sdk's 0.3 compat types. Raises ``UsageError`` (exit 2) for a URL ``parse_endpoint``
        refuses, or a header or token gRPC metadata cannot carry (``metadata_for``)."""
        self.transport = transport
        self.settings = transport.settings
        self.selection = selection
        self.family = selection.family
        self.url = selection.interface.url
        #: A2A 0.3 over gRPC (``a2a.v1.A2AService``): 0.2 and 0.3 interfaces.
        self.v03 = self.family is not Family.V1_0
        self.service = SERVICE_V03 if self.v03 else SERVICE
        self.endpoint = parse_endpoint(self.url, self.settings)
        metadata_for(self.settings)  # a header or token gRPC cannot carry: exit 2 before any call
        self.address = address
        self._channel: grpc.aio.Channel | None = None
        self._stub: Any = None
        self._ready = False
        #: The ``traceparent`` the last call carried (``handshake probe`` records it per phase).
        self.last_traceparent: str | None = None

    @property
    def ready(self) -> bool:
        """Whether ``wait_ready`` saw the channel READY (``False``: it failed to connect, or has not run)."""
        return self._ready

    def method_name(self, operation: str) -> str:
        """The gRPC method path of ``operation`` (``/lf.a2a.v1.A2AService/GetTask``; 0.3:
        ``/a2a.v1.A2AService/TaskSubscription`` for ``SubscribeToTask``)."""
        return f"/{self.service}/{V03_RPCS.get(operation, operation) if self.v03 else operation}"

    def open_channel(self) -> grpc.aio.Channel:
        """The channel (created on first use; no connection is made until a call or ``wait_ready``).
        Raises ``UsageError`` (exit 2) for TLS files that cannot be read."""
        if self._channel is None:
            limit = max(self.settings.max_body_bytes, self.settings.max_event_bytes)
            options: list[tuple[str, Any]] = [
                ("grpc.max_receive_message_length", limit),
                ("grpc.primary_user_agent", _user_agent()),
                ("grpc.enable_retries", 0),
                # grpcio takes a proxy from grpc_proxy/https_proxy/http_proxy; no other a2actl
                # connection does (card discovery went direct, the RPCs through the proxy)
                ("grpc.enable_http_proxy", 0),
            ]
            target = self.endpoint.target
            if self.address is not None:
                shown = f"[{self.address}]" if ":" in self.address else self.address
                target = f"{shown}:{self.endpoint.port}"
                options.append(("grpc.default_authority", self.endpoint.target))
                if self.endpoint.tls:
                    options.append(("grpc.ssl_target_name_override", self.endpoint.host))
            if self.endpoint.tls:
                self._channel = grpc.aio.secure_channel(target, credentials(self.settings), options=options)
            else:
                self._channel = grpc.aio.insecure_channel(target, options=options)
            if self.v03:
                from a2a.compat.v0_3 import a2a_v0_3_pb2_grpc

                self._stub = a2a_v0_3_pb2_grpc.A2AServiceStub(self._channel)  # type: ignore[no-untyped-call,unused-ignore]
            else:
                self._stub = a2a_pb2_grpc.A2AServiceStub(self._channel)  # type: ignore[no-untyped-call,unused-ignore]
        return self._channel

    async def wait_ready(self) -> None:
        """Wait until the channel is READY or has failed once (TRANSIENT_FAILURE: the next RPC then
        says why), at most ``--connect-timeout`` seconds. Raises ``TimeoutError_`` (exit 5)."""
        if self._ready:
            return
        channel = self.open_channel()
        deadline = time.perf_counter() + self.settings.connect_timeout
        state = channel.get_state(try_to_connect=True)
        while state not in (grpc.ChannelConnectivity.READY, grpc.ChannelConnectivity.TRANSIENT_FAILURE):
            left = deadline - time.perf_counter()
            if left <= 0:
                raise _connect_timeout(self.url, self.settings)
            try:
                await asyncio.wait_for(channel.wait_for_state_change(state), left)
            except asyncio.TimeoutError as exc:
                raise _connect_timeout(self.url, self.settings) from exc
            state = channel.get_state(try_to_connect=True)
        self._ready = state is grpc.ChannelConnectivity.READY

    async def aclose(self) -> None:
        """Close the channel (idempotent)."""
        if self._channel is not None:
            channel, self._channel = self._channel, None
            await channel.close()

    def wire_json(self, operation: str, params: dict[str, Any]) -> Any:
        """The request message ``operation`` sends for ``params``, as ProtoJSON (what ``grpcurl -d``
        takes). Raises ``UsageError`` (exit 2) as ``call`` does for params that do not fit."""
        return json_format.MessageToDict(self._request(operation, params))

    def _rpc(self, operation: str) -> Any:
        self.open_channel()
        return getattr(self._stub, V03_RPCS[operation] if self.v03 else operation)

    def _result(self, msg: Message, method: str) -> Any:
        """An answer of ``method`` as the JSON a2actl reads: 1.0 ProtoJSON, or (0.3) the 0.3 JSON-RPC
        shapes. Raises ``ProtocolViolation`` (6) for a 0.3 message a2a-sdk's compat types cannot
        convert (an empty ``StreamResponse``: "Unsupported StreamResponse type")."""
        if not self.v03:
            return _to_json(msg)
        try:
            return _v03_json(msg)
        except ValueError as exc:  # pydantic's ValidationError is one
            raise ProtocolViolation(
                f"{self.url} answered {method} with a message that is not an A2A 0.3 "
                f"{msg.DESCRIPTOR.name}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}",
                hint="the agent answered OK with a message that is not this method's response; "
                "check the agent (or a proxy in front of it)",
                details={"grpcStatus": "OK"},
            ) from exc

    def _request(self, operation: str, params: dict[str, Any]) -> Message:
        if self.v03:
            return _v03_request(operation, params)
        try:
            cls, _ = OPERATIONS[operation]
        except KeyError:
            raise UsageError(f"{operation} is not an RPC of {SERVICE}") from None
        msg = cls()
        try:
            json_format.ParseDict(params, msg)
        except json_format.ParseError as exc:
            raise UsageError(
                f"{operation}: the request does not fit {cls.DESCRIPTOR.full_name}: {exc}"
            ) from exc
        return msg

    def _metadata(self, method: str) -> list[tuple[str, str | bytes]]:
        md, notes = metadata_for(self.settings, version="0.3" if self.v03 else "1.0")
        self.last_traceparent = md[-1][1]
        sink = self.transport.sink
        for note in notes:
            sink.on_note(note)
        sink.on_request("POST", f"{self.endpoint.target}{method}", redact_headers(md))
        return _wire_md(md)

    async def call(self, operation: str, params: dict[str, Any]) -> GrpcOutcome:
        """Run a unary RPC with ``params`` (its request message as ProtoJSON) and ``--timeout`` as the
        deadline. A2A errors come back in ``GrpcOutcome.error``; transport failures raise (module
        docstring: 3 unreachable, 4 auth, 5 timeout, 6 protocol). An OK answer that does not parse
        as the method's response message, or is not its shape (``result_shape_error``: an empty
        ``Task``), raises ``ProtocolViolation`` (6), as over JSON-RPC and HTTP+JSON."""
        method = self.method_name(operation)
        request = self._request(operation, params)
        await self.wait_ready()
        rpc = self._rpc(operation)
        sink = self.transport.sink
        t0 = time.perf_counter()
        call = rpc(request, timeout=self.settings.read_timeout, metadata=self._metadata(method))
        try:
            # the response headers first: their arrival is a phase of its own (``headers_seconds``)
            initial = _text_md(await call.initial_metadata())
            headers_at = time.perf_counter() - t0
            response = await call
        except grpc.aio.AioRpcError as exc:
            return self._error(operation, method, exc, t0, streaming=False, events=0)
        except asyncio.CancelledError:
            call.cancel()
            raise
        elapsed = time.perf_counter() - t0
        sink.on_response(0, "OK", redact_headers(initial), elapsed)
        if response is None:  # grpcio's answer to bytes its deserializer refused (status OK)
            raise self._unparsable(operation, method)
        if sink.wants_bodies:
            sink.on_body("<", self.transport.redact_body(json_format.MessageToJson(response).encode()))
        result = self._result(response, method)
        why = result_shape_error(operation, result)
        if why is not None:  # as over JSON-RPC and HTTP+JSON (transport.a2a._check_shape)
            raise ProtocolViolation(
                f"{self.url}: the {method} answer {why}: {json.dumps(result, ensure_ascii=False)[:80]}",
                hint="the agent answered OK with a message that is not this method's response; "
                "check the agent (or a proxy in front of it)",
                details={"grpcStatus": "OK"},
            )
        return GrpcOutcome(
            operation,
            method,
            result,
            None,
            "OK",
            initial,
            elapsed,
            headers_at,
            response.ByteSize(),
        )

    async def stream(
        self, operation: str, params: dict[str, Any], *, heartbeats: bool = False
    ) -> AsyncGenerator[TimedEvent | GrpcOutcome | Heartbeat, None]:
        """Run a server-streaming RPC (``SendStreamingMessage``, ``SubscribeToTask``) and yield each
        ``StreamResponse`` as a ``TimedEvent`` (``at`` seconds since the call started, ``size`` the
        message's protobuf bytes). An A2A error is yielded as a ``GrpcOutcome`` and ends the stream.
        gRPC shows no keep-alives to the application, so no ``Heartbeat`` is ever yielded.

        Raises ``StreamCut`` when the stream ends with a non-A2A error after its first event,
        ``TimeoutError_`` (5) when a message takes longer than ``--timeout``, ``ProtocolViolation``
        (6) for a message that does not parse as ``StreamResponse`` (never a cut), and what ``call``
        raises."""
        method = self.method_name(operation)
        request = self._request(operation, params)
        await self.wait_ready()
        rpc = self._rpc(operation)
        t0 = time.perf_counter()
        call = rpc(request, metadata=self._metadata(method))
        events = 0
        read_timeout = self.settings.read_timeout
        sink = self.transport.sink
        bodies = sink.wants_bodies
        try:
            while True:
                try:
                    msg = await asyncio.wait_for(call.read(), read_timeout)
                except asyncio.TimeoutError as exc:
                    call.cancel()
                    raise TimeoutError_(
                        f"no message from {self.url} within {read_timeout:g}s on {method} (read timeout)",
                        hint="the agent is slower than --timeout; raise it or look at the agent",
                        details={"grpcStatus": "DEADLINE_EXCEEDED"},
                    ) from exc
                except grpc.aio.AioRpcError as exc:
                    yield self._error(operation, method, exc, t0, streaming=True, events=events)
                    return
                if msg is grpc.aio.EOF:
                    return
                if msg is None:  # bytes the response deserializer refused: never a cut to resubscribe
                    raise self._unparsable(operation, method, events=events)
                at = time.perf_counter() - t0
                if events == 0:
                    initial = _text_md(await call.initial_metadata())
                    sink.on_response(0, "OK", redact_headers(initial), at)
                events += 1
                if bodies:
                    sink.on_body("<", self.transport.redact_body(json_format.MessageToJson(msg).encode()))
                yield TimedEvent(at, msg.ByteSize(), classify_event(self._result(msg, method)))
        finally:
            if not call.done():
                call.cancel()

    def _unparsable(self, operation: str, method: str, *, events: int | None = None) -> ProtocolViolation:
        """The error (exit 6) for an answer grpcio could not deserialize: it hands the call ``None``
        with status OK (``grpc._common.deserialize``) when the bytes are not the method's response
        message. ``events``: the stream's events before it (``None`` for a unary call)."""
        expected = "the method's response message"
        try:
            rpc = V03_RPCS[operation] if self.v03 else operation
            if self.v03:
                from a2a.compat.v0_3 import a2a_v0_3_pb2 as pb

                descriptor = pb.DESCRIPTOR.services_by_name["A2AService"]
            else:
                descriptor = a2a_pb2.DESCRIPTOR.services_by_name["A2AService"]
            expected = descriptor.methods_by_name[rpc].output_type.full_name
        except KeyError:
            pass
        where = f" after {events} event(s)" if events else ""
        return ProtocolViolation(
            f"{self.url} answered {method}{where} with a message that does not parse as {expected}",
            hint="the server on that port does not speak this A2A gRPC service's messages (another "
            "proto, or another version of it); check the agent",
            details={"grpcStatus": "OK"},
        )

    def _error(
        self,
        operation: str,
        method: str,
        exc: grpc.aio.AioRpcError,
        t0: float,
        *,
        streaming: bool,
        events: int,
    ) -> GrpcOutcome:
        """A failed call: raise the transport errors, return the decoded A2A error."""
        code = exc.code()
        name = code.name if code is not None else "UNKNOWN"
        message = exc.details() or ""
        details = status_details(exc.trailing_metadata())
        elapsed = time.perf_counter() - t0
        self.transport.sink.on_response(
            code.value[0] if code is not None else 2, name, [("grpc-message", message)], elapsed
        )
        a2a = any(
            isinstance(d, dict)
            and str(d.get("@type", "")).endswith("google.rpc.ErrorInfo")
            and d.get("domain") == "a2a-protocol.org"
            for d in details
        )
        info = {"grpcStatus": name, "grpcMessage": message}
        if name == "DEADLINE_EXCEEDED":
            timeout = self.settings.read_timeout
            # a stream carries no deadline of ours, and grpcio's own expiry comes at --timeout: an
            # earlier DEADLINE_EXCEEDED is the agent's (its deadline, or one of a service behind it)
            if streaming or elapsed < timeout - _DEADLINE_SLACK:
                raise TimeoutError_(
                    f"{method} on {self.url}: the agent answered gRPC DEADLINE_EXCEEDED after "
                    f"{elapsed:.3f}s"
                    + ("" if streaming else f", before the --timeout {timeout:g}s deadline")
                    + (f": {message}" if message else ""),
                    hint="a deadline of the agent's own (or of a service behind it) ran out; "
                    "raising --timeout does not change it: look at the agent",
                    details=info,
                )
            raise TimeoutError_(
                f"{method} on {self.url}: no answer within {timeout:g}s (gRPC DEADLINE_EXCEEDED)",
                hint="the agent is slower than --timeout; raise it or look at the agent",
                details=info,
            )
        if name in ("UNAUTHENTICATED", "PERMISSION_DENIED"):
            raise AuthError(
                f"{method} on {self.url}: gRPC {name}" + (f": {message}" if message else ""),
                hint="set a token with A2ACTL_TOKEN, --token-env NAME or --token-file PATH"
                if not self.settings.token
                else "the token was sent (authorization metadata) and refused: check its scope and expiry",
                details=info,
            )
        if name == "RESOURCE_EXHAUSTED" and "larger than max" in message:
            limit = max(self.settings.max_body_bytes, self.settings.max_event_bytes)
            raise ProtocolViolation(
                f"{self.url} sent a gRPC message over the limit: {message}",
                hint=f"a2actl reads at most {limit} bytes per gRPC message; one this large is a "
                "misconfiguration" + (" (--max-event-bytes raises the limit)" if streaming else ""),
                details=info,
            )
        if streaming and events > 0 and not a2a:
            raise StreamCut(
                f"the gRPC stream {method} from {self.url} ended after {events} event(s) with status "
                f"{name}" + (f": {message}" if message else ""),
                details=info,
            )
        if name == "UNAVAILABLE" and not a2a:
            raise UnreachableError(
                f"cannot reach {self.url} over gRPC (UNAVAILABLE)" + (f": {message}" if message else ""),
                hint=unavailable_hint(message, tls=self.endpoint.tls, client_cert=bool(self.settings.cert)),
                details=info,
            )
        if name == "CANCELLED" and not a2a:
            raise A2ACtlError(f"{method} on {self.url} was cancelled: {message}", details=info)
        decoded = decode_grpc_error(name, message, details, method=operation, family=self.family)
        return GrpcOutcome(operation, method, None, decoded, name, [], elapsed)


def _v03_request(operation: str, params: dict[str, Any]) -> Message:
    """The A2A 0.3 request message of ``operation`` for 0.3 JSON-RPC ``params`` (``MessageSendParams``,
    ``TaskQueryParams``, ``TaskIdParams``), built as a2a-sdk's ``CompatGrpcTransport`` builds it
    (resource names ``tasks/{id}``). Raises ``UsageError`` (exit 2) for an operation 0.3 lacks or
    params that do not validate."""
    from a2a.compat.v0_3 import a2a_v0_3_pb2 as pb03
    from a2a.compat.v0_3 import types as t03
    from a2a.compat.v0_3.proto_utils import ToProto
    from pydantic import ValidationError

    if operation not in V03_RPCS:
        raise UsageError(f"{operation} is not an RPC of {SERVICE_V03} (A2A 0.3 over gRPC)")
    try:
        if operation in ("SendMessage", "SendStreamingMessage"):
            p = t03.MessageSendParams.model_validate(params)
            return pb03.SendMessageRequest(
                request=ToProto.message(p.message),
                configuration=ToProto.message_send_configuration(p.configuration),
                metadata=ToProto.metadata(p.metadata),
            )
        task_id = params.get("id")
        if not isinstance(task_id, str):
            raise UsageError(f"{operation}: the task id is missing")
        name = f"tasks/{task_id}"
        if operation == "GetTask":
            history = params.get("historyLength")
            return pb03.GetTaskRequest(name=name, history_length=history if isinstance(history, int) else 0)
        if operation == "CancelTask":
            return pb03.CancelTaskRequest(name=name)
        return pb03.TaskSubscriptionRequest(name=name)
    except ValidationError as exc:
        raise UsageError(f"{operation}: the params are not A2A 0.3 MessageSendParams: {exc}") from exc


def _v03_json(msg: Message) -> Any:
    """A 0.3 answer (``SendMessageResponse``, ``Task``, ``StreamResponse``) as the 0.3 JSON-RPC result
    (``kind``-tagged Task / Message / events), through a2a-sdk's 0.3 compat types."""
    from a2a.compat.v0_3 import a2a_v0_3_pb2 as pb03
    from a2a.compat.v0_3.proto_utils import FromProto

    obj: Any
    if isinstance(msg, pb03.SendMessageResponse):
        which = msg.WhichOneof("payload")
        obj = FromProto.task(msg.task) if which == "task" else FromProto.message(msg.msg) if which else None
    elif isinstance(msg, pb03.Task):
        obj = FromProto.task(msg)
    elif isinstance(msg, pb03.StreamResponse):
        obj = FromProto.stream_response(msg)
    else:
        return json_format.MessageToDict(msg)
    return obj.model_dump(mode="json", by_alias=True, exclude_none=True) if obj is not None else None


def _text_md(md: Any) -> list[tuple[str, str]]:
    """grpcio metadata as text pairs (``-bin`` values shown as their byte count)."""
    out: list[tuple[str, str]] = []
    for k, v in md or ():
        out.append((str(k), v if isinstance(v, str) else f"<{len(v)} bytes>"))
    return out


def unavailable_hint(message: str, *, tls: bool | None = None, client_cert: bool = False) -> str:
    """The hint for an UNAVAILABLE channel from grpcio's reason (``message``, the status details):
    an HTTP/1.x server on the port, a certificate that does not verify (``--cacert``), a plaintext
    port dialled with TLS, a plaintext channel the server closed (``tls=False``: likely a TLS port),
    a TLS channel the server closed without a client certificate sent (``client_cert`` False: likely
    mutual TLS), else the generic one."""
    text = message.lower()
    if tls is False and "socket closed" in text:
        return (
            "the server closed the plaintext connection: if that port speaks TLS, use grpcs://host:port "
            "or pass --cacert FILE (a bare host:port is plaintext unless the port is 443, docs/grpc.md)"
        )
    if tls and not client_cert and "socket closed" in text:
        return (
            "the server closed the TLS connection after the handshake: is a client certificate "
            "needed (mutual TLS: --cert FILE --key FILE)?"
        )
    if "http1.x" in text or "expected settings frame" in text:
        return (
            "that port speaks HTTP/1.x, not gRPC: the card's GRPC url points at an HTTP port "
            "(gRPC needs HTTP/2; try --binding JSONRPC or HTTP+JSON)"
        )
    if "certificate_verify_failed" in text or "certificate verify failed" in text:
        return "the server's TLS certificate does not verify: pass its CA with --cacert FILE"
    if "wrong_version_number" in text:
        return "the port does not speak TLS: the interface is plaintext (grpc://host:port, docs/grpc.md)"
    return "is the agent running and serving gRPC on that port (plaintext vs TLS: see docs/grpc.md)?"


def _connect_timeout(url: str, settings: Settings) -> TimeoutError_:
    """The channel never became READY: no request was sent (``details.phase`` = ``connect``)."""
    return TimeoutError_(
        f"gRPC channel to {url} not ready after {settings.connect_timeout:g}s (connect timeout)",
        hint="raise --connect-timeout, or check firewalls, the host, and plaintext vs TLS (docs/grpc.md)",
        details={"phase": "connect"},
    )


def _user_agent() -> str:
    from a2actl import __version__

    return f"a2actl/{__version__}"


__all__ = [
    "OPERATIONS",
    "SERVICE",
    "SERVICE_V03",
    "V03_RPCS",
    "Endpoint",
    "GrpcClient",
    "GrpcOutcome",
    "credentials",
    "metadata_for",
    "parse_endpoint",
    "status_details",
]
