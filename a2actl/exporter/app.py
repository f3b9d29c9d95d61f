"""The exporter's HTTP side (Starlette on uvicorn), blackbox_exporter's endpoints:

* ``GET /probe?target=URL[&module=NAME][&debug=true]``: one probe (``a2actl.exporter.probe``),
  answered in the Prometheus exposition format (a fresh registry per request) with HTTP 200 whatever
  the agent did: a dead agent is ``probe_success 0``, never a 5xx. HTTP 400 without probing for a
  missing, repeated or malformed ``target``, a repeated or unknown ``module``; 403 for a target
  outside a credentialed module's ``allow_targets``. ``debug=true`` answers the probe as JSON (``ProbeResult.to_json``;
  secrets masked). The probe's deadline is the module's ``timeout``, and at most Prometheus' scrape
  timeout (header ``X-Prometheus-Scrape-Timeout-Seconds``) less 0.5 s, as blackbox_exporter does,
  counted from the request's arrival. At most ``Exporter.max_concurrent`` probes run at once; a
  request beyond that waits for a slot inside its own deadline (the wait is spent from the probe's
  budget) and, when the deadline passes first, is answered HTTP 503 ``exporter busy`` without
  probing: Prometheus records a failed scrape (``up 0``), not a failed agent. A probe that waited
  10 % of its deadline or more (``SLOT_WAIT_SHARE``) and then timed out is answered the same 503.
* ``GET /metrics``: ``ExporterMetrics`` (the exporter's own metrics and the inventory's).
* ``GET /-/healthy``: ``OK``; ``GET /``: a short index page (text).

Only the exporter command imports this module (it imports Starlette at module level).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from starlette.applications import Starlette  # noqa: TID253 - only `a2actl exporter`'s body imports this
from starlette.requests import Request  # noqa: TID253
from starlette.responses import PlainTextResponse, Response  # noqa: TID253
from starlette.routing import Route  # noqa: TID253

from a2actl.core.errors import UsageError
from a2actl.exporter.metrics import ExporterMetrics, encode, probe_registry
from a2actl.exporter.probe import normalise_target, probe_target

if TYPE_CHECKING:
    from a2actl.core.config import Settings
    from a2actl.exporter.config import Module
    from a2actl.exporter.schedule import InventoryLoop, Prober

#: blackbox_exporter's ``--timeout-offset``: the probe ends this long (seconds) before Prometheus
#: gives up on the scrape, so that the answer still arrives.
TIMEOUT_OFFSET = 0.5
#: ``--max-concurrent``'s default: ``/probe`` probes running at once. blackbox_exporter has no such
#: limit, but an a2actl probe holds the agent's card in memory (up to ``Settings.max_card_bytes``,
#: 10 MiB: 40 probes of a 10 MB card took the exporter from 54 to 584 MB) and builds an HTTP client;
#: 1,500 at once kept the event loop so busy that ``/-/healthy`` took 7 s. 32 bounds the worst case
#: near 500 MB (measured: 14 MB per probe of a 10 MB card) and leaves room for slow agents: a healthy
#: probe takes milliseconds, a hung one holds its slot up to its deadline (32 slots / 10 s deadlines
#: = 3 hung probes a second).
DEFAULT_MAX_CONCURRENT = 32
_TEXT = "text/plain; charset=utf-8"


@dataclass
class Exporter:
    """What the server serves: ``modules`` by name, the ``base`` settings of every probe (the
    command's TLS options and timeouts, no credentials), the ``metrics`` registry, and the
    ``loop`` over the inventory (``None`` without ``--inventory``), ``max_concurrent``: ``/probe``
    probes running at once (the inventory loop has its own ``concurrency``). ``prober``: a test seam."""

    modules: dict[str, Module]
    base: Settings
    metrics: ExporterMetrics
    loop: InventoryLoop | None = None
    prober: Prober | None = None
    max_concurrent: int = DEFAULT_MAX_CONCURRENT


def probe_timeout(module: Module, scrape_timeout: str | None) -> float:
    """The deadline of a ``/probe`` probe in seconds: the module's ``timeout``, lowered to Prometheus'
    scrape timeout (the header's value) less ``TIMEOUT_OFFSET`` (less 10 % when that leaves nothing)."""
    limit = module.timeout
    try:
        scrape = float(scrape_timeout) if scrape_timeout else None
    except ValueError:
        scrape = None
    if scrape is not None and scrape > 0:
        limit = min(limit, scrape - TIMEOUT_OFFSET if scrape > 2 * TIMEOUT_OFFSET else scrape * 0.9)
    return limit


def build_app(exporter: Exporter) -> Starlette:
    """The Starlette application; its lifespan runs the inventory loop (when there is one) as a task
    of the server's event loop and cancels it at shutdown."""
    slots = asyncio.Semaphore(max(1, exporter.max_concurrent))
    exporter.metrics.max_concurrent.set(max(1, exporter.max_concurrent))

    async def probe(request: Request) -> Response:
        arrived = time.monotonic()
        params = request.query_params
        for key in ("target", "module"):
            if len(params.getlist(key)) > 1:
                exporter.metrics.rejected.labels("repeated_parameter").inc()
                return PlainTextResponse(f"Parameter {key!r} given more than once\n", status_code=400)
        raw_target = params.get("target")
        name = params.get("module") or "default"
        if not raw_target:
            exporter.metrics.rejected.labels("missing_target").inc()
            return PlainTextResponse("Target parameter is missing\n", status_code=400)
        masked = _masker(raw_target)
        module = exporter.modules.get(name)
        if module is None:
            exporter.metrics.rejected.labels("unknown_module").inc()
            known = ", ".join(sorted(exporter.modules))
            return PlainTextResponse(f"Unknown module {name!r} (modules: {known})\n", status_code=400)
        try:
            target = normalise_target(raw_target)
        except UsageError as err:
            exporter.metrics.rejected.labels("bad_target").inc()
            return PlainTextResponse(f"Bad target: {masked(err.message)}\n", status_code=400)
        if not module.allows(target):
            exporter.metrics.rejected.labels("target_not_allowed").inc()
            why = (
                "it sends credentials and has no allow_targets"
                if not module.allow_targets
                else "the target is not under its allow_targets"
            )
            return PlainTextResponse(f"Module {name!r} may not probe this target: {why}\n", status_code=403)
        prober = exporter.prober or probe_target
        timeout = probe_timeout(module, request.headers.get("x-prometheus-scrape-timeout-seconds"))
        try:
            waited = await _take_slot(slots, exporter.metrics, arrived + timeout)
        except asyncio.CancelledError:
            return PlainTextResponse("the exporter is shutting down\n", status_code=503)
        if waited is None:
            exporter.metrics.rejected.labels("busy").inc()
            return PlainTextResponse(
                f"exporter busy: {exporter.max_concurrent} probes in flight (--max-concurrent) for the "
                f"whole {timeout:g}s deadline of this probe\n",
                status_code=503,
                headers={"Retry-After": "1"},
            )
        budget = timeout - (time.monotonic() - arrived)
        exporter.metrics.in_flight.inc()
        try:
            result = await prober(target, module, exporter.base, timeout=budget)
        except asyncio.CancelledError:
            # uvicorn cancels the requests still running 2 s after Ctrl-C/SIGTERM: an answer that
            # says so, not a traceback on stderr and a 500
            return PlainTextResponse("the exporter is shutting down\n", status_code=503)
        finally:
            exporter.metrics.in_flight.dec()
            slots.release()
        if result.cause == "timeout" and waited >= SLOT_WAIT_SHARE * timeout:
            # the wait for a slot ate a real share of its deadline: a timeout now is the exporter's
            # overload as much as the agent's, so it is answered as one (503, Prometheus' up 0), not
            # as probe_success 0, which would fire the agent's alerts (a probe that got its slot with
            # 0.14 ms left timed out at once and blamed the agent). A short wait keeps the agent's
            # timeout: slots fill up when agents hang, and their alerts must still fire (review r1)
            exporter.metrics.rejected.labels("busy").inc()
            return PlainTextResponse(
                f"exporter busy: this probe waited {waited:.2f}s of its {timeout:g}s deadline for a free "
                f"slot (--max-concurrent {exporter.max_concurrent}) and timed out in the "
                f"{max(budget, 0.0):.2f}s left; not counted against the agent\n",
                status_code=503,
                headers={"Retry-After": "1"},
            )
        exporter.metrics.probed(name, result)
        if params.get("debug", "").lower() in ("1", "true", "yes"):
            doc = {
                "target": _without_userinfo(target),
                "module": module.to_json(),
                "timeout": timeout,
                "waitedForSlot": waited,
                **result.to_json(),
            }
            return Response(masked(json.dumps(doc, indent=2)) + "\n", media_type="application/json")
        body, content_type = encode(probe_registry(result), request.headers.get("accept"))
        return Response(body, headers={"Content-Type": content_type})

    async def metrics(request: Request) -> Response:
        body, content_type = encode(exporter.metrics.registry, request.headers.get("accept"))
        return Response(body, headers={"Content-Type": content_type})

    async def healthy(request: Request) -> Response:
        return PlainTextResponse("OK\n")

    async def index(request: Request) -> Response:
        lines = [
            "a2actl exporter",
            "",
            "/probe?target=URL&module=NAME   one A2A handshake probe (Prometheus text)",
            "/probe?target=URL&debug=true    the same probe as JSON",
            "/metrics                        the exporter's own metrics and the inventory's",
            "",
            "modules: " + ", ".join(sorted(exporter.modules)),
        ]
        if exporter.loop is not None:
            lines.append(
                f"inventory: {len(exporter.loop.agents)} agents every {exporter.loop.interval:g}s "
                f"(module {exporter.loop.module.name})"
            )
        return PlainTextResponse("\n".join(lines) + "\n")

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        task = asyncio.ensure_future(exporter.loop.run()) if exporter.loop is not None else None
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    return Starlette(
        routes=[
            Route("/probe", probe, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
            Route("/-/healthy", healthy, methods=["GET"]),
            Route("/", index, methods=["GET"]),
        ],
        lifespan=lifespan,
    )


#: The share of a probe's deadline spent waiting for a slot from which a timeout is the exporter's
#: (HTTP 503), not the agent's (``probe_success 0``).
SLOT_WAIT_SHARE = 0.1


async def _take_slot(slots: asyncio.Semaphore, metrics: ExporterMetrics, deadline: float) -> float | None:
    """Acquire one of ``slots`` before ``deadline`` (``time.monotonic()``): the seconds waited, or
    ``None`` when the deadline passed first (nothing acquired). Counted in the waiting gauge."""
    t0 = time.monotonic()
    if not slots.locked():
        await slots.acquire()  # free: returns at once
        return 0.0
    metrics.waiting.inc()
    try:
        await asyncio.wait_for(slots.acquire(), max(0.0, deadline - t0))
    except asyncio.TimeoutError:
        return None
    finally:
        metrics.waiting.dec()
    if time.monotonic() >= deadline:  # acquired, but nothing left of the budget
        slots.release()
        return None
    return time.monotonic() - t0


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (``0``: a free port). Raises ``OSError``."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)  # TCP_NODELAY on accept
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(
            2048
        )  # uvicorn's default backlog: a burst of scrapes is not answered with SYN retries (1 s each)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


def url_of(sock: socket.socket, host: str) -> str:
    """``http://HOST:PORT`` of a bound socket (an IPv6 host in brackets)."""
    port = sock.getsockname()[1]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def serve(exporter: Exporter, sock: socket.socket, on_ready: Callable[[], None] | None = None) -> None:
    """Serve on ``sock`` until interrupted (uvicorn: Ctrl-C or SIGTERM finishes the requests in
    flight, at most 2 s, stops the inventory loop, then ``KeyboardInterrupt`` reaches the caller for
    Ctrl-C). No access log: a ``/probe`` query holds the target URL."""
    import uvicorn

    config = uvicorn.Config(
        build_app(exporter),
        log_level="warning",
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    if on_ready is not None:
        on_ready()
    server.run(sockets=[sock])


def _masker(target: str) -> Callable[[str], str]:
    """A masker for one ``/probe`` request's answers: every secret the process knows, plus the
    target's own URL credentials: its userinfo (the password, else a lone user part, often a token)
    and every query value (a debug answer loses nothing by masking a harmless one). They are not
    registered process-wide: anyone may send any target, and a long-running exporter must not grow
    its secret registry (and the cost of every redaction) with each request."""
    from urllib.parse import parse_qsl

    from a2actl.core.redact import Redactor, urlsplit_lenient

    own: list[str] = []
    try:
        # lenient: a host that does not parse (an unclosed '[') is quoted back in the 400 answer
        p = urlsplit_lenient(target if "://" in target else "http://" + target)
        user = p.password or p.username
        own += [user] if user else []
        own += [v for _, v in parse_qsl(p.query)]
    except ValueError:
        pass
    return Redactor([v for v in own if len(v) >= 4])


def _without_userinfo(url: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    try:
        p = urlsplit(url)
    except ValueError:
        return url
    return urlunsplit(p._replace(netloc=p.netloc.rpartition("@")[2]))


__all__ = [
    "DEFAULT_MAX_CONCURRENT",
    "TIMEOUT_OFFSET",
    "Exporter",
    "bind",
    "build_app",
    "probe_timeout",
    "serve",
    "url_of",
]
