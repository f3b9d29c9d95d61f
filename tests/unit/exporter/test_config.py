"""a2actl.exporter.config: modules from YAML, validated (exit 2 naming the key), secrets only by
environment variable name."""

from __future__ import annotations

from pathlib import Path

import pytest

from a2actl.core.errors import UsageError
from a2actl.core.redact import Redactor
from a2actl.exporter.config import default_module, load_config

TOKEN = "exporter-cfg-t0ken-1234"
KEY = "exporter-cfg-api-key-5678"


def _write(tmp_path: Path, text: str) -> str:
    p = tmp_path / "exporter.yml"
    p.write_text(text, encoding="utf-8")
    return str(p)


def test_without_a_file_only_the_builtin_default() -> None:
    mods = load_config(None)
    assert list(mods) == ["default"]
    d = mods["default"]
    assert (d.timeout, d.checks, d.sends, d.budgets, d.token) == (10.0, {"card", "rpc"}, False, (), None)


def test_a_full_module(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """
modules:
  send_check:
    timeout: 15s
    checks: [card, rpc, send]
    send_text: hello there
    budgets: {total: 2s, rpc: 500ms}
    a2a_version: "1.0"
    binding: JSONRPC
    card_path: /.well-known/agent-card.json
    headers: {X-Tenant: acme, X-Api-Key: "${AGENT_KEY}"}
    token_env: AGENT_TOKEN
    allow_targets: ["http://127.0.0.1:"]
""",
    )
    mods = load_config(path, {"AGENT_TOKEN": TOKEN, "AGENT_KEY": KEY})
    assert sorted(mods) == ["default", "send_check"]
    m = mods["send_check"]
    assert m.timeout == 15.0 and m.sends and m.send_text == "hello there"
    assert [(b.metric, b.limit) for b in m.budgets] == [("total", 2.0), ("rpc", 0.5)]
    assert (m.a2a_version, m.binding, m.card_path) == ("1.0", "JSONRPC", "/.well-known/agent-card.json")
    assert dict(m.headers) == {"X-Tenant": "acme", "X-Api-Key": KEY}
    assert m.token == TOKEN and m.token_env == "AGENT_TOKEN"
    assert m.allows("http://127.0.0.1:9999") and not m.allows("http://evil.example")
    doc = m.to_json()
    assert doc["headerNames"] == ["X-Tenant", "X-Api-Key"] and doc["tokenEnv"] == "AGENT_TOKEN"
    assert TOKEN not in repr(m) and KEY not in repr(m) and TOKEN not in str(doc) and KEY not in str(doc)
    # both secrets are known to the redactor from now on
    assert Redactor()(f"a {TOKEN} b {KEY}") == "a *** b ***"


def test_a_default_in_the_file_replaces_the_builtin(tmp_path: Path) -> None:
    mods = load_config(_write(tmp_path, "modules:\n  default:\n    timeout: 3s\n"))
    assert mods["default"].timeout == 3.0 and default_module().timeout == 10.0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("modules:\n  m:\n    timeuot: 5s\n", "modules.m.timeuot: unknown key"),
        ("modules:\n  m:\n    timeout: soon\n", "modules.m.timeout: not a duration"),
        ("modules:\n  m:\n    timeout: 0s\n", "modules.m.timeout: must be positive"),
        ("modules:\n  m:\n    checks: [card, pong]\n", "modules.m.checks: unknown check 'pong'"),
        ("modules:\n  m:\n    checks: [validate]\n", "modules.m.checks: validate"),
        ("modules:\n  m:\n    budgets: {rcp: 1s}\n", "modules.m.budgets: unknown budget phase 'rcp'"),
        ("modules:\n  m:\n    a2a_version: '2.0'\n", "modules.m.a2a_version: '2.0'"),
        ("modules:\n  m:\n    binding: GRPC\n", "modules.m.binding: 'GRPC'"),
        (
            "modules:\n  m:\n    token_env: NOT_SET_ANYWHERE_42\n",
            "modules.m.token_env: the environment variable NOT_SET_ANYWHERE_42",
        ),
        ("modules:\n  m:\n    token_env: 'a b'\n", "modules.m.token_env: 'a b' is not"),
        (
            "modules:\n  m:\n    headers: {Authorization: Bearer abcdefgh}\n",
            "modules.m.headers.Authorization: a credential written in the config file",
        ),
        (
            "modules:\n  m:\n    headers: {X-Key: '${NOT_SET_ANYWHERE_42}'}\n",
            "modules.m.headers.X-Key: the environment variable NOT_SET_ANYWHERE_42",
        ),
        (
            "modules:\n  m:\n    headers: {'bad name': x}\n",
            "modules.m.headers: 'bad name' is not a header name",
        ),
        ("modules:\n  m:\n    allow_targets: [ftp://x]\n", "modules.m.allow_targets: 'ftp://x'"),
        ("modules:\n  m: [1, 2]\n", "modules.m: expected a mapping"),
        ("modules:\n  'a b': {}\n", "modules.a b: a module name"),
        ("moduls:\n  m: {}\n", "moduls: unknown key"),
        ("modules: [a]\n", "modules: expected a mapping"),
        ("- 1\n", "expected a mapping with 'modules:'"),
        ("modules:\n  m: {timeout: 1s\n", "line 3"),
    ],
)
def test_a_bad_file_is_a_usage_error_naming_the_key(tmp_path: Path, text: str, message: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(UsageError) as info:
        load_config(path, {})
    assert message in info.value.message
    assert info.value.message.startswith(("--config " + path, path))
    assert int(info.value.exit_code) == 2


def test_an_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot read"):
        load_config(str(tmp_path / "missing.yml"))


def test_a_file_is_read_up_to_the_limit_and_no_further(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A regular file went to PyYAML whole, however large (valid YAML of gigabytes grew the process
    until memory ran out): one byte over ``MAX_CONFIG_BYTES`` is refused before it is parsed."""
    import a2actl.exporter.config as config

    text = "modules:\n  quick:\n    timeout: 5s\n"
    path = _write(tmp_path, text)
    monkeypatch.setattr(config, "MAX_CONFIG_BYTES", len(text), raising=False)
    assert list(load_config(path, {})) == ["default", "quick"]  # at the limit: read
    monkeypatch.setattr(config, "MAX_CONFIG_BYTES", len(text) - 1, raising=False)
    with pytest.raises(UsageError) as info:
        load_config(path, {})
    assert info.value.message == f"--config {path}: over the {len(text) - 1:,}-byte limit"
    assert int(info.value.exit_code) == 2


def test_credentials_without_allow_targets_refuse_every_probe_target(tmp_path: Path) -> None:
    path = _write(tmp_path, "modules:\n  m:\n    token_env: TOK\n  plain: {}\n")
    mods = load_config(path, {"TOK": TOKEN})
    assert mods["m"].has_credentials and not mods["m"].allows("http://127.0.0.1:9999")
    assert not mods["plain"].has_credentials and mods["plain"].allows("http://anything.example")


@pytest.mark.parametrize(
    ("allowed", "target", "ok"),
    [
        ("https://agents.example/", "https://agents.example/a2a", True),
        ("https://agents.example", "https://agents.example:8443/x", True),  # no port: any port of the host
        ("https://AGENTS.example/", "https://agents.EXAMPLE/", True),
        ("https://agents.example/team", "https://agents.example/team/a", True),
        ("https://agents.example/team", "https://agents.example/team", True),
        ("http://127.0.0.1:", "http://127.0.0.1:9999", True),
        # a text prefix would let every one of these receive the module's token
        ("https://agents.example", "https://agents.example.evil.net/", False),
        ("https://agents.example", "https://agents.example@evil.net/", False),
        ("https://agents.example/", "https://user:pw@agents.example/", False),
        ("http://127.0.0.1:2800", "http://127.0.0.1:28002/", False),
        ("http://10.1.", "http://10.1.attacker.example/", False),
        ("https://agents.example/team", "https://agents.example/teamevil/", False),
        ("https://agents.example/", "http://agents.example/", False),
        ("https://agents.example:443/", "https://agents.example/", True),
        ("https://agents.example:443/", "https://agents.example:8443/", False),
    ],
)
def test_allow_targets_compare_urls_not_text(tmp_path: Path, allowed: str, target: str, ok: bool) -> None:
    path = _write(tmp_path, f"modules:\n  m:\n    token_env: TOK\n    allow_targets: ['{allowed}']\n")
    assert load_config(path, {"TOK": TOKEN})["m"].allows(target) is ok


@pytest.mark.parametrize(
    ("allowed", "interface", "ok"),
    [
        ("https://agents.example/team/", "https://agents.example/rpc", True),  # any path of that host
        ("https://agents.example/", "https://gateway.example/rpc", False),
        ("https://agents.example/", "https://agents.example.evil.net/rpc", False),
        ("https://agents.example/", "https://user@agents.example/rpc", False),
        ("https://agents.example:8443/", "https://agents.example/rpc", False),
        ("https://agents.example:443/", "https://agents.example/rpc", True),
        ("https://agents.example/", "agents.example:50051", True),  # a gRPC host:port
        ("https://agents.example:443/", "agents.example:50051", False),
        ("https://agents.example/", "http://[::1", False),  # not a URL
    ],
)
def test_an_interface_is_allowed_by_host(tmp_path: Path, allowed: str, interface: str, ok: bool) -> None:
    """A card may name its interface on any host: a credentialed module's token goes to the
    interface only on a host its allow_targets name (the path is not compared)."""
    path = _write(tmp_path, f"modules:\n  m:\n    token_env: TOK\n    allow_targets: ['{allowed}']\n")
    assert load_config(path, {"TOK": TOKEN})["m"].allows_interface(interface) is ok


@pytest.mark.parametrize(
    "allowed", ["https://", "https://user@agents.example/", "https://a.example/?x=1", "a.example"]
)
def test_an_allow_target_is_a_url_with_a_host_and_nothing_else(tmp_path: Path, allowed: str) -> None:
    path = _write(tmp_path, f"modules:\n  m:\n    allow_targets: ['{allowed}']\n")
    with pytest.raises(UsageError, match="modules.m.allow_targets"):
        load_config(path, {})


def test_a_header_value_from_the_environment_is_a_secret_whatever_its_name(tmp_path: Path) -> None:
    value = "exporter-env-header-9876"
    path = _write(tmp_path, "modules:\n  m:\n    headers: {X-Foo: '${FOO_VALUE}', X-Tenant: acme}\n")
    m = load_config(path, {"FOO_VALUE": value})["m"]
    assert dict(m.headers) == {"X-Foo": value, "X-Tenant": "acme"}
    # sent only to the targets the operator allowed, masked wherever a2actl writes text
    assert m.has_credentials and not m.allows("http://anything.example/")
    assert Redactor()(f"echoed {value}") == "echoed ***"
    assert m.to_json()["credentialHeaders"] == ["X-Foo"]
    plain = load_config(_write(tmp_path, "modules:\n  p:\n    headers: {X-Tenant: acme}\n"), {})["p"]
    assert not plain.has_credentials and plain.allows("http://anything.example/")
    assert plain.to_json()["credentialHeaders"] == []


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("5", "modules.m.card_path: expected a path such as /.well-known/agent-card.json, got 5"),
        ('"5"', "modules.m.card_path: '5' is not a path"),
        ("http://evil.example/card.json", "'http://evil.example/card.json' is not a path"),
        ("//evil.example/card.json", "'//evil.example/card.json' is not a path"),
        ("/x/http://evil.example/c", "is not a path"),
        ("../../etc/passwd", "'../../etc/passwd' is not a path"),
        ("/../../etc/passwd", "no '.' or '..' segments"),
        ("/a/./card.json", "no '.' or '..' segments"),
        ("/card.json?x=1", "a path only"),
        ('"/card json"', "a path only"),
        ("[/a]", "expected a path such as /.well-known/agent-card.json"),
    ],
)
def test_card_path_is_a_path_on_the_target(tmp_path: Path, value: str, message: str) -> None:
    path = _write(tmp_path, f"modules:\n  m:\n    card_path: {value}\n")
    with pytest.raises(UsageError) as e:
        load_config(path, {})
    assert e.value.exit_code == 2 and "modules.m.card_path" in e.value.message
    assert message in e.value.message, e.value.message


def test_good_card_paths(tmp_path: Path) -> None:
    for value in ("/.well-known/agent-card.json", "/agents/42/card..json", "/a2a/v1/card"):
        path = _write(tmp_path, f"modules:\n  m:\n    card_path: {value}\n")
        assert load_config(path, {})["m"].card_path == value


@pytest.mark.parametrize(
    ("text", "key", "line"),
    [
        ("modules:\n  m:\n    timeout: 1s\n  m:\n    timeout: 9s\n", "m", 4),
        ("modules:\n  m:\n    timeout: 1s\n    timeout: 9s\n", "timeout", 4),
        ("modules: {}\nmodules:\n  m: {}\n", "modules", 2),
    ],
)
def test_a_repeated_key_is_refused(tmp_path: Path, text: str, key: str, line: int) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(UsageError) as e:
        load_config(path, {})
    assert e.value.exit_code == 2
    assert e.value.message == f"--config {path}: line {line}: {key!r} appears twice in one mapping"


def test_merge_keys_still_override(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "modules:\n  a: &b {timeout: 1s, send_text: hi}\n  c:\n    <<: *b\n    timeout: 3s\n",
    )
    mods = load_config(path, {})
    assert (mods["c"].timeout, mods["c"].send_text) == (3.0, "hi")


@pytest.mark.parametrize(
    ("headers", "header", "env"),
    [
        ('{Content-Length: "5"}', "Content-Length", {}),
        ("{Host: other.example}", "Host", {}),
        ("{Transfer-Encoding: chunked}", "Transfer-Encoding", {}),
        ('{X-Tenant: "caf\\xe9"}', "X-Tenant", {}),
        ('{X-Api-Key: "${CFG_KEY}"}', "X-Api-Key", {"CFG_KEY": "s3cret\u00e9-key"}),
        ('{X-Api-Key: "${CFG_KEY}"}', "X-Api-Key", {"CFG_KEY": "s3cret-key\x01"}),
    ],
)
def test_module_headers_follow_the_rules_of_dash_h(
    tmp_path: Path, headers: str, header: str, env: dict[str, str]
) -> None:
    path = _write(tmp_path, f"modules:\n  m:\n    headers: {headers}\n")
    with pytest.raises(UsageError) as err:
        load_config(path, env)
    assert err.value.message.startswith(f"{path}: modules.m.headers.{header}: ")
    assert "s3cret" not in err.value.message


def test_a_module_token_with_its_bearer_word_is_sent_once(tmp_path: Path) -> None:
    path = _write(tmp_path, "modules:\n  m:\n    token_env: CFG_TOKEN\n")
    m = load_config(path, {"CFG_TOKEN": f"Bearer {TOKEN}"})["m"]
    assert m.token == TOKEN
    assert m.note is not None and "CFG_TOKEN" in m.note and TOKEN not in m.note
    assert load_config(path, {"CFG_TOKEN": TOKEN})["m"].note is None


@pytest.mark.parametrize("value", [f"{TOKEN}\nX-Injected: 1", f"{TOKEN}\u00e9"])
def test_a_module_token_no_header_can_carry_is_exit_2(tmp_path: Path, value: str) -> None:
    path = _write(tmp_path, "modules:\n  m:\n    token_env: CFG_TOKEN\n")
    with pytest.raises(UsageError) as err:
        load_config(path, {"CFG_TOKEN": value})
    assert err.value.message.startswith(f"{path}: modules.m.token_env CFG_TOKEN: the token must be printable")
    assert TOKEN not in err.value.message


def test_a_header_given_twice_in_two_cases_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "modules:\n  m:\n    headers: {X-Tenant: a, x-tenant: b}\n")
    with pytest.raises(UsageError) as err:
        load_config(path, {})
    assert (
        err.value.message
        == f"{path}: modules.m.headers: X-Tenant and x-tenant are one header (names ignore case)"
    )
