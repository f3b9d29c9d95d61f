"""``stream tail --task`` / ``task subscribe`` where a2a-sdk 0.3's HTTP+JSON binding refuses a
subscribe by dropping the stream (tests/interop/test_agents.py: ``200 text/event-stream``, then no
event and no terminating chunk, for a finished task and an unknown id alike)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.interop.conftest import InteropAgent


@pytest.mark.parametrize("command", [["stream", "tail", "{url}", "--task"], ["task", "subscribe", "{url}"]])
def test_following_an_unknown_task_is_task_not_found_not_a_cut(
    cli: Any, agent_sdk03_rest: InteropAgent, command: list[str]
) -> None:
    """The dropped stream of an unknown id was a cut, then 'closed without a terminal state' (exit 6,
    missing-terminal): the agent was blamed for the operator's typo. GetTask says TaskNotFound:
    that is the answer (exit 1, -32001), as a finished task's drop is 'already ended'."""
    args = [a.format(url=agent_sdk03_rest.url) for a in command]
    r = cli("--max-time", "20", *args, "no-such-task", "-o", "json")
    assert r.exit_code == 1, r.stdout[-600:]
    error = r.json["error"]
    assert error["code"] == "a2a_error" and error["a2aCode"] == -32001
    assert "no-such-task not found" in error["message"]


@pytest.mark.parametrize("binding", ["JSONRPC", "HTTP+JSON"])
@pytest.mark.parametrize(("text", "state"), [("/input", "input-required"), ("/auth", "auth-required")])
def test_following_a_task_that_waits_for_the_client_says_so(
    cli: Any, agent_sdk03: InteropAgent, binding: str, text: str, state: str
) -> None:
    """a2a-sdk 0.3 has nothing running for a task in input-required / auth-required: its JSON-RPC
    binding refuses the subscribe with TaskNotFound, its HTTP+JSON binding drops the stream. That
    was exit 1 'no task with that id' (the task exists) on JSON-RPC, and exit 7 on HTTP+JSON (a
    resubscribe, then the state 'seen only via GetTask: the stream's last events were lost', none
    were; exit 6 'cut' with --reconnect 0). GetTask says the task waits for the client: exit 1
    saying so, on both bindings."""
    opts = ["--binding", binding]
    task_id = cli("send", agent_sdk03.url, text, *opts, "-o", "json").json["taskId"]
    for extra in ([], ["--reconnect", "0"]):
        r = cli(
            "--max-time",
            "20",
            "stream",
            "tail",
            agent_sdk03.url,
            "--task",
            task_id,
            *opts,
            *extra,
            "-o",
            "json",
        )
        assert r.exit_code == 1, r.stdout[-600:]
        error = r.json["error"]
        assert error["code"] == "a2a_error"
        assert error["message"].startswith(f"task {task_id} is {state}: it waits for the client"), error


@pytest.mark.parametrize("binding", ["JSONRPC", "HTTP+JSON"])
def test_a_stream_whose_task_another_client_cancels_ends_canceled(
    cli: Any, agent_sdk03: InteropAgent, binding: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """a2a-sdk 0.3.26 publishes the ``canceled`` event of a CancelTask to the cancel's own queue:
    the ``message/stream`` of the task never gets it and stays open (an SSE ping every 15 s, no
    event; still open a minute later): ``stream tail`` waited for --max-time (exit 5) or for ever.
    GetTask after a silence finds it canceled: outcome completed, final state canceled, the end
    seen only via GetTask (exit 7, as missed events)."""
    import threading

    import httpx

    from a2actl.stream import follow

    monkeypatch.setattr(follow, "IDLE_POLL", 1.0)
    monkeypatch.setattr(follow, "IDLE_GRACE", 0.3)
    tails: list[Any] = []
    watch = follow._ended_unannounced

    async def spy(tail: Any, client: Any) -> Any:
        tails.append(tail)
        return await watch(tail, client)

    monkeypatch.setattr(follow, "_ended_unannounced", spy)

    def cancel_from_another_client() -> None:
        for _ in range(200):
            if tails and tails[0].lifecycle.state == "working":
                body = {
                    "jsonrpc": "2.0",
                    "id": 1,
                    "method": "tasks/cancel",
                    "params": {"id": tails[0].lifecycle.task_id},
                }
                httpx.post(agent_sdk03.jsonrpc_url, json=body, timeout=10).raise_for_status()
                return
            time.sleep(0.05)

    canceler = threading.Thread(target=cancel_from_another_client)
    canceler.start()
    r = cli(
        "--max-time",
        "40",
        "stream",
        "tail",
        agent_sdk03.url,
        "--send",
        "/slow 30",
        "--binding",
        binding,
        "-o",
        "json",
    )
    canceler.join()
    assert r.exit_code == 7, r.stdout[-800:]
    summary = r.json
    assert summary["outcome"] == "completed" and summary["finalState"] == "canceled"
    assert [e["state"] for e in summary["records"] if e["type"] == "event"] == ["submitted", "working"]
    (reconnect,) = summary["reconnects"]
    assert reconnect["via"] == "GetTask" and "seen only via GetTask" in reconnect["missed"][0]
    assert summary["duration"] < 20


@pytest.mark.parametrize("binding", ["JSONRPC", "HTTP+JSON"])
@pytest.mark.parametrize(
    "command", [["task", "subscribe", "{url}", "{id}"], ["stream", "tail", "{url}", "--task", "{id}"]]
)
def test_following_a_running_task_another_client_cancels_is_no_refusal(
    cli: Any, agent_sdk03: InteropAgent, binding: str, command: list[str]
) -> None:
    """a2a-sdk 0.3.26 sends a ``tasks/resubscribe`` of a running task no snapshot and no event
    while it works, then closes the stream cleanly, without the ``canceled`` event, when another
    client cancels the task. The subscribe had followed the task for seconds; GetTask after the
    close found it canceled and that was "task … already ended (canceled): there is no stream to
    follow" (exit 1). GetTask asked as the subscribe began showed it working: its end is seen only
    via GetTask (exit 7, as a stream left open past it)."""
    import threading

    import httpx

    opts = ["--binding", binding]
    task_id = cli("send", agent_sdk03.url, "/slow 30", "--no-wait", *opts, "-o", "json").json["taskId"]
    seen = len(agent_sdk03.requests())
    subscribe = "tasks/resubscribe" if binding == "JSONRPC" else f"/tasks/{task_id}:subscribe"

    def cancel_once_subscribed() -> None:
        """Cancels (tasks/cancel, another client) once the agent has answered the subscribe."""
        for _ in range(400):
            if any(
                e["status"] == 200 and subscribe in (e["rpc_method"] or e["path"])
                for e in agent_sdk03.requests()[seen:]
            ):
                time.sleep(0.5)  # the tail is following: no event while the task works
                body = {"jsonrpc": "2.0", "id": 1, "method": "tasks/cancel", "params": {"id": task_id}}
                httpx.post(agent_sdk03.jsonrpc_url, json=body, timeout=10).raise_for_status()
                return
            time.sleep(0.05)

    canceler = threading.Thread(target=cancel_once_subscribed)
    canceler.start()
    args = [a.format(url=agent_sdk03.url, id=task_id) for a in command]
    r = cli("--max-time", "25", *args, *opts, "-o", "json")
    canceler.join()
    assert r.exit_code == 7, r.stdout[-800:]
    summary = r.json
    assert summary["outcome"] == "completed" and summary["finalState"] == "canceled"
    assert summary["taskId"] == task_id and summary["events"] == 0 and summary["duration"] < 20
    (reconnect,) = summary["reconnects"]
    assert reconnect["via"] == "GetTask" and reconnect["missed"][0].startswith(
        "terminal state canceled seen only via GetTask (the subscribe's stream, opened while the "
        "task was running, ended without an event"
    ), reconnect
