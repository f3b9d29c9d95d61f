"""gRPC fixtures (issue #18): the sandbox with its gRPC interface on, and a PLAIN a2a-sdk 1.3 gRPC
agent for interop, each on 127.0.0.1 port 0 in a background thread, torn down after use.

Sandboxes (``a2actl.server.sandbox.server.RunningSandbox``: ``.url`` the HTTP base URL, the card at
``.url + "/.well-known/agent-card.json"``, ``.grpc_url`` the gRPC target ``127.0.0.1:PORT`` as the
card declares it, last in ``supportedInterfaces``):

* ``sandbox_grpc``         1.0 + 0.3 (services ``lf.a2a.v1.A2AService`` and ``a2a.v1.A2AService``),
                           reflection on; session scope
* ``sandbox_grpc_v1``      1.0 only (``lf.a2a.v1.A2AService``); session scope
* ``sandbox_grpc_auth``    RPCs need metadata ``authorization: Bearer <tests.conftest.TOKEN>``
                           (``UNAUTHENTICATED`` otherwise); session scope
* ``sandbox_grpc_streams`` ``SendStreamingMessage`` ends with ``UNAVAILABLE`` "stream cut after 3
                           events (--drop-after)" after 3 events (``SubscribeToTask`` is not cut); session
* ``sandbox_grpc_slow``    the first RPC of each connection waits 0.3 s (``handshake_delay``); session
* ``sandbox_grpc_down``    every RPC ``UNAVAILABLE`` "injected failure (--fail-rate)"; session
* ``sandbox_grpc_fresh``   a new default one per test (an empty task store); function scope
* ``make_sandbox_grpc``    a factory: ``make_sandbox_grpc(**SandboxOptions fields)`` → a started sandbox,
                           stopped after the test; function scope

Plain a2a-sdk agents (``tests.grpc.sdk_grpc_agent.SdkGrpcAgent``: ``.url``, ``.card_url``,
``.grpc_url``, ``.jsonrpc_url``, ``.ca_path``):

* ``sdk_grpc_agent``         card declares only GRPC; module scope
* ``sdk_grpc_agent_jsonrpc`` card declares GRPC first, then JSONRPC; module scope
* ``sdk_grpc_agent_tls``     GRPC only, the gRPC port speaks TLS (``.ca_path``: the trustme CA); module
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

pytest.importorskip("grpc", reason="the grpc extra is not installed (pip install 'a2actl[grpc]')")

from a2actl.server.sandbox.options import SandboxOptions  # noqa: E402
from a2actl.server.sandbox.server import RunningSandbox  # noqa: E402
from tests.conftest import TOKEN  # noqa: E402
from tests.grpc.sdk_grpc_agent import SdkGrpcAgent  # noqa: E402


def _sandbox_grpc(**kw: Any) -> Iterator[RunningSandbox]:
    sb = RunningSandbox(SandboxOptions(stream_interval=0.01, grpc=True, **kw)).start()
    try:
        yield sb
    finally:
        sb.stop()


@pytest.fixture(scope="session")
def sandbox_grpc() -> Iterator[RunningSandbox]:
    """The default sandbox (1.0 + 0.3) with its gRPC interface (both services, reflection)."""
    yield from _sandbox_grpc()


@pytest.fixture(scope="session")
def sandbox_grpc_v1() -> Iterator[RunningSandbox]:
    """1.0 only: the card declares JSONRPC, HTTP+JSON, WebSocket and GRPC at 1.0."""
    yield from _sandbox_grpc(versions=("1.0",))


@pytest.fixture(scope="session")
def sandbox_grpc_auth() -> Iterator[RunningSandbox]:
    """RPCs (HTTP and gRPC) need ``Bearer TOKEN``."""
    yield from _sandbox_grpc(require_token=TOKEN)


@pytest.fixture(scope="session")
def sandbox_grpc_streams() -> Iterator[RunningSandbox]:
    """Send streams are cut after 3 events (gRPC: ``UNAVAILABLE``)."""
    yield from _sandbox_grpc(drop_after=3)


@pytest.fixture(scope="session")
def sandbox_grpc_slow() -> Iterator[RunningSandbox]:
    """The first RPC of each gRPC connection (and each card fetch) waits 0.3 s."""
    yield from _sandbox_grpc(handshake_delay=0.3)


@pytest.fixture(scope="session")
def sandbox_grpc_down() -> Iterator[RunningSandbox]:
    """Every RPC fails: HTTP 503, gRPC ``UNAVAILABLE``."""
    yield from _sandbox_grpc(fail_rate=1.0, seed=1)


@pytest.fixture
def sandbox_grpc_fresh() -> Iterator[RunningSandbox]:
    """A new default sandbox with gRPC for one test (nothing in its task store)."""
    yield from _sandbox_grpc()


@pytest.fixture
def make_sandbox_grpc() -> Iterator[Callable[..., RunningSandbox]]:
    """``make(**SandboxOptions fields)`` → a started sandbox with gRPC; all stopped after the test."""
    started: list[RunningSandbox] = []

    def make(**kw: Any) -> RunningSandbox:
        kw.setdefault("stream_interval", 0.01)
        sb = RunningSandbox(SandboxOptions(grpc=True, **kw)).start()
        started.append(sb)
        return sb

    try:
        yield make
    finally:
        for sb in started:
            sb.stop()


@pytest.fixture(scope="module")
def sdk_grpc_agent() -> Iterator[SdkGrpcAgent]:
    """A plain a2a-sdk 1.3 gRPC agent; its card declares only GRPC."""
    with SdkGrpcAgent() as agent:
        yield agent


@pytest.fixture(scope="module")
def sdk_grpc_agent_jsonrpc() -> Iterator[SdkGrpcAgent]:
    """A plain a2a-sdk 1.3 agent whose card declares GRPC first, then JSONRPC (same handler)."""
    with SdkGrpcAgent(jsonrpc=True) as agent:
        yield agent


@pytest.fixture(scope="module")
def sdk_grpc_agent_tls() -> Iterator[SdkGrpcAgent]:
    """A plain a2a-sdk 1.3 gRPC agent over TLS (``.ca_path`` trusts it); the card is plain HTTP."""
    with SdkGrpcAgent(tls=True) as agent:
        yield agent
