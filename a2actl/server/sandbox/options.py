"""Options of the sandbox agent (pure data, importable without a2a-sdk), and the loop-blocking sleep
of ``--blocking-handshake`` (``block_loop``) the HTTP and gRPC sides share."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from a2actl.core.units import parse_duration

RPC_PREFIX = "/a2a"
JSONRPC_PATH = "/a2a/jsonrpc"
REST_PATH = "/a2a/rest"
HANDSHAKE_PATH = "/a2a/handshake"
QUEUE_PATH = "/a2a/queue"

SERVICE_TIME_EXAMPLES = "50ms, exp:50ms, uniform:10ms-90ms, normal:50ms,10ms"


@dataclass(frozen=True)
class ServiceTime:
    """A per-request service time distribution, in seconds (``--service-time DIST``).

    ``kind`` and its parameters (seconds): ``const`` (``a``: the time), ``exp`` (``a``: the mean of an
    exponential distribution), ``uniform`` (between ``a`` and ``b``), ``normal`` (mean ``a``, standard
    deviation ``b``; samples below 0 are clamped to 0). ``text`` is the DIST it was parsed from.
    """

    kind: str
    a: float
    b: float = 0.0
    text: str = ""

    @classmethod
    def parse(cls, text: str) -> ServiceTime:
        """``"50ms"`` (constant), ``"exp:50ms"``, ``"uniform:10ms-90ms"``, ``"normal:50ms,10ms"`` → a
        ``ServiceTime``; durations as ``a2actl.core.units.parse_duration`` reads them (``1.5`` is
        seconds). Raises ``ValueError`` naming ``text`` (the CLI turns it into exit 2)."""
        kind, sep, rest = text.strip().partition(":")
        try:
            if not sep:
                return cls("const", parse_duration(kind), text=text)
            if kind == "exp":
                return cls("exp", parse_duration(rest), text=text)
            if kind == "uniform":
                lo_text, dash, hi_text = rest.partition("-")
                lo, hi = parse_duration(lo_text), parse_duration(hi_text)
                if dash and lo <= hi:
                    return cls("uniform", lo, hi, text=text)
            if kind == "normal":
                mean_text, comma, sd_text = rest.partition(",")
                if comma:
                    return cls("normal", parse_duration(mean_text), parse_duration(sd_text), text=text)
        except ValueError:
            pass
        raise ValueError(f"not a service-time distribution: {text!r} (examples: {SERVICE_TIME_EXAMPLES})")

    @property
    def mean(self) -> float:
        """The distribution's mean in seconds (for ``normal``, before clamping at 0)."""
        return (self.a + self.b) / 2 if self.kind == "uniform" else self.a

    def sample(self, rng: random.Random) -> float:
        """One service time in seconds (never negative), drawn with ``rng``."""
        if self.kind == "exp":
            return rng.expovariate(1.0 / self.a) if self.a > 0 else 0.0
        if self.kind == "uniform":
            return rng.uniform(self.a, self.b)
        if self.kind == "normal":
            return max(0.0, rng.gauss(self.a, self.b))
        return self.a


#: The slices (seconds) ``block_loop`` sleeps in, asking between them whether to stop.
BLOCK_SLICE = 0.1


def block_loop(seconds: float, stopping: Callable[[], bool]) -> None:
    """``--blocking-handshake``: block the calling thread (the event loop, on purpose) for
    ``seconds`` with ``time.sleep``, in ``BLOCK_SLICE`` slices, returning early once ``stopping()``
    is true (the server should exit). One ``time.sleep`` held Ctrl-C/SIGTERM off for its whole
    length (``--blocking-handshake 1h``: the signal handler ran, the sleep went on), and one past
    what ``time.sleep`` takes (about 9.2e9 s) raised ``OverflowError`` on every card request."""
    end = time.monotonic() + seconds
    while not stopping():
        left = end - time.monotonic()
        if left <= 0:
            return
        time.sleep(min(left, BLOCK_SLICE))


#: Addresses that listen on every interface: no client can connect to them by that name.
WILDCARD_HOSTS = ("0.0.0.0", "::", "")


@dataclass(frozen=True)
class SandboxOptions:
    """How the sandbox behaves. Delays are seconds; ``fail_rate`` is a fraction in [0, 1].

    ``versions``: the wire versions the card declares and the server speaks: ``("1.0", "0.3")``
    (default: 1.0 with 0.3 compatibility, a hybrid card), ``("1.0",)`` (1.0 only) or ``("0.3",)``
    (the card declares only 0.3 interfaces). ``card_style="0.2"`` serves a 0.2.5-style card at the
    legacy ``/.well-known/agent.json`` only. ``require_token``: RPCs and the handshake need
    ``Authorization: Bearer <token>`` (the card stays public). ``strip_version_header`` emulates a
    proxy that drops ``A2A-Version`` before the agent sees it. ``claim_capabilities`` names
    capabilities (``streaming``, ``pushNotifications``, ``extendedAgentCard``) the served card claims
    although the agent does not implement them (a card that lies, for ``caps validate --live``).
    ``vary_card`` serves the card the way the JS SDK does: a pure 1.0 card for ``A2A-Version: 1.0``,
    the hybrid card otherwise, with ``Vary: A2A-Version``.

    Stream knobs (seconds / counts), applied to SSE responses by the fault middleware:
    ``sse_heartbeat`` sends ``: ping`` comments at that interval (the SDK's own are every 15 s);
    ``drop_after`` cuts a *send* stream (not a resubscribe) abruptly after that many events;
    ``stall`` pauses everything (events and pings) for that long after ``stall_after`` events.
    ``ws_ping_interval`` is the WebSocket channel's ping interval.

    Debug API (``docs/debug-endpoints.md``): ``debug`` mounts it at ``/debug/a2a`` (off: a plain
    a2a-sdk agent); ``debug_token`` protects it (``None``: open, and a2actl warns);
    ``max_session_age`` seconds; ``leak_sessions`` keeps sessions open after their tasks end.

    Dead letters (``docs/dlq.md``): ``dlq`` (a file or redis URL) enables the queue-backed worker at
    ``POST /a2a/queue``; ``worker_fault`` (``transient``/``permanent``) makes it fail and dead-letter.

    gRPC (``docs/grpc.md``, needs the ``grpc`` extra): ``grpc`` serves a2a-sdk's gRPC handler on its own
    port ``grpc_port`` (0: a free one) over the same agent and task store, declared last on the card
    (``a2actl.server.sandbox.grpc``). Off here by default; ``a2actl sandbox serve`` turns it on when
    grpcio is importable.

    ``public_url``: the base URL the card's interfaces start with (``https://agent.example:8443``), for
    a sandbox behind a proxy or NAT; ``None``: ``http://HOST:PORT``, where for a wildcard ``host``
    (``0.0.0.0``, ``::``) each card answer names the host the client asked for (its ``Host`` header;
    this machine's host name where no request says: gRPC). gRPC is declared on the public URL's host
    with ``grpc_port``.
    """

    host: str = "127.0.0.1"
    port: int = 0
    versions: tuple[str, ...] = ("1.0", "0.3")
    card_style: str = "current"
    handshake_delay: float = 0.0
    rpc_delay: float = 0.0
    fail_rate: float = 0.0
    stream_interval: float = 0.05
    require_token: str | None = None
    strip_version_header: bool = False
    claim_capabilities: tuple[str, ...] = ()
    vary_card: bool = False
    sse_heartbeat: float | None = None
    drop_after: int | None = None
    stall: float = 0.0
    stall_after: int = 1
    ws_ping_interval: float | None = 5.0
    debug: bool = True
    debug_token: str | None = None
    max_session_age: float | None = 300.0
    leak_sessions: bool = False
    dlq: str | None = None
    worker_fault: str | None = None
    worker_attempts: int = 3
    service_time: ServiceTime | None = None
    max_concurrency: int = 0
    blocking_handshake: float = 0.0
    grpc: bool = False
    grpc_port: int = 0
    public_url: str | None = None
    name: str = "a2actl sandbox agent"
    seed: int | None = None
