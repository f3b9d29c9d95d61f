"""``caps validate`` / ``caps snapshot`` / ``caps diff`` on cards that pass the schemas although
clients cannot use them: only custom bindings, a binding name in another case, a 0.x card declaring
1.0, a security requirement naming no declared scheme, a 1.0 scheme in v0.3's shape, two skills with
one id; and ``caps diff`` on a security scheme that changes its kind of credential. Run as the real
CLI on crafted card files and served cards."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

CARD_URL = "/.well-known/agent-card.json"


def write(tmp_path: Path, name: str, doc: Any) -> str:
    p = tmp_path / name
    p.write_text(json.dumps(doc), encoding="utf-8")
    return str(p)


def v1_card(binding: str = "JSONRPC") -> dict[str, Any]:
    return {
        "name": "crafted",
        "description": "a crafted 1.0 card",
        "version": "3.1.4",
        "supportedInterfaces": [
            {"url": "https://agent.example.com/a2a", "protocolBinding": binding, "protocolVersion": "1.0"}
        ],
        "capabilities": {"streaming": True},
        "defaultInputModes": ["text/plain"],
        "defaultOutputModes": ["text/plain"],
        "skills": [{"id": "summarize", "name": "Summarize", "description": "d", "tags": ["t"]}],
    }


def v03_card() -> dict[str, Any]:
    card = v1_card()
    del card["supportedInterfaces"]
    card.update(
        {"protocolVersion": "0.3.0", "url": "https://agent.example.com/a2a", "preferredTransport": "JSONRPC"}
    )
    return card


def checks(doc: dict[str, Any], check: str) -> list[tuple[str, str]]:
    """``(severity, pointer)`` of the findings of one check."""
    return [(f["severity"], f["pointer"]) for f in doc["findings"] if f["check"] == check]


def validate(cli: Any, path: str, *args: str) -> tuple[int, dict[str, Any]]:
    r = cli("caps", "validate", path, *args, "-o", "json")
    return r.exit_code, r.json


# ------------------------------------------------------------------------------ nothing callable


def test_an_empty_supported_interfaces_is_one_schema_error_that_says_why(cli: Any, tmp_path: Path) -> None:
    """The 1.0 schema's ``minItems`` already fails it (exit 6): no second finding, and the message
    says what it means (it was "[] should be non-empty")."""
    card = v1_card()
    card["supportedInterfaces"] = []
    code, doc = validate(cli, write(tmp_path, "empty.json", card))
    assert code == 6
    mine = [f for f in doc["findings"] if f["pointer"] == "/supportedInterfaces"]
    assert [(f["kind"], f["severity"]) for f in mine] == [("schema", "error")]
    assert mine[0]["message"].startswith("supportedInterfaces is empty: no client can call the agent")
    assert mine[0]["section"] == "v1.0 §4.4.6 AgentInterface"
    # a hybrid card: 0.x clients (and a2actl) still call its url
    card.update({"url": "https://agent.example.com/a2a", "protocolVersion": "0.3.0"})
    code, doc = validate(cli, write(tmp_path, "hybrid.json", card))
    assert code == 6
    [f] = [f for f in doc["findings"] if f["pointer"] == "/supportedInterfaces"]
    assert f["message"].startswith("supportedInterfaces is empty: 1.0 clients find no interface to call")


def test_a_card_with_only_custom_bindings_is_a_warning(cli: Any, tmp_path: Path) -> None:
    card = v1_card("https://example.com/a2a/bindings/websocket")
    code, doc = validate(cli, write(tmp_path, "custom.json", card))
    assert code == 0 and doc["valid"] is True
    assert checks(doc, "no-standard-interface") == [("warning", "/supportedInterfaces")]
    [f] = [f for f in doc["findings"] if f["check"] == "no-standard-interface"]
    assert f["section"] == "v1.0 §4.4.6 AgentInterface"
    assert "'https://example.com/a2a/bindings/websocket'" in f["message"]
    # one standard interface beside the custom one: callable, no finding
    card["supportedInterfaces"].append(v1_card()["supportedInterfaces"][0])
    code, doc = validate(cli, write(tmp_path, "mixed.json", card))
    assert code == 0 and checks(doc, "no-standard-interface") == []


# ------------------------------------------------------------------------------ binding spelling


@pytest.mark.parametrize(
    ("spelled", "standard"),
    [
        ("jsonrpc", "JSONRPC"),
        ("JSON-RPC", "JSONRPC"),
        ("http+json", "HTTP+JSON"),
        ("REST", "HTTP+JSON"),
        ("grpc", "GRPC"),
    ],
)
def test_a_binding_name_in_another_spelling_is_a_warning_naming_the_spec_name(
    cli: Any, tmp_path: Path, spelled: str, standard: str
) -> None:
    card = v1_card(spelled)
    if standard == "GRPC":
        card["supportedInterfaces"][0]["url"] = "agent.example.com:443"
    path = write(tmp_path, "spelled.json", card)
    code, doc = validate(cli, path)
    assert code == 0
    assert checks(doc, "binding-spelling") == [("warning", "/supportedInterfaces/0/protocolBinding")]
    [f] = [f for f in doc["findings"] if f["check"] == "binding-spelling"]
    assert f"is not the spec's name {standard!r}" in f["message"]
    assert f"a2actl reads it as {standard}" in f["message"]
    assert f["section"] == "v1.0 §4.4.6 AgentInterface"
    code, doc = validate(cli, path, "--strict")
    assert code == 7 and checks(doc, "binding-spelling") == [
        ("error", "/supportedInterfaces/0/protocolBinding")
    ]


def test_a_03_cards_transport_in_another_spelling_is_a_warning(cli: Any, tmp_path: Path) -> None:
    card = v03_card()
    card["preferredTransport"] = "jsonrpc"
    card["additionalInterfaces"] = [{"url": "https://agent.example.com/rest", "transport": "HTTP+JSON"}]
    code, doc = validate(cli, write(tmp_path, "v03.json", card))
    assert code == 0
    assert checks(doc, "binding-spelling") == [("warning", "/preferredTransport")]


def test_handshake_probe_calls_an_interface_whose_binding_is_spelled_otherwise(
    cli: Any, sandbox_v1: Any
) -> None:
    """What the binding-spelling message says a2actl does: it reads ``jsonrpc`` as JSONRPC and calls
    it (a2a-sdk's client factory does not find it)."""
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from tests.servers import LoopbackServer

    card = httpx.get(sandbox_v1.url + CARD_URL, timeout=5).json()
    for iface in card["supportedInterfaces"]:
        iface["protocolBinding"] = {"JSONRPC": "jsonrpc", "HTTP+JSON": "REST"}.get(
            iface["protocolBinding"], iface["protocolBinding"]
        )

    async def serve(request: Any) -> JSONResponse:
        return JSONResponse(card)

    with LoopbackServer(lambda _: Starlette(routes=[Route(CARD_URL, serve)])) as agent:
        probe = cli("handshake", "probe", agent.url, "-o", "json")
        code, doc = validate(cli, agent.url)
    assert probe.exit_code == 0, probe.stdout
    assert probe.json["negotiation"]["protocolBinding"] == "JSONRPC"
    assert code == 0
    assert {p for s, p in checks(doc, "binding-spelling")} == {
        f"/supportedInterfaces/{i}/protocolBinding"
        for i, iface in enumerate(card["supportedInterfaces"])
        if iface["protocolBinding"] in ("jsonrpc", "REST")
    }


# ------------------------------------------------------------------------------ security


def test_a_requirement_naming_an_undeclared_scheme_fails_the_checks(cli: Any, tmp_path: Path) -> None:
    card = v1_card()
    card["securitySchemes"] = {"bearer": {"httpAuthSecurityScheme": {"scheme": "Bearer"}}}
    card["securityRequirements"] = [
        {"schemes": {"bearer": {"list": []}}},
        {"schemes": {"oauth": {"list": ["r"]}}},
    ]
    card["skills"][0]["securityRequirements"] = [{"schemes": {"Bearer": {"list": []}}}]
    code, doc = validate(cli, write(tmp_path, "v1.json", card))
    assert code == 7 and doc["valid"] is True
    assert checks(doc, "undeclared-security-scheme") == [
        ("error", "/securityRequirements/1/schemes/oauth"),
        ("error", "/skills/0/securityRequirements/0/schemes/Bearer"),
    ]
    first = next(f for f in doc["findings"] if f["check"] == "undeclared-security-scheme")
    assert first["section"] == "v1.0 §4.5 Security Objects (a requirement names a securitySchemes entry)"
    assert "(declared: 'bearer')" in first["message"]
    # 0.x: security, per skill too; a scheme name with a "/" is escaped in the pointer
    v03 = v03_card()
    v03["security"] = [{"a/b": []}]
    code, doc = validate(cli, write(tmp_path, "v03.json", v03))
    assert code == 7
    assert checks(doc, "undeclared-security-scheme") == [("error", "/security/0/a~1b")]
    # declared: no finding
    v03["securitySchemes"] = {"a/b": {"type": "http", "scheme": "bearer"}}
    code, doc = validate(cli, write(tmp_path, "v03ok.json", v03))
    assert code == 0 and checks(doc, "undeclared-security-scheme") == []


def test_caps_lint_reports_an_undeclared_scheme_as_a2a_sec_019(cli: Any, tmp_path: Path) -> None:
    card = v1_card()
    card["securityRequirements"] = [{"schemes": {"oauth": {"list": []}}}]
    r = cli("caps", "lint", write(tmp_path, "v1.json", card), "--select", "A2A-SEC-019", "-o", "json")
    assert r.exit_code == 7
    assert [(f["id"], f["name"], f["pointer"]) for f in r.json["findings"]] == [
        ("A2A-SEC-019", "undeclared-security-scheme", "/securityRequirements/0/schemes/oauth")
    ]


def test_a_10_security_scheme_without_its_wrapper(cli: Any, tmp_path: Path) -> None:
    """The open 1.0 schema accepts ``{"type": "http", "scheme": "bearer"}`` (0.3's shape) and ``{}``."""
    card = v1_card()
    card["securitySchemes"] = {"legacy": {"type": "http", "scheme": "bearer"}, "empty": {}}
    card["securityRequirements"] = [{"schemes": {"legacy": {"list": []}}}]
    path = write(tmp_path, "v1.json", card)
    code, doc = validate(cli, path)
    assert code == 7 and doc["valid"] is True
    assert checks(doc, "security-scheme-shape") == [
        ("warning", "/securitySchemes/legacy"),
        ("error", "/securitySchemes/empty"),
    ]
    legacy = next(f for f in doc["findings"] if f["pointer"] == "/securitySchemes/legacy")
    assert (
        '"httpAuthSecurityScheme"' in legacy["message"] and legacy["section"] == "v1.0 §4.5.1 SecurityScheme"
    )
    # --strict: the closed schema rejects the members too (exit 6), and the check says what to do
    code, doc = validate(cli, path, "--strict")
    assert code == 6
    assert ("error", "/securitySchemes/legacy") in checks(doc, "security-scheme-shape")
    # a 0.3 card has that shape by right; a hybrid card with the wrapper beside it is fine
    v03 = v03_card()
    v03["securitySchemes"] = {"legacy": {"type": "http", "scheme": "bearer"}}
    assert checks(validate(cli, write(tmp_path, "v03.json", v03))[1], "security-scheme-shape") == []
    card["securitySchemes"] = {
        "legacy": {"type": "http", "scheme": "bearer", "httpAuthSecurityScheme": {"scheme": "Bearer"}}
    }
    assert checks(validate(cli, write(tmp_path, "hybrid.json", card))[1], "security-scheme-shape") == []


# ------------------------------------------------------------------------------ a 0.x card declaring 1.0


def test_a_03_shaped_card_declaring_10_fails_the_checks(cli: Any, tmp_path: Path) -> None:
    card = v03_card()
    card["protocolVersion"] = "1.0"
    path = write(tmp_path, "neither.json", card)
    code, doc = validate(cli, path)
    assert code == 7 and doc["schemas"] == ["0.3"] and doc["valid"] is True
    assert checks(doc, "version-shape") == [("error", "/protocolVersion")]
    [f] = [f for f in doc["findings"] if f["check"] == "version-shape"]
    assert "1.0 cards declare supportedInterfaces" in f["message"]
    assert f["section"].startswith("v1.0 §4.4.1 AgentCard")
    # checked as 1.0, the schema already names the missing supportedInterfaces: no second finding
    code, doc = validate(cli, path, "--a2a-version", "1.0")
    assert code == 6 and checks(doc, "version-shape") == []
    # a 0.3 card declaring 0.3, and a 1.0 card declaring 1.0: nothing
    assert checks(validate(cli, write(tmp_path, "v03.json", v03_card()))[1], "version-shape") == []
    assert validate(cli, write(tmp_path, "v1.json", v1_card()))[0] == 0


# ------------------------------------------------------------------------------ duplicate skill ids


def _dup_skills(description: str) -> dict[str, Any]:
    card = v1_card()
    card["skills"].append({"id": "summarize", "name": "Second", "description": description, "tags": ["t"]})
    return card


def test_two_skills_with_one_id_fail_validate_and_are_noted_by_snapshot_and_diff(
    cli: Any, tmp_path: Path
) -> None:
    before = write(tmp_path, "before.json", _dup_skills("first text"))
    after = write(tmp_path, "after.json", _dup_skills("changed text"))
    code, doc = validate(cli, before)
    assert code == 7 and doc["valid"] is True
    assert checks(doc, "duplicate-skill-id") == [("error", "/skills/1/id")]
    # snapshot: keeps the first, and says so (in the document and on stderr)
    r = cli("caps", "snapshot", before)
    assert r.exit_code == 0
    snap = json.loads(r.stdout)
    assert snap["duplicateSkillIds"] == ["summarize"] and snap["skills"]["summarize"]["name"] == "Summarize"
    assert "more than one skill with id 'summarize'" in r.stderr
    # diff: the second skill's change is not compared, and both sides say so
    r = cli("caps", "diff", before, after, "-o", "json")
    assert r.exit_code == 0 and r.json["changes"] == []
    for side in ("before", "after"):
        [note] = r.json[side]["notes"]
        assert note.startswith("skill id 'summarize' names more than one skill")
    table = cli("caps", "diff", before, after)
    assert "names more than one skill" in table.stderr
    # a card that comes to have two skills with one id: a risky change
    single = write(tmp_path, "single.json", v1_card())
    r = cli("caps", "diff", single, after, "--fail-on", "risky", "-o", "json")
    assert r.exit_code == 7
    assert [(c["path"], c["op"], c["class"]) for c in r.json["changes"]] == [
        ("/duplicateSkillIds", "added", "risky")
    ]
    # a card with unique ids: no member, no note
    r = cli("caps", "snapshot", single)
    assert "duplicateSkillIds" not in json.loads(r.stdout) and r.stderr == ""


# ------------------------------------------------------------------------------ caps diff: security


def _secured(scheme: dict[str, Any]) -> dict[str, Any]:
    card = v1_card()
    card["securitySchemes"] = {"auth": scheme}
    card["securityRequirements"] = [{"schemes": {"auth": {"list": []}}}]
    return card


@pytest.mark.parametrize(
    ("after", "path"),
    [
        ({"apiKeySecurityScheme": {"location": "header", "name": "X-API-Key"}}, "/securitySchemes/auth/type"),
        ({"httpAuthSecurityScheme": {"scheme": "Basic"}}, "/securitySchemes/auth/scheme"),
    ],
)
def test_diff_a_security_scheme_of_another_kind_is_breaking(
    cli: Any, tmp_path: Path, after: dict[str, Any], path: str
) -> None:
    """bearer → API key, bearer → basic: clients holding bearer tokens cannot authenticate. It was
    "risky" ("settings changed"), so the default --fail-on breaking passed it."""
    a = write(tmp_path, "a.json", _secured({"httpAuthSecurityScheme": {"scheme": "Bearer"}}))
    b = write(tmp_path, "b.json", _secured(after))
    r = cli("caps", "diff", a, b, "-o", "json")
    assert r.exit_code == 7, r.stdout
    assert (path, "changed", "breaking") in [(c["path"], c["op"], c["class"]) for c in r.json["changes"]]


def test_diff_removed_oauth_flow_is_breaking_and_a_description_cosmetic(cli: Any, tmp_path: Path) -> None:
    """A 1.0 OAuthFlows holds one flow (a oneof): client credentials replaced by device code removes
    the flow clients use (breaking); the new one is a settings change (risky)."""
    token = "https://login.example.com/token"
    cc = {"clientCredentials": {"tokenUrl": token, "scopes": {}}}
    device = {
        "deviceCode": {
            "deviceAuthorizationUrl": "https://login.example.com/device",
            "tokenUrl": token,
            "scopes": {},
        }
    }
    before = _secured({"oauth2SecurityScheme": {"flows": cc, "description": "OAuth"}})
    after = _secured({"oauth2SecurityScheme": {"flows": device, "description": "OAuth"}})
    a, b = write(tmp_path, "a.json", before), write(tmp_path, "b.json", after)
    assert validate(cli, a)[0] == 0 and validate(cli, b)[0] == 0
    r = cli("caps", "diff", a, b, "-o", "json")
    assert r.exit_code == 7
    assert [(c["path"], c["op"], c["class"]) for c in r.json["changes"]] == [
        ("/securitySchemes/auth/flows/clientCredentials", "removed", "breaking"),
        ("/securitySchemes/auth/flows/deviceCode", "added", "risky"),
    ]
    # the description, and the case of an http auth scheme (0.3 "bearer" vs 1.0 "Bearer"): cosmetic
    described = copy.deepcopy(before)
    described["securitySchemes"]["auth"]["oauth2SecurityScheme"]["description"] = (
        "OAuth 2, client credentials"
    )
    r = cli("caps", "diff", a, write(tmp_path, "c.json", described), "--fail-on", "risky", "-o", "json")
    assert r.exit_code == 0
    assert [(c["path"], c["class"]) for c in r.json["changes"]] == [
        ("/securitySchemes/auth/description", "cosmetic")
    ]
    lower = write(tmp_path, "lower.json", _secured({"type": "http", "scheme": "bearer"}))
    v1 = write(tmp_path, "v1.json", _secured({"httpAuthSecurityScheme": {"scheme": "Bearer"}}))
    r = cli("caps", "diff", lower, v1, "--fail-on", "risky", "-o", "json")
    assert r.exit_code == 0, r.stdout
    assert [(c["path"], c["class"]) for c in r.json["changes"]] == [
        ("/securitySchemes/auth/scheme", "cosmetic")
    ]
