"""``decode_rest_error`` / ``verdict_of``: the one classifier of HTTP+JSON error answers (issue #12
items 2, 3, 6). Bodies are the ones the SDKs write (shared doc §7.2, §15; a2a-sdk 0.3.26
``a2a/utils/error_handlers.py``)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from a2actl.protocol.jsonrpc import decode_jsonrpc_error, decode_rest_error, verdict_of
from a2actl.protocol.versions import Family

ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo"


@pytest.mark.parametrize(
    "body",
    [
        {"detail": "Not Found"},  # FastAPI's route-not-found
        None,  # empty / non-JSON body (Starlette's plain "Not Found")
        {"error": "not found"},  # a gateway's own JSON
        [1, 2, 3],
        {"message": "Not Found", "path": "/x", "status": 404},  # a proxy page with extra fields
    ],
)
def test_a_404_no_a2a_server_wrote_is_not_task_not_found(body: object) -> None:
    assert decode_rest_error(404, body, operation="GetTask", family=Family.V1_0) is None


def test_a2a_sdk_03_message_bodies_decode_by_their_default_text() -> None:
    nf = decode_rest_error(404, {"message": "Task not found"}, operation="GetTask", family=Family.V0_3)
    assert (nf.code, nf.name, nf.message) == (-32001, "TaskNotFoundError", "Task not found")
    assert verdict_of(nf) == "answers"
    cancel = decode_rest_error(409, {"message": "Task cannot be canceled"}, family=Family.V0_3)
    assert (cancel.code, cancel.message) == (-32002, "Task cannot be canceled")
    method = decode_rest_error(404, {"message": "Method not found"}, family=Family.V0_3)
    assert method.code == -32601
    # A custom text keeps its words; the code comes from the SDK's status table (404: only when
    # the text is about a missing task).
    custom = decode_rest_error(422, {"message": "bad part"}, family=Family.V0_3)
    assert (custom.code, custom.message) == (-32602, "bad part")
    other404 = decode_rest_error(404, {"message": "no such tenant"}, family=Family.V0_3)
    assert other404.code is None and other404.message == "no such tenant"
    assert decode_rest_error(404, {"message": "Task abc not found"}).code == -32001


def test_v1_status_bodies_and_js_codes() -> None:
    v1 = decode_rest_error(
        404,
        {
            "error": {
                "code": 404,
                "status": "NOT_FOUND",
                "message": "Task not found",
                "details": [{"@type": ERROR_INFO, "reason": "TASK_NOT_FOUND"}],
            }
        },
    )
    assert v1.code == -32001 and v1.reason == "TASK_NOT_FOUND"
    no_reason = decode_rest_error(404, {"error": {"code": 404, "status": "NOT_FOUND", "message": "no route"}})
    assert no_reason is not None and no_reason.code is None and no_reason.message == "no route"
    version = decode_rest_error(
        400,
        {
            "error": {
                "code": 400,
                "message": "A2A-Version 2.0 is not supported",
                "details": [{"@type": ERROR_INFO, "reason": "VERSION_NOT_SUPPORTED"}],
            }
        },
    )
    assert version.code == -32009 and verdict_of(version) == "rejects"
    js = decode_rest_error(404, {"code": -32001, "message": "Task not found: nope"})
    assert js.code == -32001 and js.message == "Task not found: nope"


def test_the_data_an_error_carries_is_kept() -> None:
    """``data`` (JSON-RPC) and ``details``/``data`` (HTTP+JSON) as the agent sent them, into the
    error's ``details.data``; none when the error had none."""
    assert decode_jsonrpc_error({"code": -32602, "message": "m", "data": "why"}).data == "why"
    assert decode_jsonrpc_error({"code": -32602, "message": "m", "data": [1]}).data == [1]
    assert decode_jsonrpc_error({"code": -32602, "message": "m"}).data is None
    err = decode_jsonrpc_error({"code": -32602, "message": "m", "data": {"field": "x", "apiKey": "k"}})
    assert err.to_exception("SendMessage").details == {
        "reason": "INVALID_PARAMS",
        "data": {"field": "x", "apiKey": "***"},
    }
    status = decode_rest_error(400, {"error": {"code": 400, "message": "m", "details": [{"a": 1}]}})
    assert status is not None and status.data == [{"a": 1}]
    js = decode_rest_error(400, {"code": -32602, "message": "m", "data": {"field": "x"}})
    assert js is not None and js.data == {"field": "x"}
    assert decode_rest_error(400, {"error": {"code": 400, "message": "m"}}).data is None  # type: ignore[union-attr]
    assert "data" not in decode_jsonrpc_error({"code": -32001, "message": "m"}).to_exception("x").details


def test_verdicts() -> None:
    assert verdict_of(decode_jsonrpc_error({"code": -32001, "message": "x"})) == "answers"
    assert verdict_of(decode_jsonrpc_error({"code": -32601, "message": "x"}, method="GetTask")) == "rejects"
    assert verdict_of(decode_jsonrpc_error({"code": -32603, "message": "bad A2A version"})) == "rejects"
    assert verdict_of(decode_jsonrpc_error({"code": -32603, "message": "boom"})) == "error"


def test_a_refused_03_call_does_not_suggest_03() -> None:
    dec = decode_jsonrpc_error({"code": -32009, "message": "v"}, method="tasks/get", family=Family.V0_3)
    assert "--a2a-version 1.0" in dec.hint and "try --a2a-version 0.3" not in dec.hint
    v1 = decode_jsonrpc_error({"code": -32009, "message": "v"}, method="GetTask", family=Family.V1_0)
    assert "--a2a-version 0.3" in v1.hint


@given(
    st.integers(min_value=100, max_value=599),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=4),
        max_leaves=10,
    ),
)
def test_never_raises(status: int, body: object) -> None:
    out = decode_rest_error(status, body)
    assert out is None or isinstance(out.message, str)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=4),
    max_leaves=12,
)


@given(
    st.one_of(
        _json,
        st.fixed_dictionaries(
            {
                "jsonrpc": st.sampled_from(["2.0", "1.0"]),
                "id": st.one_of(st.none(), st.integers(), st.text(max_size=5)),
                "result": _json,
            }
        ),
        st.fixed_dictionaries({"jsonrpc": st.just("2.0"), "id": st.just(1), "error": _json}),
    ),
    st.one_of(st.none(), st.integers(), st.text(max_size=5)),
)
def test_split_response_raises_only_envelope_errors(obj: object, rid: object) -> None:
    from a2actl.protocol.jsonrpc import EnvelopeError, split_response

    try:
        result, error = split_response(obj, rid)  # type: ignore[arg-type]  # fuzzing: any JSON value as the id
    except EnvelopeError:
        return
    assert error is None or isinstance(error, dict)


@given(
    _json,
    st.one_of(st.none(), st.sampled_from(["GetTask", "tasks/get", "SendMessage"])),
    st.one_of(st.none(), st.sampled_from(list(Family))),
)
def test_decode_jsonrpc_error_never_raises(error: object, method: str | None, family: Family | None) -> None:
    out = decode_jsonrpc_error(error, method=method, family=family)
    assert isinstance(out.name, str) and isinstance(out.message, str)
    out.to_exception("x")


@given(_json)
def test_result_shape_check_never_raises(result: object) -> None:
    from a2actl.protocol.events import result_shape_error

    for op in ("SendMessage", "GetTask", "CancelTask", "ListTasks", "SubscribeToTask"):
        why = result_shape_error(op, result)
        assert why is None or isinstance(why, str)


def test_a_message_to_a_task_that_has_ended_says_so() -> None:
    """a2a-sdk 0.3 refuses a message to an ended task as -32602 InvalidParams, whose hint sent the
    operator to the method's schema; 1.x and @a2a-js/sdk answer -32004."""
    from a2actl.protocol.jsonrpc import TERMINAL_TASK_HINT

    for code, message, method in (
        (-32602, "Task 1452f819 is in terminal state: completed", "message/send"),
        (-32004, "Task 77 is in terminal state: TASK_STATE_COMPLETED", "SendMessage"),
        (-32004, "Task a is in a terminal state (3) and cannot be modified.", "POST /message:send"),
        (-32004, "Task a is in terminal state: failed", "/lf.a2a.v1.A2AService/SendStreamingMessage"),
    ):
        assert (
            decode_jsonrpc_error({"code": code, "message": message}, method=method).hint == TERMINAL_TASK_HINT
        )
    # another method (a subscribe to an ended task), or another text: the code's own hint
    other = decode_jsonrpc_error(
        {"code": -32004, "message": "Task a is in terminal state"}, method="SubscribeToTask"
    )
    assert other.hint != TERMINAL_TASK_HINT
    bad = decode_jsonrpc_error({"code": -32602, "message": "parts: field required"}, method="message/send")
    assert bad.hint == "the params do not match the method's schema for this protocol version"
