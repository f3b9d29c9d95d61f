"""The pure protocol core: version table, card normalisation, negotiation, error decoding, stats."""

from __future__ import annotations

import pytest

from a2actl.core.stats import percentile, summarize
from a2actl.probe.budget import parse_budgets
from a2actl.protocol.card import parse_card
from a2actl.protocol.events import classify_event
from a2actl.protocol.jsonrpc import EnvelopeError, decode_jsonrpc_error, decode_rest_error, split_response
from a2actl.protocol.negotiation import NegotiationFailed, known_versions, select_interface
from a2actl.protocol.versions import (
    CARD_PATHS,
    V0_3,
    V1_0,
    Family,
    StateKind,
    canonical_state,
    family_of,
    state_kind,
)


def test_version_table():
    assert CARD_PATHS == ("/.well-known/agent-card.json", "/.well-known/agent.json")  # newest first
    assert V0_3.methods["SendStreamingMessage"] == "message/stream"
    assert V1_0.methods["SendStreamingMessage"] == "SendStreamingMessage"
    assert "ListTasks" not in V0_3.methods and "ListTasks" in V1_0.methods
    assert V0_3.methods["SubscribeToTask"] == "tasks/resubscribe"
    assert V0_3.rest["GetTask"] == ("GET", "/v1/tasks/{id}") and V1_0.rest["GetTask"] == (
        "GET",
        "/tasks/{id}",
    )
    assert (V0_3.version_header, V1_0.version_header) == (None, "1.0")


@pytest.mark.parametrize(
    ("text", "family"),
    [
        ("0.2.5", Family.V0_2),
        ("0.3", Family.V0_3),
        ("0.3.0", Family.V0_3),
        ("1.0", Family.V1_0),
        ("1.0.1", Family.V1_0),
        ("2.0", None),
        (None, None),
        # read as a2a-sdk (Python) reads them; caps validate flags the spelling
        ("v1.0", Family.V1_0),
        (" 0.3 ", Family.V0_3),
        # digits only in ASCII: Python's int() takes these, no client does
        ("\uff11.\uff10", None),  # fullwidth １.０
        ("\u0661.\u0660", None),  # Arabic-Indic
        ("+1.0", None),
        ("0.0_3", None),
        ("1 .0", None),
    ],
)
def test_family_of(text, family):
    assert family_of(text) is family


def test_state_spellings():
    for s in ("canceled", "TASK_STATE_CANCELED", "TASK_STATE_CANCELLED"):
        assert canonical_state(s) == "canceled"
    assert state_kind("TASK_STATE_INPUT_REQUIRED") is StateKind.INTERRUPTED
    assert state_kind("completed") is StateKind.TERMINAL


def test_pure_v03_card_and_security_upgrade():
    v = parse_card(
        {
            "name": "a",
            "url": "http://h/rpc",
            "protocolVersion": "0.3.0",
            "additionalInterfaces": [{"url": "http://h/rest", "transport": "HTTP+JSON"}],
            "securitySchemes": {"k": {"type": "apiKey", "in": "header", "name": "X-Key"}},
            "security": [{"k": []}],
            "supportsAuthenticatedExtendedCard": True,
            "skills": [],
        }
    )
    assert v.shape == "0.3"
    assert [(i.protocol_binding, i.family) for i in v.interfaces] == [
        ("JSONRPC", Family.V0_3),
        ("HTTP+JSON", Family.V0_3),
    ]
    assert v.security_schemes["k"]["location"] == "header"
    assert v.security_requirements == [{"k": []}]
    assert v.capabilities["extendedAgentCard"] is True


def test_v1_card_security_requirements_and_rest_alias():
    v = parse_card(
        {
            "name": "a",
            "supportedInterfaces": [
                {"url": "http://h/x", "protocolBinding": "REST", "protocolVersion": "1.0.0"}
            ],
            "securitySchemes": {"g": {"openIdConnectSecurityScheme": {"openIdConnectUrl": "https://id"}}},
            "securityRequirements": [{"schemes": {"g": {"list": ["openid"]}}}],
        }
    )
    assert v.shape == "1.0"
    assert v.interfaces[0].protocol_binding == "HTTP+JSON"
    assert v.security_schemes["g"]["type"] == "openIdConnect"
    assert v.security_requirements == [{"g": ["openid"]}]


def test_card_problems_become_warnings_not_exceptions():
    v = parse_card({"name": 3, "url": "http://h", "skills": [1]})
    assert v.name is None and v.shape == "0.3"
    assert any("protocolVersion missing" in w for w in v.warnings)
    with pytest.raises(ValueError):
        parse_card([1, 2])


def test_selection_forced_version_and_errors():
    v1 = parse_card(
        {
            "supportedInterfaces": [
                {"url": "http://h/rpc", "protocolBinding": "JSONRPC", "protocolVersion": "1.0"}
            ]
        }
    )
    sel = select_interface(v1, "0.3")
    assert sel.forced and sel.family is Family.V0_3 and "forced" in sel.reason
    with pytest.raises(NegotiationFailed):
        select_interface(v1, "auto", "HTTP+JSON")
    grpc = parse_card(
        {"supportedInterfaces": [{"url": "h:1", "protocolBinding": "GRPC", "protocolVersion": "1.0"}]}
    )
    with pytest.raises(NegotiationFailed, match="no JSON-RPC or HTTP\\+JSON"):
        select_interface(grpc)


def test_an_interface_of_an_unknown_version_is_spoken_as_0_3_saying_so():
    card = parse_card(
        {"supportedInterfaces": [{"url": "h:1", "protocolBinding": "JSONRPC", "protocolVersion": "2.0"}]}
    )
    sel = select_interface(card)
    assert sel.family is Family.V0_3
    assert "protocolVersion '2.0' is not one a2actl knows" in sel.reason and "spoken as 0.3" in sel.reason
    known = parse_card(
        {"supportedInterfaces": [{"url": "h:1", "protocolBinding": "JSONRPC", "protocolVersion": "0.3.0"}]}
    )
    assert "not one a2actl knows" not in select_interface(known).reason


def test_known_versions_leaves_the_interfaces_of_unknown_versions_out():
    """fleet probe and the exporter (docs/fleet.md, docs/monitoring.md): an interface of a version
    a2actl does not know is no candidate; a card with nothing else fails, naming what it declares."""
    mixed = parse_card(
        {
            "supportedInterfaces": [
                {"url": "http://h/two", "protocolBinding": "JSONRPC", "protocolVersion": "2.0"},
                {"url": "http://h/three", "protocolBinding": "JSONRPC", "protocolVersion": "0.3.0"},
            ]
        }
    )
    assert select_interface(mixed).interface.url == "http://h/two"  # card order, spoken as 0.3
    sel = select_interface(known_versions(mixed))
    assert (sel.interface.url, sel.family) == ("http://h/three", Family.V0_3)
    unknown = parse_card(
        {
            "supportedInterfaces": [
                {"url": "http://h/x", "protocolBinding": "JSONRPC", "protocolVersion": "2.0"}
            ]
        }
    )
    with pytest.raises(
        NegotiationFailed, match=r"no A2A version a2actl speaks \(0.2, 0.3, 1.0\): JSONRPC 2.0"
    ):
        known_versions(unknown)


def test_decode_errors_all_shapes():
    v1 = decode_jsonrpc_error(
        {
            "code": -32001,
            "message": "Task not found",
            "data": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "TASK_NOT_FOUND"}],
        }
    )
    assert (v1.name, v1.error_class, v1.reason) == ("TaskNotFoundError", "permanent", "TASK_NOT_FOUND")
    v0 = decode_jsonrpc_error(
        {"code": -32002, "message": "x", "data": None}, method="tasks/cancel", family=Family.V0_3
    )
    assert v0.name == "TaskNotCancelableError" and not v0.version_mismatch
    assert decode_jsonrpc_error({"code": -32009, "message": "v"}).version_mismatch
    assert decode_jsonrpc_error({"code": -32601, "message": "m"}, method="SendMessage").version_mismatch
    assert not decode_jsonrpc_error(
        {"code": -32601, "message": "m"}, method="message/send", family=Family.V0_3
    ).version_mismatch
    assert decode_jsonrpc_error({"code": -32603, "message": "m"}).error_class == "transient"
    rest = decode_rest_error(
        404,
        {
            "error": {
                "code": 404,
                "status": "NOT_FOUND",
                "message": "Task not found",
                "details": [
                    {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "TASK_NOT_FOUND"}
                ],
            }
        },
    )
    assert rest.code == -32001
    js = decode_rest_error(404, {"code": -32001, "message": "Task not found: nope"})
    assert js.name == "TaskNotFoundError"
    assert decode_jsonrpc_error("garbage").name == "UnknownError"
    assert decode_jsonrpc_error({"code": -32050, "message": "custom"}).name == "ServerError"


def test_envelope_checks():
    assert split_response({"jsonrpc": "2.0", "id": 1, "result": {"a": 1}}, 1) == ({"a": 1}, None)
    for bad in (
        {"jsonrpc": "1.0", "id": 1, "result": 1},
        {"jsonrpc": "2.0", "id": 1},
        {"jsonrpc": "2.0", "id": 2, "result": 1},
        [1],
    ):
        with pytest.raises(EnvelopeError):
            split_response(bad, 1)


def test_stream_event_end_rules():
    assert classify_event({"kind": "status-update", "status": {"state": "working"}, "final": True}).final
    assert not classify_event(
        {"kind": "status-update", "status": {"state": "completed"}, "final": False}
    ).final
    assert classify_event({"statusUpdate": {"status": {"state": "TASK_STATE_INPUT_REQUIRED"}}}).final
    assert not classify_event({"task": {"id": "t", "status": {"state": "TASK_STATE_SUBMITTED"}}}).final
    assert classify_event({"message": {"messageId": "m"}}).final
    assert classify_event({"artifactUpdate": {"taskId": "t"}}).kind == "artifact-update"


def test_stats_and_budgets():
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert percentile([5.0], 99) == 5.0
    s = summarize([0.1, 0.2, 0.3])
    assert s["min"] == 0.1 and s["max"] == 0.3 and s["count"] == 3
    assert [(b.metric, b.limit) for b in parse_budgets(["5s", "rpc=250ms,ttfb=1"])] == [
        ("total", 5.0),
        ("rpc", 0.25),
        ("ttfb", 1.0),
    ]
    with pytest.raises(ValueError, match="unknown budget phase"):
        parse_budgets(["bogus=1s"])
