"""``a2actl handshake``: time discovery, negotiation and the first RPC (``a2actl.probe``)."""

from __future__ import annotations

from typing import Annotated

import typer

from a2actl.cli.context import invocation
from a2actl.cli.otel import OtlpOpt, traced
from a2actl.cli.params import CardPath

app = typer.Typer(help="Handshake timing: discovery + negotiation + first RPC.", no_args_is_help=True)


@app.command("probe")
def probe(
    ctx: typer.Context,
    target: Annotated[str, typer.Argument(help="Agent base URL or full card URL.")],
    samples: Annotated[
        int, typer.Option("-n", "--samples", min=1, max=100000, help="Timed repetitions.")
    ] = 1,
    concurrency: Annotated[
        int, typer.Option("-c", "--concurrency", min=1, max=256, help="Samples in flight at once.")
    ] = 1,
    warmup: Annotated[int, typer.Option("--warmup", min=0, max=1000, help="Untimed repetitions first.")] = 0,
    reuse: Annotated[
        bool,
        typer.Option(
            "--reuse",
            help="Reuse connections across samples (warm path); default: a new connection per sample.",
        ),
    ] = False,
    send: Annotated[
        str | None,
        typer.Option(
            "--send",
            metavar="TEXT",
            help="Also time a real SendMessage up to the first event and the terminal state; a task that "
            "ends failed, rejected or canceled fails the sample (exit 7).",
        ),
    ] = None,
    handshake_path: Annotated[
        str | None,
        typer.Option(
            "--handshake-path",
            metavar="PATH",
            help="Also time an explicit session handshake POST (token never printed).",
        ),
    ] = None,
    budget: Annotated[
        list[str] | None,
        typer.Option(
            "--budget",
            metavar="[PHASE=]DURATION",
            help="p99 bound: 5s (total) or rpc=2s, ttfb=300ms; repeatable. Exit 7 when exceeded.",
        ),
    ] = None,
    card_path: CardPath = None,
    otlp: OtlpOpt = None,
) -> None:
    """Time an A2A handshake phase by phase: DNS, TCP, TLS, card TTFB and transfer, card parse,
    negotiation (interface and version, with the reason), and a side-effect-free first RPC
    (GetTask on a random id: TaskNotFound means routing, version and auth work).

    Phases curl also measures use curl's names in JSON (time_namelookup, time_connect,
    time_appconnect, time_starttransfer). All JSON times are seconds.

    Examples:

      a2actl handshake probe http://localhost:9999

      a2actl handshake probe http://localhost:9999 -n 100 -c 4 --budget 5s --budget rpc=2s

      a2actl handshake probe https://agent.example.com --send hello -o json
    """
    from a2actl.agent.target import parse_target
    from a2actl.core.errors import UsageError
    from a2actl.probe.budget import parse_budgets
    from a2actl.probe.handshake import run_probe
    from a2actl.probe.report import ProbeOptions, ProbeReport
    from a2actl.render import probe as render_probe

    run = invocation(ctx)
    for spec in budget or []:
        # --budget "$UNSET": the probe ran with no budget and exited 0, a CI gate silently off
        if not spec.replace(",", "").strip():
            raise UsageError(
                f"--budget {spec!r}: no budget in it (a ${{VARIABLE}} set but empty?)",
                hint="--budget 5s (total p99) or --budget rpc=2s",
            )
    try:
        budgets = tuple(parse_budgets(budget or []))
    except ValueError as exc:
        raise UsageError(f"--budget: {exc}") from exc
    opts = ProbeOptions(
        target=parse_target(target),
        card_path=card_path,
        samples=samples,
        concurrency=concurrency,
        warmup=warmup,
        reuse=reuse,
        send_text=send,
        handshake_path=handshake_path,
        budgets=budgets,
    )
    # jsonl: a "sample" record per sample as it completes, then the "summary" without "samples";
    # json: the whole report; table: the report view.
    records = run.out.records(
        key="samples", summary_view=render_probe.report, record_type="sample", summary_type="summary"
    )
    trace = traced(ctx, otlp)
    report: ProbeReport = trace.run(
        run_probe(opts, run.settings, run.sink, on_sample=lambda s: records.record(s.to_json()))
    )
    records.finish(report.to_json())
    raise typer.Exit(int(report.exit))
