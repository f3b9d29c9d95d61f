"""Tell an agent where to push: register a config for an existing task, or send a message whose
configuration carries one.

* ``register``: 1.0 ``CreateTaskPushNotificationConfig`` with the flat ``TaskPushNotificationConfig``
  ``{taskId, url, token, authentication{scheme, credentials}}``; 0.x ``tasks/pushNotificationConfig/set``
  with ``{taskId, pushNotificationConfig{url, token, authentication{schemes[], credentials}}}`` (spec
  v1.0 §9.4 and §4.3.2; v0.3.0 §7.5). JSON-RPC only: the HTTP+JSON routes for push configs are not in
  ``protocol.versions`` (``--binding JSONRPC`` picks the JSON-RPC interface).
* ``send_with_push``: ``SendMessage`` with the config in ``configuration.taskPushNotificationConfig``
  (1.0), ``configuration.pushNotificationConfig`` (0.x JSON-RPC) or ``configuration.pushNotification``
  (0.3 HTTP+JSON, v0.3.0 ``specification/grpc/a2a.proto``), asking the agent to return at once
  (``returnImmediately`` / ``blocking: false``) so the pushes carry the task's progress.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from a2actl.core.errors import UsageError
from a2actl.protocol.events import PartSpec, message_params, result_state
from a2actl.protocol.versions import BINDING_HTTP_JSON, BINDING_JSONRPC, Family
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


async def register(client: A2AClient, task_id: str, config: PushConfig) -> dict[str, Any]:
    """Register ``config`` for ``task_id`` with the version's method. Returns ``{"method", "taskId",
    "configId"}`` (no secret). Raises ``UsageError`` (exit 2) on an HTTP+JSON interface, the A2A
    error as ``A2AError`` (exit 1; -32003 PushNotificationNotSupportedError when the agent has no push)
    or ``AuthError`` (4), and the transport's errors (3/4/5/6)."""
    if client.binding != BINDING_JSONRPC:
        raise UsageError(
            f"--register speaks JSON-RPC; the negotiated interface is {client.binding}",
            hint="add --binding JSONRPC (or use --send, which works on every binding)",
        )
    params = config.config_json(client.family, task_id, reveal=True)
    outcome = await client.call("CreateTaskPushNotificationConfig", params)
    if outcome.error is not None:
        raise outcome.error.to_exception(outcome.method)
    return {"method": outcome.method, "taskId": task_id, "configId": _config_id(outcome.result)}


async def send_with_push(
    client: A2AClient, text: str, config: PushConfig
) -> tuple[str | None, dict[str, Any]]:
    """Send ``text`` with ``config`` in the message's configuration (module docstring). Returns the
    task id (``None`` when the agent answered a bare Message: no task, nothing to push) and
    ``{"method", "taskId", "configId": None}``. Raises the A2A error as ``A2AError`` (1) / ``AuthError``
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
    kind, task_id, _ = result_state(outcome.result)
    tid = task_id if kind == "task" and isinstance(task_id, str) else None
    return tid, {"method": outcome.method, "taskId": tid, "configId": None}


__all__ = ["register", "send_with_push"]
