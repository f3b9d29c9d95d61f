"""``a2actl.protocol.grpc_errors``: the reason ↔ code ↔ gRPC status table and the decoding of a
``google.rpc.Status`` (as ProtoJSON details) into the JSON-RPC ``DecodedError``."""

from __future__ import annotations

import pytest

from a2actl.core.errors import A2AError, AuthError
from a2actl.protocol.grpc_errors import REASON_TABLE, STATUS_NAMES, decode_grpc_error
from a2actl.protocol.jsonrpc import ERRORS
from a2actl.protocol.versions import Family


def info(reason: str, domain: str = "a2a-protocol.org") -> dict[str, str]:
    return {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason, "domain": domain}


def test_every_reason_has_the_jsonrpc_code_and_name_of_the_same_reason():
    for reason, (code, status) in REASON_TABLE.items():
        assert ERRORS[code].reason == reason
        assert status in STATUS_NAMES.values()


def test_every_a2a_error_code_has_a_reason_in_the_table():
    """All A2A codes (-32001…-32009) and the JSON-RPC ones a2a-sdk gives a reason (not -32700)."""
    assert {c for c, _ in REASON_TABLE.values()} == set(ERRORS) - {-32700}


def test_the_table_agrees_with_a2a_sdk_server_statuses():
    """a2a-sdk 1.3's GrpcHandler answers each error class with a status (``_ERROR_CODE_MAP``) and a
    reason (``A2A_ERROR_REASONS``): both must be what the table says (spec v1.0.1 §5.4)."""
    pytest.importorskip("grpc")
    from a2a.server.request_handlers.grpc_handler import _ERROR_CODE_MAP
    from a2a.utils.errors import A2A_ERROR_REASONS

    checked = 0
    for cls, status in _ERROR_CODE_MAP.items():
        reason = A2A_ERROR_REASONS[cls]
        if reason in REASON_TABLE and reason != "METHOD_NOT_FOUND":
            assert REASON_TABLE[reason][1] == status.name, reason
            checked += 1
    assert checked >= 11


@pytest.mark.parametrize(("reason", "code"), [(r, c) for r, (c, _) in REASON_TABLE.items()])
def test_reason_decodes_to_the_jsonrpc_error(reason: str, code: int):
    status = REASON_TABLE[reason][1]
    d = decode_grpc_error(status, "text", [info(reason)], method="GetTask")
    assert (d.code, d.name, d.reason) == (code, ERRORS[code].name, reason)
    assert d.details[0] == {"grpcStatus": status}


def test_reason_of_another_domain_is_not_read():
    d = decode_grpc_error("FAILED_PRECONDITION", "x", [info("TASK_NOT_FOUND", domain="example.com")])
    assert d.code is None and d.name == "GrpcStatusFailedPrecondition"


def test_an_a2a_reason_outside_the_table_is_named_in_the_hint_not_denied():
    """An A2A-domain ErrorInfo whose reason the table lacks: no code, the status's name, and the hint
    names the reason instead of saying there was no A2A ErrorInfo."""
    d = decode_grpc_error("FAILED_PRECONDITION", "new thing", [info("SOMETHING_NEW")])
    assert (d.code, d.name, d.reason) == (None, "GrpcStatusFailedPrecondition", "SOMETHING_NEW")
    assert d.hint is not None and "'SOMETHING_NEW'" in d.hint and "without an A2A ErrorInfo" not in d.hint
    other = decode_grpc_error("FAILED_PRECONDITION", "x", [info("SOMETHING_NEW", domain="example.com")])
    assert other.hint == "the agent answered gRPC status FAILED_PRECONDITION without an A2A ErrorInfo"


@pytest.mark.parametrize(
    ("status", "message", "code", "name"),
    [
        ("NOT_FOUND", "Task not found: t1", -32001, "TaskNotFoundError"),
        ("NOT_FOUND", "no such route", None, "GrpcStatusNotFound"),
        ("INVALID_ARGUMENT", "bad", -32602, "InvalidParamsError"),
        ("UNIMPLEMENTED", "Method not found", -32601, "MethodNotFoundError"),
        ("INTERNAL", "boom", -32603, "InternalError"),
        ("RESOURCE_EXHAUSTED", "slow down", None, "GrpcStatusResourceExhausted"),
    ],
)
def test_status_without_error_info(status: str, message: str, code: int | None, name: str):
    d = decode_grpc_error(status, message, [])
    assert (d.code, d.name, d.message) == (code, name, message)


@pytest.mark.parametrize("status", ["UNAUTHENTICATED", "PERMISSION_DENIED"])
def test_auth_statuses_become_auth_errors(status: str):
    err = decode_grpc_error(status, "no", []).to_exception("GetTask")
    assert isinstance(err, AuthError) and err.details["grpcStatus"] == status


def test_exception_names_the_grpc_status():
    err = decode_grpc_error("NOT_FOUND", "Task not found", [info("TASK_NOT_FOUND")]).to_exception(
        "/s/GetTask"
    )
    assert isinstance(err, A2AError)
    assert err.a2a_code == -32001
    assert err.details == {
        "reason": "TASK_NOT_FOUND",
        "grpcStatus": "NOT_FOUND",
        "data": [info("TASK_NOT_FOUND")],  # the status details, as the agent sent them
    }
    assert err.message.endswith("(gRPC NOT_FOUND)")


def test_version_not_supported_is_a_version_mismatch():
    d = decode_grpc_error("FAILED_PRECONDITION", "no", [info("VERSION_NOT_SUPPORTED")], method="GetTask")
    assert d.code == -32009 and d.version_mismatch


def test_an_error_name_leading_the_message_gives_the_code():
    """a2a-sdk's 0.3 gRPC service: no ErrorInfo, ``"<ErrorName>: <message>"`` as the status message."""
    d = decode_grpc_error(
        "FAILED_PRECONDITION", "UnsupportedOperationError: task is terminal", [], method="GetTask"
    )
    assert (d.code, d.name, d.message) == (-32004, "UnsupportedOperationError", "task is terminal")
    plain = decode_grpc_error("FAILED_PRECONDITION", "NotAnError: x", [])
    assert plain.code is None and plain.message == "NotAnError: x"


def test_unimplemented_without_error_info_names_the_missing_service_not_a_version_header():
    """grpcio's UNIMPLEMENTED for an unregistered method: -32601 as the status table says, with a
    hint about the gRPC service (not the HTTP bindings' dropped A2A-Version header), and no reason
    the server never sent."""
    d = decode_grpc_error("UNIMPLEMENTED", "Method not found!", [], method="GetTask")
    assert d.code == -32601
    assert "lf.a2a.v1.A2AService/GetTask" in (d.hint or "")
    assert "A2A-Version header" not in (d.hint or "")
    assert d.reason is None
    d03 = decode_grpc_error("UNIMPLEMENTED", "Method not found!", [], method="GetTask", family=Family.V0_3)
    assert (d03.hint or "").startswith("the server on that port does not serve a2a.v1.A2AService/GetTask ")
