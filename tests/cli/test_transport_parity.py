"""The three clients behind the transport seam (httpx: ``card get``, ``send``; aiohttp: ``load run``,
``dlq replay``; websockets: ``stream tail ws://``) treat the same options the same way: no proxy from
the environment, and the TLS options (``--cacert``, ``--insecure``, ``--cert``/``--key``) with the
same outcome and exit code. Real loopback servers: the sandbox, a recording HTTP proxy, HTTPS ones."""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.dlq_helpers import dead_send, fill_file_dlq
from tests.servers import LoopbackServer, RecordingProxy

_PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")


@pytest.fixture
def proxy_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[RecordingProxy]:
    """Every proxy variable set to a recording proxy, and no ``NO_PROXY``."""
    with RecordingProxy() as proxy:
        for var in _PROXY_VARS:
            monkeypatch.setenv(var, proxy.url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        yield proxy


def _dlq(tmp_path: Path, rpc_url: str) -> str:
    """A file DLQ with one dead SendMessage to ``rpc_url``: the ``dlq replay`` SRC."""
    path = tmp_path / "dlq.jsonl"
    fill_file_dlq(path, [dead_send(rpc_url, f"m-{tmp_path.name}")])
    return str(path)


#: One command per client: ``(name, argv for a base URL http(s)://HOST:PORT and a tmp dir)``.
Command = Callable[[str, Path], list[str]]
COMMANDS: dict[str, Command] = {
    "card get (httpx)": lambda url, _: ["card", "get", url],
    "send (httpx)": lambda url, _: ["send", url, "hi"],
    "load run (aiohttp)": lambda url, _: ["load", "run", url, "-n", "5", "-c", "1"],
    "dlq replay (aiohttp)": lambda url, tmp: [
        "dlq",
        "replay",
        _dlq(tmp, url + "/a2a/jsonrpc"),
        "--yes",
        "--max-attempts",
        "1",
        "--journal",
        str(tmp / "journal.jsonl"),
    ],
    "stream tail (websockets)": lambda url, _: [
        "stream",
        "tail",
        url.replace("http", "ws", 1) + "/a2a/ws",
        "--send",
        "hi",
        "--reconnect",
        "0",
    ],
}


def _outcome(r: Any) -> tuple[int, str]:
    """(exit code, the error's code or the dead entry's error message) of a ``-o json`` run."""
    doc = r.json if r.stdout.strip().startswith("{") else r.jsonl[-1]
    if "error" in doc and isinstance(doc["error"], dict):
        return r.exit_code, doc["error"]["message"]
    results = doc.get("results") or []
    dead = [x["error"]["message"] for x in results if x.get("error")]
    return r.exit_code, dead[0] if dead else ""


@pytest.mark.parametrize("command", list(COMMANDS))
def test_no_client_takes_a_proxy_from_the_environment(
    cli: Any, sandbox: Any, proxy_env: RecordingProxy, tmp_path: Path, command: str
) -> None:
    """``HTTP_PROXY``/``HTTPS_PROXY``/``ALL_PROXY`` are not used by any a2actl connection (httpx and
    aiohttp are built with ``trust_env=False``); websockets >= 15 took them by default, so a
    ``stream tail ws://`` went through a proxy that ``card get`` of the same agent did not."""
    r = cli(*COMMANDS[command](sandbox.url, tmp_path), "-o", "json")
    assert r.exit_code == 0, r.stdout[-800:] + r.stderr[-800:]
    assert proxy_env.seen == []


@pytest.fixture(scope="module")
def mtls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The sandbox over HTTPS that requires a client certificate from its CA: the base URL and the
    paths of the CA, a client certificate and its key."""
    import trustme

    from a2actl.server.sandbox.app import build_app
    from a2actl.server.sandbox.options import SandboxOptions

    ca = trustme.CA()
    d = tmp_path_factory.mktemp("mtls")
    paths = {name: str(d / f"{name}.pem") for name in ("ca", "cert", "key", "client", "client_key")}
    ca.cert_pem.write_to_path(paths["ca"])
    server = ca.issue_cert("127.0.0.1")
    server.private_key_pem.write_to_path(paths["key"])
    server.cert_chain_pems[0].write_to_path(paths["cert"])
    client = ca.issue_cert("client.example")
    client.cert_chain_pems[0].write_to_path(paths["client"])
    client.private_key_pem.write_to_path(paths["client_key"])
    srv = LoopbackServer(
        lambda url: build_app(SandboxOptions(stream_interval=0.01), url),
        certfile=paths["cert"],
        keyfile=paths["key"],
    )
    srv.server.config.ssl_cert_reqs = ssl.CERT_REQUIRED
    srv.server.config.ssl_ca_certs = paths["ca"]
    with srv:
        yield {"url": srv.url, **paths}


@pytest.mark.parametrize("command", list(COMMANDS))
def test_tls_options_have_the_same_outcome_on_every_client(
    cli: Any, tls_server: tuple[str, str], tmp_path: Path, command: str
) -> None:
    """An HTTPS agent whose CA is not in the system store: exit 3 with the TLS hint without
    ``--cacert`` (a dead entry saying so for ``dlq replay``), 0 with ``--cacert`` or ``--insecure``.
    The WebSocket client used a default TLS context whatever was given (exit 3 "is the agent
    running?" even with ``--cacert``)."""
    url, ca = tls_server
    argv = COMMANDS[command]
    untrusted = cli(*argv(url, tmp_path / "a"), "-o", "json")
    code, message = _outcome(untrusted)
    assert message.startswith("TLS handshake with ") and "unable to get local issuer certificate" in message
    assert code == (7 if command.startswith("dlq") else 3)
    if code == 3:
        assert "--cacert" in untrusted.json["error"]["hint"]
    trusted = cli("--cacert", ca, *argv(url, tmp_path / "b"), "-o", "json")
    assert trusted.exit_code == 0, trusted.stdout[-800:] + trusted.stderr[-800:]
    insecure = cli("--insecure", *argv(url, tmp_path / "c"), "-o", "json")
    assert insecure.exit_code == 0, insecure.stdout[-800:] + insecure.stderr[-800:]


@pytest.mark.parametrize("command", ["card get (httpx)", "load run (aiohttp)", "stream tail (websockets)"])
def test_a_client_certificate_is_presented_by_every_client(
    cli: Any, mtls_server: dict[str, str], tmp_path: Path, command: str
) -> None:
    """``--cert``/``--key`` reach a server that requires a client certificate over each client."""
    s = mtls_server
    r = cli(
        "--cacert",
        s["ca"],
        "--cert",
        s["client"],
        "--key",
        s["client_key"],
        *COMMANDS[command](s["url"], tmp_path),
    )
    assert r.exit_code == 0, r.stdout[-800:] + r.stderr[-800:]


def test_a_redirect_to_wss_under_L_keeps_the_tls_options(cli: Any, tls_server: tuple[str, str]) -> None:
    """``-L`` from ``ws://`` to ``wss://``: the hop is verified with ``--cacert`` (websockets made a
    default TLS context for it, so the CA given was not used: exit 3)."""
    url, ca = tls_server
    to = url.replace("https://", "wss://") + "/a2a/ws"

    async def redirect(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send(
            {"type": "websocket.http.response.start", "status": 302, "headers": [(b"location", to.encode())]}
        )
        await send({"type": "websocket.http.response.body", "body": b""})

    with LoopbackServer(lambda _: redirect) as srv:
        start = srv.url.replace("http://", "ws://") + "/a2a/ws"
        r = cli(
            "-L", "--cacert", ca, "stream", "tail", start, "--send", "hi", "--reconnect", "0", "-o", "json"
        )
    assert r.exit_code == 0, r.stdout[-800:] + r.stderr[-800:]
    assert r.json["outcome"] == "completed"


@pytest.fixture(scope="module")
def long_header_agent() -> Iterator[str]:
    """The sandbox with a 20 KiB ``Content-Security-Policy`` on every answer (as a gateway adds)."""
    from a2actl.server.sandbox.app import build_app
    from a2actl.server.sandbox.options import SandboxOptions

    policy = ("default-src 'self'" + " https://cdn.example" * 1000).encode()

    def app(url: str) -> Any:
        inner = build_app(SandboxOptions(stream_interval=0.01), url)

        async def with_policy(scope: dict[str, Any], receive: Any, send: Any) -> None:
            async def send_with_policy(message: dict[str, Any]) -> None:
                if message["type"] == "http.response.start":
                    message = {
                        **message,
                        "headers": [*message["headers"], (b"content-security-policy", policy)],
                    }
                await send(message)

            await inner(scope, receive, send_with_policy if scope["type"] == "http" else send)

        return with_policy

    with LoopbackServer(app) as srv:
        yield srv.url


@pytest.mark.parametrize("command", [c for c in COMMANDS if "websockets" not in c])
def test_a_long_header_line_is_read_by_every_client(
    cli: Any, long_header_agent: str, tmp_path: Path, command: str
) -> None:
    """aiohttp's default limit (8,190 bytes a header line) made ``load run`` exit 6 at the card and
    ``dlq replay`` keep every entry dead ("Got more than 8190 bytes") where ``card get`` read it."""
    r = cli(*COMMANDS[command](long_header_agent, tmp_path), "-o", "json")
    assert r.exit_code == 0, r.stdout[-800:] + r.stderr[-800:]


@pytest.mark.parametrize("command", ["card get (httpx)", "load run (aiohttp)", "stream tail (websockets)"])
def test_an_encrypted_client_key_is_refused_by_name_on_every_client(
    cli: Any, mtls_server: dict[str, str], tmp_path: Path, command: str
) -> None:
    """``--key`` encrypted: OpenSSL asked for its pass phrase on the terminal and waited (past
    ``--max-time``); without a terminal it printed "Enter PEM pass phrase:" and failed "[Errno 22]
    Invalid argument", naming no file. Exit 2, one line naming ``--key`` and the path."""
    from cryptography.hazmat.primitives import serialization

    s = mtls_server
    key = serialization.load_pem_private_key(Path(s["client_key"]).read_bytes(), None)
    encrypted = tmp_path / "encrypted.key"
    encrypted.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"pw"),
        )
    )
    argv = COMMANDS[command](s["url"], tmp_path)
    r = cli("--cacert", s["ca"], "--cert", s["client"], "--key", str(encrypted), *argv, "-o", "json")
    assert r.exit_code == 2, r.stdout[-800:] + r.stderr[-800:]
    assert r.json["error"]["message"] == (
        f"cannot load TLS files: --key {encrypted}: the private key is encrypted (a pass phrase cannot be given)"
    )
    assert "pass phrase:" not in r.stderr.lower() and len(r.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("host", "problem"),
    [
        ("127.1", "the host '127.1' is neither a name nor a dotted IPv4 address"),
        ("42", "the host '42' is neither a name nor a dotted IPv4 address"),
        ("a..b", "the host 'a..b' has characters a host name cannot have"),
        ("x" * 64 + ".example", "has an empty label or one over 63 characters"),
        ("xn--zz.example", "has a label that is not valid Punycode ('xn--zz')"),
    ],
)
@pytest.mark.parametrize("command", ["card get (httpx)", "send (httpx)", "load run (aiohttp)"])
def test_a_target_host_no_request_can_reach_is_the_same_usage_error_on_every_client(
    cli: Any, tmp_path: Path, command: str, host: str, problem: str
) -> None:
    """The two HTTP clients disagreed on such a TARGET: httpx requested ``127.1`` and ``42`` (exit 0,
    1 or 3, whatever answered), aiohttp refused them (exit 2); ``a..b`` was a failed DNS lookup (3)
    on one and a bad URL (2) on the other, ``xn--zz`` the other way round. Exit 2 on both, in the
    words ``fleet probe`` uses for an inventory line, before anything is sent."""
    url = f"http://{host}:9"
    r = cli(*COMMANDS[command](url, tmp_path), "-o", "json")
    assert r.exit_code == 2, r.stdout[-800:]
    message = r.json["error"]["message"]
    assert message.startswith(f"TARGET {url!r} is not a valid URL: ") and message.endswith(problem)


@pytest.fixture(scope="module")
def closes_at_once() -> Iterator[str]:
    """A TCP server that accepts each connection and closes it without a byte (as an agent that
    requires a client certificate does after a TLS 1.3 handshake, or a crashing worker): its URL."""
    import socket
    import threading

    srv = socket.create_server(("127.0.0.1", 0))
    srv.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except OSError:
                continue
            try:
                conn.settimeout(2)
                conn.recv(65536)  # read the request: closing with it unread would be a reset (RST)
            except OSError:
                pass
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{srv.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=5)
        srv.close()


@pytest.mark.parametrize("command", ["card get (httpx)", "send (httpx)", "load run (aiohttp)"])
def test_a_connection_closed_without_an_answer_reads_the_same_on_every_client(
    cli: Any, closes_at_once: str, tmp_path: Path, command: str
) -> None:
    """httpx said "Server disconnected without sending a response.", aiohttp "the server closed the
    connection without an answer", for the same agent (both exit 6). One message now."""
    r = cli(*COMMANDS[command](closes_at_once, tmp_path), "-o", "json")
    assert r.exit_code == 6, r.stdout[-800:]
    assert r.json["error"]["message"] == (
        f"malformed HTTP from {closes_at_once}/.well-known/agent-card.json: "
        "the server closed the connection without an answer"
    )


@pytest.fixture(scope="module")
def bad_cert_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The sandbox over HTTPS twice, certificates from one trustme CA: ``expired`` (its validity
    ended yesterday) and ``other-host`` (issued for other.example); plus ``ca``, the CA's path."""
    import datetime

    import trustme

    from a2actl.server.sandbox.app import build_app
    from a2actl.server.sandbox.options import SandboxOptions

    ca = trustme.CA()
    d = tmp_path_factory.mktemp("badcerts")
    now = datetime.datetime.now(datetime.timezone.utc)
    certs = {
        "expired": ca.issue_cert(
            "127.0.0.1",
            not_before=now - datetime.timedelta(days=30),
            not_after=now - datetime.timedelta(days=1),
        ),
        "other-host": ca.issue_cert("other.example"),
    }
    out = {"ca": str(d / "ca.pem")}
    ca.cert_pem.write_to_path(out["ca"])
    with contextlib.ExitStack() as stack:
        for name, cert in certs.items():
            cert.cert_chain_pems[0].write_to_path(str(d / f"{name}.pem"))
            cert.private_key_pem.write_to_path(str(d / f"{name}.key"))
            srv = LoopbackServer(
                lambda url: build_app(SandboxOptions(stream_interval=0.01), url),
                certfile=str(d / f"{name}.pem"),
                keyfile=str(d / f"{name}.key"),
            )
            out[name] = stack.enter_context(srv).url
        yield out


@pytest.mark.parametrize(
    ("server", "hint"),
    [
        ("expired", "the agent's certificate is outside its validity dates"),
        ("other-host", "the agent's certificate does not name this host"),
    ],
)
@pytest.mark.parametrize("command", ["card get (httpx)", "load run (aiohttp)", "stream tail (websockets)"])
def test_a_certificate_another_ca_cannot_fix_is_not_hinted_at_cacert(
    cli: Any, bad_cert_servers: dict[str, str], tmp_path: Path, command: str, server: str, hint: str
) -> None:
    """With its CA given, a certificate that expired or names another host still fails (exit 3); the
    hint said "pass the CA with --cacert FILE", which was given and cannot help."""
    s = bad_cert_servers
    r = cli("--cacert", s["ca"], *COMMANDS[command](s[server], tmp_path), "-o", "json")
    assert r.exit_code == 3, r.stdout[-800:]
    error = r.json["error"]
    assert error["message"].startswith("TLS handshake with ") and error["hint"].startswith(hint)
    assert "--cacert" not in error["hint"]
