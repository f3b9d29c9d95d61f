"""Fixtures for signed Agent Cards (``caps verify``/``caps sign``, issue #17): keys made here (RSA and EC
P-256, three kids), PEM and JWKS files, a plain 1.0 card, and a loopback card server (HTTP and
HTTPS with a trustme CA for 127.0.0.1 and localhost) whose documents each test sets."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.servers import LoopbackServer


@dataclass(frozen=True)
class KeyFiles:
    """One key pair: its kid, the private and public PEM files, and the public JWK."""

    kid: str
    private: str
    public: str
    jwk: dict[str, Any]


@dataclass(frozen=True)
class Keys:
    """RSA ``rsa-1``, EC P-256 ``ec-1`` and ``ec-2``; ``jwks`` a file holding the public keys of
    ``rsa-1`` and ``ec-1`` only (``ec-2`` is unknown to it); ``dir`` where the files are."""

    rsa: KeyFiles
    ec: KeyFiles
    ec2: KeyFiles
    jwks: str
    dir: Path


def _write_pair(d: Path, kid: str, key: Any) -> KeyFiles:
    from joserfc.jwk import import_key

    priv = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    pub = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    (d / f"{kid}.pem").write_bytes(priv)
    (d / f"{kid}.pub.pem").write_bytes(pub)
    kty = "RSA" if isinstance(key, rsa.RSAPrivateKey) else "EC"
    jwk = {**import_key(pub, kty).as_dict(private=False), "kid": kid, "use": "sig"}  # type: ignore[call-overload]
    return KeyFiles(kid, str(d / f"{kid}.pem"), str(d / f"{kid}.pub.pem"), jwk)


@pytest.fixture(scope="session")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    d = tmp_path_factory.mktemp("sigkeys")
    rsa_k = _write_pair(d, "rsa-1", rsa.generate_private_key(public_exponent=65537, key_size=2048))
    ec_k = _write_pair(d, "ec-1", ec.generate_private_key(ec.SECP256R1()))
    ec2_k = _write_pair(d, "ec-2", ec.generate_private_key(ec.SECP256R1()))
    jwks = d / "jwks.json"
    jwks.write_text(json.dumps({"keys": [rsa_k.jwk, ec_k.jwk]}), encoding="utf-8")
    return Keys(rsa_k, ec_k, ec2_k, str(jwks), d)


def plain_card(url: str = "https://agent.example.com/a2a/jsonrpc") -> dict[str, Any]:
    """A 1.0 card with no default values in it (nothing the canonical form drops)."""
    return {
        "name": "signed agent",
        "description": "An agent whose card is signed. Ünïcode too: ✓",
        "version": "1.2.3",
        "supportedInterfaces": [{"url": url, "protocolBinding": "JSONRPC", "protocolVersion": "1.0"}],
        "provider": {"organization": "a2actl tests", "url": "https://example.com"},
        "capabilities": {"streaming": True, "pushNotifications": False},
        "securitySchemes": {"bearer": {"httpAuthSecurityScheme": {"scheme": "Bearer"}}},
        "securityRequirements": [{"schemes": {"bearer": {"list": ["read"]}}}],
        "defaultInputModes": ["text/plain"],
        "defaultOutputModes": ["text/plain"],
        "skills": [{"id": "echo", "name": "Echo", "description": "Echoes.", "tags": ["test"]}],
    }


def write_json(path: Path, doc: Any) -> str:
    path.write_text(json.dumps(doc), encoding="utf-8")
    return str(path)


@dataclass
class CardServer:
    """A loopback server: ``docs`` maps a path to the JSON document served there, ``redirects`` a
    path to the ``Location`` of a 302 answer (404 otherwise); ``hits`` counts requests per path. ``url`` is its base URL (``https://127.0.0.1:PORT`` for the
    TLS one, whose certificate also names ``localhost``; ``ca`` is then the CA file)."""

    url: str
    docs: dict[str, Any] = field(default_factory=dict)
    redirects: dict[str, str] = field(default_factory=dict)
    hits: dict[str, int] = field(default_factory=dict)
    ca: str | None = None

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])


def _app(server: CardServer) -> Starlette:
    async def serve(request: Request) -> Response:
        path = request.url.path
        server.hits[path] = server.hits.get(path, 0) + 1
        if path in server.redirects:
            return Response(status_code=302, headers={"Location": server.redirects[path]})
        if path not in server.docs:
            return JSONResponse({"error": "not found"}, status_code=404)
        return JSONResponse(server.docs[path])

    return Starlette(routes=[Route("/{path:path}", serve)])


@pytest.fixture(scope="session")
def _card_http() -> Iterator[CardServer]:
    holder: list[CardServer] = []

    def factory(url: str) -> Starlette:
        holder.append(CardServer(url))
        return _app(holder[0])

    with LoopbackServer(factory):
        yield holder[0]


@pytest.fixture
def card_http(_card_http: CardServer) -> CardServer:
    """The plain-HTTP card server, emptied for each test."""
    _card_http.docs.clear()
    _card_http.redirects.clear()
    _card_http.hits.clear()
    return _card_http


@pytest.fixture(scope="session")
def _card_https(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CardServer]:
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    d = tmp_path_factory.mktemp("sigtls")
    ca_path, cert_path, key_path = d / "ca.pem", d / "cert.pem", d / "key.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    cert.private_key_pem.write_to_path(str(key_path))
    cert.cert_chain_pems[0].write_to_path(str(cert_path))
    holder: list[CardServer] = []

    def factory(url: str) -> Starlette:
        holder.append(CardServer(url, ca=str(ca_path)))
        return _app(holder[0])

    with LoopbackServer(factory, certfile=str(cert_path), keyfile=str(key_path)):
        yield holder[0]


@pytest.fixture
def card_https(_card_https: CardServer) -> CardServer:
    """The HTTPS card server (trustme CA in ``.ca``), emptied for each test."""
    _card_https.docs.clear()
    _card_https.redirects.clear()
    _card_https.hits.clear()
    return _card_https
