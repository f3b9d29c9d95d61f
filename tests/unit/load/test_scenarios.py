"""What one request of a load scenario records (a2actl.load.scenarios): ``run_one`` turns a timeout
and every ``A2ACtlError`` into a status and code, ``_settle`` tells a failed task from a success,
and the ``send``/``stream`` scenarios fill the record from the answer. Fake coroutines and a fake
client: no network."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any, cast

import pytest

from a2actl.core.config import Settings
from a2actl.core.errors import (
    A2ACtlError,
    AuthError,
    HTTPStatusError,
    ProtocolViolation,
    StreamCut,
    TimeoutError_,
    UnreachableError,
)
from a2actl.load.metrics import Recorder, RequestRecord
from a2actl.load.scenarios import (
    SCENARIOS,
    Deadlines,
    Messages,
    ScenarioContext,
    _settle,
    build,
    error_code,
    run_one,
)
from a2actl.protocol.events import PartSpec, StreamEvent, message_params
from a2actl.protocol.jsonrpc import DecodedError
from a2actl.protocol.versions import BINDING_HTTP_JSON, BINDING_JSONRPC, Family
from a2actl.transport.a2a import RpcOutcome
from a2actl.transport.channel import OVERSIZE_EVENT, TimedEvent

# --- run_one -------------------------------------------------------------------------------------


def _run(scenario: Any, timeout: float = 5.0, deadlines: bool = False) -> RequestRecord:
    async def go() -> RequestRecord:
        base = time.perf_counter()
        kept = Deadlines(timeout) if deadlines else None
        try:
            return await run_one(scenario, RequestRecord(3, 0.0), base, timeout, kept)
        finally:
            if kept is not None:
                kept.close()

    return asyncio.run(go())


@pytest.mark.parametrize("deadlines", [False, True])
def test_run_one_passes_a_success_through(deadlines: bool) -> None:
    async def fine(rec: RequestRecord, base: float) -> None:
        rec.latency = time.perf_counter() - base
        rec.state = "completed"

    rec = _run(fine, deadlines=deadlines)
    assert (rec.status, rec.code, rec.message, rec.state) == ("ok", None, None, "completed")
    assert rec.latency is not None and rec.latency >= 0


@pytest.mark.parametrize("deadlines", [False, True])
def test_run_one_counts_an_unexpected_exception_instead_of_losing_the_request(deadlines: bool) -> None:
    async def buggy(rec: RequestRecord, base: float) -> None:
        raise RuntimeError("an unmapped library error")

    rec = _run(buggy, deadlines=deadlines)
    assert (rec.status, rec.code) == ("transport-error", "RuntimeError")
    assert rec.message == "unexpected RuntimeError: an unmapped library error"
    assert rec.latency is not None


@pytest.mark.parametrize("deadlines", [False, True])
def test_run_one_records_a_timeout(deadlines: bool) -> None:
    async def stalls(rec: RequestRecord, base: float) -> None:
        await asyncio.sleep(10)
        rec.latency = 10.0  # never reached

    rec = _run(stalls, timeout=0.05, deadlines=deadlines)
    assert (rec.status, rec.code) == ("transport-error", "timeout")
    assert rec.message == "no complete answer within --timeout 0.05s"
    assert rec.latency is not None and 0.05 <= rec.latency < 5  # from the base to the timeout


@pytest.mark.parametrize(
    ("err", "status", "code"),
    [
        (UnreachableError("connection refused"), "transport-error", "unreachable"),
        (HTTPStatusError("HTTP 503", details={"httpStatus": 503}), "http-error", "503"),
        (HTTPStatusError("HTTP 429", details={"httpStatus": 429}), "http-error", "429"),
        (HTTPStatusError("redirect not followed"), "transport-error", "http_status"),
        (AuthError("HTTP 401"), "transport-error", "auth"),
        (TimeoutError_("read timeout"), "transport-error", "timeout"),
        (ProtocolViolation("not JSON"), "transport-error", "protocol"),
        (StreamCut("reset"), "transport-error", "protocol"),
        (A2ACtlError("odd"), "transport-error", "error"),
    ],
)
def test_run_one_records_errors_by_class(err: A2ACtlError, status: str, code: str) -> None:
    assert error_code(err) == (status, code)

    async def fails(rec: RequestRecord, base: float) -> None:
        await asyncio.sleep(0)
        raise err

    rec = _run(fails)
    assert (rec.status, rec.code, rec.message) == (status, code, err.message)
    assert rec.latency is not None and rec.latency >= 0


def test_deadlines_time_out_each_request_at_its_own_deadline_and_only_those() -> None:
    """Requests started one after another, some stalling: the stalled ones are timed out (each
    no earlier than its own start + timeout), the quick ones are not, and a task whose request
    ended before its deadline is not cancelled later."""
    timeout = 0.1

    async def go() -> tuple[list[RequestRecord], list[float], str]:
        deadlines = Deadlines(timeout)
        loop = asyncio.get_running_loop()

        async def request(i: int) -> tuple[RequestRecord, float]:
            await asyncio.sleep(0.02 * i)  # staggered starts

            async def scenario(rec: RequestRecord, base: float) -> None:
                await asyncio.sleep(10 if i % 2 else 0.01)
                rec.state = "completed"

            started = loop.time()
            rec = await run_one(scenario, RequestRecord(i, 0.0), time.perf_counter(), timeout, deadlines)
            return rec, loop.time() - started

        async def ended_early() -> str:
            async def quick(rec: RequestRecord, base: float) -> None:
                await asyncio.sleep(0)

            await run_one(quick, RequestRecord(99, 0.0), time.perf_counter(), timeout, deadlines)
            await asyncio.sleep(2 * timeout)  # past its deadline: must not be cancelled now
            return "not cancelled"

        try:
            pairs = await asyncio.gather(*(request(i) for i in range(6)))
            early = await ended_early()
        finally:
            deadlines.close()
        return [p[0] for p in pairs], [p[1] for p in pairs], early

    recs, took, early = asyncio.run(go())
    assert early == "not cancelled"
    for i, (rec, seconds) in enumerate(zip(recs, took, strict=True)):
        if i % 2:
            assert (rec.status, rec.code) == ("transport-error", "timeout")
            assert seconds >= timeout - 0.002  # the loop's clock granularity
        else:
            assert (rec.status, rec.state) == ("ok", "completed")


def test_deadlines_let_another_cancellation_through() -> None:
    """A run cancelled from outside (--max-time) is cancelled, not recorded as a timeout."""

    async def go() -> None:
        deadlines = Deadlines(5.0)

        async def stalls(rec: RequestRecord, base: float) -> None:
            await asyncio.sleep(10)

        task = asyncio.ensure_future(
            run_one(stalls, RequestRecord(1, 0.0), time.perf_counter(), 5.0, deadlines)
        )
        await asyncio.sleep(0.01)
        task.cancel()
        try:
            with pytest.raises(asyncio.CancelledError):
                await task
        finally:
            deadlines.close()

    asyncio.run(go())


def test_run_one_keeps_200_characters_of_the_message() -> None:
    async def fails(rec: RequestRecord, base: float) -> None:
        raise UnreachableError("x" * 500)

    rec = _run(fails)
    assert rec.message == "x" * 200


def test_records_of_run_one_count_as_errors() -> None:
    async def refused(rec: RequestRecord, base: float) -> None:
        raise UnreachableError("refused")

    r = Recorder()
    r.add(_run(refused))
    assert dict(r.errors) == {("transport-error", "unreachable"): 1}
    assert r.failures == 1 and r.histograms["latency"].get_total_count() == 1


# --- _settle -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "status", "code"),
    [
        ("completed", "ok", None),
        ("input-required", "ok", None),
        ("auth-required", "ok", None),
        ("working", "ok", None),
        (None, "ok", None),
        ("failed", "task-failed", "failed"),
        ("rejected", "task-failed", "rejected"),
        ("canceled", "task-failed", "canceled"),
    ],
)
def test_settle(state: str | None, status: str, code: str | None) -> None:
    rec = RequestRecord(0, 0.0)
    _settle(rec, state)
    assert (rec.state, rec.status, rec.code) == (state, status, code)


def test_settle_keeps_an_earlier_error() -> None:
    rec = RequestRecord(0, 0.0, status="a2a-error", code="InternalError -32603")
    _settle(rec, "failed")
    assert (rec.state, rec.status, rec.code) == ("failed", "a2a-error", "InternalError -32603")


# --- send and stream over a fake client ----------------------------------------------------------


def _outcome(result: Any = None, error: DecodedError | None = None, body: bytes = b"{}") -> RpcOutcome:
    http = cast(Any, SimpleNamespace(body=body, status=200))
    return RpcOutcome("SendMessage", "SendMessage", result, error, http)


class FakeClient:
    """What the scenarios use of ``A2AClient``: ``call``, ``stream``, family/binding/tenant."""

    family = Family.V1_0
    binding = BINDING_JSONRPC
    selection = SimpleNamespace(interface=SimpleNamespace(tenant=None))

    def __init__(self, answer: RpcOutcome | None = None, events: list[Any] | None = None) -> None:
        self.answer = answer
        self.events = events or []
        self.sent: list[tuple[str, dict[str, Any]]] = []

    async def call(self, method: str, params: dict[str, Any]) -> RpcOutcome:
        self.sent.append((method, params))
        assert self.answer is not None
        return self.answer

    async def stream(self, method: str, params: dict[str, Any]) -> AsyncIterator[Any]:
        self.sent.append((method, params))
        for item in self.events:
            await asyncio.sleep(0.002)
            yield item


def _ctx(client: FakeClient) -> ScenarioContext:
    messages = Messages([[PartSpec("text", text="a")], [PartSpec("text", text="b")]])
    return ScenarioContext(cast(Any, client), "http://127.0.0.1:9/card", Settings(), messages)


def _scenario(name: str, client: FakeClient, seq: int = 0) -> RequestRecord:
    scenario = build(name, _ctx(client))

    async def go() -> RequestRecord:
        return await run_one(scenario, RequestRecord(seq, 0.0), time.perf_counter(), 5.0)

    return asyncio.run(go())


def _task(state: str) -> dict[str, Any]:
    return {"task": {"id": "t1", "contextId": "c1", "status": {"state": state}}}


def test_build_knows_every_scenario() -> None:
    client = FakeClient()
    for name in SCENARIOS:
        assert callable(build(name, _ctx(client)))
    with pytest.raises(KeyError):
        build("nope", _ctx(client))


@pytest.mark.parametrize("family", [Family.V1_0, Family.V0_3])
@pytest.mark.parametrize("binding", [BINDING_JSONRPC, BINDING_HTTP_JSON])
def test_params_are_message_params_with_a_fresh_message_id(family: Family, binding: str) -> None:
    """The per-request params are the document message_params builds (key order included), with a
    new messageId each time, for every family and binding; the template is never modified."""
    client = FakeClient()
    client.family, client.binding = family, binding
    client.selection = SimpleNamespace(interface=SimpleNamespace(tenant="acme"))
    parts = [PartSpec("text", text="a"), PartSpec("data", data={"k": [1, 2]})]
    ctx = ScenarioContext(
        cast(Any, client),
        "http://127.0.0.1:9/card",
        Settings(),
        Messages([parts, [PartSpec("text", text="b")]]),
    )
    seen = [ctx.params(seq) for seq in range(4)]
    for seq, params in enumerate(seen):
        mid = params["message"]["messageId"]
        expected = message_params(ctx.messages.at(seq), family, binding, message_id=mid, tenant="acme")
        assert json.dumps(params) == json.dumps(expected)  # same keys, same order, same values
    assert len({p["message"]["messageId"] for p in seen}) == 4
    seen[0]["message"]["messageId"] = "changed"
    assert ctx.params(0)["message"]["messageId"] != "changed"


def test_messages_cycle_with_a_fresh_message_id() -> None:
    client = FakeClient(_outcome(_task("TASK_STATE_COMPLETED")))
    ctx = _ctx(client)
    assert [ctx.messages.at(i)[0].text for i in range(5)] == ["a", "b", "a", "b", "a"]
    ids = {ctx.params(0)["message"]["messageId"] for _ in range(3)}
    assert len(ids) == 3


@pytest.mark.parametrize(
    ("state", "status", "code", "canonical"),
    [
        ("TASK_STATE_COMPLETED", "ok", None, "completed"),
        ("TASK_STATE_INPUT_REQUIRED", "ok", None, "input-required"),
        ("TASK_STATE_FAILED", "task-failed", "failed", "failed"),
        ("TASK_STATE_REJECTED", "task-failed", "rejected", "rejected"),
        ("TASK_STATE_CANCELED", "task-failed", "canceled", "canceled"),
    ],
)
def test_send_settles_the_task(state: str, status: str, code: str | None, canonical: str) -> None:
    client = FakeClient(_outcome(_task(state), body=b"x" * 42))
    rec = _scenario("send", client, seq=1)
    assert (rec.status, rec.code, rec.state) == (status, code, canonical)
    assert rec.bytes == 42 and rec.latency is not None
    ((method, params),) = client.sent
    assert method == "SendMessage"
    assert params["message"]["parts"][0]["text"] == "b"  # request 1 sends message 1


def test_send_records_an_a2a_error() -> None:
    err = DecodedError(-32001, "TaskNotFoundError", "no task t9", "permanent", None)
    rec = _scenario("send", FakeClient(_outcome(error=err)))
    assert (rec.status, rec.code, rec.message, rec.state) == (
        "a2a-error",
        "TaskNotFoundError -32001",
        "no task t9",
        None,
    )


def _event(kind: str, state: str | None = None, size: int = 100) -> TimedEvent:
    return TimedEvent(0.0, size, StreamEvent(kind, state, "t1", False, {}))


def test_stream_times_first_event_artifact_and_terminal_state() -> None:
    events = [
        _event("task", "submitted"),
        _event("status-update", "working"),
        _event("artifact-update", size=300),
        _event("status-update", "completed"),
    ]
    rec = _scenario("stream", FakeClient(events=events))
    assert (rec.status, rec.code, rec.state) == ("ok", None, "completed")
    assert (rec.events, rec.bytes, len(rec.gaps)) == (4, 600, 3)
    assert rec.ttfe is not None and rec.ttfa is not None and rec.terminal is not None
    assert rec.latency is not None
    assert 0 < rec.ttfe < rec.ttfa < rec.terminal <= rec.latency
    assert rec.ttfe + sum(rec.gaps) == pytest.approx(rec.terminal)


def test_stream_of_a_failed_task_and_of_an_interrupted_one() -> None:
    failed = _scenario(
        "stream", FakeClient(events=[_event("task", "working"), _event("status-update", "failed")])
    )
    assert (failed.status, failed.code, failed.state) == ("task-failed", "failed", "failed")
    assert failed.terminal is not None and failed.ttfa is None
    asked = _scenario("stream", FakeClient(events=[_event("status-update", "input-required")]))
    assert (asked.status, asked.state) == ("ok", "input-required")
    assert asked.terminal == asked.ttfe  # interrupted counts as settled
    assert asked.gaps == []
    unsettled = _scenario("stream", FakeClient(events=[_event("status-update", "working")]))
    # closed before a terminal or interrupted state: a broken stream, not a success (missing-terminal)
    assert (unsettled.status, unsettled.code, unsettled.state, unsettled.terminal) == (
        "transport-error",
        "protocol",
        "working",
        None,
    )
    assert unsettled.message == "the stream closed in state working without a terminal or interrupted state"


def _update(kind: str, state: str | None, task: str = "t1", **payload: Any) -> TimedEvent:
    return TimedEvent(0.0, 100, StreamEvent(kind, state, task, False, payload))


@pytest.mark.parametrize("name", ["send", "stream"])
def test_every_message_is_built_before_the_first_request_is_timed(
    monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    """A --messages file of 200,000 lines took ~0.5 s to turn into request params, done at the first
    request: its latency read 614 ms against the agent's 105 ms (in the open model the loop was held
    and later requests started late). build() now makes them all; a request builds none."""
    import a2actl.load.scenarios as scenarios_module

    built: list[int] = []

    def counted(*args: Any, **kwargs: Any) -> dict[str, Any]:
        built.append(1)
        return message_params(*args, **kwargs)

    monkeypatch.setattr(scenarios_module, "message_params", counted)
    client = FakeClient(
        answer=_outcome(_task("TASK_STATE_COMPLETED")), events=[_event("status-update", "completed")]
    )
    ctx = _ctx(client)
    scenario = build(name, ctx)
    assert len(built) == 2  # both messages, before any request
    for seq in range(3):
        rec = RequestRecord(seq, 0.0)
        asyncio.run(scenario(rec, time.perf_counter()))
        assert rec.status == "ok"
    assert len(built) == 2  # no request built one
    assert [m["message"]["parts"][0]["text"] for _, m in client.sent] == ["a", "b", "a"]


def test_a_failed_stream_task_says_why_in_at_most_200_characters() -> None:
    """The status message that came with the failed state is the request's message (the error
    table's example), clipped to 200 characters; none when the agent gave none."""
    said = {"state": "TASK_STATE_FAILED", "message": {"parts": [{"text": "quota " + "x" * 500}]}}
    rec = _scenario(
        "stream",
        FakeClient(events=[_update("task", "working"), _update("status-update", "failed", status=said)]),
    )
    assert (rec.status, rec.code) == ("task-failed", "failed")
    assert rec.message is not None and rec.message.startswith("quota x") and len(rec.message) == 200
    silent = _scenario("stream", FakeClient(events=[_update("status-update", "failed", status={})]))
    assert (silent.status, silent.message) == ("task-failed", None)


@pytest.mark.parametrize(
    ("events", "message"),
    [
        (
            [
                _update("task", "working"),
                _update("status-update", "submitted"),
                _update("status-update", "completed"),
            ],
            "illegal-transition: working → submitted goes back",
        ),
        (
            [
                _update("task", "working"),
                _update("status-update", "working", task="t2"),
                _update("status-update", "completed"),
            ],
            "other-task: status-update event for task t2, the stream is for t1",
        ),
        (
            [
                _update("task", "working"),
                _update("status-update", "completed"),
                _update("status-update", "completed"),
            ],
            "event-after-end: status-update event after the stream should have ended (state completed)",
        ),
        (
            [
                _update("task", "working"),
                TimedEvent(0.0, 20 << 20, OVERSIZE_EVENT, True),
                _update("status-update", "completed"),
            ],
            f"oversize event: {20 << 20} bytes, over --max-event-bytes {16 << 20}",
        ),
        (
            # read whole (WebSocket, gRPC) but over the bound: oversize too
            [
                _update("task", "working"),
                TimedEvent(0.0, (16 << 20) + 1, StreamEvent("artifact-update", None, "t1", False, {})),
                _update("status-update", "completed"),
            ],
            f"oversize event: {(16 << 20) + 1} bytes, over --max-event-bytes {16 << 20}",
        ),
    ],
)
def test_stream_that_breaks_the_lifecycle_or_the_event_bound_is_a_protocol_error(
    events: list[Any], message: str
) -> None:
    rec = _scenario("stream", FakeClient(events=events))
    assert (rec.status, rec.code, rec.message) == ("transport-error", "protocol", message)
    assert rec.state == "completed" and rec.terminal is not None and rec.events == 3  # still timed


def test_stream_of_a_failed_task_with_a_violation_is_the_violation() -> None:
    events = [
        _update("task", "working"),
        _update("status-update", "failed"),
        _update("status-update", "working"),
    ]
    rec = _scenario("stream", FakeClient(events=events))
    assert (rec.status, rec.code) == ("transport-error", "protocol")
    assert rec.message is not None and rec.message.startswith("event-after-end: ")


def test_stream_error_ends_the_request() -> None:
    err = DecodedError(-32603, "InternalError", "boom", "transient", None)
    events = [_event("task", "working"), _outcome(error=err), _event("status-update", "failed")]
    rec = _scenario("stream", FakeClient(events=events))
    assert (rec.status, rec.code, rec.message) == ("a2a-error", "InternalError -32603", "boom")
    assert rec.events == 1 and rec.state == "working"  # stopped at the error
