"""Open files for many connections at once: ``fleet probe -c N`` and the exporter hold one socket per
agent in flight, and the usual soft limit (``ulimit -n``) is 1024. Past it every new connection fails
with ``EMFILE`` ("Too many open files"), which the transports report as the agent being unreachable:
``fleet probe -c 2000`` on a default shell called half of a healthy fleet ``refused``.

``fit_open_files`` raises the soft limit towards the hard one as far as the work needs (as the Go
runtime does at start), and when even the hard limit is too low says how many connections fit. Unix
only (``resource``); elsewhere nothing is changed and the wanted number is returned.
"""

from __future__ import annotations

import os

#: Descriptors kept for everything but the connections (stdio, the event loop, DNS, TLS files, the
#: ``--out``/``--junit`` files, imported modules' files).
RESERVE = 64


def _open_now() -> int:
    """How many descriptors the process has open (``/proc/self/fd`` or ``/dev/fd``), else a guess."""
    for d in ("/proc/self/fd", "/dev/fd"):
        try:
            return len(os.listdir(d))
        except OSError:
            continue
    return 16


def fit_open_files(wanted: int, per_item: int = 1) -> tuple[int, int | None]:
    """``(how many of wanted fit, the soft limit when that is fewer, else None)``. ``wanted``: items
    to run at once (agents, probes), each holding up to ``per_item`` descriptors. Raises the
    process' soft ``RLIMIT_NOFILE`` up to what they need (never above the hard limit); when it still
    falls short, the items that fit (at least 1) and the limit, for the caller's note. Never raises."""
    try:
        import resource
    except ImportError:  # not Unix
        return wanted, None
    need = wanted * per_item + RESERVE + _open_now()
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft == resource.RLIM_INFINITY or soft >= need:
            return wanted, None
        target = need if hard == resource.RLIM_INFINITY else min(hard, need)
        if target > soft:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
    except (OSError, ValueError):
        return wanted, None
    if soft >= need:
        return wanted, None
    fit = max(1, (soft - RESERVE - _open_now()) // max(1, per_item))
    return min(wanted, fit), int(soft)


__all__ = ["RESERVE", "fit_open_files"]
