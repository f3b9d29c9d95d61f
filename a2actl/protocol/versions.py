"""The three A2A wire families (0.2.x, 0.3, 1.0) in one table.

Sources: A2A spec ``docs/specification.md`` at tags v0.2.6, v0.3.0, v1.0.1 and ``specification/a2a.proto``
(v1.x), github.com/a2aproject/A2A: card paths (v0.3.0 §5.3; the 0.3.0 CHANGELOG renames ``agent.json``),
JSON-RPC methods (v0.3.0 §7 and the ``method`` constants of ``specification/json/a2a.json``; v1.0 §9:
the ``A2AService`` RPC names), HTTP+JSON paths (the ``google.api.http`` annotations of the 0.3.0
``specification/grpc/a2a.proto`` and the 1.0 ``specification/a2a.proto``; v1.0 §11), task states (v1.0
§4.1.3 ``TaskState``, v0.3.0 §6.3) and the ``A2A-Version`` header (v1.0 §3.2.6).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

#: Well-known card paths, newest first (spec v0.3.0 §5.3 renamed ``agent.json`` → ``agent-card.json``).
CARD_PATH = "/.well-known/agent-card.json"
LEGACY_CARD_PATH = "/.well-known/agent.json"
CARD_PATHS = (CARD_PATH, LEGACY_CARD_PATH)

#: Service-parameter header a 1.0 client MUST send; servers read a missing one as 0.3 (v1.0 §3.2.6 / §6.2).
VERSION_HEADER = "A2A-Version"

#: Protocol bindings named by the spec (v1.0 ``AgentInterface.protocol_binding``). Others are custom URIs.
BINDING_JSONRPC = "JSONRPC"
BINDING_HTTP_JSON = "HTTP+JSON"
BINDING_GRPC = "GRPC"
STANDARD_BINDINGS = (BINDING_JSONRPC, BINDING_HTTP_JSON, BINDING_GRPC)
#: Non-standard spellings seen in the wild (a2a-python's TCK SUT declares ``REST``).
BINDING_ALIASES = {
    "REST": BINDING_HTTP_JSON,
    "HTTP": BINDING_HTTP_JSON,
    "HTTP_JSON": BINDING_HTTP_JSON,
    "JSON-RPC": BINDING_JSONRPC,
    "JSON_RPC": BINDING_JSONRPC,
    "GRPC": BINDING_GRPC,
}


class Family(str, Enum):
    """A wire family: versions that share method names, shapes and framing."""

    V0_2 = "0.2"
    V0_3 = "0.3"
    V1_0 = "1.0"


@dataclass(frozen=True)
class WireVersion:
    """What one protocol family looks like on the wire.

    ``methods`` maps the operation name (1.0 gRPC/PascalCase spelling) to the JSON-RPC ``method`` string;
    a missing key means the operation does not exist in that family. ``rest`` maps the operation to
    ``(HTTP verb, path template)`` relative to the interface URL (``None``: not available).
    ``version_header`` is the ``A2A-Version`` value to send, or ``None`` when the header must be omitted
    (a 0.x client sends none; servers read a missing header as 0.3).
    """

    family: Family
    version_header: str | None
    methods: dict[str, str]
    rest: dict[str, tuple[str, str]]


_V0_METHODS = {
    "SendMessage": "message/send",
    "SendStreamingMessage": "message/stream",
    "GetTask": "tasks/get",
    "CancelTask": "tasks/cancel",
    "SubscribeToTask": "tasks/resubscribe",
    "CreateTaskPushNotificationConfig": "tasks/pushNotificationConfig/set",
    "GetTaskPushNotificationConfig": "tasks/pushNotificationConfig/get",
}

V0_2 = WireVersion(
    family=Family.V0_2,
    version_header=None,
    methods={
        **_V0_METHODS,
        # 0.2.5 added list/delete; 0.2.x has no JSON-RPC extended card (plain HTTP GET instead).
        "ListTaskPushNotificationConfigs": "tasks/pushNotificationConfig/list",
        "DeleteTaskPushNotificationConfig": "tasks/pushNotificationConfig/delete",
    },
    rest={},
)

V0_3 = WireVersion(
    family=Family.V0_3,
    version_header=None,
    methods={
        **_V0_METHODS,
        "ListTaskPushNotificationConfigs": "tasks/pushNotificationConfig/list",
        "DeleteTaskPushNotificationConfig": "tasks/pushNotificationConfig/delete",
        "GetExtendedAgentCard": "agent/getAuthenticatedExtendedCard",
    },
    rest={
        "SendMessage": ("POST", "/v1/message:send"),
        "SendStreamingMessage": ("POST", "/v1/message:stream"),
        "GetTask": ("GET", "/v1/tasks/{id}"),
        "CancelTask": ("POST", "/v1/tasks/{id}:cancel"),
        "SubscribeToTask": ("GET", "/v1/tasks/{id}:subscribe"),
        "GetExtendedAgentCard": ("GET", "/v1/card"),
    },
)

V1_0 = WireVersion(
    family=Family.V1_0,
    version_header="1.0",
    methods={
        name: name
        for name in (
            "SendMessage",
            "SendStreamingMessage",
            "GetTask",
            "ListTasks",
            "CancelTask",
            "SubscribeToTask",
            "CreateTaskPushNotificationConfig",
            "GetTaskPushNotificationConfig",
            "ListTaskPushNotificationConfigs",
            "DeleteTaskPushNotificationConfig",
            "GetExtendedAgentCard",
        )
    },
    rest={
        "SendMessage": ("POST", "/message:send"),
        "SendStreamingMessage": ("POST", "/message:stream"),
        "GetTask": ("GET", "/tasks/{id}"),
        "ListTasks": ("GET", "/tasks"),
        "CancelTask": ("POST", "/tasks/{id}:cancel"),
        "SubscribeToTask": ("POST", "/tasks/{id}:subscribe"),
        "GetExtendedAgentCard": ("GET", "/extendedAgentCard"),
    },
)

WIRE_VERSIONS: dict[Family, WireVersion] = {Family.V0_2: V0_2, Family.V0_3: V0_3, Family.V1_0: V1_0}


def rest_path(template: str, task_id: object) -> str:
    """An HTTP+JSON path ``template`` (``/tasks/{id}``) with ``{id}`` filled by ``task_id``
    percent-encoded as one path segment (RFC 3986 §3.3): an id holding ``/``, ``?``, ``#`` or
    ``..`` still names that task, never another route, a query or a fragment (``a#b`` is not
    task ``a``). A UUID is unchanged."""
    from urllib.parse import quote

    segment = quote(str(task_id), safe="")
    if segment in (".", ".."):  # dot segments are removed by URL normalisation: encode them
        segment = segment.replace(".", "%2E")
    return template.format(id=segment)


def join_url(base: str, path: str) -> str:
    """``base`` (an interface or debug-API URL) with ``path`` (``/tasks/abc``, from ``rest_path``)
    appended to its path, before its query: ``http://h/a2a/rest?token=t`` + ``/tasks/1`` is
    ``http://h/a2a/rest/tasks/1?token=t`` (RFC 3986 §3: the query follows the path). A trailing ``/``
    of the base path is dropped first; a fragment (never sent) is dropped. A base without ``?`` or
    ``#`` is joined by concatenation (the hot path of ``load run``: no parsing)."""
    if "?" not in base and "#" not in base:
        return base.rstrip("/") + path
    head, _, _fragment = base.partition("#")
    before, sep, query = head.partition("?")
    return before.rstrip("/") + path + sep + query


def family_of(version: str | None) -> Family | None:
    """Map a declared ``protocolVersion`` string to its wire family.

    Accepts ``"0.2.5"``, ``"0.3"``, ``"0.3.0"``, ``"1.0"``, ``"1.0.1"`` and any ``1.x`` (spec v1.0 §3.2.6:
    patch versions are not negotiated; a2a-python accepts any 1.x). Also read, as a2a-sdk (Python,
    PEP 440) reads them, though not the spec's form (``is_version_spelling``; ``caps validate``
    flags them): a leading ``v`` (``v1.0``), surrounding white space, a major alone (``1``). Major
    and minor must be ASCII digits: ``１.０`` (fullwidth), ``+1.0`` or ``0.0_3``, which Python's
    ``int`` would take, are no version for any client. Returns ``None`` when the string is missing or
    not a version we know.
    """
    if not version or not isinstance(version, str):
        return None
    parts = version.strip().lstrip("vV").split(".")
    numbers = parts[:2]
    if not all(p.isascii() and p.isdigit() for p in numbers):
        return None
    major = int(numbers[0])
    minor = int(numbers[1]) if len(numbers) > 1 else 0
    if major == 1:
        return Family.V1_0
    if major == 0 and minor == 3:
        return Family.V0_3
    if major == 0 and minor in (1, 2):
        return Family.V0_2
    return None


#: A protocol version as the spec writes one: ``Major.Minor`` (v1.0 §3.2.6, §4.4.6: ``"0.3"``,
#: ``"1.0"``) with an optional patch (``"0.3.0"``, required-field examples of v0.2.5 and v0.3), in
#: ASCII digits.
_VERSION_SPELLING = re.compile(r"[0-9]+\.[0-9]+(?:\.[0-9]+)?")


def is_version_spelling(version: object) -> bool:
    """Whether ``version`` is a ``protocolVersion`` in the spec's form (``Major.Minor[.Patch]``,
    ASCII digits, nothing around it): ``"1.0"``, ``"0.3.0"``; not ``"v1.0"``, ``" 1.0"``, ``"1"``,
    ``"1.0.0.0"`` or ``"1.0rc1"``, which ``family_of`` may still read. Never raises."""
    return isinstance(version, str) and _VERSION_SPELLING.fullmatch(version) is not None


def normalise_binding(binding: str | None) -> str:
    """Canonical spelling of a ``protocolBinding`` / ``transport`` value (``REST`` → ``HTTP+JSON``).

    Unknown values are returned unchanged and treated as custom bindings (spec v1.0 §5.8: a URI).
    """
    if not binding:
        return BINDING_JSONRPC  # v0.3 ``preferredTransport`` default (spec v0.3.0 §5.5)
    upper = binding.strip().upper()
    if upper in STANDARD_BINDINGS:
        return upper
    return BINDING_ALIASES.get(upper, binding.strip())


# ---------------------------------------------------------------------------------------------------
# Task states (spec v1.0 §4.1.3 TaskState; v0.3.0 §6.3)
# ---------------------------------------------------------------------------------------------------


class StateKind(str, Enum):
    """What a task state means for a client: still running, waiting for input or auth
    (interrupted), finished (terminal), or not a known state (spec v1.0 §4.1.3)."""

    ACTIVE = "active"
    INTERRUPTED = "interrupted"
    TERMINAL = "terminal"
    UNKNOWN = "unknown"


#: canonical short name → (0.x JSON-RPC, 1.0 ProtoJSON, kind)
TASK_STATES: dict[str, tuple[str, str, StateKind]] = {
    "submitted": ("submitted", "TASK_STATE_SUBMITTED", StateKind.ACTIVE),
    "working": ("working", "TASK_STATE_WORKING", StateKind.ACTIVE),
    "input-required": ("input-required", "TASK_STATE_INPUT_REQUIRED", StateKind.INTERRUPTED),
    "auth-required": ("auth-required", "TASK_STATE_AUTH_REQUIRED", StateKind.INTERRUPTED),
    "completed": ("completed", "TASK_STATE_COMPLETED", StateKind.TERMINAL),
    "canceled": ("canceled", "TASK_STATE_CANCELED", StateKind.TERMINAL),
    "failed": ("failed", "TASK_STATE_FAILED", StateKind.TERMINAL),
    "rejected": ("rejected", "TASK_STATE_REJECTED", StateKind.TERMINAL),
    "unknown": ("unknown", "TASK_STATE_UNSPECIFIED", StateKind.UNKNOWN),
}

#: Canonical terminal states in which the agent did not do what was asked (A2A spec v1.0 §4.1.3
#: TaskState): an answer with a task in one of them is not a success (``load run``'s
#: ``task-failed``, ``dlq replay``'s still dead).
FAILED_STATES = frozenset({"failed", "rejected", "canceled"})

_STATE_ALIASES: dict[str, str] = {}
for _short, (_v0, _v1, _kind) in TASK_STATES.items():
    _STATE_ALIASES[_v0] = _short
    _STATE_ALIASES[_v1.lower()] = _short
# v0.3 gRPC/REST spelled it the British way (``TASK_STATE_CANCELLED``, v0.3.0 specification/grpc/a2a.proto).
_STATE_ALIASES["task_state_cancelled"] = "canceled"
_STATE_ALIASES["cancelled"] = "canceled"
#: Exact spellings seen on the wire, for a lookup without normalising (the per-event fast path).
_EXACT_STATES = {
    **_STATE_ALIASES,
    **{k.upper(): v for k, v in _STATE_ALIASES.items() if k.startswith("task_state")},
}


def canonical_state(state: str | None) -> str:
    """Canonical short state name for any spelling (``TASK_STATE_CANCELLED`` → ``canceled``).

    Unknown or missing values map to ``"unknown"``.
    """
    exact = _EXACT_STATES.get(state) if isinstance(state, str) else None
    if exact is not None:
        return exact
    if not state or not isinstance(state, str):
        return "unknown"
    return _STATE_ALIASES.get(state.strip().lower(), "unknown")


def state_kind(state: str | None) -> StateKind:
    """Whether a state (any spelling) is active, interrupted (input/auth required) or terminal."""
    entry = TASK_STATES.get(state) if type(state) is str else None  # a canonical name: the per-event case
    return (entry or TASK_STATES[canonical_state(state)])[2]
