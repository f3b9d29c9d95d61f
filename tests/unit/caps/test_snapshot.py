"""``caps snapshot``'s normalisation: one shape for every card version, sets sorted and
de-duplicated, volatile fields left out, skills inheriting the card's modes."""

from __future__ import annotations

from typing import Any

from a2actl.caps.snapshot import SNAPSHOT_KEY, is_snapshot, snapshot

V03: dict[str, Any] = {
    "name": "Echo",
    "description": "echoes",
    "version": "1.2.3",
    "url": "http://127.0.0.1:9/a2a",
    "protocolVersion": "0.3.0",
    "preferredTransport": "JSONRPC",
    "additionalInterfaces": [{"url": "http://127.0.0.1:9/rest", "transport": "HTTP+JSON"}],
    "capabilities": {"streaming": True},
    "defaultInputModes": ["text/plain", "application/json", "text/plain"],
    "defaultOutputModes": ["text/plain"],
    "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
    "security": [{"bearer": []}],
    "signatures": [{"protected": "x", "signature": "y"}],
    "skills": [
        {"id": "echo", "name": "Echo", "description": "d", "tags": ["b", "a", "b"], "examples": ["hi"]},
        {"id": "img", "name": "Img", "description": "d", "tags": [], "inputModes": ["image/png"],
         "security": [{"bearer": ["write", "read"]}]},
    ],
}  # fmt: skip

V10: dict[str, Any] = {
    "name": "Echo",
    "description": "echoes",
    "version": "9.9.9",
    "supportedInterfaces": [
        {"url": "http://127.0.0.1:9/a2a", "protocolBinding": "JSONRPC", "protocolVersion": "0.3"},
        {"url": "http://127.0.0.1:9/rest", "protocolBinding": "HTTP+JSON", "protocolVersion": "0.3"},
    ],
    "capabilities": {"streaming": True},
    "defaultInputModes": ["application/json", "text/plain"],
    "defaultOutputModes": ["text/plain"],
    "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
    "securityRequirements": [{"schemes": {"bearer": {"list": []}}}],
    "skills": [
        {"id": "img", "name": "Img", "description": "d", "tags": [], "inputModes": ["image/png"],
         "securityRequirements": [{"schemes": {"bearer": {"list": ["read", "write"]}}}]},
        {"id": "echo", "name": "Echo", "description": "d", "tags": ["a", "b"], "examples": ["hi"]},
    ],
}  # fmt: skip


def test_snapshot_of_a_03_card() -> None:
    snap = snapshot(V03)
    assert is_snapshot(snap) and snap[SNAPSHOT_KEY] == 1
    assert list(snap) == [
        SNAPSHOT_KEY, "name", "description", "provider", "documentationUrl", "iconUrl", "protocolVersions",
        "bindings", "interfaces", "capabilities", "extensions", "defaultInputModes", "defaultOutputModes",
        "skills", "securitySchemes", "securityRequirements",
    ]  # fmt: skip
    assert "version" not in snap and "signatures" not in snap  # volatile
    assert snap["protocolVersions"] == ["0.3"]
    assert snap["bindings"] == ["HTTP+JSON", "JSONRPC"]
    assert snap["interfaces"] == {
        "HTTP+JSON@0.3": {
            "url": "http://127.0.0.1:9/rest",
            "tenant": None,
            "preferred": False,
            "bindingSpelling": "HTTP+JSON",
        },
        "JSONRPC@0.3": {
            "url": "http://127.0.0.1:9/a2a",
            "tenant": None,
            "preferred": True,
            "bindingSpelling": "JSONRPC",
        },
    }
    assert snap["capabilities"] == {"streaming": True, "pushNotifications": False, "extendedAgentCard": False}
    assert snap["defaultInputModes"] == ["application/json", "text/plain"]  # a set: sorted, de-duplicated
    assert snap["securityRequirements"] == [{"bearer": []}]
    echo, img = snap["skills"]["echo"], snap["skills"]["img"]
    assert echo["tags"] == ["a", "b"]
    assert echo["inputModes"] == ["application/json", "text/plain"]  # inherited from the card
    assert img["inputModes"] == ["image/png"]
    assert img["securityRequirements"] == [{"bearer": ["read", "write"]}]


def test_a_03_card_and_its_10_successor_have_the_same_snapshot() -> None:
    assert snapshot(V03) == snapshot(V10)


def test_snapshot_never_raises_and_recognises_only_its_own_documents() -> None:
    empty = snapshot(["not", "a", "card"])
    assert empty["name"] is None and empty["interfaces"] == {} and empty["skills"] == {}
    assert not is_snapshot(V03) and not is_snapshot({SNAPSHOT_KEY: 2}) and not is_snapshot(None)


def test_a_snapshot_to_write_holds_no_url_credential() -> None:
    """``masked_snapshot`` (``caps snapshot``, ``smoke init``): every URL's userinfo and credential-like
    query values masked, wherever the URL is (an interface, the links, a security scheme's URL);
    the snapshot itself (what ``caps diff`` compares) keeps them."""
    from a2actl.caps.snapshot import masked_snapshot

    card = {
        **V03,
        "url": "http://agent:iface-pw-1@127.0.0.1:9/a2a?token=iface-token-1",
        "documentationUrl": "https://docs.example/?sig=docs-signature",
        "securitySchemes": {
            "oidc": {
                "type": "openIdConnect",
                "openIdConnectUrl": "https://id.example/?client_secret=cs-12345",
            }
        },
    }
    snap = snapshot(card)
    out = masked_snapshot(snap)
    assert out["interfaces"]["JSONRPC@0.3"]["url"] == "http://agent:***@127.0.0.1:9/a2a?token=***"
    assert out["documentationUrl"] == "https://docs.example/?sig=***"
    assert out["securitySchemes"]["oidc"]["openIdConnectUrl"] == "https://id.example/?client_secret=***"
    assert snap["interfaces"]["JSONRPC@0.3"]["url"] == card["url"]  # compared in clear, not printed
    assert {
        k: v for k, v in out.items() if k not in ("interfaces", "documentationUrl", "securitySchemes")
    } == {k: v for k, v in snap.items() if k not in ("interfaces", "documentationUrl", "securitySchemes")}
