"""Tell an agent where to push: register a config for an existing task, or send a message whose
configuration carries one.

* ``register``: 1.0 ``CreateTaskPushNotificationConfig`` with the flat ``TaskPushNotificationConfig``
  ``{taskId, url, token, authentication{scheme, credentials}}``; 0.x ``tasks/pushNotificationConfig/set``
  with ``{taskId, pushNotificationConfig{url, token, authentication{schemes[], credentials}}}`` (spec
  v1.0 §9.4 and §4.3.2; v0.3.0 §7.5). Over HTTP+JSON: 1.0 ``POST {url}[/{tenant}]/tasks/{id}/
  pushNotificationConfigs`` with the same flat config (v1.0 §11); 0.3 ``POST {url}/v1/tasks/{id}/
  pushNotificationConfigs`` with ``{parent: "tasks/{id}", config: {name, pushNotificationConfig}}``,
  the ``CreateTaskPushNotificationConfigRequest`` of v0.3.0 ``specification/grpc/a2a.proto`` as
  a2a-sdk's 0.3 REST client sends it. (These routes are not in ``protocol.versions``' tables, which
  list the operations every command uses.)
* ``send_with_push``: ``SendMessage`` with the config in ``configuration.taskPushNotificationConfig``
  (1.0), ``configuration.pushNotificationConfig`` (0.x JSON-RPC) or ``configuration.pushNotification``
  (0.3 HTTP+JSON, v0.3.0 ``specification/grpc/a2a.proto``), asking the agent to return at once
  (``returnImmediately`` / ``blocking: false``) so the pushes carry the task's progress.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from a2actl.core.errors import UsageError
from a2actl.protocol.events import PartSpec, message_params, result_state
from a2actl.protocol.versions import (
    BINDING_HTTP_JSON,
    BINDING_JSONRPC,
    Family,
    StateKind,
    join_url,
    rest_path,
    state_kind,
)
from a2actl.push.checks import PushConfig

if TYPE_CHECKING:
    from a2actl.transport.a2a import A2AClient


def _config_id(result: Any) -> str | None:
    """The config id in a create/set answer of either family."""
    if not isinstance(result, dict):
        return None
    inner = result.get("pushNotificationConfig")
    got = (inner if isinstance(inner, dict) else result).get("id")
    return got if isinstance(got, str) else None


async def ended_state(client: A2AClient, task_id: str) -> str | None:
    """The terminal state (canonical name, e.g. ``completed``) of ``task_id`` when GetTask says it
    already ended, else ``None``: an ended task gets no pushes, so watching it would only wait for
    ``--max-time``. Any error answer is ``None`` too (the registration that follows reports it).
    Raises the transport's errors (3/4/5)."""
    out = await client.call("GetTask", {"id": task_id})
    if out.error is not None:
        return None
    _, _, state = result_state(out.result)
    return state if state and state_kind(state) is StateKind.TERMINAL else None


async def register(client: A2AClient, task_id: str, config: PushConfig) -> dict[str, Any]:
    """Register ``config`` for ``task_id`` with the version's method. Returns ``{"method", "taskId",
    "configId"}`` (no secret). Raises ``UsageError`` (exit 2) on a binding other than JSON-RPC and
    HTTP+JSON, the A2A error as ``A2AError`` (exit 1; -32003 PushNotificationNotSupportedError when the
    agent has no push) or ``AuthError`` (4), ``ProtocolViolation`` (6) for a success answer that is
    not JSON or (HTTP+JSON) a 404/405 no A2A server wrote (``NoSuchRoute``), ``HTTPStatusError`` (1)
    for another HTTP error, and the transport's errors (3/4/5)."""
    if client.binding == BINDING_HTTP_JSON:
        return await _register_rest(client, task_id, config)
    if client.binding != BINDING_JSONRPC:
        raise UsageError(
            f"--register speaks JSON-RPC and HTTP+JSON; the negotiated interface is {client.binding}",
            hint="add --binding JSONRPC (or use --send)",
        )
    params = config.config_json(client.family, task_id, reveal=True)
    outcome = await client.call("CreateTaskPushNotificationConfig", params)
    if outcome.error is not None:
        raise outcome.error.to_exception(outcome.method)
    return {"method": outcome.method, "taskId": task_id, "configId": _config_id(outcome.result)}


async def _register_rest(client: A2AClient, task_id: str, config: PushConfig) -> dict[str, Any]:
    """``register`` over HTTP+JSON (module docstring). The task id is one percent-encoded path
    segment (``rest_path``: ``/``, ``?``, ``#``, ``.`` and ``..`` included)."""
    from a2actl.core.errors import ProtocolViolation
    from a2actl.protocol.jsondoc import parse as parse_json
    from a2actl.transport.a2a import rest_error

    if client.family is Family.V1_0:
        tenant = client.selection.interface.tenant
        path = (f"/{tenant}" if tenant else "") + rest_path("/tasks/{id}/pushNotificationConfigs", task_id)
        body: dict[str, Any] = config.config_json(Family.V1_0, task_id, reveal=True)
    else:
        path = rest_path("/v1/tasks/{id}/pushNotificationConfigs", task_id)
        inner = config.config_json(client.family, reveal=True)["pushNotificationConfig"]
        body = {
            "parent": f"tasks/{task_id}",
            "config": {"name": f"tasks/{task_id}/pushNotificationConfigs/", "pushNotificationConfig": inner},
        }
    url = join_url(client.url, path)
    method = f"POST {path}"
    res = await client.transport.request("POST", url, json_body=body, headers=client.headers())
    try:
        parsed = parse_json(res.body, res.url) if res.body.strip() else None
    except (ValueError, UnicodeDecodeError):
        parsed = None
    if res.status >= 400:
        # the A2A error it is; else, as every HTTP+JSON call: a 404/405 no A2A server wrote is
        # NoSuchRoute (6, its hint naming an id that holds "/"), another status the HTTP error (1)
        out = rest_error(
            res, "CreateTaskPushNotificationConfig", method, client.family, client.selection, task_id
        )
        if out.error is not None:  # always: rest_error raises unless it decoded an A2A error
            raise out.error.to_exception(method)
    if not isinstance(parsed, dict):
        raise ProtocolViolation(f"{url}: the {method} answer is not a JSON object")
    return {"method": method, "taskId": task_id, "configId": _config_id(parsed)}


async def send_with_push(
    client: A2AClient, text: str, config: PushConfig
) -> tuple[str | None, dict[str, Any]]:
    """Send ``text`` with ``config`` in the message's configuration (module docstring). Returns the
    task id (``None`` when the agent answered a bare Message: no task, nothing to push) and
    ``{"method", "taskId", "configId": None, "state"}`` (``state``: the task's in the answer, canonical,
    or ``None``). Raises the A2A error as ``A2AError`` (1) / ``AuthError``
    (4) and the transport's errors (3/4/5/6)."""
    params = message_params(
        [PartSpec("text", text=text)],
        client.family,
        client.binding,
        tenant=client.selection.interface.tenant,
        no_wait=True,
    )
    conf = config.config_json(client.family, reveal=True)
    if client.family is Family.V1_0:
        params["configuration"]["taskPushNotificationConfig"] = conf
    elif client.binding == BINDING_HTTP_JSON:
        params["configuration"]["pushNotification"] = conf["pushNotificationConfig"]
    else:
        params["configuration"]["pushNotificationConfig"] = conf["pushNotificationConfig"]
    outcome = await client.call("SendMessage", params)
    if outcome.error is not None:
        raise outcome.error.to_exception(outcome.method)
    kind, task_id, state = result_state(outcome.result)
    tid = task_id if kind == "task" and isinstance(task_id, str) else None
    return tid, {"method": outcome.method, "taskId": tid, "configId": None, "state": state}


__all__ = ["ended_state", "register", "send_with_push"]
