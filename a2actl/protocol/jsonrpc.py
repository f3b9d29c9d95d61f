"""JSON-RPC 2.0 envelopes and A2A error decoding.

Error codes: JSON-RPC 2.0 §5.1 (-32700…-32603) and A2A (-32001…-32009): spec v0.2.x §8, v0.3.0 §8,
v1.0.1 §5.4 (table) and §9.5. Payload shapes: 0.x ``data`` is an object or null; 1.0
``data`` is an array of ProtoJSON ``Any`` objects, at least a ``google.rpc.ErrorInfo``
(``reason`` = the error name in UPPER_SNAKE without ``Error``, ``domain`` = ``a2a-protocol.org``);
the 1.0 HTTP+JSON binding answers with a ``google.rpc.Status`` body ``{"error": {code, status, message, details}}``.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any

from a2actl.core.errors import A2ACtlError, A2AError, AuthError
from a2actl.protocol.versions import VERSION_HEADER, Family

TRANSIENT = "transient"
PERMANENT = "permanent"
CLIENT = "client"


@dataclass(frozen=True)
class ErrorSpec:
    """What a code means: its spec name, ``ErrorInfo.reason``, class and a one-line hint."""

    code: int
    name: str
    reason: str
    error_class: str  # transient | permanent | client
    hint: str


ERRORS: dict[int, ErrorSpec] = {
    e.code: e
    for e in (
        ErrorSpec(
            -32700,
            "JSONParseError",
            "PARSE_ERROR",
            CLIENT,
            "the agent could not parse the request body as JSON; check --data or a proxy rewriting bodies",
        ),
        ErrorSpec(
            -32600,
            "InvalidRequestError",
            "INVALID_REQUEST",
            CLIENT,
            "the JSON-RPC envelope or params were rejected; a2a-sdk answers -32600 for bad params too",
        ),
        ErrorSpec(
            -32601,
            "MethodNotFoundError",
            "METHOD_NOT_FOUND",
            CLIENT,
            "the endpoint does not know this method",
        ),
        ErrorSpec(
            -32602,
            "InvalidParamsError",
            "INVALID_PARAMS",
            CLIENT,
            "the params do not match the method's schema for this protocol version",
        ),
        ErrorSpec(
            -32603,
            "InternalError",
            "INTERNAL_ERROR",
            TRANSIENT,
            "the agent failed internally; retry, then check the agent's logs",
        ),
        ErrorSpec(
            -32001,
            "TaskNotFoundError",
            "TASK_NOT_FOUND",
            PERMANENT,
            "no task with that id (expired, another tenant, or never created)",
        ),
        ErrorSpec(
            -32002,
            "TaskNotCancelableError",
            "TASK_NOT_CANCELABLE",
            PERMANENT,
            "the task is already in a terminal state",
        ),
        ErrorSpec(
            -32003,
            "PushNotificationNotSupportedError",
            "PUSH_NOTIFICATION_NOT_SUPPORTED",
            PERMANENT,
            "the agent does not support push notifications (capabilities.pushNotifications)",
        ),
        ErrorSpec(
            -32004,
            "UnsupportedOperationError",
            "UNSUPPORTED_OPERATION",
            PERMANENT,
            "the agent does not support this operation (or the task is terminal)",
        ),
        ErrorSpec(
            -32005,
            "ContentTypeNotSupportedError",
            "CONTENT_TYPE_NOT_SUPPORTED",
            PERMANENT,
            "a part's media type is not in the card's input modes",
        ),
        ErrorSpec(
            -32006,
            "InvalidAgentResponseError",
            "INVALID_AGENT_RESPONSE",
            TRANSIENT,
            "the agent produced a response that does not conform to the spec",
        ),
        ErrorSpec(
            -32007,
            "ExtendedAgentCardNotConfiguredError",
            "EXTENDED_AGENT_CARD_NOT_CONFIGURED",
            PERMANENT,
            "the agent has no extended card configured",
        ),
        ErrorSpec(
            -32008,
            "ExtensionSupportRequiredError",
            "EXTENSION_SUPPORT_REQUIRED",
            CLIENT,
            "activate the required extension with -H 'A2A-Extensions: <uri>'",
        ),
        ErrorSpec(
            -32009,
            "VersionNotSupportedError",
            "VERSION_NOT_SUPPORTED",
            CLIENT,
            "the endpoint does not speak the requested A2A version",
        ),
    )
}

_BY_REASON = {e.reason: e for e in ERRORS.values()}
#: The 1.0 HTTP+JSON statuses for a ``google.rpc.Status`` body that carries no ``ErrorInfo`` (spec
#: v1.0.0 and v1.0.1 §5.4 tables; 404 is left out: see ``decode_rest_error``).
_V1_HTTP_CODE = {409: -32002, 415: -32005, 502: -32006, 500: -32603}
#: a2a-sdk 0.3's REST statuses (``a2a/utils/error_handlers.py`` ``A2AErrorToHttpStatus``, 0.3.26), for
#: a ``{"message": ...}`` body whose text is not one of the defaults below (404 left out, as above).
_V03_HTTP_CODE = {400: -32600, 409: -32002, 415: -32005, 422: -32602, 500: -32603, 501: -32004, 502: -32006}
#: The default ``message`` of each a2a-sdk 0.3 error class (``a2a/types.py``, 0.3.26): what its REST
#: binding puts in ``{"message": ...}`` when the server raised the error without a text of its own.
_V03_DEFAULT_MESSAGES = {
    "task not found": -32001,
    "task cannot be canceled": -32002,
    "push notification is not supported": -32003,
    "this operation is not supported": -32004,
    "incompatible content types": -32005,
    "invalid agent response": -32006,
    "authenticated extended card is not configured": -32007,
    "method not found": -32601,
    "invalid parameters": -32602,
    "request payload validation error": -32600,
    "invalid json payload": -32700,
    "internal error": -32603,
}


#: An agent's text for a message sent to a task that has ended (a2a-sdk 0.3 and 1.x, @a2a-js/sdk:
#: "Task T is in terminal state: completed", "… is in a terminal state (3) and cannot be modified").
_TERMINAL_TASK = re.compile(r"\bterminal state\b", re.I)
#: The methods that send a message, on every binding and version (JSON-RPC, HTTP+JSON, gRPC).
_SENDS = re.compile(r"sendmessage|sendstreamingmessage|message[/:](send|stream)", re.I)
TERMINAL_TASK_HINT = (
    "the task has ended and takes no more messages: start a new one (send without --task-id; "
    "--context-id keeps the conversation)"
)


def _mentions_missing_task(message: str) -> bool:
    text = message.lower()
    return "task" in text and "not found" in text


VERSION_MISMATCH_HINT = (
    "the endpoint treated this call as A2A 0.3: it speaks 0.3 only, or the A2A-Version header was dropped "
    "(proxies and gateways strip unknown headers); try --a2a-version 0.3, or check that "
    f"'{VERSION_HEADER}: 1.0' reaches the agent (-vv shows what was sent)"
)


@dataclass(frozen=True)
class DecodedError:
    """A JSON-RPC / A2A error as a2actl explains it.

    ``error_class`` is ``transient`` (worth retrying), ``permanent`` (will fail again) or ``client``
    (the request is wrong); ``version_mismatch`` is true for -32009, or -32601 on a 1.0 method name.
    ``data`` is what the error carried beyond its code and message, as the agent sent it: a JSON-RPC
    error's ``data`` member (any JSON value), an HTTP+JSON error's ``details`` array or ``data``;
    ``None`` when there was none.
    """

    code: int | None
    name: str
    message: str
    error_class: str
    hint: str | None
    reason: str | None = None
    version_mismatch: bool = False
    details: list[Any] = field(default_factory=list)
    data: Any = None

    def to_exception(self, what: str) -> A2ACtlError:
        """The a2actl error for this answer to ``what`` (a method name): ``AuthError`` (exit 4) for
        ``UNAUTHENTICATED``/``PERMISSION_DENIED`` reasons, else ``A2AError`` (exit 1). An error that
        came over gRPC (``protocol.grpc_errors``: a ``{"grpcStatus": …}`` first detail) names its gRPC
        status in the message and in ``details.grpcStatus``. The error's ``data`` is kept as
        ``details.data`` (credential-like keys masked, ``core.redact.redact_json``)."""
        from a2actl.core.redact import redact_json

        cls = AuthError if self.reason in ("UNAUTHENTICATED", "PERMISSION_DENIED") else A2AError
        details: dict[str, Any] = {"reason": self.reason} if self.reason else {}
        if self.data is not None:
            details["data"] = redact_json(self.data)
        first = self.details[0] if self.details else None
        grpc_status = first.get("grpcStatus") if isinstance(first, dict) else None
        if isinstance(grpc_status, str):
            details["grpcStatus"] = grpc_status
        label = f"{self.code} {self.name}" if self.code is not None else f"{self.name} (no integer code)"
        return cls(
            f"{what}: {label}: {self.message}".rstrip(": ")
            + (f" (gRPC {grpc_status})" if isinstance(grpc_status, str) else ""),
            hint=self.hint,
            a2a_code=self.code,
            details=details or None,
        )

    def to_json(self) -> dict[str, Any]:
        """The error object of ``-o json`` documents (``docs/output-formats.md``)."""
        return {
            "code": self.code,
            "name": self.name,
            "message": self.message,
            "class": self.error_class,
            "hint": self.hint,
            "reason": self.reason,
            "versionMismatch": self.version_mismatch,
            "details": self.details,
        }


def _error_info_reason(details: Any) -> str | None:
    if isinstance(details, list):
        for d in details:
            if isinstance(d, dict) and str(d.get("@type", "")).endswith("google.rpc.ErrorInfo"):
                r = d.get("reason")
                return r if isinstance(r, str) else None
    return None


def _decode(
    code: int | None,
    message: str,
    reason: str | None,
    details: list[Any],
    method: str | None,
    family: Family | None,
) -> DecodedError:
    spec = ERRORS.get(code) if code is not None else None
    if spec is None and reason:
        spec = _BY_REASON.get(reason)
        code = spec.code if spec else code
    if spec is None:
        is_a2a_range = code is not None and -32099 <= code <= -32000
        name = "ServerError" if is_a2a_range else "UnknownError"
        return DecodedError(
            code,
            name,
            message,
            TRANSIENT if is_a2a_range else PERMANENT,
            "an agent-specific error code" if is_a2a_range else None,
            reason,
            False,
            details,
        )
    is_v1_method = bool(method) and "/" not in (method or "") and (method or "")[:1].isupper()
    mismatch = spec.code == -32009 or (spec.code == -32601 and (family is Family.V1_0 or is_v1_method))
    hint = VERSION_MISMATCH_HINT if mismatch else spec.hint
    if family in (Family.V0_2, Family.V0_3) and (mismatch or (spec.code == -32601 and "/" in (method or ""))):
        # A 0.x call was refused: the endpoint does not speak 0.3 (suggesting 0.3 would be circular).
        hint = (
            "the endpoint does not take this A2A 0.3 call (0.3 is what was sent: no A2A-Version header); "
            "it may speak only 1.0: try --a2a-version 1.0, or leave --a2a-version auto to follow the card"
        )
    if spec.code == -32601 and not mismatch and family is not Family.V1_0 and method == "tasks/list":
        hint = "0.3 has no tasks/list; ListTasks exists only in A2A 1.0"
    if spec.code in (-32602, -32004) and _TERMINAL_TASK.search(message) and _SENDS.search(method or ""):
        # a2a-sdk 0.3 refuses a message to an ended task as InvalidParams, 1.x as UnsupportedOperation
        hint = TERMINAL_TASK_HINT
    return DecodedError(
        spec.code, spec.name, message, spec.error_class, hint, reason or spec.reason, mismatch, details
    )


def decode_jsonrpc_error(
    error: Any, *, method: str | None = None, family: Family | None = None
) -> DecodedError:
    """Explain a JSON-RPC ``error`` member (0.x ``data`` object or 1.0 ``ErrorInfo`` array).

    ``method`` and ``family`` are what was sent; they let -32601 on a 1.0 method be recognised as a
    version mismatch. Never raises: a malformed error member decodes as ``UnknownError``.
    """
    if not isinstance(error, dict):
        return DecodedError(None, "UnknownError", repr(error)[:200], PERMANENT, "malformed error member")
    code_val, message_val = error.get("code"), error.get("message")
    # JSON-RPC 2.0 §5.1: an integer (JSON true is a bool, never a code, though Python's bool is an int)
    code = code_val if isinstance(code_val, int) and not isinstance(code_val, bool) else None
    message = message_val if isinstance(message_val, str) else ""
    data = error.get("data")
    details = data if isinstance(data, list) else ([data] if isinstance(data, dict) else [])
    decoded = _decode(code, message, _error_info_reason(data), details, method, family)
    return dataclasses.replace(decoded, data=data) if "data" in error else decoded


def decode_rest_error(
    status: int, body: Any, *, operation: str | None = None, family: Family | None = None
) -> DecodedError | None:
    """Explain a non-2xx HTTP+JSON answer, or return ``None`` when the body is not an A2A error at all.

    Shapes recognised (spec v1.0.1 §11 HTTP+JSON errors; the 0.3 forms as the SDKs in ``docs/interop.md``
    write them):

    * 1.0 ``google.rpc.Status``: ``{"error": {code, status, message, details: [ErrorInfo…]}}``; the
      code comes from ``ErrorInfo.reason``, else from the HTTP status (v1.0 §5.4 table);
    * the JS SDK's v0.3 REST form ``{"code": -32001, "message": "Task not found: nope"}``;
    * a2a-sdk 0.3's REST form ``{"message": "Task not found"}`` (just a message; the code comes from
      the SDK's default texts, else its status table).

    A 404 is ``TaskNotFoundError`` only when the body says so (a reason, a code, or a message about a
    missing task); a 404 in an A2A shape that says something else keeps its text, code ``None``.
    ``None`` means no A2A server wrote this body: a framework's or proxy's page such as FastAPI's
    ``{"detail": "Not Found"}``, HTML or an empty body; for 404/405 the route does not exist, and the
    caller reports that (``no_such_route``), never a TaskNotFound. Never raises.
    """
    if not isinstance(body, dict):
        return None
    err = body.get("error")
    if isinstance(err, dict):
        details_val, message_val = err.get("details"), err.get("message")
        details: list[Any] = details_val if isinstance(details_val, list) else []
        reason = _error_info_reason(details)
        message = message_val if isinstance(message_val, str) else f"HTTP {status}"
        if reason in _BY_REASON:
            code: int | None = _BY_REASON[reason].code
        elif status == 404:
            code = -32001 if _mentions_missing_task(message) else None
        else:
            code = _V1_HTTP_CODE.get(status)
        decoded = _decode(code, message, reason, details, operation, family)
        return dataclasses.replace(decoded, data=details_val) if details_val else decoded
    plain = body.get("message")
    extra = body.get("data", body.get("details"))
    if isinstance(body.get("code"), int) and body["code"] < 0:
        decoded = _decode(body["code"], str(plain or ""), None, [], operation, family)
        return dataclasses.replace(decoded, data=extra) if extra is not None else decoded
    if isinstance(plain, str) and set(body) <= {"message", "code", "details", "data"}:
        code = _V03_DEFAULT_MESSAGES.get(plain.strip().rstrip(".").lower())
        if code is None:
            code = (
                (-32001 if _mentions_missing_task(plain) else None)
                if status == 404
                else _V03_HTTP_CODE.get(status)
            )
        decoded = _decode(code, plain, None, [], operation, family)
        return dataclasses.replace(decoded, data=extra) if extra is not None else decoded
    return None


def verdict_of(decoded: DecodedError) -> str:
    """How a version probe reads an A2A error to a GetTask on a random id: ``answers`` (TaskNotFound:
    routing, version and auth work), ``rejects`` (the endpoint does not speak the version asked:
    -32009, -32601 on that method, or a -32603 that names the version, as a2a-sdk's compat layer
    answers a 0.3 method sent with ``A2A-Version: 1.0``) or ``error`` (anything else).
    The one classifier for ``handshake probe`` and ``caps fingerprint`` (they used to disagree)."""
    if decoded.code == -32001:
        return "answers"
    if decoded.code in (-32009, -32601) or decoded.version_mismatch:
        return "rejects"
    if decoded.code == -32603 and "version" in decoded.message.lower():
        return "rejects"
    return "error"


def build_request(method: str, params: dict[str, Any], request_id: str | int) -> dict[str, Any]:
    """A JSON-RPC 2.0 request object."""
    return {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}


class EnvelopeError(ValueError):
    """The body is not a valid JSON-RPC 2.0 response for the request."""


def split_response(obj: Any, request_id: str | int | None) -> tuple[Any, dict[str, Any] | None]:
    """Return ``(result, error)`` of a JSON-RPC 2.0 response object; exactly one is meaningful.

    Raises ``EnvelopeError`` when ``jsonrpc`` is not ``"2.0"``, both or neither of ``result``/``error``
    are present, or the ``id`` does not echo the request's (JSON-RPC 2.0 §5).
    """
    if not isinstance(obj, dict):
        raise EnvelopeError(f"JSON-RPC response must be an object, got {type(obj).__name__}")
    if obj.get("jsonrpc") != "2.0":
        raise EnvelopeError(f'JSON-RPC response has jsonrpc={obj.get("jsonrpc")!r}, expected "2.0"')
    has_result, has_error = "result" in obj, "error" in obj
    if has_result == has_error:
        raise EnvelopeError("JSON-RPC response must have exactly one of 'result' and 'error'")
    if request_id is not None and obj.get("id") != request_id and not (has_error and obj.get("id") is None):
        raise EnvelopeError(
            f"JSON-RPC response id {obj.get('id')!r} does not match request id {request_id!r}"
        )
    if has_error:
        err = obj["error"]
        if not isinstance(err, dict):
            raise EnvelopeError("JSON-RPC 'error' must be an object")
        return None, err
    return obj["result"], None
