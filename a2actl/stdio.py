"""The process's standard output and error, checked once at the entry (``a2actl.__main__.main``,
``a2actl.cli.app.main``), before anything is imported or done.

Started with a closed stdout (``a2actl send URL hi >&-``) Python's ``sys.stdout`` is ``None``: the
command did its work (a message sent, dead letters replayed) and then crashed with a traceback
writing its result, and again in the error boundary writing that error. A stdout open only for
reading (``1</dev/null``) sent too and was exit 1 "unexpected OSError: Bad file descriptor". Such a
run is refused before anything is done: one line on stderr, exit 2 (docs/exit-codes.md). The
output of a command cannot be thrown away by accident; ``>/dev/null`` does it on purpose.

A closed stderr (``2>&-``) is the operator discarding diagnostics, as ``ls 2>&-`` does: the
command runs, its exit code is the same, and what it would say on stderr goes to ``/dev/null``
(it crashed in the error boundary, exit 1 for every error). ``/dev/null`` is put on descriptor 2
itself, so no file or socket the command opens later takes that number, where a child process or
a C library writing to "stderr" would write into it.

A stdout that takes no bytes (a full disk: ``> /dev/full``) is only found when the command writes:
``Output`` raises ``StdoutUnwritable`` and the CLI boundary makes it exit 2; ``stdout_failed``
does the same for ``--version`` and ``--help``.

A stderr that takes no bytes (``2> /dev/full``) loses the messages, never the exit code: the first
write or flush that fails points its descriptor at ``/dev/null`` (``_QuietStderr``), as a closed
one. It failed the error boundary writing the error line (exit 1 for every error), and the
interpreter's last flush at exit made any exit status 120.

Only ``os``, ``sys`` and ``fcntl``: ``a2actl --version`` runs this before typer is imported.
"""

from __future__ import annotations

import os
import sys

#: The exit code of a run refused here: ``ExitCode.USAGE`` (not imported: see the module docstring).
USAGE = 2


def _writable(fd: int) -> bool | None:
    """Whether descriptor ``fd`` is open for writing: ``False`` when it is closed or open read-only,
    ``None`` when it cannot be told (no ``fcntl``)."""
    try:
        import fcntl
    except ImportError:  # not POSIX
        return None
    try:
        flags = fcntl.fcntl(fd, fcntl.F_GETFL)
    except OSError:  # EBADF: closed
        return False
    return (flags & os.O_ACCMODE) != os.O_RDONLY


def _stream_fd(stream: object) -> int | None:
    """The descriptor under ``stream``, or ``None`` when it has none (a test's in-memory stream)."""
    try:
        return int(stream.fileno())  # type: ignore[attr-defined]
    except (AttributeError, OSError, ValueError):
        return None


def _is_open(fd: int) -> bool:
    """Whether descriptor ``fd`` refers to an open file."""
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


def _stderr_to_devnull(stream: object) -> None:
    """Point ``sys.stderr`` (now ``stream``: ``None`` or one on a read-only descriptor) at
    ``/dev/null``: on descriptor 2 itself when that is stderr's, closed or read-only (so nothing
    opened later takes the number), else (2 taken by another file since Python started) on a
    descriptor of its own. Raises ``OSError`` when ``/dev/null`` cannot be opened."""
    fd = 2 if stream is None else _stream_fd(stream)
    take_2 = fd == 2 and (stream is not None or not _is_open(2))
    devnull = os.open(os.devnull, os.O_WRONLY)
    target = devnull
    if take_2:
        if devnull != 2:
            os.dup2(devnull, 2)
            os.close(devnull)
        target = 2
    sys.stderr = open(  # noqa: SIM115 - the process's stderr, open until it exits
        target, "w", encoding="utf-8", errors="backslashreplace", buffering=1, closefd=target != 2
    )


class _QuietStderr:
    """``sys.stderr`` whose writes never fail the command: the first ``write`` or ``flush`` that
    raises ``OSError`` (a full disk, ``2> /dev/full``; an I/O error; a reader gone away) points the
    stream's descriptor at ``/dev/null`` and drops what was held, so that text, the later messages
    and the interpreter's flush at exit go nowhere, as with a closed stderr (``2>&-``). Every other
    attribute is the wrapped stream's."""

    def __init__(self, stream: object) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        """Write ``text``; its length, whether it was written or dropped."""
        try:
            return int(self._stream.write(text))  # type: ignore[attr-defined]
        except BlockingIOError:
            return len(text)  # a non-blocking stderr that is full for now: this text only is lost
        except OSError:
            self._to_devnull()
            return len(text)

    def writelines(self, lines: object) -> None:
        """``write`` each of ``lines``."""
        for line in lines:  # type: ignore[attr-defined]
            self.write(line)

    def flush(self) -> None:
        """Flush, or drop what is held when that fails."""
        try:
            self._stream.flush()  # type: ignore[attr-defined]
        except BlockingIOError:
            pass  # for now: the next write or flush tries again
        except OSError:
            self._to_devnull()

    def _to_devnull(self) -> None:
        fd = _stream_fd(self._stream)
        if fd is None:
            return  # no descriptor to point elsewhere: each failed write is dropped as it comes
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            if devnull != fd:
                os.dup2(devnull, fd)
                os.close(devnull)
            self._stream.flush()  # type: ignore[attr-defined]  # what it held: to /dev/null now
        except (OSError, ValueError):
            pass

    def __getattr__(self, name: str) -> object:
        return getattr(self._stream, name)


def check_standard_streams() -> str | None:
    """Make an unusable stderr (closed, or open read-only) a sink (``/dev/null``) and one that fails
    to take a write (``2> /dev/full``) one that becomes such a sink then (``_QuietStderr``), then
    check stdout. Returns ``None`` when the command may run, else the one-line reason it may not
    (stdout closed or not open for writing), for the caller to write on stderr and exit ``USAGE``
    (2) without doing anything. Never raises."""
    try:
        err = sys.stderr
        err_fd = None if err is None else _stream_fd(err)
        if err is None or (err_fd is not None and _writable(err_fd) is False):
            _stderr_to_devnull(err)
    except OSError:
        pass  # no /dev/null: nothing better to do
    if sys.stderr is not None and not isinstance(sys.stderr, _QuietStderr):
        sys.stderr = _QuietStderr(sys.stderr)
    out = sys.stdout
    if out is None:
        return "standard output is closed (>&-): nothing was done; to discard the output, redirect it to /dev/null"
    fd = _stream_fd(out)
    if fd is not None and _writable(fd) is False:
        what = "closed" if not _is_open(fd) else "not open for writing"
        return f"standard output is {what}: nothing was done; to discard the output, redirect it to /dev/null"
    return None


def _stdout_to_devnull() -> None:
    """Point descriptor 1 at ``/dev/null``: what is still buffered goes nowhere (never raises)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        if devnull != 1:
            os.dup2(devnull, 1)
            os.close(devnull)
    except OSError:
        pass


def stdout_failed(exc: OSError) -> None:
    """Standard output could not be written (``exc``, from a write or flush of ``sys.stdout``).
    Descriptor 1 is pointed at ``/dev/null`` (so the interpreter's own flush cannot fail again);
    then, for a reader gone away (``BrokenPipeError``: ``| head``), nothing more; else (a full disk,
    ``> /dev/full``; an I/O error) ``a2actl: standard output: cannot write: REASON`` on stderr and
    ``SystemExit`` 2, as for a closed stdout (docs/exit-codes.md)."""
    _stdout_to_devnull()
    if isinstance(exc, BrokenPipeError):
        return
    _refuse(f"standard output: cannot write: {exc.strerror or exc}")


def refuse_unusable_streams() -> None:
    """``check_standard_streams``; when it finds a reason, write ``a2actl: REASON`` on stderr and
    exit 2 (``SystemExit``)."""
    why = check_standard_streams()
    if why is not None:
        _refuse(why)


def _refuse(why: str) -> None:
    """``a2actl: WHY`` on stderr (as far as stderr can take it: closed or full, it is lost) and
    ``SystemExit`` 2 (docs/exit-codes.md); never returns."""
    try:
        sys.stderr.write(f"a2actl: {why}\n")
        sys.stderr.flush()
    except (AttributeError, OSError, ValueError):
        pass
    raise SystemExit(USAGE)
