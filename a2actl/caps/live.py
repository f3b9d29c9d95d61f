"""``caps validate --live``: declared capabilities the endpoint contradicts.

Side-effect-free probes only, each on a random task id, over the interface a2actl would pick
(``select_interface``, preferring JSON-RPC because the push-config methods have no HTTP+JSON route
in a2actl's table):

* ``streaming``: ``SubscribeToTask`` / ``tasks/resubscribe``. ``UnsupportedOperationError`` (-32004)
  means streaming is off (spec v1.0 §3.1.2 errors, §3.3.4 capability validation); ``TaskNotFound``
  means the streaming path exists.
* ``pushNotifications``: ``GetTaskPushNotificationConfig`` / ``tasks/pushNotificationConfig/get``.
  ``PushNotificationNotSupportedError`` (-32003) means off.
* ``extendedAgentCard``: ``GetExtendedAgentCard`` / ``agent/getAuthenticatedExtendedCard``.
  -32004/-32007 mean there is none; a card in the result means there is one.
* every declared interface answers its declared version (``a2actl.caps.fingerprint``).

A capability declared true but refused is an ``error`` finding (clients will fail); one declared
false but working is a ``warning`` (clients will not use it).
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from a2actl.caps.endpoints import endpoints_of, probe_endpoint
from a2actl.caps.findings import ERROR, WARNING, Finding
from a2actl.caps.fingerprint import explain
from a2actl.core.errors import A2ACtlError
from a2actl.core.redact import register_url
from a2actl.protocol.negotiation import NegotiationFailed, select_interface
from a2actl.protocol.versions import Family

if TYPE_CHECKING:
    from a2actl.agent.discovery import CardFetch
    from a2actl.transport.http import HttpTransport

_SECTION = "v1.0 §4.4.3 AgentCapabilities; §3.3.4 capability validation"


def _finding(severity: str, capability: str, message: str) -> Finding:
    return Finding(
        "check", severity, f"/capabilities/{capability}", message, _SECTION, check="capability-contradicted"
    )


async def _outcome(
    client: Any, operation: str, params: dict[str, Any], stream: bool = False
) -> tuple[str, str]:
    """``(state, detail)``: ``ok`` (a result that is a JSON object, or a stream's first event),
    ``notfound`` (-32001), ``unsupported`` (-32003/-32004/-32007), ``other`` (anything else, incl.
    transport errors and a result that is no object)."""
    try:
        if stream:
            async for item in client.stream(operation, params):
                err = getattr(item, "error", None)
                if err is None:
                    return "ok", "stream opened"
                return _state(err.code), f"{err.name} {err.code}"
            return "other", "stream closed without an event"
        out = await client.call(operation, params)
    except A2ACtlError as exc:
        return "other", exc.message
    if out.error is None:
        if not isinstance(out.result, dict):
            # a push config and an agent card are JSON objects: a result such as [1, 2, 3] (a
            # catch-all answer) says nothing about the capability
            kind = "null" if out.result is None else type(out.result).__name__
            return "other", f"a result that is not a JSON object ({kind})"
        return "ok", "result"
    return _state(out.error.code), f"{out.error.name} {out.error.code}"


def _state(code: int | None) -> str:
    if code == -32001:
        return "notfound"
    if code in (-32003, -32004, -32007):
        return "unsupported"
    return "other"


async def live_findings(fetched: CardFetch, transport: HttpTransport) -> list[Finding]:
    """Findings for capabilities and interfaces the endpoint contradicts. Never raises for agent
    behaviour; a capability that cannot be checked (auth, transport error) is a warning."""
    from a2actl.transport.a2a import A2AClient

    out: list[Finding] = []
    view = fetched.view
    try:
        sel = select_interface(view, "auto", "JSONRPC")
    except NegotiationFailed:
        try:
            sel = select_interface(view)
        except NegotiationFailed as exc:
            return [
                Finding(
                    "check", WARNING, "", f"--live skipped: {exc}", _SECTION, check="capability-contradicted"
                )
            ]
    # the card's userinfo or credential query values in the URL probed: masked in the findings and -v
    register_url(sel.interface.url)
    client = A2AClient(transport, sel)
    v1 = sel.family is Family.V1_0
    rid = "a2actl-live-" + uuid.uuid4().hex[:12]
    caps = view.capabilities
    probes: list[tuple[str, str, dict[str, Any], bool]] = [
        ("streaming", "SubscribeToTask", {"id": rid}, True),
        (
            "pushNotifications",
            "GetTaskPushNotificationConfig",
            {"taskId": rid, "id": "a2actl"} if v1 else {"id": rid, "pushNotificationConfigId": "a2actl"},
            False,
        ),
        ("extendedAgentCard", "GetExtendedAgentCard", {}, False),
    ]
    table = client.wire.methods if sel.interface.protocol_binding == "JSONRPC" else client.wire.rest
    for capability, operation, params, stream in probes:
        if operation not in table:
            continue
        state, detail = await _outcome(client, operation, params, stream)
        if state == "other" or (capability == "extendedAgentCard" and state == "notfound"):
            out.append(_finding(WARNING, capability, f"could not check {capability}: {operation} → {detail}"))
            continue
        works = state == "ok" if capability == "extendedAgentCard" else state in ("ok", "notfound")
        declared = bool(caps.get(capability))
        if declared and not works:
            out.append(
                _finding(
                    ERROR,
                    capability,
                    f"capabilities.{capability} is true but {operation} answers "
                    f"{detail}: clients relying on it will fail",
                )
            )
        elif not declared and works:
            out.append(
                _finding(
                    WARNING,
                    capability,
                    f"capabilities.{capability} is false but {operation} works "
                    f"({detail}): clients will not use it",
                )
            )
    for ep in endpoints_of(fetched):
        await probe_endpoint(transport, ep)
        for m in explain([ep], None):
            if m.severity == "error":
                out.append(
                    Finding(
                        "check",
                        ERROR,
                        "/supportedInterfaces",
                        f"{m.message} → {m.suggestion}",
                        "v1.0 §4.4.6 AgentInterface; §3.2.6 A2A-Version",
                        check="interface-contradicted",
                    )
                )
    return out
