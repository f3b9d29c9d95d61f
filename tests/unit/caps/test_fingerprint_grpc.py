"""``caps fingerprint``'s reading of gRPC probe answers (``a2actl.caps.fingerprint._grpc_probe``) and the
gRPC wording of its mismatches (``explain``), on hand-made answers: the statuses a2a-sdk's servers do
not produce (VERSION_NOT_SUPPORTED for an unknown ``a2a-version``) included."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("grpc")

from a2actl.caps.endpoints import Probe  # noqa: E402
from a2actl.caps.fingerprint import GrpcEndpointPrint, _grpc_probe, explain  # noqa: E402
from a2actl.transport.grpc_probe import RawAnswer  # noqa: E402

V1 = "/lf.a2a.v1.A2AService/GetTask"
V03 = "/a2a.v1.A2AService/GetTask"


def info(reason: str) -> dict[str, Any]:
    return {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": reason,
        "domain": "a2a-protocol.org",
    }


@pytest.mark.parametrize(
    ("answer", "verdict", "code"),
    [
        (RawAnswer(V1, "NOT_FOUND", "Task not found", [info("TASK_NOT_FOUND")]), "answers", -32001),
        (RawAnswer(V1, "NOT_FOUND", "task a2actl-fingerprint-1 not found"), "answers", -32001),
        (RawAnswer(V1, "OK"), "answers", None),
        (RawAnswer(V1, "FAILED_PRECONDITION", "no", [info("VERSION_NOT_SUPPORTED")]), "rejects", -32009),
        (RawAnswer(V03, "UNIMPLEMENTED", "Method not found!"), "rejects", -32601),
        (RawAnswer(V1, "UNAVAILABLE", "connection refused"), "error", None),
        (RawAnswer(V1, "DEADLINE_EXCEEDED", "Deadline Exceeded"), "error", None),
        (RawAnswer(V1, "NO_CALL", "gRPC channel not ready after 2s"), "error", None),
        (RawAnswer(V1, "INTERNAL", "boom"), "error", -32603),
    ],
)
def test_verdicts(answer: RawAnswer, verdict: str, code: int | None) -> None:
    probe = _grpc_probe(answer)
    assert (probe.verdict, probe.code, probe.status) == (verdict, code, None)
    assert probe.call == f"GetTask ({answer.method.split('/')[1]})"


@pytest.mark.parametrize(
    ("answer", "detail"),
    [
        (
            RawAnswer(V1, "RESOURCE_EXHAUSTED", "quota"),
            "gRPC RESOURCE_EXHAUSTED GrpcStatusResourceExhausted: quota",
        ),
        (RawAnswer(V1, "UNKNOWN", ""), "gRPC UNKNOWN GrpcStatusUnknown"),
        (RawAnswer(V1, "INTERNAL", "boom"), "gRPC INTERNAL InternalError -32603: boom"),
    ],
)
def test_a_status_without_an_a2a_code_names_no_code(answer: RawAnswer, detail: str) -> None:
    """A status with no A2A code (no ErrorInfo, no fallback): the detail has no 'None' where the code
    goes, and an empty status message leaves no dangling ': '."""
    assert _grpc_probe(answer).detail == detail


def test_the_sent_version_is_recorded_and_auth_failures_name_the_token() -> None:
    probe = _grpc_probe(
        RawAnswer(
            V1,
            "UNAUTHENTICATED",
            "unauthorized",
            metadata=[("a2a-version", "99.0"), ("authorization", "***")],
        )
    )
    assert probe.headers == {"a2a-version": "99.0"}
    assert (probe.verdict, probe.detail) == ("error", "gRPC UNAUTHENTICATED: unauthorized; set A2ACTL_TOKEN")


def _ep(unknown: str, missing: str) -> GrpcEndpointPrint:
    ok = Probe("GetTask", {}, "answers", "TaskNotFound")
    ep = GrpcEndpointPrint("127.0.0.1:1", "GRPC", None, ["1.0"], probes={"1.0": ok})
    ep.header_probes = {
        "unknown": Probe("GetTask", {}, unknown, ""),
        "missing": Probe("GetTask", {}, missing, ""),
    }
    return ep


def test_a_grpc_server_that_honours_a2a_version_has_no_mismatch() -> None:
    ep = _ep("rejects", "rejects")
    assert ep.header_honoured() is True and ep.missing_header_as() == "0.3"
    assert explain([ep], None) == []


def test_a_grpc_server_that_ignores_a2a_version_is_named_in_grpc_words() -> None:
    got = [(m.severity, m.message) for m in explain([_ep("answers", "answers")], None)]
    assert got == [
        (
            "warning",
            "GRPC 127.0.0.1:1: the a2a-version metadata is ignored (GetTask with 'a2a-version: 99.0' "
            "answered instead of VERSION_NOT_SUPPORTED)",
        ),
        (
            "info",
            "GRPC 127.0.0.1:1: 1.0 calls without a2a-version metadata are accepted (the spec reads a "
            "missing version as 0.3)",
        ),
    ]


def test_a_skipped_endpoint_is_one_info_line_with_the_hint() -> None:
    ep = GrpcEndpointPrint(
        "127.0.0.1:1",
        "GRPC",
        None,
        ["1.0"],
        skipped="the gRPC extra is not installed (pip install 'a2actl[grpc]')",
    )
    (m,) = explain([ep], None)
    assert (m.severity, m.suggestion) == ("info", "pip install 'a2actl[grpc]'")
    assert ep.to_json()["skipped"] == ep.skipped and ep.to_json()["speaks"] == []
