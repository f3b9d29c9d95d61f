"""Options shared by several commands (``CardPath``, ``FailOnStates``), and option values parsed once,
in the CLI layer, into typed values: durations (seconds), sizes (bytes) and TARGETs. Each raises ``UsageError`` (exit 2) naming the option, so a bad value never reaches a job.

These are plain functions rather than click parameter types on purpose: a click type reports a bad
value in click's own format (usage text, "Invalid value for …"), outside the one-line error and the
``-o json`` error object every other usage error gets (docs/exit-codes.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from a2actl.core.errors import UsageError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from a2actl.agent.target import Target
    from a2actl.cli.context import Invocation
    from a2actl.core.config import Settings
    from a2actl.render.output import Output

#: ``--card-path``: the options every command that discovers a card shares.
CardPath = Annotated[
    str | None,
    typer.Option("--card-path", metavar="PATH", help="Card path instead of the well-known discovery paths."),
]

#: ``--fail-on STATES`` of ``send`` and ``stream tail``: terminal states that make the exit 7.
FailOnStates = Annotated[
    list[str] | None,
    typer.Option(
        "--fail-on",
        metavar="STATES",
        help="Exit 7 when the task ends in one of: failed,rejected,canceled,input-required,auth-required.",
    ),
]


#: The shortest ``--interval`` of an option that repeats requests to an agent (``sessions list
#: --watch``, ``exporter --inventory``), in seconds: ``--interval 0`` refreshed as fast as the agent
#: answered (hundreds of requests a second at a local agent). procps ``watch -n`` has the same floor.
MIN_INTERVAL = 0.1


def duration(
    value: str | None, option: str | None = None, *, positive: bool = False, minimum: float | None = None
) -> float | None:
    """``"250ms"``, ``"1.5"``, ``"2m"``, ``"1h"`` → seconds (``float``); ``None`` stays ``None``.

    Raises ``UsageError`` (exit 2) for text that is not a duration (the message starts with ``option``
    when given), with ``positive`` for zero or a negative value, and for a value under ``minimum``
    seconds (``--interval must be at least 0.1s, got '0'``)."""
    if value is None:
        return None
    from a2actl.core.units import parse_duration

    try:
        secs = parse_duration(value)
    except ValueError as exc:
        raise UsageError(f"{option}: {exc}" if option else str(exc)) from exc
    if positive and secs <= 0:
        raise UsageError(f"{option or 'the duration'} must be positive, got {value!r}")
    if minimum is not None and secs < minimum:
        raise UsageError(f"{option or 'the duration'} must be at least {minimum:g}s, got {value!r}")
    return secs


def size(value: str | None, option: str | None = None) -> int | None:
    """``"4MiB"``, ``"512KiB"``, ``"1MB"``, ``"1000"`` → bytes (``int``); ``None`` stays ``None``.

    Raises ``UsageError`` (exit 2) for text that is not a size (prefixed by ``option`` when given)."""
    if value is None:
        return None
    from a2actl.core.units import parse_size

    try:
        return parse_size(value)
    except ValueError as exc:
        raise UsageError(f"{option}: {exc}" if option else str(exc)) from exc


def event_bound(settings: Settings, text: str) -> Settings:
    """``settings`` with ``--max-event-bytes TEXT`` (``4MiB``, ``1000``) as the stream event bound
    (``stream tail``, ``load run -s stream``). Raises ``UsageError`` (exit 2) for a size that does
    not parse or is under 1 byte."""
    import dataclasses

    from a2actl.core.units import parse_size

    try:
        limit = parse_size(text)
    except ValueError as exc:
        raise UsageError(
            f"--max-event-bytes {text!r}: not a size (examples: 4MiB, 512KiB, 1MB, 1000)"
        ) from exc
    if limit < 1:
        raise UsageError(
            f"--max-event-bytes {text!r}: the bound must be at least 1 byte",
            hint="e.g. --max-event-bytes 4MiB (the default is 16MiB)",
        )
    return dataclasses.replace(settings, max_event_bytes=limit)


def target(text: str, *, websocket: bool = False) -> Target:
    """TARGET → ``Target`` (a card file, a card URL, a base URL, or with ``websocket`` a ``ws://`` /
    ``wss://`` URL). Raises ``UsageError`` (exit 2), see ``a2actl.agent.target.parse_target``."""
    from a2actl.agent.target import parse_target

    return parse_target(text, websocket=websocket)


def check_writable(ctx: typer.Context, path: str, option: str) -> None:
    """Fail before the run (exit 2) when ``option``'s file cannot be written: what a long run
    measured must not be lost at the end. The file is created empty if missing, and removed again
    when the command ends without writing it (a bad option, an agent that cannot be reached,
    Ctrl-C, a crash), so no empty file is left for a later merge (``fleet report shard-*.json``,
    ``load report runs/*.json``) or a CI JUnit reader to trip on.

    A path that exists and is not a regular file (a FIFO, ``>(cmd)``, ``/dev/stdout``) is only
    checked for write permission, not opened: opening a FIFO blocks until a reader comes (before
    any ``--max-time``), and opening and closing one a reader waits on hands that reader its end
    of file, so the report found no reader at the end. ``write_output`` bounds its write."""
    import os
    import stat

    if os.path.isdir(path):
        raise UsageError(f"{option} {path}: is a directory")
    try:
        mode: int | None = os.stat(path).st_mode
    except (OSError, ValueError):
        mode = None
    if mode is not None and not stat.S_ISREG(mode):
        if not os.access(path, os.W_OK):
            raise UsageError(f"{option} {path}: cannot write: Permission denied")
        return
    existed = mode is not None
    try:
        with open(path, "a", encoding="utf-8"):
            pass
    except OSError as exc:
        raise UsageError(f"{option} {path}: cannot write: {exc.strerror or exc}") from exc
    if not existed:

        def remove_if_unwritten() -> None:
            try:
                if os.path.isfile(path) and os.path.getsize(path) == 0:
                    os.remove(path)
            except OSError:
                pass

        ctx.call_on_close(remove_if_unwritten)


class Unwritten(str):
    """The one-line reason ``write_output`` did not write a file; ``interrupted`` when Ctrl-C or
    SIGTERM ended the wait for it (the caller's exit is then 130, docs/exit-codes.md, not 2)."""

    interrupted: bool = False


def unwritten_exit(reasons: Iterable[str]) -> int:
    """The exit code of a report shown while a file of it was not written (``reasons``, from
    ``write_output``): 130 when Ctrl-C/SIGTERM ended a wait for a FIFO's reader (``Unwritten``),
    as for any interrupt, else 2."""
    return 130 if any(getattr(r, "interrupted", False) for r in reasons) else 2


def say_unwritten(out: Output, reasons: Iterable[str]) -> None:
    """One line on stderr per file of the report that was not written (the report is on stdout)."""
    for why in reasons:
        out.stderr.write(f"a2actl: {why}; the report is on stdout only\n")
        out.stderr.flush()


def write_output(run: Invocation, path: str, option: str, write: Callable[[], None]) -> str | None:
    """Run ``write()``, which opens ``path`` (``option``'s file, checked by ``check_writable``) and
    writes the report into it. Returns ``None``, or the one-line reason it was not written
    (``"--out PATH: cannot write: …"``) for the caller to show beside the report: a write that
    fails only at the end must not lose the report on stdout.

    A regular file is written at once. A FIFO or other non-regular file is written off the event
    loop (``core.offloop.write_path``) for at most what is left of ``--max-time`` (at least
    ``core.offloop.WRITE_GRACE`` seconds): a FIFO no process reads, or whose reader stopped reading, blocked
    the command for ever. Ctrl-C/SIGTERM while waiting for it ends the wait: the reason is then an
    ``Unwritten`` with ``interrupted`` set, and the caller exits 130 (the report still shown)."""
    from a2actl.cli.aiorun import run as run_loop
    from a2actl.core.offloop import write_report

    try:
        return run_loop(write_report(path, option, write, run.time_left()))
    except KeyboardInterrupt:
        why = Unwritten(f"{option} {path}: not written: interrupted while waiting for a reader")
        why.interrupted = True
        return why
    return None


def stdin_is_terminal() -> bool:
    """Whether standard input is a terminal a confirmation can be asked on: ``False`` for a pipe, a
    file, and a closed stdin (``<&-``: Python's ``sys.stdin`` is ``None``; calling its ``isatty``
    was exit 1 "unexpected AttributeError")."""
    import sys

    stdin = sys.stdin
    try:
        return stdin is not None and stdin.isatty()
    except (OSError, ValueError):  # ValueError: closed under us
        return False


def confirm(out: Output, question: str) -> bool:
    """Ask ``question`` with `` [y/N]: `` on stderr and read one answer line from stdin: ``True`` for
    ``y``/``yes`` (any case), ``False`` for anything else and for end of input (Ctrl-D). The question
    goes through ``out.stderr``, which masks the run's secrets (a TARGET's ``user:password@``): never
    stdout, where it corrupted a ``-o json`` document and hid from a user whose stdout is redirected
    (``typer.confirm`` wrote it there, unmasked). Ctrl-C (or SIGTERM) while waiting raises
    ``KeyboardInterrupt`` (exit 130 at the boundary): ``typer.confirm`` turned it into ``Abort``,
    exit 1."""
    import sys

    out.stderr.write(f"{question} [y/N]: ")
    out.stderr.flush()
    try:
        answer = sys.stdin.readline() if sys.stdin is not None else ""
    except KeyboardInterrupt:
        out.stderr.write("\n")  # the boundary's "a2actl: interrupted" on a line of its own
        out.stderr.flush()
        raise
    except (OSError, ValueError):
        answer = ""
    if not answer:
        out.stderr.write("\n")
        out.stderr.flush()
    return answer.strip().lower() in ("y", "yes")
