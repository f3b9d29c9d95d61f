"""``a2actl smoke``: scripted CI smoke tests: run a suite, write JUnit, start one from a live agent."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from a2actl.cli.context import invocation
from a2actl.cli.params import check_writable

if TYPE_CHECKING:
    from a2actl.smoke.result import CheckResult

app = typer.Typer(
    help="CI smoke tests: run a suite file (JUnit out), init one from an agent, validate one.",
    no_args_is_help=True,
)
SuiteArg = Annotated[
    str,
    typer.Argument(
        metavar="SUITE",
        help="A suite file (YAML; docs/smoke.md), or - to read it from standard input (the files it names are then relative to the current directory).",
    ),
]


@app.command("run")
def run_cmd(
    ctx: typer.Context,
    suite_path: SuiteArg,
    junit: Annotated[
        str | None,
        typer.Option(
            "--junit",
            metavar="PATH",
            help="Also write JUnit XML to this file (not -: stdout has the results).",
        ),
    ] = None,
) -> None:
    """Run every check of a suite against its targets: one row per check with status, duration, and
    the figure measured against its bound. Checks reuse the commands' own code.

    Exit codes: 0 all passed; 7 a check failed or errored (an unexpected error in one check is that
    check's error; the others still run); 3/4/5 when the target could not be reached at all
    (unreachable, auth, timeout); 5 when --max-time stopped the run (the results so far and the
    JUnit file are still written; the checks it cut short are errors); 2 a bad suite file (a
    file it names missing too) or an unwritable --junit (--junit - too; checked before the run; a write that fails only at the end, such as a full
    disk, is 2 after the results are printed).

    Examples:

      a2actl smoke run suite.yaml --junit smoke.xml

      TARGET=https://agent.example.com a2actl smoke run suite.yaml -o json

      cat suite.yaml | a2actl smoke run -
    """
    from a2actl.core.errors import UsageError
    from a2actl.render import smoke as render_smoke
    from a2actl.smoke.run import run_job

    run = invocation(ctx)
    if junit is not None:
        if not junit:  # --junit "$UNSET": the suite ran and no file was written, silently
            raise UsageError("--junit: an empty path")
        if junit == "-":  # it wrote a file named '-'; standard output carries the results
            raise UsageError(
                "--junit -: JUnit XML goes to a file (standard output carries the results)",
                hint="--junit smoke.xml, the file a CI JUnit reporter reads",
            )
        check_writable(ctx, junit, "--junit")  # before the run: a suite may run for minutes
    # jsonl: a "check" record as each check ends, then the "summary"; json: the whole document;
    # table: the results table at the end.
    records = run.out.records(
        key="results", summary_view=render_smoke.results, record_type="check", summary_type="summary"
    )

    def ended(res: CheckResult) -> None:
        row = res.to_json()
        records.record(row)
        if res.exception is not None:  # a bug in one check: its row says so; stderr too, at once
            render_smoke.unexpected(run.out, row, res.exception if run.debug else None)

    # --max-time is the suite's own (run_job): the checks that ended, and the JUnit file, survive it
    result = run.run(
        run_job(suite_path, run.settings, run.sink, ended, junit, run.max_time),
        bounded=False,
    )
    records.finish(result.to_json())
    if result.junit_error is not None:  # the results are out; the JUnit file is not (exit 2)
        render_smoke.failed_junit(run.out, result.junit_error)
    raise typer.Exit(int(result.exit))


@app.command("init")
def init(
    ctx: typer.Context,
    target: Annotated[str, typer.Argument(help="Agent base URL.")],
    out: Annotated[
        str | None,
        typer.Option(
            "--out",
            metavar="SUITE",
            help="Write the suite to this file (not stdout); the snapshot goes beside it unless --snapshot says otherwise. (-o is the global --output.)",
        ),
    ] = None,
    snapshot: Annotated[
        str | None,
        typer.Option(
            "--snapshot",
            metavar="PATH",
            help="Where to write the caps snapshot the suite expects (relative to the current directory). Default: expected-caps.json beside the suite.",
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite an existing suite or snapshot file.")
    ] = False,
    samples: Annotated[
        int, typer.Option("--samples", min=1, max=1000, help="Probe samples for the budget.")
    ] = 10,
    margin: Annotated[
        float, typer.Option("--margin", min=1.0, help="Probe budget = measured p99 x this margin.")
    ] = 3.0,
) -> None:
    """Write a starting suite for a live agent (to --out SUITE, or stdout): a caps snapshot as the
    expectation, a probe budget of the measured p99 times --margin, and a send check when a skill
    has examples. The suite names the snapshot relative to itself, as 'smoke run' reads it; existing
    files are not overwritten without --force (exit 2).

    Examples:

      a2actl smoke init http://localhost:9999 --out suite.yaml

      a2actl smoke init https://agent.example.com --margin 5 --out ci/smoke.yaml    # + ci/expected-caps.json

      a2actl smoke init http://localhost:9999 > suite.yaml
    """
    import sys

    from a2actl.smoke.init import init_job

    run = invocation(ctx)
    result = run.run(
        init_job(
            target,
            run.settings,
            run.sink,
            out=out,
            snapshot=snapshot,
            stdout_path=_stdout_file(),
            force=force,
            samples=samples,
            margin=margin,
        )
    )
    if out:
        if run.format != "table":  # scripts get what was written where
            run.out.data(result.to_json())
        run.out.note(f"wrote the suite to {out}")
    else:
        try:
            sys.stdout.write(result.text)  # as generated: not through Output
            sys.stdout.flush()
        except BrokenPipeError:
            raise
        except OSError as exc:  # a full disk: exit 2, one line (it was "unexpected OSError", exit 1)
            from a2actl.core.errors import StdoutUnwritable

            raise StdoutUnwritable.of(exc) from exc
    run.out.note(f"wrote the caps snapshot to {result.snapshot} (the suite expects {result.expect})")
    for note in result.notes:
        run.out.note("note: " + note)
    raise typer.Exit(int(result.exit))


def _stdout_file() -> str | None:
    """The regular file stdout is redirected to (``> ci/smoke.yaml``), where the OS says (Linux
    ``/proc/self/fd/1``); ``None`` for a terminal, a pipe, or elsewhere."""
    import os
    import stat
    import sys

    try:
        fd = sys.stdout.fileno()
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        path = os.readlink(f"/proc/self/fd/{fd}")
    except (OSError, ValueError, AttributeError):
        return None
    return path if path.startswith("/") and os.path.exists(path) else None


@app.command("validate")
def validate(ctx: typer.Context, suite_path: SuiteArg) -> None:
    """Check a suite file without running it: schema, check kinds, targets, durations, sizes, ${VARIABLES}
    and that the files it names (caps-diff expect, card file targets) exist.
    Errors name the file and line; exit 2.

    Examples:

      a2actl smoke validate suite.yaml
    """
    from a2actl.render import smoke as render_smoke
    from a2actl.smoke.run import validate_job

    run = invocation(ctx)
    result = run.run(validate_job(suite_path))  # a FIFO that never delivers: --max-time, Ctrl-C end it
    run.show(result, render_smoke.valid)
    raise typer.Exit(int(result.exit))
