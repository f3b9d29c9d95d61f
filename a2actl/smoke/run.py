"""Running a smoke suite (docs/smoke.md): every check against every target, in file order, and the
JUnit XML CI systems read.

A check ends ``pass``, ``fail`` (the agent answered but a bound did not hold) or ``error`` (the check
could not run: unreachable, auth, timeout, protocol). Each result carries the measured figure and the
bound it was held to. Exit code (``a2actl.smoke.result.suite_exit_code``): 7 when any check failed or
errored; but when no check passed and every error was of one connection class, that class (3
unreachable, 4 auth, 5 timeout), so CI logs show why.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from a2actl.core.errors import UsageError
from a2actl.core.junit import junit_text
from a2actl.smoke.checks import run_check
from a2actl.smoke.result import CheckResult, SmokeRun, SuiteCheck, suite_exit_code
from a2actl.smoke.suite import Suite, load_suite

if TYPE_CHECKING:
    from a2actl.core.config import Settings
    from a2actl.core.sink import EventSink
    from a2actl.smoke.suite import Check

__all__ = ["CheckResult", "SmokeRun", "junit_xml", "run_job", "run_suite", "suite_exit_code", "validate_job"]


def _plan(suite: Suite) -> list[tuple[Check, str | None]]:
    """Every ``(check, target)`` of ``suite`` in run order (a check's own ``target`` overrides the
    suite's ``targets``; ``dlq-depth`` runs once, with no target)."""
    return [
        (c, target)
        for c in suite.checks
        for target in ([c.target] if c.target else (suite.targets if c.kind != "dlq-depth" else [None]))
    ]


async def run_suite(
    suite: Suite,
    settings: Settings,
    sink: EventSink | None,
    on_result: Callable[[CheckResult], None] | None = None,
    results: list[CheckResult] | None = None,
    running: list[float] | None = None,
) -> list[CheckResult]:
    """Every check against every target, in file order (``_plan``). ``on_result`` sees each result
    as it ends; ``results`` (a new list by default) gets each one as it ends, so a caller that
    cancels the run keeps what ended; ``running`` (when given) holds the ``time.perf_counter()`` at
    which the check now running started, so such a caller knows how long it ran."""
    results = [] if results is None else results
    suite_dir = suite.directory  # a suite from stdin: the current directory
    for c, target in _plan(suite):
        if running is not None:
            running[:] = [time.perf_counter()]
        res = await run_check(c, target, suite_dir, settings, sink)
        results.append(res)
        if on_result is not None:
            on_result(res)
        await asyncio.sleep(0)
    return results


async def run_job(
    suite_path: str,
    settings: Settings,
    sink: EventSink | None,
    on_result: Callable[[CheckResult], None] | None = None,
    junit: str | None = None,
    max_time: float | None = None,
) -> SmokeRun:
    """``smoke run``: load the suite (``UsageError``, exit 2, for a bad file) and run it; with
    ``junit`` also write the JUnit XML there, redacted like stdout (an agent may echo a token; CI
    publishes the file).

    A JUnit file that cannot be written at the end (a full disk, ``/dev/full``: the command's
    pre-check only opens it) does not lose the results: they are returned with ``junit_error``
    (exit 2).

    ``max_time`` (seconds, ``--max-time``): the run is stopped there, and the results are still
    returned (and written to ``junit``): the checks that ended, then an ``error`` (exit class 5) for
    the check that was running and for every check not run; the run's exit is 5 (``max_time_reached``).

    Interrupted (Ctrl-C, SIGTERM: a CI job's timeout or cancel), the ``junit`` file is still
    written the same way, the cut checks' errors saying "interrupted", before the interruption
    propagates (exit 130): CI publishes what ran. So is it when ``on_result`` raises
    ``StdoutUnwritable`` (a full disk: the run stops, exit 2) or ``BrokenPipeError`` (a reader gone
    away, ``| head``: the run stops, and the CLI ends quietly), the cut checks' errors saying so."""
    from a2actl.core.deadline import within
    from a2actl.core.errors import StdoutUnwritable, TimeoutError_
    from a2actl.core.exit_codes import ExitCode
    from a2actl.core.offloop import write_report
    from a2actl.core.redact import Redactor

    started = time.monotonic()  # one --max-time for the read and the checks together
    try:
        suite = await (
            _load_off_loop(suite_path) if max_time is None else within(_load_off_loop(suite_path), max_time)
        )
    except asyncio.TimeoutError:
        raise TimeoutError_(
            f"gave up after --max-time {max_time:g}s: the suite "
            f"{'on standard input' if suite_path == '-' else suite_path} was still being read",
            hint="a FIFO or <(cmd) that never ends? give the suite as a file",
        ) from None
    if junit is not None:
        refuse_overwrite(suite, junit)
    results: list[CheckResult] = []
    running: list[float] = []  # when the check now running started (run_suite)
    reached = False

    def cut_short(why: str, exit_class: ExitCode | None, tell: bool = True, between: bool = False) -> None:
        """An ``error`` for the check that was running (its duration: how long it ran, not 0: the
        JUnit file must show where the time went) and for each check not run (0); with ``between``
        (stopped after a check ended, before the next began) every one is a check not run. Each is
        given to ``on_result`` unless not ``tell``."""
        for i, (c, target) in enumerate(_plan(suite)[len(results) :]):
            was_running = i == 0 and not between
            ran = time.perf_counter() - running[0] if was_running and running else 0
            res = CheckResult(
                c.name,
                c.kind,
                target,
                "error",
                ran,
                message=f"{why} " + ("while this check ran" if was_running else "before this check ran"),
                exit_class=exit_class,
            )
            results.append(res)
            if on_result is not None and tell:
                on_result(res)

    async def write_junit() -> str | None:
        """Write the JUnit file; ``None``, or the one-line reason it could not be written. A FIFO
        (not a regular file) gets what is left of ``max_time``, at least ``WRITE_GRACE`` seconds
        (``core.offloop.write_report``): one nobody read blocked the command for ever."""
        if junit is None:
            return None
        text = Redactor(settings.secrets())(junit_xml(suite, results))
        left = None if max_time is None else max_time - (time.monotonic() - started)
        return await write_report(
            junit, "--junit", lambda: Path(junit).write_text(text, encoding="utf-8"), left
        )

    try:
        if max_time is None:
            await run_suite(suite, settings, sink, on_result, results, running)
        else:
            left = max_time - (time.monotonic() - started)
            if left <= 0:
                raise asyncio.TimeoutError  # the read took it all: every check is cut short
            await within(run_suite(suite, settings, sink, on_result, results, running), left)
    except asyncio.TimeoutError:
        reached = True
        cut_short(f"--max-time {max_time:g}s reached", ExitCode.TIMEOUT)
    except (StdoutUnwritable, BrokenPipeError) as exc:
        # a check's row could not be written (a full disk, > /dev/full: exit 2; a reader gone away,
        # | head: the command ends quietly): the run stops there, and the JUnit file, CI's record of
        # what ran, is still written
        if junit is not None:
            why = "standard output " + (
                "was closed" if isinstance(exc, BrokenPipeError) else "could not be written"
            )
            cut_short(why, ExitCode.USAGE, tell=False, between=True)
            await write_junit()
        raise
    except asyncio.CancelledError:
        if junit is not None:
            cut_short("interrupted (Ctrl-C or SIGTERM)", ExitCode.INTERRUPTED)
            failed = await write_junit()
            if failed is not None:
                raise UsageError(failed) from None
        raise
    # A write that fails only now (a full disk, /dev/full: the pre-check's open succeeded) does not
    # lose the results: they are still returned, with the reason (exit 2).
    failed = await write_junit()
    return SmokeRun(
        suite, results, junit if failed is None else None, max_time_reached=reached, junit_error=failed
    )


def _inputs(suite: Suite) -> list[str]:
    """The local files ``suite`` reads: the suite file itself, a card-file target, a ``caps-diff``
    expectation (relative to the suite, as ``checks._caps`` reads it) and a file DLQ source
    (``file://PATH`` or a plain path, as ``dlq.store.file.file_path`` reads it). A suite read from
    standard input is no file of its own."""
    from a2actl.agent.target import parse_target
    from a2actl.dlq.store.file import file_path

    suite_dir = suite.directory
    out = [] if suite.from_stdin else [suite.path]
    for c in suite.checks:
        for target in [c.target] if c.target else suite.targets:
            if target and c.kind != "dlq-depth" and not parse_target(str(target)).is_remote:
                out.append(str(target))
        if c.kind == "caps-diff":
            out.append(str(suite_dir / str(c.options["expect"])))  # an absolute expect stays absolute
        elif c.kind == "dlq-depth":
            source = str(c.options["source"])
            if "://" not in source or source.startswith("file:"):
                try:
                    out.append(str(file_path(source)))
                except UsageError:
                    pass  # the check says so when it runs
    return out


def _same_file(a: str, b: str) -> bool:
    """Whether ``a`` and ``b`` name one regular file (the same device and inode: through links or
    other spellings). A FIFO or a device (``/dev/stdout``) is never "the same file": writing it
    destroys nothing."""
    import os
    import stat

    try:
        sa, sb = os.stat(a), os.stat(b)
    except (OSError, ValueError):
        return False
    return stat.S_ISREG(sa.st_mode) and (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


def refuse_overwrite(suite: Suite, junit: str) -> None:
    """Raise ``UsageError`` (exit 2), before any check runs, when ``junit`` (``--junit``) names a
    file the suite reads (``_inputs``): ``smoke run smoke.yaml --junit smoke.yaml`` wrote the JUnit
    XML over the suite, exit 0; over the caps snapshot or a file DLQ, the same."""
    for source in _inputs(suite):
        if _same_file(junit, source):
            what = "the suite file" if source == suite.path else f"{source}, which the suite reads"
            raise UsageError(
                f"--junit {junit} is {what}: it would be overwritten", hint="give --junit another file"
            )


async def _load_off_loop(path: str) -> Suite:
    """``load_suite(path)`` for the event loop: a FIFO or ``<(cmd)`` that never delivers, or a
    standard input (``-``) that is not a regular file (a pipe whose writer never ends), is read in
    a daemon thread (``core.offloop.read_path``, ``off_the_loop``), so ``--max-time`` and
    Ctrl-C/SIGTERM still end the run (the blocked read ignored both). Raises what ``load_suite``
    raises."""
    from a2actl.core.offloop import off_the_loop, read_path, stdin_is_regular
    from a2actl.smoke.suite import STDIN

    if path == STDIN:
        if stdin_is_regular():
            return load_suite(path)
        return await off_the_loop(lambda: load_suite(path), "a2actl-suite-stdin")
    return await read_path(path, lambda: load_suite(path), "a2actl-suite-file")


async def validate_job(path: str) -> SuiteCheck:
    """``smoke validate``: load and validate the suite at ``path`` (``load_suite``: ``UsageError``,
    exit 2, with ``FILE:LINE:`` for any problem). A FIFO or ``<(cmd)`` is read off the loop
    (``_load_off_loop``): one that never delivered held the command past ``--max-time``."""
    return SuiteCheck(await _load_off_loop(path))


def junit_xml(suite: Suite, results: list[CheckResult]) -> str:
    """JUnit XML (the dialect GitHub Actions, GitLab and Jenkins read): one testsuite per target,
    one testcase per check; ``failure`` for fail, ``error`` for error; times in seconds. Characters
    XML 1.0 cannot hold (controls, lone surrogates: from an agent's answer, a check's name) are
    written as their escapes (``a2actl.core.junit.junit_text``), so the file always parses."""
    import xml.etree.ElementTree as ET

    root = ET.Element(
        "testsuites",
        name=suite.name,
        tests=str(len(results)),
        failures=str(sum(r.status == "fail" for r in results)),
        errors=str(sum(r.status == "error" for r in results)),
        time=f"{sum(r.duration for r in results):.3f}",
    )
    by_target: dict[str, list[CheckResult]] = {}
    for r in results:
        by_target.setdefault(r.target or "local", []).append(r)
    for target, rs in by_target.items():
        ts = ET.SubElement(
            root,
            "testsuite",
            name=f"{suite.name} @ {target}",
            tests=str(len(rs)),
            failures=str(sum(r.status == "fail" for r in rs)),
            errors=str(sum(r.status == "error" for r in rs)),
            time=f"{sum(r.duration for r in rs):.3f}",
        )
        for r in rs:
            tc = ET.SubElement(
                ts, "testcase", classname=f"a2actl.smoke.{r.kind}", name=r.name, time=f"{r.duration:.3f}"
            )
            text = f"measured: {r.measured}\nbound: {r.bound}\n{r.message}".strip()
            if r.status == "fail":
                ET.SubElement(tc, "failure", message=r.message or "check failed", type=r.kind).text = text
            elif r.status == "error":
                ET.SubElement(
                    tc, "error", message=r.message or "check could not run", type=r.kind
                ).text = text
            ET.SubElement(tc, "system-out").text = text
    return junit_text(root)
