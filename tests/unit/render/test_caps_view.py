"""``caps validate|snapshot|diff|fingerprint`` table views, rendered whole at 100 columns without
colour, from documents the real pure functions build (``validate_card``, ``diff_snapshots``) and a
hand-built fingerprint."""

from __future__ import annotations

import json
from typing import Any

import pytest

from a2actl.caps.diff import diff_snapshots
from a2actl.caps.results import DiffResult, Source, ValidateResult
from a2actl.caps.snapshot import snapshot
from a2actl.caps.validate import validate_card
from a2actl.render import caps as render_caps
from tests.unit.render.rendering import lines, render

CARD: dict[str, Any] = {
    "name": "Echo",
    "description": "echoes",
    "version": "1",
    "supportedInterfaces": [
        {"url": "https://agent.example.com/a2a", "protocolBinding": "JSONRPC", "protocolVersion": "1.0"},
        {"url": "http://0.0.0.0:9/rest", "protocolBinding": "HTTP+JSON", "protocolVersion": "1.0"},
    ],
    "capabilities": {"streaming": True},
    "defaultInputModes": ["text/plain"],
    "defaultOutputModes": ["text/plain"],
    "skills": [{"id": "echo", "name": "Echo", "description": "d", "tags": []}],
}
AFTER: dict[str, Any] = {
    **CARD,
    "description": "echoes back",
    "supportedInterfaces": [{**CARD["supportedInterfaces"][0], "url": "https://agent.example.com/v2"}],
    "capabilities": {"streaming": False},
}

FINGERPRINT: dict[str, Any] = {
    "source": "http://127.0.0.1:9/.well-known/agent-card.json",
    "shape": "hybrid",
    "verdict": "0.3-only",
    "speaks": ["0.3"],
    "declared": ["1.0", "0.3"],
    "endpoints": [
        {
            "url": "http://127.0.0.1:9/a2a/jsonrpc",
            "protocolBinding": "JSONRPC",
            "declaredVersions": ["1.0", "0.3"],
            "versionHeader": {"honoured": None, "missingHeaderReadAs": None},
            "probes": {"1.0": {"verdict": "rejects"}, "0.3": {"verdict": "answers"}},
        },
        {
            "url": "http://127.0.0.1:9/a2a/rest",
            "protocolBinding": "HTTP+JSON",
            "declaredVersions": ["1.0"],
            "versionHeader": {"honoured": True, "missingHeaderReadAs": "1.0"},
            "probes": {"1.0": {"verdict": "error"}},
        },
    ],
    "cardVariants": {"varies": True, "vary": "A2A-Version"},
    "bindingsAgree": False,
    "mismatches": [
        {
            "severity": "error",
            "message": "JSONRPC http://127.0.0.1:9/a2a/jsonrpc: the card declares 1.0 but 1.0 calls are rejected",
            "suggestion": "--a2a-version 0.3",
        }
    ],
    "notes": ["a note"],
}


def validate_doc(
    card: dict[str, Any], strict: bool = False, notes: list[str] | None = None
) -> dict[str, Any]:
    report = validate_card(card, None, strict=strict)
    return ValidateResult(Source("card.json", "file", notes or []), False, report).to_json()


def diff_doc(fail_on: str = "breaking") -> dict[str, Any]:
    changes = diff_snapshots(snapshot(CARD), snapshot(AFTER))
    return DiffResult(
        "targets", Source("blue.json", "file"), Source("green.json", "file"), None, fail_on, changes
    ).to_json()


VALIDATE_TABLE = """\
card.json: 1.0 card, checked against the 1.0 schema
error   /skills/0/tags  [] should be non-empty
        schema 1.0 · v1.0 §4.4.5 AgentSkill
error   /supportedInterfaces/1/url  interface url http://0.0.0.0:9/rest uses the unspecified address 0.0.0.0: a bind address, not one a client can call; advertise the public host name
        check non-routable-url · v1.0 §4.4.6 AgentInterface
schema violations: 1 schema error(s), 1 failed check(s), 0 warning(s)
"""

VALIDATE_STDERR = """\
warning: legacy path
"""

INVALID_TABLE = """\
card.json: unknown card, checked against the 1.0 schema (strict)
error   /description  'description' is a required property
        schema 1.0 · v1.0 §4.4.1 AgentCard
error   /supportedInterfaces  'supportedInterfaces' is a required property
        schema 1.0 · v1.0 §4.4.6 AgentInterface
error   /version  'version' is a required property
        schema 1.0 · v1.0 §4.4.1 AgentCard
error   /capabilities  'capabilities' is a required property
        schema 1.0 · v1.0 §4.4.3 AgentCapabilities
error   /defaultInputModes  'defaultInputModes' is a required property
        schema 1.0 · v1.0 §4.4.1 AgentCard
error   /defaultOutputModes  'defaultOutputModes' is a required property
        schema 1.0 · v1.0 §4.4.1 AgentCard
error   /skills  'skills' is a required property
        schema 1.0 · v1.0 §4.4.5 AgentSkill
error   /name  3 is not of type 'string'
        schema 1.0 · v1.0 §4.4.1 AgentCard
schema violations: 8 schema error(s), 0 failed check(s), 0 warning(s)
"""

DIFF_TABLE = """\
blue.json → green.json
breaking (3)

  path                        change                    reason
 ──────────────────────────────────────────────────────────────────────────────────────────────────
  /bindings                   - HTTP+JSON               binding HTTP+JSON dropped: clients that
                                                        speak only it cannot call the agent
  /capabilities/streaming     true → false              capabilities.streaming true→false: clients
                                                        relying on it fail
                                                        (UnsupportedOperationError -32004)
  /interfaces/HTTP+JSON@1.0   - http://0.0.0.0:9/rest   interface 'HTTP+JSON@1.0' removed: clients
                                                        using it fail

risky (1)

  path                          change                             reason
 ──────────────────────────────────────────────────────────────────────────────────────────────────
  /interfaces/JSONRPC@1.0/url   https://agent.example.com/a2a →    interface JSONRPC@1.0 moved to
                                https://agent.example.com/v2       another url: pinned clients and
                                                                   firewalls may break

cosmetic (1)

  path           change                 reason
 ──────────────────────────────────────────────────────────
  /description   echoes → echoes back   description edited

3 breaking, 1 risky, 1 cosmetic; --fail-on breaking: FAIL
"""

FINGERPRINT_TABLE = """\
http://127.0.0.1:9/.well-known/agent-card.json: speaks 0.3 (0.3-only); the card declares 1.0, 0.3

  binding     url                          declared   1.0        0.3       A2A-Version
 ──────────────────────────────────────────────────────────────────────────────────────────────────
  JSONRPC     http://127.0.0.1:9/a2a/jso   1.0, 0.3   rejected   answers   n/a
              nrpc
  HTTP+JSON   http://127.0.0.1:9/a2a/res   1.0        error      -         honoured; missing = 1.0
              t

1.0 = GetTask with 'A2A-Version: 1.0'; 0.3 = tasks/get without the header; both on a random task id (TaskNotFound = answers)
card: changes with A2A-Version (Vary: A2A-Version)
bindings: disagree
error: JSONRPC http://127.0.0.1:9/a2a/jsonrpc: the card declares 1.0 but 1.0 calls are rejected → try: --a2a-version 0.3
"""

FINGERPRINT_STDERR = """\
warning: a note
"""


def test_validate_lists_findings_with_pointer_check_and_section(monkeypatch: pytest.MonkeyPatch) -> None:
    out, err = render(render_caps.validate, validate_doc(CARD, notes=["legacy path"]), monkeypatch)
    assert lines(out) == VALIDATE_TABLE
    assert err == VALIDATE_STDERR


def test_validate_of_a_broken_card_in_strict_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    out, err = render(render_caps.validate, validate_doc({"name": 3}, strict=True), monkeypatch)
    assert lines(out) == INVALID_TABLE
    assert err == ""


def test_a_valid_card_says_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    card = {
        **CARD,
        "supportedInterfaces": CARD["supportedInterfaces"][:1],
        "skills": [{**CARD["skills"][0], "tags": ["t"]}],
    }
    out, _ = render(render_caps.validate, validate_doc(card), monkeypatch)
    assert lines(out) == (
        "card.json: 1.0 card, checked against the 1.0 schema\n"
        "valid: 0 schema error(s), 0 failed check(s), 0 warning(s)\n"
    )


def test_diff_groups_changes_by_class(monkeypatch: pytest.MonkeyPatch) -> None:
    out, err = render(render_caps.diff, diff_doc(), monkeypatch)
    assert lines(out) == DIFF_TABLE
    assert err == ""


def test_diff_without_changes_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    doc = DiffResult(
        "expect", Source("snap.json", "snapshot"), Source("card.json", "file"), "snapshot", "any", []
    ).to_json()
    out, _ = render(render_caps.diff, doc, monkeypatch)
    assert lines(out) == (
        "snap.json (snapshot) → card.json\nno changes\n0 breaking, 0 risky, 0 cosmetic; --fail-on any: pass\n"
    )


def test_snapshot_is_always_json(monkeypatch: pytest.MonkeyPatch) -> None:
    snap = snapshot(CARD)
    out, err = render(render_caps.snapshot, snap, monkeypatch)
    assert out == json.dumps(snap, indent=2, ensure_ascii=False) + "\n"
    assert err == ""


def test_fingerprint_sets_answers_against_the_card(monkeypatch: pytest.MonkeyPatch) -> None:
    out, err = render(render_caps.fingerprint, FINGERPRINT, monkeypatch)
    assert lines(out) == FINGERPRINT_TABLE
    assert err == FINGERPRINT_STDERR
