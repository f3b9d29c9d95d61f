"""Ending a subprocess whose output the test has already begun to read.

``Popen.communicate`` reads the pipes' file descriptors itself (``os.read`` under a selector), not
through ``proc.stdout``/``proc.stderr``: what a ``proc.stdout.readline()`` before it had already
pulled into the file object's buffer past that line is silently lost. A test that reads the first
record, signals, then ``communicate()``s lost the records that came in the same pipe read (seen:
``load run`` SIGTERM, 2 runs in 6 missing one or two request records). ``finish`` reads the rest
through the same file objects."""

from __future__ import annotations

import subprocess
import threading


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
