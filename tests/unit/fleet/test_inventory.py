"""a2actl.fleet.inventory: the five formats, errors with file and line/entry, dedup, secrets, shards."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from a2actl.core.errors import UsageError
from a2actl.core.redact import Redactor
from a2actl.fleet.inventory import (
    AgentSpec,
    load_inventory,
    normalise_url,
    parse_inventory,
    parse_shard,
    select_shard,
    shard_index,
)


def urls(inv: object) -> list[str]:
    return [a.url for a in inv.agents]  # type: ignore[attr-defined]


def test_text_comments_blank_lines_and_bare_host_port() -> None:
    inv = parse_inventory(
        b"# agents of team a\n\nhttp://a.example:8000\n  localhost:9000   # trailing comment\nhttps://b.example/x\n",
        "agents.txt",
    )
    assert inv.format == "text"
    assert urls(inv) == ["http://a.example:8000", "http://localhost:9000", "https://b.example/x"]
    assert [a.name for a in inv.agents] == urls(inv)
    assert inv.duplicates == 0


def test_text_duplicates_are_dropped_and_counted() -> None:
    inv = parse_inventory(b"http://A.example:80/\nhttp://a.example\nhttp://a.example/#frag\nhttp://b\n", "t")
    assert urls(inv) == ["http://A.example:80/", "http://b"]
    assert inv.duplicates == 2


@pytest.mark.parametrize(
    ("body", "line"),
    [(b"http://ok\nftp://nope\n", 2), (b"\n\nhttp://a b\n", 3), (b"http://ok\nhttp://:80\n", 2)],
)
def test_text_errors_name_file_and_line(body: bytes, line: int) -> None:
    with pytest.raises(UsageError) as err:
        parse_inventory(body, "agents.txt")
    assert err.value.message.startswith(f"inventory agents.txt, line {line}:")
    assert int(err.value.exit_code) == 2


def test_yaml_inventory_with_defaults_labels_headers_token_env_budgets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ALPHA_KEY", "alpha-secret-key-value")
    monkeypatch.setenv("ALPHA_TOKEN", "alpha-bearer-token")
    doc = """
defaults:
  labels: {env: prod}
  headers: {X-Tenant: acme}
  budget: 5s
agents:
  - url: https://alpha.example
    name: alpha
    labels: {team: search}
    headers: {X-Api-Key: "${ALPHA_KEY}"}
    tokenEnv: ALPHA_TOKEN
    budget: 250ms
  - http://beta.example:8080
"""
    inv = parse_inventory(doc.encode(), "fleet.yaml")
    assert inv.format == "yaml"
    alpha, beta = inv.agents
    assert alpha.name == "alpha"
    assert dict(alpha.labels) == {"env": "prod", "team": "search"}
    assert dict(alpha.headers) == {"X-Tenant": "acme", "X-Api-Key": "alpha-secret-key-value"}
    assert alpha.token_env == "ALPHA_TOKEN" and alpha.token() == "alpha-bearer-token"
    assert alpha.budget == pytest.approx(0.25)
    assert beta.url == "http://beta.example:8080" and beta.budget == 5.0
    assert dict(beta.labels) == {"env": "prod"} and dict(beta.headers) == {"X-Tenant": "acme"}
    # the header secret and the token are registered: every output's redactor masks them
    masked = Redactor()("key alpha-secret-key-value token alpha-bearer-token")
    assert "alpha-secret" not in masked and "alpha-bearer" not in masked
    assert "alpha-secret" not in repr(alpha)
    assert alpha.to_json()["headerNames"] == ["X-Api-Key", "X-Tenant"]
    assert "alpha-secret" not in json.dumps(alpha.to_json())


@pytest.mark.parametrize(
    ("doc", "expect"),
    [
        (
            "agents:\n  - url: http://a\n  - url: http://b\n    budget: soon\n",
            "agents[1] (line 3): budget 'soon'",
        ),
        (
            "agents:\n  - url: http://a\n  - name: no-url\n",
            "agents[1] (line 3): 'url' (a string) is required",
        ),
        ("agents:\n  - url: http://a\n    colour: red\n", "agents[0] (line 2): unknown key(s) colour"),
        (
            "agents:\n  - url: http://a\n    tokenEnv: 'not a name'\n",
            "tokenEnv must be an environment variable NAME",
        ),
        (
            "agents:\n  - url: http://a\n    headers: {X-Key: '${NOPE_UNSET_VAR}'}\n",
            "NOPE_UNSET_VAR is not set",
        ),
        ("agents: [http://a\n", "line"),
        # a key twice in one mapping: YAML keeps the last one, and the first list (or URL) was lost
        ("agents:\n  - http://a\nagents:\n  - http://b\n", "line 3: 'agents' appears twice in one mapping"),
        ("agents:\n  - url: http://a\n    url: http://b\n", "line 3: 'url' appears twice in one mapping"),
        ("agents: 3\n", "'agents' must be a list"),
        ("nothing: here\n", "without 'agents'"),
    ],
)
def test_yaml_errors_name_file_and_entry(doc: str, expect: str) -> None:
    with pytest.raises(UsageError) as err:
        parse_inventory(doc.encode(), "fleet.yaml")
    assert "fleet.yaml" in err.value.message
    assert expect in err.value.message


def test_json_inventory_and_plain_lists() -> None:
    inv = parse_inventory(json.dumps({"agents": [{"url": "http://a", "name": "A"}, "http://b"]}), "f.json")
    assert inv.format == "json" and [a.name for a in inv.agents] == ["A", "http://b"]
    lst = parse_inventory(json.dumps(["http://a", {"url": "http://b", "labels": {"team": "x"}}]), "l.json")
    assert lst.format == "list" and urls(lst) == ["http://a", "http://b"]
    assert dict(lst.agents[1].labels) == {"team": "x"}
    ylst = parse_inventory(b"- http://a\n- url: http://b\n", "l.yml")
    assert ylst.format == "list" and urls(ylst) == ["http://a", "http://b"]


def test_json_syntax_error_names_line_and_column() -> None:
    with pytest.raises(UsageError) as err:
        parse_inventory(b'{"agents": [\n  "http://a",\n  oops\n]}', "f.json")
    assert "inventory f.json, line 3 column 3: not JSON" in err.value.message


@pytest.mark.parametrize(
    ("doc", "expect"),
    [
        # two teams' lists pasted together: the standard library kept the last, the first list's
        # agents went unprobed and the run passed
        (
            '{"agents": ["http://a"], "agents": ["http://b"]}',
            "'agents' appears twice in one object (/agents)",
        ),
        ('[{"url": "http://a", "url": "http://b"}]', "'url' appears twice in one object (/0/url)"),
        # the same value twice, and a name spelled with an escape, are still two members of one name
        (
            '{"agents": [{"url": "http://a", "\\u0075rl": "http://a"}]}',
            "'url' appears twice in one object (/agents/0/url)",
        ),
        (
            '{"defaults": {"headers": {"X-A": "1", "X-A": "2"}}, "agents": ["http://a"]}',
            "'X-A' appears twice in one object (/defaults/headers/X-A)",
        ),
        (
            '{"entries": [{"type": "application/a2a-agent-card+json", "url": "http://a", "url": "http://b"}]}',
            "'url' appears twice in one object (/entries/0/url)",
        ),
    ],
)
def test_a_json_member_given_twice_is_refused_naming_it(doc: str, expect: str) -> None:
    """As in YAML (test_yaml_errors_name_file_and_entry): a name repeated in one JSON object is exit 2
    naming it and its JSON pointer; the last value was used silently."""
    with pytest.raises(UsageError) as err:
        parse_inventory(doc.encode(), "f.json")
    assert err.value.exit_code == 2
    assert err.value.message == f"inventory f.json: {expect}"


def test_json_entry_error_names_the_entry() -> None:
    with pytest.raises(UsageError) as err:
        parse_inventory(json.dumps(["http://a", 5, "http://b"]), "l.json")
    assert "[1] must be a URL or an object, not a number" in err.value.message


def test_ai_catalog_agents_inline_cards_nested_and_other_types() -> None:
    catalog = {
        "specVersion": "1.0",
        "host": {"displayName": "Acme"},
        "entries": [
            {
                "identifier": "urn:air:acme.com:a2a:research",
                "type": "application/a2a-agent-card+json",
                "url": "https://agents.acme.com/research/.well-known/agent-card.json",
                "tags": ["research", "beta"],
            },
            {
                "identifier": "urn:air:acme.com:mcp:weather",
                "type": "application/mcp-server-card+json",
                "url": "https://m",
            },
            {
                "identifier": "urn:air:acme.com:a2a:inline",
                "displayName": "Inline",
                "type": "application/a2a-agent-card+json",
                "data": {"name": "x", "supportedInterfaces": [{"url": "https://inline.acme.com/a2a"}]},
            },
            {
                "identifier": "urn:air:acme.com:catalog:sub",
                "type": "application/ai-catalog+json",
                "data": {
                    "specVersion": "1.0",
                    "entries": [
                        {
                            "identifier": "n",
                            "type": "application/a2a-agent-card+json",
                            "data": {"url": "http://legacy:9"},
                        }
                    ],
                },
            },
            {
                "identifier": "urn:air:acme.com:catalog:far",
                "type": "application/ai-catalog+json",
                "url": "https://far",
            },
        ],
    }
    inv = parse_inventory(json.dumps(catalog), "ai-catalog.json")
    assert inv.format == "ai-catalog"
    assert urls(inv) == [
        "https://agents.acme.com/research/.well-known/agent-card.json",
        "https://inline.acme.com/a2a",
        "http://legacy:9",
    ]
    assert inv.agents[0].name == "urn:air:acme.com:a2a:research"
    assert inv.agents[0].labels["tags"] == "research,beta"
    assert inv.agents[1].name == "Inline"
    # the MCP server; the nested catalog by URL has a note of its own, not "not an A2A agent"
    assert inv.skipped == 1
    assert any("entries[4]" in n and "not followed" in n for n in inv.notes)


def test_ai_catalog_agent_entry_without_url() -> None:
    doc = {
        "specVersion": "1.0",
        "entries": [{"identifier": "x", "type": "application/a2a-agent-card+json", "data": {}}],
    }
    with pytest.raises(UsageError) as err:
        parse_inventory(json.dumps(doc), "c.json")
    assert "entries[0]: an agent entry needs 'url'" in err.value.message


def test_legacy_catalog_draft_card_url() -> None:
    doc = {
        "specVersion": "1.0.0",
        "host": {"name": "h"},
        "agents": [{"id": "a", "name": "A", "cardUrl": "https://a/card.json"}],
    }
    inv = parse_inventory(json.dumps(doc), "old.json")
    assert urls(inv) == ["https://a/card.json"] and inv.agents[0].name == "A"


def test_stdin_and_files(tmp_path: Path) -> None:
    inv = load_inventory("-", stdin=io.BytesIO(b"http://a\nhttp://b\n"))
    assert inv.source == "<stdin>" and urls(inv) == ["http://a", "http://b"]
    p = tmp_path / "x.yaml"
    p.write_text("- http://c\n")
    assert urls(load_inventory(str(p))) == ["http://c"]


@pytest.mark.parametrize(
    ("content", "expect"),
    [
        (None, "cannot read inventory"),
        (b"\xff\xfe\x00garbage", "not UTF-8"),
        (b"# only comments\n\n", "lists no agents"),
    ],
)
def test_unreadable_files(tmp_path: Path, content: bytes | None, expect: str) -> None:
    p = tmp_path / "inv.txt"
    if content is not None:
        p.write_bytes(content)
    with pytest.raises(UsageError) as err:
        load_inventory(str(p))
    assert expect in err.value.message and str(p) in err.value.message


def test_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="directory"):
        load_inventory(str(tmp_path))


def test_normalise_url() -> None:
    assert normalise_url("HTTP://A.Example:80/x/") == "http://a.example/x"
    assert normalise_url("https://a:443") == "https://a"
    assert normalise_url("https://a:8443/") == "https://a:8443"
    assert normalise_url("http://[::1]:9000/p") == "http://[::1]:9000/p"
    assert normalise_url("http://u:p@h/?q=1#f") == "http://u:p@h?q=1"


def test_shards_partition_any_inventory() -> None:
    agents = [AgentSpec(url=f"http://agent-{i}.example:{8000 + i % 7}/a2a") for i in range(500)]
    for count in (1, 2, 3, 7):
        parts = [select_shard(agents, i, count) for i in range(1, count + 1)]
        flat = [a.url for p in parts for a in p]
        assert sorted(flat) == sorted(a.url for a in agents)  # union = all
        assert len(flat) == len(set(flat))  # intersection = none
        if count > 1:
            assert all(parts)  # 500 agents: no empty shard for these counts
    # order-independent and stable: the same URL lands in the same shard, however spelt
    assert shard_index("http://A.example:80/", 5) == shard_index("http://a.example", 5)
    reversed_parts = select_shard(list(reversed(agents)), 2, 3)
    assert {a.url for a in reversed_parts} == {a.url for a in select_shard(agents, 2, 3)}


def test_shard_index_is_a_fixed_function() -> None:
    # sha256("http://a.example")[:8] big-endian, mod 1000: pinned so that shards stay put across releases
    import hashlib

    expected = int.from_bytes(hashlib.sha256(b"http://a.example").digest()[:8], "big") % 1000
    assert shard_index("http://a.example/", 1000) == expected


@pytest.mark.parametrize("text", ["0/4", "5/4", "1/0", "x", "1-4", "/4"])
def test_bad_shard(text: str) -> None:
    with pytest.raises(UsageError):
        parse_shard(text)


def test_parse_shard() -> None:
    assert parse_shard(" 2 / 4 ") == (2, 4)


def test_header_values_from_env_and_of_credential_names_are_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    # redact.py knows Authorization/X-Api-Key/*-token; an inventory has its own header names
    monkeypatch.setenv("R1_TENANT_KEY", "tenant-key-from-env-77")
    monkeypatch.setenv("R1_PLAIN_ENV", "plain-env-value-78")
    doc = """
defaults:
  headers: {X-Tenant-Key: "${R1_TENANT_KEY}"}
agents:
  - url: http://a.example
    headers:
      X-Custom-Auth: custom-auth-literal-79
      X-Region: "${R1_PLAIN_ENV}"
      X-Trace-Tag: visible-literal-80
"""
    inv = parse_inventory(doc.encode(), "fleet.yaml")
    assert dict(inv.agents[0].headers)["X-Tenant-Key"] == "tenant-key-from-env-77"
    masked = Redactor()("tenant-key-from-env-77 custom-auth-literal-79 plain-env-value-78 visible-literal-80")
    # from ${VAR} (whatever the name) or a credential-like name: masked; another literal: not a secret
    assert masked == "*** *** *** visible-literal-80"


def test_yaml_dates_and_numbers_in_labels_and_headers_are_text() -> None:
    doc = "agents:\n  - url: http://a\n    labels: {since: 2024-01-01, tier: 2, enabled: yes}\n"
    inv = parse_inventory(doc.encode(), "fleet.yaml")
    assert dict(inv.agents[0].labels) == {"since": "2024-01-01", "tier": "2", "enabled": "true"}
    with pytest.raises(UsageError, match=r"agents\[0\] \(line 2\)\.labels: 'b' must map to a string"):
        parse_inventory(b"agents:\n  - url: http://a\n    labels: {b: !!binary aGk=}\n", "fleet.yaml")


@pytest.mark.parametrize(
    ("line", "expect"),
    [
        ("http://42", "neither a name nor a dotted IPv4 address"),
        ("http://1.2.3.999:80", "neither a name nor a dotted IPv4 address"),
        ("\x00\x01junk", "characters a host name cannot have"),
        ("http://<html>hi</html>", "characters a host name cannot have"),
        ("http://a..b", "characters a host name cannot have"),
        # no IDNA form, so no lookup: they failed as 'protocol' agents, not as a bad inventory line
        ("http://.x", "has an empty label or one over 63 characters"),
        ("http://" + "x" * 64 + ".example", "has an empty label or one over 63 characters"),
        ("http://[fe80::zz]:1/", "fe80::zz"),
    ],
)
def test_hosts_no_client_can_request_are_refused(line: str, expect: str) -> None:
    with pytest.raises(UsageError) as err:
        parse_inventory(f"http://ok.example\n{line}\n".encode(), "agents.txt")
    assert err.value.message.startswith("inventory agents.txt, line 2:") and expect in err.value.message


def test_hosts_that_are_fine() -> None:
    good = ["http://127.0.0.1:1", "http://[::1]:2", "https://bücher.example", "http://my_host.internal:3"]
    assert urls(parse_inventory("\n".join(good).encode(), "agents.txt")) == good


@pytest.mark.parametrize(
    ("body", "expect"), [("42", "a number"), ("null", "a null"), ('"http://a"', "a string")]
)
def test_a_json_file_is_read_as_json(tmp_path: Path, body: str, expect: str) -> None:
    path = tmp_path / "agents.json"
    path.write_text(body + "\n")
    with pytest.raises(UsageError) as err:
        load_inventory(str(path))
    assert f"the document is {expect}; expected a list or an object" in err.value.message


@given(st.text(alphabet=st.sampled_from(list("ab #\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029 "))))
def test_iter_lines_cuts_lines_as_splitlines(text: str) -> None:
    """The text inventory is read line by line in place: the same lines (and line numbers in errors)
    as ``str.splitlines``, at most one extra empty line at the end."""
    from a2actl.fleet.inventory import iter_lines

    got, want = list(iter_lines(text)), text.splitlines()
    assert got[: len(want)] == want and got[len(want) :] in ([], [""])


@pytest.mark.parametrize(
    ("headers", "header"),
    [
        ('{Content-Length: "5"}', "Content-Length"),
        ("{Host: other.example}", "Host"),
        ("{Transfer-Encoding: chunked}", "Transfer-Encoding"),
        ("{connection: close}", "connection"),
        ('{X-Tenant: "caf\\xe9-s3cret"}', "X-Tenant"),
        ('{X-Tenant: "a\\x01-s3cret"}', "X-Tenant"),
        ('{X-Api-Key: "${INV_KEY_WITH_A_BREAK}"}', "X-Api-Key"),
    ],
)
def test_headers_follow_the_rules_of_dash_h(
    headers: str, header: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # as -H: no header the HTTP client owns, a printable ASCII value; the error names the file, the
    # entry and the header, never the value (a ${VAR} one is a secret)
    monkeypatch.setenv("INV_KEY_WITH_A_BREAK", "s3cret-key\r\nX-Injected: 1")
    doc = f"agents:\n  - http://ok.example\n  - url: http://a.example\n    headers: {headers}\n"
    with pytest.raises(UsageError) as err:
        parse_inventory(doc.encode(), "fleet.yaml")
    assert err.value.message.startswith(f"inventory fleet.yaml: agents[1] (line 3).headers.{header}: ")
    assert "s3cret" not in err.value.message + (err.value.hint or "")
    assert int(err.value.exit_code) == 2


def test_defaults_headers_follow_the_rules_too() -> None:
    doc = '{"defaults": {"headers": {"Content-Length": "0"}}, "agents": ["http://a"]}'
    with pytest.raises(UsageError) as err:
        parse_inventory(doc, "fleet.json")
    assert err.value.message.startswith("inventory fleet.json: defaults.headers.Content-Length: ")


@pytest.mark.parametrize("value", ["s3cret\ntoken", "s3cr\u00e9t-token", "s3cret\x01token"])
@pytest.mark.parametrize("where", ["agent", "defaults"])
def test_a_token_env_no_header_can_carry_is_exit_2_without_its_value(
    value: str, where: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INV_BAD_TOKEN", value)
    doc = (
        "agents:\n  - url: http://a\n    tokenEnv: INV_BAD_TOKEN\n"
        if where == "agent"
        else "defaults: {tokenEnv: INV_BAD_TOKEN}\nagents:\n  - http://a\n"
    )
    with pytest.raises(UsageError) as err:
        parse_inventory(doc.encode(), "fleet.yaml")
    entry = "agents[0] (line 2)" if where == "agent" else "agents[0]"
    assert err.value.message.startswith(f"inventory fleet.yaml: {entry}: tokenEnv INV_BAD_TOKEN: ")
    assert "printable ASCII" in err.value.message and "s3cr" not in err.value.message


def test_an_unset_token_env_names_the_file_and_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("INV_UNSET_TOKEN", raising=False)
    with pytest.raises(UsageError) as err:
        parse_inventory(
            b'{"agents": ["http://a", {"url": "http://b", "tokenEnv": "INV_UNSET_TOKEN"}]}', "f.json"
        )
    assert err.value.message == (
        "inventory f.json: agents[1]: tokenEnv INV_UNSET_TOKEN: that environment variable is not set or empty"
    )


def test_a_token_env_with_its_bearer_word_sends_the_token_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INV_SCHEMED_TOKEN", "Bearer s3cret-schemed-token")
    doc = "defaults: {tokenEnv: INV_SCHEMED_TOKEN}\nagents: [http://a, http://b]\n"
    inv = parse_inventory(doc.encode(), "fleet.yaml")
    assert [a.token() for a in inv.agents] == ["s3cret-schemed-token"] * 2
    # one note for the variable, naming it and never the token
    notes = [n for n in inv.notes if "INV_SCHEMED_TOKEN" in n]
    assert len(notes) == 1 and "'Bearer '" in notes[0] and "s3cret" not in notes[0]
    assert Redactor()("s3cret-schemed-token") == "***"


def test_a_host_that_is_not_punycode_is_an_inventory_error() -> None:
    with pytest.raises(UsageError) as err:
        parse_inventory(b"http://ok.example\nhttp://xn--zz.example/\n", "agents.txt")
    assert err.value.message.startswith("inventory agents.txt, line 2: ") and "Punycode" in err.value.message
    assert urls(parse_inventory(b"http://xn--nxasmq6b.example/\n", "ok.txt")) == [
        "http://xn--nxasmq6b.example/"
    ]


def test_header_names_ignore_case() -> None:
    # an agent's x-tenant replaces the defaults' X-Tenant (the exporter sent both)
    doc = b"defaults: {headers: {X-Tenant: a, X-Env: e}}\nagents:\n  - {url: http://a, headers: {x-tenant: b}}\n"
    assert dict(parse_inventory(doc, "f.yaml").agents[0].headers) == {"X-Env": "e", "x-tenant": "b"}
    with pytest.raises(UsageError) as err:
        parse_inventory(b"agents:\n  - {url: http://a, headers: {X-Key: a, x-key: b}}\n", "f.yaml")
    assert "X-Key and x-key are one header" in err.value.message


@pytest.mark.parametrize(
    ("doc", "where"),
    [
        ('{"agents": [{"url": "http://a", "name": "a\\ud800"}]}', "agents[0]: name"),
        ('{"agents": [{"url": "http://a", "labels": {"team": "x\\udfff"}}]}', "agents[0].labels"),
        ('{"agents": ["http://a/\\ud800"]}', "agents[0]"),
        (
            '{"specVersion": "1.0", "entries": [{"identifier": "i", "url": "http://a",'
            ' "type": "application/a2a-agent-card+json", "displayName": "n\\udc00"}]}',
            "entries[0]",
        ),
    ],
)
def test_text_with_no_utf8_form_is_an_inventory_error(doc: str, where: str) -> None:
    # a JSON escape of a lone surrogate: no output could write the agent (UnicodeEncodeError, exit 1
    # after the whole sweep)
    with pytest.raises(UsageError) as err:
        parse_inventory(doc, "f.json")
    assert (
        err.value.message.startswith(f"inventory f.json: {where}") and "lone surrogate" in err.value.message
    )
    err.value.message.encode("utf-8")  # the error itself can be written


def test_yaml_merge_keys_still_override() -> None:
    """The duplicate-key check leaves YAML's merge key alone: an agent's own key wins over ``<<``."""
    doc = "base: &b {labels: {team: a}, budget: 2s}\nagents:\n  - url: http://a\n    <<: *b\n    labels: {team: z}\n"
    with pytest.raises(UsageError, match="unknown top-level"):
        parse_inventory(doc.encode(), "fleet.yaml")
    doc = "agents:\n  - &a {url: http://a, labels: {team: a}}\n  - {<<: *a, url: http://b}\n"
    inv = parse_inventory(doc.encode(), "fleet.yaml")
    assert [(a.url, dict(a.labels)) for a in inv.agents] == [
        ("http://a", {"team": "a"}),
        ("http://b", {"team": "a"}),
    ]
