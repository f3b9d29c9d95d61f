"""``a2actl.core.redact``: credential headers, JSON keys and known secret values masked."""

from __future__ import annotations

import asyncio

from a2actl.core import redact
from a2actl.core.redact import (
    MASK,
    Redactor,
    header_secrets,
    is_secret_header,
    mask_urls,
    redact_header,
    redact_headers,
    redact_json,
    redact_text,
    register_url,
    secret_scope,
)


def test_credential_headers_keep_their_scheme() -> None:
    assert redact_header("Authorization", "Bearer abc") == "Bearer ***"
    assert redact_header("X-Api-Key", "k123") == MASK
    assert redact_header("X-Session-Id", "s") == MASK
    assert redact_header("Content-Type", "application/json") == "application/json"
    assert redact_headers([("Cookie", "a=b"), ("Accept", "x")]) == [("Cookie", MASK), ("Accept", "x")]


def test_credential_headers_are_known_by_the_words_in_their_names() -> None:
    from a2actl.core.redact import is_sensitive_header

    for name in (
        "X-Goog-Api-Key",
        "X-RapidAPI-Key",
        "Ocp-Apim-Subscription-Key",
        "X-Auth-Key",
        "x-functions-key",
        "X-Client-Secret-Id",
        "X-Db-Password",
        "X-Passwd",
        "X-Corp-Passphrase",
        "X-Credentials",
    ):
        assert is_sensitive_header(name), name
    for name in ("Idempotency-Key", "X-Idempotency-Key", "Sec-WebSocket-Key", "X-Monkey", "A2A-Version"):
        assert not is_sensitive_header(name), name


def test_json_keys_that_carry_credentials_are_masked_recursively() -> None:
    doc = {"user": "u", "password": "pw", "nested": [{"apiKey": "k", "x": 1}], "token": ""}
    assert redact_json(doc) == {
        "user": "u",
        "password": MASK,
        "nested": [{"apiKey": MASK, "x": 1}],
        "token": "",
    }


def test_known_values_are_masked_in_text_short_ones_are_not() -> None:
    assert redact_text("tok=abcd1234 and abc", ["abcd1234", "abc"]) == f"tok={MASK} and abc"


def test_header_secrets_include_the_bare_credential() -> None:
    assert header_secrets([("Authorization", "Bearer abc123"), ("Accept", "x")]) == [
        "Bearer abc123",
        "abc123",
    ]


def test_the_redactor_masks_escaped_spellings_and_registered_url_secrets() -> None:
    red = Redactor(['p"ss/word'])
    assert red('{"v": "p\\"ss/word"}') == '{"v": "' + MASK + '"}'
    register_url("https://user:h1-url-secret@example.test/x?sig=h1-signature-value&page=2")
    out = red("h1-url-secret h1-signature-value page=2")
    assert out == f"{MASK} {MASK} page=2"


def test_a_secret_scope_masks_its_secrets_inside_and_keeps_none() -> None:
    before = set(redact._REGISTRY)
    red = Redactor(["own-secret-1"])  # one long-lived Redactor, used in and out of scopes
    register_url("http://u:scope-outer-pw@h/")  # outside any scope: the process keeps it

    async def child() -> None:  # a task started inside the scope registers into it
        register_url("http://h/x?token=scope-child-token")

    async def probe() -> list[str]:
        with secret_scope():
            register_url("http://u:scope-inner-pw@h/?api_key=scope-inner-key")
            await asyncio.ensure_future(child())
            text = "scope-inner-pw scope-inner-key scope-child-token scope-outer-pw own-secret-1"
            inside = [red(text), Redactor()(text)]
            assert is_secret_header("X-Forwarded", "scope-inner-key")
        return inside

    inside = asyncio.run(probe())
    assert inside == [" ".join([MASK] * 5), " ".join([MASK] * 4) + " own-secret-1"]
    # the block over: its secrets are forgotten, the process registry holds only the outer one
    assert set(redact._REGISTRY) == before | {"scope-outer-pw", _basic("u:scope-outer-pw")}
    assert (
        red("scope-inner-pw scope-child-token scope-outer-pw") == f"scope-inner-pw scope-child-token {MASK}"
    )
    assert not is_secret_header("X-Forwarded", "scope-inner-key")


def test_nested_secret_scopes_chain() -> None:
    """Inside an inner ``secret_scope()`` the outer scope's secrets are still masked (the inner one
    replaced the outer: they were printed), a secret registered in the outer scope while the inner
    block runs (another task of the outer scope) is masked at once by a Redactor that already built
    its needles, and the outer scope does not keep the inner one's."""
    red = Redactor()  # long-lived: its needle cache must follow every change

    async def outer_task() -> None:  # a task of the outer scope, started before the inner block
        register_url("http://h/?token=nest-outer-later")

    async def run() -> list[str]:
        seen = []
        with secret_scope():
            register_url("http://u:nest-outer-pw@h/")
            task = asyncio.ensure_future(outer_task())
            with secret_scope():
                register_url("http://u:nest-inner-pw@h/")
                text = "nest-outer-pw nest-inner-pw nest-outer-later"
                seen.append(red(text))
                await task
                seen.append(red(text))
                assert is_secret_header("X-Forwarded", "nest-outer-pw")
                register_url("http://u:nest-outer-pw@h/")  # the outer scope has it: not added again
            seen.append(red(text))
            assert not is_secret_header("X-Forwarded", "nest-inner-pw")
        seen.append(red(text))
        return seen

    before = set(redact._REGISTRY)
    assert asyncio.run(run()) == [
        f"{MASK} {MASK} nest-outer-later",
        f"{MASK} {MASK} {MASK}",
        f"{MASK} nest-inner-pw {MASK}",
        "nest-outer-pw nest-inner-pw nest-outer-later",
    ]
    assert set(redact._REGISTRY) == before


def test_url_secrets_as_written_and_decoded() -> None:
    """A query value is printed as written (``a%2Bb``) but was registered decoded (``a+b``) only, so
    the URL was printed with it in clear; both spellings count now."""
    from a2actl.core.redact import url_secrets

    assert sorted(url_secrets("http://u:p%40ss-word@h/x?api_key=ab%2Bcd&page=2&Token=t+u")) == sorted(
        ["p%40ss-word", "p@ss-word", "ab%2Bcd", "ab+cd", "t+u", "t u", _basic("u:p@ss-word")]
    )
    assert url_secrets("http://lone-user-token@h/") == ["lone-user-token", _basic("lone-user-token:")]
    assert url_secrets("http://[::1/x") == []  # does not parse, and has no secret
    # a host urlsplit refuses (an unclosed '['): the userinfo and query are secrets all the same,
    # else the error quoting the URL printed them
    assert sorted(url_secrets("http://u:pw-in-bad-url@[::1/x?token=tk-in-bad-url")) == sorted(
        ["pw-in-bad-url", "tk-in-bad-url", _basic("u:pw-in-bad-url")]
    )
    assert url_secrets("http://lone-tok3n@[x") == ["lone-tok3n", _basic("lone-tok3n:")]


def _basic(userpass: str, encoding: str = "utf-8") -> str:
    import base64

    return base64.b64encode(userpass.encode(encoding)).decode()


def test_the_basic_credential_of_a_urls_userinfo_is_a_secret() -> None:
    """httpx and aiohttp send a URL's userinfo as ``Authorization: Basic base64(user:password)``: an
    agent that echoed it back printed the password in a form anyone decodes. Both encodings count
    (httpx UTF-8, aiohttp Latin-1)."""
    from a2actl.core.redact import url_secrets

    assert _basic("ops:pw-0123") in url_secrets("http://ops:pw-0123@h/")
    both = url_secrets("http://ops:p%C3%A9-0123@h/")
    assert _basic("ops:p\u00e9-0123") in both and _basic("ops:p\u00e9-0123", "latin-1") in both


def test_mask_urls_masks_each_urls_secrets_inside_it_only() -> None:
    from a2actl.core.redact import mask_urls, redact_body

    text = (
        'agent agent {"url":"http://agent:iface-pw-9@h:8/rpc?token=iface-tk-9&page=2"}, '
        "http:\\/\\/bob@h\\/x?sig=s1gnature. grpc://grpc-tok-9@h:443"
    )
    assert mask_urls(text) == (
        'agent agent {"url":"http://agent:***@h:8/rpc?token=***&page=2"}, '
        "http:\\/\\/bob@h\\/x?sig=***. grpc://***@h:443"
    )
    assert mask_urls("no url: a token") == "no url: a token"
    body = (
        b'{"supportedInterfaces":[{"url":"http://agent:iface-pw-9@h/rpc?token=iface-tk-9"}],"x":"iface-pw-9"}'
    )
    # the URL's secrets inside the URL (a card body at -vv, logged before anything read the card)
    assert redact_body(body, []) == (
        b'{"supportedInterfaces":[{"url":"http://agent:***@h/rpc?token=***"}],"x":"iface-pw-9"}'
    )


def test_finding_urls_in_text_takes_linear_time() -> None:
    """Every ``a`` after a ``.`` may start a URL scheme: with the scheme unbounded, each such start
    scanned to the end of the run (this 400 KB text took over a minute)."""
    import time

    from a2actl.core.redact import mask_urls

    text = "//" + "a." * 200_000
    t0 = time.perf_counter()
    assert mask_urls(text) == text
    assert time.perf_counter() - t0 < 2


def test_preview_is_never_cut_inside_a_token_and_masks_url_credentials() -> None:
    from a2actl.core.redact import preview

    assert preview(b"  short  ", 80) == "short"
    # cut inside a run of token characters that goes on: the run goes, not its start
    assert preview("refused: Bearer abcdefghijklmnop", 20) == "refused: Bearer"
    # a cut at the run's own end keeps it
    assert preview("refused: Bearer abcd efgh", 20) == "refused: Bearer abcd"
    assert preview(b"see http://bob:hunter22@h/x then", 80) == "see http://bob:***@h/x then"
    assert preview(b"caf\xe9 au lait", 80) == "caf\ufffd au lait"
    assert preview("x" * 100, 10) == ""


def test_where_not_utf8_names_the_byte_without_the_text_around_it() -> None:
    from a2actl.core.redact import where_not_utf8

    try:
        b"ab\ncd\xe9pw".decode("utf-8")
    except UnicodeDecodeError as exc:
        assert where_not_utf8(exc) == "byte 0xe9 at offset 5 (line 2, byte 3 of the line)"


def test_a_short_userinfo_secret_is_masked_where_it_stands_in_its_url() -> None:
    """A password (or lone user part) under 4 characters is not masked as a value (``ab`` in every
    word), so ``redis://u:ab@host`` was printed whole. ``mask_urls`` masks it in place, and a
    registered URL's prefix is masked by every ``Redactor`` (in every escaped spelling); the same
    characters elsewhere in the text are left alone."""
    assert mask_urls("at redis://u:ab@h:1/0 and ab") == f"at redis://u:{MASK}@h:1/0 and ab"
    assert mask_urls("at redis://:q@h/ or amqp://x@h/") == f"at redis://:{MASK}@h/ or amqp://{MASK}@h/"
    register_url("redis://h1-short:zq@h:6379/0?stream=s")
    red = Redactor()
    text = 'redis://h1-short:zq@h:6379/0 {"u": "redis://h1-short:zq@h"} zq'
    assert red(text) == f'redis://h1-short:{MASK}@h:6379/0 {{"u": "redis://h1-short:{MASK}@h"}} zq'
    assert red.swaps["redis://h1-short:zq@"] == f"redis://h1-short:{MASK}@"
