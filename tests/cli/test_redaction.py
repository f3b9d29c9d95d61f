"""Issue #13 items 5 and 6: a secret a2actl was given never reaches stdout, stderr, JSON, JUnit or
the -v log, even when the agent echoes it back (our fault server's /echoauth and /echo401 do, in
the error text, the error data, response headers and WWW-Authenticate); -H secrets on the command
line are warned about and shown as placeholders by --dry-run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

TOKEN = "tok-ECHOED-BACK-0123456789"
API_KEY = "key-ECHOED-BACK-9876543210"


def _assert_clean(r: Any, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in r.stdout and secret not in r.stderr, secret


@pytest.mark.parametrize("route", ["echoauth", "echo401"])
@pytest.mark.parametrize(
    "args",
    [
        ["handshake", "probe", "{card}"],
        ["handshake", "probe", "{card}", "-o", "json"],
        ["handshake", "probe", "{card}", "-o", "jsonl"],
        ["caps", "fingerprint", "{card}"],
        ["caps", "fingerprint", "{card}", "-o", "json"],
        ["send", "{card}", "hi"],
        ["send", "{card}", "hi", "-o", "json"],
        ["-vv", "send", "{card}", "hi"],
        ["task", "get", "{card}", "t1", "-o", "jsonl"],
    ],
)
def test_an_echoed_token_is_never_printed(cli: Any, fault: str, route: str, args: list[str]) -> None:
    card = f"{fault}/{route}/agent-card.json"
    r = cli(*[a.format(card=card) for a in args], env={"A2ACTL_TOKEN": TOKEN})
    assert r.exit_code != 0 or args[0] == "caps"  # the agent refuses: its answer carries the token
    _assert_clean(r, TOKEN)
    assert "***" in r.stdout + r.stderr  # masked where it was echoed, not silently dropped


def test_an_echoed_header_secret_is_never_printed(cli: Any, fault: str) -> None:
    card = f"{fault}/echoauth/agent-card.json"
    r = cli("-vv", "-H", f"X-Api-Key: {API_KEY}", "send", card, "hi", "-o", "json")
    assert r.exit_code == 1
    _assert_clean(r, API_KEY)
    assert "puts a secret on the command line" in r.stderr  # the argv warning, once
    assert r.stderr.count("puts a secret on the command line") == 1


@pytest.mark.parametrize(
    "name",
    ["X-Goog-Api-Key", "Ocp-Apim-Subscription-Key", "X-Auth-Key", "X-Corp-Passphrase", "X-Db-Password"],
)
def test_a_secret_header_of_an_unusual_name_is_never_logged(cli: Any, sandbox: Any, name: str) -> None:
    """Credential headers are known by their name: ``X-Goog-Api-Key`` (Google), the subscription key of
    Azure API Management, Cloudflare's ``X-Auth-Key`` went out in the -vv log as given (only
    ``X-Api-Key``, ``Api-Key``, ``*-Token``, ``*-Secret`` … were masked)."""
    r = cli("-vv", "-H", f"{name}: {API_KEY}", "send", sandbox.url, "hi", "-o", "json")
    assert r.exit_code == 0, r.stderr
    assert r.json["state"] == "completed"
    _assert_clean(r, API_KEY)
    assert f"> {name.lower()}: ***" in r.stderr  # logged, masked


def test_an_idempotency_key_is_logged_as_sent(cli: Any, sandbox: Any) -> None:
    """Not every ``*-Key`` is a credential: ``Idempotency-Key`` stays readable in the -vv log."""
    r = cli("-vv", "-H", "Idempotency-Key: k-123456", "send", sandbox.url, "hi", "-o", "json")
    assert r.exit_code == 0, r.stderr
    assert "> idempotency-key: k-123456" in r.stderr


@pytest.mark.parametrize("args", [["card", "get"], ["-vv", "card", "get"], ["send"]])
def test_the_basic_credential_of_a_url_echoed_back_is_never_printed(
    cli: Any, fault: str, forget_secrets: Any, args: list[str]
) -> None:
    """A TARGET with userinfo goes out as ``Authorization: Basic base64(user:password)``; an agent
    that echoes it (the 401's body and WWW-Authenticate) had it printed in the -vv log, the error
    line and ``-o json``: the password, in a form anyone decodes."""
    import base64

    url = fault.replace("http://", "http://ops:pw-ECHOED-0123@") + "/echo401card/agent-card.json"
    basic = base64.b64encode(b"ops:pw-ECHOED-0123").decode()
    r = cli(*args, url, *(["hi"] if args == ["send"] else []), "-o", "json")
    assert r.exit_code == 4, r.stdout + r.stderr
    assert r.json["error"]["code"] == "auth"
    _assert_clean(r, basic, "pw-ECHOED-0123")
    assert "Basic ***" in r.json["error"]["message"]  # masked where it was echoed


@pytest.mark.parametrize("token", [None, TOKEN])
def test_vv_logs_the_basic_authorization_a_urls_userinfo_sends(
    cli: Any, fault: str, forget_secrets: Any, token: str | None
) -> None:
    """A TARGET with userinfo goes out with ``Authorization: Basic …`` (httpx builds it, in place of
    the token): the -vv log showed no Authorization at all, or ``Bearer ***`` with a token, which
    was not what the agent got."""
    from tests.servers import SEEN_CREDENTIALS

    SEEN_CREDENTIALS.clear()
    url = fault.replace("http://", "http://ops:pw-LOGGED-0123@") + "/seen/agent-card.json"
    r = cli("-vv", "card", "get", url, "-o", "json", env={"A2ACTL_TOKEN": token} if token else None)
    assert r.exit_code == 0, r.stderr
    sent = [line for line in r.stderr.splitlines() if line.startswith("> authorization:")]
    assert sent == ["> authorization: Basic ***"]
    assert SEEN_CREDENTIALS[0][2] == ["authorization"]
    _assert_clean(r, "pw-LOGGED-0123")


def test_junit_file_is_redacted(cli: Any, fault: str, tmp_path: Path) -> None:
    card = f"{fault}/echoauth/agent-card.json"
    suite = tmp_path / "suite.yaml"
    suite.write_text(
        f"version: 1\nname: echo\ntargets: [{card}]\nchecks:\n"
        "  - name: probe\n    kind: probe\n    samples: 1\n    budget: 5s\n"
        "  - name: send\n    kind: send\n    text: hi\n    expectState: completed\n"
    )
    junit = tmp_path / "smoke.xml"
    r = cli("smoke", "run", str(suite), "--junit", str(junit), env={"A2ACTL_TOKEN": TOKEN})
    assert r.exit_code == 7, r.stdout + r.stderr
    text = junit.read_text()
    assert TOKEN not in text and "***" in text
    _assert_clean(r, TOKEN)


def test_url_userinfo_and_query_secrets_are_masked(cli: Any, refused_url: str) -> None:
    url = refused_url.replace("http://", "http://ops:pw-ECHOED-123@") + "/agent?api_key=qk-ECHOED-456"
    r = cli("card", "get", url, "-o", "json")
    assert r.exit_code == 3
    _assert_clean(r, "pw-ECHOED-123", "qk-ECHOED-456")


@pytest.mark.parametrize("command", [["card", "get"], ["handshake", "probe"]])
def test_the_secrets_of_a_url_that_does_not_parse_are_masked(cli: Any, command: list[str]) -> None:
    """``http://user:pw@[::1`` (an unclosed '['): exit 2, and the error quoting TARGET printed the
    password and the token in clear, where a URL that parses has them masked."""
    r = cli(*command, "http://ops:pw-BADURL-123@[::1/agent?token=tk-BADURL-456", "-o", "json")
    assert r.exit_code == 2
    assert "is not a valid URL" in r.stderr and "ops:***@" in r.stderr
    _assert_clean(r, "pw-BADURL-123", "tk-BADURL-456")


def test_dry_run_shows_placeholders_unless_asked(cli: Any, sandbox: Any) -> None:
    r = cli(
        "-H",
        "Authorization: Bearer " + TOKEN,
        "-H",
        "X-Api-Key: " + API_KEY,
        "send",
        sandbox.url,
        "hi",
        "--dry-run",
        "-o",
        "json",
    )
    assert r.exit_code == 0
    doc = r.json
    assert doc["headers"]["Authorization"] == "Bearer $A2ACTL_TOKEN"
    assert doc["headers"]["X-Api-Key"] == "$A2ACTL_HEADER_X_API_KEY"
    assert '-H "X-Api-Key: $A2ACTL_HEADER_X_API_KEY"' in doc["curl"]
    _assert_clean(r, TOKEN, API_KEY)
    table = cli("-H", "X-Api-Key: " + API_KEY, "send", sandbox.url, "hi", "--dry-run")
    _assert_clean(table, API_KEY)
    shown = cli(
        "-H", "X-Api-Key: " + API_KEY, "send", sandbox.url, "hi", "--dry-run", "--show-secrets", "-o", "json"
    )
    assert shown.exit_code == 0 and shown.json["headers"]["X-Api-Key"] == API_KEY
    env_token = cli("send", sandbox.url, "hi", "--dry-run", "-o", "json", env={"A2ACTL_TOKEN": TOKEN})
    assert env_token.json["headers"]["Authorization"] == "Bearer $A2ACTL_TOKEN"
    assert '"Authorization: Bearer $A2ACTL_TOKEN"' in env_token.json["curl"]
    _assert_clean(env_token, TOKEN)
    assert cli("send", sandbox.url, "hi", "--show-secrets").exit_code == 2


def test_redactor_spellings() -> None:
    from a2actl.core.redact import Redactor

    secret = 'a"b\\c<d>&e-long'
    red = Redactor([secret])
    for text in (
        secret,
        json.dumps(secret),
        "<x>" + 'a"b\\c&lt;d&gt;&amp;e-long' + "</x>",
        '<x a="a&quot;b\\c&lt;d&gt;&amp;e-long"/>',
    ):
        assert red(text).count("***") == 1, text
    assert red("nothing here") == "nothing here"


def _one_dead_letter(path: Path, url: str) -> str:
    """A file DLQ at ``path`` with one dead SendMessage to ``url``; returns its id."""
    from tests.dlq_helpers import dead_send, fill_file_dlq

    entry = dead_send(url, "m-echo")
    fill_file_dlq(path, [entry])
    return str(entry["id"])


@pytest.mark.parametrize("route", ["echoauth", "echo401"])
def test_dlq_replay_stores_no_echoed_secret(cli: Any, fault: str, route: str, tmp_path: Path) -> None:
    """``dlq replay`` writes each failure's message to the source as ``lastError``: an agent that
    echoes the token (or a secret ``-H``) put it there in clear, where a later ``dlq list`` (which
    knows no token) printed it. The stored message has them masked."""
    path = tmp_path / "dlq.jsonl"
    eid = _one_dead_letter(path, f"{fault}/{route}/jsonrpc")
    r = cli(
        "-H", f"X-Api-Key: {API_KEY}", "-o", "json",
        "dlq", "replay", str(path), "--yes", "--max-attempts", "1", "--journal", str(tmp_path / "j.jsonl"),
        env={"A2ACTL_TOKEN": TOKEN},
    )  # fmt: skip
    assert r.exit_code == 7, r.stdout[-500:] + r.stderr[-500:]
    _assert_clean(r, TOKEN, API_KEY)
    stored = path.read_text()
    assert TOKEN not in stored and API_KEY not in stored
    shown = cli("dlq", "show", str(path), eid, "-o", "json")
    assert shown.exit_code == 0 and "***" in shown.json["lastError"]["message"]


def test_dlq_replay_masks_credentials_in_a_stored_target_url(
    cli: Any, refused_url: str, tmp_path: Path
) -> None:
    """A producer that stored ``http://user:PASSWORD@host/…?api_key=KEY`` as the target: the failure
    (``connection to http://user:PASSWORD@… refused``) printed them on stdout, in the ``-vv`` request
    line, and wrote them into the stored ``lastError``."""
    path = tmp_path / "dlq.jsonl"
    password, key = "pw-STORED-IN-URL-4321", "q-STORED-IN-URL-8765"
    url = refused_url.replace("http://", f"http://user:{password}@") + f"/rpc?api_key={key}"
    _one_dead_letter(path, url)
    r = cli(
        "-vv", "-o", "json",
        "dlq", "replay", str(path), "--yes", "--max-attempts", "1", "--journal", str(tmp_path / "j.jsonl"),
    )  # fmt: skip
    assert r.exit_code == 7, r.stdout[-500:] + r.stderr[-500:]
    assert r.json["results"][0]["error"]["message"].startswith("connection to http://user:***@")
    _assert_clean(r, password, key)
    updates = [json.loads(line) for line in path.read_text().splitlines()[1:]]  # after the entry itself
    assert updates and all(password not in json.dumps(u) and key not in json.dumps(u) for u in updates)


@pytest.mark.parametrize(
    "args",
    [
        ["card", "get", "{card}"],
        ["card", "get", "{card}", "-o", "json"],
        ["caps", "snapshot", "{card}"],
        ["caps", "diff", "{card}", "{card}"],
        ["caps", "validate", "{card}"],
        ["caps", "verify", "{card}"],
        ["caps", "fingerprint", "{card}"],
        ["caps", "lint", "{card}"],
        ["send", "{card}", "hi"],
        ["task", "get", "{card}", "t1"],
        ["handshake", "probe", "{card}"],
        ["load", "run", "{card}", "-s", "get", "-n", "1"],
        ["fleet", "probe", "{inventory}"],
    ],
)
def test_vv_never_logs_the_card_interfaces_credentials(
    cli: Any, fault: str, tmp_path: Path, forget_secrets: Any, args: list[str]
) -> None:
    """``-vv`` logs the card's body as it arrives: before anything read the card, so before its
    interface URL's password and ``token`` were registered as secrets, and the log showed them (every
    command that fetches a card). They are masked in the logged body itself."""
    from tests.servers import IFACE_CREDENTIALS, iface_url, secret_fragments

    card = f"{fault}/credsiface/agent-card.json"
    inventory = tmp_path / "agents.txt"
    inventory.write_text(card + "\n")
    r = cli("-vv", *[a.format(card=card, inventory=inventory) for a in args])
    assert f'"url":"{iface_url(fault)}"' in r.stderr  # the card's body was logged, masked
    for piece in secret_fragments(*IFACE_CREDENTIALS["credsiface"]):
        assert piece not in r.stdout and piece not in r.stderr, piece


def test_a_percent_encoded_query_secret_is_masked_as_written(
    cli: Any, refused_url: str, forget_secrets: Any
) -> None:
    """A credential query value is printed as written (``token=pct%2Bsecret%2F01``), but only its
    decoded form (``pct+secret/01``) was registered: ``-v``'s request line and the error printed it."""
    url = f"{refused_url}/.well-known/agent-card.json?token=pct%2Bsecret%2F01"
    r = cli("-v", "card", "get", url, "-o", "json")
    assert r.exit_code == 3
    assert (
        r.json["error"]["message"]
        == f"connection to {refused_url}/.well-known/agent-card.json?token=*** refused"
    )
    _assert_clean(r, "pct%2Bsecret%2F01", "pct+secret/01", "secret%2F01")


#: A token long enough for a narrow table cell to cut or wrap it (a long word: rich cuts it with '…'
#: in a default column, folds it over lines in a ``fold`` one).
LONG_TOKEN = "tok-CUT-BY-A-CELL-0123456789-abcdefghijklmnop"


@pytest.mark.parametrize("columns", [40, 50, 60, 70, 80])
@pytest.mark.parametrize("given", ["--token-file", "-H"])
def test_a_secret_a_table_cell_cuts_prints_no_piece_of_it(
    cli: Any, fault: str, tmp_path: Path, columns: int, given: str
) -> None:
    """``load run``'s errors table shows an example message per error: the agent echoed the token
    into it. Masked only in the finished text, a cell too narrow for the token cut it with '…' and
    printed its start ('tok-CUT-BY-A-CELL-01…'). The secrets are masked before the table is laid out."""
    from tests.servers import secret_fragments

    token_file = tmp_path / "token"
    token_file.write_text(LONG_TOKEN + "\n")
    secret = (
        ["--token-file", str(token_file)]
        if given == "--token-file"
        else ["-H", f"Authorization: Bearer {LONG_TOKEN}"]
    )
    card = f"{fault}/echoauth/agent-card.json"
    r = cli(*secret, "load", "run", card, "-c", "1", "-n", "2", env={"COLUMNS": str(columns)})
    assert r.exit_code == 0, r.stdout + r.stderr
    assert "***" in r.stdout  # the example is shown, the token masked in it
    for piece in secret_fragments(LONG_TOKEN):
        assert piece not in r.stdout and piece not in r.stderr, (piece, r.stdout)


#: URL credentials (userinfo password, ``token`` query value) of an inventory's agent / a dead letter's target.
URL_PASSWORD, URL_TOKEN = "pwWRAP-7x2K", "tkWRAP-8y3L0n5WdR"


@pytest.mark.parametrize(("columns", "query"), [(50, ""), (60, ""), (70, ""), (120, "?token={token}")])
def test_fleet_probe_prints_no_piece_of_an_agent_urls_credentials(
    cli: Any, fault: str, tmp_path: Path, forget_secrets: Any, columns: int, query: str
) -> None:
    """``fleet probe``'s ``slowest`` table names each agent by its URL, in a column that folds long
    words over lines: a URL with credentials was split inside them, and neither piece matched the
    secret ('…agent:pwWRAP-7' on one line, 'x2K@127…' on the next). A name longer than 80
    characters is cut before the table sees it: at 120 columns, inside the token
    ('token=tkWRAP-8…')."""
    from tests.servers import secret_fragments

    url = fault.replace("http://", f"http://agent:{URL_PASSWORD}@") + "/echoauth/agent-card.json"
    url += query.format(token=URL_TOKEN)
    assert (len(url) > 80) == bool(query)  # without the query, the table alone cuts the name
    inventory = tmp_path / "agents.txt"
    inventory.write_text(url + "\n")
    r = cli("fleet", "probe", str(inventory), "--no-progress", env={"COLUMNS": str(columns)})
    assert r.exit_code == 7, r.stdout + r.stderr  # the agent's card is not schema-valid
    assert "***" in r.stdout  # the agent is shown, its credentials masked
    for piece in secret_fragments(URL_PASSWORD, URL_TOKEN):
        assert piece not in r.stdout and piece not in r.stderr, (piece, r.stdout)


@pytest.mark.parametrize("columns", [40, 70])
def test_dlq_stats_prints_no_piece_of_a_target_urls_credentials(
    cli: Any, tmp_path: Path, forget_secrets: Any, columns: int
) -> None:
    """``dlq stats``'s ``by target`` table (a folding column): a dead letter's target URL with
    credentials was wrapped inside them ('…token=tkWRAP-8y3L0' / 'n5WdR')."""
    from tests.servers import secret_fragments

    path = tmp_path / "dlq.jsonl"
    _one_dead_letter(path, f"http://agent:{URL_PASSWORD}@127.0.0.1:9/rpc?token={URL_TOKEN}")
    r = cli("dlq", "stats", str(path), env={"COLUMNS": str(columns)})
    assert r.exit_code == 0, r.stdout + r.stderr
    assert "***" in r.stdout  # the target is shown, its credentials masked
    for piece in secret_fragments(URL_PASSWORD, URL_TOKEN):
        assert piece not in r.stdout and piece not in r.stderr, (piece, r.stdout)


def test_a_token_file_with_a_byte_order_mark_is_read_as_its_token(
    cli: Any, sandbox_auth: Any, tmp_path: Path
) -> None:
    """A token file saved by Notepad or PowerShell 5 (``Set-Content -Encoding UTF8``) starts with a
    UTF-8 byte order mark and ends with CRLF: it was exit 2 "the token must be printable ASCII",
    for a character the user cannot see. The mark is dropped, as the line end is."""
    from tests.conftest import TOKEN

    token_file = tmp_path / "token"
    token_file.write_bytes(b"\xef\xbb\xbf" + TOKEN.encode() + b"\r\n")
    r = cli("--token-file", str(token_file), "send", sandbox_auth.url, "hi", "-o", "json")
    assert r.exit_code == 0, r.stdout[-800:] + r.stderr[-800:]
    assert r.json["state"] == "completed"
    assert TOKEN not in r.stdout + r.stderr


def test_a_regular_token_file_is_read_only_up_to_the_limit_of_a_fifo(
    cli: Any, sandbox: Any, tmp_path: Path
) -> None:
    """A regular ``--token-file`` was read whole, however large (a disk image named by mistake grew
    the process until memory ran out; 17 MB went out as one header, refused differently by each
    agent), where a FIFO's read stops at 16 MiB. The same limit, in the same words: exit 2, nothing
    sent."""
    token_file = tmp_path / "token"
    with token_file.open("wb") as fh:
        fh.write(b"a" * (16 * 1024 * 1024 + 1))
    r = cli("--token-file", str(token_file), "card", "get", sandbox.url, "-o", "json")
    assert r.exit_code == 2, r.stdout[-800:]
    assert (
        r.json["error"]["message"] == f"--token-file {token_file}: over the 16 MiB limit (16,777,216 bytes)"
    )
