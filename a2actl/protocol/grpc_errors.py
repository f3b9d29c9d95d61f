"""The gRPC binding's errors as data: status codes, the A2A error ↔ gRPC status table, and the decoding
of a ``google.rpc.Status`` (already turned into JSON) into the same ``DecodedError`` as JSON-RPC.

No grpc import here (``a2actl.transport.grpc`` unpacks the ``grpc-status-details-bin`` trailer with
protobuf and hands the details over as ProtoJSON ``Any`` objects, the shape JSON-RPC 1.0 ``data`` has).

Sources: A2A spec v1.0.1 §5.4 (error table, gRPC column after 1.0.1's change: UNIMPLEMENTED →
FAILED_PRECONDITION for -32003/-32004/-32009), §10 (gRPC binding: ``google.rpc.Status`` with a
``google.rpc.ErrorInfo`` in domain ``a2a-protocol.org``, ``reason`` = the error name in UPPER_SNAKE without
``Error``); the gRPC status codes are ``grpc/doc/statuscodes.md`` (0 OK … 16 UNAUTHENTICATED);
a2a-sdk 1.3's server table is ``a2a/server/request_handlers/grpc_handler.py`` ``_ERROR_CODE_MAP``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from a2actl.protocol.jsonrpc import ERRORS, DecodedError, decode_jsonrpc_error
from a2actl.protocol.versions import Family

#: ``google.rpc.ErrorInfo.domain`` of A2A errors (spec v1.0 §10).
A2A_DOMAIN = "a2a-protocol.org"
#: The trailer that carries the serialized ``google.rpc.Status`` (gRPC "richer error model").
STATUS_DETAILS_KEY = "grpc-status-details-bin"

#: gRPC status code number → name (``grpc/doc/statuscodes.md``).
STATUS_NAMES: dict[int, str] = {
    0: "OK",
    1: "CANCELLED",
    2: "UNKNOWN",
    3: "INVALID_ARGUMENT",
    4: "DEADLINE_EXCEEDED",
    5: "NOT_FOUND",
    6: "ALREADY_EXISTS",
    7: "PERMISSION_DENIED",
    8: "RESOURCE_EXHAUSTED",
    9: "FAILED_PRECONDITION",
    10: "ABORTED",
    11: "OUT_OF_RANGE",
    12: "UNIMPLEMENTED",
    13: "INTERNAL",
    14: "UNAVAILABLE",
    15: "DATA_LOSS",
    16: "UNAUTHENTICATED",
}

#: ``ErrorInfo.reason`` → (JSON-RPC code, gRPC status name the spec v1.0.1 §5.4 table gives).
#: The first three are a2a-sdk's additions (``a2a/utils/errors.py``), not in the spec's gRPC column.
REASON_TABLE: dict[str, tuple[int, str]] = {
    "TASK_NOT_FOUND": (-32001, "NOT_FOUND"),
    "TASK_NOT_CANCELABLE": (-32002, "FAILED_PRECONDITION"),
    "PUSH_NOTIFICATION_NOT_SUPPORTED": (-32003, "FAILED_PRECONDITION"),
    "UNSUPPORTED_OPERATION": (-32004, "FAILED_PRECONDITION"),
    "CONTENT_TYPE_NOT_SUPPORTED": (-32005, "INVALID_ARGUMENT"),
    "INVALID_AGENT_RESPONSE": (-32006, "INTERNAL"),
    "EXTENDED_AGENT_CARD_NOT_CONFIGURED": (-32007, "FAILED_PRECONDITION"),
    "EXTENSION_SUPPORT_REQUIRED": (-32008, "FAILED_PRECONDITION"),
    "VERSION_NOT_SUPPORTED": (-32009, "FAILED_PRECONDITION"),
    "INVALID_PARAMS": (-32602, "INVALID_ARGUMENT"),
    "INVALID_REQUEST": (-32600, "INVALID_ARGUMENT"),
    "METHOD_NOT_FOUND": (-32601, "NOT_FOUND"),
    "INTERNAL_ERROR": (-32603, "INTERNAL"),
}

#: A gRPC status without an A2A ``ErrorInfo``: the JSON-RPC code it is read as (``None``: no A2A
#: meaning; the error keeps the status's name). NOT_FOUND is TaskNotFound only when the message
#: says a task is missing (as for HTTP+JSON 404s, ``decode_rest_error``).
STATUS_FALLBACK: dict[str, int | None] = {
    "INVALID_ARGUMENT": -32602,
    "UNIMPLEMENTED": -32601,
    "INTERNAL": -32603,
}

#: Statuses that are not answers of the agent but failures of the call: the exit code they map to
#: (``docs/exit-codes.md``: 3 unreachable, 4 auth, 5 timeout). ``a2actl.transport.grpc`` raises them.
TRANSPORT_STATUSES: dict[str, int] = {
    "UNAVAILABLE": 3,
    "UNAUTHENTICATED": 4,
    "PERMISSION_DENIED": 4,
    "DEADLINE_EXCEEDED": 5,
}


#: A JSON-RPC error name → its code: a2a-sdk's 0.3 gRPC handler (``CompatGrpcHandler.abort_context``)
#: sends no ErrorInfo, only ``"<ErrorClassName>: <message>"`` as the status message.
_BY_NAME: dict[str, int] = {e.name: e.code for e in ERRORS.values()}


def error_info(details: list[Any]) -> dict[str, Any] | None:
    """The first ``google.rpc.ErrorInfo`` among ProtoJSON ``Any`` ``details`` (any domain), or ``None``."""
    for d in details:
        if isinstance(d, dict) and str(d.get("@type", "")).endswith("google.rpc.ErrorInfo"):
            return d
    return None


def decode_grpc_error(
    status: str,
    message: str,
    details: list[Any],
    *,
    method: str | None = None,
    family: Family | None = Family.V1_0,
) -> DecodedError:
    """Explain a non-OK gRPC answer: ``status`` is the gRPC status name (``NOT_FOUND``), ``message``
    the status message, ``details`` the ``google.rpc.Status.details`` as ProtoJSON ``Any`` objects.

    The JSON-RPC code comes from ``ErrorInfo.reason`` in domain ``a2a-protocol.org`` (``REASON_TABLE``),
    else from an error name leading the message (``TaskNotFoundError: …``, a2a-sdk's 0.3 service),
    else from the status (``STATUS_FALLBACK``; NOT_FOUND only when the message names a missing task).
    The result is what ``decode_jsonrpc_error`` gives for the same code, so names, classes and hints
    are the JSON-RPC ones; ``details`` gains ``{"grpcStatus": status}`` first; ``data`` is
    ``details`` as sent (``None`` when empty). Never raises."""
    info = error_info(details)
    reason = info.get("reason") if info is not None and info.get("domain") == A2A_DOMAIN else None
    code: int | None = None
    named = _BY_NAME.get(message.split(":", 1)[0].strip()) if ":" in message else None
    if isinstance(reason, str) and reason in REASON_TABLE:
        code = REASON_TABLE[reason][0]
    elif named is not None:  # a2a-sdk's 0.3 compat handler: "TaskNotFoundError: Task not found"
        code = named
        message = message.split(":", 1)[1].strip()
    elif status == "NOT_FOUND":
        text = message.lower()
        code = -32001 if "task" in text and "not found" in text else None
    elif status in ("UNAUTHENTICATED", "PERMISSION_DENIED"):
        reason = status  # DecodedError.to_exception: AuthError (exit 4)
    else:
        code = STATUS_FALLBACK.get(status)
    # ErrorInfo of another domain must not lend its reason: decode from the code alone, then put
    # every detail back (the gRPC status first, as ``DecodedError.to_exception`` reads it).
    error: dict[str, Any] = {"message": message, "data": [{"grpcStatus": status}]}
    if code is not None:
        error["code"] = code
    decoded = decode_jsonrpc_error(error, method=method, family=family)
    decoded = replace(decoded, details=[{"grpcStatus": status}, *details], data=list(details) or None)
    if code is None and decoded.name == "UnknownError":
        decoded = replace(
            decoded,
            name=f"GrpcStatus{''.join(w.capitalize() for w in status.split('_'))}",
            hint=f"the agent answered gRPC status {status} with an A2A ErrorInfo whose reason {reason!r} "
            "is not in the spec's error table (a newer spec, or an extension's error?)"
            if isinstance(reason, str) and reason != status
            else f"the agent answered gRPC status {status} without an A2A ErrorInfo",
        )
    if status == "UNIMPLEMENTED" and code == STATUS_FALLBACK["UNIMPLEMENTED"] and reason is None:
        # grpcio's own answer for a service or method the server does not register: the -32601 hint
        # about a dropped A2A-Version header is an HTTP-binding story; here the door is missing.
        service = (
            "a2a.v1.A2AService"
            if family is not None and family is not Family.V1_0
            else "lf.a2a.v1.A2AService"
        )
        rpc = f"{service}/{method}" if method else service
        decoded = replace(
            decoded,
            reason=None,
            hint=f"the server on that port does not serve {rpc} (gRPC UNIMPLEMENTED without an A2A "
            "ErrorInfo): not an A2A gRPC interface there, or another version of it (A2A 0.3 is "
            "a2a.v1.A2AService: try --a2a-version 0.3); `a2actl caps fingerprint` lists the services "
            "if the server has reflection",
        )
    if isinstance(reason, str) and decoded.reason is None:
        decoded = replace(decoded, reason=reason)
    return decoded


__all__ = [
    "A2A_DOMAIN",
    "REASON_TABLE",
    "STATUS_DETAILS_KEY",
    "STATUS_FALLBACK",
    "STATUS_NAMES",
    "TRANSPORT_STATUSES",
    "decode_grpc_error",
    "error_info",
]
