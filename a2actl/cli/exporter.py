"""``a2actl exporter``: a Prometheus exporter in the style of blackbox_exporter (``a2actl.exporter``,
docs/monitoring.md). One command that serves until Ctrl-C; needs the ``exporter`` extra."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from a2actl.cli.context import Invocation, invocation

if TYPE_CHECKING:
    from a2actl.core.config import Settings
    from a2actl.exporter.config import Module
    from a2actl.fleet.inventory import Inventory

#: The default port: 9100-9999 (Prometheus' exporter port list) is fully allocated, so no choice is
#: free of every exporter; 9197 avoids the ones that run next to this one (node 9100, blackbox 9115,
#: snmp 9116, Prometheus 9090-9094, a2actl sandbox 9999).
DEFAULT_PORT = 9197


def require_exporter_extra() -> None:
    """Raise ``UsageError`` (exit 2) unless the ``exporter`` extra (prometheus-client, starlette,
    uvicorn) is installed."""
    from a2actl.core.errors import UsageError

    try:
        import prometheus_client  # noqa: F401, TID253
        import starlette  # noqa: F401, TID253
        import uvicorn  # noqa: F401, TID253
    except ImportError as exc:
        raise UsageError(
            f"the exporter needs the 'exporter' extra ({exc.name or 'a module'} is not installed)",
            hint="pip install 'a2actl[exporter]'",
        ) from exc


def exporter(
    ctx: typer.Context,
    config: Annotated[
        str | None,
        typer.Option(
            "--config",
            metavar="FILE.yml",
            help="Modules (named probe settings) in YAML, as blackbox_exporter's; a 'default' module is built in.",
        ),
    ] = None,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", min=0, max=65535, help="Port; 0 picks a free one.")
    ] = DEFAULT_PORT,
    inventory: Annotated[
        str | None,
        typer.Option(
            "--inventory",
            metavar="FILE",
            help="Probe these agents on the exporter's own schedule (the fleet inventory formats) and serve their histograms on /metrics.",
        ),
    ] = None,
    interval: Annotated[
        str,
        typer.Option(
            "--interval", metavar="DURATION", help="Time between rounds over the inventory, at least 0.1s."
        ),
    ] = "30s",
    module_name: Annotated[
        str, typer.Option("--module", metavar="NAME", help="The module the inventory is probed with.")
    ] = "default",
    concurrency: Annotated[
        int,
        typer.Option("-c", "--concurrency", min=1, max=1000, help="Inventory probes in flight at once."),
    ] = 16,
    max_concurrent: Annotated[
        int,
        typer.Option(
            "--max-concurrent",
            min=1,
            max=10000,
            metavar="N",
            help="/probe probes running at once (each may hold a card of up to 10 MiB in memory); "
            "more wait for a slot within their own deadline, then get HTTP 503.",
        ),
    ] = 32,  # a2actl.exporter.app.DEFAULT_MAX_CONCURRENT (not imported here: Starlette)
    check_config: Annotated[
        bool,
        typer.Option(
            "--check-config", help="Validate --config (and --inventory), show the modules, and exit."
        ),
    ] = False,
) -> None:
    """Serve Prometheus metrics about A2A agents until Ctrl-C, as blackbox_exporter does for HTTP:

    GET /probe?target=URL&module=NAME runs one handshake probe (card, negotiation, first RPC; a
    send with a module that has the send check) and answers probe_success,
    probe_duration_seconds, a2a_probe_phase_seconds{phase}, a2a_probe_info and
    probe_failure_info (HTTP 200 also for a dead agent). GET /metrics serves the exporter's own
    metrics and, with --inventory, a2a_handshake_duration_seconds, a2a_task_duration_seconds,
    a2a_errors_total{error_code} and a2a_agent_up for every agent, probed every --interval.

    Credentials come from the modules only (token_env, ${ENV} header values), never from the
    command line. The URL is printed on stdout once listening. --max-time (default 60s) bounds only
    the start-up: --config, --inventory and TLS files from a FIFO or <(cmd) not read by then are
    exit 5.

    Examples:

      a2actl exporter --port 9197

      a2actl exporter --config exporter.yml --inventory agents.yaml --interval 30s

      curl 'http://127.0.0.1:9197/probe?target=http://localhost:9999'
    """
    from a2actl.cli.params import MIN_INTERVAL, duration
    from a2actl.core.errors import UsageError
    from a2actl.exporter.config import load_config

    run = invocation(ctx)
    require_exporter_extra()
    if run.settings.headers:
        raise UsageError(
            "-H: the exporter sends the headers of its modules, not the command line's",
            hint="put them under 'headers:' of a module in --config (credentials as ${ENV_VAR})",
        )
    if run.settings.token:
        run.out.warn(
            "the exporter does not send A2ACTL_TOKEN / --token-env / --token-file: "
            "set token_env in a module of --config"
        )
    from dataclasses import replace

    base = replace(run.settings, headers=(), token=None)
    ahead = _read_ahead(run, config, inventory)
    modules = load_config(config, data=ahead.get(config) if config else None)
    for m in modules.values():
        if m.note:
            run.out.note(m.note)
    seconds = duration(interval, "--interval", minimum=MIN_INTERVAL) or 30.0
    if module_name not in modules:
        raise UsageError(f"--module {module_name!r}: no such module (modules: {', '.join(sorted(modules))})")
    inv = _inventory(inventory, ahead.get(inventory)) if inventory else None
    for note in inv.notes if inv is not None else ():
        run.out.note(note)  # a nested catalog not followed, a token's 'Bearer ' word dropped
    interval_given = getattr(ctx.get_parameter_source("interval"), "name", "DEFAULT") != "DEFAULT"
    if inventory is None and (module_name != "default" or interval_given):
        raise UsageError("--interval and --module choose how --inventory is probed: give --inventory FILE")
    if check_config:
        from a2actl.render import exporter as render_exporter

        doc = {
            "modules": [m.to_json() for m in modules.values()],
            "inventory": None
            if inv is None
            else {
                "source": inv.source,
                "format": inv.format,
                "agents": len(inv.agents),
                "module": module_name,
                "interval": seconds,
            },
        }
        run.show(doc, render_exporter.config)
        raise typer.Exit(0)
    _serve(run, modules, base, inv, modules[module_name], seconds, concurrency, host, port, max_concurrent)


def _read_ahead(run: Invocation, config: str | None, inventory: str | None) -> dict[str, bytes]:
    """The content of ``--config`` and ``--inventory`` when one is not a regular file (a FIFO,
    ``<(cmd)``, standard input for ``--inventory -``), by path: read once, off the event loop, under
    the start-up deadline (``--max-time``, default 60 s: ``Invocation.read_files``). Such a file
    blocked the exporter in ``open`` until a writer came, never listening and never failing.
    Raises ``TimeoutError_`` (exit 5) naming the files not read in time, ``UsageError`` (exit 2)."""
    from a2actl.core.offloop import is_regular
    from a2actl.fleet.inventory import MAX_INVENTORY_BYTES

    files = []
    if config is not None and not is_regular(config):
        files.append(("--config", config))
    if inventory is not None and (inventory == "-" or not is_regular(inventory)):
        files.append(("--inventory", inventory))
    if not files:
        return {}
    got = run.read_files(files, limit=MAX_INVENTORY_BYTES)
    return {path: data for (_, path), data in zip(files, got, strict=True)}


def _inventory(path: str, data: bytes | None = None) -> Inventory:
    """Load ``--inventory`` (``data``: its content read ahead, ``_read_ahead``), which checks every
    agent's headers and ``tokenEnv`` (set and sendable), and check what the loop will need: every
    label name one Prometheus accepts and the exporter does not set itself, and distinct series
    labels per agent (``series_labels``; ``--check-config`` refuses what serving would). Raises
    ``UsageError`` (exit 2)."""
    from a2actl.exporter.metrics import series_labels
    from a2actl.fleet.inventory import load_inventory

    inv = load_inventory(path, data=data)
    series_labels([(a.name, a.url, a.labels) for a in inv.agents], inv.source)
    return inv


def _serve(
    run: Invocation,
    modules: dict[str, Module],
    base: Settings,
    inv: Inventory | None,
    module: Module,
    interval: float,
    concurrency: int,
    host: str,
    port: int,
    max_concurrent: int,
) -> None:
    import importlib

    from a2actl import __version__
    from a2actl.core.errors import UsageError
    from a2actl.exporter.app import Exporter, bind, serve, url_of
    from a2actl.exporter.metrics import ExporterMetrics
    from a2actl.exporter.schedule import InventoryLoop

    # the probe's modules now, not inside the first /probe's deadline (httpx and the transport: ~0.3 s)
    for name in ("a2actl.probe.handshake", "a2actl.transport.http", "a2actl.transport.a2a"):
        importlib.import_module(name)

    # a /probe holds its scrape's socket and up to two to the agent (card, first RPC); an inventory
    # probe two. Past the open-file limit connects fail with EMFILE, which a probe reports as the
    # agent being unreachable: probe_success 0 and alerts for healthy agents
    from a2actl.core.fdlimit import fit_open_files

    wanted = max_concurrent + (concurrency if inv is not None else 0)
    fitted, fd_limit = fit_open_files(wanted, per_item=3)
    if fd_limit is not None:
        share = max(1, fitted * max_concurrent // wanted)
        inventory_share = max(1, fitted - share)
        run.out.warn(
            f"the open-file limit (ulimit -n) is {fd_limit:,}: --max-concurrent {max_concurrent:,} lowered "
            f"to {share:,}"
            + (f", -c {concurrency:,} to {min(concurrency, inventory_share):,}" if inv is not None else "")
        )
        max_concurrent, concurrency = share, min(concurrency, inventory_share)
    metrics = ExporterMetrics(__version__)
    loop = None
    if inv is not None:
        inventory_metrics = metrics.add_inventory(
            [(a.name, a.url, a.labels) for a in inv.agents], sends=module.sends
        )
        loop = InventoryLoop(
            inv.agents, module, base, inventory_metrics, interval=interval, concurrency=concurrency
        )
    try:
        sock = bind(host, port)
    except OSError as exc:
        raise UsageError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}",
            hint="pick another --port, or --port 0 for a free one",
        ) from exc
    url = url_of(sock, host)
    app = Exporter(modules=modules, base=base, metrics=metrics, loop=loop, max_concurrent=max_concurrent)
    for m in modules.values():
        if m.has_credentials and not m.allow_targets:
            run.out.warn(
                f"module {m.name!r} sends credentials and has no allow_targets: /probe refuses it (403); "
                "it can still probe the inventory"
            )

    def ready() -> None:
        # The URL is data (stdout, for scripts: `URL=$(a2actl exporter --port 0 | head -1)`).
        if run.format == "table":
            run.out.stdout.write(url + "\n")  # a full disk: StdoutUnwritable, exit 2
            run.out.stdout.flush()
        else:
            run.out.data({"url": url, "probe": f"{url}/probe", "metrics": f"{url}/metrics"})
        what = f"modules: {', '.join(sorted(modules))}"
        if inv is not None and loop is not None:
            what += f"; {len(inv.agents)} agents every {interval:g}s with module {module.name}"
        run.out.note(f"a2actl exporter listening on {url} ({what}); Ctrl-C stops it")

    serve(app, sock, on_ready=ready)


app = exporter
