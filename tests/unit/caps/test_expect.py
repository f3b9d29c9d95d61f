"""``caps diff --expect``: telling expectation files apart, requirements documents, version specs
and user JSON Schemas, each unmet expectation a breaking change at a snapshot pointer."""

from __future__ import annotations

from typing import Any

import pytest

from a2actl.caps.expect import check_requirements, check_schema, compare, kind_of, parse_version_spec
from a2actl.caps.snapshot import snapshot
from a2actl.core.errors import UsageError

CARD: dict[str, Any] = {
    "name": "Echo",
    "description": "d",
    "supportedInterfaces": [
        {"url": "http://127.0.0.1:9/a2a", "protocolBinding": "JSONRPC", "protocolVersion": "1.0"}
    ],
    "capabilities": {"streaming": False, "extensions": [{"uri": "urn:ext:a", "required": True}]},
    "defaultInputModes": ["text/plain"],
    "defaultOutputModes": ["text/plain"],
    "skills": [{"id": "echo", "name": "Echo", "description": "d", "tags": []}],
}
SNAP = snapshot(CARD)


def test_kind_of() -> None:
    assert kind_of(SNAP) == "snapshot"
    assert kind_of({"a2actlRequirements": 1}) == "requirements"
    assert kind_of({"$schema": "https://json-schema.org/draft/2020-12/schema"}) == "jsonSchema"
    assert kind_of(CARD) == "card"
    with pytest.raises(UsageError, match="neither a snapshot"):
        kind_of({"hello": "world"})


@pytest.mark.parametrize(
    ("spec", "parsed"),
    [
        ("1.0", ("==", (1, 0))),
        (">=0.3", (">=", (0, 3))),
        (" < 1.0.2 ", ("<", (1, 0))),
        ("=1.0", ("==", (1, 0))),
    ],
)
def test_parse_version_spec(spec: str, parsed: tuple[str, tuple[int, int]]) -> None:
    assert parse_version_spec(spec, "w") == parsed


@pytest.mark.parametrize("spec", ["~1.0", "one", 1.0, ">= 1"])
def test_parse_version_spec_rejects(spec: object) -> None:
    with pytest.raises(UsageError, match="is not a version requirement"):
        parse_version_spec(spec, "requirements: protocolVersion")


def test_requirements_met() -> None:
    req = {
        "a2actlRequirements": 1,
        "skills": ["echo"],
        "capabilities": {"streaming": False},
        "protocolVersion": ">=1.0",
        "bindings": ["JSONRPC"],
        "interfaces": [{"binding": "JSONRPC", "protocolVersion": "1.0"}],
        "defaultInputModes": ["text/plain"],
        "extensions": ["urn:ext:a"],
        "maxRequiredExtensions": 1,
        "security": "none",
    }
    assert check_requirements(req, SNAP) == []


def test_requirements_unmet_are_breaking_changes_with_reasons() -> None:
    req = {
        "a2actlRequirements": 1,
        "skills": ["translate"],
        "capabilities": {"streaming": True},
        "protocolVersion": "<1.0",
        "interfaces": [{"binding": "HTTP+JSON"}],
        "maxRequiredExtensions": 0,
        "security": "any",
    }
    changes = check_requirements(req, SNAP)
    assert all(c.klass == "breaking" for c in changes)
    assert [(c.path, c.op, c.reason) for c in changes] == [
        ("/skills/translate", "removed", "required skill 'translate' is missing"),
        ("/capabilities/streaming", "changed", "capabilities.streaming must be True, is False"),
        ("/protocolVersions", "changed", "no interface speaks protocol version <1.0 (declared: 1.0)"),
        ("/interfaces", "changed", "no interface with binding=HTTP+JSON"),
        ("/extensions", "changed", "1 required extension(s), at most 0 allowed"),
        (
            "/securityRequirements",
            "changed",
            "the agent requires no authentication; the requirements say it must",
        ),
    ]


@pytest.mark.parametrize(
    ("req", "message"),
    [
        ({"a2actlRequirements": 1, "skillz": []}, "unknown key"),
        ({"a2actlRequirements": 1, "skills": "echo"}, "'skills' must be a list of strings"),
        ({"a2actlRequirements": 1, "security": "maybe"}, "'security' must be"),
        ({"a2actlRequirements": 1, "maxRequiredExtensions": True}, "non-negative integer"),
        ({"a2actlRequirements": 1, "interfaces": [{"url": "x"}]}, r"interfaces\[0\]"),
    ],
)
def test_malformed_requirements_are_usage_errors(req: dict[str, Any], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        check_requirements(req, SNAP)


def test_json_schema_expectation() -> None:
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "properties": {"capabilities": {"properties": {"streaming": {"const": True}}}},
    }
    [ch] = check_schema(schema, SNAP)
    assert (ch.path, ch.klass, ch.after) == ("/capabilities/streaming", "breaking", False)
    assert ch.reason.startswith("schema: True was expected")
    with pytest.raises(UsageError, match="the expectation JSON Schema is invalid"):
        check_schema({"$schema": "https://json-schema.org/draft/2020-12/schema", "type": 5}, SNAP)


def test_compare_dispatches_on_the_kind() -> None:
    assert compare(SNAP, SNAP) == ("snapshot", [])
    kind, changes = compare({**CARD, "skills": []}, SNAP)
    assert kind == "card" and [(c.path, c.klass) for c in changes] == [("/skills/echo", "cosmetic")]


def test_a_schema_message_quotes_the_url_with_its_credentials_masked() -> None:
    """A JSON Schema violation quotes the value, cut at 200 characters: a long signed URL cut inside
    its signature printed the signature's start, which no whole-value masking could catch."""
    import copy

    signature = "f" * 40 + "SIGNATURE-0123456789" * 8
    card = copy.deepcopy(CARD)
    card["supportedInterfaces"][0]["url"] = "http://127.0.0.1:9/a2a?X-Amz-Signature=" + signature
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "properties": {
            "interfaces": {"additionalProperties": {"properties": {"url": {"pattern": "^https:"}}}}
        },
    }
    _, [change] = compare(schema, snapshot(card))
    masked = "http://127.0.0.1:9/a2a?X-Amz-Signature=***"
    assert change.after == masked
    assert change.reason == f"schema: '{masked}' does not match '^https:'"
