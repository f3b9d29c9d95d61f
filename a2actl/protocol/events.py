"""Message construction and stream-event classification for 0.x and 1.0.

Shapes (shared doc §5.2, §5.3): 0.x JSON-RPC messages carry ``kind`` and lower-case roles; 1.0 uses
ProtoJSON (``ROLE_USER``, parts as ``{"text": ...}``); 0.3 HTTP+JSON uses v0.3 proto JSON (parts field
``content``). Stream events: 0.3 ``result`` objects with ``kind`` in ``task | message | status-update |
artifact-update`` and ``final: true`` on the last; 1.0 ``StreamResponse`` wrappers ``{task | message |
statusUpdate | artifactUpdate}`` (v0.3 proto names the message member ``msg``), the stream closing on a
terminal or interrupted state.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from a2actl.protocol.versions import BINDING_HTTP_JSON, Family, StateKind, canonical_state, state_kind


def text_message_params(text: str, family: Family, binding: str, *, message_id: str | None = None,
                        context_id: str | None = None, tenant: str | None = None) -> dict[str, Any]:
    """``SendMessage`` params (1.0 ``SendMessageRequest`` / 0.x ``MessageSendParams``) with one text part."""
    mid = message_id or str(uuid.uuid4())
    if family is Family.V1_0:
        msg: dict[str, Any] = {"messageId": mid, "role": "ROLE_USER", "parts": [{"text": text}]}
    elif binding == BINDING_HTTP_JSON:
        msg = {"messageId": mid, "role": "ROLE_USER", "content": [{"text": text}]}
    else:
        msg = {"kind": "message", "messageId": mid, "role": "user", "parts": [{"kind": "text", "text": text}]}
    if context_id:
        msg["contextId"] = context_id
    params: dict[str, Any] = {"message": msg}
    if tenant and family is Family.V1_0:
        params["tenant"] = tenant
    return params


@dataclass(frozen=True)
class StreamEvent:
    """One classified event. ``kind`` is ``task``, ``message``, ``status-update`` or ``artifact-update``
    (``unknown`` when unrecognised); ``state`` the canonical task state it carries, if any; ``final``
    true when the event ends the stream by the family's rule."""

    kind: str
    state: str | None
    task_id: str | None
    final: bool
    payload: dict[str, Any]


_V1_KEYS = {"task": "task", "message": "message", "msg": "message",
            "statusUpdate": "status-update", "artifactUpdate": "artifact-update"}


def classify_event(result: Any) -> StreamEvent:
    """Classify a stream event (the JSON-RPC ``result`` or a bare HTTP+JSON ``StreamResponse``).

    A bare Message ends the stream in both families; 0.3 ends on ``final: true``; 1.0 on a terminal
    or interrupted state (spec v1.0 §11.7). Never raises: an unrecognised object is ``kind="unknown"``.
    """
    if not isinstance(result, dict):
        return StreamEvent("unknown", None, None, False, {})
    if "kind" in result:  # 0.x
        kind = str(result["kind"])
        body = result
        final = bool(result.get("final")) or kind == "message"
    else:
        key = next((k for k in _V1_KEYS if k in result), None)
        if key is None:
            return StreamEvent("unknown", None, None, False, result)
        kind = _V1_KEYS[key]
        body = result[key] if isinstance(result[key], dict) else {}
        final = kind == "message"
    status = body.get("status") if isinstance(body.get("status"), dict) else None
    state = canonical_state(status.get("state")) if status else None
    task_id = body.get("taskId") or (body.get("id") if kind == "task" else None)
    if state is not None and "kind" not in result and kind != "task":
        final = final or state_kind(state) in (StateKind.TERMINAL, StateKind.INTERRUPTED)
    return StreamEvent(kind, state, task_id if isinstance(task_id, str) else None, final, body)

