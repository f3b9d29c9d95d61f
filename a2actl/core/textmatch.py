"""Regular expressions from a user's file over a remote party's text, without blocking the event loop.

``re.search`` can backtrack for ages (``(a+)+$`` over forty ``a`` and a ``b``: longer than anyone
waits) and holds the GIL while it does: on the event loop it ignored ``--max-time`` and
Ctrl-C/SIGTERM; in a thread it starves the loop just the same (measured: a thread's match delayed
the loop's 200 ms timer by its whole four seconds). So the match runs in a child Python process,
killed when the caller gives up (a deadline, a cancellation).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import sys

#: The child: reads ``{"p": pattern, "t": text, "cpu": seconds}`` (JSON) on stdin, caps its own CPU
#: time at ``cpu`` seconds (``RLIMIT_CPU``: the kernel ends it, even mid-match, should a2actl die
#: without killing it: SIGKILL, OOM, a CI runner's hard stop), writes ``1`` (a match) or ``0``.
_CHILD = (
    "import json,re,sys\n"
    "d=json.loads(sys.stdin.buffer.read())\n"
    "try:\n"
    " import resource;c=int(d['cpu']);resource.setrlimit(resource.RLIMIT_CPU,(c,c+1))\n"
    "except Exception:\n"
    " pass\n"
    "sys.stdout.write('1' if re.search(d['p'],d['t']) is not None else '0')\n"
)

#: The child's CPU cap when the caller names none (seconds): ``smoke run``'s default ``--max-time``.
DEFAULT_CPU_CAP = 1800.0


async def search(pattern: str, text: str, max_seconds: float | None = None) -> bool:
    """Whether ``re.search(pattern, text)`` finds a match, computed in a child process of the same
    Python (``-I -S``: no site, no user paths, a ``re.py`` in the current directory cannot stand in)
    so the event loop keeps running: a deadline or a cancellation (Ctrl-C, SIGTERM) kills the child
    and propagates. ``pattern`` must compile (the caller checks it beforehand). Without an
    interpreter to start (``sys.executable`` empty: an embedded Python; or the start fails: process
    limits, an event loop without subprocess support) the match runs here, unbounded as before.
    ``max_seconds``: the child's own CPU cap (default ``DEFAULT_CPU_CAP``), so an orphan cannot
    backtrack for ever. The child runs in its own session: a terminal's Ctrl-C reaches a2actl, which
    kills it, and is not mistaken for the matcher failing.
    Raises ``RuntimeError`` when the child fails without an answer (out of memory, killed, its CPU
    cap reached)."""
    if not sys.executable:
        return re.search(pattern, text) is not None
    # ensure_ascii: a lone surrogate (an agent's "\ud800") travels as its escape
    cpu = max(1, int(max_seconds if max_seconds is not None else DEFAULT_CPU_CAP) + 1)
    payload = json.dumps({"p": pattern, "t": text, "cpu": cpu}).encode("ascii")
    try:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-I",
            "-S",
            "-c",
            _CHILD,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
    except (OSError, NotImplementedError):  # no process to start (limits, a loop without subprocesses)
        return re.search(pattern, text) is not None
    try:
        out, err = await proc.communicate(payload)
    except BaseException:  # the caller gave up (deadline, Ctrl-C): the match must not run on
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            with contextlib.suppress(BaseException):  # reaped, unless cancelled again meanwhile
                await asyncio.wait_for(proc.wait(), 1)
        raise
    if proc.returncode != 0 or out not in (b"0", b"1"):
        last = (err.decode("utf-8", "replace").strip().splitlines() or [""])[-1]
        raise RuntimeError(f"the regular expression's matcher ended with status {proc.returncode}: {last}")
    return out == b"1"


__all__ = ["search"]
