"""``a2actl.stream.follow.tail_a2a`` over a scripted channel (no network): heartbeats, a cut followed by
a resubscribe that shows what was missed, a refused resubscribe settled through GetTask, a refused
first subscribe on a terminal task, and a stream closed without a terminal state."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from a2actl.core.errors import A2AError, HTTPStatusError, StreamCut, UnreachableError
from a2actl.core.exit_codes import ExitCode
from a2actl.protocol.events import StreamEvent
from a2actl.protocol.versions import Family
from a2actl.stream.follow import tail_a2a
from a2actl.stream.summary import TailSummary
from a2actl.stream.tail import TailOptions
from a2actl.transport.channel import Heartbeat, TimedEvent

FAST = TailOptions(backoff=0.001, max_backoff=0.001)


@dataclass
class Answer:
    operation: str
    method: str
    result: Any
    error: Any = None


#: each item's own ``at``: the scripted channels hand items on one by one, each a read of its own
#: (``Tail.take`` takes items with an equal ``at`` as one network read, timed once)
_READS = itertools.count(1)


def ev(kind: str, state: str | None, payload: dict[str, Any] | None = None) -> TimedEvent:
    return TimedEvent(float(next(_READS)), 100, StreamEvent(kind, state, "t1", False, payload or {}))


CUT = StreamCut("connection reset by peer")


class Scripted:
    """A ``Channel`` whose n-th ``stream`` call plays the n-th script: items, or an exception to raise
    after them; ``call`` answers GetTask with ``task``."""

    family = Family.V1_0
    binding = "JSONRPC"
    url = "http://127.0.0.1:9/a2a"

    def __init__(self, scripts: list[list[Any]], task: dict[str, Any] | None = None) -> None:
        self.scripts = scripts
        self.task = task
        self.streamed: list[tuple[str, dict[str, Any]]] = []
        self.called: list[str] = []

    async def call(self, operation: str, params: dict[str, Any]) -> Answer:
        self.called.append(operation)
        return Answer(operation, operation, {"task": self.task} if self.task else None)

    async def stream(
        self, operation: str, params: dict[str, Any], *, heartbeats: bool = False
    ) -> AsyncIterator[Any]:
        self.streamed.append((operation, params))
        for item in self.scripts.pop(0):
            if isinstance(item, BaseException):
                raise item
            yield item


def run(
    client: Scripted, operation: str = "SendStreamingMessage", opts: TailOptions = FAST
) -> tuple[TailSummary, list[dict[str, Any]]]:
    records: list[dict[str, Any]] = []
    params: dict[str, Any] = {"id": "t1"} if operation == "SubscribeToTask" else {"message": {}}
    s = asyncio.run(tail_a2a(client, operation, params, opts, records.append))
    return s, records


def test_a_whole_stream_with_heartbeats_completes() -> None:
    client = Scripted(
        [
            [
                ev("task", "submitted"),
                Heartbeat(float(next(_READS)), "ping"),
                ev("status-update", "working"),
                ev("status-update", "completed"),
            ]
        ]
    )
    s, records = run(client)
    assert [r["type"] for r in records] == ["event", "heartbeat", "event", "event"]
    assert s.outcome == "completed" and s.exit is ExitCode.OK and s.heartbeats == 1 and s.task_id == "t1"


def test_a_cut_is_resubscribed_and_missed_chunks_are_exit_7() -> None:
    snapshot = {"artifacts": [{"artifactId": "a", "parts": [{}, {}, {}]}]}
    client = Scripted(
        [
            [
                ev("task", "submitted"),
                ev("status-update", "working"),
                ev("artifact-update", None, {"artifact": {"artifactId": "a"}}),
                CUT,
            ],
            [ev("task", "working", snapshot), ev("status-update", "completed")],
        ]
    )
    s, records = run(client)
    assert [r["type"] for r in records] == ["event"] * 3 + ["cut", "reconnect", "event", "event"]
    assert client.streamed[1] == ("SubscribeToTask", {"id": "t1"})
    assert records[3]["reason"] == "connection reset by peer" and records[3]["attempt"] == 1
    assert records[4]["missed"] == ["artifact 'a': 2 chunk(s) arrived during the outage"]
    assert s.outcome == "recovered" and s.exit is ExitCode.CHECK_FAILED


def test_a_refused_resubscribe_is_settled_through_get_task() -> None:
    client = Scripted(
        [
            [ev("task", "submitted"), ev("status-update", "working"), CUT],
            [A2AError("task is terminal", a2a_code=-32004)],
        ],
        task={"id": "t1", "status": {"state": "TASK_STATE_COMPLETED"}, "artifacts": []},
    )
    s, records = run(client)
    reconnect = records[-1]
    assert reconnect["type"] == "reconnect" and reconnect["via"] == "GetTask"
    assert reconnect["missed"] == [
        "state working → completed happened during the outage",
        "terminal state completed seen only via GetTask: the stream's last events were lost",
    ]
    assert s.outcome == "recovered" and s.final_state == "completed" and s.exit is ExitCode.CHECK_FAILED


def test_a_refused_subscribe_to_an_ended_task_says_so() -> None:
    client = Scripted(
        [[A2AError("unsupported operation", a2a_code=-32004)]],
        task={"id": "t1", "status": {"state": "TASK_STATE_FAILED"}},
    )
    with pytest.raises(A2AError) as caught:
        run(client, "SubscribeToTask")
    assert str(caught.value.message) == "task t1 already ended (failed): there is no stream to follow"
    # GetTask as the subscribe began (failed already: a refusal), and after the refusal
    assert caught.value.a2a_code == -32004 and client.called == ["GetTask", "GetTask"]


def test_a_close_without_terminal_state_and_no_reconnects_is_exit_6() -> None:
    client = Scripted([[ev("task", "submitted"), ev("status-update", "working")]])
    s, records = run(client, opts=TailOptions(reconnect_attempts=0))
    assert (
        records[-1]["type"] == "cut"
        and records[-1]["reason"] == "the server closed the stream before a terminal state"
    )
    assert s.outcome == "closed-without-terminal" and s.exit is ExitCode.PROTOCOL
    assert [v["rule"] for v in s.violations] == ["missing-terminal"]


def test_reconnects_stop_after_the_attempts_allowed() -> None:
    client = Scripted([[ev("task", "working"), CUT], [CUT], [CUT]])
    s, records = run(client, opts=TailOptions(reconnect_attempts=2, backoff=0.001))
    assert [r["attempt"] for r in records if r["type"] == "cut"] == [1, 2, 3]
    assert s.outcome == "cut" and s.exit is ExitCode.PROTOCOL and len(client.streamed) == 3


def other(kind: str, state: str | None) -> TimedEvent:
    """An event of the task ``other`` (not ``t1``, the one subscribed to or sent)."""
    return TimedEvent(float(next(_READS)), 100, StreamEvent(kind, state, "other", False, {}))


def test_a_subscribe_answered_with_another_tasks_stream_is_not_its_outcome() -> None:
    """SubscribeToTask(t1) answered with the stream of task ``other``, which completes: exit 0 with
    ``taskId`` ``other`` before (the first event named the stream's task); now every event is an
    ``other-task`` violation and t1's end was never seen (exit 6)."""
    client = Scripted([[other("task", "working"), other("status-update", "completed")]])
    s, records = run(client, "SubscribeToTask", TailOptions(reconnect_attempts=0))
    assert s.exit is ExitCode.PROTOCOL and s.outcome == "closed-without-terminal"
    assert s.task_id == "t1" and s.final_state is None
    assert [v["rule"] for v in s.violations] == ["other-task", "other-task", "missing-terminal"]
    assert [r["violations"][0]["rule"] for r in records if r["type"] == "event"] == ["other-task"] * 2


def test_a_refused_resubscribe_whose_get_task_answers_another_task_is_no_end() -> None:
    """GetTask after a refused resubscribe answers another task, completed: that is not how t1 ended
    (it was outcome ``recovered``, finalState ``completed``)."""
    client = Scripted(
        [
            [ev("task", "submitted"), ev("status-update", "working"), CUT],
            [A2AError("task is terminal", a2a_code=-32004)],
        ],
        task={"id": "other", "status": {"state": "TASK_STATE_COMPLETED"}},
    )
    s, records = run(client)
    assert s.outcome == "cut" and s.exit is ExitCode.PROTOCOL and s.final_state == "working"
    assert records[-1]["type"] == "reconnect" and "did not answer this task" in records[-1]["missed"][0]


@pytest.mark.parametrize("first", [[A2AError("Task not found", a2a_code=-32001)], [CUT]])
def test_a_refused_subscribe_to_a_task_waiting_for_the_client_says_so(first: list[Any]) -> None:
    """a2a-sdk 0.3 refuses to subscribe to an input-required task (TaskNotFound on JSON-RPC, a
    dropped stream on HTTP+JSON): GetTask shows it waiting, and that is the answer (exit 1), not
    'no task with that id' nor events lost in a cut."""
    client = Scripted(
        [first, [CUT], [CUT]], task={"id": "t1", "status": {"state": "TASK_STATE_INPUT_REQUIRED"}}
    )
    with pytest.raises(A2AError) as caught:
        run(client, "SubscribeToTask", TailOptions(reconnect_attempts=2, backoff=0.001, max_backoff=0.001))
    assert caught.value.message.startswith("task t1 is input-required: it waits for the client")
    assert client.called == ["GetTask", "GetTask"] and len(client.streamed) == 1


class Changing(Scripted):
    """``Scripted`` whose GetTask answers the task in each of ``states`` in turn, the last one again
    after them."""

    def __init__(self, scripts: list[list[Any]], states: list[str]) -> None:
        super().__init__(scripts)
        self.states = states

    async def call(self, operation: str, params: dict[str, Any]) -> Answer:
        self.called.append(operation)
        state = self.states.pop(0) if len(self.states) > 1 else self.states[0]
        return Answer(operation, operation, {"task": {"id": "t1", "status": {"state": state}}})


@pytest.mark.parametrize("end", [[], [CUT]], ids=["closed", "cut"])
def test_a_subscribe_to_a_running_task_whose_stream_ends_without_an_event_is_no_refusal(
    end: list[Any],
) -> None:
    """The task was working as the subscribe began (the first GetTask); its stream ends without an
    event (a2a-sdk 0.3 at another client's CancelTask) and GetTask then shows it canceled: the end
    seen only via GetTask (exit 7), not "already ended" (exit 1), with no resubscribe."""
    client = Changing([end], ["TASK_STATE_WORKING", "TASK_STATE_CANCELED"])
    s, records = run(client, "SubscribeToTask")
    assert s.outcome == "completed" and s.final_state == "canceled" and s.exit is ExitCode.CHECK_FAILED
    assert [r["type"] for r in records] == ["reconnect"] and records[0]["via"] == "GetTask"
    assert records[0]["missed"][0].startswith(
        "terminal state canceled seen only via GetTask (the subscribe's stream, opened while the "
        "task was running, ended without an event: "
    )
    assert client.called == ["GetTask", "GetTask"] and len(client.streamed) == 1


def test_a_subscribe_to_a_running_task_whose_stream_ends_while_it_runs_resubscribes() -> None:
    """Still working after the close: a cut like any other, resubscribed (no GetTask verdict)."""
    client = Changing([[], [ev("task", "working"), ev("status-update", "completed")]], ["TASK_STATE_WORKING"])
    s, records = run(client, "SubscribeToTask")
    assert [r["type"] for r in records] == ["cut", "reconnect", "event", "event"]
    assert s.outcome == "recovered" and s.final_state == "completed" and s.exit is ExitCode.OK


def test_a_resubscribe_that_cannot_connect_is_tried_again_and_the_outage_counts_from_the_cut() -> None:
    """An agent restarting after a cut: the resubscribe's connection is refused, then a gateway
    answers 503, then the agent is back. Each failed attempt is a cut of the same outage (the
    refused connection ended the tail with exit 3); the outage counts from the first cut."""
    client = Scripted(
        [
            [ev("task", "submitted"), ev("status-update", "working"), CUT],
            [UnreachableError("connection to http://127.0.0.1:9/a2a refused")],
            [HTTPStatusError("answered HTTP 503", details={"httpStatus": 503})],
            [ev("task", "working"), ev("status-update", "completed")],
        ]
    )
    s, records = run(client)
    cuts = [r for r in records if r["type"] == "cut"]
    assert [c["attempt"] for c in cuts] == [1, 2, 3]
    assert cuts[1]["reason"] == "connection to http://127.0.0.1:9/a2a refused"
    reconnect = next(r for r in records if r["type"] == "reconnect")
    assert abs(reconnect["outage"] - (reconnect["t"] - cuts[0]["t"])) < 1e-5
    assert s.outcome == "recovered" and s.exit is ExitCode.OK and s.final_state == "completed"


def test_an_agent_unreachable_from_the_start_is_still_exit_3_and_a_4xx_resubscribe_still_raises() -> None:
    with pytest.raises(UnreachableError):
        run(Scripted([[UnreachableError("connection refused")]]))
    client = Scripted(
        [
            [ev("task", "submitted"), CUT],
            [HTTPStatusError("answered HTTP 404", details={"httpStatus": 404})],
        ]
    )
    with pytest.raises(HTTPStatusError):
        run(client)
