"""A real RabbitMQ node for the RabbitMQ dead-letter tests: the Debian ``rabbitmq-server`` started
once per session in a temp dir, on free loopback ports (AMQP, distribution, epmd), with no plugins;
killed at the end. Missing binary: a skip with a reason, except in CI (``CI=true``), where it is a
failure (.ci/run installs it). Erlang takes ~5-10 s to boot, so every test gets its own queues in
the one node (``topology``) instead of its own broker.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"


def _free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = int(s.getsockname()[1])
    s.close()
    return port


@dataclass(frozen=True)
class Broker:
    """The running node: ``port`` (AMQP), ``url`` (``amqp://guest@127.0.0.1:PORT/%2F``, password in
    ``$A2ACTL_AMQP_PASSWORD`` for tests that set it), the user and password."""

    port: int
    tls_port: int
    ca: str
    env: tuple[tuple[str, str], ...] = ()
    user: str = "guest"
    password: str = "guest"

    def ctl(self, *args: str) -> str:
        """``rabbitmqctl ARGS`` against this node (its name, cookie and epmd port); stdout."""
        exe = os.path.join(os.path.dirname(SERVER), "rabbitmqctl")
        out = subprocess.run(
            [exe, *args], env=dict(self.env), capture_output=True, text=True, timeout=60, check=True
        )
        return out.stdout

    @property
    def base(self) -> str:
        return f"amqp://{self.user}@127.0.0.1:{self.port}/%2F"

    def connect_url(self) -> str:
        """aio-pika's own URL, for the test's own producer and consumer code (never a2actl's)."""
        return f"amqp://{self.user}:{self.password}@127.0.0.1:{self.port}/"


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    exe = SERVER if os.path.exists(SERVER) else shutil.which("rabbitmq-server")
    if exe is None:
        if os.environ.get("CI") == "true":
            pytest.fail("rabbitmq-server is not installed; .ci/run must apt-get install -y rabbitmq-server")
        pytest.skip("rabbitmq-server is not installed (apt-get install -y rabbitmq-server)")
    import trustme

    d = tmp_path_factory.mktemp("rabbitmq")
    port, tls_port, dist, epmd = _free_port(), _free_port(), _free_port(), _free_port()
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    ca.cert_pem.write_to_path(str(d / "ca.pem"))
    cert.private_key_pem.write_to_path(str(d / "key.pem"))
    cert.cert_chain_pems[0].write_to_path(str(d / "cert.pem"))
    (d / "rabbitmq.conf").write_text(
        f"listeners.tcp.default = 127.0.0.1:{port}\n"
        f"listeners.ssl.default = 127.0.0.1:{tls_port}\n"
        f"ssl_options.cacertfile = {d / 'ca.pem'}\n"
        f"ssl_options.certfile = {d / 'cert.pem'}\n"
        f"ssl_options.keyfile = {d / 'key.pem'}\n"
        "ssl_options.verify = verify_none\n"
        "ssl_options.fail_if_no_peer_cert = false\n"
        "loopback_users = none\n",
        encoding="utf-8",
    )
    (d / "enabled_plugins").write_text("[].\n", encoding="utf-8")
    (d / "mnesia").mkdir()
    (d / "log").mkdir()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(d),  # the Erlang cookie goes here
        "RABBITMQ_NODENAME": f"a2actl{uuid.uuid4().hex[:8]}@localhost",
        "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
        "RABBITMQ_NODE_PORT": str(port),
        "RABBITMQ_DIST_PORT": str(dist),
        "ERL_EPMD_PORT": str(epmd),
        "RABBITMQ_MNESIA_BASE": str(d / "mnesia"),
        "RABBITMQ_LOG_BASE": str(d / "log"),
        "RABBITMQ_CONFIG_FILE": str(d / "rabbitmq"),
        "RABBITMQ_ADVANCED_CONFIG_FILE": str(d / "advanced.config"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(d / "enabled_plugins"),
        "RABBITMQ_CONF_ENV_FILE": str(d / "rabbitmq-env.conf"),
        "LANG": "C.UTF-8",
    }
    log = open(d / "server.out", "wb")  # noqa: SIM115 - closed at the end of the session
    proc = subprocess.Popen([exe], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 60
    try:
        # ready when the broker says its boot completed: its AMQP listener accepts TCP a little
        # earlier and then closes the first connections (a fresh-clone CI run's 3.10 lane: "Server
        # connection unexpectedly closed" at a test's setup)
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                if b"Starting broker... completed" in (d / "server.out").read_bytes():
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                out = (d / "server.out").read_text(errors="replace")[-2000:]
                pytest.fail(f"rabbitmq-server did not start (exit {proc.poll()}):\n{out}")
            time.sleep(0.1)
        yield Broker(port, tls_port, str(d / "ca.pem"), tuple(env.items()))
    finally:
        # the whole process group: the script, beam.smp, epmd and erl_child_setup
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        # epmd daemonizes out of the process group: stop the one on this session's port
        epmd_exe = shutil.which("epmd") or "/usr/bin/epmd"
        if os.path.exists(epmd_exe):
            subprocess.run(
                [epmd_exe, "-port", str(epmd), "-kill"], env=env, capture_output=True, timeout=10, check=False
            )
        log.close()


@dataclass
class Topology:
    """One test's queues: ``work`` (durable, dead-letter exchange ``NAME.dlx``, a direct exchange)
    and ``dlq`` bound to that exchange; ``work`` is reached through the exchange ``NAME.in`` with
    routing key ``work``. ``src`` is the a2actl source URL of the DLQ."""

    broker: Broker
    name: str

    @property
    def dlq(self) -> str:
        return self.name + ".dlq"

    @property
    def work(self) -> str:
        return self.name + ".work"

    @property
    def exchange(self) -> str:
        return self.name + ".in"

    @property
    def src(self) -> str:
        return f"{self.broker.base}?queue={self.dlq}"

    async def _declare(self) -> None:
        import aio_pika

        conn = await aio_pika.connect(self.broker.connect_url())
        async with conn:
            ch = await conn.channel()
            dlx = await ch.declare_exchange(self.name + ".dlx", aio_pika.ExchangeType.FANOUT, durable=True)
            dlq = await ch.declare_queue(self.dlq, durable=True)
            await dlq.bind(dlx)
            ex = await ch.declare_exchange(self.exchange, aio_pika.ExchangeType.DIRECT, durable=True)
            work = await ch.declare_queue(
                self.work, durable=True, arguments={"x-dead-letter-exchange": self.name + ".dlx"}
            )
            await work.bind(ex, routing_key="work")

    def declare(self) -> Topology:
        asyncio.run(self._declare())
        return self

    async def _dead_letter(self, bodies: list[Any], headers: list[dict[str, Any]] | None) -> None:
        """Publish each body to the work queue (through its exchange), then consume and reject
        every one (requeue=False): RabbitMQ dead-letters them into the DLQ with x-death."""
        import aio_pika

        conn = await aio_pika.connect(self.broker.connect_url())
        async with conn:
            ch = await conn.channel(publisher_confirms=True)
            ex = await ch.get_exchange(self.exchange)
            for i, body in enumerate(bodies):
                raw = body if isinstance(body, bytes) else json.dumps(body).encode()
                h = (headers or [{}] * len(bodies))[i]
                mid = h.pop("message_id", None)
                await ex.publish(
                    aio_pika.Message(raw, headers=h, message_id=mid, content_type="application/json"),
                    routing_key="work",
                )
            work = await ch.get_queue(self.work)
            for _ in bodies:
                msg = await work.get(no_ack=False, timeout=5)
                await msg.reject(requeue=False)
        await self.wait_depth(len(bodies), at_least=True)

    def dead_letter(self, bodies: list[Any], headers: list[dict[str, Any]] | None = None) -> None:
        asyncio.run(self._dead_letter(bodies, [dict(h) for h in headers] if headers else None))

    async def _depths(self) -> tuple[int, int]:
        import aio_pika

        conn = await aio_pika.connect(self.broker.connect_url())
        async with conn:
            ch = await conn.channel()
            d = await ch.declare_queue(self.dlq, passive=True)
            w = await ch.declare_queue(self.work, passive=True)
            return int(d.declaration_result.message_count or 0), int(w.declaration_result.message_count or 0)

    def depths(self) -> tuple[int, int]:
        """``(DLQ ready messages, work queue ready messages)``."""
        return asyncio.run(self._depths())

    async def wait_depth(self, n: int, at_least: bool = False) -> None:
        deadline = time.monotonic() + 10
        while True:
            d, _ = await self._depths()
            if d == n or (at_least and d >= n):
                return
            assert time.monotonic() < deadline, f"DLQ depth {d}, expected {n}"
            await asyncio.sleep(0.05)

    async def _drain(self, queue: str) -> list[Any]:
        """Take (ack) every message of ``queue``: ``[(body, headers, message_id)]`` in order."""
        import aio_pika

        out = []
        conn = await aio_pika.connect(self.broker.connect_url())
        async with conn:
            ch = await conn.channel()
            q = await ch.get_queue(queue)
            while (m := await q.get(no_ack=True, fail=False)) is not None:
                out.append((json.loads(m.body), dict(m.headers or {}), m.message_id))
        return out

    def drain(self, queue: str) -> list[Any]:
        return asyncio.run(self._drain(queue))


@pytest.fixture
def topology(broker: Broker, monkeypatch: pytest.MonkeyPatch) -> Topology:
    """Fresh queues for one test, and ``A2ACTL_AMQP_PASSWORD`` set for a2actl."""
    monkeypatch.setenv("A2ACTL_AMQP_PASSWORD", broker.password)
    return Topology(broker, "t" + uuid.uuid4().hex[:10]).declare()


def journal(tmp_path: Path) -> str:
    return str(tmp_path / "journal.jsonl")
