"""JSON-RPC 2.0 envelopes and A2A error decoding.

Error codes: JSON-RPC 2.0 §5.1 (-32700…-32603) and A2A (-32001…-32009): spec v0.2.x §8, v0.3.0 §8,
v1.0.1 §5.4 (table) and §9.5; shared doc §7. Payload shapes: 0.x ``data`` is an object or null; 1.0
``data`` is an array of ProtoJSON ``Any`` objects, at least a ``google.rpc.ErrorInfo``
(``reason`` = the error name in UPPER_SNAKE without ``Error``, ``domain`` = ``a2a-protocol.org``);
the 1.0 HTTP+JSON binding answers with a ``google.rpc.Status`` body ``{"error": {code, status, message, details}}``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from a2actl.errors import A2ACtlError, A2AError, AuthError
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


ERRORS: dict[int, ErrorSpec] = {e.code: e for e in (
    ErrorSpec(-32700, "JSONParseError", "PARSE_ERROR", CLIENT,
              "the agent could not parse the request body as JSON; check --data or a proxy rewriting bodies"),
    ErrorSpec(-32600, "InvalidRequestError", "INVALID_REQUEST", CLIENT,
              "the JSON-RPC envelope or params were rejected; a2a-sdk answers -32600 for bad params too"),
    ErrorSpec(-32601, "MethodNotFoundError", "METHOD_NOT_FOUND", CLIENT,
              "the endpoint does not know this method"),
    ErrorSpec(-32602, "InvalidParamsError", "INVALID_PARAMS", CLIENT,
              "the params do not match the method's schema for this protocol version"),
    ErrorSpec(-32603, "InternalError", "INTERNAL_ERROR", TRANSIENT,
              "the agent failed internally; retry, then check the agent's logs"),
    ErrorSpec(-32001, "TaskNotFoundError", "TASK_NOT_FOUND", PERMANENT,
              "no task with that id (expired, another tenant, or never created)"),
    ErrorSpec(-32002, "TaskNotCancelableError", "TASK_NOT_CANCELABLE", PERMANENT,
              "the task is already in a terminal state"),
    ErrorSpec(-32003, "PushNotificationNotSupportedError", "PUSH_NOTIFICATION_NOT_SUPPORTED", PERMANENT,
              "the agent does not support push notifications (capabilities.pushNotifications)"),
    ErrorSpec(-32004, "UnsupportedOperationError", "UNSUPPORTED_OPERATION", PERMANENT,
              "the agent does not support this operation (or the task is terminal)"),
    ErrorSpec(-32005, "ContentTypeNotSupportedError", "CONTENT_TYPE_NOT_SUPPORTED", PERMANENT,
              "a part's media type is not in the card's input modes"),
    ErrorSpec(-32006, "InvalidAgentResponseError", "INVALID_AGENT_RESPONSE", TRANSIENT,
              "the agent produced a response that does not conform to the spec"),
    ErrorSpec(-32007, "ExtendedAgentCardNotConfiguredError", "EXTENDED_AGENT_CARD_NOT_CONFIGURED", PERMANENT,
              "the agent has no extended card configured"),
    ErrorSpec(-32008, "ExtensionSupportRequiredError", "EXTENSION_SUPPORT_REQUIRED", CLIENT,
              "activate the required extension with -H 'A2A-Extensions: <uri>'"),
    ErrorSpec(-32009, "VersionNotSupportedError", "VERSION_NOT_SUPPORTED", CLIENT,
              "the endpoint does not speak the requested A2A version"),
)}

_BY_REASON = {e.reason: e for e in ERRORS.values()}
#: HTTP statuses the 1.0 REST binding uses, for bodies that carry no ErrorInfo (1.0.0 and 1.0.1 tables).
_HTTP_DEFAULT_CODE = {404: -32001, 409: -32002, 415: -32005, 502: -32006, 500: -32603}

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
    """

    code: int | None
    name: str
    message: str
    error_class: str
    hint: str | None
    reason: str | None = None
    version_mismatch: bool = False
    details: list[Any] = field(default_factory=list)

    def to_exception(self, what: str) -> A2ACtlError:
        """The a2actl error for this answer to ``what`` (a method name): ``AuthError`` (exit 4) for
        ``UNAUTHENTICATED``/``PERMISSION_DENIED`` reasons, else ``A2AError`` (exit 1)."""
        cls = AuthError if self.reason in ("UNAUTHENTICATED", "PERMISSION_DENIED") else A2AError
        return cls(f"{what}: {self.code} {self.name}: {self.message}".rstrip(": "), hint=self.hint,
                   a2a_code=self.code, details={"reason": self.reason} if self.reason else None)

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "name": self.name, "message": self.message, "class": self.error_class,
                "hint": self.hint, "reason": self.reason, "versionMismatch": self.version_mismatch,
                "details": self.details}


def _error_info_reason(details: Any) -> str | None:
    if isinstance(details, list):
        for d in details:
            if isinstance(d, dict) and str(d.get("@type", "")).endswith("google.rpc.ErrorInfo"):
                r = d.get("reason")
                return r if isinstance(r, str) else None
    return None


def _decode(code: int | None, message: str, reason: str | None, details: list[Any],
            method: str | None, family: Family | None) -> DecodedError:
    spec = ERRORS.get(code) if code is not None else None
    if spec is None and reason:
        spec = _BY_REASON.get(reason)
        code = spec.code if spec else code
    if spec is None:
        is_a2a_range = code is not None and -32099 <= code <= -32000
        name = "ServerError" if is_a2a_range else "UnknownError"
        return DecodedError(code, name, message, TRANSIENT if is_a2a_range else PERMANENT,
                            "an agent-specific error code" if is_a2a_range else None, reason, False, details)
    is_v1_method = bool(method) and "/" not in (method or "") and method[:1].isupper()
    mismatch = spec.code == -32009 or (spec.code == -32601 and (family is Family.V1_0 or is_v1_method))
    hint = VERSION_MISMATCH_HINT if mismatch else spec.hint
    if spec.code == -32601 and not mismatch and family is not Family.V1_0 and method == "tasks/list":
        hint = "0.3 has no tasks/list; ListTasks exists only in A2A 1.0"
    return DecodedError(spec.code, spec.name, message, spec.error_class, hint, reason or spec.reason,
                        mismatch, details)


def decode_jsonrpc_error(error: Any, *, method: str | None = None, family: Family | None = None) -> DecodedError:
    """Explain a JSON-RPC ``error`` member (0.x ``data`` object or 1.0 ``ErrorInfo`` array).

    ``method`` and ``family`` are what was sent; they let -32601 on a 1.0 method be recognised as a
    version mismatch. Never raises: a malformed error member decodes as ``UnknownError``.
    """
    if not isinstance(error, dict):
        return DecodedError(None, "UnknownError", repr(error)[:200], PERMANENT, "malformed error member")
    code = error.get("code") if isinstance(error.get("code"), int) else None
    message = error.get("message") if isinstance(error.get("message"), str) else ""
    data = error.get("data")
    details = data if isinstance(data, list) else ([data] if isinstance(data, dict) else [])
    return _decode(code, message, _error_info_reason(data), details, method, family)


def decode_rest_error(status: int, body: Any, *, operation: str | None = None,
                      family: Family | None = None) -> DecodedError:
    """Explain a non-2xx HTTP+JSON answer: a 1.0 ``google.rpc.Status`` body, the JS SDK's v0.3
    ``{"code": -32001, "message": ...}`` form, or anything else (decoded from the HTTP status)."""
    err = body.get("error") if isinstance(body, dict) else None
    if isinstance(err, dict):
        details = err.get("details") if isinstance(err.get("details"), list) else []
        reason = _error_info_reason(details)
        message = err.get("message") if isinstance(err.get("message"), str) else f"HTTP {status}"
        code = _BY_REASON[reason].code if reason in _BY_REASON else _HTTP_DEFAULT_CODE.get(status)
        return _decode(code, message, reason, details, operation, family)
    if isinstance(body, dict) and isinstance(body.get("code"), int) and body["code"] < 0:
        return _decode(body["code"], str(body.get("message", "")), None, [], operation, family)
    return _decode(_HTTP_DEFAULT_CODE.get(status), f"HTTP {status}", None, [], operation, family)


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
        raise EnvelopeError(f"JSON-RPC response id {obj.get('id')!r} does not match request id {request_id!r}")
    if has_error:
        err = obj["error"]
        if not isinstance(err, dict):
            raise EnvelopeError("JSON-RPC 'error' must be an object")
        return None, err
    return obj["result"], None
