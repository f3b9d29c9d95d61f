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
    from a2actl.agent.target import Target
    from a2actl.core.config import Settings

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


def duration(value: str | None, option: str | None = None, *, positive: bool = False) -> float | None:
    """``"250ms"``, ``"1.5"``, ``"2m"``, ``"1h"`` → seconds (``float``); ``None`` stays ``None``.

    Raises ``UsageError`` (exit 2) for text that is not a duration (the message starts with ``option``
    when given) and, with ``positive``, for zero or a negative value."""
    if value is None:
        return None
    from a2actl.core.units import parse_duration

    try:
        secs = parse_duration(value)
    except ValueError as exc:
        raise UsageError(f"{option}: {exc}" if option else str(exc)) from exc
    if positive and secs <= 0:
        raise UsageError(f"{option or 'the duration'} must be positive, got {value!r}")
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
    ``load report runs/*.json``) or a CI JUnit reader to trip on."""
    import os

    if os.path.isdir(path):
        raise UsageError(f"{option} {path}: is a directory")
    existed = os.path.exists(path)
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
