"""``a2actl push``: push notifications: a webhook receiver that checks every delivery
(``a2actl.push``, docs/push.md). Needs uvicorn and starlette (the ``exporter`` extra)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from a2actl.cli.context import Invocation, invocation
from a2actl.cli.params import CardPath, FailOnStates

app = typer.Typer(
    help="Push notifications: a webhook receiver that checks deliveries.",
    no_args_is_help=True,
)


def _require_server_extra() -> None:
    """Raise ``UsageError`` (exit 2) unless starlette and uvicorn (the ``exporter`` extra) are installed."""
    from a2actl.core.errors import UsageError

    try:
        import starlette  # noqa: F401, TID253
        import uvicorn  # noqa: F401, TID253
    except ImportError as exc:
        raise UsageError(
            f"push listen needs starlette and uvicorn ({exc.name or 'a module'} is not installed)",
            hint="pip install 'a2actl[push]'",
        ) from exc


def _header_safe(value: str) -> bool:
    """Whether ``value`` can travel in an HTTP header as it is: printable ASCII (tabs allowed), one
    line; the rule ``--token-env`` follows (``cli/app.py``)."""
    return value.isascii() and not any(c < " " and c != "\t" or c == "\x7f" for c in value)


def _secret_env(option: str, name: str | None) -> str | None:
    """The value of the environment variable ``name`` (``None`` when not asked for); raises
    ``UsageError`` (2) when it is unset or empty, or holds what no header can carry (a line break,
    a control or non-ASCII character: the agent could never send it back, and the listen would
    wait for ``--max-time``). The message names the variable, never the value."""
    if name is None:
        return None
    import os

    from a2actl.core.errors import UsageError

    value = os.environ.get(name, "").strip()
    if not value:
        raise UsageError(f"{option} {name}: that environment variable is not set or empty")
    if not _header_safe(value):
        raise UsageError(
            f"{option} {name}: the value must be printable ASCII on one line (no line breaks, control "
            "or non-ASCII characters): the agent sends it back in a header"
        )
    return value


def _read_tls_ahead(run: Invocation, cert: str | None, key: str | None) -> tuple[tuple[str, bytes], ...]:
    """``(path, content)`` of ``--tls-cert``/``--tls-key`` when one is not a regular file (a FIFO,
    ``<(cmd)``): read once (one FIFO named by both, a PEM holding both, too) under ``--max-time``
    (``Invocation.read_files``), as the global ``--cert``/``--key`` are. ssl blocked in ``open`` on
    one nobody writes, on the event loop, past ``--max-time``; and uvicorn opened it again to serve,
    finding it empty. Raises ``TimeoutError_`` (exit 5), ``UsageError`` (exit 2)."""
    from a2actl.core.offloop import is_regular

    files = [
        (o, p) for o, p in (("--tls-cert", cert), ("--tls-key", key)) if p is not None and not is_regular(p)
    ]
    if not files:
        return ()
    return tuple((path, data) for (_, path), data in zip(files, run.read_files(files), strict=True))


@app.command("listen")
def listen(
    ctx: typer.Context,
    listen_on: Annotated[
        str,
        typer.Option(
            "--listen",
            metavar="HOST:PORT",
            help="Address to receive on (port 0: a free one); the webhook URL is printed on stderr.",
        ),
    ] = "127.0.0.1:0",
    tls_cert: Annotated[
        str | None,
        typer.Option("--tls-cert", metavar="FILE", help="Serve HTTPS with this PEM certificate (chain)."),
    ] = None,
    tls_key: Annotated[
        str | None, typer.Option("--tls-key", metavar="FILE", help="The private key of --tls-cert (PEM).")
    ] = None,
    register: Annotated[
        str | None,
        typer.Option(
            "--register",
            metavar="TARGET",
            help="Tell this agent to push here, with a generated token: for --task ID "
            "(CreateTaskPushNotificationConfig / tasks/pushNotificationConfig/set) or for a new task "
            "(--send TEXT). Without it the config to register is printed on stderr.",
        ),
    ] = None,
    task: Annotated[
        str | None, typer.Option("--task", metavar="ID", help="With --register: the existing task to watch.")
    ] = None,
    send: Annotated[
        str | None,
        typer.Option(
            "--send",
            metavar="TEXT",
            help="With --register: send this message with the push config in its configuration and watch the new task.",
        ),
    ] = None,
    token_env: Annotated[
        str | None,
        typer.Option(
            "--push-token-env",
            metavar="NAME",
            help="The webhook token (X-A2A-Notification-Token) from this environment variable; default: a fresh random one with --register, none without.",
        ),
    ] = None,
    auth_scheme: Annotated[
        str | None,
        typer.Option(
            "--auth-scheme",
            metavar="SCHEME",
            help="Also require 'Authorization: SCHEME <credentials>' (the config's authentication), e.g. Bearer.",
        ),
    ] = None,
    credentials_env: Annotated[
        str | None,
        typer.Option(
            "--push-credentials-env",
            metavar="NAME",
            help="The --auth-scheme credentials from this environment variable; default: random (with --register).",
        ),
    ] = None,
    public_url: Annotated[
        str | None,
        typer.Option(
            "--public-url",
            metavar="URL",
            help="The webhook URL to give the agent when it differs from the listening one (a tunnel, NAT).",
        ),
    ] = None,
    strict_order: Annotated[
        bool,
        typer.Option(
            "--strict-order", help="Order problems (a state going back, a chunk early) fail the run (exit 7)."
        ),
    ] = False,
    linger: Annotated[
        float,
        typer.Option(
            "--linger",
            metavar="SECONDS",
            min=0,
            help="Keep receiving this long after the terminal state arrives (late, concurrent or re-sent deliveries are checked too).",
        ),
    ] = 0.5,
    fail_on: FailOnStates = None,
    card_path: CardPath = None,
) -> None:
    """Receive an agent's push notifications and check every delivery: the token
    (X-A2A-Notification-Token) and Authorization match the config, the body is the version's push
    payload (1.0: a StreamResponse; 0.3: the Task), duplicates (at-least-once: counted, not failures),
    order, latency from the event's timestamp, and the final state. One record per delivery as it
    arrives (table or -o jsonl), a summary at the end (-o json: one document).

    It ends --linger seconds (0.5) after the task reaches a terminal state or an interrupted one
    (input-required, auth-required: the agent waits for the client, as stream tail ends there), or
    at --max-time (default 1h), with the summary.
    A delivery whose credentials do not match is answered 401, an invalid body 400, others 204. The
    token and credentials are never printed.

    Exit codes: 0 the task ended (whatever the state, unless --fail-on names it) and every delivery
    passed; 7 a credential mismatch, an invalid body (also a version mismatch or a delivery for
    another task), --strict-order problems, the agent answered a Message (no task to push about), or
    the task ended in a --fail-on state; 5 --max-time without any of those; 130 Ctrl-C (the summary
    is still written); 1/3/4/6 the registration failed (A2A error, unreachable, auth, protocol); 2
    bad options.

    Examples:

      a2actl push listen --register http://localhost:9999 --send hi

      a2actl push listen --register http://localhost:9999 --task 5f0c... -o jsonl

      a2actl push listen --listen 0.0.0.0:8443 --tls-cert cert.pem --tls-key key.pem --push-token-env HOOK_TOKEN
    """
    from a2actl.core.errors import UsageError
    from a2actl.core.redact import register_secret, register_url
    from a2actl.protocol.versions import Family
    from a2actl.push.app import ListenOptions, check_tls_pair, listen_job, parse_listen
    from a2actl.push.checks import DeliveryLog, PushConfig, new_token
    from a2actl.render import push as render_push
    from a2actl.tasks.request import parse_fail_on

    run = invocation(ctx)
    _require_server_extra()
    fail_states = frozenset(parse_fail_on(fail_on or []))
    host, port = parse_listen(listen_on)
    token = _secret_env("--push-token-env", token_env)
    credentials = _secret_env("--push-credentials-env", credentials_env)
    if credentials is not None and not auth_scheme:
        raise UsageError("--push-credentials-env needs --auth-scheme SCHEME")
    if auth_scheme is not None and (
        not auth_scheme.strip()
        or any(c in auth_scheme.strip() for c in " \t")
        or not _header_safe(auth_scheme)
    ):
        raise UsageError(f"--auth-scheme {auth_scheme!r}: one word of printable ASCII, e.g. Bearer")
    if register is not None:
        token = token or new_token()
        if auth_scheme and credentials is None:
            credentials = new_token()
    elif auth_scheme and credentials is None:
        raise UsageError(
            "--auth-scheme without --register needs --push-credentials-env NAME (you register the config yourself)"
        )
    for value in (token, credentials):
        register_secret(value)
    if public_url is not None:
        register_url(public_url)
    check_tls_pair(tls_cert, tls_key)
    opts = ListenOptions(
        host=host,
        port=port,
        tls_cert=tls_cert,
        tls_key=tls_key,
        tls_data=_read_tls_ahead(run, tls_cert, tls_key),
        public_url=public_url,
        max_time=run.time_left(),  # what reading the TLS or global files left of --max-time
        strict_order=strict_order,
        fail_on=fail_states,
        linger=linger,
    )

    def ready(url: str, config: PushConfig) -> None:
        given = f" (webhook given out: {config.url})" if config.url != url else ""
        run.out.note(f"a2actl push listen: receiving on {url}{given}")
        if register is None:
            fam = Family.V0_3 if run.settings.a2a_version in ("0.3", "0.2") else Family.V1_0
            doc = config.config_json(fam, "TASK_ID")
            how = (
                "CreateTaskPushNotificationConfig"
                if fam is Family.V1_0
                else "tasks/pushNotificationConfig/set"
            )
            run.out.note(
                f"register this config with the agent ({how}; TASK_ID: the task's id)"
                + (f"; token: the value of ${token_env}" if token_env else "; no token checked")
                + (f"; credentials: the value of ${credentials_env}" if credentials_env else "")
                + ":"
            )
            render_push.config(run.out, doc)

    def registered(info: dict[str, Any], config: PushConfig, family: Family) -> None:
        cid = f" (config {info['configId']})" if info.get("configId") else ""
        what = f"task {info['taskId']}" if info.get("taskId") else "no task: the agent answered a Message"
        run.out.note(f"registered with {info['method']}{cid}: {what}")
        for warning in info.get("warnings") or []:
            run.out.warn(warning)

    # -o json keeps the records for its one document: bounded (a flood of forged POSTs), the rest counted
    kept = DeliveryLog()
    writer = run.out.records(
        key="records", record_view=render_push.record, summary_view=render_push.summary, kept=kept
    )
    summary = run.run(
        listen_job(
            run.settings,
            run.sink,
            writer.record,
            opts=opts,
            token=token,
            scheme=auth_scheme.strip() if auth_scheme else None,
            credentials=credentials,
            register_target=register,
            task=task,
            send=send,
            card_path=card_path,
            on_ready=ready,
            on_registered=registered,
        ),
        bounded=False,
    )
    doc = summary.to_json()
    left_out = kept.left_out_json()
    if left_out is not None:
        doc["recordsLeftOut"] = left_out
    writer.finish(doc)
    raise typer.Exit(int(summary.exit))
