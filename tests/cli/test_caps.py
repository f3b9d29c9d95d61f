"""``a2actl caps``: validate, snapshot, diff, fingerprint, run as the real CLI against a2a-sdk
sandboxes (1.0-only, 0.3-compat with a hybrid card, 0.2 legacy card, a card that lies, a card that
varies by A2A-Version) and crafted card files."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

CARD_URL = "/.well-known/agent-card.json"


def fetch_card(sb: Any) -> dict[str, Any]:
    return httpx.get(sb.url + CARD_URL, timeout=5).json()


def write(tmp_path: Path, name: str, doc: Any) -> str:
    p = tmp_path / name
    p.write_text(json.dumps(doc), encoding="utf-8")
    return str(p)


def valid_v1_card(url: str = "https://agent.example.com/a2a") -> dict[str, Any]:
    return {
        "name": "crafted",
        "description": "a crafted 1.0 card",
        "version": "3.1.4",
        "supportedInterfaces": [{"url": url, "protocolBinding": "JSONRPC", "protocolVersion": "1.0"}],
        "capabilities": {"streaming": True, "pushNotifications": False},
        "defaultInputModes": ["text/plain"],
        "defaultOutputModes": ["text/plain"],
        "skills": [{"id": "summarize", "name": "Summarize", "description": "d", "tags": ["t"]}],
    }


def pointers(doc: dict[str, Any], kind: str | None = None) -> set[str]:
    return {f["pointer"] for f in doc["findings"] if kind is None or f["kind"] == kind}


# ------------------------------------------------------------------------------------------ validate


def test_validate_hybrid_card_against_both_schemas(cli: Any, sandbox: Any) -> None:
    r = cli("caps", "validate", sandbox.url, "-o", "json")
    assert r.exit_code == 0, r.stderr
    doc = r.json
    assert doc["shape"] == "hybrid"
    assert doc["schemas"] == ["1.0", "0.3"]
    assert doc["valid"] is True and doc["checksPassed"] is True
    assert [f for f in doc["findings"] if f["severity"] == "error"] == []


def test_validate_hybrid_card_strict_fails_with_pointers(cli: Any, sandbox: Any) -> None:
    r = cli("caps", "validate", sandbox.url, "--strict", "-o", "json")
    assert r.exit_code == 6
    doc = r.json
    schema_errors = [f for f in doc["findings"] if f["kind"] == "schema"]
    # The closed 1.0 schema rejects the v0.3 fields the SDK adds next to supportedInterfaces.
    assert all(f["schema"] == "1.0" for f in schema_errors)
    assert any("additionalInterfaces" in f["message"] for f in schema_errors)
    assert {f["check"] for f in doc["findings"] if f["kind"] == "check"} == {"hybrid-card"}


def test_validate_v1_only_card(cli: Any, sandbox_v1: Any) -> None:
    doc = cli("caps", "validate", sandbox_v1.url, "--strict", "-o", "json").json
    assert (doc["shape"], doc["schemas"], doc["valid"]) == ("1.0", ["1.0"], True)


def test_validate_v1_card_as_03_names_the_missing_url(cli: Any, sandbox_v1: Any) -> None:
    r = cli("caps", "validate", sandbox_v1.url, "--a2a-version", "0.3", "-o", "json")
    assert r.exit_code == 6
    assert pointers(r.json, "schema") == {"/url"}
    assert r.json["findings"][0]["section"].startswith("v0.3 §")


def test_validate_legacy_02_card(cli: Any, sandbox_legacy: Any) -> None:
    r = cli("caps", "validate", sandbox_legacy.url, "-o", "json")
    assert r.exit_code == 0, r.stdout
    assert r.json["shape"] == "0.2" and r.json["schemas"] == ["0.3"]
    assert r.json["source"].endswith("/.well-known/agent.json")


def test_validate_reports_every_violation_with_pointers(cli: Any, tmp_path: Path) -> None:
    card = valid_v1_card()
    del card["description"], card["version"]
    card["capabilities"]["streaming"] = "yes"
    card["defaultInputModes"] = []
    card["skills"] = [{"id": "s1"}]
    del card["supportedInterfaces"][0]["protocolVersion"]
    r = cli("caps", "validate", write(tmp_path, "broken.json", card), "-o", "json")
    assert r.exit_code == 6
    found = pointers(r.json, "schema")
    assert {
        "/description",
        "/version",
        "/capabilities/streaming",
        "/defaultInputModes",
        "/skills/0/name",
        "/skills/0/description",
        "/skills/0/tags",
        "/supportedInterfaces/0/protocolVersion",
    } <= found
    sections = {f["pointer"]: f["section"] for f in r.json["findings"] if f["kind"] == "schema"}
    assert sections["/skills/0/name"] == "v1.0 §4.4.5 AgentSkill"
    assert sections["/capabilities/streaming"] == "v1.0 §4.4.3 AgentCapabilities"
    assert (
        r.json["counts"]["schemaErrors"]
        == len(r.json["findings"]) - r.json["counts"]["checkErrors"] - r.json["counts"]["warnings"]
    )


def test_10_schema_enforces_at_most_one_oneof_member() -> None:
    from jsonschema import Draft202012Validator

    from a2actl.schemas import load_schema

    schema = load_schema("1.0")
    schema["$ref"] = "#/$defs/Part"
    errors = list(Draft202012Validator(schema).iter_errors({"text": "a", "url": "https://x"}))
    assert len(errors) == 1 and errors[0].validator == "not"
    assert list(Draft202012Validator(schema).iter_errors({"text": "a"})) == []


def test_validate_non_routable_urls_fail_the_checks(cli: Any, tmp_path: Path) -> None:
    card = valid_v1_card("http://0.0.0.0:8080/a2a")
    card["supportedInterfaces"].append(
        {"url": "http://[::]:8080/rest", "protocolBinding": "HTTP+JSON", "protocolVersion": "1.0"}
    )
    r = cli("caps", "validate", write(tmp_path, "unroutable.json", card), "-o", "json")
    assert r.exit_code == 7
    bad = [f for f in r.json["findings"] if f["check"] == "non-routable-url"]
    assert {f["pointer"] for f in bad} == {"/supportedInterfaces/0/url", "/supportedInterfaces/1/url"}
    assert all(f["severity"] == "error" for f in bad)


def test_validate_an_interface_with_an_empty_url_fails_the_checks(cli: Any, tmp_path: Path) -> None:
    """``"url": ""`` passes both schemas (a string) and the interface was left out of the checks:
    a card whose only interface has no url validated as valid (exit 0), while ``handshake probe``
    fails on it ("the card declares no JSON-RPC or HTTP+JSON interface")."""
    card = valid_v1_card("")
    r = cli("caps", "validate", write(tmp_path, "v1.json", card), "-o", "json")
    assert r.exit_code == 7, r.stdout
    assert r.json["valid"] is True and r.json["checksPassed"] is False
    assert [(f["check"], f["severity"], f["pointer"]) for f in r.json["findings"]] == [
        ("invalid-url", "error", "/supportedInterfaces/0/url")
    ]
    v03 = {
        "name": "old",
        "description": "d",
        "version": "1",
        "protocolVersion": "0.3.0",
        "url": "",
        "additionalInterfaces": [
            {"url": "", "transport": "HTTP+JSON"},
            {"url": "https://agent.example.com/rpc", "transport": "JSONRPC"},
        ],
        "capabilities": {},
        "defaultInputModes": ["text/plain"],
        "defaultOutputModes": ["text/plain"],
        "skills": [{"id": "a", "name": "a", "description": "a", "tags": []}],
    }
    r = cli("caps", "validate", write(tmp_path, "v03.json", v03), "-o", "json")
    assert r.exit_code == 7, r.stdout
    assert [(f["check"], f["pointer"]) for f in r.json["findings"] if f["severity"] == "error"] == [
        ("invalid-url", "/url"),
        ("invalid-url", "/additionalInterfaces/0/url"),
    ]


def test_operational_checks_for_a_public_card() -> None:
    from a2actl.caps.validate import validate_card

    card = valid_v1_card("http://127.0.0.1:9999/a2a")
    card["supportedInterfaces"].append(
        {"url": "http://api.other.example/a2a", "protocolBinding": "HTTP+JSON", "protocolVersion": "1.0"}
    )
    card["securitySchemes"] = {"bearer": {"httpAuthSecurityScheme": {"scheme": "Bearer"}}}
    report = validate_card(card, "https://agent.example.com/.well-known/agent-card.json")
    by_check: dict[str, list[Any]] = {}
    for f in report.findings:
        by_check.setdefault(f.check or "schema", []).append(f)
    assert [f.pointer for f in by_check["non-routable-url"]] == ["/supportedInterfaces/0/url"]
    assert {f.severity for f in by_check["origin-mismatch"]} == {"warning"}
    assert {f.pointer for f in by_check["plaintext-with-security"] if f.severity == "error"} == {
        "/supportedInterfaces/1/url"
    }
    assert report.exit_code() == 7
    strict = validate_card(card, "https://agent.example.com/.well-known/agent-card.json", strict=True)
    assert {f.severity for f in strict.findings if f.check == "origin-mismatch"} == {"error"}


def test_validate_missing_protocol_version_on_03_card(cli: Any, tmp_path: Path) -> None:
    card = {
        "name": "old",
        "description": "d",
        "version": "1",
        "url": "http://127.0.0.1:1/rpc",
        "capabilities": {},
        "defaultInputModes": ["text/plain"],
        "defaultOutputModes": ["text/plain"],
        "skills": [{"id": "a", "name": "a", "description": "a", "tags": []}],
    }
    r = cli("caps", "validate", write(tmp_path, "agent.json", card), "-o", "json")
    assert r.exit_code == 7
    assert [(f["check"], f["pointer"]) for f in r.json["findings"] if f["severity"] == "error"] == [
        ("protocol-version", "/protocolVersion")
    ]
    card["protocolVersion"] = "banana"
    r = cli("caps", "validate", write(tmp_path, "agent.json", card), "-o", "json")
    assert r.exit_code == 7 and "banana" in r.json["findings"][0]["message"]


def test_validate_live_finds_a_capability_the_agent_does_not_have(cli: Any, sandbox_lying: Any) -> None:
    r = cli("caps", "validate", sandbox_lying.url, "--live", "-o", "json")
    assert r.exit_code == 7
    contradicted = [f for f in r.json["findings"] if f["check"] == "capability-contradicted"]
    assert [(f["pointer"], f["severity"]) for f in contradicted] == [
        ("/capabilities/pushNotifications", "error")
    ]
    assert "-32003" in contradicted[0]["message"]


def test_validate_live_finds_claimed_streaming_the_agent_does_not_do(
    cli: Any, sandbox_lying_streaming: Any
) -> None:
    """``sandbox serve --claim-capability streaming`` serves a card that lies: the agent refuses
    streaming (it streamed anyway, so the card was honest and ``--live`` found nothing)."""
    assert fetch_card(sandbox_lying_streaming)["capabilities"]["streaming"] is True
    r = cli("caps", "validate", sandbox_lying_streaming.url, "--live", "-o", "json")
    assert r.exit_code == 7, r.stdout
    contradicted = [f for f in r.json["findings"] if f["check"] == "capability-contradicted"]
    assert [(f["pointer"], f["severity"]) for f in contradicted] == [("/capabilities/streaming", "error")]
    assert "-32004" in contradicted[0]["message"]
    r = cli("send", sandbox_lying_streaming.url, "hi", "--stream", "-o", "json")
    assert r.exit_code == 1
    assert r.json["error"]["a2aCode"] == -32004


def test_validate_live_on_an_honest_agent_passes(cli: Any, sandbox: Any) -> None:
    r = cli("caps", "validate", sandbox.url, "--live", "-o", "json")
    assert r.exit_code == 0, r.stdout
    assert r.json["live"] is True
    assert [f for f in r.json["findings"] if f["severity"] == "error"] == []


def test_validate_live_does_not_read_a_result_that_is_no_object_as_working(cli: Any, fault: str) -> None:
    """The fault server's ``/resultlist/`` endpoint answers every call ``[1, 2, 3]``: that said
    "capabilities.pushNotifications is false but GetTaskPushNotificationConfig works (result)" (and
    the same for the extended card; one declared true would have passed in silence). A push config
    and an agent card are objects: such a result checks nothing."""
    r = cli("caps", "validate", fault + "/resultlist/agent-card.json", "--live", "-o", "json")
    live = {
        f["pointer"]: (f["severity"], f["message"])
        for f in r.json["findings"]
        if f["check"] == "capability-contradicted"
    }
    for capability, operation in (
        ("pushNotifications", "GetTaskPushNotificationConfig"),
        ("extendedAgentCard", "GetExtendedAgentCard"),
    ):
        assert live[f"/capabilities/{capability}"] == (
            "warning",
            f"could not check {capability}: {operation} → a result that is not a JSON object (list)",
        )


def test_validate_live_finds_a_declared_version_the_endpoint_rejects(cli: Any, sandbox_strip: Any) -> None:
    r = cli("caps", "validate", sandbox_strip.url, "--live", "-o", "json")
    assert r.exit_code == 7
    assert {f["check"] for f in r.json["findings"] if f["severity"] == "error"} == {"interface-contradicted"}


def test_validate_table_output(cli: Any, tmp_path: Path) -> None:
    r = cli("caps", "validate", write(tmp_path, "c.json", {"name": 1}))
    assert r.exit_code == 6
    assert "schema violations" in r.stdout and "/description" in r.stdout


# ------------------------------------------------------------------------------------------ snapshot


def test_snapshot_is_stable_and_leaves_out_volatile_fields(cli: Any, sandbox: Any, tmp_path: Path) -> None:
    first = cli("caps", "snapshot", sandbox.url)
    assert first.exit_code == 0
    assert first.stdout == cli("caps", "snapshot", sandbox.url).stdout
    snap = first.json
    assert snap["a2actlSnapshot"] == 1
    assert "version" not in snap and "signatures" not in snap
    assert snap["protocolVersions"] == ["0.3", "1.0"]
    assert snap["interfaces"]["JSONRPC@1.0"]["preferred"] is True
    card = fetch_card(sandbox)
    card["version"] = "9.9.9"
    card["signatures"] = [{"protected": "x", "signature": "y"}]
    again = cli("caps", "snapshot", write(tmp_path, "card.json", card)).json
    assert again == snap


def test_snapshot_is_the_same_for_a_03_and_a_10_card_of_one_agent(cli: Any, tmp_path: Path) -> None:
    v1 = valid_v1_card()
    v03 = {k: v for k, v in v1.items() if k != "supportedInterfaces"}
    v03 |= {
        "url": "https://agent.example.com/a2a",
        "protocolVersion": "0.3.0",
        "preferredTransport": "JSONRPC",
    }
    s1 = cli("caps", "snapshot", write(tmp_path, "v1.json", v1)).json
    s03 = cli("caps", "snapshot", write(tmp_path, "v03.json", v03)).json
    assert {k: v for k, v in s1.items() if k not in ("interfaces", "protocolVersions")} == {
        k: v for k, v in s03.items() if k not in ("interfaces", "protocolVersions")
    }
    assert s1["interfaces"]["JSONRPC@1.0"]["url"] == s03["interfaces"]["JSONRPC@0.3"]["url"]


# ------------------------------------------------------------------------------------------ diff


def test_diff_against_own_snapshot_exits_0(cli: Any, sandbox: Any, tmp_path: Path) -> None:
    snap = cli("caps", "snapshot", sandbox.url).stdout
    (tmp_path / "expected.json").write_text(snap)
    r = cli("caps", "diff", sandbox.url, "--expect", str(tmp_path / "expected.json"), "-o", "json")
    assert r.exit_code == 0
    assert r.json["changes"] == [] and r.json["expectation"] == "snapshot" and r.json["failed"] is False


def test_diff_streaming_flip_is_breaking_and_named(cli: Any, sandbox_v1: Any, tmp_path: Path) -> None:
    card = fetch_card(sandbox_v1)
    flipped = copy.deepcopy(card)
    flipped["capabilities"]["streaming"] = False
    snap = write(tmp_path, "expected.json", cli("caps", "snapshot", sandbox_v1.url).json)
    r = cli(
        "caps",
        "diff",
        write(tmp_path, "flipped.json", flipped),
        "--expect",
        snap,
        "--fail-on",
        "breaking",
        "-o",
        "json",
    )
    assert r.exit_code == 7
    assert [(c["path"], c["before"], c["after"], c["class"]) for c in r.json["changes"]] == [
        ("/capabilities/streaming", True, False, "breaking")
    ]
    table = cli("caps", "diff", write(tmp_path, "flipped.json", flipped), "--expect", snap)
    assert table.exit_code == 7 and "/capabilities/streaming" in table.stdout


def test_diff_blue_green_deployments(cli: Any, sandbox: Any, sandbox_v1: Any) -> None:
    r = cli("caps", "diff", sandbox.url, sandbox_v1.url, "-o", "json")
    assert r.exit_code == 7
    changes = {(c["path"], c["op"]): c for c in r.json["changes"]}
    assert changes[("/interfaces/JSONRPC@0.3", "removed")]["class"] == "breaking"
    assert changes[("/protocolVersions", "removed")]["before"] == "0.3"
    assert changes[("/interfaces/JSONRPC@1.0/url", "changed")]["class"] == "risky"
    assert r.json["mode"] == "targets" and r.json["expectation"] is None
    assert cli("caps", "diff", sandbox.url, sandbox_v1.url, "--fail-on", "none").exit_code == 0


def test_diff_fail_on_levels(cli: Any, tmp_path: Path) -> None:
    a = valid_v1_card()
    b = copy.deepcopy(a)
    b["description"] = "edited"
    pa, pb = write(tmp_path, "a.json", a), write(tmp_path, "b.json", b)
    assert cli("caps", "diff", pa, pb).exit_code == 0
    assert cli("caps", "diff", pa, pb, "--fail-on", "risky").exit_code == 0
    r = cli("caps", "diff", pa, pb, "--fail-on", "any", "-o", "json")
    assert r.exit_code == 7 and r.json["counts"] == {"breaking": 0, "risky": 0, "cosmetic": 1}


def test_diff_requirements_document(cli: Any, sandbox: Any, tmp_path: Path) -> None:
    ok = {
        "a2actlRequirements": 1,
        "skills": ["echo"],
        "capabilities": {"streaming": True},
        "protocolVersion": ">=1.0",
        "bindings": ["JSONRPC"],
        "interfaces": [{"binding": "HTTP+JSON", "protocolVersion": "0.3"}],
        "defaultInputModes": ["text/plain"],
        "security": "none",
        "maxRequiredExtensions": 0,
    }
    r = cli("caps", "diff", sandbox.url, "--expect", write(tmp_path, "req.json", ok), "-o", "json")
    assert r.exit_code == 0, r.stdout
    assert r.json["expectation"] == "requirements"
    unmet = {
        "a2actlRequirements": 1,
        "skills": ["summarize"],
        "capabilities": {"extendedAgentCard": True},  # the sandbox serves no extended card
        "protocolVersion": ">=2.0",
        "bindings": ["GRPC"],
    }
    r = cli("caps", "diff", sandbox.url, "--expect", write(tmp_path, "req.json", unmet), "-o", "json")
    assert r.exit_code == 7
    assert sorted(c["path"] for c in r.json["changes"]) == [
        "/bindings",
        "/capabilities/extendedAgentCard",
        "/protocolVersions",
        "/skills/summarize",
    ]
    assert {c["class"] for c in r.json["changes"]} == {"breaking"}


def test_diff_json_schema_expectation(cli: Any, sandbox: Any, tmp_path: Path) -> None:
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "properties": {
            "capabilities": {
                # the sandbox pushes (pushNotifications: true): a card that does breaks this schema
                "properties": {"pushNotifications": {"const": False}, "streaming": {"const": True}}
            }
        },
        "required": ["skills"],
    }
    r = cli("caps", "diff", sandbox.url, "--expect", write(tmp_path, "s.json", schema), "-o", "json")
    assert r.exit_code == 7
    assert r.json["expectation"] == "jsonSchema"
    assert [c["path"] for c in r.json["changes"]] == ["/capabilities/pushNotifications"]


@pytest.mark.parametrize(
    "doc, needle",
    [
        ({"hello": "world"}, "neither a snapshot"),
        ({"a2actlRequirements": 1, "skils": ["x"]}, "unknown key"),
        ({"a2actlRequirements": 1, "protocolVersion": "latest"}, "not a version requirement"),
        ({"$schema": "https://json-schema.org/draft/2020-12/schema", "type": 12}, "JSON Schema is invalid"),
    ],
)
def test_diff_bad_expectation_is_usage_error(
    cli: Any, sandbox: Any, tmp_path: Path, doc: Any, needle: str
) -> None:
    r = cli("caps", "diff", sandbox.url, "--expect", write(tmp_path, "bad.json", doc), "-o", "json")
    assert r.exit_code == 2
    assert needle in r.json["error"]["message"]
    assert "Traceback" not in r.stderr


def test_diff_needs_exactly_one_comparison(cli: Any, sandbox: Any, tmp_path: Path) -> None:
    assert cli("caps", "diff", sandbox.url).exit_code == 2
    snap = write(tmp_path, "s.json", {"a2actlSnapshot": 1})
    assert cli("caps", "diff", sandbox.url, sandbox.url, "--expect", snap).exit_code == 2
    notjson = tmp_path / "x.json"
    notjson.write_text("{nope")
    r = cli("caps", "diff", sandbox.url, "--expect", str(notjson))
    assert r.exit_code == 2 and "not JSON" in r.stderr


def test_classification_rules() -> None:
    from a2actl.caps.diff import diff_snapshots
    from a2actl.caps.snapshot import snapshot

    before = valid_v1_card()
    before["capabilities"]["extensions"] = [{"uri": "https://ext/a", "required": False}]
    after = copy.deepcopy(before)
    after["skills"] = [{"id": "translate", "name": "T", "description": "d", "tags": []}]
    after["defaultOutputModes"] = ["application/json"]
    after["supportedInterfaces"][0]["url"] = "https://agent.example.com/a2a/v2"
    after["capabilities"]["extensions"][0]["required"] = True
    after["securitySchemes"] = {"bearer": {"httpAuthSecurityScheme": {"scheme": "Bearer"}}}
    after["securityRequirements"] = [{"schemes": {"bearer": {"list": []}}}]
    got = {(c.path, c.op): c.klass for c in diff_snapshots(snapshot(before), snapshot(after))}
    assert got[("/skills/summarize", "removed")] == "breaking"
    assert got[("/skills/translate", "added")] == "cosmetic"
    assert got[("/defaultOutputModes", "removed")] == "breaking"
    assert got[("/defaultOutputModes", "added")] == "cosmetic"
    assert got[("/interfaces/JSONRPC@1.0/url", "changed")] == "risky"
    assert got[("/extensions/https:~1~1ext~1a/required", "changed")] == "risky"
    assert got[("/securityRequirements", "added")] == "breaking"
    # Tightening an existing requirement (a scope added) removes the old alternative: breaking.
    tighter = copy.deepcopy(after)
    tighter["securityRequirements"] = [{"schemes": {"bearer": {"list": ["admin"]}}}]
    got = {(c.path, c.op): c.klass for c in diff_snapshots(snapshot(after), snapshot(tighter))}
    assert got[("/securityRequirements", "removed")] == "breaking"


# ------------------------------------------------------------------------------------------ fingerprint


def test_fingerprint_tells_10_only_from_03_compat(cli: Any, sandbox: Any, sandbox_v1: Any) -> None:
    v1 = cli("caps", "fingerprint", sandbox_v1.url, "-o", "json")
    compat = cli("caps", "fingerprint", sandbox.url, "-o", "json")
    assert (v1.exit_code, compat.exit_code) == (0, 0)
    assert (v1.json["verdict"], v1.json["speaks"]) == ("1.0-only", ["1.0"])
    assert (compat.json["verdict"], compat.json["speaks"]) == ("0.3-compat", ["1.0", "0.3"])
    for ep in v1.json["endpoints"]:
        assert ep["probes"]["0.3"]["verdict"] == "rejects"
        assert ep["versionHeader"] == {"honoured": True, "missingHeaderReadAs": "0.3"}
    assert v1.json["bindingsAgree"] is True
    assert [m for m in v1.json["mismatches"] if m["severity"] != "info"] == []


def test_fingerprint_explains_a_stripped_version_header(cli: Any, sandbox_strip: Any) -> None:
    r = cli("caps", "fingerprint", sandbox_strip.url, "-o", "json")
    assert r.exit_code == 7
    errors = [m for m in r.json["mismatches"] if m["severity"] == "error"]
    assert len(errors) == 2  # JSON-RPC and HTTP+JSON
    assert all("--a2a-version 0.3" in m["suggestion"] for m in errors)
    assert r.json["verdict"] == "0.3-only"
    table = cli("caps", "fingerprint", sandbox_strip.url)
    assert table.exit_code == 7 and "try: --a2a-version 0.3" in table.stdout


def test_fingerprint_notes_undeclared_versions(cli: Any, sandbox_v03: Any) -> None:
    r = cli("caps", "fingerprint", sandbox_v03.url, "-o", "json")
    assert r.exit_code == 0
    assert r.json["declared"] == ["0.3"] and r.json["speaks"] == ["1.0", "0.3"]
    assert {m["severity"] for m in r.json["mismatches"]} == {"info"}
    assert all("--a2a-version 1.0" in m["suggestion"] for m in r.json["mismatches"])


def test_fingerprint_card_that_varies_by_version(cli: Any, sandbox_vary: Any, sandbox: Any) -> None:
    r = cli("caps", "fingerprint", sandbox_vary.url, "-o", "json")
    assert r.exit_code == 0
    cv = r.json["cardVariants"]
    assert cv["varies"] is True and cv["varyNamesVersion"] is True
    assert cv["byHeader"]["1.0"]["sha256"] != cv["byHeader"]["none"]["sha256"]
    assert cli("caps", "fingerprint", sandbox.url, "-o", "json").json["cardVariants"]["varies"] is False


def test_fingerprint_does_not_count_a_success_that_is_no_task_as_speaking(cli: Any, fault: str) -> None:
    """A GetTask on a random id answered with a success whose result is no Task (JSON-RPC
    ``[1, 2, 3]``; HTTP+JSON ``{"detail": "ok"}`` with 200, a catch-all route) counted as "answers":
    the fingerprint said the endpoint speaks 1.0 and 0.3 (``0.3-compat``) where ``handshake probe``
    reads the same answer as a protocol violation (exit 6)."""
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from tests.servers import LoopbackServer

    r = cli("caps", "fingerprint", fault + "/resultlist/agent-card.json", "-o", "json")
    assert r.exit_code == 6, r.stdout  # no probe got an answer: the failure's own code, as handshake probe
    assert (r.json["verdict"], r.json["speaks"]) == ("none", [])
    [ep] = r.json["endpoints"]
    assert {f: p["verdict"] for f, p in ep["probes"].items()} == {"1.0": "error", "0.3": "error"}
    assert ep["probes"]["1.0"]["detail"] == "HTTP 200, the GetTask result is not a Task"
    assert ep["probes"]["0.3"]["detail"] == "HTTP 200, the tasks/get result is not a Task"

    def app(base: str) -> Starlette:
        card = valid_v1_card(base + "/rest")
        card["supportedInterfaces"][0]["protocolBinding"] = "HTTP+JSON"
        return Starlette(
            routes=[
                Route(CARD_URL, lambda _: JSONResponse(card)),
                Route("/rest/{path:path}", lambda _: JSONResponse({"detail": "ok"})),
            ]
        )

    with LoopbackServer(app) as srv:
        r = cli("caps", "fingerprint", srv.url, "-o", "json")
    assert r.exit_code == 6, r.stdout
    assert (r.json["verdict"], r.json["speaks"]) == ("none", [])
    [ep] = r.json["endpoints"]
    assert ep["probes"]["1.0"]["detail"] == "HTTP 200, the GetTask answer is a Task without an id"


@pytest.mark.parametrize(
    ("mode", "code", "detail"),
    [
        ("echo401", 4, "auth required: "),  # every call refused: the credentials, not the version
        ("gateway502", 1, "HTTP 502"),  # a gateway's error page: the agent's HTTP error
        ("garbagetask", 6, "HTTP 200, the GetTask result "),  # answers that are no answers
    ],
)
def test_fingerprint_that_got_no_answer_exits_with_the_failures_code(
    cli: Any, fault: str, mode: str, code: int, detail: str
) -> None:
    """When no probe got an answer either way (neither answers nor rejects), nothing was checked:
    ``caps fingerprint`` said verdict ``none`` ("speaks nothing") with exit 0, where ``handshake
    probe`` on the same agent exits 4, 1 or 6. It now exits with the first failure's code, and
    still prints the whole report."""
    r = cli("caps", "fingerprint", f"{fault}/{mode}/agent-card.json", "-o", "json")
    assert r.exit_code == code, r.stdout
    assert (r.json["verdict"], r.json["speaks"]) == ("none", [])
    [ep] = r.json["endpoints"]
    assert {p["verdict"] for p in ep["probes"].values()} == {"error"}
    assert ep["probes"]["1.0"]["detail"].startswith(detail), ep["probes"]["1.0"]
    probe = cli("handshake", "probe", f"{fault}/{mode}/agent-card.json", "-o", "json")
    assert probe.exit_code == code  # the same agent, the same code


def test_caps_unreachable_is_exit_3(cli: Any, refused_url: str) -> None:
    for sub in ("validate", "snapshot", "fingerprint"):
        assert cli("caps", sub, refused_url).exit_code == 3


# ------------------------------------------------------------- hostile local files for caps diff / snapshot
@pytest.mark.parametrize("where", ["expect", "side"])
def test_diff_file_nested_too_deep_is_usage_error(cli: Any, sandbox: Any, tmp_path: Path, where: str) -> None:
    """A file nested 50,000 levels deep was an unexpected RecursionError (exit 1)."""
    deep = tmp_path / "deep.json"
    deep.write_text('{"a2actlSnapshot": 1, "x": ' + "[" * 50_000 + "]" * 50_000 + "}", encoding="utf-8")
    args = ("--expect", str(deep)) if where == "expect" else (str(deep),)
    r = cli("caps", "diff", sandbox.url, *args, "-o", "json")
    assert r.exit_code == 2
    assert "nested too deep" in r.json["error"]["message"]


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
@pytest.mark.parametrize("args", [("diff", "{url}", "--expect", "/dev/zero"), ("snapshot", "/dev/zero")])
def test_endless_local_file_is_bounded(cli: Any, sandbox: Any, args: tuple[str, ...]) -> None:
    """A device that never ends (size 0 in stat) was read whole: memory grew until the process died."""
    r = cli("caps", *(a.format(url=sandbox.url) for a in args), "-o", "json")
    assert r.exit_code == 2
    assert "over the 10,485,760-byte limit" in r.json["error"]["message"]


@pytest.mark.parametrize("version", [2, 0, "1", True, 1.5])
def test_diff_snapshot_of_another_version_is_usage_error(
    cli: Any, sandbox: Any, tmp_path: Path, version: Any
) -> None:
    """A snapshot another a2actl wrote (a2actlSnapshot 2) was read as an agent card: everything in
    the target then diffed as "added" (cosmetic) and a real breaking change passed with exit 0."""
    snap = cli("caps", "snapshot", sandbox.url).json
    del snap["capabilities"]  # whatever else it holds, the target drops a skill:
    snap["skills"]["summarize"] = {"name": "Summarize"}
    foreign = write(tmp_path, "foreign.json", {**snap, "a2actlSnapshot": version})
    for args in (("--expect", foreign), (foreign,)):
        r = cli("caps", "diff", sandbox.url, *args, "-o", "json")
        assert r.exit_code == 2, (args, r.stdout)
        assert r.json["error"]["message"].endswith("is not supported (a2actlSnapshot 1 is)")


def test_diff_requirements_of_another_version_is_usage_error(cli: Any, sandbox: Any, tmp_path: Path) -> None:
    """An a2actlRequirements 2 document was checked as version 1: requirements it may hold that this
    a2actl does not know of passed silently."""
    req = write(tmp_path, "req.json", {"a2actlRequirements": 2})
    r = cli("caps", "diff", sandbox.url, "--expect", req, "-o", "json")
    assert r.exit_code == 2
    assert "requirements document version 2 is not supported" in r.json["error"]["message"]


@pytest.mark.parametrize(
    "schema, needle",
    [
        ({"$ref": "#"}, "refers to itself without end"),
        (
            {"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"},
            "without end",
        ),
        ({"$ref": "#/nope"}, "$ref that cannot be resolved"),
        ({"$ref": "http://127.0.0.1:9/never-fetched.json"}, "$ref that cannot be resolved"),
        ({"$schema": 5}, "'$schema' must be a string"),
    ],
)
def test_diff_broken_json_schema_expectation_is_usage_error(
    cli: Any, sandbox: Any, tmp_path: Path, schema: dict[str, Any], needle: str
) -> None:
    """A $ref cycle was an unexpected RecursionError, a $ref to nowhere an unexpected
    _WrappedReferencingError and a non-string $schema an AttributeError (all exit 1)."""
    doc = {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
    r = cli("caps", "diff", sandbox.url, "--expect", write(tmp_path, "s.json", doc), "-o", "json")
    assert r.exit_code == 2
    assert needle in r.json["error"]["message"]


def test_snapshot_and_requirements_of_a_binding_uri_holding_an_at_sign(cli: Any, tmp_path: Path) -> None:
    """Interfaces are keyed BINDING@FAMILY and the key was split at its first "@": a binding URI
    holding one (``urn:example:binding@v2``) became binding ``urn:example:binding`` and protocol
    version ``v2@1.0``, and a requirements document naming the binding failed three times (exit 7)."""
    binding = "urn:example:binding@v2"
    card = valid_v1_card()
    card["supportedInterfaces"][0]["protocolBinding"] = binding
    path = write(tmp_path, "card.json", card)
    snap = cli("caps", "snapshot", path).json
    assert (snap["bindings"], snap["protocolVersions"]) == ([binding], ["1.0"])
    assert list(snap["interfaces"]) == [f"{binding}@1.0"]
    req = {
        "a2actlRequirements": 1,
        "bindings": [binding],
        "protocolVersion": ">=1.0",
        "interfaces": [{"binding": binding, "protocolVersion": "1.0"}],
    }
    r = cli("caps", "diff", path, "--expect", write(tmp_path, "req.json", req), "-o", "json")
    assert r.exit_code == 0, r.stdout
    assert r.json["changes"] == []


def test_diff_json_schema_never_fetches_a_remote_ref(cli: Any, sandbox: Any, tmp_path: Path) -> None:
    """A ``$ref`` to a URL was fetched by jsonschema's default registry (urllib, no timeout, in the
    event loop): one that answered was used (here: exit 7, a breaking change it asked for), one that
    never answered hung the command past --max-time and SIGTERM. It is never fetched: exit 2."""
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from tests.servers import LoopbackServer

    fetched: list[str] = []

    async def remote(request: Any) -> JSONResponse:
        fetched.append(str(request.url))
        return JSONResponse({"required": ["no-such-member"]})

    with LoopbackServer(lambda _: Starlette(routes=[Route("/schema.json", remote)])) as srv:
        doc = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$ref": f"{srv.url}/schema.json"}
        r = cli("caps", "diff", sandbox.url, "--expect", write(tmp_path, "s.json", doc), "-o", "json")
    assert fetched == []
    assert r.exit_code == 2, r.stdout
    assert "$ref that cannot be resolved" in r.json["error"]["message"]
    # a $ref to a published meta-schema still resolves (bundled, not fetched)
    meta = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "properties": {"skills": {"$ref": "https://json-schema.org/draft/2020-12/schema"}},
    }
    r = cli("caps", "diff", sandbox.url, "--expect", write(tmp_path, "m.json", meta), "-o", "json")
    assert r.exit_code == 0, r.stdout


@pytest.mark.parametrize(
    "member, value, needle",
    [
        ("skills", [{"id": "echo"}], "/skills is a list, not an object"),
        ("interfaces", None, "/interfaces is null, not an object"),
        ("interfaces", {"JSONRPC@1.0": "http://x"}, "/interfaces/JSONRPC@1.0 is not an object"),
        ("protocolVersions", "1.0", "/protocolVersions is a string, not a list"),
        ("capabilities", True, "/capabilities is a boolean, not an object"),
    ],
)
def test_diff_corrupted_snapshot_is_usage_error(
    cli: Any, sandbox: Any, tmp_path: Path, member: str, value: Any, needle: str
) -> None:
    """A snapshot whose member had the wrong type ("skills": [...], "interfaces": null) was diffed as
    one risky "changed" member: every skill or interface the target lost passed --fail-on breaking."""
    snap = cli("caps", "snapshot", sandbox.url).json
    bad = write(tmp_path, "bad.json", {**snap, member: value})
    for args in (("--expect", bad), (bad,)):
        r = cli("caps", "diff", sandbox.url, *args, "-o", "json")
        assert r.exit_code == 2, (args, r.stdout)
        assert needle in r.json["error"]["message"]


@pytest.mark.parametrize(
    "edit, needle",
    [
        (lambda s: s["skills"]["echo"].update(inputModes="image/png"), "/skills/echo/inputModes is a string"),
        (lambda s: s["skills"]["echo"].update(tags=None), "/skills/echo/tags is null, not a list"),
        (
            lambda s: s["skills"]["echo"].update(securityRequirements=["bearer"]),
            "/skills/echo/securityRequirements/0 is a string, not an object",
        ),
        (lambda s: s.update(securityRequirements=["bearer"]), "/securityRequirements/0 is a string"),
        (
            lambda s: s.update(securityRequirements=[{"bearer": "read"}]),
            "/securityRequirements/0/bearer is not a list of scopes",
        ),
        (lambda s: s["capabilities"].update(streaming="true"), "/capabilities/streaming is a string"),
        (
            lambda s: s["interfaces"]["JSONRPC@1.0"].update(url=5),
            "/interfaces/JSONRPC@1.0/url is a number, not a string or null",
        ),
        (
            lambda s: s["interfaces"]["JSONRPC@1.0"].update(preferred="yes"),
            "/interfaces/JSONRPC@1.0/preferred is a string, not a boolean",
        ),
    ],
)
def test_diff_snapshot_with_a_corrupted_entry_is_usage_error(
    cli: Any, sandbox: Any, tmp_path: Path, edit: Any, needle: str
) -> None:
    """A snapshot whose entries had the wrong type inside (a skill's ``"inputModes": "image/png"``, a
    requirement ``"bearer"``, a capability ``"true"``) was diffed as one risky "changed" member, or
    as requirements removed: a hand-written expectation whose skill must take image/png passed
    --fail-on breaking against a target that lost it (exit 0). Exit 2 naming the member, as for a
    corrupted top-level member."""
    snap = cli("caps", "snapshot", sandbox.url).json
    edit(snap)
    bad = write(tmp_path, "bad.json", snap)
    for args in (("--expect", bad), (bad,)):
        r = cli("caps", "diff", sandbox.url, *args, "-o", "json")
        assert r.exit_code == 2, (args, r.stdout)
        assert needle in r.json["error"]["message"]


@pytest.mark.parametrize("member", ["skills", "interfaces", "capabilities", "protocolVersions"])
def test_diff_to_a_snapshot_without_a_member_is_breaking(
    cli: Any, sandbox: Any, tmp_path: Path, member: str
) -> None:
    """``caps diff A B`` with B a snapshot that lacks a member (hand-edited, truncated): every skill,
    interface or capability lost is breaking, exit 7. It was one risky "unclassified" change
    (``/skills`` removed), exit 0 under the default --fail-on breaking."""
    snap = cli("caps", "snapshot", sandbox.url).json
    full = write(tmp_path, "full.json", snap)
    lacking = write(tmp_path, "lacking.json", {k: v for k, v in snap.items() if k != member})
    r = cli("caps", "diff", full, lacking, "-o", "json")
    assert r.exit_code == 7, r.stdout
    assert r.json["failed"] is True and r.json["counts"]["breaking"] >= 1
    assert all(c["path"].startswith(f"/{member}") for c in r.json["changes"])
    assert all(c["path"] != f"/{member}" or member == "protocolVersions" for c in r.json["changes"])


def _a2actl(*args: str, feed: tuple[str, bytes] | None = None) -> tuple[int, str, str]:
    """``a2actl ARGS`` in a subprocess (a blocked read must not hang the test process); ``feed``:
    ``(fifo, bytes)`` written once to the FIFO while it runs. Exit code, stdout, stderr."""
    import subprocess
    import sys
    import threading

    proc = subprocess.Popen(
        [sys.executable, "-m", "a2actl", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )

    def writer() -> None:
        assert feed is not None
        with open(feed[0], "wb") as w:
            w.write(feed[1])

    if feed is not None:
        threading.Thread(target=writer, daemon=True).start()
    try:
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return proc.returncode, out, err


@pytest.mark.parametrize("where", ["expect", "side"])
def test_diff_from_a_fifo(sandbox: Any, tmp_path: Path, where: str) -> None:
    """A FIFO (``<(cmd)``): read on the event loop, one that never delivered ignored --max-time
    and SIGTERM; and a card given as side A was read twice, the second time empty: exit 6 "not
    valid JSON". Now --max-time ends the wait (exit 5) and the card is read once."""
    import os

    fifo = tmp_path / "card.fifo"
    os.mkfifo(fifo)
    args = (
        ["caps", "diff", sandbox.url, "--expect", str(fifo)]
        if where == "expect"
        else ["caps", "diff", str(fifo), sandbox.url]
    )
    code, _, err = _a2actl(*args, "--max-time", "1")
    assert code == 5, err
    card = json.dumps(fetch_card(sandbox)).encode()
    code, out, err = _a2actl("-o", "json", *args, feed=(str(fifo), card))
    assert code == 0, err
    assert json.loads(out)["changes"] == []


def test_diff_side_that_is_neither_a_snapshot_nor_a_card(cli: Any, sandbox: Any, tmp_path: Path) -> None:
    """``card get -o json`` output (the card under "card") given as side A was read as a card with
    no interfaces and no skills: everything on B was "added", exit 0 whatever B lost."""
    wrapped = write(tmp_path, "wrapped.json", {"source": sandbox.url, "card": fetch_card(sandbox)})
    r = cli("caps", "diff", wrapped, sandbox.url, "-o", "json")
    assert r.exit_code == 2, r.stdout
    assert "neither an a2actl snapshot nor an agent card" in r.json["error"]["message"]


def _dup_card(card: dict, extra: str) -> str:
    """``card`` as JSON text with ``extra`` (members, a trailing comma) written first in the object."""
    return "{" + extra + json.dumps(card)[1:]


def test_validate_reports_duplicate_keys_with_pointers(cli, sandbox, tmp_path):
    # two supportedInterfaces: Python keeps the last, other readers the first; the finding says so
    card = cli("card", "get", sandbox.url, "-o", "json").json["card"]
    other = [{"url": "https://elsewhere.example/a2a", "protocolBinding": "JSONRPC", "protocolVersion": "1.0"}]
    differ = tmp_path / "differ.json"
    differ.write_text(_dup_card(card, f'"supportedInterfaces": {json.dumps(other)}, '))
    r = cli("caps", "validate", str(differ), "-o", "json")
    assert r.exit_code == 7, r.stdout
    dups = [f for f in r.json["findings"] if f["check"] == "duplicate-key"]
    assert [(f["pointer"], f["severity"], f["kind"]) for f in dups] == [
        ("/supportedInterfaces", "error", "check")
    ]
    assert r.json["counts"]["checkErrors"] == 1
    # a repeat with the same value: every reader agrees, a warning (exit 0)
    same = tmp_path / "same.json"
    same.write_text(_dup_card(card, f'"name": {json.dumps(card["name"])}, '))
    r = cli("caps", "validate", str(same), "-o", "json")
    assert r.exit_code == 0, r.stdout
    assert [(f["pointer"], f["severity"]) for f in r.json["findings"] if f["check"] == "duplicate-key"] == [
        ("/name", "warning")
    ]
    # the other commands read the card as before: the last value
    got = cli("card", "get", str(differ), "-o", "json")
    assert got.exit_code == 0 and got.json["card"]["supportedInterfaces"] == card["supportedInterfaces"]


def test_validate_reports_a_duplicate_key_of_a_served_card(cli, tmp_path):
    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.routing import Route

    from tests.servers import LoopbackServer

    def app(base: str) -> Starlette:
        body = (
            '{"name": "dup", "description": "d", "version": "1", "protocolVersion": "0.3.0",'
            f' "url": "https://registry-checked.example/a2a", "preferredTransport": "JSONRPC", "url": "{base}/a2a",'
            ' "capabilities": {}, "defaultInputModes": ["text/plain"], "defaultOutputModes": ["text/plain"],'
            ' "skills": []}'
        )

        async def card(_request: object) -> Response:
            return Response(body, media_type="application/json")

        return Starlette(routes=[Route("/.well-known/agent-card.json", card)])

    with LoopbackServer(app) as srv:
        r = cli("caps", "validate", srv.url, "-o", "json")
    assert r.exit_code == 7, r.stdout
    (dup,) = [f for f in r.json["findings"] if f["check"] == "duplicate-key"]
    assert (dup["pointer"], dup["severity"]) == ("/url", "error")
    assert "'url' appears 2 times" in dup["message"]


def test_validate_a_served_card_with_nan_and_infinity_is_not_valid(cli: Any, fault: str) -> None:
    """The fault server's ``/nan/`` card holds ``NaN``, ``Infinity`` and ``-Infinity``: Python's
    reader takes them, JavaScript's ``JSON.parse`` and Go refuse the whole card. It validated without
    a word about them (the rest of the card is valid but for an empty tags list)."""
    r = cli("caps", "validate", fault + "/nan/agent-card.json", "-o", "json")
    assert r.exit_code == 6, r.stdout  # the schema error wins; the check fails too
    bad = [f for f in r.json["findings"] if f["check"] == "not-json"]
    assert [(f["pointer"], f["severity"]) for f in bad] == [
        ("/metadata/score", "error"),
        ("/metadata/limits/0", "error"),
        ("/metadata/limits/1", "error"),
    ]
    assert r.json["checksPassed"] is False


@pytest.mark.parametrize("encoding", ["utf-16", "utf-32"])
def test_validate_a_card_that_is_not_utf8_fails(cli: Any, tmp_path: Path, encoding: str) -> None:
    """A UTF-16 or UTF-32 card (Python's reader detects the encoding) validated as valid; readers
    that take UTF-8 only (RFC 8259 §8.1: JSON between systems MUST be UTF-8) cannot read it."""
    path = tmp_path / "card.json"
    path.write_bytes(json.dumps(valid_v1_card()).encode(encoding))
    r = cli("caps", "validate", str(path), "-o", "json")
    assert r.exit_code == 7, r.stdout
    assert [(f["check"], f["pointer"], f["severity"]) for f in r.json["findings"]] == [
        ("not-json", "", "error")
    ]
    assert r.json["valid"] is True and r.json["checksPassed"] is False
    plain = write(tmp_path, "plain.json", valid_v1_card())
    assert cli("caps", "validate", plain).exit_code == 0


def _credential_card_server(refused_url: str, pw: str, token: str) -> Any:
    """A loopback server whose card names one JSON-RPC interface with userinfo and a ``token`` query
    value, on a port nothing listens on."""
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from tests.servers import LoopbackServer

    iface = refused_url.replace("http://", f"http://agent:{pw}@") + f"/rpc?token={token}"

    async def card(request: Any) -> JSONResponse:
        return JSONResponse(valid_v1_card(iface))

    return LoopbackServer(lambda _: Starlette(routes=[Route(CARD_URL, card)]))


def test_fingerprint_never_prints_the_card_interfaces_userinfo_and_token(cli: Any, refused_url: str) -> None:
    """``caps fingerprint`` probes every interface of the card; an interface URL's password and
    ``token`` were printed in the probes' errors, the endpoint's url and the ``-v`` request lines."""
    pw, token = "fp-iface-pw", "fp-iface-token"
    with _credential_card_server(refused_url, pw, token) as agent:
        r = cli("caps", "fingerprint", agent.url, "-o", "json")
        table = cli("-v", "caps", "fingerprint", agent.url)
    # nothing listens at the interface: no probe got an answer, exit 3 (it was 0: "speaks nothing")
    assert r.exit_code == 3 and table.exit_code == 3, r.stdout
    masked = refused_url.replace("http://", "http://agent:***@") + "/rpc?token=***"
    [ep] = r.json["endpoints"]
    assert ep["url"] == masked
    assert {p["detail"] for p in ep["probes"].values()} == {f"connection to {masked} refused"}
    assert f"> POST {masked}" in table.stderr
    for text in (r.stdout, r.stderr, table.stdout, table.stderr):
        assert pw not in text and token not in text


def test_validate_live_never_prints_the_card_interfaces_userinfo_and_token(
    cli: Any, refused_url: str
) -> None:
    """``caps validate --live`` calls the card's JSON-RPC interface: its password and ``token`` were
    printed in the ``-v`` request lines and the 'could not check' findings."""
    pw, token = "live-iface-pw", "live-iface-token"
    with _credential_card_server(refused_url, pw, token) as agent:
        table = cli("-v", "caps", "validate", agent.url, "--live")
        r = cli("caps", "validate", agent.url, "--live", "-o", "json")
    assert r.exit_code == 0 and table.exit_code == 0, r.stdout
    masked = refused_url.replace("http://", "http://agent:***@") + "/rpc?token=***"
    assert f"> POST {masked}" in table.stderr
    streaming = next(f for f in r.json["findings"] if f["message"].startswith("could not check streaming"))
    assert (
        streaming["message"] == f"could not check streaming: SubscribeToTask → connection to {masked} refused"
    )
    for text in (r.stdout, r.stderr, table.stdout, table.stderr):
        assert pw not in text and token not in text


def _no_secret(*results: Any, name: str = "credsiface") -> None:
    from tests.servers import IFACE_CREDENTIALS, secret_fragments

    for r in results:
        for piece in secret_fragments(*IFACE_CREDENTIALS[name]):
            assert piece not in r.stdout and piece not in r.stderr, piece


def test_snapshot_holds_no_credential_of_the_cards_interface_urls(
    cli: Any, fault: str, tmp_path: Path, forget_secrets: Any
) -> None:
    """``caps snapshot`` wrote the card's interface URL as served, password and ``token`` included,
    into a file meant to be committed; the snapshot holds them masked, and the agent still matches
    its own snapshot (``caps diff --expect``: no change)."""
    from tests.servers import iface_url

    card = f"{fault}/credsiface/agent-card.json"
    snap = cli("caps", "snapshot", card)
    assert snap.exit_code == 0, snap.stderr
    assert snap.json["interfaces"]["JSONRPC@1.0"]["url"] == iface_url(fault)
    expected = tmp_path / "expected-caps.json"
    expected.write_text(snap.stdout)
    forget_secrets()
    same = cli("caps", "diff", card, "--expect", str(expected), "-o", "json")
    assert same.exit_code == 0 and same.json["changes"] == [], same.stdout
    forget_secrets()
    again = cli("caps", "snapshot", str(expected))  # a snapshot file is passed through, masked
    assert again.exit_code == 0 and again.json == snap.json
    _no_secret(snap, same, again)


def test_diff_of_a_credential_change_shows_neither_value(cli: Any, fault: str, forget_secrets: Any) -> None:
    """Two deployments whose interface URLs differ in their password and ``token`` alone: the diff
    printed both URLs in clear (-o json ``before``/``after``, the table). It is one risky change
    whose values are masked and whose reason says only the credentials changed; never 'no change'."""
    from tests.servers import iface_url

    blue, green = f"{fault}/credsiface/agent-card.json", f"{fault}/credsiface2/agent-card.json"
    r = cli("caps", "diff", blue, green, "-o", "json")
    forget_secrets()
    table = cli("caps", "diff", blue, green, "--fail-on", "risky")
    assert r.exit_code == 0 and table.exit_code == 7, r.stdout + table.stdout
    [change] = r.json["changes"]
    assert change == {
        "path": "/interfaces/JSONRPC@1.0/url",
        "op": "changed",
        "before": iface_url(fault),
        "after": iface_url(fault),
        "class": "risky",
        "reason": "interface JSONRPC@1.0: only the credentials in its url changed (values not shown): "
        "clients holding the old ones fail to authenticate",
    }
    _no_secret(r, table)
    _no_secret(r, table, name="credsiface2")


def test_diff_against_a_snapshot_with_credentials_in_clear(
    cli: Any, fault: str, tmp_path: Path, forget_secrets: Any
) -> None:
    """A snapshot written before its URLs were masked holds the credentials in clear: compared with
    the same credentials, no change; with others, a credential change; neither printed. A JSON
    Schema expectation quotes the value in its message: masked too."""
    from tests.servers import IFACE_CREDENTIALS, iface_url

    old = tmp_path / "old.json"
    snap = cli("caps", "snapshot", f"{fault}/credsiface/agent-card.json").json
    snap["interfaces"]["JSONRPC@1.0"]["url"] = iface_url(fault, *IFACE_CREDENTIALS["credsiface"])
    old.write_text(json.dumps(snap))
    forget_secrets()
    same = cli("caps", "diff", f"{fault}/credsiface/agent-card.json", "--expect", str(old), "-o", "json")
    forget_secrets()
    rotated = cli("caps", "diff", f"{fault}/credsiface2/agent-card.json", "--expect", str(old), "-o", "json")
    assert same.exit_code == 0 and same.json["changes"] == [], same.stdout
    assert rotated.exit_code == 0, rotated.stdout
    assert [(c["path"], c["before"], c["after"]) for c in rotated.json["changes"]] == [
        ("/interfaces/JSONRPC@1.0/url", iface_url(fault), iface_url(fault))
    ]
    schema = tmp_path / "schema.json"
    schema.write_text(
        json.dumps(
            {
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "properties": {
                    "interfaces": {"additionalProperties": {"properties": {"url": {"pattern": "^https://"}}}}
                },
            }
        )
    )
    forget_secrets()
    checked = cli(
        "caps", "diff", f"{fault}/credsiface/agent-card.json", "--expect", str(schema), "-o", "json"
    )
    assert checked.exit_code == 7, checked.stdout
    [violation] = checked.json["changes"]
    assert violation["after"] == iface_url(fault)
    assert violation["reason"] == f"schema: '{iface_url(fault)}' does not match '^https://'"
    _no_secret(same, rotated, checked)
    _no_secret(same, rotated, checked, name="credsiface2")


def test_validate_never_prints_the_credentials_of_a_card_files_interface_urls(
    cli: Any, fault: str, tmp_path: Path, forget_secrets: Any
) -> None:
    """``caps validate CARD-FILE`` names an interface URL in its findings ('interface url … is
    loopback'): printed as the card holds it, password and ``token`` included. Every card a2actl
    loads has its URLs' secrets registered, so every finding, note and table masks them."""
    from tests.servers import iface_url

    card = tmp_path / "card.json"
    card.write_text(httpx.get(f"{fault}/credsiface/agent-card.json", timeout=5).text)
    r = cli("caps", "validate", str(card), "-o", "json")
    forget_secrets()
    table = cli("caps", "validate", str(card))
    assert r.exit_code == 6 and table.exit_code == 6, r.stdout  # the fault card's skill has no tags
    loopback = [f["message"] for f in r.json["findings"] if "is loopback" in f["message"]]
    assert loopback == [
        f"interface url {iface_url(fault)} is loopback: only callable from the agent's own machine"
    ]
    _no_secret(r, table)


# ------------------------------------------------------------------- diff: one change, one entry


def test_diff_a_security_scheme_type_change_is_one_entry(cli: Any, tmp_path: Path) -> None:
    """http bearer → apiKey in a header: one breaking change at the scheme's type, naming the
    members that changed with it; the auth scheme removed and the API key's location and name added
    were three more entries (one breaking, two risky) for the same change."""
    a = valid_v1_card()
    a["securitySchemes"] = {"s": {"httpAuthSecurityScheme": {"scheme": "Bearer"}}}
    a["securityRequirements"] = [{"schemes": {"s": {"list": []}}}]
    b = copy.deepcopy(a)
    b["securitySchemes"] = {"s": {"apiKeySecurityScheme": {"location": "header", "name": "X-Key"}}}
    r = cli("caps", "diff", write(tmp_path, "a.json", a), write(tmp_path, "b.json", b), "-o", "json")
    assert r.exit_code == 7
    assert r.json["counts"] == {"breaking": 1, "risky": 0, "cosmetic": 0}
    [change] = r.json["changes"]
    assert (change["path"], change["op"], change["before"], change["after"]) == (
        "/securitySchemes/s/type",
        "changed",
        "http",
        "apiKey",
    )
    assert change["reason"].endswith("(with it: location, name, scheme changed)")
    # a change inside a scheme whose type stays is still its own entry
    c = copy.deepcopy(a)
    c["securitySchemes"]["s"]["httpAuthSecurityScheme"]["scheme"] = "Basic"
    r = cli("caps", "diff", write(tmp_path, "a.json", a), write(tmp_path, "c.json", c), "-o", "json")
    assert [(x["path"], x["class"]) for x in r.json["changes"]] == [("/securitySchemes/s/scheme", "breaking")]


# ------------------------------------------------------------- validate: what a protocolVersion is


@pytest.mark.parametrize(
    ("version", "exit_code", "strict_exit", "severity"),
    [
        ("1.0", 0, 0, None),
        ("1.0.1", 0, 0, None),
        ("v1.0", 0, 7, "warning"),  # read as 1.0 (a2a-sdk too), not written as a version
        (" 1.0", 0, 7, "warning"),
        ("1", 0, 7, "warning"),
        ("\uff11.\uff10", 7, 7, "error"),  # fullwidth digits: no version for any client (was read as 1.0)
        ("+1.0", 7, 7, "error"),
    ],
)
def test_validate_flags_a_protocol_version_not_written_as_one(
    cli: Any, tmp_path: Path, version: str, exit_code: int, strict_exit: int, severity: str | None
) -> None:
    card = valid_v1_card()
    card["supportedInterfaces"][0]["protocolVersion"] = version
    path = write(tmp_path, "card.json", card)
    r = cli("caps", "validate", path, "-o", "json")
    assert r.exit_code == exit_code, r.stdout
    found = [f for f in r.json["findings"] if f["check"] == "protocol-version"]
    if severity is None:
        assert found == []
    else:
        [f] = found
        assert (f["severity"], f["pointer"]) == (severity, "/supportedInterfaces/0/protocolVersion")
    assert cli("caps", "validate", path, "--strict", "-o", "json").exit_code == strict_exit


# ------------------------------------------------------------ snapshot/diff: a binding's spelling


def test_diff_shows_a_binding_spelled_otherwise(cli: Any, tmp_path: Path) -> None:
    """``JSONRPC`` → ``jsonrpc``: a2a-sdk matches binding names exactly and finds no JSONRPC
    interface. The snapshot keyed both ``JSONRPC@1.0`` alike, so caps diff said "no changes"; it now
    keeps the spelling (``bindingSpelling``) and the change is breaking; the way back is a fix
    (cosmetic). A snapshot written before ``bindingSpelling`` existed still diffs with no change."""
    a = valid_v1_card()
    b = copy.deepcopy(a)
    b["supportedInterfaces"][0]["protocolBinding"] = "jsonrpc"
    pa, pb = write(tmp_path, "a.json", a), write(tmp_path, "b.json", b)
    snap = cli("caps", "snapshot", pb)
    assert snap.exit_code == 0
    assert json.loads(snap.stdout)["interfaces"]["JSONRPC@1.0"]["bindingSpelling"] == "jsonrpc"
    r = cli("caps", "diff", pa, pb, "-o", "json")
    assert r.exit_code == 7
    [change] = r.json["changes"]
    assert (change["path"], change["op"], change["before"], change["after"], change["class"]) == (
        "/interfaces/JSONRPC@1.0/bindingSpelling",
        "changed",
        "JSONRPC",
        "jsonrpc",
        "breaking",
    )
    back = cli("caps", "diff", pb, pa, "-o", "json")
    assert back.exit_code == 0
    assert [(c["path"], c["class"]) for c in back.json["changes"]] == [
        ("/interfaces/JSONRPC@1.0/bindingSpelling", "cosmetic")
    ]
    # an older snapshot (no bindingSpelling): the spelling it saw is unknown, so no change either way
    old = json.loads(cli("caps", "snapshot", pa).stdout)
    for entry in old["interfaces"].values():
        del entry["bindingSpelling"]
    p_old = write(tmp_path, "old-snapshot.json", old)
    for card in (pa, pb):
        r = cli("caps", "diff", card, "--expect", p_old, "--fail-on", "any", "-o", "json")
        assert (r.exit_code, r.json["changes"]) == (0, [])
        r = cli("caps", "diff", p_old, card, "--fail-on", "any", "-o", "json")
        assert (r.exit_code, r.json["changes"]) == (0, [])


def test_diff_a_0x_transport_spelled_otherwise_and_a_custom_binding(cli: Any, tmp_path: Path) -> None:
    """0.x ``preferredTransport`` and ``additionalInterfaces[].transport`` likewise; a card with no
    ``preferredTransport`` is the default JSONRPC, spelled so; a custom binding (a URI) whose
    spelling changes is risky (no spec name to go by)."""
    a = {
        "name": "a", "description": "d", "version": "1", "protocolVersion": "0.3.0",
        "url": "https://agent.example.com/rpc",
        "additionalInterfaces": [
            {"url": "https://agent.example.com/rest", "transport": "HTTP+JSON"},
            {"url": "https://agent.example.com/x", "transport": "https://x.example/binding"},
        ],
        "capabilities": {}, "defaultInputModes": ["text/plain"], "defaultOutputModes": ["text/plain"],
        "skills": [{"id": "s", "name": "S", "description": "d", "tags": []}],
    }  # fmt: skip
    b = copy.deepcopy(a)
    b["preferredTransport"] = "JSONRPC"
    b["additionalInterfaces"][0]["transport"] = "http+json"
    b["additionalInterfaces"][1]["transport"] = " https://x.example/binding"
    r = cli("caps", "diff", write(tmp_path, "a.json", a), write(tmp_path, "b.json", b), "-o", "json")
    assert r.exit_code == 7
    assert sorted((c["path"], c["class"]) for c in r.json["changes"]) == [
        ("/interfaces/HTTP+JSON@0.3/bindingSpelling", "breaking"),
        ("/interfaces/https:~1~1x.example~1binding@0.3/bindingSpelling", "risky"),
    ]


# ----------------------------------------------------------------- validate: findings per check capped


def test_validate_caps_the_findings_of_each_check_and_keeps_the_verdict(cli: Any, tmp_path: Path) -> None:
    """150 skills with one id and a name that is no string: 150 schema errors and 149
    duplicate-skill-id errors were 299 findings (100,000 bad skills: 800,000 table lines, 115 MB of
    JSON). Each schema / check now lists its first 100, ``truncated`` says how many more; counts,
    ``valid`` and the exit code still count all of them."""
    from a2actl.caps.validate import MAX_FINDINGS_PER_CHECK as cap

    card = valid_v1_card()
    card["skills"] = [{"id": "s", "name": 5, "description": "d", "tags": ["t"]} for _ in range(150)]
    path = write(tmp_path, "card.json", card)
    r = cli("caps", "validate", path, "-o", "json")
    assert (r.exit_code, r.json["valid"], r.json["checksPassed"]) == (6, False, False)
    assert r.json["counts"] == {"schemaErrors": 150, "checkErrors": 149, "warnings": 0}
    assert len(r.json["findings"]) == 2 * cap
    assert [f["pointer"] for f in r.json["findings"] if f["kind"] == "schema"][:2] == [
        "/skills/0/name",
        "/skills/1/name",
    ]
    assert r.json["truncated"] == [
        {"kind": "schema", "schema": "1.0", "check": None, "shown": cap, "omitted": 150 - cap},
        {"kind": "check", "schema": None, "check": "duplicate-skill-id", "shown": cap, "omitted": 149 - cap},
    ]
    table = cli("caps", "validate", path)
    assert table.exit_code == 6
    more = [line.strip() for line in table.stdout.splitlines() if line.strip().startswith("… and")]
    assert more == [
        f"… and {150 - cap} more (schema 1.0)",
        f"… and {149 - cap} more (check duplicate-skill-id)",
    ]

    # warnings only, past the cap: still valid, exit 0; nothing capped: truncated is []
    card = valid_v1_card()
    card["supportedInterfaces"] = [
        {"url": f"https://agent.example.com/a2a/{i}", "protocolBinding": "JSONRPC", "protocolVersion": "v1.0"}
        for i in range(cap + 1)
    ]
    r = cli("caps", "validate", write(tmp_path, "warn.json", card), "-o", "json")
    assert (r.exit_code, r.json["counts"]["warnings"]) == (0, cap + 1)
    assert [(t["check"], t["omitted"]) for t in r.json["truncated"]] == [("protocol-version", 1)]
    r = cli("caps", "validate", write(tmp_path, "ok.json", valid_v1_card()), "-o", "json")
    assert (r.exit_code, r.json["truncated"]) == (0, [])


def test_snapshot_and_diff_read_a_card_file_with_a_utf8_bom(cli: Any, tmp_path: Path) -> None:
    """A card file saved with a UTF-8 byte order mark: ``card get`` and ``caps validate`` read it,
    ``caps snapshot`` and ``caps diff`` refused it (exit 2, "Unexpected UTF-8 BOM"). RFC 8259 §8.1
    lets a reader ignore the mark."""
    card = valid_v1_card()
    plain = write(tmp_path, "plain.json", card)
    bom = tmp_path / "bom.json"
    bom.write_bytes(b"\xef\xbb\xbf" + json.dumps(card).encode())
    assert cli("caps", "validate", str(bom)).exit_code == 0
    r = cli("caps", "snapshot", str(bom))
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout) == json.loads(cli("caps", "snapshot", plain).stdout)
    r = cli("caps", "diff", str(bom), plain, "--fail-on", "any", "-o", "json")
    assert (r.exit_code, r.json["changes"]) == (0, [])
    r = cli("caps", "diff", plain, "--expect", str(bom), "--fail-on", "any", "-o", "json")
    assert (r.exit_code, r.json["changes"]) == (0, [])
