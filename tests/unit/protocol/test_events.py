"""protocol.events.result_state reads what task_view reads (kind, id, state), for every result shape."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from a2actl.protocol.events import result_state, task_view

SHAPES: list[Any] = [
    {"task": {"id": "t", "contextId": "c", "status": {"state": "TASK_STATE_COMPLETED"}}},  # 1.0
    {"task": {"id": "t", "status": {"state": "TASK_STATE_FAILED"}}},
    {"kind": "task", "id": "t", "status": {"state": "failed"}},  # 0.3 JSON-RPC
    {"kind": "task", "id": "t", "status": {"state": "TASK_STATE_CANCELLED"}},  # 0.3 gRPC/REST spelling
    {"id": "t", "status": {"state": "input-required"}},  # a bare Task without kind
    {"id": "t", "status": {}},
    {"id": "t", "status": "weird"},
    {"message": {"messageId": "m", "parts": [{"text": "hi"}]}},
    {"msg": {"messageId": "m"}},
    {"kind": "message", "messageId": "m"},
    {"nothing": 1},
    [],
    None,
    "text",
]


@pytest.mark.parametrize("result", SHAPES)
def test_result_state_agrees_with_task_view(result: Any) -> None:
    view = task_view(result)
    kind, task_id, state = result_state(result)
    assert kind == view["kind"]
    assert state == view.get("state")
    if kind == "task":
        assert task_id == view["id"]


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(["task", "message", "msg", "kind", "id", "status", "state"]), inner, max_size=4
        )
    ),
    max_leaves=12,
)


@given(_json)
def test_result_state_never_raises_and_agrees_on_anything(result: Any) -> None:
    view = task_view(result)
    kind, _, state = result_state(result)
    assert kind == view["kind"]
    assert state == view.get("state")


def test_a_reason_outside_the_status_is_the_last_agent_message_then_the_last_artifact() -> None:
    """``reason_outside_status``: the last agent message of the history (0.3 ``agent``, 1.0
    ``ROLE_AGENT``, 0.3 proto JSON ``content``), else the last artifact with text; never raises."""
    from a2actl.protocol.events import reason_outside_status

    def msg(role: str, text: str, key: str = "parts") -> dict[str, Any]:
        return {"role": role, key: [{"text": text}]}

    task = {
        "history": [msg("agent", "first"), msg("ROLE_AGENT", "second", "content"), msg("user", "retry")],
        "artifacts": [{"artifactId": "a", "parts": [{"text": "x"}]}],
    }
    assert reason_outside_status(task) == {"text": "second", "from": "history"}
    task["history"] = [msg("user", "hi"), msg("agent", "")]  # an agent message without text
    assert reason_outside_status(task) == {"text": "x", "from": "artifact", "artifact": "a"}
    task["artifacts"] = [
        {"name": "errors", "parts": [{"text": "disk full"}]},
        {"artifactId": "b", "parts": []},
    ]
    assert reason_outside_status(task) == {"text": "disk full", "from": "artifact", "artifact": "errors"}
    for junk in (None, "task", {"history": "x", "artifacts": [5, None]}, {"history": [None, {"role": 3}]}):
        assert reason_outside_status(junk) is None
