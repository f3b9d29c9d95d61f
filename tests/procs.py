"""Ending a subprocess whose output the test has already begun to read.

``Popen.communicate`` reads the pipes' file descriptors itself (``os.read`` under a selector), not
through ``proc.stdout``/``proc.stderr``: what a ``proc.stdout.readline()`` before it had already
pulled into the file object's buffer past that line is silently lost. A test that reads the first
record, signals, then ``communicate()``s lost the records that came in the same pipe read (seen:
``load run`` SIGTERM, 2 runs in 6 missing one or two request records). ``finish`` reads the rest
through the same file objects."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from typing import Any


def finish(proc: subprocess.Popen[str], timeout: float) -> tuple[str, str]:
    """Wait for ``proc`` (killed after ``timeout`` seconds) and return ``(stdout, stderr)``: the text
    not read yet, through ``proc.stdout``/``proc.stderr`` (so nothing their buffers hold is lost).
    Both are read at once (threads), so neither pipe fills up and blocks the process. A pipe that
    was not opened reads as ``""``."""
    watchdog = threading.Timer(timeout, proc.kill)
    watchdog.start()
    got = {"out": "", "err": ""}

    def drain(key: str, stream: object) -> None:
        if stream is not None:
            got[key] = stream.read()  # type: ignore[attr-defined]

    try:
        readers = [
            threading.Thread(target=drain, args=("out", proc.stdout)),
            threading.Thread(target=drain, args=("err", proc.stderr)),
        ]
        for t in readers:
            t.start()
        for t in readers:
            t.join()
        proc.wait()
    finally:
        watchdog.cancel()
    return got["out"], got["err"]


def at_a_prompt(
    args: list[str],
    answer: bytes | None,
    *,
    signum: int | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 20,
) -> tuple[int, str, str]:
    """``python -m a2actl ARGS`` with stdin a terminal (a pty; stdout and stderr pipes), so a command
    that asks for confirmation asks: once ``[y/N]`` shows (on stdout or stderr, within ``timeout``
    seconds) types ``answer``, or sends signal ``signum`` when ``answer`` is ``None`` (default
    SIGINT, Ctrl-C). Returns ``(exit code, stdout, stderr)``."""
    import os
    import pty
    import select
    import signal
    import sys
    import time

    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "a2actl", *args],
        stdin=slave,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    os.close(slave)
    assert proc.stdout is not None and proc.stderr is not None
    out_fd, err_fd = proc.stdout.fileno(), proc.stderr.fileno()
    got = {out_fd: b"", err_fd: b""}
    try:
        deadline = time.monotonic() + timeout
        while not any(b"[y/N]" in v for v in got.values()):
            assert time.monotonic() < deadline and proc.poll() is None, got
            for fd in select.select(list(got), [], [], 0.2)[0]:
                got[fd] += os.read(fd, 65536)
        if answer is None:
            proc.send_signal(signal.SIGINT if signum is None else signum)
        else:
            os.write(master, answer)
        out, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    return proc.returncode, (got[out_fd] + out).decode(), (got[err_fd] + err).decode()


def a2actl_in_memory(
    *args: str, stdin: int | None = subprocess.DEVNULL, memory: int = 1 << 30, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """``python -m a2actl ARGS`` with its address space limited to ``memory`` bytes (``RLIMIT_AS``,
    default 1 GiB): a read without end (``/dev/zero``) fails there with ``MemoryError`` in a
    fraction of a second instead of taking the machine's memory. Killed past ``timeout`` seconds."""
    import resource
    import sys

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))

    return subprocess.run(
        [sys.executable, "-m", "a2actl", *args],
        stdin=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=limit,  # noqa: PLW1509 - no threads to speak of in the child yet
        check=False,
    )


def a2actl_stdin_closed(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """``python -m a2actl ARGS <&-``: run to its end with file descriptor 0 closed in the child (as a
    shell's ``<&-``; ``sys.stdin`` is then ``None``), output captured as text."""
    return subprocess.run(
        [sys.executable, "-m", "a2actl", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=lambda: os.close(0),  # noqa: PLW1509 - no threads to speak of in the child yet
    )


def first_document(proc: subprocess.Popen[str]) -> Any:
    """The first JSON document a running ``a2actl -o json`` process (``proc``, text mode) printed,
    read line by line up to its closing ``}`` line (``sandbox serve -o json`` prints one as it
    starts); fails the test with the process's stderr when stdout ends first."""
    assert proc.stdout is not None
    lines: list[str] = []
    while not lines or lines[-1] != "}\n":
        line = proc.stdout.readline()
        assert line, proc.stderr.read() if proc.stderr else "no output"
        lines.append(line)
    return json.loads("".join(lines))
