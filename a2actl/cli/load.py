"""``a2actl load``: load-test an A2A agent (``run``) and merge runs (``report``); ``a2actl.load``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from a2actl.cli.context import invocation
from a2actl.cli.otel import OtlpOpt, traced
from a2actl.cli.params import CardPath, check_writable, say_unwritten, unwritten_exit

if TYPE_CHECKING:
    import asyncio

    from a2actl.cli.context import Invocation
    from a2actl.core.config import Settings
    from a2actl.load.metrics import RequestRecord
    from a2actl.protocol.events import PartSpec
    from a2actl.render.output import Output

app = typer.Typer(help="Load tests: open or closed load, A2A scenarios, thresholds.", no_args_is_help=True)

#: The most arrivals one open-model run may schedule (``--rate`` x ``--duration``).
_MAX_ARRIVALS = 10_000_000

_SCENARIO_HELP = (
    "send (blocking SendMessage), stream (SendStreamingMessage to the end), get (GetTask), card, handshake."
)


def _rate(text: str | None) -> float | None:
    """``--rate``: ``100``, ``100/s``, ``6000/m`` or ``360000/h`` → requests per second."""
    from a2actl.core.errors import UsageError

    if text is None:
        return None
    value, _, unit = text.strip().partition("/")
    per = {"": 1.0, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}.get(unit.strip().lower())
    try:
        rate = float(value) / per if per else None
    except ValueError:
        rate = None
    if rate is None or rate <= 0 or rate != rate or rate == float("inf"):
        raise UsageError(f"--rate {text!r}: give a positive rate such as 50, 50/s or 3000/m")
    return rate


def _read_messages(
    ctx: typer.Context, text: str | None, data: list[str], messages_file: str | None
) -> list[list[PartSpec]]:
    """``_messages`` under ``--max-time``: when ``--messages`` or a ``--data @FILE`` is not a
    regular file (a FIFO, ``<(cmd)``), or ``--text -`` reads a stdin that is not one (a pipe), it is
    read in a thread so the deadline (``TimeoutError_``, exit 5) and Ctrl-C/SIGTERM end the wait; a
    regular file is read at once. Raises what ``_messages`` raises."""
    from a2actl.core.offloop import is_regular, off_the_loop, stdin_is_regular

    paths = [messages_file] if messages_file is not None else []
    paths += [d[1:] for d in data if d.startswith("@")]
    # `--text -` reads stdin (as send's TEXT '-'): `sleep 100 | a2actl load run URL --text -`
    # held the command past --max-time
    from_stdin = text == "-" and messages_file is None

    if (not from_stdin or stdin_is_regular()) and all(
        is_regular(p) for p in paths
    ):  # read at once (a path that cannot be looked at: the read says why)
        return _messages(text, data, messages_file)
    read: list[list[PartSpec]] = invocation(ctx).run(
        off_the_loop(lambda: _messages(text, data, messages_file), "a2actl-messages")
    )
    return read


def _messages(text: str | None, data: list[str], messages_file: str | None) -> list[list[PartSpec]]:
    """The messages to cycle: one per line of ``--messages FILE.jsonl`` (a JSON string is a text
    part; an object ``{"text": …}`` or ``{"data": …}``, or several under ``"parts"``), else one
    message from ``--text``/``--data`` (default text ``hello``). Raises ``UsageError`` (exit 2) for
    a file that cannot be read, is over ``core.config.MAX_INPUT_BYTES`` (64 MiB; ``--data @FILE``
    too), is not UTF-8 or holds a line that is no message."""
    import json

    from a2actl.core.errors import UsageError
    from a2actl.core.offloop import read_file_capped
    from a2actl.protocol.events import PartSpec
    from a2actl.tasks.request import build_parts

    if text is not None:
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise UsageError("--text is not valid UTF-8 (a terminal or shell in another encoding?)") from exc
    if messages_file is None:
        parts = list(
            build_parts(text if (text is not None or data) else "hello", data, [], text_name="--text")
        )
        _check_sendable(parts, "--text/--data")
        return [parts]
    try:  # at most core.config.MAX_INPUT_BYTES: /dev/zero or <(yes) never end
        lines = read_file_capped(messages_file, f"--messages {messages_file}").decode("utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise UsageError(f"--messages {messages_file}: not UTF-8 text (byte {exc.start})") from exc
    out: list[list[PartSpec]] = []

    def part(obj: object, where: str) -> PartSpec:
        if isinstance(obj, str):
            return PartSpec("text", text=obj)
        if isinstance(obj, dict) and "text" in obj and "data" in obj:  # one would be dropped
            raise UsageError(
                f'--messages {where}: {{"text": …}} and {{"data": …}} are two parts: '
                'give them as {"parts": [{"text": …}, {"data": …}]}'
            )
        if isinstance(obj, dict) and isinstance(obj.get("text"), str):
            return PartSpec("text", text=obj["text"])
        if isinstance(obj, dict) and "data" in obj:
            return PartSpec("data", data=obj["data"])
        raise UsageError(
            f'--messages {where}: expected a string, {{"text": …}}, {{"data": …}} or {{"parts": […]}}'
        )

    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{messages_file}:{number}"
        try:
            obj = json.loads(line)
        except ValueError as exc:
            raise UsageError(f"--messages {where}: not JSON: {exc}") from exc
        except RecursionError as exc:
            raise UsageError(f"--messages {where}: JSON nested too deeply to read") from exc
        if isinstance(obj, dict) and isinstance(obj.get("parts"), list) and obj["parts"]:
            out.append([part(p, where) for p in obj["parts"]])
        else:
            out.append([part(obj, where)])
        _check_sendable(out[-1], f"--messages {where}")
    if not out:
        raise UsageError(f"--messages {messages_file}: no messages in the file")
    return out


def _check_sendable(parts: list[PartSpec], where: str) -> None:
    """Raise ``UsageError`` (exit 2, naming ``where``) when the message cannot be written as JSON by
    the encoder of every request (``protocol.jsondoc.dumps_body``), which would fail every request of
    the run on the client: ``NaN``/``Infinity`` in a data part, or a data part nested too deeply to
    write (about 1,000 levels)."""
    from a2actl.core.errors import UsageError
    from a2actl.protocol.events import message_params
    from a2actl.protocol.jsondoc import BodyNotJSON, dumps_body
    from a2actl.protocol.versions import BINDING_JSONRPC, Family

    try:
        for family in Family:  # the deepest request of each family: JSON-RPC's envelope
            dumps_body(
                {"jsonrpc": "2.0", "params": message_params(parts, family, BINDING_JSONRPC)}, "the agent"
            )
    except BodyNotJSON as exc:
        raise UsageError(f"{where}: the message cannot be sent as JSON: {exc.why}") from exc


@app.command("run")
def run_cmd(
    ctx: typer.Context,
    target: Annotated[str, typer.Argument(help="Agent base URL or full card URL.")],
    scenario: Annotated[str, typer.Option("--scenario", "-s", metavar="NAME", help=_SCENARIO_HELP)] = "send",
    concurrency: Annotated[
        int | None,
        typer.Option("-c", "--concurrency", min=1, max=10000, help="Closed model: N workers (default 10)."),
    ] = None,
    requests: Annotated[
        int | None,
        typer.Option("-n", "--requests", min=1, help="Stop after N requests (default 200 for -c)."),
    ] = None,
    duration: Annotated[
        str | None,
        typer.Option("--duration", "-d", metavar="DURATION", help="Stop after this long, e.g. 30s."),
    ] = None,
    rate: Annotated[
        str | None,
        typer.Option("--rate", metavar="N[/s|/m]", help="Open model: N arrivals per second, on schedule."),
    ] = None,
    ramp: Annotated[
        str | None,
        typer.Option(
            "--ramp", metavar="DURATION", help="Open model: ramp linearly from 0 to --rate over this."
        ),
    ] = None,
    max_in_flight: Annotated[
        int,
        typer.Option(
            "--max-in-flight",
            min=1,
            max=100000,
            help="Open model: the safety cap; later arrivals wait (schedule lag), then are dropped.",
        ),
    ] = 500,
    text: Annotated[
        str | None,
        typer.Option(
            "--text", metavar="TEXT", help="Message text (default: hello); '-' reads standard input."
        ),
    ] = None,
    data: Annotated[
        list[str] | None,
        typer.Option(
            "--data", metavar="JSON|@FILE", help="A data part (inline JSON or @file.json); repeatable."
        ),
    ] = None,
    messages: Annotated[
        str | None,
        typer.Option(
            "--messages",
            metavar="FILE.jsonl",
            help='One message per line, cycled: "text", {"text":…}, {"data":…}.',
        ),
    ] = None,
    max_event_bytes: Annotated[
        str | None,
        typer.Option(
            "--max-event-bytes",
            metavar="SIZE",
            help="-s stream: a stream with an event larger than this, e.g. 4MiB, is a protocol error, as in 'stream tail' (default 16MiB; a larger event is counted, not read).",
        ),
    ] = None,
    threshold: Annotated[
        list[str] | None,
        typer.Option(
            "--threshold",
            metavar="EXPR",
            help="Pass/fail criterion, e.g. 'p99<1s', 'errors<1%', 'ttfe.p95<300ms'; repeatable. Exit 7 if any fails.",
        ),
    ] = None,
    abort_on_fail: Annotated[
        bool,
        typer.Option("--abort-on-fail", help="Stop as soon as a threshold fails (checked twice a second)."),
    ] = False,
    out_file: Annotated[
        str | None,
        typer.Option("--out", metavar="FILE.json", help="Also write the full -o json report here."),
    ] = None,
    progress: Annotated[
        bool, typer.Option("--progress/--no-progress", help="The live line on stderr (terminals only).")
    ] = True,
    loop: Annotated[
        str,
        typer.Option(
            "--loop",
            metavar="auto|asyncio|uvloop",
            help="Event loop: uvloop (pip install 'a2actl[fast]') when installed (auto), or asyncio.",
        ),
    ] = "auto",
    card_path: CardPath = None,
    otlp: OtlpOpt = None,
) -> None:
    """Load-test an A2A agent with one scenario, in the closed model (-c N workers, -n or --duration)
    or the open model (--rate R/s on a fixed schedule, latency counted from each request's intended
    send time, so a stalled agent shows in the percentiles: no coordinated omission).

    Reports the sending rate vs asked and the throughput (answers per second up to the last
    answer, so an agent that falls behind shows), latency percentiles from an HDR histogram (p50 … p99.9,
    max), stream timings (time to first event, first artifact, terminal state, gaps), errors by
    class and code, task states (a failed task is counted apart, never as a success), schedule
    lag and drops. -o json is the full report (histograms encoded, mergeable with 'load report');
    -o jsonl one record per request, then the summary. The global --timeout bounds each request.
    Ctrl-C or SIGTERM stops sending, gives the requests in flight 2 s, then writes the report of
    what was measured (--out too), marked interrupted, and exits 130.

    Examples:

      a2actl load run http://localhost:9999 -c 8 -n 500

      a2actl load run http://localhost:9999 --rate 50/s --duration 30s --threshold 'p99<1s'

      a2actl load run http://localhost:9999 -s stream --rate 20 -d 10s --threshold 'ttfe.p95<300ms'

      a2actl load run http://localhost:9999 -s handshake -c 40 -d 10s --out run.json
    """
    import time

    from a2actl.agent.target import parse_target
    from a2actl.cli.params import duration as parse_duration_option
    from a2actl.core.errors import UsageError
    from a2actl.load.report import LoadReport, ModelSpec, ramp_note
    from a2actl.load.run import LoadOptions, run_load
    from a2actl.load.scenarios import SCENARIOS, Messages, timing_metrics
    from a2actl.load.thresholds import check_binding, check_metrics, parse_thresholds
    from a2actl.protocol.versions import normalise_binding
    from a2actl.render import load as render_load

    clock_start = time.perf_counter()  # --max-time counts reading --messages/--data @FILE too
    run = invocation(ctx)
    if scenario not in SCENARIOS:
        raise UsageError(f"--scenario {scenario!r}: use one of {', '.join(SCENARIOS)}")
    if messages is not None and (text is not None or data):
        # --messages gives every message: --text/--data were dropped without a word
        raise UsageError(
            f"--messages gives the messages: {'--text' if text is not None else '--data'} would be "
            "ignored; give one or the other",
            hint='put the data in the file: {"parts": ["text", {"data": {…}}]} per line',
        )
    thresholds = parse_thresholds(threshold)
    if abort_on_fail and not thresholds:
        raise UsageError(
            "--abort-on-fail stops the run when a --threshold fails, and none is given",
            hint="add --threshold 'p99<1s' (or 'errors<1%') to stop on",
        )
    if max_event_bytes is not None:
        run.settings = _event_bound(run.settings, max_event_bytes, scenario)
    per_second = _rate(rate)
    seconds = parse_duration_option(duration, "--duration", positive=True)
    ramp_s = parse_duration_option(ramp, "--ramp", positive=True)
    if per_second is None:
        if ramp_s is not None:
            raise UsageError("--ramp needs --rate (it ramps the open model's arrival rate)")
        model = ModelSpec(
            "closed",
            concurrency=concurrency or 10,
            requests=requests if requests or seconds else 200,
            duration=seconds,
        )
    else:
        if concurrency is not None:
            raise UsageError("-c is the closed model's workers; with --rate use --max-in-flight as the cap")
        model = ModelSpec(
            "open",
            requests=requests,
            duration=seconds if seconds or requests else 10.0,
            rate=per_second,
            ramp=ramp_s,
            max_in_flight=max_in_flight,
        )
    check_metrics(
        thresholds,
        timing_metrics(scenario, open_model=model.kind == "open"),
        f"-s {scenario}" + ("" if model.kind == "open" else " in the closed model"),
    )
    if run.settings.binding.strip().lower() != "auto":  # known before the run: no gRPC phases on another
        binding = normalise_binding(run.settings.binding)
        check_binding(thresholds, {binding}, f"--binding {binding} runs on another")
    if model.kind == "open":
        planned = (per_second or 0.0) * (model.duration if model.duration is not None else float("inf"))
        if model.requests is not None:
            planned = min(planned, model.requests)
        if planned > _MAX_ARRIVALS:
            raise UsageError(
                f"--rate {rate} for {duration or f'{model.duration:g}s'} would schedule "
                f"{f'{planned:,.0f}' if planned < 1e15 else f'{planned:.3g}'} arrivals "
                f"(at most {_MAX_ARRIVALS:,})",
                hint="one process generates a few thousand requests per second; split the load across "
                "machines and merge with 'a2actl load report'",
            )
    if out_file:
        _out_is_no_input(
            out_file, [messages] if messages else [], [d[1:] for d in data or [] if d.startswith("@")]
        )
        check_writable(ctx, out_file, "--out")
    limit = run.max_time
    if limit is not None and model.duration is not None and model.duration >= limit:
        given = (
            f"--duration {duration}"
            if duration
            else f"the open model's default --duration {model.duration:g}s"
        )
        raise UsageError(
            f"{given} is not shorter than --max-time {limit:g}s",
            hint="pass a longer --max-time (the default for 'load run' is 1h)"
            + ("" if duration else ", or a shorter --duration or -n"),
        )
    opts = LoadOptions(
        target=parse_target(target),
        scenario=scenario,
        model=model,
        messages=Messages(_read_messages(ctx, text, data or [], messages)),
        timeout=run.settings.read_timeout,
        thresholds=thresholds,
        abort_on_fail=abort_on_fail,
        card_path=card_path,
        max_time=limit,
        clock_start=clock_start,
    )
    short_ramp = ramp_note(model.to_json())
    if short_ramp:  # said before the run (its input read and checked) as well as in the report's notes
        run.out.warn(short_ramp)
    trace = traced(ctx, otlp, ramp=model.ramp)
    policy = _loop_policy(loop)
    out = run.out
    line = render_load.ProgressLine(out, enabled=progress)
    # -o jsonl's records: the first write that fails (a full disk: StdoutUnwritable; a reader gone:
    # BrokenPipeError) stops the run with its report, and is raised once --out is written
    unwritten: list[Exception] = []

    def record(r: RequestRecord) -> None:
        try:
            out.jsonl({"type": "request", **r.to_json()})
        except Exception as exc:
            unwritten.append(exc)
            raise

    on_record = record if run.format == "jsonl" else None
    import asyncio

    previous = asyncio.get_event_loop_policy()
    try:
        if policy is not None:
            asyncio.set_event_loop_policy(policy)
        # --max-time ends the run inside (a report of what was measured, exit 5), not by cancelling it
        report: LoadReport = trace.run(
            run_load(opts, run.settings, run.sink, on_record, line.update if line.enabled else None),
            bounded=False,
        )
    finally:
        line.close()
        if policy is not None:
            asyncio.set_event_loop_policy(previous)
    if report.interrupted:  # Ctrl-C or SIGTERM: the report of what was measured, then exit 130
        out.stderr.write("a2actl: interrupted: sending stopped; the report holds what was measured\n")
        out.stderr.flush()
    doc, code = _written(run, *_unwritten_outcome(report.to_json(), int(report.exit), unwritten), out_file)
    if unwritten:  # --out is written: now the records' failure (exit 2; a reader gone: quietly)
        raise unwritten[0]
    if run.format == "jsonl":
        out.jsonl({"type": "summary", **doc})
    else:
        run.show(doc, render_load.report)
    _exit(out, doc, code)


def _unwritten_outcome(
    doc: dict[str, object], code: int, unwritten: list[Exception]
) -> tuple[dict[str, object], int]:
    """The report document and exit code for ``--out`` when the ``-o jsonl`` records could not be
    written (``unwritten``: the first failure, which the command raises once ``--out`` is written):
    ``exitCode`` is the code the command then exits with, the failure's own (2 for a standard
    output that cannot be written; 1 for an unexpected error), so the file says what the process
    did. A reader gone (``BrokenPipeError``, which ends the command quietly) keeps the report's code
    (its thresholds'). Without a failure, ``doc`` and ``code`` as given."""
    from a2actl.core.errors import A2ACtlError
    from a2actl.core.exit_codes import ExitCode

    if not unwritten or isinstance(unwritten[0], BrokenPipeError):
        return doc, code
    failure = unwritten[0]
    failed = int(failure.exit_code) if isinstance(failure, A2ACtlError) else int(ExitCode.ERROR)
    return {**doc, "exitCode": failed}, failed


def _out_is_no_input(out_file: str, *inputs: list[str]) -> None:
    """Raise ``UsageError`` (exit 2) when ``--out`` names one of the command's input files (the
    ``--messages`` file, a ``--data @FILE``, a report to merge): the report was written over it
    (the operator's messages lost; a merged report over one of its runs), as ``fleet``'s outputs
    are checked. Paths are compared as files (``os.path.samefile``), else as absolute paths; an
    ``--out`` that exists and is no regular file (``/dev/null``, a FIFO) overwrites nothing."""
    import os

    from a2actl.core.errors import UsageError

    if os.path.exists(out_file) and not os.path.isfile(out_file):
        return
    for source in (p for group in inputs for p in group):
        try:
            same = os.path.samefile(out_file, source)
        except (OSError, ValueError):
            same = os.path.abspath(out_file) == os.path.abspath(source)
        if same:
            raise UsageError(
                f"--out {out_file} is an input of this command ({source}): it would be overwritten"
            )


def _event_bound(settings: Settings, text: str, scenario: str) -> Settings:
    """``settings`` with ``--max-event-bytes`` as the stream event bound (``params.event_bound``).
    Raises ``UsageError`` (exit 2) for a bad size, or a scenario that reads no stream."""
    from a2actl.cli.params import event_bound
    from a2actl.core.errors import UsageError

    if scenario != "stream":
        raise UsageError(f"--max-event-bytes bounds stream events: use it with -s stream, not -s {scenario}")
    return event_bound(settings, text)


def _loop_policy(choice: str) -> asyncio.AbstractEventLoopPolicy | None:
    """The event-loop policy for ``--loop``: uvloop's when asked or (``auto``) installed, else
    ``None`` (asyncio's own). Raises ``UsageError`` (exit 2) for another value, or ``uvloop``
    asked but not installed."""
    from a2actl.core.errors import UsageError

    if choice not in ("auto", "asyncio", "uvloop"):
        raise UsageError(f"--loop {choice!r}: use auto, asyncio or uvloop")
    if choice == "asyncio":
        return None
    try:
        import uvloop
    except ImportError as exc:
        if choice == "uvloop":
            raise UsageError(
                "--loop uvloop: uvloop is not installed", hint="pip install 'a2actl[fast]'"
            ) from exc
        return None
    policy: asyncio.AbstractEventLoopPolicy = uvloop.EventLoopPolicy()
    return policy


def _write_report(run: Invocation, path: str, doc: dict[str, object]) -> str | None:
    """Write the ``-o json`` report to ``path``, with the run's secrets masked (the output's
    redactor, the same masking as stdout); a FIFO within what is left of ``--max-time``
    (``params.write_output``). Returns ``None``, or the one-line reason it could not be written
    (``"--out PATH: cannot write: …"``)."""
    import json

    from a2actl.cli.params import write_output

    def write() -> None:
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(run.out.redact(json.dumps(doc, indent=2, ensure_ascii=False)) + "\n")

    return write_output(run, path, "--out", write)


def _written(
    run: Invocation, doc: dict[str, object], code: int, out_file: str | None
) -> tuple[dict[str, object], int]:
    """Write ``doc`` to ``--out`` when given; returns the document and exit code to show. The
    ``--out`` path was checked before the run, so a write that fails now (a disk that filled) must
    not lose the report: it is still shown, with ``outError`` (the reason) and ``exitCode`` 2, the
    exit status."""
    error = _write_report(run, out_file, doc) if out_file else None
    if error is None:
        return doc, code
    failed = unwritten_exit([error])
    return {**doc, "exitCode": failed, "outError": error}, failed


def _exit(out: Output, doc: dict[str, object], code: int) -> NoReturn:
    """Say on stderr why ``--out`` was not written (``doc["outError"]``), then exit ``code``."""
    error = doc.get("outError")
    if error:
        say_unwritten(out, [str(error)])
    raise typer.Exit(code)


#: How a report read from standard input (``load report -``) is named in messages and ``sources``.
STDIN_NAME = "<stdin>"
_TOO_DEEP = "not a load report: JSON nested too deeply to read"


async def _read_reports(files: list[str]) -> list[tuple[str, Any]]:
    """``(path, parsed JSON)`` of each report file, in order (``core.offloop.read_json_files``: a
    FIFO or ``<(cmd)`` is read so that ``--max-time`` and Ctrl-C/SIGTERM end a wait for a writer that
    never comes); the path ``-`` is standard input (``_stdin_report``), named ``<stdin>``
    (``STDIN_NAME``). Raises ``UsageError`` (exit 2) for a file that cannot be read, is over 256 MiB,
    is not JSON or is nested too deeply to read, and for ``-`` given more than once (standard input
    is read once: the second would be empty)."""
    from a2actl.core.errors import UsageError
    from a2actl.core.offloop import off_the_loop, read_json_files, stdin_is_regular

    if files.count("-") > 1:
        raise UsageError(
            f"'-' (standard input) is given {files.count('-')} times: it can be read once",
            hint="give each report once; save the others to files",
        )
    out: list[tuple[str, Any]] = []
    for path in files:
        if path != "-":
            out += await read_json_files([path], "a2actl-load-report", _TOO_DEEP)
        elif stdin_is_regular():  # `< run.json`: read at once
            out.append((STDIN_NAME, _stdin_report()))
        else:  # a pipe whose writer may never end: off the loop, so --max-time and Ctrl-C end the wait
            out.append((STDIN_NAME, await off_the_loop(_stdin_report, "a2actl-load-report-stdin")))
    return out


def _stdin_report() -> Any:
    """The JSON document on standard input (``load report -``), reading at most 256 MiB + 1 byte
    (``core.config.MAX_REPORT_BYTES``, the limit of a report file: ``yes | load report -`` ends).
    Raises ``UsageError`` (exit 2, naming ``<stdin>``) when standard input is closed (``<&-``), a
    terminal (nobody piped a report in: the command would wait for one typed), cannot be read, is
    empty, over the limit, not JSON or nested too deeply to read."""
    import json

    from a2actl.core.config import MAX_REPORT_BYTES
    from a2actl.core.errors import UsageError
    from a2actl.core.offloop import over_limit, read_upto, stdin_bytes

    hint = "pipe a report in (cat run.json | a2actl load report - b.json) or give its file"
    buffer = stdin_bytes("load report '-'", hint)
    try:
        data = read_upto(buffer, MAX_REPORT_BYTES + 1)
    except (OSError, ValueError) as exc:  # ValueError: a stream closed under us
        reason = getattr(exc, "strerror", None) or exc
        raise UsageError(f"{STDIN_NAME}: cannot read: {reason}") from exc
    if len(data) > MAX_REPORT_BYTES:
        raise UsageError(over_limit(STDIN_NAME, MAX_REPORT_BYTES))
    if not data.strip():
        raise UsageError("load report '-': standard input was empty", hint=hint)
    try:
        return json.loads(data.decode("utf-8"))
    except ValueError as exc:  # UnicodeDecodeError too, as for a file
        raise UsageError(f"{STDIN_NAME}: not JSON: {exc}") from exc
    except RecursionError as exc:
        raise UsageError(f"{STDIN_NAME}: {_TOO_DEEP}") from exc


@app.command("report")
def report_cmd(
    ctx: typer.Context,
    files: Annotated[
        list[str],
        typer.Argument(
            metavar="REPORT.json...",
            help="'load run -o json' / --out reports; '-' reads one from standard input.",
        ),
    ],
    threshold: Annotated[
        list[str] | None,
        typer.Option(
            "--threshold",
            metavar="EXPR",
            help="Judge the merged data by these (default: the runs' own thresholds).",
        ),
    ] = None,
    out_file: Annotated[
        str | None, typer.Option("--out", metavar="FILE.json", help="Also write the merged report here.")
    ] = None,
) -> None:
    """Merge load reports of runs that shared one load (N machines or CI jobs each running a
    --rate share) into one report: counts and HDR histograms add exactly, asked rates add, the
    elapsed time is the longest run's. Thresholds are judged on the merged data; exit 7 if any
    fails. One file shows that report again. Two inputs holding the same run (a merged report and
    one of its runs) are exit 2: its requests would count twice. '-' reads a report from standard
    input (once), named <stdin>.

    Examples:

      a2actl load report a.json b.json --threshold 'p99<1s'

      ssh loadgen2 cat run.json | a2actl load report - a.json

      a2actl load report run.json -o json
    """
    from a2actl.core.errors import UsageError
    from a2actl.load.report import merge_reports
    from a2actl.load.scenarios import SCENARIOS, timing_metrics
    from a2actl.load.thresholds import check_binding, check_metrics, parse_thresholds
    from a2actl.render import load as render_load

    run = invocation(ctx)
    extra = parse_thresholds(threshold)
    if out_file:
        _out_is_no_input(out_file, [f for f in files if f != "-"])
    try:
        docs = run.run(_read_reports(files))
    except UsageError as exc:
        if ": not JSON: Extra data" not in exc.message or exc.hint:
            raise
        # several JSON documents: most likely 'load run -o jsonl' output, whose last line is the report
        raise UsageError(
            exc.message,
            hint="an '-o jsonl' file? its last line is the report (tail -n 1 FILE > run.json), "
            "or write the report with 'load run --out run.json'",
        ) from exc
    try:
        merged = merge_reports(docs, extra)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    if merged.scenario in SCENARIOS:  # --threshold names a metric the runs could record
        closed = merged.closed_only  # no lag: as 'load run -c' refuses it (it failed: no samples)
        check_metrics(
            extra,
            timing_metrics(merged.scenario, open_model=not closed),
            f"-s {merged.scenario}" + (" in the closed model" if closed else ""),
        )
        check_binding(extra, *_bindings(docs))
    doc, code = _written(run, merged.to_json(), int(merged.exit), out_file)
    run.show(doc, render_load.report)
    _exit(run.out, doc, code)


def _bindings(docs: list[tuple[str, Any]]) -> tuple[set[str] | None, str]:
    """The protocol bindings the merged runs spoke (``negotiated.protocolBinding`` of each report)
    and how a message names them (``the merged runs spoke JSONRPC``): ``None`` when a report does
    not say (a report from before negotiation was recorded, or a malformed one), or is itself a
    merge (its ``negotiated`` is its first run's only), or holds a gRPC phase's histogram."""
    from a2actl.load.thresholds import GRPC_PHASES
    from a2actl.protocol.versions import normalise_binding

    found = set()
    for _, doc in docs:
        if not isinstance(doc, dict) or doc.get("runs") not in (None, 1):
            return None, ""
        histograms = doc.get("histograms")
        if isinstance(histograms, dict) and any(name in histograms for name in GRPC_PHASES):
            return None, ""
        negotiated = doc.get("negotiated")
        binding = negotiated.get("protocolBinding") if isinstance(negotiated, dict) else None
        if not isinstance(binding, str) or not binding:
            return None, ""
        found.add(normalise_binding(binding))
    runs = "the run" if len(docs) == 1 else "the merged runs"
    return found, f"{runs} spoke {', '.join(sorted(found))}"
