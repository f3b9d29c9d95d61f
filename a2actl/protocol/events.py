"""Message construction and stream-event classification for 0.x and 1.0.

Shapes (v1.0 ``specification/a2a.proto`` ``Message``, ``Part``, ``StreamResponse``; v0.3.0
``specification/json/a2a.json`` for JSON-RPC and ``specification/grpc/a2a.proto`` for HTTP+JSON): 0.x JSON-RPC messages carry ``kind`` and lower-case roles; 1.0 uses
ProtoJSON (``ROLE_USER``, parts as ``{"text": ...}``); 0.3 HTTP+JSON uses v0.3 proto JSON (parts field
``content``). Stream events: 0.3 ``result`` objects with ``kind`` in ``task | message | status-update |
artifact-update`` and ``final: true`` on the last; 1.0 ``StreamResponse`` wrappers ``{task | message |
statusUpdate | artifactUpdate}`` (v0.3 proto names the message member ``msg``), the stream closing on a
terminal or interrupted state.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, NamedTuple

from a2actl.protocol.versions import (
    BINDING_HTTP_JSON,
    TASK_STATES,
    Family,
    StateKind,
    canonical_state,
    state_kind,
)


def text_message_params(
    text: str,
    family: Family,
    binding: str,
    *,
    message_id: str | None = None,
    context_id: str | None = None,
    tenant: str | None = None,
) -> dict[str, Any]:
    """``SendMessage`` params (1.0 ``SendMessageRequest`` / 0.x ``MessageSendParams``) with one text part.

    0.x params say ``configuration.blocking: true`` (see ``message_params``): a 0.3 agent may read a
    missing value as non-blocking and answer ``submitted`` to a call that waits for the end."""
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
    if family is not Family.V1_0:
        params["configuration"] = {"blocking": True}
    return params


class StreamEvent(NamedTuple):
    """One classified event. ``kind`` is ``task``, ``message``, ``status-update`` or ``artifact-update``
    (``unknown`` when unrecognised); ``state`` the canonical task state it carries, if any; ``final``
    true when the event ends the stream by the family's rule. (A NamedTuple: one is built per event.)"""

    kind: str
    state: str | None
    task_id: str | None
    final: bool
    payload: dict[str, Any]


_SETTLED = (StateKind.TERMINAL, StateKind.INTERRUPTED)
_V1_KEYS = {
    "task": "task",
    "message": "message",
    "msg": "message",
    "statusUpdate": "status-update",
    "artifactUpdate": "artifact-update",
}
#: The two wire spellings of each known state (0.x ``working``, 1.0 ``TASK_STATE_WORKING``;
#: ``versions.TASK_STATES``) → (canonical name, whether it settles a 1.0 stream): one lookup per event
#: instead of ``canonical_state`` then ``state_kind``. Any other spelling takes those two calls.
_STATE_INFO: dict[str, tuple[str, bool]] = {
    spelling: (name, kind in _SETTLED)
    for name, (v0, v1, kind) in TASK_STATES.items()
    for spelling in (v0, v1)
}
_new_event = tuple.__new__  # StreamEvent(...) without the NamedTuple's Python-level __new__

#: A ``StreamEvent``'s fields as a plain tuple, ``(kind, state, task_id, final, payload)``: what
#: ``classify_fields`` returns for the batch path of ``stream tail`` (``transport.channel.EventTuple``),
#: where a ``NamedTuple`` per event (``tuple.__new__`` for a subclass: a copy of the fields and a
#: GC-tracked object) cost ~2k of its ~50k CPU instructions an event (``bench/stream_throughput.py``).
#: A ``StreamEvent`` is one too; code that reads them unpacks positionally.
EventFields = tuple[str, "str | None", "str | None", bool, "dict[str, Any]"]


def classify_event(result: Any) -> StreamEvent:
    """Classify a stream event (the JSON-RPC ``result`` or a bare HTTP+JSON ``StreamResponse``):
    ``classify_fields``'s rules, as a ``StreamEvent``. Never raises."""
    return _new_event(StreamEvent, classify_fields(result))


def classify_fields(result: Any) -> EventFields:
    """Classify a stream event (the JSON-RPC ``result`` or a bare HTTP+JSON ``StreamResponse``) as
    a plain tuple of ``StreamEvent``'s fields (``EventFields``).

    A bare Message ends the stream in both families; 0.3 ends on ``final: true``; 1.0 on a terminal
    or interrupted state (spec v1.0 §11.7). Never raises: an unrecognised object is ``kind="unknown"``.
    ``state`` is the canonical name (``unknown`` for a ``status`` without a known ``state``).

    The per-event path of ``stream tail`` (100k events a second): one dict lookup for the state's
    wire spelling, no NamedTuple."""
    if type(result) is not dict:
        return ("unknown", None, None, False, {})
    v0 = "kind" in result
    if v0:  # 0.x
        kind = str(result["kind"])
        body = result
    else:
        for key in result:
            kind = _V1_KEYS.get(key)  # type: ignore[assignment]
            if kind is not None:
                break
        else:
            return ("unknown", None, None, False, result)
        body = result[key]
        if type(body) is not dict:
            body = {}
    status = body.get("status")
    settled = False
    if type(status) is dict and status:
        raw = status.get("state")
        info = _STATE_INFO.get(raw) if type(raw) is str else None
        if info is not None:
            state: str | None = info[0]
            settled = info[1]
        else:
            state = canonical_state(raw)
            settled = state_kind(state) in _SETTLED
    else:
        state = None
    task_id = body.get("taskId") or (body.get("id") if kind == "task" else None)
    if v0:
        final = bool(result.get("final")) or kind == "message"
    else:
        final = kind == "message" or (settled and kind != "task")
    return (kind, state, task_id if type(task_id) is str else None, final, body)


@dataclass(frozen=True)
class PartSpec:
    """One message part to send: ``kind`` ``text`` (``text``), ``data`` (``data``: any JSON) or
    ``file`` (``raw`` bytes with ``media_type`` and ``filename``)."""

    kind: str
    text: str | None = None
    data: Any = None
    raw: bytes | None = None
    media_type: str | None = None
    filename: str | None = None


def _part(p: PartSpec, family: Family, binding: str) -> dict[str, Any]:
    """A part on the wire: 1.0 ``Part`` oneof (``text``/``data``/``raw``, spec v1.0 §4.1.6); 0.3
    JSON-RPC ``TextPart``/``DataPart``/``FilePart`` with ``kind``; 0.3 HTTP+JSON proto JSON
    (``text``, ``data.data``, ``file.fileWithBytes``; v0.3.0 ``specification/grpc/a2a.proto`` ``Part``)."""
    import base64

    b64 = base64.b64encode(p.raw).decode("ascii") if p.raw is not None else None
    if family is Family.V1_0:
        if p.kind == "text":
            return {"text": p.text}
        if p.kind == "data":
            return {"data": p.data}
        out: dict[str, Any] = {"raw": b64}
        if p.media_type:
            out["mediaType"] = p.media_type
        if p.filename:
            out["filename"] = p.filename
        return out
    if binding == BINDING_HTTP_JSON:
        if p.kind == "text":
            return {"text": p.text}
        if p.kind == "data":
            return {"data": {"data": p.data}}
        f: dict[str, Any] = {"fileWithBytes": b64}
        if p.media_type:
            f["mimeType"] = p.media_type
        if p.filename:
            f["name"] = p.filename
        return {"file": f}
    if p.kind == "text":
        return {"kind": "text", "text": p.text}
    if p.kind == "data":
        return {"kind": "data", "data": p.data}
    f = {"bytes": b64}
    if p.media_type:
        f["mimeType"] = p.media_type
    if p.filename:
        f["name"] = p.filename
    return {"kind": "file", "file": f}


def message_params(
    parts: list[PartSpec],
    family: Family,
    binding: str,
    *,
    message_id: str | None = None,
    context_id: str | None = None,
    task_id: str | None = None,
    tenant: str | None = None,
    no_wait: bool = False,
) -> dict[str, Any]:
    """``SendMessage`` params for any family and binding. ``no_wait`` asks the agent to return at
    once: ``configuration.returnImmediately`` (1.0) or ``configuration.blocking: false`` (0.x; the
    senses are inverted: v1.0 ``SendMessageConfiguration.return_immediately``, v0.3.0
    ``MessageSendConfiguration.blocking``). Without it a 0.x send says ``configuration.blocking: true``
    explicitly: the field is optional in 0.3 (``MessageSendConfiguration.blocking``) and a2a-sdk 0.3's
    HTTP+JSON binding reads a missing one as non-blocking (the ``sdk03-rest`` agent of ``docs/interop.md``), where 1.0's
    ``returnImmediately`` defaults to false (blocking) everywhere. ``message_id`` is the idempotency
    key (a new UUID if None)."""
    params = text_message_params(
        "", family, binding, message_id=message_id, context_id=context_id, tenant=tenant
    )
    msg = params["message"]
    key = "content" if family is not Family.V1_0 and binding == BINDING_HTTP_JSON else "parts"
    msg[key] = [_part(p, family, binding) for p in parts]
    if task_id:
        msg["taskId"] = task_id
    if family is Family.V1_0:
        if no_wait:
            params["configuration"] = {"returnImmediately": True}
    else:
        params["configuration"] = {"blocking": not no_wait}
    return params


def part_texts(parts: Any) -> list[str]:
    """Human text of parts of any shape: text parts as is, data parts as compact JSON, files by name."""
    import json

    out: list[str] = []
    for p in parts if isinstance(parts, list) else []:
        if not isinstance(p, dict):
            continue
        if isinstance(p.get("text"), str):
            out.append(p["text"])
        elif "data" in p:
            d = p["data"]
            out.append(
                json.dumps(
                    d.get("data", d) if isinstance(d, dict) and set(d) == {"data"} else d, ensure_ascii=False
                )[:500]
            )
        elif "file" in p or "raw" in p or "url" in p:
            file_val = p.get("file")
            f: dict[str, Any] = file_val if isinstance(file_val, dict) else p
            out.append(
                f"[file {f.get('name') or f.get('filename') or f.get('uri') or f.get('url') or ''}]".strip()
            )
    return out


def status_text(status: Any) -> str | None:
    """The human text of a ``TaskStatus``'s message (``part_texts`` of its parts, one per line), or
    ``None`` when it has none. ``status`` as any family sends it: ``message`` with ``parts`` (1.0,
    0.3 JSON-RPC) or v0.3 proto JSON's ``update`` with ``content`` (0.3 HTTP+JSON). Never raises."""
    if not isinstance(status, dict):
        return None
    smsg = status.get("message")
    if not isinstance(smsg, dict):
        smsg = status.get("update")  # v0.3 proto JSON names it `update`
        if not isinstance(smsg, dict):
            return None
    return "\n".join(part_texts(smsg.get("parts") or smsg.get("content"))) or None


def reason_outside_status(task: Any) -> dict[str, str] | None:
    """The agent's word on a task's end when its status message has none, from ``task`` (a ``Task``
    of any family, as GetTask answers it): ``{"text", "from": "history"}``, the text of the last
    agent message of its ``history``; else ``{"text", "from": "artifact", "artifact"}``, the text of
    its last artifact that has any (``artifact``: its name, else its id); ``None`` when neither has
    text. Never raises."""
    if not isinstance(task, dict):
        return None
    history = task.get("history")
    for message in reversed(history if isinstance(history, list) else []):
        if isinstance(message, dict) and "agent" in str(message.get("role", "")).lower():
            text = "\n".join(part_texts(message.get("parts") or message.get("content")))
            if text:
                return {"text": text, "from": "history"}
    artifacts = task.get("artifacts")
    for art in reversed(artifacts if isinstance(artifacts, list) else []):
        if isinstance(art, dict):
            text = "".join(part_texts(art.get("parts") or art.get("content")))
            if text:
                name = art.get("name") or art.get("artifactId")
                return {"text": text, "from": "artifact", "artifact": str(name) if name is not None else ""}
    return None


def task_view(result: Any) -> dict[str, Any]:
    """Summarise a SendMessage / GetTask / CancelTask result of any family: ``{"kind": "task" |
    "message", "id", "contextId", "state" (canonical), "statusMessage", "artifacts": [{"artifactId",
    "name", "text"}], "historyLength", "text" (a bare Message's text)}``. Never raises."""
    if not isinstance(result, dict):
        return {"kind": "unknown"}
    body: Any = result
    kind = result.get("kind")
    if kind is None:
        for key, k in (("task", "task"), ("message", "message"), ("msg", "message")):
            if isinstance(result.get(key), dict):
                body, kind = result[key], k
                break
        else:
            kind = "task" if "status" in result else "unknown"
    if kind == "message":
        return {
            "kind": "message",
            "id": body.get("messageId"),
            "contextId": body.get("contextId"),
            "taskId": body.get("taskId"),
            "state": None,
            "text": "\n".join(part_texts(body.get("parts") or body.get("content"))),
        }
    status = body.get("status") if isinstance(body.get("status"), dict) else {}
    artifacts = []
    for a in body.get("artifacts") or []:
        if isinstance(a, dict):
            artifacts.append(
                {
                    "artifactId": a.get("artifactId"),
                    "name": a.get("name"),
                    "text": "".join(part_texts(a.get("parts") or a.get("content"))),
                }
            )
    return {
        "kind": "task",
        "id": body.get("id"),
        "contextId": body.get("contextId"),
        "state": canonical_state(status.get("state")) if status.get("state") else None,
        "statusMessage": status_text(status),
        "artifacts": artifacts,
        "historyLength": len(body.get("history") or []),
    }


def result_state(result: Any) -> tuple[str, str | None, str | None]:
    """``(kind, id, state)`` of a SendMessage / GetTask result of any family, as ``task_view`` reads
    them (``kind`` ``task`` | ``message``, ``unknown`` for a non-object; ``state`` canonical or
    ``None``), without
    building the rest of the view: the per-request path of ``load run``. Never raises."""
    if not isinstance(result, dict):
        return "unknown", None, None
    body: Any = result
    kind = result.get("kind")
    if kind is None:
        task = result.get("task")
        if isinstance(task, dict):
            body, kind = task, "task"
        elif isinstance(result.get("message"), dict) or isinstance(result.get("msg"), dict):
            return "message", None, None
    if kind == "message":
        return "message", None, None
    status = body.get("status")
    state = status.get("state") if isinstance(status, dict) else None
    return "task", body.get("id"), canonical_state(state) if state else None


def result_shape_error(operation: str, result: Any) -> str | None:
    """Why ``result`` is not a response of ``operation``, or ``None`` when its shape fits.

    The minimum every family shares (spec v1.0 §3.1 / v0.3.0 §7): ``SendMessage`` answers a Task or a
    Message (a Task has a string ``id`` and a ``status.state``; a Message a string ``messageId``);
    ``GetTask``/``CancelTask`` answer a Task; ``ListTasks`` an object with a ``tasks`` list. Other
    operations are not checked. Field-level validation is ``caps validate``'s job, not this one's."""
    if operation in ("SendMessage", "GetTask", "CancelTask"):
        view = task_view(result)
        if view["kind"] == "message" and operation == "SendMessage":
            return (
                None if isinstance(view.get("id"), str) and view["id"] else "is a Message without a messageId"
            )
        if view["kind"] != "task":
            return "is neither a Task nor a Message" if operation == "SendMessage" else "is not a Task"
        if not isinstance(view.get("id"), str) or not view["id"]:
            return "is a Task without an id"
        if not view.get("state") or view["state"] == "unknown":
            return "is a Task without a known status.state"
        return None
    if operation == "ListTasks":
        if not isinstance(result, dict) or not isinstance(result.get("tasks", []), list):
            return "is not a ListTasksResponse (an object with a tasks list)"
        # ProtoJSON leaves an empty ``tasks`` out, so an object without it is an empty page; but
        # not one with members no ListTasksResponse has (a Task: ``id``, ``status``, ``task``),
        # which was read as no tasks at all (exit 0)
        strangers = sorted(str(k) for k in result if k not in _LIST_TASKS_FIELDS)
        if "tasks" not in result and strangers:
            return (
                "is not a ListTasksResponse: no tasks list, and members a ListTasksResponse does not "
                f"have ({', '.join(strangers[:5])})"
            )
    return None


#: The members of an A2A 1.0 ``ListTasksResponse`` (ProtoJSON names).
_LIST_TASKS_FIELDS = frozenset({"tasks", "nextPageToken", "pageSize", "totalSize"})


def other_task_answer(asked: str, view: dict[str, Any]) -> str | None:
    """The id of the task an answer about task ``asked`` (a GetTask / CancelTask result, as
    ``task_view`` summarises it) is really about, when that is another task; ``None`` when it is
    ``asked`` or the answer is no task with a string id (the result-shape check's business). An
    agent, or a cache or proxy in front of it, that answers for another task says nothing about
    this one: its state must not be reported as this task's."""
    if view.get("kind") != "task":
        return None
    got = view.get("id")
    return got if isinstance(got, str) and got != asked else None
