"""``a2actl sandbox``: the embedded reference agent (needs the ``sandbox`` extra)."""

from __future__ import annotations

from typing import Annotated

import typer

from a2actl.cli.context import Invocation, invocation

app = typer.Typer(help="The embedded reference A2A agent (a2a-sdk), with fault knobs.", no_args_is_help=True)


def require_sandbox_extra() -> None:
    """Raise ``UsageError`` (exit 2) unless the ``sandbox`` extra (a2a-sdk, uvicorn) is installed."""
    from a2actl.core.errors import UsageError

    try:
        import a2a  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise UsageError(
            "the sandbox needs the 'sandbox' extra", hint="pip install 'a2actl[sandbox]'"
        ) from exc


@app.command("serve")
def serve(
    ctx: typer.Context,
    host: Annotated[
        str,
        typer.Option(
            "--host",
            help="Address to listen on, e.g. 127.0.0.1, ::1 (or [::1]), 0.0.0.0 or :: (every interface).",
        ),
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port; 0 picks a free one.")] = 9999,
    public_url: Annotated[
        str | None,
        typer.Option(
            "--public-url",
            metavar="URL",
            help="Base URL the card advertises (http[s]://host[:port][/path]), for a sandbox behind a proxy or NAT. Default: http://HOST:PORT; with --host 0.0.0.0 or :: the host each client asked for (its Host header).",
        ),
    ] = None,
    v1_only: Annotated[
        bool, typer.Option("--v1-only", help="Serve A2A 1.0 only (no 0.3 compatibility, pure 1.0 card).")
    ] = False,
    v03_only: Annotated[
        bool, typer.Option("--v03-only", help="Declare only 0.3 interfaces on the card.")
    ] = False,
    legacy_card: Annotated[
        bool, typer.Option("--legacy-card", help="Serve a 0.2.5-style card at /.well-known/agent.json only.")
    ] = False,
    handshake_delay: Annotated[
        str,
        typer.Option("--handshake-delay", metavar="DURATION", help="Delay before serving the card, e.g. 8s."),
    ] = "0",
    rpc_delay: Annotated[
        str, typer.Option("--rpc-delay", metavar="DURATION", help="Delay before every RPC.")
    ] = "0",
    fail_rate: Annotated[
        float, typer.Option("--fail-rate", min=0.0, max=1.0, help="Fraction of RPCs answered with HTTP 503.")
    ] = 0.0,
    stream_interval: Annotated[
        str, typer.Option("--stream-interval", metavar="DURATION", help="Pause between streamed events.")
    ] = "50ms",
    require_token_env: Annotated[
        str | None,
        typer.Option(
            "--require-token-env",
            metavar="NAME",
            help="Require 'Authorization: Bearer <value of env NAME>' on RPCs.",
        ),
    ] = None,
    strip_version_header: Annotated[
        bool,
        typer.Option(
            "--strip-version-header", help="Drop A2A-Version before the agent sees it (a misbehaving proxy)."
        ),
    ] = False,
    claim: Annotated[
        list[str] | None,
        typer.Option(
            "--claim-capability",
            metavar="NAME",
            help="Claim a capability on the card that the agent does not implement: streaming, pushNotifications, extendedAgentCard (repeatable).",
        ),
    ] = None,
    sse_heartbeat: Annotated[
        str | None,
        typer.Option(
            "--sse-heartbeat",
            metavar="DURATION",
            help="Send ': ping' SSE comments at this interval (the SDK's own come every 15s).",
        ),
    ] = None,
    drop_after: Annotated[
        int | None,
        typer.Option(
            "--drop-after",
            metavar="N",
            min=0,
            help="Cut every send stream abruptly after N events (resubscribes are not cut).",
        ),
    ] = None,
    stall: Annotated[
        str,
        typer.Option(
            "--stall",
            metavar="DURATION",
            help="Pause streams (events and pings) this long after --stall-after events.",
        ),
    ] = "0",
    stall_after: Annotated[
        int, typer.Option("--stall-after", metavar="N", min=0, help="Events before the --stall pause.")
    ] = 1,
    ws_ping_interval: Annotated[
        str,
        typer.Option(
            "--ws-ping-interval", metavar="DURATION", help="Ping interval of the WebSocket channel (/a2a/ws)."
        ),
    ] = "5s",
    debug_token_env: Annotated[
        str | None,
        typer.Option(
            "--debug-token-env",
            metavar="NAME",
            help="Protect the debug API (/debug/a2a) with 'Authorization: Bearer <value of env NAME>'; without it the debug API is open (a2actl warns).",
        ),
    ] = None,
    max_session_age: Annotated[
        str,
        typer.Option(
            "--max-session-age",
            metavar="DURATION",
            help="Close sessions older than this (their running tasks are cancelled, tokens revoked).",
        ),
    ] = "5m",
    leak_sessions: Annotated[
        bool,
        typer.Option(
            "--leak-sessions",
            help="Keep sessions open after their tasks end (the leak 'sessions leaks' finds).",
        ),
    ] = False,
    no_debug: Annotated[
        bool, typer.Option("--no-debug", help="No debug API: a plain a2a-sdk agent.")
    ] = False,
    dlq: Annotated[
        str | None,
        typer.Option(
            "--dlq",
            metavar="URL",
            help="Enable the queue worker (POST /a2a/queue) dead-lettering into file://PATH.jsonl, redis://HOST:PORT/DB?stream=KEY or amqp://USER@HOST:5672/VHOST?queue=NAME (RabbitMQ dead-letters it from NAME.work; password from $A2ACTL_AMQP_PASSWORD).",
        ),
    ] = None,
    worker_fault: Annotated[
        str | None,
        typer.Option(
            "--worker-fault",
            metavar="CLASS",
            help="Make the queue worker fail: transient or permanent (messages end in the DLQ).",
        ),
    ] = None,
    vary_card: Annotated[
        bool,
        typer.Option(
            "--vary-card",
            help="Serve a pure 1.0 card to 'A2A-Version: 1.0' and the hybrid card otherwise, with Vary: A2A-Version (as the JS SDK does).",
        ),
    ] = False,
    service_time: Annotated[
        str | None,
        typer.Option(
            "--service-time",
            metavar="DIST",
            help="Service time added to every A2A request (under /a2a; for a stream, before its first event), without blocking other requests: 50ms (constant), exp:50ms (exponential, that mean), uniform:10ms-90ms, normal:50ms,10ms (clamped at 0). E.g. --service-time exp:50ms.",
        ),
    ] = None,
    max_concurrency: Annotated[
        int,
        typer.Option(
            "--max-concurrency",
            metavar="N",
            min=0,
            help="Serve at most N A2A requests at once (the service time counts inside); the rest wait in a FIFO queue, none is rejected. Card requests are not limited. 0: unlimited. E.g. --max-concurrency 4.",
        ),
    ] = 0,
    blocking_handshake: Annotated[
        str,
        typer.Option(
            "--blocking-handshake",
            metavar="DURATION",
            help="Block the event loop (time.sleep) for DURATION in every card request: a blocking call in the handshake handler. Every other request, cards, RPCs and streams alike, waits behind it, so card latency grows with concurrent card fetches. E.g. --blocking-handshake 50ms.",
        ),
    ] = "0",
    grpc_port: Annotated[
        int,
        typer.Option(
            "--grpc-port",
            min=0,
            max=65535,
            metavar="PORT",
            help="Port of the gRPC interface (0 picks a free one). gRPC is on when grpcio is installed (the grpc extra); the card declares it last, as host:port. Its address is printed on stderr.",
        ),
    ] = 0,
    no_grpc: Annotated[bool, typer.Option("--no-grpc", help="Serve no gRPC interface.")] = False,
) -> None:
    """Serve the sandbox agent until Ctrl-C: card, JSON-RPC and HTTP+JSON bindings, SSE streaming,
    a gRPC interface (with the grpc extra), an echo skill, a session handshake endpoint at
    /a2a/handshake, and fault knobs.

    Examples:

      a2actl sandbox serve --port 0

      a2actl sandbox serve --handshake-delay 8s      # the seed incident: a slow sub-agent

      a2actl sandbox serve --v1-only --fail-rate 0.1

      a2actl sandbox serve --claim-capability pushNotifications   # a card that lies (caps validate --live)

      a2actl sandbox serve --sse-heartbeat 1s --stall 12s --drop-after 3   # stream faults for stream tail

      a2actl sandbox serve --leak-sessions --debug-token-env DEBUG_TOKEN     # sessions that leak

      a2actl sandbox serve --dlq file://dlq.jsonl --worker-fault transient   # messages die

      a2actl sandbox serve --blocking-handshake 50ms   # 50 ms alone, seconds under load

      a2actl sandbox serve --service-time exp:50ms --max-concurrency 4   # a load target that queues

      a2actl sandbox serve --port 0 --grpc-port 50051   # gRPC on a fixed port (--no-grpc: none)

      a2actl sandbox serve --host 0.0.0.0 --public-url http://agent.internal:9999   # reached from elsewhere
    """
    import os

    from a2actl.core.errors import UsageError
    from a2actl.core.units import parse_duration

    run = invocation(ctx)
    require_sandbox_extra()
    if v1_only and (v03_only or legacy_card):
        raise UsageError("--v1-only excludes --v03-only and --legacy-card")
    debug_token = None
    if debug_token_env:
        debug_token = os.environ.get(debug_token_env)
        if not debug_token:
            raise UsageError(f"--debug-token-env {debug_token_env}: that environment variable is empty")
    token = None
    if require_token_env:
        token = os.environ.get(require_token_env)
        if not token:
            raise UsageError(f"--require-token-env {require_token_env}: that environment variable is empty")
    delays: dict[str, float] = {}
    for key, value in (
        ("handshake_delay", handshake_delay),
        ("rpc_delay", rpc_delay),
        ("stream_interval", stream_interval),
        ("stall", stall),
        ("ws_ping_interval", ws_ping_interval),
        ("max_session_age", max_session_age),
        ("blocking_handshake", blocking_handshake),
        ("sse_heartbeat", sse_heartbeat),
    ):
        if value is None:
            continue
        try:
            delays[key] = parse_duration(value)
        except ValueError as exc:  # name the flag: eight of them take a duration
            raise UsageError(f"--{key.replace('_', '-')}: {exc}") from exc
    from a2actl.server.sandbox.options import SandboxOptions, ServiceTime

    try:
        service = ServiceTime.parse(service_time) if service_time is not None else None
    except ValueError as exc:
        raise UsageError(f"--service-time: {exc}") from exc
    if worker_fault not in (None, "transient", "permanent"):
        raise UsageError(f"--worker-fault {worker_fault!r}: use transient or permanent")
    if worker_fault and not dlq:
        raise UsageError("--worker-fault needs --dlq URL (where the dead letters go)")
    known_caps = ("streaming", "pushNotifications", "extendedAgentCard")
    for name in claim or []:
        if name not in known_caps:
            raise UsageError(f"--claim-capability {name!r}: use one of {', '.join(known_caps)}")
    host = _listen_host(host)
    if public_url is not None:
        public_url = _public_url(public_url)
    versions = ("1.0",) if v1_only else ("0.3",) if v03_only else ("1.0", "0.3")
    grpc_on = _grpc_wanted(run, grpc_port, no_grpc, legacy_card)
    opts = SandboxOptions(
        host=host,
        port=port,
        versions=versions,
        card_style="0.2" if legacy_card else "current",
        fail_rate=fail_rate,
        require_token=token,
        strip_version_header=strip_version_header,
        claim_capabilities=tuple(claim or ()),
        vary_card=vary_card,
        drop_after=drop_after,
        stall_after=stall_after,
        debug=not no_debug,
        debug_token=debug_token,
        leak_sessions=leak_sessions,
        dlq=dlq,
        worker_fault=worker_fault,
        handshake_delay=delays["handshake_delay"],
        rpc_delay=delays["rpc_delay"],
        stream_interval=delays["stream_interval"],
        stall=delays["stall"],
        ws_ping_interval=delays["ws_ping_interval"],
        max_session_age=delays["max_session_age"],
        sse_heartbeat=delays.get("sse_heartbeat"),
        service_time=service,
        max_concurrency=max_concurrency,
        blocking_handshake=delays["blocking_handshake"],
        grpc=grpc_on,
        grpc_port=grpc_port,
        public_url=public_url,
    )
    from a2actl.server.sandbox.options import WILDCARD_HOSTS
    from a2actl.server.sandbox.server import serve as serve_forever

    grpc_url: list[str] = []

    def grpc_ready(target: str) -> None:
        grpc_url.append(target)

    def ready(url: str) -> None:
        # The URL is data (stdout, for scripts: `a2actl sandbox serve --port 0 >url.txt &`, then its
        # first line; `URL=$(a2actl sandbox serve --port 0 | head -1)` waits until the sandbox ends).
        if run.format == "table":
            run.out.stdout.write(url + "\n")  # a full disk: StdoutUnwritable, exit 2
            run.out.stdout.flush()
        else:
            run.out.data(
                {
                    "url": url,
                    "cardUrl": url
                    + ("/.well-known/agent.json" if legacy_card else "/.well-known/agent-card.json"),
                    **({"grpcUrl": grpc_url[0]} if grpc_url else {}),
                }
            )
        run.out.note(f"sandbox agent listening on {url} (A2A {', '.join(versions)}); Ctrl-C stops it")
        if public_url:
            run.out.note(f"the card advertises {public_url}")
        elif host in WILDCARD_HOSTS:
            run.out.note(
                "the card names the host each client asks for (its Host header: localhost:PORT through "
                "a port mapping, an address from elsewhere); --public-url URL names one"
            )
        if grpc_url:
            run.out.note(f"gRPC interface on {grpc_url[0]} (plaintext, reflection on)")

    try:
        if grpc_on:
            serve_forever(opts, on_ready=ready, on_grpc=grpc_ready)
        else:
            serve_forever(opts, on_ready=ready)
    except OSError as exc:
        raise _listen_error(exc, host, port, grpc_port if grpc_on else None) from exc


def _listen_host(value: str) -> str:
    """``--host``, as a socket binds it and a client can call it: an IPv6 address in brackets, as
    URLs write it (``[::1]``), without them (they were taken for a host name: "cannot listen on
    [[::1]]:9999: Name or service not known"); an IPv4 address in a short or numeric form the OS
    accepts (``0``, ``127.1``, ``0x7f000001``) dotted (``0.0.0.0``, ``127.0.0.1``), and every
    spelling of the IPv6 wildcard ``::``. They listened where the OS read them (``--host 0``: on every
    interface) but the sandbox printed and advertised ``http://0:PORT``, a URL a2actl itself refuses
    (exit 2) and no client elsewhere can call, and took neither for a wildcard. Raises
    ``UsageError`` (exit 2) for a value with a colon that is no IPv6 address (``127.0.0.1:8080``: a
    port belongs in ``--port``), and for a blank one (``--host ""``, ``--host "$HOST"`` with
    ``HOST`` unset): the OS reads it as every interface, which opened the sandbox, and its open
    debug API, to the network while stdout printed a loopback URL."""
    import ipaddress
    import re
    import socket

    from a2actl.core.errors import UsageError

    if not value.strip():
        raise UsageError(
            f"--host {value!r}: an empty address (an unset variable?) would listen on every interface",
            hint="leave --host out for 127.0.0.1; --host 0.0.0.0 or :: listens on every interface",
        )
    bare = value[1:-1] if value.startswith("[") and value.endswith("]") else value
    if ":" not in bare:
        if re.fullmatch(r"[0-9A-Fa-fxX.]+", bare):  # not a name: inet_aton reads 'cafe.be' as none
            try:
                return socket.inet_ntoa(socket.inet_aton(bare))
            except OSError:
                pass
        return value
    try:
        address = ipaddress.IPv6Address(bare)
    except ValueError:
        raise UsageError(
            f"--host {value!r}: not an address (an IPv6 one is ::1 or [::1])",
            hint="the port goes in --port: --host 127.0.0.1 --port 8080",
        ) from None
    return "::" if address == ipaddress.IPv6Address("::") else bare


def _public_url(value: str) -> str:
    """``--public-url``, checked: an ``http``/``https`` URL with a host, a port other than 0, and no
    credentials, query or fragment (not even an empty ``?`` or ``#``), returned without a trailing
    ``/``. Raises ``UsageError`` (exit 2) naming what is wrong."""
    from urllib.parse import urlsplit

    from a2actl.core.errors import UsageError

    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018  # a port that is not a number raises ValueError here
    except ValueError as exc:
        raise UsageError(f"--public-url {value!r}: {exc}") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"--public-url {value!r}: use http[s]://host[:port][/path]")
    if any(c.isspace() or not c.isprintable() for c in value):
        raise UsageError(f"--public-url {value!r}: a URL has no blanks or control characters")
    if parts.username is not None or parts.password is not None:
        raise UsageError("--public-url: credentials in the URL would be published on the card")
    # "?" and "#" themselves, not parts.query/fragment: an empty one (``https://host/x/?``) passed,
    # and the card advertised https://host/x/?/a2a/jsonrpc, the interface's path in the query
    if "?" in value or "#" in value:
        raise UsageError(f"--public-url {value!r}: no query or fragment (it is a base URL)")
    if parts.port == 0:
        raise UsageError(f"--public-url {value!r}: port 0 is no port a client can call")
    return value.rstrip("/")


def _listen_error(exc: OSError, host: str, port: int, grpc_port: int | None) -> Exception:
    """The ``UsageError`` (exit 2) for a sandbox that cannot listen: it names the port that failed
    (``ListenError.role``: ``--port`` or ``--grpc-port``; else both, ``grpc_port`` ``None`` when gRPC
    is off) and hints at other ports when one is taken or privileged, at ``--host`` otherwise (a host
    that does not resolve or is not an address of this machine)."""
    import errno

    from a2actl.core.errors import UsageError
    from a2actl.server.sandbox.server import ListenError

    def shown(h: str, p: int) -> str:
        return f"[{h}]:{p}" if ":" in h else f"{h}:{p}"

    if isinstance(exc, ListenError):
        flag = "--port" if exc.role == "HTTP" else "--grpc-port"
        where = f"{shown(exc.host, exc.port)} ({exc.role}, {flag})"
    else:
        where = shown(host, port) + (f" or gRPC port {grpc_port}" if grpc_port is not None else "")
    if exc.errno in (errno.EADDRINUSE, errno.EACCES):
        hint = "pick other ports, or 0 for free ones (--port 0, --grpc-port 0)"
    else:
        hint = "--host must be an address of this machine, e.g. 127.0.0.1, ::1 or 0.0.0.0"
    return UsageError(f"cannot listen on {where}: {exc.strerror or exc}", hint=hint)


def _grpc_wanted(run: Invocation, grpc_port: int, no_grpc: bool, legacy_card: bool) -> bool:
    """Whether to serve gRPC: on when grpcio imports, unless ``--no-grpc`` or ``--legacy-card`` (a 0.2
    card declares one URL). Raises ``UsageError`` (exit 2) for an explicit ``--grpc-port`` that cannot
    be honoured; without grpcio and no explicit port, a one-line note on stderr and HTTP only."""
    from a2actl.core.errors import UsageError

    if no_grpc or legacy_card:
        if grpc_port:
            raise UsageError(f"--grpc-port excludes {'--no-grpc' if no_grpc else '--legacy-card'}")
        return False
    from a2actl.server.sandbox.grpc import grpc_importable

    if grpc_importable():
        return True
    if grpc_port:
        raise UsageError("--grpc-port needs the grpc extra", hint="pip install 'a2actl[grpc]'")
    run.out.note("no gRPC interface: grpcio is not installed (pip install 'a2actl[grpc]')")
    return False
