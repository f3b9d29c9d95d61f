"""``a2actl card get``: URLs, files, discovery fallback, table and JSON views."""

from __future__ import annotations

import json

import pytest


def test_card_get_json_has_raw_and_normalized(cli, sandbox):
    r = cli("card", "get", sandbox.url, "-o", "json")
    assert r.exit_code == 0
    doc = r.json
    assert doc["source"] == sandbox.url + "/.well-known/agent-card.json"
    assert doc["card"]["name"] == "a2actl sandbox agent"
    n = doc["normalized"]
    assert n["shape"] == "hybrid"
    assert [(i["protocolBinding"], i["protocolVersion"]) for i in n["interfaces"]] == [
        ("JSONRPC", "1.0"),
        ("HTTP+JSON", "1.0"),
        ("JSONRPC", "0.3"),
        ("HTTP+JSON", "0.3"),
        ("urn:a2actl:websocket:1", "1.0"),
    ]  # the custom WebSocket binding (docs/websocket.md)
    assert n["capabilities"]["streaming"] is True
    assert n["skills"][0]["id"] == "echo"
    assert doc["http"]["status"] == 200 and doc["http"]["timing"]["time_total"] > 0


def test_card_get_global_option_before_command(cli, sandbox_v1):
    r = cli("-o", "json", "card", "get", sandbox_v1.url)
    assert r.exit_code == 0
    assert r.json["normalized"]["shape"] == "1.0"


def test_card_get_legacy_fallback_noted(cli, sandbox_legacy):
    doc = cli("card", "get", sandbox_legacy.url, "-o", "json").json
    assert doc["fallbackUsed"] is True
    assert doc["normalized"]["shape"] == "0.2"
    assert doc["normalized"]["interfaces"][0]["protocolVersion"] == "0.2.5"


def test_card_get_file_and_table(cli, sandbox, tmp_path):
    raw = cli("card", "get", sandbox.url, "-o", "json").json["card"]
    f = tmp_path / "card.json"
    f.write_text(json.dumps(raw))
    r = cli("card", "get", str(f))
    assert r.exit_code == 0
    assert "Interfaces" in r.stdout and "HTTP+JSON" in r.stdout and "echo" in r.stdout
    assert cli("card", "get", str(f), "-o", "json").json["source"] == str(f)


def test_card_get_missing_file_is_usage_error(cli, tmp_path):
    r = cli("card", "get", str(tmp_path / "nope.json"), "-o", "json")
    assert r.exit_code == 2
    assert r.json["error"]["code"] == "usage"


@pytest.mark.parametrize("target", ["http://[::1", "http://host:99999", "http://host:abc/"])
def test_malformed_target_url_is_usage_error(cli, target):
    r = cli("card", "get", target, "-o", "json")
    assert r.exit_code == 2
    assert r.json["error"]["code"] == "usage" and "not a valid URL" in r.json["error"]["message"]


def test_a_host_that_is_not_punycode_is_usage_error(cli):
    # httpx decodes an xn-- host as it builds the request: idna's IDNAError was exit 1 "unexpected"
    r = cli("card", "get", "http://xn--zz.example/", "-o", "json")
    assert r.exit_code == 2, r.stdout
    assert r.json["error"]["code"] == "usage" and "not valid Punycode" in r.json["error"]["message"]


def test_agent_strings_are_not_markup_and_escapes_are_escaped(cli, fault):
    r = cli("card", "get", fault + "/markup/agent-card.json")
    assert r.exit_code == 0
    assert "[bold red]pwned[/bold red]" in r.stdout
    assert "\x1b" not in r.stdout and "\\x1b[2J" in r.stdout


def _strict_json(text: str) -> object:
    """Parse as RFC 8259 JSON: ``NaN``/``Infinity`` (which ``json.loads`` takes) are refused."""

    def refuse(constant: str) -> object:
        raise ValueError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


@pytest.mark.parametrize("output", ["json", "jsonl"])
def test_card_with_nan_and_infinity_is_printed_as_valid_json(cli, fault, output):
    """A card carrying NaN/Infinity (Python's reader takes them) is shown with them as null: -o json
    printed them bare, a document strict readers (JSON.parse, Go, jq --seq) refuse whole."""
    r = cli("card", "get", fault + "/nan/agent-card.json", "-o", output)
    assert r.exit_code == 0, r.stderr
    doc = _strict_json(r.stdout)
    assert doc["card"]["metadata"] == {"score": None, "limits": [None, None, 1.5]}
    assert doc["normalized"]["name"] == "fault agent"


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_followed_redirect_that_fails_names_where_it_failed(cli, fault):
    """``-L``: a redirect whose own request fails names that URL (it named the URL that redirected,
    whose host answered fine); a redirect to a scheme a2actl does not speak, or a loop, is the agent's
    answer (exit 1, as an unfollowed 3xx), not a bad command line (``file:`` was exit 2)."""
    from urllib.parse import quote

    start = fault + "/redirectto/agent-card.json?to="
    dead = f"http://127.0.0.1:{_closed_port()}/agent-card.json"
    r = cli("-L", "card", "get", start + quote(dead, safe=""), "-o", "json")
    assert r.exit_code == 3, r.stdout
    err = r.json["error"]
    assert err["code"] == "unreachable"
    assert err["message"].startswith(f"connection to {dead} (redirected from {fault}/redirectto/")

    r = cli("-L", "card", "get", start + quote("file:///etc/passwd", safe=""), "-o", "json")
    assert r.exit_code == 1, r.stdout
    assert r.json["error"]["code"] == "http_status" and "file://" in r.json["error"]["message"]

    r = cli("-L", "card", "get", start + "self", "-o", "json")
    assert r.exit_code == 1, r.stdout
    assert r.json["error"]["code"] == "http_status"
    assert "redirected more than 20 times" in r.json["error"]["message"]


@pytest.mark.parametrize(
    "command",
    [
        ("card", "get"),
        ("handshake", "probe"),
        # aiohttp's path (transport/fast.py): it was exit 2 "invalid URL '<the URL asked for>'"
        ("load", "run", "-n", "1", "-s", "card", "--no-progress"),
    ],
)
@pytest.mark.parametrize(
    ("location", "why"),
    [
        ("http://a..b/agent-card.json", "the host 'a..b' has characters a host name cannot have"),
        ("http://xn--zz.example/agent-card.json", "has a label that is not valid Punycode ('xn--zz')"),
        ("http://" + "x" * 64 + ".example/", "has an empty label or one over 63 characters"),
    ],
)
def test_a_followed_redirect_to_a_host_that_cannot_exist_is_the_agents_answer(
    cli, fault, command, location, why
):
    """``-L`` and a Location whose host no request can reach (what a TARGET is refused for, exit 2):
    the hop's connect met it as a bare UnicodeError or IDNAError, exit 1 "request to … failed:
    UnicodeError". It is a redirect a2actl cannot follow, as one to file:// (exit 1, http_status)."""
    from urllib.parse import quote

    r = cli("-L", *command, f"{fault}/redirectto/agent-card.json?to={quote(location, safe='')}", "-o", "json")
    assert r.exit_code == 1, r.stdout + r.stderr
    err = r.json["error"]
    assert err["code"] == "http_status"
    assert err["message"] == (
        f"{fault}/redirectto/agent-card.json?to={quote(location, safe='')} redirected to {location}, "
        f"which a2actl cannot follow: {err['message'].split('which a2actl cannot follow: ', 1)[1]}"
    )
    assert (
        why in err["message"] and "UnicodeError" not in err["message"] and "IDNAError" not in err["message"]
    )


def test_card_file_that_never_ends_is_bounded_by_max_time(cli, tmp_path):
    """A named pipe (or ``<(cmd)``) nobody writes: the read blocked the event loop, so neither
    ``--max-time`` nor the default deadline ended ``card get`` (nor SIGTERM, as Ctrl-C). Now 5."""
    import os
    import time

    fifo = tmp_path / "card.fifo"
    os.mkfifo(fifo)
    t0 = time.monotonic()
    try:
        r = cli("--max-time", "1s", "card", "get", str(fifo), "-o", "json")
        assert r.exit_code == 5, r.stdout
        assert r.json["error"]["code"] == "timeout"
        assert time.monotonic() - t0 < 10
    finally:  # a writer that opens and closes at once: the reader thread gets EOF and ends
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))


def test_card_get_masks_the_credentials_in_the_cards_interface_urls(cli, fault, tmp_path, forget_secrets):
    """A card may name its interface with credentials in the URL (``http://agent:PW@host/rpc?token=``):
    ``card get`` printed them as served, in the table and in ``-o json``'s ``card`` and
    ``normalized``, where every other command masks them. The table is laid out on a narrow terminal
    too: masked only as text after the layout, a URL cut inside a secret ('…') would print its start."""
    import httpx

    from tests.servers import IFACE_CREDENTIALS, iface_url, secret_fragments

    url = f"{fault}/credsiface/agent-card.json"
    masked = iface_url(fault)
    r = cli("card", "get", url, "-o", "json")
    forget_secrets()
    table = cli("card", "get", url, env={"COLUMNS": "200"})
    forget_secrets()
    narrow = cli("card", "get", url, env={"COLUMNS": "70"})  # the url column cut with '…'
    forget_secrets()
    card_file = tmp_path / "card.json"
    card_file.write_text(httpx.get(url, timeout=5).text)
    from_file = cli("card", "get", str(card_file), "-o", "json")
    assert (r.exit_code, table.exit_code, from_file.exit_code) == (0, 0, 0), r.stderr + table.stderr
    for doc in (r.json, from_file.json):
        assert doc["card"]["supportedInterfaces"][0]["url"] == masked
        assert doc["normalized"]["interfaces"][0]["url"] == masked
    assert masked in table.stdout
    for out in (r, table, narrow, from_file):
        for piece in secret_fragments(*IFACE_CREDENTIALS["credsiface"]):
            assert piece not in out.stdout and piece not in out.stderr, piece


def test_card_that_is_not_utf8_says_so_without_the_text_around_it(cli, tmp_path):
    """A card in Latin-1 (JSON, but not UTF-8) was "not valid JSON: 'utf-8' codec can't decode …"
    with the hint "is this URL serving the card, or an HTML error page?". It says it is not UTF-8
    text, with the byte, its offset and line; still exit 6. The bytes around it are not shown: they
    may be a URL's userinfo, and a card that did not parse has no secrets registered to mask."""
    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.routing import Route

    from tests.servers import LoopbackServer

    body = '{"name": "Caf\xe9",\n "url": "http://agent:pw-NOT-SHOWN@127.0.0.1/a2a"}'.encode("latin-1")

    async def card(_request: object) -> Response:
        return Response(body, media_type="application/json")

    path = tmp_path / "card.json"
    path.write_bytes(body)
    with LoopbackServer(lambda _: Starlette(routes=[Route("/.well-known/agent-card.json", card)])) as srv:
        for target in (srv.url, str(path)):
            for command in (("card", "get"), ("caps", "validate")):
                r = cli(*command, target, "-o", "json")
                assert r.exit_code == 6, r.stdout
                err = r.json["error"]
                assert (
                    "is not UTF-8 text: byte 0xe9 at offset 13 (line 1, byte 14 of the line)"
                    in err["message"]
                )
                assert "RFC 8259" in err["hint"]
                assert "pw-NOT" not in r.stdout + r.stderr


def test_a_card_read_after_redirects_names_the_url_asked_and_the_final_one(cli, fault, sandbox):
    """``-L``: the card was reported under the URL asked for alone (the fault server's redirect),
    though the sandbox served it. Both are now named: ``source`` (asked) and ``finalUrl`` (the one
    read), in ``card get`` and the caps commands; the final URL's credentials are masked. Without a
    redirect ``finalUrl`` is null."""
    from urllib.parse import quote

    card = sandbox.url + "/.well-known/agent-card.json"
    asked = f"{fault}/redirectto/agent-card.json?to=" + quote(card, safe="")
    r = cli("-L", "card", "get", asked, "-o", "json")
    assert r.exit_code == 0, r.stdout
    assert (r.json["source"], r.json["finalUrl"]) == (asked, card)
    for args in (
        ("caps", "validate", asked),
        ("caps", "verify", asked),
        ("caps", "lint", asked),
        ("caps", "fingerprint", asked),
    ):
        r = cli("-L", "-o", "json", *args)
        assert r.exit_code in (0, 7), (args, r.stdout)
        assert (r.json["source"], r.json["finalUrl"]) == (asked, card), args
    r = cli("-L", "-o", "json", "caps", "diff", asked, card)
    assert r.exit_code == 0
    assert (r.json["before"]["finalUrl"], r.json["after"]["finalUrl"]) == (card, None)
    table = cli("-L", "caps", "validate", asked)
    assert table.stdout.splitlines()[0].startswith(f"{asked} (redirected to {card}):")

    # credentials in the final URL are masked
    port = sandbox.url.rsplit(":", 1)[1]
    secret = f"http://agent:pw-s19-final@127.0.0.1:{port}/.well-known/agent-card.json?token=tok-s19-final"
    r = cli(
        "-L", "card", "get", f"{fault}/redirectto/agent-card.json?to=" + quote(secret, safe=""), "-o", "json"
    )
    assert r.exit_code == 0, r.stdout
    assert r.json["finalUrl"] == f"http://agent:***@127.0.0.1:{port}/.well-known/agent-card.json?token=***"
    rest = json.dumps({k: v for k, v in r.json.items() if k != "source"})  # source: asked, as typed
    assert "pw-s19-final" not in rest + r.stderr and "tok-s19-final" not in rest + r.stderr

    r = cli("card", "get", card, "-o", "json")
    assert (r.json["source"], r.json["finalUrl"]) == (card, None)
