"""The webhook receiver of ``push listen``: a Starlette app on uvicorn, on a socket bound here (port
0: a free one), HTTPS with a certificate and key. Every POST (any path) becomes a ``Delivery`` for the
``PushChecker`` and is answered 204 (accepted), 400 (invalid body) or 401 (credentials do not match);
anything else is 405. No access log: the request headers carry the token.

starlette and uvicorn (the ``exporter`` extra) are imported inside the functions, so importing this
module costs nothing; only the ``push listen`` command body imports it.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from a2actl.core.errors import UsageError
from a2actl.protocol.versions import Family, StateKind, state_kind
from a2actl.push.checks import MAX_BODY, MAX_UNTRUSTED_BODY, Delivery, PushChecker, PushConfig, PushSummary

if TYPE_CHECKING:
    from a2actl.core.config import Settings
    from a2actl.core.sink import EventSink
    from a2actl.push.checks import Emit


#: Seconds an idle keep-alive connection stays open (nginx's default; uvicorn's is 5).
KEEP_ALIVE = 75


@dataclass(frozen=True)
class ListenOptions:
    """Where and how to listen. ``host``/``port`` (0: a free port), ``tls_cert``/``tls_key`` (PEM
    files: HTTPS), ``public_url`` (the URL given to the agent when it differs from the listening one,
    e.g. behind NAT; default the listening URL), ``max_time`` seconds (``None``: no bound),
    ``strict_order`` (order problems fail the run), ``fail_on`` (canonical task states that fail a
    listen ending in them, ``--fail-on``), ``linger`` seconds to keep receiving after the
    terminal or interrupted state arrived (deliveries sent concurrently or re-sent after it: at-least-once,
    order not promised; A2A v1.0 §4.3.3), within ``max_time``. ``tls_data``: ``(path, content)`` of
    a ``tls_cert``/``tls_key`` read ahead (a FIFO or ``<(cmd)``: it reads once, and ssl would block
    in ``open`` on one nobody writes); loaded from private copies (``core.tlsfiles.loadable``)."""

    host: str = "127.0.0.1"
    port: int = 0
    tls_cert: str | None = None
    tls_key: str | None = None
    public_url: str | None = None
    max_time: float | None = None
    strict_order: bool = False
    fail_on: frozenset[str] = frozenset()
    linger: float = 0.5
    #: The path of the webhook URL (deliveries to any path are accepted and recorded).
    path: str = "/a2a/push"
    tls_data: tuple[tuple[str, bytes], ...] = field(default=(), repr=False)


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:0`` for IPv6; ``:PORT`` means 127.0.0.1) → ``(host, port)``. Raises
    ``UsageError`` (exit 2) for anything else."""
    host, sep, port = text.strip().rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise UsageError(f"--listen {text!r}: expected HOST:PORT, e.g. 127.0.0.1:0 or [::1]:8443")
    host = host.strip("[]") or "127.0.0.1"
    return host, int(port)


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port``. Raises ``UsageError`` (exit 2) when it cannot bind."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    sock.setblocking(False)
    return sock


def url_of(sock: socket.socket, host: str, tls: bool) -> str:
    """``http(s)://HOST:PORT`` of a bound socket (an IPv6 host in brackets)."""
    port = sock.getsockname()[1]
    scheme = "https" if tls else "http"
    return f"{scheme}://[{host}]:{port}" if ":" in host else f"{scheme}://{host}:{port}"


def check_public_url(url: str | None) -> None:
    """Raise ``UsageError`` (exit 2) unless ``url`` (``--public-url``) is ``None`` or an absolute
    ``http(s)://HOST…`` URL: the config's ``url`` is where the agent POSTs (A2A v1.0 §4.3.2)."""
    if url is None:
        return
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url.strip())
        host = parts.hostname
    except ValueError:
        host, parts = None, None
    if parts is None or parts.scheme not in ("http", "https") or not host:
        raise UsageError(
            "--public-url: expected an absolute http(s) URL with a host, e.g. https://hooks.example.com/a2a/push"
        )


def check_tls_pair(cert: str | None, key: str | None) -> None:
    """Raise ``UsageError`` (exit 2) unless both or neither of ``cert``/``key`` are given."""
    if (cert is None) != (key is None):
        raise UsageError("--tls-cert and --tls-key go together (PEM certificate and its private key)")


def check_tls(cert: str | None, key: str | None, files: Mapping[str, str] | None = None) -> None:
    """Raise ``UsageError`` (exit 2) unless both or neither of ``cert``/``key`` are given and they
    load as a PEM certificate chain and its unencrypted private key. An encrypted key is refused
    (OpenSSL would otherwise prompt for its pass phrase on the terminal, here and again in uvicorn,
    and wait). ``files``: where to load each path from (``core.tlsfiles.loadable``: a private copy
    of a FIFO's content); messages name the paths as given."""
    check_tls_pair(cert, key)
    if cert is None or key is None:
        return
    files = files or {}
    import ssl

    class _Encrypted(Exception):
        pass

    def no_pass_phrase() -> bytes:
        raise _Encrypted

    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        ctx.load_cert_chain(files.get(cert, cert), files.get(key, key), password=no_pass_phrase)
    except _Encrypted:
        raise UsageError(
            f"--tls-key {key}: the private key is encrypted (a pass phrase cannot be given)",
            hint=f"decrypt a copy: openssl pkey -in {key} -out KEY.pem (and keep it private)",
        ) from None
    except (OSError, ssl.SSLError) as exc:
        raise UsageError(f"--tls-cert/--tls-key: cannot load {cert} with {key}: {exc}") from exc


async def _read_body(request: Any, limit: int) -> tuple[bytes | None, int, bool, int | None]:
    """``(body, size, complete, announced)``: the body, or ``None`` past ``limit`` bytes; ``size`` is
    the bytes received (read so far, when reading stopped past ``limit``; 0 when the
    ``Content-Length`` announced more than ``limit`` and nothing was read); ``announced`` that
    ``Content-Length`` when it is why the body was not read, else ``None``; ``complete`` is false
    when the sender closed the connection before the end of the body, or the body was still
    arriving when the listen ended (uvicorn cancels the request after its graceful-shutdown delay):
    what came is returned, so the delivery is recorded rather than lost (and uvicorn prints no
    traceback)."""
    from starlette.requests import ClientDisconnect

    announced = request.headers.get("content-length")
    if announced and announced.isdigit() and int(announced) > limit:
        return None, 0, True, int(announced)
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                return None, size, True, None
            chunks.append(chunk)
    except (ClientDisconnect, asyncio.CancelledError):
        return b"".join(chunks), size, False, None
    return b"".join(chunks), size, True, None


def build_app(checker: PushChecker, on_delivery: Callable[[], None]) -> Any:
    """The receiver's Starlette app: each POST is checked by ``checker``; ``on_delivery`` runs after
    each (the listen loop looks at ``checker.done``)."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    async def receive(request: Request) -> Response:
        wall = time.time_ns()
        headers = {k.lower(): v for k, v in request.headers.items()}
        limit = MAX_BODY if checker.trusts(headers) else MAX_UNTRUSTED_BODY
        body, size, complete, announced = await _read_body(request, limit)
        verdict = checker.deliver(
            Delivery(headers, body, size, request.url.path, wall, complete, limit, announced)
        )
        on_delivery()
        return Response(status_code=verdict.status)

    return Starlette(routes=[Route("/{path:path}", receive, methods=["POST"])])


async def listen_job(
    settings: Settings,
    sink: EventSink | None,
    emit: Emit,
    *,
    opts: ListenOptions,
    token: str | None,
    scheme: str | None,
    credentials: str | None,
    register_target: str | None,
    task: str | None,
    send: str | None,
    card_path: str | None,
    on_ready: Callable[[str, PushConfig], None],
    on_registered: Callable[[dict[str, Any], PushConfig, Family], None],
) -> PushSummary:
    """Listen until the task reached a terminal or interrupted state (``checker.done``; then
    ``opts.linger`` seconds more, for deliveries sent concurrently with it or re-sent, or until the
    interrupted task resumes) or ``opts.max_time`` passes; returns the summary
    (its ``exit`` is the command's, ``checks.push_exit``). ``on_ready(url, config)`` runs once the
    receiver accepts connections on ``url`` (``config.url``, the webhook given out, differs with
    ``opts.public_url``); then, with ``register_target``, the agent is connected
    (``agent.connect``) and told about the config: ``--task`` registers it (``register.register``),
    ``--send`` sends a message carrying it (``register.send_with_push``); ``on_registered(info,
    config, family)`` runs after. The config is the webhook URL with ``token`` and, when ``scheme`` is
    given, ``authentication {scheme, credentials}``. Without an agent the bodies are checked as
    ``--a2a-version`` says (``0.3``; else 1.0); with one, as the negotiated family.

    Raises ``UsageError`` (2) for a bad address, TLS files or option mix, or a ``--task`` that
    already ended (GetTask, before anything is registered); the registration's errors
    (1 A2A error, 3/4/5 transport, 6 protocol)."""
    import uvicorn

    from a2actl.core.tlsfiles import loadable

    check_tls_pair(opts.tls_cert, opts.tls_key)
    check_public_url(opts.public_url)
    if register_target is None and (task is not None or send is not None):
        raise UsageError("--task and --send need --register TARGET (the agent to tell)")
    if register_target is not None and (task is None) == (send is None):
        raise UsageError(
            "with --register give exactly one of --task ID (an existing task) or --send TEXT (a new one)"
        )
    if task is not None and not task.strip():
        raise UsageError("the task id is empty")
    sock = bind(opts.host, opts.port)
    tls = opts.tls_cert is not None
    url = url_of(sock, opts.host, tls)
    hook = url + opts.path if opts.public_url is None else opts.public_url.strip()
    cfg = PushConfig(hook, token, scheme, credentials)
    expected = Family.V0_3 if settings.a2a_version in ("0.3", "0.2") else Family.V1_0
    arrived = asyncio.Event()
    checker = PushChecker(
        cfg, emit, family=expected, strict_order=opts.strict_order, task_id=task, fail_on=opts.fail_on
    )
    # a FIFO's content (read ahead) is loaded from private copies, removed once uvicorn loaded them
    with loadable((opts.tls_cert, opts.tls_key), dict(opts.tls_data)) as files:
        try:
            check_tls(opts.tls_cert, opts.tls_key, files)
            config = uvicorn.Config(
                build_app(checker, arrived.set),
                log_level="warning",
                access_log=False,
                lifespan="off",
                timeout_graceful_shutdown=2,
                # Longer than the idle expiry of the agents' HTTP pools (httpx: 5 s, uvicorn's
                # default here too): the agent drops an idle connection before the receiver closes
                # it, so a delivery never races the close on a reused connection (and is not lost).
                timeout_keep_alive=KEEP_ALIVE,
                ssl_certfile=files.get(opts.tls_cert) if opts.tls_cert else None,
                ssl_keyfile=files.get(opts.tls_key) if opts.tls_key else None,
            )
            config.load()  # the TLS files now, while the copies exist (serve() would load them later)
        except BaseException:
            sock.close()
            raise
    server = _receiver_server(config)
    serving = asyncio.ensure_future(server.serve(sockets=[sock]))
    registration: dict[str, Any] | None = None
    telling: asyncio.Future[dict[str, Any]] | None = None
    outcome = "max-time"
    deadline = None if opts.max_time is None else time.monotonic() + opts.max_time
    try:
        while not server.started:
            if serving.done():
                serving.result()  # raises what stopped it
                raise UsageError(f"the receiver on {url} stopped before it started")
            await asyncio.sleep(0.01)
        on_ready(url + opts.path, cfg)
        if register_target is not None:
            # Ctrl-C (the receiver stops) and --max-time also end a registration the agent is slow
            # to answer, instead of waiting for the transport's read timeout.
            telling = asyncio.ensure_future(
                _tell_agent(
                    settings, sink, register_target, card_path, checker, cfg, task, send, on_registered
                )
            )
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            await asyncio.wait({telling, serving}, timeout=left, return_when=asyncio.FIRST_COMPLETED)
            if not telling.done():
                telling.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await telling
                outcome = "interrupted" if serving.done() else "max-time"
            else:
                registration = telling.result()  # raises the registration's error
                if registration.get("taskId") is None:
                    outcome = "no-task"
        ended = False  # the task settled: a terminal state, or an interrupted one (input-required…)
        until = deadline
        while outcome != "no-task" and not serving.done():
            if checker.done and not ended:
                ended = True
                lingered = time.monotonic() + opts.linger
                until = lingered if deadline is None else min(deadline, lingered)
            elif ended and not checker.done:
                ended, until = False, deadline  # an interrupted task resumed within --linger
            left = None if until is None else until - time.monotonic()
            if left is not None and left <= 0:
                break
            arrived.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(arrived.wait(), timeout=min(left, 0.5) if left is not None else 0.5)
        if ended or checker.done:
            outcome = "completed"
        elif serving.done() and outcome != "no-task":
            outcome = "interrupted"
    finally:
        if telling is not None and not telling.done():
            telling.cancel()
        server.should_exit = True
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await serving
        await asyncio.sleep(0)  # requests cancelled by the shutdown record what came of their body
        sock.close()
    return checker.summary(outcome, url=hook, registration=registration)


def _receiver_server(config: Any) -> Any:
    """A ``uvicorn.Server`` for ``config`` that turns Ctrl-C / SIGTERM into a graceful stop and
    does not raise the signal again afterwards (uvicorn's own ``handle_exit`` records it and
    re-raises it once serving ends, which would lose the summary): the listen ends as
    ``interrupted`` (exit 130) with its summary. Handlers are installed by uvicorn in the main
    thread only."""
    import uvicorn

    class Receiver(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            if self.should_exit:
                self.force_exit = True  # a second Ctrl-C: do not wait for open connections
            self.should_exit = True

    return Receiver(config)


async def _tell_agent(
    settings: Settings,
    sink: EventSink | None,
    target: str,
    card_path: str | None,
    checker: PushChecker,
    cfg: PushConfig,
    task: str | None,
    send: str | None,
    on_registered: Callable[[dict[str, Any], PushConfig, Family], None],
) -> dict[str, Any]:
    """Connect to ``target`` and register ``cfg`` (``--task``) or send ``send`` with it; the checker
    learns the family and the task id."""
    from a2actl.agent.connect import connect_with_card
    from a2actl.push.register import ended_state, register, send_with_push
    from a2actl.transport.http import HttpTransport

    warnings: list[str] = []
    async with HttpTransport(settings, sink) as transport:
        client, fetched = await connect_with_card(target, settings, transport, card_path)
        checker.family = client.family
        if not fetched.view.capabilities.get("pushNotifications"):
            # a2a-sdk 0.3 and @a2a-js/sdk without a push store take the config and drop it: the
            # listen then waits for --max-time (an hour by default) for pushes that never come
            warnings.append(
                "the card does not declare capabilities.pushNotifications: the agent may accept "
                "the config and never push; this listen then ends at --max-time"
            )
        if task is not None:
            state = await ended_state(client, task)
            if state is not None:
                raise UsageError(
                    f"--task {task}: the task already ended ({state}); an ended task gets no pushes",
                    hint="watch a new task with --send TEXT",
                )
            checker.expect_task(task)
            info = await register(client, task, cfg)
        else:
            tid, info = await send_with_push(client, send or "", cfg)
            if tid is not None:
                checker.expect_task(tid)
            state = info.get("state")
            if isinstance(state, str) and state_kind(state) is StateKind.TERMINAL:
                warnings.append(
                    f"the task already ended ({state}) in the answer to the send: the agent may "
                    "push nothing more; this listen then ends at --max-time"
                )
    if warnings:
        info["warnings"] = warnings
    on_registered(info, cfg, client.family)
    return info


__all__ = [
    "ListenOptions",
    "bind",
    "build_app",
    "check_public_url",
    "check_tls",
    "listen_job",
    "parse_listen",
    "url_of",
]
