"""``a2actl.caps.signature``: the field table against a2a-sdk's descriptors, the canonical form against
a2a-sdk's own canonicaliser (hypothesis), signatures parsed, keys, the jku policy, sign/verify."""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from a2actl.caps import signature as S
from a2actl.core.errors import UsageError

# --- the 1.0 field table is a2a-sdk's AgentCard ---------------------------------------------------


def _kind(f: Any) -> str:
    from google.protobuf.descriptor import FieldDescriptor as F

    mt = f.message_type
    if mt is not None and mt.GetOptions().map_entry:
        value = mt.fields_by_name["value"]
        return "{" + ("str" if value.type == F.TYPE_STRING else value.message_type.name) + "}"
    if mt is not None:
        name = "struct" if mt.full_name == "google.protobuf.Struct" else mt.name
        return f"[{name}]" if f.is_repeated else name
    base = {F.TYPE_STRING: "str", F.TYPE_BOOL: "bool"}[f.type]
    if f.is_repeated:
        return f"[{base}]"
    return base + ("?" if f.has_presence else "")


def test_the_field_table_matches_the_installed_a2a_sdk() -> None:
    from a2a.types import a2a_pb2

    seen: dict[str, dict[str, str]] = {}

    def walk(desc: Any) -> None:
        if desc.name in seen:
            return
        seen[desc.name] = {f.json_name: _kind(f) for f in desc.fields}
        for f in desc.fields:
            mt = f.message_type
            if mt is not None and mt.GetOptions().map_entry:
                mt = mt.fields_by_name["value"].message_type
            if mt is not None and not mt.full_name.startswith("google."):
                walk(mt)
            assert S._snake(f.json_name) == f.name  # the proto spelling ParseDict also accepts

    walk(a2a_pb2.AgentCard.DESCRIPTOR)
    assert seen == S._TREE
    oneofs = {
        name
        for name in seen
        if any(not o.name.startswith("_") for o in getattr(a2a_pb2, name).DESCRIPTOR.oneofs)
    }
    assert oneofs == S._ONEOF


# --- the canonical form is a2a-sdk's --------------------------------------------------------------


def sdk_canonical(card: Any) -> bytes | None:
    """a2a-sdk 1.3's verifier input for ``card`` (None where it cannot read the card)."""
    from a2a.client.card_resolver import parse_agent_card
    from a2a.utils._jcs import CanonicalizationError

    # a2a.utils.signing needs PyJWT: a2a-sdk[signing] is in the test extra, so a missing one fails
    # here instead of skipping every test that pins the canonical form to a2a-sdk's
    from a2a.utils.signing import _canonicalize_agent_card
    from google.protobuf.json_format import ParseError

    try:
        return _canonicalize_agent_card(parse_agent_card(copy.deepcopy(card))).encode("utf-8")
    except (ParseError, CanonicalizationError):
        return None


texts = st.sampled_from(["", "x", "Ünï ✓", "a/b~c", "\u0000ctl", "🙂"])
maybe = st.one_of(st.none(), texts)
modes = st.lists(texts, max_size=3)
scalar = st.one_of(st.none(), st.booleans(), st.integers(-(2**40), 2**40), st.floats(-1e6, 1e6), texts)
params = st.recursive(
    scalar,
    lambda kids: st.one_of(st.lists(kids, max_size=3), st.dictionaries(texts, kids, max_size=3)),
    max_leaves=8,
)


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not ...}


@st.composite
def cards(draw: Any) -> dict[str, Any]:
    """1.0, 0.3 and hybrid-looking cards with defaults, nulls, unknown fields and proto spellings."""
    card: dict[str, Any] = {}
    for key in ("name", "description", "version"):
        if draw(st.booleans()):
            card[key] = draw(texts)
    if draw(st.booleans()):
        card["supportedInterfaces"] = [
            {"url": draw(texts), "protocolBinding": draw(st.sampled_from(["JSONRPC", "HTTP+JSON", ""])),
             "protocolVersion": draw(st.sampled_from(["1.0", "0.3", ""])), "tenant": draw(texts)}
            for _ in range(draw(st.integers(0, 2)))
        ]  # fmt: skip
    if draw(st.booleans()):  # v0.3 connection fields (mapped when supportedInterfaces is missing)
        card["url"] = draw(texts)
        card["preferredTransport"] = draw(st.sampled_from(["JSONRPC", "HTTP+JSON"]))
        card["protocolVersion"] = draw(st.sampled_from(["0.3.0", "0.3"]))
        card["additionalInterfaces"] = [{"url": draw(texts), "transport": "HTTP+JSON"}]
    caps: dict[str, Any] = {}
    for key in ("streaming", "pushNotifications", "extendedAgentCard"):
        if draw(st.booleans()):
            caps[key] = draw(st.one_of(st.booleans(), st.none()))
    if draw(st.booleans()):
        caps["extensions"] = [
            {"uri": draw(texts), "description": draw(texts), "required": draw(st.booleans()), "params": draw(st.dictionaries(texts, params, max_size=3))}
        ]  # fmt: skip
    if draw(st.booleans()):
        caps["stateTransitionHistory"] = draw(st.booleans())  # removed in 1.0: unknown
    if caps or draw(st.booleans()):
        card["capabilities"] = caps
    if draw(st.booleans()):
        card["supportsAuthenticatedExtendedCard"] = draw(st.booleans())
    if draw(st.booleans()):
        card["documentationUrl" if draw(st.booleans()) else "documentation_url"] = draw(texts)
    if draw(st.booleans()):
        card["iconUrl"] = draw(maybe)
    if draw(st.booleans()):
        card["provider"] = {"organization": draw(texts), "url": draw(texts)}
    card["defaultInputModes"] = draw(modes)
    if draw(st.booleans()):
        card["default_output_modes"] = draw(modes)
    schemes: dict[str, Any] = {}
    if draw(st.booleans()):
        schemes["bearer"] = {"httpAuthSecurityScheme": {"scheme": draw(texts), "bearerFormat": draw(texts)}}
    if draw(st.booleans()):
        schemes["key"] = {"type": "apiKey", "in": draw(texts), "name": draw(texts)}  # v0.3 only
    if draw(st.booleans()):
        schemes["oauth"] = {
            "oauth2SecurityScheme": {
                "flows": {"clientCredentials": {"tokenUrl": draw(texts), "scopes": draw(st.dictionaries(texts, texts, max_size=2))}},
                "oauth2MetadataUrl": draw(texts),
            }
        }  # fmt: skip
    if draw(st.booleans()):
        schemes["mtls"] = {"mtlsSecurityScheme": {"description": draw(texts)}}
    if schemes:
        card["securitySchemes"] = schemes
    reqs = st.lists(st.dictionaries(texts, st.lists(texts, max_size=2), max_size=2), max_size=2)
    if draw(st.booleans()):
        card["securityRequirements"] = [
            {"schemes": {k: {"list": v} for k, v in r.items()}} for r in draw(reqs)
        ]
    if draw(st.booleans()):
        card["security"] = draw(reqs)
    card["skills"] = [
        {
            "id": draw(texts), "name": draw(texts), "description": draw(texts), "tags": draw(modes),
            "examples": draw(modes), "inputModes": draw(modes), "security": draw(reqs),
            "vendorField": draw(params),
        }
        for _ in range(draw(st.integers(0, 2)))
    ]  # fmt: skip
    if draw(st.booleans()):
        card["signatures"] = [{"protected": "eyJhbGciOiJFUzI1NiJ9", "signature": "abc"}]
    if draw(st.booleans()):
        card["someVendorExtension"] = draw(params)
    return card


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cards())
def test_canonical_form_is_a2a_sdks(card: dict[str, Any]) -> None:
    expected = sdk_canonical(card)
    before = copy.deepcopy(card)
    if expected is None:
        with pytest.raises(S.CanonicalizationError):
            S.canonical(card)
        return
    got, _ = S.canonical(card)
    assert got == expected
    assert card == before  # not modified (canonical works on a copy)


def test_uncovered_fields_are_listed() -> None:
    # a v0.3 card: its fields are mapped to 1.0 fields, so they are covered; unknown ones are not
    v03 = {
        "name": "n",
        "url": "http://h/a",
        "protocolVersion": "0.3.0",
        "supportsAuthenticatedExtendedCard": True,
        "security": [{"k": []}],
        "skills": [{"id": "s", "security": [{"k": ["r"]}], "x": 1}],
        "securitySchemes": {"k": {"type": "apiKey", "in": "header", "name": "K"}},
        "signatures": [],
    }
    form, dropped = S.v1_form(v03)
    # the scopeless requirement [{"k": []}] is mapped, then removed whole by the empty-value
    # cleaning: not covered, named by its 1.0 pointer
    assert dropped == ["/skills/0/x", "/securityRequirements/0/schemes/k"]
    assert form is not None and form["supportedInterfaces"][0]["url"] == "http://h/a"
    assert form["securitySchemes"] == {"k": {"apiKeySecurityScheme": {"location": "header", "name": "K"}}}
    assert form["capabilities"] == {"extendedAgentCard": True}
    # a hybrid card: the v0.3 copies beside the 1.0 fields are not covered
    hybrid = {
        "name": "n",
        "supportedInterfaces": [
            {"url": "http://h/a", "protocolBinding": "JSONRPC", "protocolVersion": "1.0"}
        ],
        "url": "http://h/a",
        "protocolVersion": "0.3.0",
        "securityRequirements": [{"schemes": {"b": {"list": ["r"]}}}],
        "security": [{"b": ["r"]}],
        "capabilities": {"extendedAgentCard": False},
        "supportsAuthenticatedExtendedCard": True,
        "skills": [{"id": "s", "securityRequirements": [], "security": [{"b": []}]}],
        "securitySchemes": {
            "b": {"httpAuthSecurityScheme": {"scheme": "Bearer"}, "type": "http", "scheme": "Bearer"}
        },
    }
    _, dropped = S.v1_form(hybrid)
    assert dropped == [
        "/supportsAuthenticatedExtendedCard",
        "/url",
        "/protocolVersion",
        "/security",
        "/skills/0/security",
        "/securitySchemes/b/type",
        "/securitySchemes/b/scheme",
    ]


def test_the_specs_example_and_where_a2a_sdk_differs_from_its_text() -> None:
    # spec v1.0 §8.4.1's example; its text keeps "description": "" and "skills": [] (REQUIRED),
    # a2a-sdk (and so a2actl) drops every empty value: documented in docs/caps.md
    card = {
        "name": "Example Agent",
        "description": "",
        "capabilities": {"streaming": False, "pushNotifications": False, "extensions": []},
        "skills": [],
    }
    got, _ = S.canonical(card)
    assert got == b'{"capabilities":{"pushNotifications":false,"streaming":false},"name":"Example Agent"}'
    assert got == sdk_canonical(card)


def test_scopeless_security_requirements_are_not_covered() -> None:
    base = {"name": "n", "securitySchemes": {"b": {"httpAuthSecurityScheme": {"scheme": "Bearer"}}}}
    with_req = {**base, "securityRequirements": [{"schemes": {"b": {"list": []}}}]}
    assert S.canonical(base)[0] == S.canonical(with_req)[0] == sdk_canonical(with_req)
    # ... so they are listed as uncovered: removing "bearer required" keeps the signature valid
    assert S.canonical(base)[1] == [] and S.canonical(with_req)[1] == ["/securityRequirements/0/schemes/b"]
    two = {
        **base,
        "securityRequirements": [{"schemes": {"b": {"list": []}}}, {"schemes": {"o": {"list": ["r"]}}}],
    }
    assert S.canonical(two)[1] == ["/securityRequirements/0/schemes/b"]  # the entry itself not twice
    oauth = {
        "name": "n",
        "securitySchemes": {
            "o": {
                "oauth2SecurityScheme": {
                    "flows": {
                        "clientCredentials": {"tokenUrl": "https://t", "scopes": {"admin": "", "r": "read"}}
                    }
                }
            }
        },
        "supportedInterfaces": [{"url": "https://a", "tenant": ""}, {"tenant": ""}],
    }
    assert (
        S.canonical(oauth)[1]
        == [
            "/securitySchemes/o/oauth2SecurityScheme/flows/clientCredentials/scopes/admin",  # a scope without description
            "/supportedInterfaces/1",  # an entry of defaults only vanishes
        ]
    )


@pytest.mark.parametrize(
    "card",
    [
        {"name": 3},
        {"capabilities": {"streaming": "yes"}},
        {"skills": "no"},
        {"securitySchemes": {"x": {"httpAuthSecurityScheme": {}, "apiKeySecurityScheme": {}}}},
        {"capabilities": {"extensions": [{"params": [1]}]}},
        [],
    ],
)
def test_cards_with_no_canonical_form(card: Any) -> None:
    with pytest.raises(S.CanonicalizationError):
        S.canonical(card)


# --- signatures -----------------------------------------------------------------------------------


def b64(doc: Any) -> str:
    raw = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@pytest.mark.parametrize(
    ("sigs", "problem"),
    [
        ("x", "signatures is a str, not a list"),
        ([1], "signatures[0] is not an object"),
        ([{"protected": b64({"alg": "ES256"})}], "protected and signature must be strings (JWS, RFC 7515)"),
        ([{"protected": "a=b", "signature": "x"}], "protected is not a base64url JSON header"),
        ([{"protected": b64(b"[1]"), "signature": "x"}], "the protected header is not a JSON object"),
        ([{"protected": b64({"kid": "k"}), "signature": "x"}], "the protected header has no alg"),
        ([{"protected": b64({"alg": "ES256"}), "signature": "a+b"}], "signature is not base64url"),
        ([{"protected": b64({"alg": "ES256"}), "signature": ""}], "signature is not base64url"),
    ],
)
def test_malformed_signatures(sigs: Any, problem: str) -> None:
    [sig] = S.parse_signatures({"signatures": sigs})
    assert sig.problem == problem
    assert S.check_signature(sig, b"{}", None).status == S.MALFORMED
    assert S.signature_kids({"signatures": sigs}) == []


def test_too_many_signatures_are_one_malformed_entry() -> None:
    """Each signature costs a public-key operation in a loop --max-time cannot interrupt."""
    entry = {"protected": b64({"alg": "EdDSA", "kid": "k"}), "signature": "abc"}
    assert len(S.parse_signatures({"signatures": [entry] * S.MAX_SIGNATURES})) == S.MAX_SIGNATURES
    [sig] = S.parse_signatures({"signatures": [entry] * (S.MAX_SIGNATURES + 1)})
    assert (
        sig.problem
        == f"the card has {S.MAX_SIGNATURES + 1:,} signatures, over the limit of {S.MAX_SIGNATURES}"
    )


def test_a_huge_or_deeply_nested_protected_header_is_malformed() -> None:
    """A header nested 100,000 deep made json.loads raise RecursionError: verify, validate, snapshot
    and diff crashed ("unexpected RecursionError", exit 1)."""
    deep = b'{"alg":"ES256","x":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    protected = base64.urlsafe_b64encode(deep).rstrip(b"=").decode("ascii")
    [sig] = S.parse_signatures({"signatures": [{"protected": protected, "signature": "abc"}]})
    assert sig.problem == f"protected is over {S.MAX_HEADER_CHARS:,} characters"
    deep = b"[" * 5_000 + b"]" * 5_000  # under the length limit, still too deep for json.loads
    protected = base64.urlsafe_b64encode(deep).rstrip(b"=").decode("ascii")
    assert len(protected) <= S.MAX_HEADER_CHARS
    [sig] = S.parse_signatures({"signatures": [{"protected": protected, "signature": "abc"}]})
    assert sig.problem == "protected is not a base64url JSON header"
    assert S.signature_kids({"signatures": [{"protected": protected, "signature": "abc"}]}) == []


def test_parsed_header_fields() -> None:
    header = {"alg": "ES256", "kid": "k1", "jku": "https://h/j", "typ": "JOSE"}
    [sig] = S.parse_signatures({"signatures": [{"protected": b64(header), "signature": "abc"}]})
    assert (sig.alg, sig.kid, sig.jku, sig.problem) == ("ES256", "k1", "https://h/j", None)
    [sig] = S.parse_signatures(
        {"signatures": [{"protected": b64({"alg": "ES256", "kid": 5, "jku": None}), "signature": "a"}]}
    )
    assert (sig.kid, sig.jku) == (None, None)
    assert S.parse_signatures({}) == [] and S.parse_signatures({"signatures": []}) == []
    assert S.signature_kids({"signatures": [{"protected": b64({"alg": "x"}), "signature": "a"}]}) == [""]


@pytest.mark.parametrize(
    ("jku", "card_url", "allow", "expected"),
    [
        ("https://h.example/j", "https://h.example/.well-known/agent-card.json", False, "same-host"),
        ("https://h.example:443/j", "https://h.example/c", False, "same-host"),
        ("https://h.example:8443/j", "https://h.example/c", False, "refused: jku host h.example:8443 is not the card's host h.example (pass --allow-jku to fetch it)"),
        ("https://other.example/j", "https://h.example/c", True, "allowed"),
        ("https://h.example/j", "http://h.example/c", False, "refused: jku host h.example is not the card's host h.example (pass --allow-jku to fetch it)"),
        ("http://h.example/j", "https://h.example/c", True, "refused: jku is not an https URL"),
        ("file:///etc/passwd", None, True, "refused: jku is not an https URL"),
        ("https://h.example/j", None, False, "refused: jku host h.example is not a card file (pass --allow-jku to fetch it)"),
        ("HTTPS://H.EXAMPLE:0443/j", "https://h.example/c", False, "same-host"),
        # parser-confusion and userinfo tricks: refused even with --allow-jku
        ("https://h.example:99999/j", "https://h.example/c", True, "refused: jku is not a valid URL"),
        ("https://h.example:443:80/j", "https://h.example/c", True, "refused: jku is not a valid URL"),
        ("https://[::1/j", "https://h.example/c", True, "refused: jku is not a valid URL"),
        ("https://evil.example\\@h.example/j", "https://h.example/c", True, "refused: jku is not a valid URL"),
        ("https://h.example\t/j", "https://h.example/c", True, "refused: jku is not a valid URL"),
        ("https://h.example /j", "https://h.example/c", True, "refused: jku is not a valid URL"),
        ("https://ｈ.example/j", "https://h.example/c", True, "refused: jku is not a valid URL"),
        ("https://h.example@evil.example/j", "https://h.example/c", True, "refused: jku carries userinfo (user@host)"),
        ("https://u:p@h.example/j", "https://h.example/c", True, "refused: jku carries userinfo (user@host)"),
        ("https://evil.example#@h.example/j", "https://h.example/c", False, "refused: jku host evil.example is not the card's host h.example (pass --allow-jku to fetch it)"),
    ],
)  # fmt: skip
def test_jku_decision(jku: str, card_url: str | None, allow: bool, expected: str) -> None:
    assert S.jku_decision(jku, card_url, allow) == expected


@pytest.fixture(scope="module")
def pems(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    d = tmp_path_factory.mktemp("pems")
    out = {}
    generated: dict[str, Any] = {
        "rsa": rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "p256": ec.generate_private_key(ec.SECP256R1()),
        "p384": ec.generate_private_key(ec.SECP384R1()),
        "ed": ed25519.Ed25519PrivateKey.generate(),
        "k1": ec.generate_private_key(ec.SECP256K1()),
    }
    for name, key in generated.items():
        priv = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        pub = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        (d / f"{name}.pem").write_bytes(priv)
        (d / f"{name}.pub.pem").write_bytes(pub)
        out[name], out[name + ".pub"] = str(d / f"{name}.pem"), str(d / f"{name}.pub.pem")
    return out


@pytest.mark.parametrize(
    ("name", "alg"), [("rsa", "RS256"), ("p256", "ES256"), ("p384", "ES384"), ("ed", "EdDSA")]
)
def test_sign_and_verify_each_key_type(pems: dict[str, str], name: str, alg: str) -> None:
    card = {"name": "n", "skills": [{"id": "s", "name": "S", "description": "d", "tags": ["t"]}]}
    signed = S.sign_card(card, S.load_pem_key(pems[name]), "kid-1")
    assert card == {"name": "n", "skills": [{"id": "s", "name": "S", "description": "d", "tags": ["t"]}]}
    [sig] = S.parse_signatures(signed)
    assert (sig.alg, sig.kid, sig.header["typ"]) == (alg, "kid-1", "JOSE")
    payload, _ = S.canonical(signed)
    assert S.check_signature(sig, payload, S.load_pem_key(pems[name + ".pub"])).status == S.VALID
    assert S.check_signature(sig, payload + b" ", S.load_pem_key(pems[name + ".pub"])).status == S.INVALID
    again = S.sign_card(signed, S.load_pem_key(pems[name]), "kid-2")
    assert [s.kid for s in S.parse_signatures(again)] == ["kid-1", "kid-2"]  # rotation keeps the old one


def test_alg_confusion_is_invalid(pems: dict[str, str]) -> None:
    """Algorithm confusion (RFC 8725 §2.1, §3.1): a key only verifies the alg of its type and curve,
    never an HMAC over its public bytes; a JWK's own alg and key_ops bind it (RFC 7517 §4.3-4.4)."""
    import hashlib
    import hmac

    card = {"name": "n"}
    payload, _ = S.canonical(card)
    rsa_pub = S.load_pem_key(pems["rsa.pub"])

    def entry(header: dict[str, Any], sig: bytes) -> S.ParsedSignature:
        [parsed] = S.parse_signatures({"signatures": [{"protected": b64(header), "signature": b64url(sig)}]})
        return parsed

    def b64url(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")

    for alg in ("HS256", "none", "None"):  # the public key's PEM as an HMAC secret
        protected = b64({"alg": alg, "kid": "k"})
        mac = hmac.new(
            Path(pems["rsa.pub"]).read_bytes(), f"{protected}.{b64url(payload)}".encode(), hashlib.sha256
        )
        assert (
            S.check_signature(entry({"alg": alg, "kid": "k"}, mac.digest()), payload, rsa_pub).status
            == S.INVALID
        )
    signed = S.sign_card(card, S.load_pem_key(pems["rsa"]), "k")
    [sig] = S.parse_signatures(signed)
    assert S.check_signature(sig, payload, rsa_pub).status == S.VALID
    es = S.parse_signatures(S.sign_card(card, S.load_pem_key(pems["p384"]), "k"))[0]  # ES384
    assert S.check_signature(es, payload, rsa_pub).status == S.INVALID  # RSA key, ES alg
    assert S.check_signature(es, payload, S.load_pem_key(pems["p256.pub"])).status == S.INVALID  # wrong curve
    jwk = rsa_pub.key.as_dict(private=False)
    for extra in ({"alg": "RS512"}, {"key_ops": ["encrypt"]}):
        [ref] = S.parse_jwks(json.dumps({"keys": [{**jwk, "kid": "k", **extra}]}).encode(), "f")
        assert S.check_signature(sig, payload, ref).status == S.INVALID, extra


def test_ps256_and_unsupported_curves(pems: dict[str, str]) -> None:
    signed = S.sign_card({"name": "n"}, S.load_pem_key(pems["rsa"]), "k", alg="PS256")
    [sig] = S.parse_signatures(signed)
    assert sig.alg == "PS256"
    assert S.check_signature(sig, S.canonical(signed)[0], S.load_pem_key(pems["rsa.pub"])).status == S.VALID
    with pytest.raises(UsageError, match="no JWS algorithm"):
        S.sign_card({"name": "n"}, S.load_pem_key(pems["k1"]), "k")


def test_an_a2a_sdk_header_with_null_jku_verifies(pems: dict[str, str]) -> None:
    from joserfc import jws

    from a2actl.caps.signature import _registry

    payload, _ = S.canonical({"name": "n"})
    key = S.load_pem_key(pems["p256"]).key
    header = {"alg": "ES256", "jku": None, "kid": "k", "typ": "JOSE"}
    token = jws.serialize_compact(header, payload, key, algorithms=["ES256"], registry=_registry("ES256", 10))
    protected, _, signature = token.split(".")
    [sig] = S.parse_signatures({"signatures": [{"protected": protected, "signature": signature}]})
    assert S.check_signature(sig, payload, S.load_pem_key(pems["p256.pub"])).status == S.VALID


def test_keyring_prefers_the_jwks_kid_then_the_pem(pems: dict[str, str]) -> None:
    a = S.KeyRef(object(), "--jwks a", "k1")
    b = S.KeyRef(object(), "--jwks a", None)
    pem = S.KeyRef(object(), "--key p")
    ring = S.KeyRing([b, a], pem)
    assert ring.find("k1") is a and ring.find("k2") is pem and ring.find(None) is pem
    assert S.KeyRing([a]).find("k2") is None


def test_parse_jwks(pems: dict[str, str]) -> None:
    from joserfc.jwk import ECKey

    priv = ECKey.import_key(Path(pems["p256"]).read_bytes()).as_dict(private=True)
    doc = {
        "keys": [
            {**priv, "kid": "ec"},
            {"kty": "oct", "k": "c2VjcmV0", "kid": "h"},
            {**priv, "kid": "e2", "use": "enc"},
        ]
    }
    [ref] = S.parse_jwks(json.dumps(doc).encode(), "--jwks f")
    assert (ref.kid, ref.source, ref.key.is_private) == ("ec", "--jwks f", False)  # private parts ignored
    doc["keys"][1:] = [
        {"kty": "AKP", "kid": "pq"},
        {"kty": "EC\x1b[2J", "crv": "P-256"},
    ]  # RFC 7517 §5: ignored
    ok, skipped = S.parse_jwks(json.dumps(doc).encode(), "--jwks f")
    assert ok.problem is None and (skipped.key, skipped.kid, skipped.problem) == (
        None,
        "pq",
        "keys[1] is not a valid AKP key",
    )
    assert [r.kid for r in S.KeyRing([skipped, ok]).candidates("pq")] == ["pq"]
    for bad, why in [
        (b"\xff", "--jwks f is not JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "--jwks f is not JSON"),  # was an unexpected RecursionError
        (b"[]", '--jwks f is not a JWK Set (an object with a "keys" list)'),
        (b'{"keys": [1]}', "--jwks f: keys[0] is not a JWK (no kty)"),
        (b'{"keys": [{"kty": "RSA", "n": "x"}]}', "--jwks f: keys[0] is not a valid RSA key"),
        (b'{"keys": [{"kty": "RSA\\u001b", "kid": "a"}, 2]}', "--jwks f: keys[0] is not a valid RSA? key"),
    ]:
        with pytest.raises(ValueError) as info:
            S.parse_jwks(bad, "--jwks f")
        assert str(info.value) == why


def test_a_jwks_with_too_many_keys_is_refused_before_any_is_imported() -> None:
    """Every key is imported; a key server (a jku on the card's host) could send tens of thousands."""
    doc = {"keys": [{"kty": "oct", "k": "AA"}] * (S.MAX_JWKS_KEYS + 1)}
    with pytest.raises(ValueError) as info:
        S.parse_jwks(json.dumps(doc).encode(), "jku https://h/j")
    assert (
        str(info.value)
        == f"jku https://h/j holds {S.MAX_JWKS_KEYS + 1:,} keys, over the limit of {S.MAX_JWKS_KEYS:,}"
    )
    assert S.parse_jwks(json.dumps({"keys": doc["keys"][1:]}).encode(), "f") == []  # at the limit: read


def test_load_pem_key_errors_name_the_file_not_the_content(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot read the key file"):
        S.load_pem_key(str(tmp_path / "none.pem"))
    garbage = tmp_path / "g.pem"
    garbage.write_text("-----BEGIN PRIVATE KEY-----\nc2VjcmV0LXNlY3JldA==\n-----END PRIVATE KEY-----\n")
    with pytest.raises(UsageError) as info:
        S.load_pem_key(str(garbage))
    assert str(info.value) == f"--key {garbage}: is not a PEM private or public key"
    assert "c2VjcmV0" not in str(info.value)


def test_sign_refuses_public_keys_and_bad_algs(pems: dict[str, str]) -> None:
    with pytest.raises(UsageError, match="public key"):
        S.sign_card({"name": "n"}, S.load_pem_key(pems["p256.pub"]), "k")
    with pytest.raises(UsageError, match="HS256"):
        S.sign_card({"name": "n"}, S.load_pem_key(pems["p256"]), "k", alg="HS256")
    with pytest.raises(UsageError, match="cannot sign with alg RS256"):
        S.sign_card({"name": "n"}, S.load_pem_key(pems["p256"]), "k", alg="RS256")


def test_public_jwks(pems: dict[str, str]) -> None:
    doc = S.public_jwks(S.load_pem_key(pems["rsa"]), "r1")
    [jwk] = doc["keys"]
    assert (jwk["kid"], jwk["use"], jwk["kty"]) == ("r1", "sig", "RSA") and "d" not in jwk
    [ref] = S.parse_jwks(json.dumps(doc).encode(), "x")
    signed = S.sign_card({"name": "n"}, S.load_pem_key(pems["rsa"]), "r1")
    [sig] = S.parse_signatures(signed)
    assert S.check_signature(sig, S.canonical(signed)[0], ref).status == S.VALID


def test_large_cards_sign_and_verify(pems: dict[str, str]) -> None:
    # joserfc's default payload limit is 128 kB; a card may be larger (the card limit is the bound)
    card = {"name": "n", "description": "x" * 300_000}
    signed = S.sign_card(card, S.load_pem_key(pems["p256"]), "k")
    [sig] = S.parse_signatures(signed)
    assert S.check_signature(sig, S.canonical(signed)[0], S.load_pem_key(pems["p256.pub"])).status == S.VALID
