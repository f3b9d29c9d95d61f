"""Running ``a2actl`` in a subprocess against a FIFO (``os.mkfifo``, what ``<(cmd)`` amounts to) that
nobody writes, or one written once while it runs: a read that blocks for ever must hang the child,
never the test process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Ran:
    """A finished ``a2actl``: exit code (negative: killed by that signal), stdout, stderr, wall
    seconds from start to exit."""

    code: int
    out: str
    err: str
    elapsed: float


def run_a2actl(
    *args: str,
    feed: tuple[str, bytes] | None = None,
    feed_after: float = 0.0,
    term_after: float | None = None,
    stdin: int | None = subprocess.DEVNULL,
    timeout: float = 20,
    prelude: str | None = None,
) -> Ran:
    """``python -m a2actl ARGS``. ``feed``: ``(fifo, bytes)`` written once to the FIFO while it runs;
    ``feed_after``: seconds to wait before opening the FIFO for that write; ``term_after``: one
    SIGTERM after that many seconds if it is still running. Killed after
    ``timeout`` seconds (``code`` is then ``-9``). ``prelude``: Python run in the child before the
    CLI (``python -c``), e.g. to shorten a default deadline of ``a2actl.cli.context``."""
    t0 = time.monotonic()
    head = (
        ["-m", "a2actl"]
        if prelude is None
        else ["-c", f"{prelude}\nfrom a2actl.__main__ import main\nmain()"]
    )
    proc = subprocess.Popen(
        [sys.executable, *head, *args],
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )

    def writer() -> None:
        assert feed is not None
        time.sleep(feed_after)
        with open(feed[0], "wb") as w:
            w.write(feed[1])

    if feed is not None:
        threading.Thread(target=writer, daemon=True).start()
    if term_after is not None:
        try:
            proc.wait(term_after)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGTERM)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    return Ran(proc.returncode, out, err, time.monotonic() - t0)


def a2actl_run(*args: str, timeout: float = 30) -> tuple[subprocess.CompletedProcess[str], float]:
    """``python -m a2actl ARGS`` run to its end (killed past ``timeout`` seconds: the test fails on
    ``TimeoutExpired``): the finished process and its wall time in seconds."""
    t0 = time.monotonic()
    r = subprocess.run(
        [sys.executable, "-m", "a2actl", *args], capture_output=True, text=True, timeout=timeout
    )
    return r, time.monotonic() - t0


def run_a2actl_stdin_silent(*args: str, **kw: Any) -> Ran:
    """``run_a2actl(*args)`` with standard input a pipe whose writer never writes nor closes
    (``sleep 100 | a2actl …``): both ends are closed when it has run."""
    read_end, write_end = os.pipe()
    try:
        return run_a2actl(*args, stdin=read_end, **kw)
    finally:
        os.close(read_end)
        os.close(write_end)
