"""The caps jobs and ``card get`` over card files in a tmp dir (no network): typed results, their
exit codes and the ``-o json`` documents' keys."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from a2actl.caps.card import get_card
from a2actl.caps.checks import operational_findings
from a2actl.caps.jobs import diff_job, snapshot_job, validate_job
from a2actl.caps.snapshot import snapshot
from a2actl.core.config import Settings
from a2actl.core.errors import UsageError
from a2actl.core.exit_codes import ExitCode
from a2actl.protocol.card import parse_card

CARD: dict[str, Any] = {
    "name": "Echo",
    "description": "d",
    "version": "1",
    "supportedInterfaces": [
        {"url": "https://agent.example.com/a2a", "protocolBinding": "JSONRPC", "protocolVersion": "1.0"}
    ],
    "capabilities": {"streaming": True},
    "defaultInputModes": ["text/plain"],
    "defaultOutputModes": ["text/plain"],
    "skills": [{"id": "echo", "name": "Echo", "description": "d", "tags": ["t"]}],
}


def write(tmp_path: Path, name: str, doc: Any) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(doc), encoding="utf-8")
    return str(path)


def test_validate_a_valid_card_file(tmp_path: Path) -> None:
    path = write(tmp_path, "card.json", CARD)
    result = asyncio.run(validate_job(path, Settings(), None, card_path=None, strict=False, live=False))
    assert result.exit is ExitCode.OK
    doc = result.to_json()
    assert list(doc) == [
        "source", "finalUrl", "kind", "notes", "live", "shape", "schemas", "strict", "valid", "checksPassed", "counts",
        "findings", "truncated", "signature",
    ]  # fmt: skip
    assert (doc["source"], doc["kind"], doc["shape"], doc["schemas"]) == (path, "file", "1.0", ["1.0"])
    assert doc["signature"]["state"] == "absent" and doc["signature"]["signatures"] == []


def test_validate_exit_6_for_schema_violations_and_7_for_failed_checks(tmp_path: Path) -> None:
    bad = write(tmp_path, "bad.json", {"name": 3})
    result = asyncio.run(validate_job(bad, Settings(), None, card_path=None, strict=False, live=False))
    assert result.exit is ExitCode.PROTOCOL and result.report.exit_code() == 6
    unroutable = {
        **CARD,
        "supportedInterfaces": [{**CARD["supportedInterfaces"][0], "url": "http://0.0.0.0/a2a"}],
    }
    path = write(tmp_path, "unroutable.json", unroutable)
    result = asyncio.run(validate_job(path, Settings(), None, card_path=None, strict=False, live=False))
    assert result.exit is ExitCode.CHECK_FAILED
    assert [f.check for f in result.report.findings] == ["non-routable-url"]


def test_validate_live_needs_interfaces(tmp_path: Path) -> None:
    path = write(tmp_path, "none.json", {**CARD, "supportedInterfaces": []})
    with pytest.raises(UsageError, match="--live needs interfaces"):
        asyncio.run(validate_job(path, Settings(), None, card_path=None, strict=False, live=True))


def test_snapshot_job_snapshots_a_card_and_passes_a_snapshot_through(tmp_path: Path) -> None:
    card = write(tmp_path, "card.json", CARD)
    snap = asyncio.run(snapshot_job(card, Settings(), None, None))
    assert snap.exit is ExitCode.OK and snap.to_json() == snapshot(CARD)
    stored = {**snapshot(CARD), "name": "edited by hand"}
    again = asyncio.run(snapshot_job(write(tmp_path, "snap.json", stored), Settings(), None, None))
    assert again.to_json() == stored


def test_diff_targets_and_expect(tmp_path: Path) -> None:
    before = write(tmp_path, "before.json", CARD)
    after = write(tmp_path, "after.json", {**CARD, "capabilities": {"streaming": False}})
    result = asyncio.run(diff_job(before, after, None, Settings(), None, card_path=None, fail_on="breaking"))
    assert result.exit is ExitCode.CHECK_FAILED and result.failed
    doc = result.to_json()
    assert list(doc) == ["mode", "before", "after", "expectation", "failOn", "failed", "counts", "changes"]
    assert doc["mode"] == "targets" and doc["expectation"] is None
    assert doc["before"] == {"source": before, "finalUrl": None, "kind": "file", "notes": []}
    assert doc["counts"] == {"breaking": 1, "risky": 0, "cosmetic": 0}
    assert doc["changes"][0]["path"] == "/capabilities/streaming"

    req = write(tmp_path, "req.json", {"a2actlRequirements": 1, "skills": ["echo"]})
    result = asyncio.run(diff_job(after, None, req, Settings(), None, card_path=None, fail_on="any"))
    assert result.exit is ExitCode.OK
    assert result.to_json()["before"] == {
        "source": req,
        "finalUrl": None,
        "kind": "requirements",
        "notes": [],
    }
    assert result.to_json()["mode"] == "expect"


@pytest.mark.parametrize("other_and_expect", [(None, None), ("b.json", "e.json")])
def test_diff_needs_exactly_one_comparison(
    tmp_path: Path, other_and_expect: tuple[str | None, str | None]
) -> None:
    other, expect = other_and_expect
    with pytest.raises(UsageError, match="give either TARGET --expect FILE, or two targets"):
        asyncio.run(diff_job("a.json", other, expect, Settings(), None, card_path=None, fail_on="breaking"))


def test_diff_expectation_that_is_not_json_is_a_usage_error(tmp_path: Path) -> None:
    card = write(tmp_path, "card.json", CARD)
    (tmp_path / "e.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(UsageError, match="is not JSON"):
        asyncio.run(
            diff_job(card, None, str(tmp_path / "e.json"), Settings(), None, card_path=None, fail_on="any")
        )


def test_card_get_from_a_file(tmp_path: Path) -> None:
    path = write(tmp_path, "card.json", CARD)
    result = asyncio.run(get_card(path, Settings()))
    assert result.exit is ExitCode.OK
    doc = result.to_json()
    assert list(doc) == [
        "source",
        "finalUrl",
        "traceId",
        "fallbackUsed",
        "notes",
        "http",
        "card",
        "normalized",
    ]
    assert (doc["source"], doc["traceId"], doc["http"], doc["card"]) == (path, None, None, CARD)
    assert doc["normalized"]["name"] == "Echo" and doc["normalized"]["shape"] == "1.0"


def test_card_get_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot read card file"):
        asyncio.run(get_card(str(tmp_path / "nope.json"), Settings()))


@pytest.mark.parametrize(
    ("url", "card_url", "expected"),
    [
        ("https://agent.example.com/a2a", "https://agent.example.com/.well-known/agent-card.json", []),
        ("http://0.0.0.0:9/a2a", None, [("non-routable-url", "error")]),
        ("http://127.0.0.1:9/a2a", None, [("non-routable-url", "warning")]),
        (
            "http://127.0.0.1:9/a2a",
            "https://agent.example.com/.well-known/agent-card.json",
            [("non-routable-url", "error"), ("origin-mismatch", "warning")],
        ),
        ("ftp://agent.example.com/a2a", None, [("invalid-url", "error")]),
    ],
)
def test_operational_checks(url: str, card_url: str | None, expected: list[tuple[str, str]]) -> None:
    raw = {**CARD, "supportedInterfaces": [{**CARD["supportedInterfaces"][0], "url": url}]}
    findings = operational_findings(raw, parse_card(raw), card_url)
    assert [(f.check, f.severity) for f in findings] == expected
    assert all(f.pointer == "/supportedInterfaces/0/url" for f in findings)


def test_snapshot_and_card_get_results_hold_no_url_credential(tmp_path: Path) -> None:
    """The documents themselves are masked (``caps snapshot``, ``card get``), not left to the
    output's redaction of registered values: a table cell that cuts a URL inside a secret hides it
    from that redaction, and a snapshot is a file to commit."""
    iface = dict(CARD["supportedInterfaces"][0], url="https://u:jobs-pw-1@a.example/a2a?key=jobs-key-1")
    card = dict(CARD, supportedInterfaces=[iface])
    path = write(tmp_path, "card.json", card)
    masked = "https://u:***@a.example/a2a?key=***"
    snap = asyncio.run(snapshot_job(path, Settings(), None, None)).to_json()
    assert snap["interfaces"]["JSONRPC@1.0"]["url"] == masked
    got = asyncio.run(get_card(path, Settings())).to_json()
    assert got["card"]["supportedInterfaces"][0]["url"] == got["normalized"]["interfaces"][0]["url"] == masked
