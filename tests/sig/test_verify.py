"""``a2actl caps verify`` / ``caps sign`` through the real CLI (issue #17): keys made in the tests (RSA
and EC, several kids), cards from files and from loopback servers (HTTP, and HTTPS for ``jku``),
exit codes and the parsed ``-o json`` documents; a2a-sdk's own signer and verifier for the
round trips."""

from __future__ import annotations

import copy
import hashlib
import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from tests.sig.conftest import CardServer, Keys, plain_card, write_json


def sign(cli: Any, card: str, key: str, kid: str, tmp_path: Path, *extra: str) -> dict[str, Any]:
    """``caps sign CARD --key KEY --kid KID`` into a new file; returns the signed card."""
    out = tmp_path / f"signed-{kid}-{len(list(tmp_path.iterdir()))}.json"
    r = cli("caps", "sign", card, "--key", key, "--kid", kid, "--out", str(out), *extra)
    assert r.exit_code == 0, r.stderr
    signed: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return signed


def signed_file(cli: Any, tmp_path: Path, keys: Keys, *pairs: tuple[str, str], card: Any = None) -> str:
    """A card file signed with each ``(private PEM, kid)`` in turn."""
    path = write_json(tmp_path / "card.json", card if card is not None else plain_card())
    for key, kid in pairs:
        path = write_json(tmp_path / "card.json", sign(cli, path, key, kid, tmp_path))
    return path


def verify(cli: Any, *args: str) -> tuple[int, dict[str, Any]]:
    r = cli("caps", "verify", *args, "-o", "json")
    assert "Traceback" not in r.stderr
    return r.exit_code, json.loads(r.stdout)


def statuses(doc: dict[str, Any]) -> dict[str | None, str]:
    return {s["kid"]: s["status"] for s in doc["signatures"]}


def sdk_canonical(card: dict[str, Any]) -> bytes:
    """What a2a-sdk 1.3's verifier checks for this card: its own code path (``a2a.utils.signing``,
    which needs PyJWT: a2a-sdk[signing] is in the test extra, so a missing one fails here instead of
    falling back to a copy of its steps that could drift from it)."""
    from a2a.client.card_resolver import parse_agent_card
    from a2a.utils.signing import _canonicalize_agent_card

    return _canonicalize_agent_card(parse_agent_card(copy.deepcopy(card))).encode("utf-8")


# --- valid, tampered, defaults --------------------------------------------------------------------


def test_rsa_and_ec_signatures_verify_with_a_jwks_file(cli: Any, tmp_path: Path, keys: Keys) -> None:
    path = signed_file(cli, tmp_path, keys, (keys.rsa.private, "rsa-1"), (keys.ec.private, "ec-1"))
    code, doc = verify(cli, path, "--jwks", keys.jwks)
    assert code == 0 and doc["verified"] is True and doc["state"] == "valid"
    assert statuses(doc) == {"rsa-1": "valid", "ec-1": "valid"}
    assert [s["alg"] for s in doc["signatures"]] == ["RS256", "ES256"]
    assert {s["keySource"] for s in doc["signatures"]} == {f"--jwks {keys.jwks}"}
    card = json.loads(Path(path).read_text(encoding="utf-8"))
    # what was signed: the sha256 of the canonical bytes, as a2a-sdk computes them independently
    assert doc["sha256"] == hashlib.sha256(sdk_canonical(card)).hexdigest()
    assert all(s["sha256"] == doc["sha256"] for s in doc["signatures"])
    assert doc["counts"] == {"valid": 2, "invalid": 0, "unknownKey": 0, "malformed": 0}


def test_one_byte_changed_is_invalid_exit_7(cli: Any, tmp_path: Path, keys: Keys) -> None:
    path = signed_file(cli, tmp_path, keys, (keys.ec.private, "ec-1"))
    text = Path(path).read_text(encoding="utf-8")
    assert '"version": "1.2.3"' in text
    tampered = write_json(tmp_path / "t.json", json.loads(text.replace('"1.2.3"', '"1.2.4"')))
    code, doc = verify(cli, tampered, "--jwks", keys.jwks)
    assert code == 7 and doc["verified"] is False
    assert statuses(doc) == {"ec-1": "invalid"}
    assert doc["signatures"][0]["reason"] == "the signature does not match the card"
    assert doc["state"] == "invalid"


def test_default_values_added_back_still_verify(cli: Any, tmp_path: Path, keys: Keys) -> None:
    path = signed_file(cli, tmp_path, keys, (keys.ec.private, "ec-1"))
    card = json.loads(Path(path).read_text(encoding="utf-8"))
    card["supportedInterfaces"][0]["tenant"] = ""
    card["capabilities"]["extensions"] = []
    card["skills"][0].update({"examples": [], "inputModes": [], "securityRequirements": []})
    card["securitySchemes"]["bearer"]["httpAuthSecurityScheme"]["bearerFormat"] = ""
    card["provider"]["organization"] = card["provider"]["organization"]  # unchanged
    card["unknownVendorField"] = {"x": 1}  # not in the 1.0 proto: dropped, listed as uncovered
    code, doc = verify(cli, write_json(tmp_path / "d.json", card), "--jwks", keys.jwks)
    assert code == 0 and statuses(doc) == {"ec-1": "valid"}
    assert doc["uncovered"] == ["/unknownVendorField"]


def test_an_optional_field_set_to_its_default_is_signed(cli: Any, tmp_path: Path, keys: Keys) -> None:
    # spec v1.0 §8.4.1: an `optional` field explicitly set (even to false) is part of the signed form
    path = signed_file(cli, tmp_path, keys, (keys.ec.private, "ec-1"))
    card = json.loads(Path(path).read_text(encoding="utf-8"))
    card["capabilities"]["extendedAgentCard"] = False
    code, doc = verify(cli, write_json(tmp_path / "o.json", card), "--jwks", keys.jwks)
    assert code == 7 and statuses(doc) == {"ec-1": "invalid"}


# --- keys: unknown kid, rotation, --key, JWKS URL --------------------------------------------------


def test_unknown_kid_is_exit_7_naming_the_kid(cli: Any, tmp_path: Path, keys: Keys) -> None:
    path = signed_file(cli, tmp_path, keys, (keys.ec2.private, "ec-2"))
    code, doc = verify(cli, path, "--jwks", keys.jwks)
    assert code == 7 and statuses(doc) == {"ec-2": "unknown-key"}
    assert "ec-2" in doc["signatures"][0]["reason"] and doc["signatures"][0]["keySource"] is None
    table = cli("caps", "verify", path, "--jwks", keys.jwks)
    assert table.exit_code == 7
    assert "no key for kid 'ec-2'" in table.stdout


def test_key_rotation_two_kids_one_from_jwks_one_from_key(cli: Any, tmp_path: Path, keys: Keys) -> None:
    path = signed_file(cli, tmp_path, keys, (keys.ec.private, "ec-1"), (keys.ec2.private, "ec-2"))
    code, doc = verify(cli, path, "--jwks", keys.jwks)
    assert code == 7 and statuses(doc) == {"ec-1": "valid", "ec-2": "unknown-key"}
    code, doc = verify(cli, path, "--jwks", keys.jwks, "--key", keys.ec2.public)
    assert code == 0 and statuses(doc) == {"ec-1": "valid", "ec-2": "valid"}
    assert [s["keySource"] for s in doc["signatures"]] == [f"--jwks {keys.jwks}", f"--key {keys.ec2.public}"]


def test_a_wrong_key_is_invalid_not_unknown(cli: Any, tmp_path: Path, keys: Keys) -> None:
    path = signed_file(cli, tmp_path, keys, (keys.ec.private, "ec-1"))
    code, doc = verify(cli, path, "--key", keys.ec2.public)
    assert code == 7 and statuses(doc) == {"ec-1": "invalid"}
    code, doc = verify(cli, path, "--key", keys.rsa.public)  # an RSA key for an ES256 signature
    assert code == 7 and statuses(doc) == {"ec-1": "invalid"}
    code, doc = verify(cli, path, "--key", keys.ec.private)  # a private PEM verifies too
    assert code == 0


def test_jwks_and_card_from_urls(cli: Any, tmp_path: Path, keys: Keys, card_http: CardServer) -> None:
    path = signed_file(cli, tmp_path, keys, (keys.rsa.private, "rsa-1"))
    card_http.docs["/.well-known/agent-card.json"] = json.loads(Path(path).read_text(encoding="utf-8"))
    card_http.docs["/keys/jwks.json"] = json.loads(Path(keys.jwks).read_text(encoding="utf-8"))
    code, doc = verify(cli, card_http.url, "--jwks", card_http.url + "/keys/jwks.json", "--require-signature")
    assert code == 0 and statuses(doc) == {"rsa-1": "valid"}
    assert doc["kind"] == "url" and doc["source"] == card_http.url + "/.well-known/agent-card.json"
    assert doc["signatures"][0]["keySource"] == f"--jwks {card_http.url}/keys/jwks.json"
    assert card_http.hits["/keys/jwks.json"] == 1


def test_jwks_url_errors(cli: Any, tmp_path: Path, keys: Keys, card_http: CardServer) -> None:
    path = signed_file(cli, tmp_path, keys, (keys.rsa.private, "rsa-1"))
    r = cli("caps", "verify", path, "--jwks", card_http.url + "/missing.json")
    assert r.exit_code == 1 and "HTTP 404" in r.stderr and "Traceback" not in r.stderr
    card_http.docs["/bad.json"] = {"not": "a jwks"}
    r = cli("caps", "verify", path, "--jwks", card_http.url + "/bad.json")
    assert r.exit_code == 6 and "not a JWK Set" in r.stderr


def test_jwks_url_answering_401_or_403_is_auth(cli: Any, tmp_path: Path, keys: Keys, fault: str) -> None:
    # docs/exit-codes.md: 401/403 are exit 4 everywhere; the caps verify paragraph used to say 1,
    # and the hint told to set a token that a2actl never sends to a key server
    path = signed_file(cli, tmp_path, keys, (keys.rsa.private, "rsa-1"))
    code, doc = verify(cli, path, "--jwks", fault + "/http401/agent-card.json")
    assert code == 4
    assert doc["error"]["code"] == "auth" and "HTTP 401" in doc["error"]["message"]
    assert "never sent" in doc["error"]["hint"] and "--jwks FILE" in doc["error"]["hint"]


# --- jku -----------------------------------------------------------------------------------------


def _serve_signed_with_jku(cli: Any, tmp_path: Path, keys: Keys, srv: CardServer, jku: str) -> None:
    card = plain_card(srv.url + "/a2a/jsonrpc")
    path = write_json(tmp_path / "jku-card.json", card)
    srv.docs["/.well-known/agent-card.json"] = sign(
        cli, path, keys.ec.private, "ec-1", tmp_path, "--jku", jku
    )
    srv.docs["/jwks.json"] = {"keys": [keys.ec.jwk]}


def test_jku_on_the_cards_own_host_is_used(
    cli: Any, tmp_path: Path, keys: Keys, card_https: CardServer
) -> None:
    assert card_https.ca is not None
    _serve_signed_with_jku(cli, tmp_path, keys, card_https, card_https.url + "/jwks.json")
    code, doc = verify(cli, "--cacert", card_https.ca, card_https.url)
    assert code == 0 and statuses(doc) == {"ec-1": "valid"}
    sig = doc["signatures"][0]
    assert sig["jkuUse"] == "same-host" and sig["keySource"] == f"jku {card_https.url}/jwks.json"
    assert card_https.hits["/jwks.json"] == 1


def test_jku_on_another_host_is_refused_unless_allowed(
    cli: Any, tmp_path: Path, keys: Keys, card_https: CardServer
) -> None:
    assert card_https.ca is not None
    other = f"https://localhost:{card_https.port}/jwks.json"  # same server, another host name
    _serve_signed_with_jku(cli, tmp_path, keys, card_https, other)
    code, doc = verify(cli, "--cacert", card_https.ca, card_https.url)
    assert code == 7 and statuses(doc) == {"ec-1": "unknown-key"}
    sig = doc["signatures"][0]
    assert sig["jkuUse"].startswith("refused: jku host localhost:") and "--allow-jku" in sig["reason"]
    assert card_https.hits.get("/jwks.json", 0) == 0  # never fetched
    code, doc = verify(cli, "--cacert", card_https.ca, card_https.url, "--allow-jku")
    assert code == 0 and doc["signatures"][0]["jkuUse"] == "allowed"
    assert doc["signatures"][0]["keySource"] == f"jku {other}"
    assert card_https.hits["/jwks.json"] == 1


def test_jku_over_plain_http_is_refused_even_when_allowed(
    cli: Any, tmp_path: Path, keys: Keys, card_http: CardServer
) -> None:
    from a2actl.caps.signature import load_pem_key, sign_card

    card = sign_card(plain_card(), load_pem_key(keys.ec.private), "ec-1", jku=card_http.url + "/jwks.json")
    card_http.docs["/.well-known/agent-card.json"] = card
    card_http.docs["/jwks.json"] = {"keys": [keys.ec.jwk]}
    code, doc = verify(cli, card_http.url, "--allow-jku")
    assert code == 7 and doc["signatures"][0]["jkuUse"] == "refused: jku is not an https URL"
    assert card_http.hits.get("/jwks.json", 0) == 0


def test_jku_from_a_card_file_needs_allow_jku(
    cli: Any, tmp_path: Path, keys: Keys, card_https: CardServer
) -> None:
    assert card_https.ca is not None
    path = write_json(tmp_path / "c.json", plain_card())
    card = sign(cli, path, keys.ec.private, "ec-1", tmp_path, "--jku", card_https.url + "/jwks.json")
    card_https.docs["/jwks.json"] = {"keys": [keys.ec.jwk]}
    signed = write_json(tmp_path / "s.json", card)
    code, doc = verify(cli, signed)
    assert code == 7 and "a card file" in doc["signatures"][0]["jkuUse"]
    code, doc = verify(cli, "--cacert", card_https.ca, signed, "--allow-jku")
    assert code == 0 and statuses(doc) == {"ec-1": "valid"}


def test_jwks_key_wins_over_jku(cli: Any, tmp_path: Path, keys: Keys, card_https: CardServer) -> None:
    assert card_https.ca is not None
    _serve_signed_with_jku(cli, tmp_path, keys, card_https, card_https.url + "/jwks.json")
    code, doc = verify(cli, "--cacert", card_https.ca, card_https.url, "--jwks", keys.jwks)
    assert code == 0 and doc["signatures"][0]["jkuUse"] == "not needed"
    assert card_https.hits.get("/jwks.json", 0) == 0


# --- malformed, unsigned, bad input -------------------------------------------------------------


@pytest.mark.parametrize(
    "signatures",
    [
        [{"protected": "not base64 at all!", "signature": "abc"}],
        [{"protected": "eyJraWQiOiJrMSJ9", "signature": "abc"}],  # {"kid":"k1"}: no alg
        [{"protected": 7, "signature": "abc"}],
        ["eyJhbGciOiJFUzI1NiJ9..abc"],  # a compact string, not the §4.4.7 object
        "not a list",
    ],
)
def test_not_a_jws_is_exit_6(cli: Any, tmp_path: Path, keys: Keys, signatures: Any) -> None:
    path = write_json(tmp_path / "m.json", {**plain_card(), "signatures": signatures})
    code, doc = verify(cli, path, "--jwks", keys.jwks)
    assert code == 6 and doc["counts"]["malformed"] == 1
    assert doc["signatures"][0]["status"] == "malformed" and doc["signatures"][0]["reason"]


def test_alg_none_is_refused(cli: Any, tmp_path: Path, keys: Keys) -> None:
    import base64

    header = base64.urlsafe_b64encode(b'{"alg":"none","kid":"ec-1"}').rstrip(b"=").decode()
    path = write_json(
        tmp_path / "n.json", {**plain_card(), "signatures": [{"protected": header, "signature": "AA"}]}
    )
    code, doc = verify(cli, path, "--jwks", keys.jwks)
    assert code == 7 and statuses(doc) == {"ec-1": "invalid"} and "'none'" in doc["signatures"][0]["reason"]


@pytest.mark.parametrize(
    ("alg", "signature"),
    [("none", ""), ("none", "AA"), ("HS256", "AA"), ("ES256", "AA")],
    ids=["unsecured-jws", "none", "hmac", "crit"],
)
def test_a_signature_no_key_can_make_valid_is_invalid_without_keys(
    cli: Any, tmp_path: Path, alg: str, signature: str
) -> None:
    """An alg none (RFC 7518 §3.6: its signature is empty) or HMAC signature, or one with ``crit``,
    is invalid whatever the keys. Without keys it was ``unknown-key`` ("no key for kid"; the empty
    one ``malformed``, exit 6), which ``caps validate`` reports as a warning: a card carrying a forged
    ``alg: none`` signature validated (exit 0, ``unverified-no-key``)."""
    import base64

    header: dict[str, Any] = {"alg": alg, "kid": "k-1"}
    if alg == "ES256":
        header["crit"] = ["exp"]
    protected = base64.urlsafe_b64encode(json.dumps(header).encode()).rstrip(b"=").decode()
    card = {**plain_card(), "signatures": [{"protected": protected, "signature": signature}]}
    path = write_json(tmp_path / "forged.json", card)
    code, doc = verify(cli, path)
    assert code == 7 and statuses(doc) == {"k-1": "invalid"}, doc
    r = cli("caps", "validate", path, "-o", "json")
    assert r.exit_code == 7, r.stdout
    assert r.json["signature"]["state"] == "invalid"
    [finding] = [f for f in r.json["findings"] if f["check"] == "signature"]
    assert (finding["severity"], finding["pointer"]) == ("error", "/signatures/0")


def test_unsigned_card_passes_unless_a_signature_is_required(cli: Any, tmp_path: Path) -> None:
    path = write_json(tmp_path / "u.json", plain_card())
    code, doc = verify(cli, path)
    assert code == 0 and doc["signatures"] == [] and doc["state"] == "absent" and doc["sha256"] is None
    code, doc = verify(cli, path, "--require-signature")
    assert code == 7 and doc["verified"] is False


def _one_line_error(r: Any, *names: str) -> None:
    assert r.exit_code == 2, (r.exit_code, r.stdout, r.stderr)
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("a2actl: "), r.stderr
    for name in names:
        assert name in lines[0]
    assert "Traceback" not in r.stderr and "PRIVATE KEY" not in r.stderr + r.stdout


def test_bad_key_and_jwks_files_exit_2_naming_the_file(cli: Any, tmp_path: Path, keys: Keys) -> None:
    path = signed_file(cli, tmp_path, keys, (keys.ec.private, "ec-1"))
    missing = str(tmp_path / "missing.pem")
    _one_line_error(cli("caps", "verify", path, "--key", missing), missing)
    bad_pem = tmp_path / "bad.pem"
    bad_pem.write_text("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", encoding="utf-8")
    _one_line_error(cli("caps", "verify", path, "--key", str(bad_pem)), str(bad_pem))
    not_json = tmp_path / "jwks.txt"
    not_json.write_text("{nope", encoding="utf-8")
    _one_line_error(cli("caps", "verify", path, "--jwks", str(not_json)), str(not_json), "not JSON")
    bad_jwks = write_json(tmp_path / "bad-jwks.json", {"keys": [{"kty": "EC", "crv": "P-256", "x": "AA"}]})
    _one_line_error(cli("caps", "verify", path, "--jwks", bad_jwks), bad_jwks)
    _one_line_error(cli("caps", "verify", path, "--jwks", str(tmp_path / "nope.json")), "nope.json")
    # the key file's content never shows up, not even a private key named as a JWKS
    _one_line_error(cli("caps", "verify", path, "--jwks", keys.ec.private), keys.ec.private)
    secret = Path(keys.ec.private).read_text(encoding="utf-8").splitlines()[1]
    r = cli("caps", "verify", path, "--jwks", keys.ec.private)
    assert secret not in r.stderr + r.stdout


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_endless_key_and_jwks_files_are_bounded(cli: Any, tmp_path: Path, keys: Keys) -> None:
    """A --key or --jwks that never ends (a device or FIFO reports size 0) was read whole: memory grew
    until the process died (or an unexpected MemoryError, exit 1, under a ulimit)."""
    path = signed_file(cli, tmp_path, keys, (keys.ec.private, "ec-1"))
    _one_line_error(
        cli("caps", "verify", path, "--key", "/dev/zero"), "--key /dev/zero", "over 1,048,576 bytes"
    )
    _one_line_error(cli("caps", "sign", path, "--key", "/dev/zero", "--kid", "k"), "--key /dev/zero")
    for sub in ("verify", "validate"):
        _one_line_error(cli("caps", sub, path, "--jwks", "/dev/zero"), "--jwks /dev/zero", "not a JWK Set")


def test_encrypted_pem_is_a_usage_error(cli: Any, tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    enc = tmp_path / "enc.pem"
    enc.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"pw"),
        )
    )
    card = write_json(tmp_path / "c.json", plain_card())
    _one_line_error(cli("caps", "sign", card, "--key", str(enc), "--kid", "k"), str(enc), "encrypted")


def test_sign_with_a_public_key_or_bad_options_is_exit_2(cli: Any, tmp_path: Path, keys: Keys) -> None:
    card = write_json(tmp_path / "c.json", plain_card())
    _one_line_error(
        cli("caps", "sign", card, "--key", keys.ec.public, "--kid", "k"), keys.ec.public, "public key"
    )
    _one_line_error(
        cli("caps", "sign", card, "--key", keys.ec.private, "--kid", "k", "--alg", "HS256"), "HS256"
    )
    _one_line_error(
        cli("caps", "sign", card, "--key", keys.ec.private, "--kid", "k", "--alg", "RS256"), "RS256"
    )
    _one_line_error(
        cli("caps", "sign", card, "--key", keys.ec.private, "--kid", "k", "--jku", "http://x/j"), "https"
    )
    out = str(tmp_path / "no-such-dir" / "out.json")
    _one_line_error(cli("caps", "sign", card, "--key", keys.ec.private, "--kid", "k", "--out", out), out)
    # a caps snapshot is not a card (it was exit 6 "'str' object has no attribute 'pop'")
    snap = cli("caps", "snapshot", card).stdout
    (tmp_path / "snap.json").write_text(snap, encoding="utf-8")
    _one_line_error(
        cli("caps", "sign", str(tmp_path / "snap.json"), "--key", keys.ec.private, "--kid", "k"),
        "caps snapshot, not an agent card",
    )


def test_sign_never_writes_over_its_key_or_the_signed_card(cli: Any, tmp_path: Path, keys: Keys) -> None:
    """--out or --jwks-out naming the --key file replaced the private key with the card or the
    public JWK Set, and --out and --jwks-out naming one file replaced the signed card with the JWK
    Set; both exit 0 ("signed → FILE"). Exit 2, before anything is written; signing in place
    (--out naming the card) still works."""
    card = write_json(tmp_path / "c.json", plain_card())
    key = tmp_path / "signer.pem"
    key.write_bytes(Path(keys.ec.private).read_bytes())
    (tmp_path / "link.pem").symlink_to(key)
    for extra, names in (
        (["--jwks-out", str(key)], ["--jwks-out", "--key file"]),
        (["--out", str(key)], ["--out", "--key file"]),
        (["--out", str(tmp_path / "link.pem")], ["--out", "--key file"]),  # another name for it
        (["--out", str(tmp_path / "o.json"), "--jwks-out", str(tmp_path / "o.json")], ["name one file"]),
    ):
        _one_line_error(cli("caps", "sign", card, "--key", str(key), "--kid", "k", *extra), *names)
        assert key.read_bytes() == Path(keys.ec.private).read_bytes()
    assert not (tmp_path / "o.json").exists()
    r = cli("caps", "sign", card, "--key", str(key), "--kid", "k", "--out", card)
    assert r.exit_code == 0, r.stderr
    assert len(json.loads(Path(card).read_text(encoding="utf-8"))["signatures"]) == 1


@pytest.mark.parametrize(
    "patch, where",
    [
        ({"skills": {"echo": {"id": "echo"}}}, "/skills is an object, not a list of objects"),
        ({"skills": [None]}, "/skills/0 is null, not an object"),
        ({"skills": [{"id": "a", "security": "bearer"}]}, "/skills/0/security is a string, not a list"),
        ({"security": ["bearer"]}, "/security/0 is a string, not an object"),
        ({"securitySchemes": {"bearer": "Bearer"}}, "/securitySchemes/bearer is a string, not an object"),
    ],
)
def test_sign_and_verify_name_the_member_a_card_without_canonical_form_breaks(
    cli: Any, tmp_path: Path, keys: Keys, patch: dict[str, Any], where: str
) -> None:
    """A card whose v0.3 members have the wrong JSON type has no canonical form (exit 6, as in
    a2a-sdk). The message was Python's ("'str' object has no attribute 'pop'", "argument of type
    'NoneType' is not iterable"); it names the member and what it should be."""
    card = {k: v for k, v in plain_card().items() if k != "securityRequirements"}
    path = write_json(tmp_path / "c.json", {**card, **patch})
    r = cli("caps", "sign", path, "--key", keys.ec.private, "--kid", "k", "-o", "json")
    assert r.exit_code == 6, r.stdout
    assert r.json["error"]["message"].startswith(f"invalid agent card structure: {where}")
    assert "object has no attribute" not in r.stdout and "NoneType" not in r.stdout
    signed = json.loads(
        cli(
            "caps", "sign", write_json(tmp_path / "ok.json", card), "--key", keys.ec.private, "--kid", "k"
        ).stdout
    )
    r = cli(
        "caps",
        "verify",
        write_json(tmp_path / "s.json", {**signed, **patch}),
        "--jwks",
        keys.jwks,
        "-o",
        "json",
    )
    assert r.exit_code == 6, r.stdout
    assert where in r.json["error"]["message"]


def test_sign_writes_the_card_never_the_key(cli: Any, tmp_path: Path, keys: Keys) -> None:
    card = write_json(tmp_path / "c.json", plain_card())
    r = cli("caps", "sign", card, "--key", keys.rsa.private, "--kid", "rsa-1")
    assert r.exit_code == 0
    signed = json.loads(r.stdout)  # without --out: the signed card on stdout
    assert {k: v for k, v in signed.items() if k != "signatures"} == plain_card()
    assert len(signed["signatures"]) == 1 and set(signed["signatures"][0]) == {"protected", "signature"}
    header = json.loads(_b64(signed["signatures"][0]["protected"]))
    assert header == {"alg": "RS256", "typ": "JOSE", "kid": "rsa-1"}
    private_lines = Path(keys.rsa.private).read_text(encoding="utf-8").splitlines()[1:-1]
    assert not any(line in r.stdout + r.stderr for line in private_lines)
    jwks_out = tmp_path / "pub.json"
    out = tmp_path / "signed.json"
    r = cli(
        "caps", "sign", card, "--key", keys.rsa.private, "--kid", "rsa-1", "--out", str(out),
        "--jwks-out", str(jwks_out), "-o", "json",
    )  # fmt: skip
    assert r.exit_code == 0
    doc = json.loads(r.stdout)
    assert (doc["out"], doc["kid"], doc["alg"], doc["signatures"]) == (str(out), "rsa-1", "RS256", 1)
    pub = json.loads(jwks_out.read_text(encoding="utf-8"))
    assert [k["kid"] for k in pub["keys"]] == ["rsa-1"] and "d" not in pub["keys"][0]
    code, vdoc = verify(cli, str(out), "--jwks", str(jwks_out))
    assert code == 0 and vdoc["sha256"] == doc["sha256"]


def _b64(segment: str) -> bytes:
    import base64

    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def test_vv_shows_the_canonical_json(cli: Any, tmp_path: Path, keys: Keys) -> None:
    path = signed_file(cli, tmp_path, keys, (keys.ec.private, "ec-1"))
    r = cli("caps", "verify", path, "--jwks", keys.jwks, "-vv", "-o", "json")
    doc = json.loads(r.stdout)
    card = json.loads(Path(path).read_text(encoding="utf-8"))
    assert doc["canonical"].encode("utf-8") == sdk_canonical(card)
    code, plain = verify(cli, path, "--jwks", keys.jwks)
    assert "canonical" not in plain
    table = cli("caps", "verify", path, "--jwks", keys.jwks, "-vv")
    assert doc["canonical"] in table.stdout


# --- caps validate and caps diff ----------------------------------------------------------------


def test_validate_reports_the_signature_state(cli: Any, tmp_path: Path, keys: Keys) -> None:
    unsigned = write_json(tmp_path / "u.json", plain_card())
    r = cli("caps", "validate", unsigned, "-o", "json")
    assert r.exit_code == 0 and r.json["signature"]["state"] == "absent"
    assert not [f for f in r.json["findings"] if f["check"] == "signature"]
    path = signed_file(cli, tmp_path, keys, (keys.ec.private, "ec-1"))
    r = cli("caps", "validate", path, "-o", "json")
    assert r.exit_code == 0 and r.json["signature"]["state"] == "unverified-no-key"
    [finding] = [f for f in r.json["findings"] if f["check"] == "signature"]
    assert finding["severity"] == "warning" and finding["pointer"] == "/signatures/0"
    r = cli("caps", "validate", path, "--jwks", keys.jwks, "-o", "json")
    assert r.exit_code == 0 and r.json["signature"]["state"] == "valid"
    card = json.loads(Path(path).read_text(encoding="utf-8"))
    card["name"] = "someone else"
    r = cli("caps", "validate", write_json(tmp_path / "t.json", card), "--jwks", keys.jwks, "-o", "json")
    assert r.exit_code == 7 and r.json["signature"]["state"] == "invalid"
    [finding] = [f for f in r.json["findings"] if f["check"] == "signature"]
    assert finding["severity"] == "error" and "kid ec-1" in finding["message"]
    table = cli("caps", "validate", write_json(tmp_path / "t.json", card), "--jwks", keys.jwks)
    assert table.exit_code == 7 and "signature: invalid (1 signature)" in table.stdout


def test_diff_reports_a_lost_or_rekeyed_signature_as_risky(cli: Any, tmp_path: Path, keys: Keys) -> None:
    unsigned = write_json(tmp_path / "u.json", plain_card())
    signed = write_json(tmp_path / "s1.json", sign(cli, unsigned, keys.ec.private, "ec-1", tmp_path))
    rekeyed = write_json(tmp_path / "s2.json", sign(cli, unsigned, keys.ec2.private, "ec-2", tmp_path))
    r = cli("caps", "diff", signed, unsigned, "-o", "json", "--fail-on", "risky")
    assert r.exit_code == 7
    [change] = r.json["changes"]
    assert (change["path"], change["op"], change["class"]) == ("/signatureKids", "removed", "risky")
    assert "no longer signed" in change["reason"]
    r = cli("caps", "diff", signed, rekeyed, "-o", "json", "--fail-on", "risky")
    assert r.exit_code == 7
    got = {(c["op"], c["before"], c["after"], c["class"]) for c in r.json["changes"]}
    assert got == {("removed", "ec-1", None, "risky"), ("added", None, "ec-2", "cosmetic")}
    r = cli("caps", "diff", unsigned, signed, "-o", "json", "--fail-on", "risky")
    assert r.exit_code == 0 and [c["class"] for c in r.json["changes"]] == ["cosmetic"]
    # a re-signature with the same kid (new signature bytes) is no change at all
    again = write_json(tmp_path / "s3.json", sign(cli, unsigned, keys.ec.private, "ec-1", tmp_path))
    r = cli("caps", "diff", signed, again, "-o", "json", "--fail-on", "any")
    assert r.exit_code == 0 and r.json["changes"] == []


# --- a2a-sdk's own signer and verifier (hybrid cards) -------------------------------------------


def _sdk_card(url: str, *, pkce: bool = False) -> Any:
    from a2a.types import AgentCard
    from google.protobuf.json_format import ParseDict

    card = plain_card(url)
    card["supportedInterfaces"].append({"url": url, "protocolBinding": "JSONRPC", "protocolVersion": "0.3"})
    card["securitySchemes"]["key"] = {"apiKeySecurityScheme": {"location": "header", "name": "X-Key"}}
    if pkce:
        card["securitySchemes"]["oauth"] = {
            "oauth2SecurityScheme": {
                "flows": {
                    "authorizationCode": {
                        "authorizationUrl": "https://auth.example.com/a",
                        "tokenUrl": "https://auth.example.com/t",
                        "scopes": {"read": "read"},
                        "pkceRequired": True,
                    }
                }
            }
        }
    return ParseDict(card, AgentCard())


def test_we_verify_a_hybrid_card_the_sdk_signed_and_served(
    cli: Any, keys: Keys, card_http: CardServer
) -> None:
    from a2a.server.request_handlers.response_helpers import agent_card_to_dict

    pytest.importorskip("jwt", reason="a2a-sdk[signing] (PyJWT) not installed")
    from a2a.utils.signing import create_agent_card_signer

    pem = Path(keys.ec.private).read_bytes()
    signer = create_agent_card_signer(pem, {"kid": "ec-1", "alg": "ES256", "typ": "JOSE", "jku": None})
    served = agent_card_to_dict(signer(_sdk_card(card_http.url + "/a2a/jsonrpc")))
    assert "preferredTransport" in served and "supportedInterfaces" in served  # hybrid (compat on)
    card_http.docs["/.well-known/agent-card.json"] = served
    code, doc = verify(cli, card_http.url, "--jwks", keys.jwks, "--require-signature")
    assert code == 0 and statuses(doc) == {"ec-1": "valid"}
    assert {"/url", "/preferredTransport", "/protocolVersion", "/securitySchemes/key/type"} <= set(
        doc["uncovered"]
    )


def test_the_sdk_verifies_a_hybrid_card_we_signed(cli: Any, tmp_path: Path, keys: Keys) -> None:
    from a2a.client.card_resolver import parse_agent_card
    from a2a.server.request_handlers.response_helpers import agent_card_to_dict

    pytest.importorskip("jwt", reason="a2a-sdk[signing] (PyJWT) not installed")
    from a2a.utils.signing import InvalidSignaturesError, create_signature_verifier

    hybrid = agent_card_to_dict(_sdk_card("https://agent.example.com/a2a"))
    assert "preferredTransport" in hybrid and "security" in hybrid  # hybrid (compat on)
    path = write_json(tmp_path / "h.json", hybrid)
    signed = sign(cli, path, keys.rsa.private, "rsa-1", tmp_path)
    signed = sign(cli, write_json(tmp_path / "h1.json", signed), keys.ec.private, "ec-1", tmp_path)
    pems = {"rsa-1": Path(keys.rsa.public).read_bytes(), "ec-1": Path(keys.ec.public).read_bytes()}
    for kid in pems:

        def provider(_kid: str | None, _jku: str | None, kid: str = kid) -> bytes:
            return pems[kid]

        verifier = create_signature_verifier(provider, ["RS256", "ES256"])
        verifier(parse_agent_card(copy.deepcopy(signed)))  # raises InvalidSignaturesError when none is valid
    # and the SDK rejects it once the card is changed (the test can fail)
    tampered = copy.deepcopy(signed)
    tampered["skills"][0]["description"] = "changed"
    verifier = create_signature_verifier(lambda k, _jku: pems["ec-1"], ["ES256"])
    with pytest.raises(InvalidSignaturesError):
        verifier(parse_agent_card(tampered))


def test_a_hybrid_card_with_1_0_only_scheme_fields_verifies_in_its_1_0_form(
    cli: Any, tmp_path: Path, keys: Keys
) -> None:
    # a2a-sdk re-wraps the v0.3 copy of a security scheme and loses pkceRequired (1.0 only); a2actl
    # keeps the 1.0 wrapper, so the card the SDK signed verifies (docs/caps.md, "Signed cards")
    from a2a.server.request_handlers.response_helpers import agent_card_to_dict

    pytest.importorskip("jwt", reason="a2a-sdk[signing] (PyJWT) not installed")
    from a2a.utils.signing import _canonicalize_agent_card, create_agent_card_signer

    from a2actl.caps.signature import canonical

    pem = Path(keys.ec.private).read_bytes()
    proto = _sdk_card("https://agent.example.com/a2a", pkce=True)
    signed_proto = create_agent_card_signer(pem, {"kid": "ec-1", "alg": "ES256", "typ": "JOSE", "jku": None})(
        proto
    )
    served = agent_card_to_dict(signed_proto)
    assert served["securitySchemes"]["oauth"]["type"] == "oauth2"  # the v0.3 copy beside the wrapper
    assert canonical(served)[0] == _canonicalize_agent_card(signed_proto).encode("utf-8")
    code, doc = verify(cli, write_json(tmp_path / "p.json", served), "--jwks", keys.jwks)
    assert code == 0 and statuses(doc) == {"ec-1": "valid"}


def test_a_signed_card_with_no_canonical_form_is_exit_6(cli: Any, tmp_path: Path, keys: Keys) -> None:
    path = signed_file(cli, tmp_path, keys, (keys.ec.private, "ec-1"))
    card = json.loads(Path(path).read_text(encoding="utf-8"))
    card["capabilities"]["streaming"] = "yes"  # not a bool: no 1.0 form (a2a-sdk cannot read it either)
    r = cli("caps", "verify", write_json(tmp_path / "x.json", card), "--jwks", keys.jwks)
    assert r.exit_code == 6 and "/capabilities/streaming: expected true or false" in r.stderr
    assert "Traceback" not in r.stderr
    r = cli("caps", "validate", write_json(tmp_path / "x.json", card), "-o", "json")
    assert r.json["signature"]["state"] == "invalid"  # validate reports it as a failed check
    assert [f["check"] for f in r.json["findings"] if f["check"] == "signature"] == ["signature"]


def test_a_jku_that_cannot_be_fetched_leaves_the_key_unknown(
    cli: Any, tmp_path: Path, keys: Keys, card_https: CardServer
) -> None:
    assert card_https.ca is not None
    _serve_signed_with_jku(cli, tmp_path, keys, card_https, card_https.url + "/gone.json")
    code, doc = verify(cli, "--cacert", card_https.ca, card_https.url)
    assert code == 7 and statuses(doc) == {"ec-1": "unknown-key"}
    sig = doc["signatures"][0]
    assert sig["jkuUse"].startswith("failed: jku ") and "HTTP 404" in sig["jkuUse"]
    assert "HTTP 404" in sig["reason"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_sign_writes_into_a_fifo_or_device_not_over_it(cli: Any, tmp_path: Path, keys: Keys) -> None:
    """--out / --jwks-out naming a FIFO (or /dev/stdout, /dev/null) was renamed over: the pipe became
    a regular file its reader never saw (as root, --out /dev/null replaced the device node)."""
    card = write_json(tmp_path / "c.json", plain_card())
    fifos = {name: tmp_path / name for name in ("card.pipe", "keys.pipe")}
    readers = {}
    for name, fifo in fifos.items():
        os.mkfifo(fifo)
        readers[name] = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # a reader: opening to write never blocks
    try:
        r = cli(
            "caps", "sign", card, "--key", keys.ec.private, "--kid", "k",
            "--out", str(fifos["card.pipe"]), "--jwks-out", str(fifos["keys.pipe"]),
        )  # fmt: skip
        assert r.exit_code == 0, r.stderr
        assert all(stat.S_ISFIFO(f.stat().st_mode) for f in fifos.values())
        got = {name: json.loads(os.read(fd, 1 << 16)) for name, fd in readers.items()}
    finally:
        for fd in readers.values():
            os.close(fd)
    assert [s["protected"] for s in got["card.pipe"]["signatures"]] and got["keys.pipe"]["keys"][0][
        "kid"
    ] == "k"


def test_sign_writes_through_a_symbolic_link_not_over_it(cli: Any, tmp_path: Path, keys: Keys) -> None:
    """--out / --jwks-out naming a symbolic link to a file was renamed over: the link became a file
    and the file it names kept its old content (``--out /dev/stdout`` with the output redirected to a
    file is such a link, to /proc/self/fd/1: as root, /dev/stdout itself was replaced)."""
    card = write_json(tmp_path / "c.json", plain_card())
    site = tmp_path / "site"
    site.mkdir()
    (site / "agent-card.json").write_text("{}", encoding="utf-8")
    (site / "keys.json").write_text("{}", encoding="utf-8")
    (tmp_path / "card-link.json").symlink_to(site / "agent-card.json")
    (tmp_path / "keys-link.json").symlink_to(site / "keys.json")
    r = cli(
        "caps", "sign", card, "--key", keys.ec.private, "--kid", "k",
        "--out", str(tmp_path / "card-link.json"), "--jwks-out", str(tmp_path / "keys-link.json"),
    )  # fmt: skip
    assert r.exit_code == 0, r.stderr
    assert (tmp_path / "card-link.json").is_symlink() and (tmp_path / "keys-link.json").is_symlink()
    signed = json.loads((site / "agent-card.json").read_text(encoding="utf-8"))
    assert len(signed["signatures"]) == 1
    assert json.loads((site / "keys.json").read_text(encoding="utf-8"))["keys"][0]["kid"] == "k"


def test_sign_output_files_are_readable_like_any_new_file(cli: Any, tmp_path: Path, keys: Keys) -> None:
    import os

    card = write_json(tmp_path / "c.json", plain_card())
    out, pub = tmp_path / "o.json", tmp_path / "k.json"
    r = cli(
        "caps",
        "sign",
        card,
        "--key",
        keys.ec.private,
        "--kid",
        "k",
        "--out",
        str(out),
        "--jwks-out",
        str(pub),
    )
    assert r.exit_code == 0
    umask = os.umask(0)
    os.umask(umask)
    assert (out.stat().st_mode & 0o777) == (pub.stat().st_mode & 0o777) == 0o666 & ~umask
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".a2actl-")]  # no temp file left


def test_the_sdks_card_resolver_verifies_a_card_we_signed_and_serve(
    cli: Any, tmp_path: Path, keys: Keys, card_http: CardServer
) -> None:
    # a2a-sdk's own client path: A2ACardResolver.get_agent_card(signature_verifier=...) over HTTP
    pytest.importorskip("jwt", reason="a2a-sdk[signing] (PyJWT) not installed")
    import asyncio

    import httpx
    from a2a.client.card_resolver import A2ACardResolver
    from a2a.client.errors import AgentCardResolutionError
    from a2a.server.request_handlers.response_helpers import agent_card_to_dict
    from a2a.utils.signing import InvalidSignaturesError, create_signature_verifier

    hybrid = agent_card_to_dict(_sdk_card(card_http.url + "/a2a/jsonrpc"))
    path = write_json(tmp_path / "h.json", hybrid)
    signed = sign(cli, path, keys.rsa.private, "rsa-1", tmp_path)
    card_http.docs["/.well-known/agent-card.json"] = signed
    pems = {"rsa-1": Path(keys.rsa.public).read_bytes()}

    async def resolve(card_pems: dict[str, bytes]) -> Any:
        verifier = create_signature_verifier(lambda kid, _jku: card_pems[kid or ""], ["RS256", "ES256"])
        async with httpx.AsyncClient() as client:
            return await A2ACardResolver(client, card_http.url).get_agent_card(signature_verifier=verifier)

    card = asyncio.run(resolve(pems))
    assert card.name == "signed agent" and len(card.signatures) == 1
    pems_wrong = {"rsa-1": Path(keys.ec.public).read_bytes()}
    with pytest.raises((InvalidSignaturesError, AgentCardResolutionError)):
        asyncio.run(resolve(pems_wrong))


# --- key, JWKS and output files that are FIFOs (<(cmd), a named pipe) -------------------------------


def _fifo_args(keys: Keys, tmp_path: Path, fifo: str) -> dict[str, list[str]]:
    card = write_json(tmp_path / "plain.json", plain_card())
    return {
        "verify-jwks": ["caps", "verify", card, "--jwks", fifo],
        "verify-key": ["caps", "verify", card, "--key", fifo],
        "validate-jwks": ["caps", "validate", card, "--jwks", fifo],
        "sign-key": ["caps", "sign", card, "--kid", "k", "--key", fifo],
        "sign-out": ["caps", "sign", card, "--kid", "k", "--key", keys.ec.private, "--out", fifo],
        "sign-jwks-out": ["caps", "sign", card, "--kid", "k", "--key", keys.ec.private, "--jwks-out", fifo],
        "lint-config": ["caps", "lint", card, "--config", fifo],
    }


_FIFO_CASES = [
    "verify-jwks",
    "verify-key",
    "validate-jwks",
    "sign-key",
    "sign-out",
    "sign-jwks-out",
    "lint-config",
]


@pytest.mark.parametrize("case", _FIFO_CASES)
def test_max_time_bounds_a_fifo_nobody_writes_or_reads(keys: Keys, tmp_path: Path, case: str) -> None:
    """A --jwks/--key/--config FIFO nobody writes, an --out/--jwks-out FIFO nobody reads: the read or
    write blocked the event loop in open(), so the command outlived --max-time (and one SIGTERM).
    Now --max-time ends it: exit 5 with its one-line error."""
    from tests.fifo import run_a2actl

    fifo = tmp_path / "f.fifo"
    os.mkfifo(fifo)
    ran = run_a2actl("--max-time", "1.5s", "-o", "json", *_fifo_args(keys, tmp_path, str(fifo))[case])
    assert ran.code == 5, (ran.out[-500:], ran.err[-500:])
    assert json.loads(ran.out)["error"]["message"].startswith("gave up after --max-time 1.5s")
    assert ran.elapsed < 10, ran.elapsed


@pytest.mark.parametrize("case", ["verify-jwks", "verify-key", "lint-config", "sign-out"])
def test_one_sigterm_ends_a_wait_for_a_fifo(keys: Keys, tmp_path: Path, case: str) -> None:
    """One SIGTERM (as Ctrl-C) while waiting for the FIFO: exit 130 with "interrupted". It was
    ignored (the loop blocked in open() could not run the cancellation): only SIGKILL ended it."""
    from tests.fifo import run_a2actl

    fifo = tmp_path / "f.fifo"
    os.mkfifo(fifo)
    ran = run_a2actl(*_fifo_args(keys, tmp_path, str(fifo))[case], term_after=1.5, timeout=8)
    assert ran.code == 130, (ran.code, ran.err[-500:])
    assert ran.err.strip().endswith("interrupted")


def test_keys_from_a_fifo_that_delivers_verify(cli: Any, keys: Keys, tmp_path: Path) -> None:
    """--key <(vault read …): a FIFO written once is read once, and the signature checks out."""
    from tests.fifo import run_a2actl

    path = signed_file(cli, tmp_path, keys, (keys.ec.private, "ec-1"))
    fifo = tmp_path / "key.fifo"
    os.mkfifo(fifo)
    pem = Path(keys.ec.public).read_bytes()
    ran = run_a2actl("-o", "json", "caps", "verify", path, "--key", str(fifo), feed=(str(fifo), pem))
    assert ran.code == 0, ran.err[-500:]
    assert statuses(json.loads(ran.out)) == {"ec-1": "valid"}


def test_sign_prints_the_card_as_signed_though_its_urls_carry_credentials(
    cli: Any, tmp_path: Path, keys: Keys, forget_secrets: Any
) -> None:
    """``caps sign`` without ``--out`` prints the signed card itself: the one card-loading command that
    does not register the card's URL secrets, since a URL masked in that card no longer matches its
    signature."""
    url = "https://agent:sign-iface-pw@agent.example.com/a2a/jsonrpc?token=sign-iface-token"
    path = write_json(tmp_path / "card.json", plain_card(url))
    r = cli("caps", "sign", path, "--key", keys.ec.private, "--kid", "ec-1")
    assert r.exit_code == 0, r.stderr
    assert r.json["supportedInterfaces"][0]["url"] == url
    signed = write_json(tmp_path / "signed.json", r.json)
    forget_secrets()
    code, doc = verify(cli, signed, "--jwks", keys.jwks)
    assert code == 0 and doc["signatures"][0]["status"] == "valid", doc
