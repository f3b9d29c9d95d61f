"""A security review of ``caps verify`` (issue #17): attempts to make it say ``valid`` when it must
not, or to crash it, through the real CLI against loopback servers: a ``jku`` fetch that is
redirected (with ``-L``), a ``jku`` that is not a fetchable URL or carries userinfo, a JWS extension
(``crit``/``b64``), a JWK Set with a key it cannot use, a card whose own fields look like
``caps sign``'s summary."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from tests.sig.conftest import CardServer, Keys, plain_card, write_json
from tests.sig.test_verify import sign, signed_file, statuses, verify


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def test_a_jku_fetch_never_follows_a_redirect_even_with_L(
    cli: Any, tmp_path: Path, keys: Keys, card_https: CardServer
) -> None:
    """The same-host check is made on the jku URL; a redirect to another host (here another name of
    the same server, which the certificate also covers) would bypass it: with ``-L`` the card may
    follow redirects, the key fetch must not (spec v1.0 §8.4.3, RFC 7515 §4.1.2)."""
    assert card_https.ca is not None
    card = plain_card(card_https.url + "/a2a/jsonrpc")
    path = write_json(tmp_path / "c.json", card)
    jku = card_https.url + "/jwks-moved.json"
    card_https.docs["/.well-known/agent-card.json"] = sign(
        cli, path, keys.ec.private, "ec-1", tmp_path, "--jku", jku
    )
    card_https.redirects["/jwks-moved.json"] = f"https://localhost:{card_https.port}/jwks.json"
    card_https.docs["/jwks.json"] = {"keys": [keys.ec.jwk]}
    code, doc = verify(cli, "-L", "--cacert", card_https.ca, card_https.url)
    assert code == 7 and statuses(doc) == {"ec-1": "unknown-key"}
    sig = doc["signatures"][0]
    assert sig["keySource"] is None and sig["jkuUse"].startswith("failed:") and "302" in sig["jkuUse"]
    assert card_https.hits.get("/jwks.json", 0) == 0  # the redirect's target was never fetched


def _file_with_jku(cli: Any, tmp_path: Path, keys: Keys, jku: str) -> str:
    """A card file signed by ``ec-1`` with ``jku`` in the protected header (written by sign_card
    itself: ``caps sign --jku`` refuses URLs that are not https)."""
    from a2actl.caps.signature import load_pem_key, sign_card

    card = sign_card(plain_card(), load_pem_key(keys.ec.private), "ec-1", jku=jku)
    return write_json(tmp_path / "jku-card.json", card)


@pytest.mark.parametrize(
    "jku",
    [
        "https://127.0.0.1:99999/jwks.json",  # port out of range
        "https://127.0.0.1:443:80/jwks.json",  # two ports
        "https://[::1/jwks.json",  # unclosed IPv6 literal
    ],
)
def test_a_jku_that_is_no_url_is_refused_not_a_traceback(
    cli: Any, tmp_path: Path, keys: Keys, jku: str
) -> None:
    path = _file_with_jku(cli, tmp_path, keys, jku)
    code, doc = verify(cli, path, "--allow-jku")
    assert code == 7 and statuses(doc) == {"ec-1": "unknown-key"}
    assert doc["signatures"][0]["jkuUse"] == "refused: jku is not a valid URL"


def test_a_jku_with_userinfo_is_refused(cli: Any, tmp_path: Path, keys: Keys, card_https: CardServer) -> None:
    """``https://user:pw@card-host/…`` names the card's host, but a URL with userinfo is how
    ``https://card-host@evil/`` tricks are written: refused whatever its host, never fetched."""
    assert card_https.ca is not None
    host = card_https.url.removeprefix("https://")
    from a2actl.caps.signature import load_pem_key, sign_card  # caps sign --jku refuses userinfo

    card = plain_card(card_https.url + "/a2a/jsonrpc")
    card_https.docs["/.well-known/agent-card.json"] = sign_card(
        card, load_pem_key(keys.ec.private), "ec-1", jku=f"https://user:pw@{host}/jwks.json"
    )
    card_https.docs["/jwks.json"] = {"keys": [keys.ec.jwk]}
    for extra in ((), ("--allow-jku",)):
        code, doc = verify(cli, "--cacert", card_https.ca, card_https.url, *extra)
        assert code == 7 and statuses(doc) == {"ec-1": "unknown-key"}
        assert doc["signatures"][0]["jkuUse"] == "refused: jku carries userinfo (user@host)"
    assert card_https.hits.get("/jwks.json", 0) == 0


def _sign_raw(key_pem: str, header: dict[str, Any], signing_input: bytes) -> str:
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    key = serialization.load_pem_private_key(Path(key_pem).read_bytes(), None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return _b64(key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256()))


@pytest.mark.parametrize(
    "extra",
    [
        {"b64": False, "crit": ["b64"]},  # RFC 7797 unencoded payload: a different signing input
        {"crit": ["exp"], "exp": 1},  # an extension nobody defined for cards
    ],
)
def test_a_jws_extension_is_not_accepted(cli: Any, tmp_path: Path, keys: Keys, extra: dict[str, Any]) -> None:
    """Spec v1.0 §8.4.2 defines the protected header (alg, typ, kid, jku) and no JWS extension; a
    verifier that does not implement one MUST reject it (RFC 7515 §4.1.11), and a2a-sdk's verifier
    does not take an unencoded payload: a signature another verifier rejects is not ``valid``."""
    from a2actl.caps.signature import canonical

    card = plain_card()
    payload, _ = canonical(card)
    header = {"alg": "RS256", "typ": "JOSE", "kid": "rsa-1", **extra}
    protected = _b64(json.dumps(header).encode())
    body = payload if extra.get("b64") is False else _b64(payload).encode()
    card["signatures"] = [
        {
            "protected": protected,
            "signature": _sign_raw(keys.rsa.private, header, protected.encode() + b"." + body),
        }
    ]
    code, doc = verify(cli, write_json(tmp_path / "c.json", card), "--jwks", keys.jwks)
    assert code == 7 and statuses(doc) == {"rsa-1": "invalid"}
    assert "crit" in doc["signatures"][0]["reason"]


def test_an_attached_payload_or_unprotected_header_is_never_used(
    cli: Any, tmp_path: Path, keys: Keys
) -> None:
    """The signature is detached over the card's canonical form (spec v1.0 §8.4.1): a ``payload``
    member holding what was really signed (another card) does not count, and a ``kid``/``jku`` in the
    unprotected ``header`` is not used to pick the key (RFC 7515 §4: only the protected header is
    signed)."""
    from a2actl.caps.signature import canonical

    other = {**plain_card(), "description": "what the key holder really signed"}
    payload, _ = canonical(other)
    header = {"alg": "RS256", "typ": "JOSE", "kid": "rsa-1"}
    protected = _b64(json.dumps(header).encode())
    sig = _sign_raw(keys.rsa.private, header, protected.encode() + b"." + _b64(payload).encode())
    card = {
        **plain_card(),
        "signatures": [{"protected": protected, "payload": _b64(payload), "signature": sig}],
    }
    code, doc = verify(cli, write_json(tmp_path / "c.json", card), "--jwks", keys.jwks)
    assert code == 7 and statuses(doc) == {"rsa-1": "invalid"}
    code, doc = verify(
        cli, write_json(tmp_path / "o.json", {**other, "signatures": card["signatures"]}), "--jwks", keys.jwks
    )
    assert code == 0  # the same entry on the card it was made for

    no_kid = _b64(json.dumps({"alg": "RS256"}).encode())
    sig = _sign_raw(keys.rsa.private, {}, no_kid.encode() + b"." + _b64(canonical(plain_card())[0]).encode())
    entry = {
        "protected": no_kid,
        "signature": sig,
        "header": {"kid": "rsa-1", "jku": "https://127.0.0.1:1/j"},
    }
    code, doc = verify(
        cli, write_json(tmp_path / "u.json", {**plain_card(), "signatures": [entry]}), "--jwks", keys.jwks
    )
    assert (
        code == 7 and doc["signatures"][0]["status"] == "unknown-key" and doc["signatures"][0]["jku"] is None
    )


def test_a_jwks_with_a_key_it_cannot_use_still_serves_the_others(
    cli: Any, tmp_path: Path, keys: Keys
) -> None:
    """RFC 7517 §5: implementations SHOULD ignore JWKs with a kty they do not understand, missing
    members or values out of range: one such key must not make the whole set unusable."""
    path = signed_file(cli, tmp_path, keys, (keys.rsa.private, "rsa-1"))
    jwks = {
        "keys": [
            {"kty": "AKP", "alg": "ML-DSA-44", "pub": "AAAA", "kid": "pq-1"},  # a newer key type
            {"kty": "EC", "crv": "secp256k1", "x": "AAAA", "y": "AAAA", "kid": "k1"},  # a curve not supported
            {"kty": "RSA", "kid": "broken"},  # members missing
            keys.rsa.jwk,
        ]
    }
    code, doc = verify(cli, path, "--jwks", write_json(tmp_path / "jwks.json", jwks))
    assert code == 0 and statuses(doc) == {"rsa-1": "valid"}
    # the kid of a skipped key names why it has no key
    path = signed_file(cli, tmp_path, keys, (keys.rsa.private, "broken"))
    code, doc = verify(cli, path, "--jwks", str(tmp_path / "jwks.json"))
    assert code == 7 and statuses(doc) == {"broken": "unknown-key"}
    assert doc["signatures"][0]["reason"].endswith("jwks.json: keys[2] is not a valid RSA key")


def test_keys_of_two_types_under_one_kid(cli: Any, tmp_path: Path, keys: Keys) -> None:
    """RFC 7517 §4.5 lets keys of different types share a kid: an ES256 signature is checked with the
    EC key even when the RSA key of that kid comes first; a signature by neither stays invalid."""
    path = signed_file(cli, tmp_path, keys, (keys.ec.private, "shared"))
    jwks = {
        "keys": [
            {**keys.rsa.jwk, "kid": "shared"},
            {**keys.ec2.jwk, "kid": "shared"},
            {**keys.ec.jwk, "kid": "shared"},
        ]
    }
    code, doc = verify(cli, path, "--jwks", write_json(tmp_path / "jwks.json", jwks))
    assert code == 0 and statuses(doc) == {"shared": "valid"}
    jwks["keys"] = jwks["keys"][:2]
    code, doc = verify(cli, path, "--jwks", write_json(tmp_path / "jwks.json", jwks))
    assert code == 7 and statuses(doc) == {"shared": "invalid"}
    assert doc["signatures"][0]["reason"] == "the signature does not match the card"  # the EC key's verdict


def test_sign_to_stdout_prints_the_card_whatever_fields_it_has(cli: Any, tmp_path: Path, keys: Keys) -> None:
    """Without --out the signed card goes to stdout; a card whose own (unknown) fields are named like
    the --out summary's must not be taken for the summary."""
    card = {**plain_card(), "out": "x", "kid": "y", "sha256": "z", "uncovered": []}
    path = write_json(tmp_path / "c.json", card)
    r = cli("caps", "sign", path, "--key", keys.ec.private, "--kid", "ec-1")
    assert r.exit_code == 0, r.stderr
    signed = json.loads(r.stdout)
    assert signed["out"] == "x" and len(signed["signatures"]) == 1
    code, doc = verify(cli, write_json(tmp_path / "s.json", signed), "--jwks", keys.jwks)
    assert code == 0 and statuses(doc) == {"ec-1": "valid"}


def test_an_rsa_key_under_2048_bits_neither_verifies_nor_signs(cli: Any, tmp_path: Path, keys: Keys) -> None:
    """RFC 7518 §3.3: RSA keys for RS*/PS* MUST be 2048 bits or more (a 512-bit key is factored in
    hours, then anything can be signed with it). joserfc only warns, on stderr, and verifies."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from joserfc.errors import SecurityWarning
    from joserfc.jwk import import_key

    from a2actl.caps.signature import canonical

    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    priv = tmp_path / "weak.pem"
    priv.write_bytes(
        weak.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    pub_pem = weak.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    (tmp_path / "weak.pub").write_bytes(pub_pem)
    card = plain_card()
    header = {"alg": "RS256", "typ": "JOSE", "kid": "weak"}
    protected = _b64(json.dumps(header).encode())
    signing_input = protected.encode() + b"." + _b64(canonical(card)[0]).encode()
    card["signatures"] = [{"protected": protected, "signature": _sign_raw(str(priv), header, signing_input)}]
    path = write_json(tmp_path / "c.json", card)
    with pytest.warns(SecurityWarning):  # joserfc warns and imports
        jwk = {**import_key(pub_pem, "RSA").as_dict(private=False), "kid": "weak"}
    jwks = write_json(tmp_path / "jwks.json", {"keys": [jwk]})
    for option, value in (("--key", str(tmp_path / "weak.pub")), ("--jwks", jwks)):
        r = cli("caps", "verify", path, option, value, "-o", "json")
        assert r.exit_code == 7 and r.stderr == "", r.stderr  # no joserfc SecurityWarning either
        [sig] = json.loads(r.stdout)["signatures"]
        assert (
            sig["status"] == "invalid" and "1024-bit RSA key" in sig["reason"] and "RFC 7518" in sig["reason"]
        )
    r = cli(
        "caps", "sign", write_json(tmp_path / "u.json", plain_card()), "--key", str(priv), "--kid", "weak"
    )
    assert (
        r.exit_code == 2 and r.stdout == "" and r.stderr.count("\n") == 1 and "1024-bit RSA key" in r.stderr
    )


@pytest.mark.parametrize(
    ("jku", "why"),
    [
        ("http://keys.example/j", "jku is not an https URL"),
        ("https://user:hunter2pw@keys.example/j", "jku carries userinfo (user@host)"),
        ("https://keys.example:99999/j", "jku is not a valid URL"),
    ],
)
def test_sign_refuses_a_jku_verifiers_would_refuse(
    cli: Any, tmp_path: Path, keys: Keys, jku: str, why: str
) -> None:
    r = cli(
        "caps",
        "sign",
        write_json(tmp_path / "c.json", plain_card()),
        "--key",
        keys.ec.private,
        "--kid",
        "k",
        "--jku",
        jku,
    )
    assert r.exit_code == 2 and r.stdout == ""
    assert (
        r.stderr == f"a2actl: --jku: {why}; verifiers would refuse it (https only)\n"
    )  # the URL (userinfo) not echoed


def test_a_jwks_url_over_plain_http_is_refused_outside_loopback(
    cli: Any, tmp_path: Path, keys: Keys, card_http: CardServer
) -> None:
    """The trusted keys themselves over http: anyone on the path could substitute theirs (spec v1.0
    §8.4.3). Loopback stays allowed (a local key server, tests); nothing is fetched otherwise."""
    path = signed_file(cli, tmp_path, keys, (keys.rsa.private, "rsa-1"))
    r = cli("caps", "verify", path, "--jwks", "http://keys.example.com/jwks.json")
    assert r.exit_code == 2 and r.stdout == "" and r.stderr.startswith("a2actl: --jwks: an http:// URL")
    card_http.docs["/jwks.json"] = json.loads(Path(keys.jwks).read_text(encoding="utf-8"))
    for host in ("127.0.0.1", "localhost"):
        code, doc = verify(cli, path, "--jwks", f"HTTP://{host}:{card_http.port}/jwks.json")
        assert code == 0 and statuses(doc) == {"rsa-1": "valid"}


def test_a_jwks_url_is_not_followed_through_a_redirect_either(
    cli: Any, tmp_path: Path, keys: Keys, card_https: CardServer
) -> None:
    """An https --jwks URL redirecting to http would defeat the https rule under -L."""
    assert card_https.ca is not None
    path = signed_file(cli, tmp_path, keys, (keys.rsa.private, "rsa-1"))
    card_https.redirects["/jwks.json"] = "http://keys.example.com/jwks.json"
    r = cli(
        "caps",
        "verify",
        path,
        "-L",
        "--cacert",
        card_https.ca,
        "--jwks",
        card_https.url + "/jwks.json",
        "-o",
        "json",
    )
    assert r.exit_code == 1
    err = json.loads(r.stdout)["error"]
    assert err["details"]["httpStatus"] == 302 and "never fetched through a redirect" in err["hint"]


def test_a_hybrid_cards_unsigned_url_elsewhere_is_a_warning(cli: Any, tmp_path: Path, keys: Keys) -> None:
    """A hybrid card is signed in its 1.0 form: its v0.3 ``url`` can be changed without breaking the
    signature, and a 0.3 client connects there. Still exit 0 (the signature is valid), with a note."""
    card = plain_card()
    card.update(url=card["supportedInterfaces"][0]["url"], protocolVersion="0.3.0")
    card["additionalInterfaces"] = [{"url": card["url"], "transport": "JSONRPC"}]
    path = signed_file(cli, tmp_path, keys, (keys.ec.private, "ec-1"), card=card)
    code, doc = verify(cli, path, "--jwks", keys.jwks)
    assert code == 0 and doc["notes"] == [] and "/url" in doc["uncovered"]
    signed = json.loads(Path(path).read_text(encoding="utf-8"))
    signed["url"] = "https://evil.example/a2a"
    signed["additionalInterfaces"][0]["url"] = "https://evil.example/a2a"
    code, doc = verify(cli, write_json(tmp_path / "t.json", signed), "--jwks", keys.jwks)
    assert code == 0 and statuses(doc) == {"ec-1": "valid"}
    assert doc["notes"] == [
        f"{where} https://evil.example/a2a is not a signed supportedInterfaces URL: a 0.3 client connects there, unverified"
        for where in ("/url", "/additionalInterfaces/0/url")
    ]
    r = cli("caps", "verify", str(tmp_path / "t.json"), "--jwks", keys.jwks)
    assert r.exit_code == 0 and "warning: /url https://evil.example/a2a is not a signed" in r.stderr


def test_a_03_card_signed_over_its_03_form_says_why_it_does_not_match(
    cli: Any, tmp_path: Path, keys: Keys
) -> None:
    """A 0.3-era signer signed the card as it stands (here: JCS of the 0.3 JSON without signatures);
    verifying its 1.0 form fails, and the reason says so instead of leaving a stranger to guess."""
    import rfc8785

    card: dict[str, Any] = {
        "name": "old agent",
        "description": "0.3 only",
        "url": "https://agent.example.com/a2a",
        "protocolVersion": "0.3.0",
        "version": "1",
        "capabilities": {"streaming": True},
        "defaultInputModes": ["text/plain"],
        "defaultOutputModes": ["text/plain"],
        "skills": [{"id": "s", "name": "S", "description": "d", "tags": ["t"]}],
    }
    header = {"alg": "RS256", "typ": "JOSE", "kid": "rsa-1"}
    protected = _b64(json.dumps(header).encode())
    signing_input = protected.encode() + b"." + _b64(rfc8785.dumps(card)).encode()
    card["signatures"] = [
        {"protected": protected, "signature": _sign_raw(keys.rsa.private, header, signing_input)}
    ]
    code, doc = verify(cli, write_json(tmp_path / "c.json", card), "--jwks", keys.jwks)
    assert code == 7 and statuses(doc) == {"rsa-1": "invalid"}
    assert doc["signatures"][0]["reason"].startswith(
        "the signature does not match the card (a 0.3 card is verified"
    )
    # the same card signed by caps sign verifies (1.0 form), and a 1.0 card's mismatch keeps the short reason
    del card["signatures"]
    code, doc = verify(
        cli, signed_file(cli, tmp_path, keys, (keys.rsa.private, "rsa-1"), card=card), "--jwks", keys.jwks
    )
    assert code == 0


def test_vv_never_prints_private_members_of_a_fetched_jwk_set(
    cli: Any, tmp_path: Path, keys: Keys, card_http: CardServer
) -> None:
    """-vv shows response bodies; a JWK Set published with its private members (a common mistake)
    must not end up in a CI log through a2actl. Only the public parts are used anyway."""
    from joserfc.jwk import ECKey

    path = signed_file(cli, tmp_path, keys, (keys.ec.private, "ec-1"))
    private = ECKey.import_key(Path(keys.ec.private).read_bytes()).as_dict(private=True)
    card_http.docs["/jwks.json"] = {"keys": [{**private, "kid": "ec-1"}]}
    r = cli("caps", "verify", path, "--jwks", card_http.url + "/jwks.json", "-vv", "-o", "json")
    assert r.exit_code == 0 and json.loads(r.stdout)["state"] == "valid"
    assert '"kty"' in r.stderr and private["x"] in r.stderr  # the body is shown, its public part intact
    assert private["d"] not in r.stdout + r.stderr


def test_a_huge_or_hostile_kid_is_cut_and_escaped_in_the_table(cli: Any, tmp_path: Path, keys: Keys) -> None:
    """The kid column does not wrap: a 2,000-character kid from the card made a table 2,000 columns
    wide. Control characters are escaped, rich markup is text."""
    from a2actl.caps.signature import load_pem_key, sign_card

    kid = "[bold red]VALID[/]\x1b[2J" + "k" * 2000
    card = sign_card(plain_card(), load_pem_key(keys.ec.private), kid)
    r = cli("caps", "verify", write_json(tmp_path / "c.json", card), "--key", keys.ec.public)
    assert r.exit_code == 0
    [row] = [line for line in r.stdout.splitlines() if "ES256" in line]
    assert "[bold red]VALID[/]\\x1b[2J" in row and "\x1b" not in r.stdout and "k" * 100 not in row
    assert len(row) < 300
