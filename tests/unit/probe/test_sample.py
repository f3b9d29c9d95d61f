"""One timed handshake (``one_sample``) and the version diagnosis (``version_check``) against an agent
simulated with ``httpx.MockTransport``: phases, the healthy first RPC, the session handshake, a
blocking send, and how failures are classed."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from a2actl.agent.target import Target
from a2actl.core.config import Settings
from a2actl.probe.handshake import version_check
from a2actl.probe.report import ProbeOptions, Sample
from a2actl.probe.sample import error_class, one_sample, session_url
from a2actl.protocol.card import Interface
from a2actl.protocol.negotiation import Selection
from a2actl.protocol.versions import Family
from a2actl.transport.http import HttpTransport

ORIGIN = "http://127.0.0.1:9"
CARD_URL = ORIGIN + "/.well-known/agent-card.json"
RPC_URL = ORIGIN + "/a2a"
CARD = {
    "name": "Mock",
    "description": "a mock agent",
    "version": "1",
    "supportedInterfaces": [{"url": RPC_URL, "protocolBinding": "JSONRPC", "protocolVersion": "1.0"}],
    "capabilities": {"streaming": False},
    "defaultInputModes": ["text/plain"],
    "defaultOutputModes": ["text/plain"],
    "skills": [],
}
CARD_BYTES = json.dumps(CARD).encode()
NOT_FOUND = {"code": -32001, "message": "Task not found"}
VERSION = {"code": -32009, "message": "version not supported"}

Handler = Callable[[httpx.Request], httpx.Response]


def agent(
    rpc: Callable[[str, dict[str, Any], httpx.Request], dict[str, Any]], card_status: int = 200
) -> Handler:
    """A handler serving ``CARD`` and answering JSON-RPC with ``rpc(method, params, request)``'s member."""

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/.well-known/agent-card.json":
            return httpx.Response(
                card_status, content=CARD_BYTES, headers={"Content-Type": "application/json"}
            )
        if request.url.path == "/hs":
            return httpx.Response(200, json={"sessionId": "s1", "sessionToken": "tok-123", "expiresIn": 5})
        body = json.loads(request.content)
        return httpx.Response(
            200, json={"jsonrpc": "2.0", "id": body["id"], **rpc(body["method"], body["params"], request)}
        )

    return handle


def probe(handler: Handler, **opts: Any) -> Sample:
    async def go() -> Sample:
        settings = Settings()
        async with HttpTransport(settings, http_transport=httpx.MockTransport(handler)) as tr:
            return await one_sample(
                0, tr, CARD_URL, ProbeOptions(Target("base_url", ORIGIN), **opts), settings
            )

    return asyncio.run(go())


def test_healthy_handshake_times_every_phase_and_reads_task_not_found_as_healthy() -> None:
    s = probe(agent(lambda method, params, req: {"error": NOT_FOUND}))
    assert s.ok and s.failed_phase is None and s.error is None
    assert list(s.phases) == ["dns", "connect", "tls", "ttfb", "transfer", "parse", "negotiate", "rpc"]
    assert all(v >= 0 for v in s.phases.values())
    assert s.card_bytes is not None and s.card_bytes.decoded == len(CARD_BYTES)
    assert s.negotiated is not None and s.negotiated.to_json() == {
        "url": RPC_URL,
        "protocolBinding": "JSONRPC",
        "protocolVersion": "1.0",
    }
    assert s.rpc is not None and s.rpc["method"] == "GetTask" and s.rpc["healthy"] is True
    assert s.rpc["meaning"] == "TaskNotFound for a random id: routing, version and auth work"
    assert "wallSeconds" in s.rpc


def test_session_handshake_and_blocking_send() -> None:
    seen: list[str] = []

    def rpc(method: str, params: dict[str, Any], req: httpx.Request) -> dict[str, Any]:
        seen.append(method)
        if method == "SendMessage":
            return {
                "result": {
                    "task": {"id": "t1", "contextId": "c1", "status": {"state": "TASK_STATE_COMPLETED"}}
                }
            }
        return {"error": NOT_FOUND}

    s = probe(agent(rpc), send_text="hi", handshake_path="hs")
    assert s.ok, s.error
    assert seen == ["GetTask", "SendMessage"]
    assert s.session is not None
    assert s.session.to_json() == {
        "url": ORIGIN + "/hs",
        "status": 200,
        "tokenIssued": True,
        "response": {"sessionId": "s1", "sessionToken": "***", "expiresIn": 5},
    }
    assert s.send is not None and s.send.to_json() == {
        "method": "SendMessage",
        "streaming": False,
        "events": 1,
        "finalState": "completed",  # normalised from TASK_STATE_COMPLETED
        "statusMessage": None,
    }
    assert s.phases["terminal"] == 0.0 and "session" in s.phases


def test_version_error_on_the_first_rpc_fails_the_sample_in_the_rpc_phase() -> None:
    s = probe(agent(lambda method, params, req: {"error": VERSION}))
    assert not s.ok and s.failed_phase == "rpc" and s.error_class == "a2a_error"
    assert s.error is not None and s.error["a2aCode"] == -32009


def test_card_http_error_fails_the_sample_in_the_card_phase() -> None:
    s = probe(agent(lambda method, params, req: {"error": NOT_FOUND}, card_status=503))
    assert (s.ok, s.failed_phase, s.error_class) == (False, "card", "http_status")
    assert s.error is not None and s.error["message"] == f"{CARD_URL} answered HTTP 503 Service Unavailable"


def test_version_check_retries_in_the_other_family_and_concludes() -> None:
    def rpc(method: str, params: dict[str, Any], req: httpx.Request) -> dict[str, Any]:
        return {"error": NOT_FOUND if method == "tasks/get" else VERSION}  # speaks only 0.3

    iface = Interface(RPC_URL, "JSONRPC", "1.0", Family.V1_0, "supportedInterfaces[0]", None)
    failed = [Sample(0, ok=False, failed_phase="rpc", error={"code": "a2a_error", "a2aCode": -32009})]

    async def go() -> Any:
        async with HttpTransport(Settings(), http_transport=httpx.MockTransport(agent(rpc))) as tr:
            return await version_check(tr, Selection(iface, Family.V1_0, "r"), failed)

    check = asyncio.run(go())
    assert check is not None and check.to_json() == {
        "sent": "1.0",
        "retriedAs": "0.3",
        "retryOk": True,
        "conclusion": f"{RPC_URL} answers 0.3 but not 1.0",
    }


def test_error_class_and_session_url() -> None:
    from a2actl.core.errors import A2ACtlError, NoSuchRoute, TimeoutError_

    assert error_class(TimeoutError_("slow")) == "timeout"
    assert error_class(NoSuchRoute("no route")) == "protocol"  # classed by its exit code, 6
    assert error_class(A2ACtlError("anything")) == "error"
    assert session_url("https://h:8443/.well-known/agent-card.json?x=1", "a2a/hs") == "https://h:8443/a2a/hs"


def _failing_rpc(fail: Callable[[httpx.Request], httpx.Response]) -> tuple[Handler, list[str]]:
    """``agent`` whose JSON-RPC request gets ``fail(request)`` (or raises), recording the
    ``traceparent`` each request arrived with."""
    seen: list[str] = []
    ok = agent(lambda m, p, r: {"error": NOT_FOUND})

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["traceparent"])
        if request.url.path == "/a2a":
            return fail(request)
        return ok(request)

    return handle, seen


def _read_timeout(request: httpx.Request) -> httpx.Response:
    raise httpx.ReadTimeout("timed out", request=request)


def _bad_gateway(request: httpx.Request) -> httpx.Response:
    return httpx.Response(502, content=b"<html>bad gateway</html>")


def _garbage(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, content=b"\x00\xffnot json", headers={"Content-Type": "application/json"})


@pytest.mark.parametrize(
    ("fail", "error_class"),
    [(_read_timeout, "timeout"), (_bad_gateway, "http_status"), (_garbage, "protocol")],
)
def test_a_failed_rpc_keeps_the_traceparent_the_agent_received(
    fail: Callable[[httpx.Request], httpx.Response], error_class: str
) -> None:
    handler, seen = _failing_rpc(fail)
    s = probe(handler)
    assert (s.ok, s.failed_phase, s.error_class) == (False, "rpc", error_class)
    # the card's and the RPC's: the span ids an OTLP trace gives them, and the agent's parents
    assert [s.traceparents["card"], s.traceparents["rpc"]] == seen


def test_an_rpc_cancelled_by_a_deadline_keeps_its_traceparent_and_phase() -> None:
    from a2actl.core.deadline import within
    from a2actl.probe.sample import watch_samples

    seen: list[str] = []
    ok = agent(lambda m, p, r: {"error": NOT_FOUND})

    async def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["traceparent"])
        if request.url.path == "/a2a":
            await asyncio.sleep(30)
        return ok(request)

    async def go() -> Sample | None:
        settings = Settings()
        async with HttpTransport(settings, http_transport=httpx.MockTransport(handle)) as tr:
            with watch_samples() as watch:
                opts = ProbeOptions(Target("base_url", ORIGIN))
                with pytest.raises(asyncio.TimeoutError):
                    await within(one_sample(0, tr, CARD_URL, opts, settings), 0.2)
            return watch.sample

    s = asyncio.run(go())
    assert s is not None and s.failed_phase == "rpc" and {"parse", "negotiate"} <= set(s.phases)
    assert [s.traceparents["card"], s.traceparents["rpc"]] == seen


#: A 0.3 streaming card (JSON-RPC at ``RPC_URL``).
CARD_03 = {
    "name": "Mock 0.3",
    "description": "a mock 0.3 agent",
    "version": "1",
    "protocolVersion": "0.3.0",
    "url": RPC_URL,
    "preferredTransport": "JSONRPC",
    "capabilities": {"streaming": True},
    "defaultInputModes": ["text/plain"],
    "defaultOutputModes": ["text/plain"],
    "skills": [],
}


def stream_03(events: list[dict[str, Any]]) -> Handler:
    """A 0.3 agent: ``CARD_03``, ``tasks/get`` TaskNotFound, ``message/stream`` the ``events`` as SSE."""

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/.well-known/agent-card.json":
            return httpx.Response(200, json=CARD_03)
        body = json.loads(request.content)
        if body["method"] != "message/stream":
            return httpx.Response(200, json={"jsonrpc": "2.0", "id": body["id"], "error": NOT_FOUND})
        sse = "".join(
            "data: " + json.dumps({"jsonrpc": "2.0", "id": body["id"], "result": e}) + "\n\n" for e in events
        )
        return httpx.Response(200, content=sse.encode(), headers={"Content-Type": "text/event-stream"})

    return handle


def _update(state: str, final: bool, task_id: str = "t1") -> dict[str, Any]:
    return {
        "kind": "status-update",
        "taskId": task_id,
        "contextId": "c1",
        "status": {"state": state},
        "final": final,
    }


TASK_03 = {"kind": "task", "id": "t1", "contextId": "c1", "status": {"state": "submitted"}}


@pytest.mark.parametrize(
    ("events", "why"),
    [
        # `final: true` on a state that does not end the task: the stream ends, the task does not
        ([TASK_03, _update("working", True)], "final-not-terminal: final: true on state working"),
        # the `final` event is another task's
        (
            [TASK_03, _update("working", False), _update("completed", True, "t2")],
            "other-task: status-update event for task t2, the stream is for t1",
        ),
    ],
)
def test_a_streamed_send_that_ends_without_its_tasks_end_fails_the_sample(
    events: list[dict[str, Any]], why: str
) -> None:
    """0.3 ``--send`` streams whose ``final: true`` event is not the task's end: the sample was ok
    (``finalState`` ``working`` / ``completed``, the terminal phase measured); now a protocol
    violation in the ``terminal`` phase, as ``stream tail`` reads them (exit 6)."""
    s = probe(stream_03(events), send_text="hi")
    assert not s.ok and s.error_class == "protocol" and s.failed_phase == "terminal"
    assert s.error is not None and s.error["message"].endswith(why), s.error
    assert s.send is None and "terminal" not in s.phases


def test_a_blocking_send_that_failed_names_the_agents_reason() -> None:
    """A blocking ``--send`` answered by a failed task whose status message holds the reason (a text
    and a data part): the sample fails (check_failed) and says why, as ``send`` shows it; the
    error said only 'ended failed'."""
    failed = {
        "state": "TASK_STATE_FAILED",
        "message": {"messageId": "m", "role": "ROLE_AGENT", "parts": [{"text": "quota"}, {"data": {"n": 1}}]},
    }

    def rpc(method: str, params: dict[str, Any], req: httpx.Request) -> dict[str, Any]:
        if method == "SendMessage":
            return {"result": {"task": {"id": "t1", "contextId": "c1", "status": failed}}}
        return {"error": NOT_FOUND}

    s = probe(agent(rpc), send_text="hi")
    assert not s.ok and s.error_class == "check_failed" and s.error is not None
    assert s.send is not None and s.send.status_message == 'quota\n{"n": 1}'
    assert s.error["message"].startswith('the --send task ended failed (the agent said: quota\n{"n": 1})')


def test_a_streamed_03_send_that_ends_with_final_on_its_end_is_healthy() -> None:
    s = probe(stream_03([TASK_03, _update("working", False), _update("completed", True)]), send_text="hi")
    assert s.ok, s.error
    assert s.send is not None and s.send.to_json() == {
        "method": "message/stream",
        "streaming": True,
        "events": 3,
        "finalState": "completed",
        "statusMessage": None,
    }
    assert "terminal" in s.phases
