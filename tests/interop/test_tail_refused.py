"""``stream tail --task`` / ``task subscribe`` where a2a-sdk 0.3's HTTP+JSON binding refuses a
subscribe by dropping the stream (tests/interop/test_agents.py: ``200 text/event-stream``, then no
event and no terminating chunk, for a finished task and an unknown id alike)."""

from __future__ import annotations

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
