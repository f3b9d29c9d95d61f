"""``card get``'s table view, rendered whole at 100 columns without colour, from the document the
real job builds (``caps.card.card_result``) over hand-written cards: identity, interfaces,
capabilities, skills, security, and the discovery notes and card warnings on stderr."""

from __future__ import annotations

from typing import Any

import pytest

from a2actl.agent.discovery import CardFetch
from a2actl.caps.card import card_result
from a2actl.protocol.card import parse_card
from a2actl.render import card as render_card
from tests.unit.render import rendering
from tests.unit.render.rendering import lines

CARD: dict[str, Any] = {
    "name": "Echo \x1b]0;pwned\x07",
    "description": "echoes what you say",
    "version": "1.2.3",
    "provider": {"organization": "Example Org", "url": "https://example.com"},
    "supportedInterfaces": [
        {"url": "https://agent.example.com/a2a", "protocolBinding": "JSONRPC", "protocolVersion": "1.0"},
        {"url": "https://agent.example.com/rest", "protocolBinding": "HTTP+JSON", "protocolVersion": "1.0"},
    ],
    "capabilities": {"streaming": True, "pushNotifications": False},
    "defaultInputModes": ["text/plain"],
    "defaultOutputModes": ["text/plain"],
    "securitySchemes": {
        "bearer": {"httpAuthSecurityScheme": {"scheme": "Bearer"}},
        "key": {"apiKeySecurityScheme": {"location": "header", "name": "X-Key"}},
    },
    "securityRequirements": [{"schemes": {"bearer": {"list": []}}}],
    "skills": [
        {
            "id": "echo",
            "name": "Echo",
            "description": "d",
            "tags": ["text", "demo"],
            "examples": ["hi", "hello"],
        }
    ],
}

CARD_TABLE = """\

 name          Echo \\x1b]0;pwned\\x07
 description   echoes what you say
 version       1.2.3
 provider      Example Org
 source        card.json
 card shape    1.0 (declares 1.0)
 signed        no

Interfaces

  #   binding     version   url                              declared by
 ───────────────────────────────────────────────────────────────────────────────────
  1   JSONRPC     1.0       https://agent.example.com/a2a    supportedInterfaces[0]
  2   HTTP+JSON   1.0       https://agent.example.com/rest   supportedInterfaces[1]

Capabilities: streaming=yes, pushNotifications=no, extendedAgentCard=no
Skills (1)

  id     name   tags         examples
 ──────────────────────────────────────
  echo   Echo   text, demo   hi; hello

Security

  scheme   type            required
 ───────────────────────────────────
  bearer   http Bearer     yes
  key      apiKey header   no

"""

BARE_TABLE = """\

 name          Bare
 description   d
 version       0
 provider
 source        card.json
 card shape    unknown (declares no version)
 signed        no

Interfaces

  #   binding   version   url   declared by
 ───────────────────────────────────────────

Capabilities: streaming=no, pushNotifications=no, extendedAgentCard=no
Skills (0)

  id   name   tags   examples
 ─────────────────────────────

Security: none declared
"""


def render(doc: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    return rendering.render(render_card.card, doc, monkeypatch)


def doc_of(card: dict[str, Any], notes: list[str] | None = None) -> dict[str, Any]:
    fetched = CardFetch(source="card.json", raw=card, view=parse_card(card), notes=notes or [])
    return card_result(fetched, None).to_json()


def test_card_view(monkeypatch: pytest.MonkeyPatch) -> None:
    out, err = render(doc_of(CARD, notes=["found at the legacy path"]), monkeypatch)
    assert lines(out) == CARD_TABLE
    assert err == "warning: found at the legacy path\n"


def test_card_without_security_or_interfaces_warns(monkeypatch: pytest.MonkeyPatch) -> None:
    card = {"name": "Bare", "description": "d", "version": "0", "skills": []}
    out, err = render(doc_of(card), monkeypatch)
    assert lines(out) == BARE_TABLE
    assert err == "warning: no interfaces: neither supportedInterfaces (1.0) nor url (0.x)\n"
