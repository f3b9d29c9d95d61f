"""The rule table is a contract: an id never changes meaning. This pins id → name → title →
severity (change a line here only to retire or add a rule, never to repurpose an id), and checks
that docs/lint-rules.md documents every rule under its own anchor with the same name, severity and
title."""

from __future__ import annotations

import re
from pathlib import Path

from a2actl.caps.lint_rules import BY_ID, RULES, matching

PINNED = {
    "A2A-SEC-001": ("plaintext-http", "Interface or auth URL over plain http outside loopback", "error"),
    "A2A-SEC-002": ("no-security-scheme", "No security scheme, but skills that take input", "warning"),
    "A2A-SEC-003": (
        "auth-not-enforced",
        "A declared credential is not required by the endpoint (--live)",
        "error",
    ),
    "A2A-SEC-004": ("removed-oauth-flow", "OAuth 2 flow deprecated by A2A 1.0 (implicit, password)", "error"),
    "A2A-SEC-005": ("push-without-auth", "Push notifications without an authentication scheme", "warning"),
    "A2A-SEC-006": ("credentials-in-url", "Credentials in a URL", "error"),
    "A2A-SEC-007": ("private-url", "Private, link-local or loopback URL in a public card", "error"),
    "A2A-SEC-008": ("interface-host-differs", "Interface host differs from the card's host", "info"),
    "A2A-SEC-009": ("instruction-text", "Instruction-like text aimed at models", "warning"),
    "A2A-SEC-010": ("unicode-tags", "Hidden Unicode tag characters (U+E0000-U+E007F)", "error"),
    "A2A-SEC-011": ("bidi-control", "Bidirectional control characters", "error"),
    "A2A-SEC-012": ("zero-width-run", "Run of zero-width characters", "warning"),
    "A2A-SEC-013": ("oversized-field", "Oversized field or card", "warning"),
    "A2A-SEC-014": ("missing-provider", "No provider", "info"),
    "A2A-SEC-015": ("missing-documentation-url", "No documentationUrl", "info"),
    "A2A-SEC-016": ("api-key-in-query", "API key sent in the query string", "warning"),
    "A2A-SEC-017": ("script-url", "URL with a scheme that runs code or reads local files", "error"),
    "A2A-SEC-018": ("duplicate-key", "Member repeated with different values", "error"),
    "A2A-SEC-019": ("undeclared-security-scheme", "Security requirement names an undeclared scheme", "error"),
}

DOC = Path(__file__).resolve().parents[2] / "docs" / "lint-rules.md"


def test_ids_never_change_meaning() -> None:
    assert {r.id: (r.name, r.title, r.severity) for r in RULES} == PINNED


def test_table_shape() -> None:
    assert [r.id for r in RULES] == sorted(BY_ID)  # in id order, no gaps hidden by order
    assert len({r.name for r in RULES}) == len(RULES)
    for r in RULES:
        assert re.fullmatch(r"A2A-SEC-\d{3}", r.id)
        assert r.severity in ("error", "warning", "info")
        for text in (r.title, r.why, r.fix, r.source):
            assert text and "\n" not in text
    assert [r.id for r in RULES if r.live] == ["A2A-SEC-003"]


def test_every_rule_is_documented_under_its_anchor() -> None:
    doc = DOC.read_text(encoding="utf-8")
    headings = re.findall(r"^### (A2A-SEC-\d{3})$", doc, re.M)
    assert headings == [r.id for r in RULES]
    for r in RULES:
        section = doc.split(f"### {r.id}\n", 1)[1].split("\n### ", 1)[0]
        assert f"**{r.name}** · {r.severity} · {r.title}" in section, r.id
        assert "- Why:" in section and "- Fix:" in section and "- Source:" in section, r.id


def test_matching() -> None:
    assert matching(["A2A-SEC-01"]) == {f"A2A-SEC-01{n}" for n in range(10)}
    assert matching(["a2a-sec-001", "bidi-control"]) == {"A2A-SEC-001", "A2A-SEC-011"}
    assert matching(["A2A-SEC"]) == set(BY_ID)
    try:
        matching(["A2A-SEC-9"])
    except ValueError as exc:
        assert "A2A-SEC-9" in str(exc)
    else:
        raise AssertionError("an unknown id must raise")


def test_rules_fit_github_code_scanning() -> None:
    # docs.github.com "SARIF support for code scanning", reportingDescriptor object: name up to 255
    # characters, shortDescription and fullDescription up to 1,024, at most 20 tags; a rule's
    # security-severity is over 0.0 and up to 10.0
    from a2actl.caps.sarif import _SECURITY_SEVERITY

    for r in RULES:
        assert len(r.name) <= 255 and len(r.title) <= 1024 and len(r.why) <= 1024, r.id
    assert all(0.0 < float(v) <= 10.0 for v in _SECURITY_SEVERITY.values())


def test_deprecated_oauth_flows_are_not_called_removed() -> None:
    # the 1.0 proto keeps OAuthFlows.implicit and .password, marked deprecated (a2a-sdk a2a_pb2)
    from a2a.types import a2a_pb2

    fields = a2a_pb2.OAuthFlows.DESCRIPTOR.fields_by_name
    assert fields["implicit"].GetOptions().deprecated and fields["password"].GetOptions().deprecated
    r = BY_ID["A2A-SEC-004"]
    assert "removed" not in r.title + r.why
