"""Fleet benchmark: ``a2actl fleet probe`` of 10,000 agents (card + validate + first RPC) on loopback
at ``-c 200``, next to a bare aiohttp loop that only fetches the 10,000 cards at 200 in flight, in
interleaved rounds against one fleet server; and a2actl's peak RSS with 1,000 vs 10,000 agents.

Target (issue #16): fleet probe of 10,000 agents at -c 200 in <= 30 s on this 2-core machine; the
ratio to the bare card loop measured in the same run; RSS flat as the inventory grows.

    python bench/fleet_probe.py [AGENTS] [ROUNDS] [RSS_SIZES]

Defaults: 10,000 agents, 3 rounds, RSS at 1,000 and AGENTS agents (``RSS_SIZES``: a comma-separated
list, e.g. ``1000,10000,50000``). Port: BENCH_PORT (default 22100).

* The server is ``tests/fleet_server.py`` in its own process (raw asyncio HTTP/1.1 on uvloop, every
  agent's card rendered once and cached): agent ``healthy-<n>`` under ``/a/healthy-<n>``, a schema-valid
  A2A 1.0 card, GetTask answering TaskNotFound. All agents share one origin, so both clients reuse
  kept-alive connections (up to 200); a fleet of distinct hosts would add a connect (and TLS) per agent
  to both. The server's CPU seconds per round are printed too: well under the wall time, it is not what
  is measured.
* a2actl runs through its real CLI entry point (``a2actl.cli.app.main`` with ``fleet probe
  INVENTORY -c 200 -o json --no-progress``, the inventory a text file of base URLs, stdout to a file
  whose funnel is checked: every agent must pass card, negotiated and rpc), in its own process, timed
  from inside after the imports the command does (typer, aiohttp, jsonschema, the fleet modules): the
  figure is the probe, not Python's start-up. The bare loop is aiohttp + orjson, its own process, one
  session, ``TCPConnector(limit=200)``, 200 requests in flight, each card read and decoded.
* Each client reports its CPU seconds (``resource.getrusage(RUSAGE_SELF)``, user + system, after the
  imports) and its peak RSS (``ru_maxrss``). On a machine shared with other work the wall time moves
  with the load; CPU seconds much less so.
* RSS: a2actl's peak RSS (the whole process) for each of ``RSS_SIZES`` agents, with the default
  table output and with ``-o json`` (written record by record, ``FleetReport.json_chunks``), one run
  each, and the growth per agent between the smallest and the largest size (KiB per agent). The
  engine keeps one small ``AgentResult`` per agent (the report needs them all) and the inventory's
  ``AgentSpec``s; the output no longer grows with the fleet.

ROUNDS 0 runs only the RSS part (no warm-up runs; each ``-o json`` report's funnel is checked).
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.abspath(__file__)
ROOT = os.path.dirname(os.path.dirname(HERE))
CONCURRENCY = 200


# ------------------------------------------------------------------------------------------ clients
def _usage() -> tuple[float, float]:
    """(CPU seconds user+system, peak RSS MiB) of this process so far."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024


def a2actl_client(inventory: str, out: str, fmt: str = "json") -> None:
    """``a2actl fleet probe INVENTORY -c 200 -o FMT --no-progress`` through the CLI entry point, stdout
    to ``out``; prints ``{"seconds", "cpu", "maxrss", "exit"}`` on stderr."""
    sys.path.insert(0, ROOT)
    import aiohttp  # noqa: F401 - imports the command's body does: not part of the figure
    import jsonschema  # noqa: F401

    import a2actl.cli.app as app
    import a2actl.cli.fleet  # noqa: F401
    import a2actl.fleet.report  # noqa: F401
    import a2actl.fleet.run  # noqa: F401
    import a2actl.render.fleet  # noqa: F401
    import a2actl.transport.connmarks  # noqa: F401

    sys.argv = ["a2actl", "fleet", "probe", inventory, "-c", str(CONCURRENCY), "-o", fmt, "--no-progress"]
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(fd, 1)
    t0 = time.perf_counter()
    cpu0, _ = _usage()
    code: object = 0
    try:
        app.main()
    except SystemExit as exc:
        code = exc.code
    seconds = time.perf_counter() - t0
    cpu1, maxrss = _usage()
    sys.stderr.write(
        json.dumps({"seconds": seconds, "cpu": cpu1 - cpu0, "maxrss": maxrss, "exit": code}) + "\n"
    )


def bare_client(base: str, count: int) -> None:
    """Fetch the cards of ``healthy-0 … healthy-<count-1>`` with aiohttp, 200 in flight, each body
    decoded with orjson; prints ``{"seconds", "cpu", "maxrss", "cards"}`` on stderr."""
    import asyncio

    import aiohttp
    import orjson

    async def main() -> int:
        connector = aiohttp.TCPConnector(limit=CONCURRENCY, limit_per_host=0)
        ok = 0
        async with aiohttp.ClientSession(connector=connector) as session:
            next_index = 0

            async def worker() -> None:
                nonlocal next_index, ok
                while next_index < count:
                    i = next_index
                    next_index += 1
                    async with session.get(f"{base}/a/healthy-{i}/.well-known/agent-card.json") as r:
                        body = await r.read()
                    ok += r.status == 200 and isinstance(orjson.loads(body), dict)

            await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        return ok

    t0 = time.perf_counter()
    cpu0, _ = _usage()
    cards = asyncio.run(main())
    seconds = time.perf_counter() - t0
    cpu1, maxrss = _usage()
    sys.stderr.write(
        json.dumps({"seconds": seconds, "cpu": cpu1 - cpu0, "maxrss": maxrss, "cards": cards}) + "\n"
    )


# ------------------------------------------------------------------------------------------ driver
def proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) of process ``pid`` so far, from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_client(args: list[str]) -> dict[str, float]:
    proc = subprocess.run([sys.executable, HERE, *args], capture_output=True, text=True, check=False)
    lines = [line for line in proc.stderr.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise SystemExit(f"{' '.join(args[:2])} failed ({proc.returncode}): {proc.stderr[-1500:]}")
    doc: dict[str, float] = json.loads(lines[-1])
    return doc


def check_report(path: str, count: int) -> None:
    """The fleet report must show every agent through the first RPC."""
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    agents = doc.get("agents") or doc.get("results") or []
    passed = sum(1 for a in agents if a.get("ok"))
    if passed != count:
        causes: dict[str, int] = {}
        for a in agents:
            if not a.get("ok"):
                causes[str(a.get("cause"))] = causes.get(str(a.get("cause")), 0) + 1
        raise SystemExit(f"fleet probe: {passed} of {count} agents ok (failures by cause: {causes})")


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    sizes = (
        tuple(int(x) for x in sys.argv[3].split(","))
        if len(sys.argv) > 3
        else tuple(sorted({min(1000, count), count}))
    )
    port = int(os.environ.get("BENCH_PORT", "22100"))
    sys.path.insert(0, ROOT)
    from tests.fleet_server import FleetProcess, plan, write_inventory

    tmp = tempfile.mkdtemp(prefix="fleet-bench-")
    with FleetProcess(port=port, slow=5.0, lag=0.2) as server:
        inv = os.path.join(tmp, "fleet.txt")
        write_inventory(inv, plan(server.url, {"healthy": count}, interleave=False), "text")
        out = os.path.join(tmp, "report.json")
        if rounds:  # warm the server's card cache (both clients then see cached cards), check the funnel
            run_client(["--bare", server.url, str(count)])
            run_client(["--a2actl", inv, out])
            check_report(out, count)
        print(
            f"fleet probe of {count:,} agents (card + validate + first RPC) vs a bare aiohttp card loop, "
            f"-c {CONCURRENCY}, {rounds} interleaved rounds; seconds after imports; cpu = client CPU s"
        )
        print(
            f"{'round':>5}  {'a2actl s':>9} {'cpu':>6}  {'bare s':>7} {'cpu':>6}  {'ratio':>6}  {'server cpu s':>12}"
        )
        a_s, a_c, b_s, b_c, ratios = [], [], [], [], []
        for r in range(1, rounds + 1):
            s0 = proc_cpu(server.pid)
            a = run_client(["--a2actl", inv, out])
            s1 = proc_cpu(server.pid)
            check_report(out, count)
            b = run_client(["--bare", server.url, str(count)])
            s2 = proc_cpu(server.pid)
            if b.get("cards") != count:
                raise SystemExit(f"bare loop: {b.get('cards')} of {count} cards")
            a_s.append(a["seconds"])
            a_c.append(a["cpu"])
            b_s.append(b["seconds"])
            b_c.append(b["cpu"])
            ratios.append(a["seconds"] / b["seconds"])
            print(
                f"{r:>5}  {a['seconds']:>9.2f} {a['cpu']:>6.2f}  {b['seconds']:>7.2f} {b['cpu']:>6.2f}  "
                f"{ratios[-1]:>5.1f}x  {s1 - s0:>5.2f} / {s2 - s1:<5.2f}"
            )
        if rounds:
            med = statistics.median
            print(
                f"median  {med(a_s):>9.2f} {med(a_c):>6.2f}  {med(b_s):>7.2f} {med(b_c):>6.2f}  {med(ratios):>5.1f}x"
            )
            print(
                f"a2actl: {med(a_s):.1f} s for {count:,} agents ({count / med(a_s):,.0f} agents/s, "
                f"{med(a_c) / count * 1e3:.2f} ms client CPU per agent); bare: {med(b_c) / count * 1e3:.2f} ms CPU "
                f"per card; target <= 30 s: {'met' if med(a_s) <= 30 else 'NOT met'} (range {min(a_s):.1f}-{max(a_s):.1f} s)"
            )
        paths = {}
        for n in sizes:
            paths[n] = os.path.join(tmp, f"fleet-{n}.txt")
            write_inventory(paths[n], plan(server.url, {"healthy": n}, interleave=False), "text")
        peaks = {}
        for fmt in ("table", "json"):
            for n in sizes:
                got = run_client(["--a2actl", paths[n], out, fmt])
                peaks[fmt, n] = got["maxrss"]
                if fmt == "json":
                    check_report(out, n)
                print(
                    f"  -o {fmt:5} {n:>7,} agents: peak RSS {got['maxrss']:6.1f} MiB, {got['seconds']:6.1f} s"
                )
        lo, hi = sizes[0], sizes[-1]
        print(
            "peak RSS of fleet probe (the whole process): "
            + "; ".join(
                f"-o {fmt}: "
                + ", ".join(f"{n:,} agents {peaks[fmt, n]:.0f} MiB" for n in sizes)
                + (
                    f" ({(peaks[fmt, hi] - peaks[fmt, lo]) * 1024 / (hi - lo):.2f} KiB per agent)"
                    if hi > lo
                    else ""
                )
                for fmt in ("table", "json")
            )
        )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--a2actl":
        a2actl_client(*sys.argv[2:5])
    elif len(sys.argv) > 1 and sys.argv[1] == "--bare":
        bare_client(sys.argv[2], int(sys.argv[3]))
    else:
        main()
