"""``caps diff``'s classification (breaking / risky / cosmetic, with the reason), the structural
diff underneath it, and ``--fail-on``."""

from __future__ import annotations

from typing import Any

import pytest

from a2actl.caps.diff import Change, classify, counts, diff_snapshots, failed, raw_changes


@pytest.mark.parametrize(
    ("path", "op", "before", "after", "klass", "reason"),
    [
        (
            "/skills/summarize",
            "removed",
            {},
            None,
            "breaking",
            "skill 'summarize' removed: clients using it fail",
        ),
        ("/skills/summarize", "added", None, {}, "cosmetic", "new skill 'summarize' (additive)"),
        ("/protocolVersions", "removed", "0.3", None, "breaking", "protocol version 0.3 dropped"),
        ("/bindings", "added", None, "GRPC", "cosmetic", "binding GRPC added (additive)"),
        (
            "/defaultInputModes",
            "removed",
            "text/plain",
            None,
            "breaking",
            "defaultInputModes no longer includes",
        ),
        (
            "/skills/s/inputModes",
            "removed",
            "image/png",
            None,
            "breaking",
            "skill 's' no longer supports input mode",
        ),
        ("/capabilities/streaming", "changed", True, False, "breaking", "capabilities.streaming true→false"),
        (
            "/capabilities/pushNotifications",
            "changed",
            False,
            True,
            "cosmetic",
            "capabilities.pushNotifications turned on",
        ),
        (
            "/interfaces/JSONRPC@1.0/url",
            "changed",
            "http://a",
            "http://b",
            "risky",
            "interface JSONRPC@1.0 moved",
        ),
        ("/interfaces/JSONRPC@1.0/preferred", "changed", True, False, "risky", "preferred interface changed"),
        ("/extensions/urn:x", "added", None, {"required": True}, "risky", "new required extension urn:x"),
        (
            "/extensions/urn:x",
            "added",
            None,
            {"required": False},
            "cosmetic",
            "extension urn:x added (optional)",
        ),
        ("/extensions/urn:x/required", "changed", False, True, "risky", "extension urn:x became required"),
        ("/securitySchemes/bearer", "removed", {}, None, "breaking", "security scheme 'bearer' removed"),
        (
            "/securitySchemes/bearer/description",
            "changed",
            "a",
            "b",
            "cosmetic",
            "security scheme 'bearer' description",
        ),
        # another kind of credential: clients holding bearer tokens cannot authenticate (was risky)
        (
            "/securitySchemes/bearer/scheme",
            "changed",
            "Bearer",
            "Basic",
            "breaking",
            "security scheme 'bearer' auth scheme changed",
        ),
        (
            "/securitySchemes/k/type",
            "changed",
            "http",
            "apiKey",
            "breaking",
            "security scheme 'k' type changed",
        ),
        (
            "/securitySchemes/k/location",
            "changed",
            "header",
            "query",
            "breaking",
            "security scheme 'k' API key",
        ),
        (
            "/securitySchemes/k/name",
            "changed",
            "X-Key",
            "X-Api-Key",
            "breaking",
            "security scheme 'k' API key",
        ),
        (
            "/securitySchemes/o/flows/clientCredentials",
            "removed",
            {},
            None,
            "breaking",
            "security scheme 'o': OAuth",
        ),
        (
            "/securitySchemes/o/flows",
            "removed",
            {},
            None,
            "breaking",
            "security scheme 'o': every OAuth 2 flow",
        ),
        # RFC 9110 §11.1: auth scheme names are case-insensitive (a 0.3 card's "bearer", 1.0's "Bearer")
        (
            "/securitySchemes/b/scheme",
            "changed",
            "bearer",
            "Bearer",
            "cosmetic",
            "security scheme 'b': only the case",
        ),
        # other settings stay risky: a token url moved, a flow or a scope added
        (
            "/securitySchemes/o/flows/clientCredentials/tokenUrl",
            "changed",
            "https://a/token",
            "https://b/token",
            "risky",
            "security scheme 'o' settings",
        ),
        ("/securitySchemes/o/flows/deviceCode", "added", None, {}, "risky", "security scheme 'o' settings"),
        (
            "/securitySchemes/b/bearerFormat",
            "changed",
            "JWT",
            "opaque",
            "risky",
            "security scheme 'b' settings",
        ),
        (
            "/duplicateSkillIds",
            "added",
            None,
            "echo",
            "risky",
            "skill id 'echo' now names more than one skill",
        ),
        ("/duplicateSkillIds", "removed", "echo", None, "cosmetic", "skill id 'echo' names one skill again"),
        ("/description", "changed", "a", "b", "cosmetic", "description edited"),
        ("/skills/s/tags", "added", None, "new", "cosmetic", "skill 's' tags edited"),
        ("/a2actlSnapshot", "changed", 1, 2, "risky", "snapshot format version differs"),
        ("/somethingElse", "changed", 1, 2, "risky", "unclassified change: review it"),
        ("", "changed", 1, 2, "breaking", "the document is not a capability snapshot"),
    ],
)
def test_classification(path: str, op: str, before: object, after: object, klass: str, reason: str) -> None:
    ch = classify(Change(path, op, before, after))
    assert (ch.klass, ch.path, ch.op) == (klass, path, op)
    assert ch.reason.startswith(reason), ch.reason


def test_security_requirements_added_to_an_open_agent_break_it() -> None:
    before: dict[str, Any] = {"securityRequirements": []}
    after: dict[str, Any] = {"securityRequirements": [{"bearer": []}]}
    [ch] = diff_snapshots(before, after)
    assert ch.klass == "breaking" and ch.reason.startswith("the agent now requires authentication")
    [back] = diff_snapshots(after, before)
    assert back.klass == "risky" and "no longer requires authentication" in back.reason


def test_a_removed_alternative_is_breaking_an_added_one_risky() -> None:
    before = {"securityRequirements": [{"bearer": []}, {"oauth": ["read"]}]}
    after = {"securityRequirements": [{"bearer": []}, {"oauth": ["read", "write"]}]}
    changes = diff_snapshots(before, after)
    assert [(c.op, c.klass) for c in changes] == [("removed", "breaking"), ("added", "risky")]


def test_raw_changes_compare_lists_as_sets_and_escape_pointer_tokens() -> None:
    assert raw_changes({"a": [1, 2]}, {"a": [2, 1]}) == []
    assert raw_changes({"a/b": [1]}, {"a/b": [1, 3]}) == [Change("/a~1b", "added", None, 3)]
    assert raw_changes({"x": 1}, {"x": "1"}) == [Change("/x", "changed", 1, "1")]


def test_changes_come_most_severe_first_then_by_path() -> None:
    before = {"description": "a", "skills": {"s": {}, "t": {}}, "capabilities": {"streaming": False}}
    after = {"description": "b", "skills": {}, "capabilities": {"streaming": True}}
    changes = diff_snapshots(before, after)
    assert [(c.klass, c.path) for c in changes] == [
        ("breaking", "/skills/s"),
        ("breaking", "/skills/t"),
        ("cosmetic", "/capabilities/streaming"),
        ("cosmetic", "/description"),
    ]
    assert counts(changes) == {"breaking": 2, "risky": 0, "cosmetic": 2}


@pytest.mark.parametrize(
    ("fail_on", "classes", "expected"),
    [
        ("breaking", ["risky", "cosmetic"], False),
        ("breaking", ["breaking"], True),
        ("risky", ["risky"], True),
        ("any", ["cosmetic"], True),
        ("none", ["breaking"], False),
    ],
)
def test_fail_on(fail_on: str, classes: list[str], expected: bool) -> None:
    changes = [Change("/x", "changed", 1, 2, k) for k in classes]
    assert failed(changes, fail_on) is expected
    assert Change("/x", "added", None, 2, "risky", "r").to_json() == {
        "path": "/x",
        "op": "added",
        "before": None,
        "after": 2,
        "class": "risky",
        "reason": "r",
    }


def _full() -> dict[str, Any]:
    from a2actl.caps.snapshot import snapshot
    from tests.unit.caps.test_snapshot import V03

    card = {**V03, "capabilities": {"streaming": True, "pushNotifications": True, "extensions": [
        {"uri": "https://x.example/ext", "required": True}]}}  # fmt: skip
    return snapshot(card)


@pytest.mark.parametrize(
    "member",
    [
        "skills", "interfaces", "capabilities", "protocolVersions", "bindings", "defaultInputModes",
        "defaultOutputModes", "securitySchemes", "securityRequirements", "extensions",
    ],
)  # fmt: skip
def test_a_member_left_out_reads_as_an_empty_one(member: str) -> None:
    """A snapshot without ``skills`` (hand-edited, truncated) lost every skill: each removal is
    breaking, as when the member is there but empty. It was one risky "unclassified" change, so
    --fail-on breaking (the default) passed a target that lost every skill, interface or
    capability."""
    before = _full()
    lacking = {k: v for k, v in before.items() if k != member}
    emptied = {**before, member: type(before[member])()}
    got = [(c.path, c.op, c.klass) for c in diff_snapshots(before, lacking)]
    assert got == [(c.path, c.op, c.klass) for c in diff_snapshots(before, emptied)]
    assert got, member
    if member not in ("securityRequirements", "extensions"):
        assert {c.klass for c in diff_snapshots(before, lacking)} >= {"breaking"}, member


def test_a_hand_written_expectation_that_leaves_out_a_member_is_not_a_change_of_it() -> None:
    """An expectation naming a skill but not its securityRequirements, and no capabilities: the
    target needing no authentication read as "now requires authentication ([])", breaking."""
    target = _full()
    target["securityRequirements"] = []
    target["skills"]["echo"]["securityRequirements"] = []
    expect = {"a2actlSnapshot": 1, "skills": {"echo": {"name": "Echo"}}}
    changes = diff_snapshots(expect, target)
    # only the extension the expectation does not name and clients must activate is not cosmetic
    assert [(c.path, c.klass) for c in changes if c.klass != "cosmetic"] == [
        ("/extensions/https:~1~1x.example~1ext", "risky")
    ]
    assert {c.path for c in changes} >= {"/skills/img", "/capabilities/streaming"}


def _with_url(url: str) -> dict[str, Any]:
    return {
        "a2actlSnapshot": 1,
        "interfaces": {"JSONRPC@1.0": {"url": url, "tenant": None, "preferred": True}},
        "documentationUrl": "https://docs.example/?sig=docs-sig-1",
    }


def test_credentials_in_urls_are_compared_masked_and_never_shown() -> None:
    """Only the password and ``token`` changed: one change (not 'no change'), both values masked,
    the reason says so; a changed host shows masked URLs; against a snapshot that holds ``***``
    (what ``caps snapshot`` writes) the values are unknown: their presence is compared, not them."""
    blue = _with_url("http://agent:pw-blue-1@h/rpc?token=tok-blue-1")
    green = _with_url("http://agent:pw-green-2@h/rpc?token=tok-green-2")
    masked = "http://agent:***@h/rpc?token=***"
    [change] = diff_snapshots(blue, green)
    assert (change.path, change.op, change.before, change.after, change.klass) == (
        "/interfaces/JSONRPC@1.0/url",
        "changed",
        masked,
        masked,
        "risky",
    )
    assert change.reason.startswith("interface JSONRPC@1.0: only the credentials in its url changed")
    assert diff_snapshots(blue, blue) == []
    moved = _with_url("http://agent:pw-green-2@elsewhere/rpc?token=tok-green-2")
    [change] = diff_snapshots(blue, moved)
    assert (change.before, change.after) == (masked, "http://agent:***@elsewhere/rpc?token=***")
    assert change.reason.startswith("interface JSONRPC@1.0 moved to another url")
    assert diff_snapshots(_with_url(masked), green) == []  # a masked snapshot: values unknown
    [change] = diff_snapshots(_with_url("http://h/rpc"), green)  # a credential appeared
    assert (change.before, change.after) == ("http://h/rpc", masked)
    docs = {**blue, "documentationUrl": "https://docs.example/?sig=docs-sig-2"}
    [change] = diff_snapshots(blue, docs)
    docs_masked = "https://docs.example/?sig=***"
    assert (change.klass, change.before, change.after) == ("cosmetic", docs_masked, docs_masked)
    assert (
        change.reason == "documentationUrl edited (only the credentials in its URL changed; values not shown)"
    )
