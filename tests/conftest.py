"""Fixtures: real a2a-sdk sandbox agents on 127.0.0.1:0, the fault server, a TLS server, and ``cli``
(the real app through typer's CliRunner, with parsed JSON)."""

from __future__ import annotations

import json
import os
import signal
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from typer.testing import CliRunner

from a2actl.cli.app import app

# A run started in the background by a shell without job control (`(pytest &)`, some CI wrappers)
# inherits SIGINT ignored, and so does every a2actl process the tests start: the Ctrl-C tests (exit
# 130, reports kept) would then send a signal nobody hears. Give the children the default back.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)
from a2actl.server.sandbox.options import SandboxOptions
from a2actl.server.sandbox.server import RunningSandbox
from tests.servers import LoopbackServer, SilentWebSocketServer, fault_app, stream_app, ws_fault_app

TOKEN = "s3cr3t-token-for-tests-only"


@pytest.fixture(autouse=True)
def _isolation(monkeypatch: pytest.MonkeyPatch) -> None:
    for k in list(os.environ):
        if k.startswith("A2ACTL_"):
            monkeypatch.delenv(k)
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "120")


@pytest.fixture
def forget_secrets() -> Iterator[Any]:
    """Empty the process registry of secrets (``a2actl.core.redact``) now and whenever the returned
    function is called; restored after the test. ``cli`` runs a2actl in-process: a secret one
    invocation (or an earlier test) registered masks it in every later one, which hides a leak."""
    from a2actl.core import redact

    saved = set(redact._REGISTRY)

    def forget() -> None:
        redact._REGISTRY.clear()
        redact._registry_version[0] += 1

    forget()
    yield forget
    redact._REGISTRY.clear()
    redact._REGISTRY.update(saved)
    redact._registry_version[0] += 1


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def json(self) -> Any:
        return json.loads(self.stdout)

    @property
    def jsonl(self) -> list[Any]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]


@pytest.fixture
def cli() -> Any:
    """Run ``a2actl ARGS`` in-process; returns exit code, stdout and stderr apart."""
    runner = CliRunner()

    def run(*args: str, env: dict[str, str] | None = None) -> Result:
        r = runner.invoke(app, list(args), env=env, catch_exceptions=False)
        return Result(r.exit_code, r.stdout, r.stderr)

    return run


def _sandbox(**kw: Any) -> Iterator[RunningSandbox]:
    sb = RunningSandbox(SandboxOptions(stream_interval=0.01, **kw)).start()
    try:
        yield sb
    finally:
        sb.stop()


@pytest.fixture(scope="session")
def sandbox() -> Iterator[RunningSandbox]:
    """Default sandbox: A2A 1.0 with 0.3 compatibility (hybrid card)."""
    yield from _sandbox()


@pytest.fixture(scope="session")
def sandbox_v1() -> Iterator[RunningSandbox]:
    yield from _sandbox(versions=("1.0",))


@pytest.fixture(scope="session")
def sandbox_v03() -> Iterator[RunningSandbox]:
    """The card declares only 0.3 interfaces (an a2a-sdk agent in 0.3-compat mode)."""
    yield from _sandbox(versions=("0.3",))


@pytest.fixture(scope="session")
def sandbox_legacy() -> Iterator[RunningSandbox]:
    """A 0.2.5-style card at /.well-known/agent.json only."""
    yield from _sandbox(card_style="0.2", versions=("0.3",))


@pytest.fixture(scope="session")
def sandbox_slow() -> Iterator[RunningSandbox]:
    yield from _sandbox(handshake_delay=0.3)


@pytest.fixture(scope="session")
def sandbox_auth() -> Iterator[RunningSandbox]:
    yield from _sandbox(require_token=TOKEN)


@pytest.fixture(scope="session")
def sandbox_strip() -> Iterator[RunningSandbox]:
    """A proxy in front dropped the A2A-Version header."""
    yield from _sandbox(strip_version_header=True)


@pytest.fixture(scope="session")
def sandbox_lying() -> Iterator[RunningSandbox]:
    """The card claims pushNotifications, which the agent does not implement."""
    yield from _sandbox(claim_capabilities=("pushNotifications",))


@pytest.fixture(scope="session")
def sandbox_lying_streaming() -> Iterator[RunningSandbox]:
    """The card claims streaming, which the agent then does not do (``--claim-capability streaming``)."""
    yield from _sandbox(claim_capabilities=("streaming",))


@pytest.fixture(scope="session")
def sandbox_vary() -> Iterator[RunningSandbox]:
    """The card differs by A2A-Version (pure 1.0 vs hybrid), with Vary: A2A-Version (the JS SDK's way)."""
    yield from _sandbox(vary_card=True)


@pytest.fixture(scope="session")
def sandbox_streams() -> Iterator[RunningSandbox]:
    """Stream faults: ': ping' every 20 ms, send streams cut after 3 events."""
    yield from _sandbox(sse_heartbeat=0.02, drop_after=3, ws_ping_interval=0.05)


@pytest.fixture(scope="session")
def sandbox_drop_early() -> Iterator[RunningSandbox]:
    """Send streams cut after 2 events: before the end of an /input task (task, working, input-required)."""
    yield from _sandbox(drop_after=2)


@pytest.fixture(scope="session")
def sandbox_stall() -> Iterator[RunningSandbox]:
    """A stream that stalls 400 ms (events and pings) after 2 events; pings every 30 ms otherwise."""
    yield from _sandbox(sse_heartbeat=0.03, stall=0.4, stall_after=2)


DEBUG_TOKEN = "debug-s3cr3t-for-tests"


@pytest.fixture(scope="session")
def sandbox_leaky() -> Iterator[RunningSandbox]:
    """Sessions stay open after their tasks end (seed 001's leak); the debug API needs DEBUG_TOKEN."""
    yield from _sandbox(leak_sessions=True, debug_token=DEBUG_TOKEN)


@pytest.fixture(scope="session")
def sandbox_plain() -> Iterator[RunningSandbox]:
    """A plain a2a-sdk agent: no debug router (the sessions fallback path)."""
    yield from _sandbox(debug=False)


@pytest.fixture(scope="session")
def sandbox_plain_v03() -> Iterator[RunningSandbox]:
    yield from _sandbox(debug=False, versions=("0.3",))


@pytest.fixture(scope="session")
def sandbox_down() -> Iterator[RunningSandbox]:
    """Every RPC answers HTTP 503 (a target that is down: transient failures)."""
    yield from _sandbox(fail_rate=1.0, seed=1)


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real redis-server on a free loopback port in a temp dir. Missing redis-server: a skip with a
    reason, except in CI (CI=true), where it is a failure (.ci/run installs it)."""
    import shutil
    import subprocess
    import time

    exe = shutil.which("redis-server")
    if exe is None:
        if os.environ.get("CI") == "true":
            pytest.fail("redis-server is not installed; .ci/run must apt-get install -y redis-server")
        pytest.skip("redis-server is not installed (apt-get install -y redis-server)")
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    d = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen(
        [
            exe,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(d),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            assert time.monotonic() < deadline and proc.poll() is None, "redis-server did not start"
            time.sleep(0.05)
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="session")
def streams() -> Iterator[str]:
    with LoopbackServer(stream_app) as srv:
        yield srv.url


@pytest.fixture(scope="session")
def ws_fault() -> Iterator[str]:
    with LoopbackServer(ws_fault_app) as srv:
        yield srv.url.replace("http://", "ws://")


@pytest.fixture
def silent_ws() -> Iterator[str]:
    with SilentWebSocketServer() as srv:
        yield srv.url


@pytest.fixture(scope="session")
def fault() -> Iterator[str]:
    with LoopbackServer(fault_app) as srv:
        yield srv.url


@pytest.fixture(scope="session")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """The sandbox app over HTTPS with a trustme certificate for 127.0.0.1: ``(url, ca_path)``."""
    import trustme

    from a2actl.server.sandbox.app import build_app

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    d = tmp_path_factory.mktemp("tls")
    ca_path, cert_path, key_path = d / "ca.pem", d / "cert.pem", d / "key.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    cert.private_key_pem.write_to_path(str(key_path))
    cert.cert_chain_pems[0].write_to_path(str(cert_path))
    with LoopbackServer(
        lambda url: build_app(SandboxOptions(stream_interval=0.01), url),
        certfile=str(cert_path),
        keyfile=str(key_path),
    ) as srv:
        yield srv.url, str(ca_path)


@pytest.fixture
def refused_url() -> str:
    """A loopback port with nothing listening."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def sandbox_rpc_delay() -> Any:
    """A sandbox that waits 2 s before every RPC (cards come at once)."""
    from a2actl.server.sandbox.options import SandboxOptions
    from a2actl.server.sandbox.server import RunningSandbox

    sb = RunningSandbox(SandboxOptions(stream_interval=0.01, rpc_delay=2.0)).start()
    try:
        yield sb
    finally:
        sb.stop()
