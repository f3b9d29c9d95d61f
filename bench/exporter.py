"""a2actl exporter: what a /probe costs over `handshake probe` of the same sandbox target, and the
exporter's RSS over 10,000 /probe scrapes.

Three ways to probe one target, interleaved round by round (so that the load of this shared machine
falls on all three alike), each one handshake on a new connection:

* core:     ``a2actl.probe.handshake.run_probe`` with one sample, in this process (what
            ``a2actl handshake probe URL`` runs after its imports): the baseline;
* exporter core: ``a2actl.exporter.probe.probe_target`` in this process (run_probe plus the module's
            settings, the deadline and the classification);
* /probe:   ``GET /probe?target=URL`` on an ``a2actl exporter`` process, timed by this process over
            one keep-alive connection (the core, the Prometheus encoding and the HTTP round trip).

and, once, the CLI ``a2actl handshake probe URL -o json`` as a subprocess (interpreter start and
imports included: what a cron-job check would pay per probe instead of a scrape).

Then ``--scrapes`` (10,000) /probe requests, ``--in-flight`` at a time, with the exporter's RSS
(``/proc/PID/status`` VmRSS) every 1,000: flat means no per-probe leak.

The agent is the sandbox (``a2actl sandbox serve``) in its own process. Run:
``python bench/exporter.py [--rounds 200] [--scrapes 10000]``. Figures move with the load of this
shared 2-core machine: read the ratios and the RSS trend, not the absolute milliseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote, urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def start(*args: str) -> tuple[subprocess.Popen[str], str]:
    """``python -m a2actl ARGS`` whose first stdout line is its URL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "a2actl", *args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    assert proc.stdout is not None
    url = proc.stdout.readline().strip()
    if not url.startswith("http://"):
        proc.kill()
        raise SystemExit(f"{args[0]} did not start")
    return proc, url


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def line(name: str, values: list[float], base: list[float] | None = None) -> str:
    med = statistics.median(values)
    ratio = (
        f"  {med / statistics.median(base):5.2f}x  +{(med - statistics.median(base)) * 1e3:6.2f} ms"
        if base
        else ""
    )
    return (
        f"{name:<16} median {med * 1e3:7.2f} ms  p90 {pct(values, 0.9) * 1e3:7.2f} ms  "
        f"min {min(values) * 1e3:7.2f} ms{ratio}"
    )


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--rounds", type=int, default=200, help="latency samples per way")
    ap.add_argument("--scrapes", type=int, default=10_000, help="/probe scrapes for the RSS check")
    ap.add_argument("--in-flight", type=int, default=4, help="concurrent /probe scrapes in the RSS check")
    args = ap.parse_args()

    from a2actl.agent.target import parse_target
    from a2actl.core.config import Settings
    from a2actl.exporter.config import Module
    from a2actl.exporter.probe import probe_target
    from a2actl.probe.handshake import run_probe
    from a2actl.probe.report import ProbeOptions

    sandbox, target = start("sandbox", "serve", "--port", "0")
    exporter, ex_url = start("exporter", "--port", "0")
    try:
        host, port = urlsplit(ex_url).hostname, urlsplit(ex_url).port
        conn = http.client.HTTPConnection(host or "127.0.0.1", port, timeout=30)
        path = "/probe?target=" + quote(target, safe="")

        def scrape() -> float:
            t = time.perf_counter()
            conn.request("GET", path)
            body = conn.getresponse().read()
            elapsed = time.perf_counter() - t
            assert b"probe_success 1.0" in body, body[:300]
            return elapsed

        opts = ProbeOptions(target=parse_target(target), samples=1)
        module = Module("default")

        async def core() -> float:
            t = time.perf_counter()
            report = await run_probe(opts, Settings())
            elapsed = time.perf_counter() - t
            assert report.samples[0].ok
            return elapsed

        async def exporter_core() -> float:
            t = time.perf_counter()
            r = await probe_target(target, module, Settings())
            elapsed = time.perf_counter() - t
            assert r.success, r.to_json()
            return elapsed

        for _ in range(10):  # warm up all three (imports, the sandbox's first requests)
            await core()
            await exporter_core()
            scrape()
        results: dict[str, list[float]] = {"core": [], "exporter core": [], "/probe": []}
        for _ in range(args.rounds):
            results["core"].append(await core())
            results["exporter core"].append(await exporter_core())
            results["/probe"].append(scrape())
        cli = []
        for _ in range(5):
            t = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "a2actl", "-o", "json", "handshake", "probe", target],
                check=True,
                capture_output=True,
            )
            cli.append(time.perf_counter() - t)

        print(
            f"target {target} (sandbox), {args.rounds} interleaved rounds, one handshake each, new connection"
        )
        print(line("core (run_probe)", results["core"]))
        print(line("exporter core", results["exporter core"], results["core"]))
        print(line("/probe over HTTP", results["/probe"], results["core"]))
        print(
            line("CLI subprocess", cli, results["core"])
            + "   (5 runs: interpreter start and imports included)"
        )

        pid = exporter.pid
        print(
            f"\nRSS of the exporter (pid {pid}) over {args.scrapes:,} /probe scrapes, {args.in_flight} in flight:"
        )
        done = 0
        conns = [
            http.client.HTTPConnection(host or "127.0.0.1", port, timeout=30) for _ in range(args.in_flight)
        ]

        def one(c: http.client.HTTPConnection) -> None:
            c.request("GET", path)
            body = c.getresponse().read()
            assert b"probe_success 1.0" in body

        loop = asyncio.get_running_loop()
        print(f"  {0:>6,} scrapes  {rss_mib(pid):6.1f} MiB  (sandbox {rss_mib(sandbox.pid):6.1f} MiB)")
        while done < args.scrapes:
            tb = time.perf_counter()
            batch = min(1000, args.scrapes - done)
            per = [
                batch // args.in_flight + (1 if i < batch % args.in_flight else 0)
                for i in range(args.in_flight)
            ]

            def run(c: http.client.HTTPConnection, n: int) -> None:
                for _ in range(n):
                    one(c)

            await asyncio.gather(
                *(loop.run_in_executor(None, run, c, n) for c, n in zip(conns, per, strict=True))
            )
            done += batch
            rate = batch / (time.perf_counter() - tb)
            print(
                f"  {done:>6,} scrapes  {rss_mib(pid):6.1f} MiB  ({rate:.0f} scrapes/s in this batch; "
                f"sandbox {rss_mib(sandbox.pid):6.1f} MiB)"
            )
        for c in [conn, *conns]:
            c.close()
    finally:
        for proc in (exporter, sandbox):
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
    print(
        f"\nmachine: {os.cpu_count()} CPUs, shared; figures are noisy, compare the ratios and the RSS trend"
    )


if __name__ == "__main__":
    asyncio.run(main())
