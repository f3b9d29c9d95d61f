"""Probe accuracy: a2actl's `time_starttransfer` against curl's `-w '%{time_starttransfer}'` on the
same sandbox card URL, interleaved, median of N each (new connection every time for both).
Prints both medians and the difference in ms. The sandbox runs in its own process (as the agent
does for curl): sharing a process with the client would charge its GIL and event loop to a2actl.

Target (issue #2): TTFB within 1 ms of curl.

    python bench/probe_accuracy.py [N]
"""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import subprocess
import sys

from a2actl.core.config import Settings
from a2actl.transport.http import HttpTransport


async def a2actl_ttfb(url: str) -> tuple[float, float, float]:
    """(time_starttransfer, time_starttransfer - time_pretransfer, time_connect) in seconds, new
    connection."""
    async with HttpTransport(Settings()) as tr:  # a new connection, as curl makes one per run
        res = await tr.request("GET", url, headers={"Accept": "application/json"})
        t = res.timing
        return t.time_starttransfer, t.time_starttransfer - t.time_pretransfer, t.time_connect


def curl_ttfb(url: str) -> tuple[float, float, float]:
    out = subprocess.run(
        [
            "curl",
            "-s",
            "-o",
            "/dev/null",
            "-H",
            "Accept: application/json",
            "-w",
            "%{time_starttransfer} %{time_pretransfer} %{time_connect}",
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    st, pre, conn = (float(x) for x in out.stdout.split())
    return st, st - pre, conn


def main() -> None:
    if not shutil.which("curl"):
        sys.exit("curl is not installed")
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    server = subprocess.Popen(
        [sys.executable, "-m", "a2actl", "sandbox", "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        url = server.stdout.readline().strip() + "/.well-known/agent-card.json"  # type: ignore[union-attr]
        ours, theirs = [], []
        for _ in range(3):  # warm both paths
            asyncio.run(a2actl_ttfb(url))
            curl_ttfb(url)
        for _ in range(n):
            ours.append(asyncio.run(a2actl_ttfb(url)))
            theirs.append(curl_ttfb(url))
    finally:
        server.terminate()
        server.wait()

    def med(xs: list[tuple[float, float, float]], i: int) -> float:
        return statistics.median(x[i] for x in xs) * 1000

    print(f"samples each                                  {n}")
    print(f"a2actl time_starttransfer p50                 {med(ours, 0):.3f} ms")
    print(f"curl   time_starttransfer p50                 {med(theirs, 0):.3f} ms")
    print(
        f"difference (a2actl - curl)                    {med(ours, 0) - med(theirs, 0):+.3f} ms  (target within ±1 ms)"
    )
    print(
        f"server processing (starttransfer-pretransfer) a2actl {med(ours, 1):.3f} ms, curl {med(theirs, 1):.3f} ms, "
        f"difference {med(ours, 1) - med(theirs, 1):+.3f} ms"
    )
    print(
        f"time_connect p50 (IP literal: TCP connect)   a2actl {med(ours, 2):.3f} ms, curl {med(theirs, 2):.3f} ms, "
        f"difference {med(ours, 2) - med(theirs, 2):+.3f} ms"
    )
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} (1, 5, 15 min)")


if __name__ == "__main__":
    main()
