"""``a2actl demo``: start the sandbox in the background and probe it."""

from __future__ import annotations

from typing import Annotated

import typer

from a2actl.cli.context import invocation


def demo(
    ctx: typer.Context,
    samples: Annotated[int, typer.Option("-n", "--samples", min=1, max=1000, help="Probe repetitions.")] = 1,
) -> None:
    """Start the built-in sandbox agent on a free loopback port and run a real handshake probe
    against it, with a streamed send, so you see every phase in a minute.

    Examples:

      a2actl demo

      a2actl demo -n 20 -o json
    """
    from a2actl.agent.target import parse_target
    from a2actl.cli.sandbox import require_sandbox_extra
    from a2actl.core.errors import UsageError
    from a2actl.probe.handshake import run_probe
    from a2actl.probe.report import ProbeOptions, ProbeReport
    from a2actl.render import probe as render_probe
    from a2actl.server.sandbox.options import HANDSHAKE_PATH, SandboxOptions
    from a2actl.server.sandbox.server import start_in_thread

    run = invocation(ctx)
    require_sandbox_extra()
    grpc = run.settings.binding == "GRPC"
    if grpc:
        from a2actl.server.sandbox.grpc import grpc_importable

        if not grpc_importable():
            raise UsageError(
                "--binding GRPC demo needs the grpc extra to serve a gRPC interface",
                hint="pip install 'a2actl[grpc]', or drop --binding GRPC",
            )
    # jsonl: a "sample" record per sample as it completes, then the "summary" without "samples",
    # as handshake probe writes them; json: the whole report; table: the report and what next.
    records = run.out.records(
        key="samples", summary_view=render_probe.demo, record_type="sample", summary_type="summary"
    )
    with start_in_thread(SandboxOptions(grpc=grpc)) as sandbox:
        where = f"{sandbox.url}" + (f" and gRPC {sandbox.grpc_url}" if sandbox.grpc_url else "")
        run.out.note(f"sandbox agent (a2a-sdk) listening on {where}; probing it")
        opts = ProbeOptions(
            target=parse_target(sandbox.url),
            samples=samples,
            send_text="hello from a2actl demo",
            handshake_path=HANDSHAKE_PATH,
        )
        report: ProbeReport = run.run(
            run_probe(opts, run.settings, run.sink, on_sample=lambda s: records.record(s.to_json()))
        )
    records.finish(report.to_json())
    raise typer.Exit(int(report.exit))
