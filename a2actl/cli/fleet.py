"""``a2actl fleet``: probe many agents at once (``probe``) and merge shard reports (``report``);
``a2actl.fleet``. docs/fleet.md."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from a2actl.cli.context import invocation
from a2actl.cli.otel import OtlpOpt, traced
from a2actl.cli.params import check_writable, say_unwritten, unwritten_exit

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    from a2actl.cli.context import Invocation
    from a2actl.fleet.report import FleetReport

app = typer.Typer(
    help="Fleets: probe thousands of agents, a funnel report, merge shards.", no_args_is_help=True
)

#: Seconds per request (connect, and each read) when the global --timeout is not given.
DEFAULT_TIMEOUT = 10.0

_CHECKS_HELP = (
    "Comma-separated: card (fetch and parse the card), validate (schema-check it), rpc (negotiate and "
    "answer a first GetTask), send (a blocking SendMessage). Default card,validate,rpc."
)


def _check_outputs(out_file: str | None, junit: str | None, inputs: Iterable[str]) -> None:
    """``--out`` and ``--junit`` must not name an input (the inventory, a report to merge) nor the
    same file: the report was written over the inventory, or a merged report over one of its shards.
    Raises ``UsageError`` (exit 2)."""
    import os

    from a2actl.core.errors import UsageError

    def same(a: str, b: str) -> bool:
        try:
            return os.path.samefile(a, b)
        except OSError:
            return os.path.abspath(a) == os.path.abspath(b)

    given = [(p, o) for p, o in ((out_file, "--out"), (junit, "--junit")) if p]
    for path, option in given:
        for source in inputs:
            if source != "-" and not source.startswith(("http://", "https://")) and same(path, source):
                raise UsageError(f"{option} {path} is an input of this command: it would be overwritten")
    if len(given) == 2 and same(given[0][0], given[1][0]):
        raise UsageError(f"--out and --junit name the same file {given[0][0]}")


def _write(
    run: Invocation, path: str, chunks: Iterable[str], option: str, redact: Callable[[str], str]
) -> str | None:
    """Write ``chunks`` to ``path`` as they come, with the run's secrets masked (``redact``: the
    output's redactor, which knows the per-agent header values and tokens); a FIFO within what is
    left of ``--max-time`` (``params.write_output``). Returns ``None``, or the one-line reason it
    could not be written (``"--out PATH: cannot write: …"``)."""
    from a2actl.cli.params import write_output

    def write() -> None:
        with open(path, "w", encoding="utf-8") as fh:
            for chunk in chunks:
                fh.write(redact(chunk))

    return write_output(run, path, option, write)


def _emit(
    run: Invocation,
    report: FleetReport,
    *,
    out_file: str | None,
    junit: str | None,
    records_streamed: bool,
) -> None:
    """Write ``--out`` and ``--junit``, then the report in the run's format (table, the whole ``-o
    json`` document, or ``-o jsonl``: one ``agent`` record per agent unless already streamed, then the
    ``summary``), and exit with the report's code (0, 7, 5 or 130: docs/exit-codes.md). The agent
    records are encoded one at a time as they are written (``FleetReport.json_chunks``): the whole
    document never sits in memory.

    A file that cannot be written at the end (a full disk, ``/dev/full``, a FIFO nobody reads: the
    check before the run passed) does not lose the report: it is still shown, with ``outError`` /
    ``junitError`` (the reason) and ``exitCode`` 2, one line on stderr, exit 2 (as ``load run``)."""
    from a2actl.render import fleet as render_fleet

    summary = report.summary_json()
    errors: dict[str, str] = {}
    if out_file:
        failed = _write(run, out_file, _with_newline(report.json_chunks(summary)), "--out", run.out.redact)
        if failed is not None:
            errors["outError"] = failed
    if junit:
        failed = _write(run, junit, [report.junit_xml()], "--junit", run.out.redact)
        if failed is not None:
            errors["junitError"] = failed
    code = int(report.exit)
    extra: dict[str, object] = {"junit": junit} if junit and "junitError" not in errors else {}
    if errors:
        code = unwritten_exit(errors.values())
        summary = {**summary, "exitCode": code}
        extra.update(errors)
    out = run.out
    if run.format == "jsonl":
        if not records_streamed:
            for r in report.results:
                out.jsonl({"type": "agent", **r.to_json()})
        out.jsonl({"type": "summary", **summary, **extra})
    elif run.format == "json":
        render_fleet.write_json(out, report.json_chunks(summary, extra or None))
    else:
        run.show({**summary, **extra}, render_fleet.report)
    say_unwritten(out, errors.values())
    raise typer.Exit(code)


def _with_newline(chunks: Iterable[str]) -> Iterator[str]:
    yield from chunks
    yield "\n"


def _request_timeout(ctx: typer.Context, settings_timeout: float) -> float:
    """Seconds per request: the global ``--timeout`` when given (command line or its environment),
    else ``DEFAULT_TIMEOUT`` (a fleet should not wait the single-agent default of 30 s on each of
    thousands of hung agents)."""
    # compared by name: typer vendors click (typer._click), whose enum is not click's
    source = ctx.find_root().get_parameter_source("timeout")
    if getattr(source, "name", None) in ("COMMANDLINE", "ENVIRONMENT"):
        return settings_timeout
    return DEFAULT_TIMEOUT


@app.command("probe")
def probe_cmd(
    ctx: typer.Context,
    inventory: Annotated[
        str,
        typer.Argument(
            metavar="INVENTORY",
            help="A text file of URLs, a YAML/JSON inventory, an AI Catalog (file or https URL), a "
            "JSON list; - reads standard input.",
        ),
    ],
    concurrency: Annotated[
        int, typer.Option("-c", "--concurrency", min=1, max=10000, help="Agents checked at once.")
    ] = 50,
    budget: Annotated[
        str | None,
        typer.Option(
            "--budget",
            metavar="DURATION",
            help="Total time per agent (all checks and retries), e.g. 5s; over it the agent fails "
            "(over-budget). An inventory's per-agent budget wins.",
        ),
    ] = None,
    checks: Annotated[str, typer.Option("--checks", metavar="LIST", help=_CHECKS_HELP)] = "card,validate,rpc",
    send: Annotated[
        str | None,
        typer.Option(
            "--send", metavar="TEXT", help="Also send this text, blocking (implies the send check)."
        ),
    ] = None,
    shard: Annotated[
        str | None,
        typer.Option(
            "--shard",
            metavar="I/N",
            help="Check only shard I of N (1-based), by a stable hash of each URL: N jobs with 1/N … N/N "
            "cover the inventory exactly once.",
        ),
    ] = None,
    retries: Annotated[
        int,
        typer.Option(
            "--retries",
            min=0,
            max=10,
            help="Extra attempts for a transient failure (refused, timeout, 5xx).",
        ),
    ] = 1,
    fail_under: Annotated[
        str | None,
        typer.Option(
            "--fail-under",
            metavar="PCT",
            help="Exit 7 only when fewer than PCT of the agents pass (e.g. 95%); default: any failure.",
        ),
    ] = None,
    junit: Annotated[
        str | None,
        typer.Option("--junit", metavar="FILE", help="Also write JUnit XML: one test case per agent."),
    ] = None,
    out_file: Annotated[
        str | None,
        typer.Option(
            "--out",
            metavar="FILE.json",
            help="Also write the full -o json report (per-agent records): 'fleet report' merges these.",
        ),
    ] = None,
    progress: Annotated[
        bool, typer.Option("--progress/--no-progress", help="The live line on stderr (terminals only).")
    ] = True,
    otlp: OtlpOpt = None,
) -> None:
    """Probe every agent of an inventory at once: fetch the card, validate it, negotiate a version
    and binding, answer a first RPC (GetTask on a random id: TaskNotFound is healthy), and with
    --send complete a blocking SendMessage.

    Prints the funnel (listed > reachable > card valid > version negotiated > first RPC answers >
    send completes, counts and %), the failures grouped by cause with an example each (the first
    schema error of an invalid card), the slowest agents, and the distribution of declared and
    negotiated versions (how many are still 0.x-only). -o json is the full report with one record per
    agent; -o jsonl one record per agent as it finishes, then the summary. The global --timeout bounds
    each request, connect included (default 10s here); -H/--token-env/--cacert/... apply to every
    agent (an inventory's per-agent headers and tokenEnv win).

    Exit codes: 0 every agent passed (or at least --fail-under); 7 an agent failed its checks; 5
    --max-time ended the run, 130 Ctrl-C stopped it (either way the report, --out and --junit hold
    the agents checked so far); 2 a bad inventory or option.

    Examples:

      a2actl fleet probe agents.txt

      a2actl fleet probe fleet.yaml -c 200 --budget 5s --junit fleet.xml

      a2actl fleet probe https://registry.example.com/.well-known/ai-catalog.json --fail-under 95%

      a2actl fleet probe agents.txt --shard 2/4 --out shard2.json

      cat agents.txt | a2actl fleet probe - --checks card,validate -o jsonl
    """
    import time

    from a2actl.cli.params import duration
    from a2actl.core.errors import TimeoutError_
    from a2actl.fleet.inventory import open_inventory, parse_shard
    from a2actl.fleet.report import FleetReport, parse_percent
    from a2actl.fleet.result import AgentResult, FleetOptions, parse_checks
    from a2actl.render import fleet as render_fleet

    run = invocation(ctx)
    settings = run.settings
    wanted = parse_checks(checks + (",send" if send is not None else ""))
    if "send" in wanted and send is None:
        send = "ping"
    budget_s = duration(budget, "--budget", positive=True)
    shard_spec = parse_shard(shard) if shard is not None else None
    tolerance = parse_percent(fail_under) if fail_under is not None else None
    _check_outputs(out_file, junit, [inventory])
    for path, option in ((out_file, "--out"), (junit, "--junit")):
        if path:
            check_writable(ctx, path, option)
    trace = traced(ctx, otlp)
    inv = run.run(open_inventory(inventory, settings, run.sink))
    notes = list(inv.notes)
    if inv.skipped:
        notes.append(
            f"{inv.skipped} catalog entries are not A2A agents (MCP servers, skills, …) and were skipped"
        )
    if shard_spec is not None:
        listed = len(inv.agents)
        inv = inv.shard(*shard_spec)
        notes.append(f"shard {shard_spec[0]}/{shard_spec[1]}: {len(inv.agents):,} of {listed:,} agents")
    # one socket per agent in flight: past the open-file limit every connect failed (EMFILE) and the
    # agents were called refused
    from a2actl.core.fdlimit import fit_open_files

    fitted, fd_limit = fit_open_files(min(concurrency, max(1, len(inv.agents))), per_item=2)
    if fd_limit is not None:
        notes.append(
            f"-c {concurrency:,} lowered to {fitted:,}: the open-file limit (ulimit -n) is {fd_limit:,}"
        )
        concurrency = fitted
    options = FleetOptions(
        concurrency=concurrency,
        timeout=_request_timeout(ctx, settings.read_timeout),
        budget=budget_s,
        checks=wanted,
        retries=retries,
        send_text=send if send is not None else "ping",
        a2a_version=settings.a2a_version,
        binding=settings.binding,
        headers=settings.headers,
        token=settings.token,
    )
    from a2actl.core.errors import StdoutUnwritable
    from a2actl.fleet.run import run_fleet

    out = run.out
    line = render_fleet.ProgressLine(out, options.stages, enabled=progress)
    streamed = run.format == "jsonl"
    # kept for --max-time and Ctrl-C (the report of what was checked): one slot per agent, no dict
    finished: list[AgentResult | None] = [None] * len(inv.agents)

    unwritable: list[StdoutUnwritable] = []

    def on_result(index: int, result: AgentResult) -> None:
        finished[index] = result
        if streamed and not unwritable:  # one record per agent as it finishes (the order they finish in)
            try:
                out.jsonl({"type": "agent", **result.to_json()})
            except StdoutUnwritable as exc:  # a full disk: the probe goes on, --out/--junit are
                unwritable.append(exc)  # written, then the summary's write fails again: exit 2

    started = time.time()
    t0 = time.perf_counter()
    timed_out = interrupted = False
    left = ""
    try:
        results = (
            trace.run(
                run_fleet(inv, options, settings, progress=line.update, sink=run.sink, on_result=on_result)
            )
            if inv.agents
            else []
        )
    except TimeoutError_ as exc:  # --max-time: the agents checked so far, exit 5
        results = [r for r in finished if r is not None]
        timed_out = True
        notes.append(
            f"{exc.message}: {len(inv.agents) - len(results):,} of {len(inv.agents):,} agents not checked"
        )
    except KeyboardInterrupt:  # Ctrl-C: as --max-time (the report of what was checked), exit 130
        results = [r for r in finished if r is not None]
        interrupted = True
        left = f"{len(inv.agents) - len(results):,} of {len(inv.agents):,} agents not checked"
        notes.append(f"interrupted (Ctrl-C): {left}")
    finally:
        line.close()
    if interrupted:
        out.stderr.write(f"a2actl: interrupted: {left}; the report holds the agents checked so far\n")
        out.stderr.flush()
    report = FleetReport(
        results=results,
        stages=options.stages,
        source=inv.source,
        options=options.to_json(),
        shard=shard_spec,
        duplicates=inv.duplicates,
        started_at=started,
        elapsed=time.perf_counter() - t0,
        fail_under=tolerance,
        notes=notes,
        unchecked=len(inv.agents) - len(results),
        timed_out=timed_out,
        interrupted=interrupted,
    )
    trace.keep(report)
    _emit(run, report, out_file=out_file, junit=junit, records_streamed=streamed)


async def _read_reports(files: list[str]) -> list[tuple[str, Any]]:
    """``(path, parsed JSON)`` of each report file, in order (``core.offloop.read_json_files``: a
    FIFO or ``<(cmd)`` is read so that ``--max-time`` and Ctrl-C/SIGTERM end a wait for a writer that
    never comes). Raises ``UsageError`` (exit 2) for a file that cannot be read or is not JSON."""
    from a2actl.core.offloop import read_json_files

    return await read_json_files(files, "a2actl-fleet-report")


@app.command("report")
def report_cmd(
    ctx: typer.Context,
    files: Annotated[
        list[str],
        typer.Argument(metavar="REPORT.json...", help="'fleet probe --out' / '-o json' reports (shards)."),
    ],
    fail_under: Annotated[
        str | None,
        typer.Option(
            "--fail-under",
            metavar="PCT",
            help="Judge the merged report by this (default: the strictest of the reports').",
        ),
    ] = None,
    junit: Annotated[
        str | None,
        typer.Option("--junit", metavar="FILE", help="Also write JUnit XML of the merged report."),
    ] = None,
    out_file: Annotated[
        str | None, typer.Option("--out", metavar="FILE.json", help="Also write the merged report here.")
    ] = None,
) -> None:
    """Merge the reports of shards (N CI jobs or machines, each running 'fleet probe --shard I/N
    --out shardI.json') into the report one run over the whole inventory would give: the funnel,
    causes, slowest agents and distribution are recomputed from the per-agent records. The same shard
    twice, or an agent in two reports, is refused (exit 2). One file shows that report again.

    Exit codes: 0 every agent passed (or at least --fail-under); 7 an agent failed; 2 unreadable,
    overlapping or foreign reports.

    Examples:

      a2actl fleet report shard1.json shard2.json shard3.json --junit fleet.xml

      a2actl fleet report shard*.json --fail-under 95% -o json
    """
    from a2actl.fleet.report import FleetReport, merge_reports, parse_percent

    run = invocation(ctx)
    tolerance = parse_percent(fail_under) if fail_under is not None else None
    _check_outputs(out_file, junit, files)
    for path, option in ((out_file, "--out"), (junit, "--junit")):
        if path:
            check_writable(ctx, path, option)
    reports = [(path, FleetReport.from_json(doc, path)) for path, doc in run.run(_read_reports(files))]
    merged = merge_reports(reports, tolerance)
    _emit(run, merged, out_file=out_file, junit=junit, records_streamed=False)
