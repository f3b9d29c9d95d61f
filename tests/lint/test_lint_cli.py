"""``a2actl caps lint`` through the real CLI: per rule a fixture card that fires it and a near miss
that does not (tests/lint/cards.py), every card version, the a2a-sdk sandboxes, ``--live`` against a
sandbox that enforces its token and one that does not, the options and the config file, and the
SARIF log validated against the official schema."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from a2actl.caps.lint_rules import BY_ID, RULES
from tests.conftest import TOKEN
from tests.lint.cards import (
    CLEAN,
    FIRES,
    VERSIONS,
    build,
    clean_hybrid,
    clean_v02,
    clean_v03,
    clean_v1,
    full_v03,
    full_v1,
)

#: the rules a decoded card fires (A2A-SEC-008 needs a card URL, A2A-SEC-018 the card's text: a
#: dict cannot hold a repeated member; both are tested on their own)
STATIC = [r.id for r in RULES if not r.live and r.id not in ("A2A-SEC-008", "A2A-SEC-018")]


def lint_json(cli: Any, *args: str) -> tuple[int, dict[str, Any]]:
    r = cli("caps", "lint", *args, "-o", "json")
    return r.exit_code, r.json


def ids(doc: dict[str, Any]) -> list[str]:
    return [f["id"] for f in doc["findings"]]


@pytest.mark.parametrize("base", [clean_v1, clean_v03, clean_v02, clean_hybrid], ids=lambda f: f.__name__)
def test_clean_cards_have_no_findings(cli: Any, card_file: Any, base: Callable[[], dict[str, Any]]) -> None:
    code, doc = lint_json(cli, card_file(base()))
    assert code == 0
    assert doc["findings"] == [], doc["findings"]
    assert doc["failed"] is False
    assert doc["kind"] == "file"
    assert {n["id"] for n in doc["notRun"]} == {"A2A-SEC-003", "A2A-SEC-008"}


def test_every_static_rule_has_fixtures() -> None:
    assert set(FIRES) == set(STATIC) == set(CLEAN)


@pytest.mark.parametrize("rule_id", sorted(FIRES))
def test_fixture_fires_its_rule(cli: Any, card_file: Any, rule_id: str) -> None:
    pointer, mutation = FIRES[rule_id]
    path = card_file(build(clean_v1, mutation))
    code, doc = lint_json(cli, path)
    mine = [f for f in doc["findings"] if f["id"] == rule_id]
    assert mine, f"{rule_id} did not fire: {doc['findings']}"
    assert pointer in [f["pointer"] for f in mine]
    rule = BY_ID[rule_id]
    for f in mine:
        assert (f["severity"], f["name"], f["title"], f["why"], f["fix"]) == (
            rule.severity,
            rule.name,
            rule.title,
            rule.why,
            rule.fix,
        )
        assert f["message"] and f["suppressed"] is None
    # the default --fail-on error: exit 7 exactly when an error-level finding exists
    assert code == (7 if any(f["severity"] == "error" for f in doc["findings"]) else 0)
    # --fail-on info fails on any finding; --fail-on none never
    assert lint_json(cli, path, "--fail-on", "info")[0] == 7
    assert lint_json(cli, path, "--fail-on", "none")[0] == 0


@pytest.mark.parametrize("rule_id", sorted(CLEAN))
def test_near_miss_does_not_fire(cli: Any, card_file: Any, rule_id: str) -> None:
    code, doc = lint_json(cli, card_file(build(clean_v1, CLEAN[rule_id])))
    assert rule_id not in ids(doc), doc["findings"]


@pytest.mark.parametrize(
    ("rule_id", "base", "pointer", "mutation"),
    VERSIONS,
    ids=[f"{r}-{b.__name__}" for r, b, _, _ in VERSIONS],
)
def test_other_card_versions(
    cli: Any, card_file: Any, rule_id: str, base: Callable[[], dict[str, Any]], pointer: str, mutation: Any
) -> None:
    _, doc = lint_json(cli, card_file(build(base, mutation)))
    assert (rule_id, pointer) in [(f["id"], f["pointer"]) for f in doc["findings"]], doc["findings"]


def test_hidden_tag_text_is_spelled_out(cli: Any, card_file: Any) -> None:
    _, doc = lint_json(cli, card_file(build(clean_v1, FIRES["A2A-SEC-010"][1])))
    (f,) = [f for f in doc["findings"] if f["id"] == "A2A-SEC-010"]
    assert "'ignore the user'" in f["message"]


def test_credentials_never_printed(cli: Any, card_file: Any, sarif_validator: Any) -> None:
    path = card_file(build(clean_v1, FIRES["A2A-SEC-006"][1]))
    for fmt in ("table", "json", "sarif"):
        r = cli("caps", "lint", path, "-o", fmt)
        assert r.exit_code == 7
        assert "hunter2-Secret" not in r.stdout + r.stderr
    r = cli("caps", "lint", path, "-o", "json")
    (f,) = [f for f in r.json["findings"] if f["id"] == "A2A-SEC-006"]
    assert "***@example.com" in f["message"]


# -- served cards and the sandboxes ----------------------------------------------------------------


@pytest.mark.parametrize("name", ["sandbox", "sandbox_v1", "sandbox_v03", "sandbox_legacy", "sandbox_auth"])
def test_sandbox_cards_lint_without_errors(cli: Any, request: pytest.FixtureRequest, name: str) -> None:
    sb = request.getfixturevalue(name)
    code, doc = lint_json(cli, sb.url)
    assert code == 0, doc["findings"]
    assert doc["counts"]["error"] == 0
    assert doc["kind"] == "url"
    assert "A2A-SEC-015" in ids(doc)  # the sandbox has no documentationUrl (info)


def test_interface_host_differs_is_info(cli: Any, card_server: Any) -> None:
    def build_card(base: str) -> dict[str, Any]:
        card = clean_v1()
        port = base.rsplit(":", 1)[1]
        card["supportedInterfaces"][0]["url"] = f"http://localhost:{port}/a2a/jsonrpc"  # another host name
        card["supportedInterfaces"][1]["url"] = f"{base}/a2a/rest"  # the card's own host
        return card

    with card_server(build_card) as url:
        code, doc = lint_json(cli, url)
    mine = [f for f in doc["findings"] if f["id"] == "A2A-SEC-008"]
    assert [f["pointer"] for f in mine] == ["/supportedInterfaces/0/url"]
    assert mine[0]["severity"] == "info"
    assert code == 0
    assert "A2A-SEC-008" not in {n["id"] for n in doc["notRun"]}


def test_live_fires_when_the_endpoint_ignores_the_declared_token(
    cli: Any, card_server: Any, sandbox: Any
) -> None:
    # a card that declares a bearer scheme, served in front of a sandbox that checks no token
    def build_card(base: str) -> dict[str, Any]:
        card = clean_v1()
        card["supportedInterfaces"] = [
            {"url": f"{sandbox.url}/a2a/jsonrpc", "protocolBinding": "JSONRPC", "protocolVersion": "1.0"},
            {"url": f"{sandbox.url}/a2a/rest", "protocolBinding": "HTTP+JSON", "protocolVersion": "0.3"},
        ]
        return card

    with card_server(build_card) as url:
        code, doc = lint_json(cli, url, "--live")
        assert code == 7
        assert doc["live"] is True
        assert [c["outcome"] for c in doc["liveChecks"]] == ["answered", "answered"]
        found = [(f["id"], f["pointer"]) for f in doc["findings"] if f["id"] == "A2A-SEC-003"]
        assert found == [
            ("A2A-SEC-003", "/supportedInterfaces/0/url"),
            ("A2A-SEC-003", "/supportedInterfaces/1/url"),
        ]
        # without --live the rule does not run, and says why
        code, doc = lint_json(cli, url)
        assert "A2A-SEC-003" not in ids(doc)
        assert "A2A-SEC-003" in {n["id"] for n in doc["notRun"]}


def test_live_passes_when_the_token_is_enforced_even_with_a_token_configured(
    cli: Any, sandbox_auth: Any
) -> None:
    # the run's own token must not be sent: with it the sandbox would answer, and the rule fire
    r = cli("caps", "lint", sandbox_auth.url, "--live", "-o", "json", env={"A2ACTL_TOKEN": TOKEN})
    assert r.exit_code == 0, r.json["findings"]
    assert r.json["liveChecks"] and {c["outcome"] for c in r.json["liveChecks"]} == {"refused"}
    assert "A2A-SEC-003" not in ids(r.json)
    assert TOKEN not in r.stdout + r.stderr


def test_live_on_a_card_without_credential_schemes_says_so(cli: Any, sandbox: Any) -> None:
    code, doc = lint_json(cli, sandbox.url, "--live")
    assert code == 0 and doc["liveChecks"] == []
    (n,) = [n for n in doc["notRun"] if n["id"] == "A2A-SEC-003"]
    assert "no bearer" in n["reason"]


# -- options and the config file -------------------------------------------------------------------


def _many_findings(card_file: Any) -> str:
    card = clean_v1()
    for rule_id in ("A2A-SEC-001", "A2A-SEC-014", "A2A-SEC-015", "A2A-SEC-012"):
        FIRES[rule_id][1](card)
    return str(card_file(card))


def test_select_and_ignore(cli: Any, card_file: Any) -> None:
    path = _many_findings(card_file)
    _, doc = lint_json(cli, path)
    assert set(ids(doc)) == {"A2A-SEC-001", "A2A-SEC-012", "A2A-SEC-014", "A2A-SEC-015"}
    _, doc = lint_json(cli, path, "--select", "A2A-SEC-01")  # a prefix: 010..016
    assert set(ids(doc)) == {"A2A-SEC-012", "A2A-SEC-014", "A2A-SEC-015"}
    assert "A2A-SEC-001" not in doc["rulesRun"]
    code, doc = lint_json(cli, path, "--ignore", "A2A-SEC-001,missing-provider", "--ignore", "a2a-sec-015")
    assert set(ids(doc)) == {"A2A-SEC-012"}
    assert code == 0  # the only error was ignored


@pytest.mark.parametrize("opt", ["--select", "--ignore"])
def test_unknown_rule_is_usage_error(cli: Any, card_file: Any, opt: str) -> None:
    r = cli("caps", "lint", card_file(clean_v1()), opt, "A2A-SEC-999")
    assert r.exit_code == 2
    assert "A2A-SEC-999" in r.stderr


def test_findings_ordered_most_severe_first(cli: Any, card_file: Any) -> None:
    _, doc = lint_json(cli, _many_findings(card_file))
    rank = {"error": 3, "warning": 2, "info": 1}
    sev = [rank[f["severity"]] for f in doc["findings"]]
    assert sev == sorted(sev, reverse=True)


def test_config_allow_list(cli: Any, card_file: Any, tmp_path: Path) -> None:
    path = _many_findings(card_file)
    cfg = tmp_path / "a2a-lint.yaml"
    cfg.write_text(
        "lint:\n"
        "  ignore: [A2A-SEC-015]\n"
        "  allow:\n"
        "    - rule: A2A-SEC-001\n"
        "      pointer: /supportedInterfaces/0\n"
        "      reason: TLS ends at the sidecar on this host\n"
        "    - rule: A2A-SEC-014\n"
        "      pointer: /skills\n"
        "      reason: does not match the provider pointer\n",
        encoding="utf-8",
    )
    code, doc = lint_json(cli, path, "--config", str(cfg))
    assert code == 0  # the one error is allowed
    by_id = {f["id"]: f for f in doc["findings"]}
    assert set(by_id) == {"A2A-SEC-001", "A2A-SEC-012", "A2A-SEC-014"}
    assert by_id["A2A-SEC-001"]["suppressed"] == {
        "reason": "TLS ends at the sidecar on this host",
        "source": f"{cfg}#1",
    }
    assert by_id["A2A-SEC-014"]["suppressed"] is None
    assert doc["counts"] == {"error": 0, "warning": 1, "info": 1, "suppressed": 1}
    assert doc["unusedAllow"] == [f"{cfg}#2"]
    assert doc["config"] == str(cfg)
    # --fail-on from the config, overridden by the command line
    cfg.write_text("lint:\n  fail-on: warning\n", encoding="utf-8")
    assert lint_json(cli, card_file(build(clean_v1, FIRES["A2A-SEC-012"][1])), "--config", str(cfg))[0] == 7
    assert (
        lint_json(
            cli,
            card_file(build(clean_v1, FIRES["A2A-SEC-012"][1])),
            "--config",
            str(cfg),
            "--fail-on",
            "error",
        )[0]
        == 0
    )


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("lint:\n  allow:\n    - rule: A2A-SEC-001\n", "reason is required"),
        ("lint:\n  allow:\n    - rule: A2A-SEC-777\n      reason: x\n", "A2A-SEC-777"),
        ("lint:\n  selct: [A2A-SEC-001]\n", "unknown key lint.selct"),
        ("lint:\n  fail-on: sometimes\n", "fail-on"),
        ("lint: [\n", "not YAML"),
        ("other: 1\n", "no 'lint:'"),
        (
            "lint:\n  allow:\n    - rule: A2A-SEC-001\n      pointer: supportedInterfaces\n      reason: x\n",
            "JSON pointer",
        ),
    ],
)
def test_bad_config_is_usage_error(cli: Any, card_file: Any, tmp_path: Path, text: str, needle: str) -> None:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(text, encoding="utf-8")
    r = cli("caps", "lint", card_file(clean_v1()), "--config", str(cfg))
    assert r.exit_code == 2
    assert needle in r.stderr
    assert "Traceback" not in r.stderr


def test_missing_config_and_bad_card(cli: Any, card_file: Any, tmp_path: Path) -> None:
    r = cli("caps", "lint", card_file(clean_v1()), "--config", str(tmp_path / "nope.yaml"))
    assert r.exit_code == 2 and "cannot read" in r.stderr
    r = cli("caps", "lint", str(tmp_path / "nope.json"))
    assert r.exit_code == 2
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    r = cli("caps", "lint", str(bad))
    assert r.exit_code == 6


def test_table_output(cli: Any, card_file: Any) -> None:
    r = cli("caps", "lint", _many_findings(card_file))
    assert r.exit_code == 7
    assert "A2A-SEC-001 plaintext-http" in r.stdout
    assert "/supportedInterfaces/0/url" in r.stdout
    assert "--fail-on error: FAIL" in r.stdout
    r = cli("caps", "lint", card_file(clean_v1()))
    assert r.exit_code == 0 and "no findings" in r.stdout


# -- SARIF -----------------------------------------------------------------------------------------


def _line_of(text: str, needle: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


def test_sarif_file_target_validates_and_points_at_lines(
    cli: Any, card_file: Any, tmp_path: Path, sarif_validator: Any
) -> None:
    path = _many_findings(card_file)
    cfg = tmp_path / "allow.yaml"
    cfg.write_text(
        "lint:\n  allow:\n    - rule: A2A-SEC-015\n      reason: docs are in the README\n", encoding="utf-8"
    )
    r = cli("caps", "lint", path, "--config", str(cfg), "-o", "sarif")
    assert r.exit_code == 7
    log = json.loads(r.stdout)
    sarif_validator.validate(log)
    assert log["version"] == "2.1.0"
    (run,) = log["runs"]
    rules = run["tool"]["driver"]["rules"]
    assert [x["id"] for x in rules] == [x.id for x in RULES if x.id not in ("A2A-SEC-003", "A2A-SEC-008")]
    for x in rules:
        rule = BY_ID[x["id"]]
        assert x["shortDescription"]["text"] == rule.title
        assert x["fullDescription"]["text"] == rule.why
        assert "helpUri" not in x  # no public home declared yet: no made-up address
        assert x["help"]["text"].endswith("docs/lint-rules.md#" + rule.id.lower())
        severity = {"error": "7.5", "warning": "5.0", "info": "2.0"}[rule.severity]
        assert x["properties"]["security-severity"] == severity
        assert (
            x["defaultConfiguration"]["level"]
            == {"error": "error", "warning": "warning", "info": "note"}[rule.severity]
        )
    text = Path(path).read_text(encoding="utf-8")
    by_rule = {res["ruleId"]: res for res in run["results"]}
    assert set(by_rule) == {"A2A-SEC-001", "A2A-SEC-012", "A2A-SEC-014", "A2A-SEC-015"}
    for res in run["results"]:
        assert rules[res["ruleIndex"]]["id"] == res["ruleId"]
        (loc,) = res["locations"]
        assert loc["physicalLocation"]["artifactLocation"]["uri"] == Path(path).as_uri()
        assert loc["logicalLocations"][0]["fullyQualifiedName"] == loc["properties"]["jsonPointer"]
    # the line of the pointed-to member, in the file as written
    iface = by_rule["A2A-SEC-001"]["locations"][0]
    assert iface["properties"]["jsonPointer"] == "/supportedInterfaces/0/url"
    assert iface["physicalLocation"]["region"]["startLine"] == _line_of(
        text, '"url": "http://agent.example.com'
    )
    name = by_rule["A2A-SEC-012"]["locations"][0]
    assert name["physicalLocation"]["region"]["startLine"] == _line_of(text, '"name": "Orders\\u200b')
    assert by_rule["A2A-SEC-001"]["level"] == "error" and by_rule["A2A-SEC-014"]["level"] == "note"
    assert by_rule["A2A-SEC-015"]["suppressions"] == [
        {"kind": "external", "justification": "docs are in the README", "properties": {"source": f"{cfg}#1"}}
    ]
    assert "suppressions" not in by_rule["A2A-SEC-001"]


def test_sarif_relative_path_uses_srcroot(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sarif_validator: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "cards").mkdir()
    (tmp_path / "cards" / "agent card.json").write_text(json.dumps(build(clean_v1, FIRES["A2A-SEC-014"][1])))
    r = cli("caps", "lint", "cards/agent card.json", "-o", "sarif")
    assert r.exit_code == 0
    log = json.loads(r.stdout)
    sarif_validator.validate(log)
    loc = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert loc == {"uri": "cards/agent%20card.json", "uriBaseId": "%SRCROOT%"}
    assert "%SRCROOT%" in log["runs"][0]["originalUriBaseIds"]


def test_sarif_url_target_validates(cli: Any, sandbox: Any, sarif_validator: Any) -> None:
    r = cli("caps", "lint", sandbox.url, "-o", "sarif")
    assert r.exit_code == 0
    log = json.loads(r.stdout)
    sarif_validator.validate(log)
    results = log["runs"][0]["results"]
    assert results
    card_url = sandbox.url + "/.well-known/agent-card.json"
    host_port = sandbox.url.split("://", 1)[1]
    body = httpx.get(card_url, timeout=5).text
    for res in results:
        loc = res["locations"][0]["physicalLocation"]
        # a relative reference, not the http(s) URL: code scanning rejects absolute URIs whose scheme
        # is not the checkout's (file)
        assert (
            loc["artifactLocation"]["uri"] == host_port.replace(":", "%3A") + "/.well-known/agent-card.json"
        )
        assert loc["artifactLocation"]["properties"]["url"] == card_url
        assert "://" not in loc["artifactLocation"]["uri"]
        pointer = res["locations"][0]["properties"]["jsonPointer"]
        if pointer == "/capabilities/pushNotifications":  # a member that exists: its line in the body
            assert loc["region"]["startLine"] == _line_of(body, '"pushNotifications"')
        assert loc["region"]["startLine"] >= 1
    # the branch above ran: the sandbox offers push without a security scheme (A2A-SEC-005)
    assert "/capabilities/pushNotifications" in [
        r["locations"][0]["properties"]["jsonPointer"] for r in results
    ]


def test_sarif_clean_card_has_empty_results(cli: Any, card_file: Any, sarif_validator: Any) -> None:
    r = cli("caps", "lint", card_file(clean_v1()), "-o", "sarif")
    assert r.exit_code == 0
    log = json.loads(r.stdout)
    sarif_validator.validate(log)
    assert log["runs"][0]["results"] == []


def test_sarif_schema_rejects_a_broken_log(sarif_validator: Any) -> None:
    import jsonschema

    with pytest.raises(jsonschema.ValidationError):
        sarif_validator.validate({"version": "2.1.0", "runs": [{"tool": {"driver": {}}}]})


# -- review: hostile cards and options ---------------------------------------------------------------


def test_verbose_wire_log_masks_card_url_credentials(cli: Any, card_server: Any) -> None:
    # -vv prints the card body before any rule runs: its URL credentials must be masked there too
    secrets = ("Vv-pass-7731", "Vv-token-7731", "Vv-ftp-7731")

    def build_card(base: str) -> dict[str, Any]:
        card = clean_v1()
        card["provider"]["url"] = f"https://deploy:{secrets[0]}@example.com/agents"
        card["documentationUrl"] = f"https://example.com/docs?access_token={secrets[1]}"
        card["description"] = f"Mirror at ftp://mirror:{secrets[2]}@files.example.com/ ."
        return card

    with card_server(build_card) as url:
        for fmt in ("table", "json", "sarif"):
            r = cli("-vv", "caps", "lint", url, "-o", fmt)
            assert r.exit_code == 7, r.stderr
            assert "agent-card.json" in r.stderr  # the wire log did print the exchange
            for s in secrets:
                assert s not in r.stdout + r.stderr, (fmt, s)


def test_a_card_with_thousands_of_findings_lists_a_bounded_number(
    cli: Any, card_file: Any, sarif_validator: Any
) -> None:
    from a2actl.caps.lint import MAX_PER_RULE

    card = clean_v1()
    n = MAX_PER_RULE * 3
    card["skills"] = [
        {"id": f"s{i}", "name": f"n{i}", "description": f"d\u202e{i}", "tags": ["t"]} for i in range(n)
    ]
    path = card_file(card)
    code, doc = lint_json(cli, path)
    assert code == 7
    assert ids(doc).count("A2A-SEC-011") == MAX_PER_RULE
    assert doc["omitted"] == {"A2A-SEC-011": n - MAX_PER_RULE}
    assert doc["counts"]["error"] == n
    r = cli("caps", "lint", path, "-o", "sarif")
    log = json.loads(r.stdout)
    sarif_validator.validate(log)
    (run,) = log["runs"]
    assert len(run["results"]) <= 5000  # code scanning shows 5,000 and rejects over 25,000
    assert run["properties"]["omitted"] == {"A2A-SEC-011": n - MAX_PER_RULE}
    r = cli("caps", "lint", path)
    assert f"{n - MAX_PER_RULE} more A2A-SEC-011" in r.stdout


@pytest.mark.parametrize(
    ("args", "text", "needle"),
    [
        (("--select", "x" * 5000), None, "matches no lint rule"),
        (("--ignore", "A2A-SEC"), None, "no rule left to run"),
        ((), "lint:\n  select: ['']\n", "lint.select"),
        ((), "lint:\n  select: " + "[" * 3000 + "]" * 3000 + "\n", "nests too deep"),
    ],
)
def test_hostile_options_are_one_line_usage_errors(
    cli: Any, card_file: Any, tmp_path: Path, args: tuple[str, ...], text: str | None, needle: str
) -> None:
    extra: tuple[str, ...] = ()
    if text is not None:
        cfg = tmp_path / "c.yaml"
        cfg.write_text(text, encoding="utf-8")
        extra = ("--config", str(cfg))
    r = cli("caps", "lint", card_file(clean_v1()), *args, *extra)
    assert r.exit_code == 2
    assert needle in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and len(r.stderr) < 400


@pytest.mark.parametrize(
    ("body", "code"),
    [("not json {", 6), ("[]", 6), ("null", 6), ("[" * 100_000 + "]" * 100_000, 6)],
    ids=["not-json", "array", "null", "deep"],
)
def test_sarif_stdout_is_empty_when_the_card_cannot_be_loaded(
    cli: Any, tmp_path: Path, body: str, code: int
) -> None:
    p = tmp_path / "card.json"
    p.write_text(body, encoding="utf-8")
    r = cli("caps", "lint", str(p), "-o", "sarif")
    assert r.exit_code == code
    assert r.stdout == ""  # nothing an upload step could mistake for a SARIF log
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr


def test_live_strips_url_credentials_and_never_prints_them(cli: Any) -> None:
    # an interface URL with user:pass@ must not turn the anonymous --live call into a Basic-auth one
    # (httpx sends userinfo as Authorization), nor be printed by -v's request line
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    from tests.servers import LoopbackServer

    secret = "Pw-live-4471"
    seen: list[str | None] = []

    def factory(base: str) -> Any:
        async def card(_r: Request) -> JSONResponse:
            c = clean_v1()
            hostport = base.split("://", 1)[1]
            c["supportedInterfaces"] = [
                {
                    "url": f"http://ops:{secret}@{hostport}/rpc",
                    "protocolBinding": "JSONRPC",
                    "protocolVersion": "1.0",
                }
            ]
            return JSONResponse(c)

        async def rpc(r: Request) -> Response:
            seen.append(r.headers.get("authorization"))
            return Response(status_code=401, headers={"WWW-Authenticate": "Bearer"})

        return Starlette(
            routes=[Route("/.well-known/agent-card.json", card), Route("/rpc", rpc, methods=["POST"])]
        )

    with LoopbackServer(factory) as srv:
        r = cli("-v", "caps", "lint", srv.url, "--live", "--select", "A2A-SEC-003", "-o", "json")
    assert r.exit_code == 0, r.stderr
    assert seen == [None]
    assert [c["outcome"] for c in r.json["liveChecks"]] == ["refused"]
    assert secret not in r.stdout + r.stderr
    assert "> POST" in r.stderr  # -v did print the request line


@pytest.mark.parametrize("base", [full_v1, full_v03], ids=lambda f: f.__name__)
def test_full_featured_correct_cards_have_no_findings(
    cli: Any, card_file: Any, base: Callable[[], dict[str, Any]]
) -> None:
    # every security scheme shape of the version, PKCE and device code, push with auth, a gRPC
    # interface, emoji (ZWJ family, flags, keycap) and many scripts: a correct card is clean
    code, doc = lint_json(cli, card_file(base()))
    assert code == 0
    assert doc["findings"] == [], doc["findings"]
    assert doc["shape"] == ("1.0" if base is full_v1 else "0.3")


def test_a_member_repeated_with_different_values_fires_duplicate_key(cli: Any, tmp_path: Path) -> None:
    # a dict cannot hold the repeat: the card is written as text; the reviewer reads the first url,
    # a2actl (and Python, Go, JavaScript) the last
    card = clean_v1()
    first = {**card["supportedInterfaces"][0], "url": "https://reviewed.example.com/a2a/jsonrpc"}
    text = json.dumps(card)
    text = text.replace(
        '"supportedInterfaces": [{', '"supportedInterfaces": [{"url": "' + first["url"] + '", ', 1
    )
    path = tmp_path / "dup.json"
    path.write_text(text)
    code, doc = lint_json(cli, str(path))
    assert code == 7
    assert [(f["id"], f["name"], f["severity"], f["pointer"]) for f in doc["findings"]] == [
        ("A2A-SEC-018", "duplicate-key", "error", "/supportedInterfaces/0/url")
    ]
    assert "A2A-SEC-018" in doc["rulesRun"]
    # the same value twice: every reader agrees, no finding (caps validate warns)
    same = tmp_path / "same.json"
    same.write_text(json.dumps(card).replace('{"name": ', '{"name": "Orders agent", "name": ', 1))
    code, doc = lint_json(cli, str(same))
    assert code == 0 and doc["findings"] == []


def test_a_card_fifo_is_read_once(tmp_path: Path) -> None:
    # the card's text was read again from the path after loading it: a named pipe has no second
    # writer, so open() blocked for ever, past --max-time and SIGTERM
    import os
    import subprocess
    import sys
    import threading

    fifo = tmp_path / "card.fifo"
    os.mkfifo(fifo)
    body = json.dumps(clean_v1()).encode()

    def write() -> None:
        with open(fifo, "wb") as fh:
            fh.write(body)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    proc = subprocess.Popen(
        [sys.executable, "-m", "a2actl", "--max-time", "5s", "caps", "lint", str(fifo), "-o", "json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        out, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise AssertionError("caps lint on a FIFO hung past --max-time") from None
    assert proc.returncode == 0, err
    assert json.loads(out)["findings"] == []
