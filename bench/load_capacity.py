"""Generator capacity of `a2actl load run` (open model) against a fast raw-ASGI loopback sink.

Issue #15's target: the highest `--rate` a2actl holds with schedule lag p99 < 5 ms is >= 0.8x the
throughput of a bare aiohttp loop (orjson bodies, 64 requests in flight, nothing else) on the same
sink; `hey` and `wrk` (when installed) give the machine's ceiling for the same POST.

    python bench/load_capacity.py [SECONDS_PER_STEP] [--loop auto|asyncio]
    python bench/load_capacity.py --instructions   # only the instruction counts (BENCH_INSTRUCTIONS)

The rates climb past 1.2x the bare loop's closed throughput (at least to 8,000 req/s);
``BENCH_FROM=R`` starts a2actl's sweep at R req/s (a quick re-check of the top).

Apples to apples: the bare loop sends the bytes a2actl sends (a fresh JSON-RPC id and messageId per
request, ``A2A-Version: 1.0``, a ``traceparent`` with a fresh span id), decodes every answer with
orjson, and runs on the event loop a2actl's ``load run`` uses (``--loop auto``: uvloop when
installed; ``--loop asyncio`` runs both on asyncio's).

The sink (its own process, uvicorn on httptools, required: ``pip install -e .[bench]``) answers every JSON-RPC
SendMessage at once with a completed Task and serves a 1.0 card. a2actl runs as its own process
(`a2actl -o json load run SINK --rate R -d S --max-in-flight 64 --no-progress`) at rising rates;
"held" means lag p99 < 5 ms, no drops and achieved >= 95 % of asked; from 1,800 req/s each rate
runs up to three times (``BENCH_TRIALS``) and is held when most of its runs are (below 1,800, when
its first run is not held; every run is printed). The bare loop runs before and after the sweep (interleaved), and each figure is printed
as it is measured. Then the bare loop is swept as an open model too (``bare_open``: a2actl's
scheduler and the bare loop's requests, nothing else), which tells a2actl's own cost from what
holding a schedule on one asyncio loop costs anyway.

Garbage collector: ``load run`` runs under ``a2actl.core.gcpause.quiet_gc`` (the heap before the
run frozen, the youngest generation collected every 50,000 allocations instead of 700). The bare
closed loop is measured both on the interpreter's defaults and under that regime, and the faster is
the reference (a GC setting is no a2actl code); the bare open model runs under it, as a2actl's
scheduler does (until session 18 it did not, and held only 0.54-0.72x of the closed loop).

``--max-in-flight 64`` (``BENCH_MAX_IN_FLIGHT``): the 64 requests in flight, and so the 64
connections, that the bare loop, hey and wrk get (apples to apples; it was 256). On a quiet machine
256 holds the same rates; on a shared one a stall of the client lets a burst of late arrivals open
up to 256 new connections, and the handshakes on both ends of the loopback make the stall worse
(measured once with a test suite running beside it, 2,000 req/s: 256 in flight, lag p99 175 ms and
393 dropped; 64 in flight, held with lag p99 3.9 ms).

Pinning (``BENCH_PIN``, on by default when this process may run on two CPUs or more): the sink runs
on one CPU and every generator (the bare loops in this process, a2actl, hey, wrk) on another, as a
load test puts the generator and the system under test on different machines. Unpinned, the kernel
moves both between the two cores, so a generator's schedule lag measures the two processes' fight
for a core as much as the generator (session 15, same code 17 min apart: 0.63x, then 0.84x). Pinned,
every client gets the same one core and the sink the same other one. ``BENCH_PIN=0`` runs unpinned,
as sessions 8-15 did.

``BENCH_INSTRUCTIONS=1`` (valgrind installed) adds CPU instructions per request of a2actl and of the
bare loop (callgrind, user space), for the closed model (64 in flight: the difference between a run
of 1,300 requests and one of 300, over 1,000, so start-up cancels out) and for the open model (the
difference between 24 s at 50 req/s and 24 s at 10 req/s, over the 960 requests between them, so
start-up and whatever a run does per second cancel out; 50 req/s is slow enough for a client under
valgrind). Deterministic whatever else the machine runs: it tells a2actl's own cost per request,
which the held rate mixes with the VM's stalls.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

import orjson
from loopback import free_port, sink, wait_port

if TYPE_CHECKING:
    import aiohttp

HERE = os.path.abspath(__file__)
A2ACTL = [sys.executable, "-m", "a2actl"]
#: The event loops a2actl's reports say it ran on.
LOOPS: set[str] = set()
BODY = {
    "jsonrpc": "2.0",
    "id": "1",
    "method": "SendMessage",
    "params": {"message": {"messageId": "m", "role": "ROLE_USER", "parts": [{"text": "hello"}]}},
}


def pin(sink_pid: int) -> str:
    """Pin the sink (``sink_pid``) to one CPU and this process (and so every generator it starts) to
    another, unless ``BENCH_PIN=0`` or fewer than two CPUs are allowed; a line saying which."""
    cpus = sorted(os.sched_getaffinity(0))
    if os.environ.get("BENCH_PIN", "1") == "0" or len(cpus) < 2:
        return f"unpinned: sink and generators share CPUs {cpus}"
    os.sched_setaffinity(sink_pid, {cpus[-1]})
    os.sched_setaffinity(0, {cpus[0]})
    return f"pinned: sink on CPU {cpus[-1]}, every generator (bare loops, a2actl, hey, wrk) on CPU {cpus[0]}"


def use_loop(choice: str) -> str:
    """Set the event-loop policy a2actl's ``load run --loop CHOICE`` would use; its name."""
    if choice == "auto":
        try:
            import uvloop
        except ImportError:
            return "asyncio"
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
        return "uvloop"
    asyncio.set_event_loop_policy(None)
    return "asyncio"


async def post_one(session: aiohttp.ClientSession, url: str, trace: str) -> None:
    """One request of the bare loops: what a2actl posts (orjson), a fresh id and messageId, the
    A2A-Version header and a traceparent with a fresh span id; the answer decoded."""
    message = {"messageId": str(uuid.uuid4()), "role": "ROLE_USER", "parts": [{"text": "hello"}]}
    body = {
        "jsonrpc": "2.0",
        "id": str(uuid.uuid4()),
        "method": "SendMessage",
        "params": {"message": message},
    }
    headers = {
        "Content-Type": "application/json",
        "A2A-Version": "1.0",
        "traceparent": f"00-{trace}-{os.urandom(8).hex()}-01",
    }
    async with session.post(url, data=orjson.dumps(body), headers=headers) as r:
        orjson.loads(await r.read())


def gc_regime(on: bool) -> contextlib.AbstractContextManager[None]:
    """``load run``'s garbage-collector regime (``a2actl.core.gcpause.quiet_gc``: what was allocated
    before moves to the permanent generation, the youngest generation is collected every 50,000
    allocations) when ``on``, else the interpreter's defaults."""
    if not on:
        return contextlib.nullcontext()
    from a2actl.core.gcpause import quiet_gc

    return quiet_gc()


async def bare_loop(url: str, seconds: float, in_flight: int = 64, quiet_gc: bool = False) -> float:
    """Requests per second of a bare aiohttp closed loop posting what a2actl posts (orjson): a fresh
    id and messageId, the A2A-Version header and a traceparent per request; answers decoded.
    ``quiet_gc``: under ``load run``'s garbage-collector regime (``gc_regime``)."""

    import aiohttp

    done = 0
    stop = time.perf_counter() + seconds
    trace = os.urandom(16).hex()
    async with (
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=in_flight)) as session,
        _async(gc_regime(quiet_gc)),
    ):

        async def worker() -> None:
            nonlocal done
            while time.perf_counter() < stop:
                await post_one(session, url, trace)
                done += 1

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(in_flight)))
        return done / (time.perf_counter() - t0)


async def bare_closed_n(url: str, n: int, in_flight: int = 64) -> None:
    """``n`` requests of the bare closed loop (``bare_loop``'s requests; for instruction counts)."""
    import aiohttp

    left = n
    trace = os.urandom(16).hex()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=in_flight)) as session:

        async def worker() -> None:
            nonlocal left
            while left > 0:
                left -= 1
                await post_one(session, url, trace)

        await asyncio.gather(*(worker() for _ in range(in_flight)))


class _async(contextlib.AbstractAsyncContextManager[None]):  # noqa: N801 - used as a function
    """A synchronous context manager entered in an ``async with`` (after the session is made)."""

    def __init__(self, cm: contextlib.AbstractContextManager[None]) -> None:
        self.cm = cm

    async def __aenter__(self) -> None:
        self.cm.__enter__()

    async def __aexit__(self, *exc: object) -> None:
        self.cm.__exit__(None, None, None)


async def bare_open(url: str, rate: float, seconds: float, in_flight: int = 64) -> dict[str, float]:
    """The bare aiohttp loop as an open model, with a2actl's scheduler and nothing else: arrivals
    every 1/``rate`` s, each a task made at its time (woken 0.8 ms early, as ``load run`` does, a
    yield every 64 arrivals when behind), at most ``in_flight`` at once; an arrival over it waits in
    a backlog of at most ``in_flight`` arrivals, started as requests end, and is dropped when the
    backlog is full or the schedule is over (``load run``'s rule: until session 14 this loop dropped
    at once, with no backlog, so it held less than it would with a2actl's scheduler); lag = how late
    each request started. The same figures as ``a2actl_at``: it tells a2actl's own cost from what an
    open model on one asyncio loop costs anyway. Under ``load run``'s garbage-collector regime
    (``gc_regime``), as a2actl's scheduler runs: until session 18 it ran on the interpreter's
    defaults, and held 0.54-0.72x of the closed loop where a2actl held more."""

    import aiohttp

    lags: list[float] = []
    latencies: list[float] = []
    dropped = failures = 0
    active = 0
    trace = os.urandom(16).hex()
    perf = time.perf_counter
    async with (
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=in_flight)) as session,
        _async(gc_regime(True)),
    ):
        backlog: deque[float] = deque()
        over = False

        async def one(due: float) -> None:
            nonlocal active, failures
            now = perf()
            base = min(due, now)
            lags.append(now - base)
            try:
                await post_one(session, url, trace)
            except Exception:  # noqa: BLE001 - counted, as a2actl counts failures
                failures += 1
            finally:
                active -= 1
            latencies.append(perf() - base)
            while backlog and active < in_flight and not over:
                launch(backlog.popleft())

        def launch(due: float) -> None:
            nonlocal active
            active += 1
            task = asyncio.get_running_loop().create_task(one(due))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

        tasks: set[asyncio.Task[None]] = set()
        start = perf()
        n = int(rate * seconds)
        for k in range(n):
            due = start + k / rate
            wait = due - perf()
            if wait > 0.001:
                await asyncio.sleep(wait - 0.0008)
            if active < in_flight:
                launch(due)
            elif len(backlog) < in_flight:
                backlog.append(due)
            else:
                dropped += 1
            if wait <= 0.001 and k % 64 == 0:
                await asyncio.sleep(0)
        sent_end = perf()
        over = True
        dropped += len(backlog)
        backlog.clear()
        while tasks:
            await asyncio.gather(*list(tasks))
    lags.sort()
    latencies.sort()

    def p99(xs: list[float]) -> float:
        return xs[min(len(xs) - 1, int(len(xs) * 0.99))] if xs else 0.0

    return {
        "asked": rate,
        "achieved": (n - dropped) / max(sent_end - start, 1e-9),
        "lag_p99_ms": p99(lags) * 1000,
        "latency_p99_ms": p99(latencies) * 1000,
        "dropped": dropped,
        "failures": failures,
    }


MAX_IN_FLIGHT = os.environ.get("BENCH_MAX_IN_FLIGHT", "64")
#: Runs per rate from 1,800 req/s (``BENCH_TRIALS``): a rate is held when most of them hold it.
TRIALS = int(os.environ.get("BENCH_TRIALS", "3"))


def a2actl_at(url: str, rate: float, seconds: float, loop: str = "auto") -> dict[str, float]:
    out = subprocess.run(
        [*A2ACTL, "-o", "json", "load", "run", url, "--rate", str(rate), "-d", f"{seconds}s",
         "--max-in-flight", MAX_IN_FLIGHT, "--no-progress", "--loop", loop],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    doc = json.loads(out.stdout)
    LOOPS.add(doc.get("client", {}).get("loop", "?"))
    lag = doc["metrics"].get("lag") or {}
    return {
        "asked": rate,
        "achieved": doc["throughput"]["achieved"] or 0.0,
        "lag_p99_ms": (lag.get("p99") or 0.0) * 1000,
        "latency_p99_ms": doc["metrics"]["latency"]["p99"] * 1000,
        "dropped": doc["requests"]["dropped"],
        "failures": doc["requests"]["failures"],
    }


def a2actl_closed(url: str, seconds: float, workers: int = 64, loop: str = "auto") -> float:
    """a2actl's own saturation throughput: the closed model with as many workers as the bare loop."""
    out = subprocess.run(
        [*A2ACTL, "-o", "json", "load", "run", url, "-c", str(workers), "-d", f"{seconds}s", "--no-progress",
         "--loop", loop],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    doc = json.loads(out.stdout)
    LOOPS.add(doc.get("client", {}).get("loop", "?"))
    return float(doc["throughput"]["achieved"] or 0.0)


def held(r: dict[str, float]) -> bool:
    return (
        r["lag_p99_ms"] < 5.0
        and not r["dropped"]
        and not r["failures"]
        and r["achieved"] >= 0.95 * r["asked"]
    )


#: The closed model's two request counts whose difference the instruction counts divide by.
IR_SMALL, IR_BIG = 300, 1300
#: The open model's two rates (req/s) over the same seconds: what differs is requests, not time.
IR_RATES, IR_SECONDS = (10, 50), 24


def instructions_per_request(base: str, rpc: str) -> dict[str, float]:
    """CPU instructions per request (callgrind, user space) of a2actl's ``load run`` and of the bare
    loop. Closed (64 in flight): the difference between a run of ``IR_BIG`` requests and one of
    ``IR_SMALL``, over the difference, so start-up and imports cancel out. Open: the difference
    between ``IR_SECONDS`` at the higher of ``IR_RATES`` and the same seconds at the lower, over the
    requests between them, so what a run costs per second (its timers, the progress tick) cancels
    out as well. Keys: ``a2actl closed``, ``bare closed``, ``a2actl open``, ``bare open``."""

    def count(cmd: list[str]) -> int:
        out = subprocess.run(
            ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *cmd],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=True,
        )  # fmt: skip
        return int(out.stderr.split("Collected : ")[1].split()[0])

    a2actl = [*A2ACTL, "-o", "json", "load", "run", base, "--no-progress"]
    closed = {
        "a2actl closed": lambda n: [*a2actl, "-c", "64", "-n", str(n)],
        "bare closed": lambda n: [sys.executable, HERE, "--bare-closed", rpc, str(n)],
    }
    opened = {
        "a2actl open": lambda r: [*a2actl, "--rate", str(r), "-d", f"{IR_SECONDS}s", "--max-in-flight", "64"],
        "bare open": lambda r: [sys.executable, HERE, "--bare-open", rpc, str(r), str(IR_SECONDS)],
    }
    lo, hi = IR_RATES
    out = {
        name: (count(cmd(IR_BIG)) - count(cmd(IR_SMALL))) / (IR_BIG - IR_SMALL)
        for name, cmd in closed.items()
    }
    for name, cmd in opened.items():
        out[name] = (count(cmd(hi)) - count(cmd(lo))) / ((hi - lo) * IR_SECONDS)
    return out


def print_instructions(base: str, rpc: str) -> None:
    """Print ``instructions_per_request`` and the ratios (bare / a2actl: 1.00x is the bare loop's cost)."""
    if not shutil.which("valgrind"):
        print("instructions per request: valgrind is not installed, skipped", flush=True)
        return
    ir = instructions_per_request(base, rpc)
    for model in ("closed", "open"):
        a, b = ir[f"a2actl {model}"], ir[f"bare {model}"]
        print(
            f"instructions per request, {model} model (callgrind, user space): a2actl {a:,.0f}, "
            f"bare loop {b:,.0f} = {b / a:.2f}x (the bare loop's count over a2actl's)",
            flush=True,
        )


def external(url: str, seconds: float) -> dict[str, float]:
    """hey and wrk (when on PATH) posting the same body with 64 connections: requests per second."""
    body = json.dumps(BODY)
    out: dict[str, float] = {}
    if shutil.which("hey"):
        r = subprocess.run(
            ["hey", "-z", f"{seconds}s", "-c", "64", "-m", "POST", "-T", "application/json", "-d", body, url],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        for line in r.stdout.splitlines():
            if "Requests/sec" in line:
                out["hey"] = float(line.split()[-1])
    if shutil.which("wrk"):
        script = f"/tmp/a2actl-wrk-{os.getpid()}.lua"
        with open(script, "w") as fh:
            fh.write(
                'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                f"wrk.body = {json.dumps(body)}\n"
            )
        r = subprocess.run(
            ["wrk", "-t", "1", "-c", "64", "-d", f"{int(seconds)}s", "-s", script, url],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        for line in r.stdout.splitlines():
            if line.startswith("Requests/sec"):
                out["wrk"] = float(line.split()[-1])
    return out


def sweep(label: str, run_at: Callable[[int], dict[str, float]], first: int, top: int = 8000) -> float:
    """The highest rate ``run_at`` holds, from ``first`` req/s up to ``top``: 250 req/s steps, then
    500 from 4,000; every run printed. (Sessions 8-16 stepped by 100 from 1,800 to 4,000, around
    0.8x of a bare loop near 3k req/s then; with the httptools sink the bare loop is near 12k, and
    those 22 rates only added minutes to each sweep.) When the highest rate held is ``top``, the ladder, not the
    generator, ended the sweep: ``main`` sets ``top`` above the bare loop's closed throughput.

    From 1,800 req/s each rate runs ``TRIALS`` times and is held when most runs hold it: on a shared
    VM one stall of the whole machine (not of the generator) in a 5 s run puts ~1% of its requests
    past 5 ms and fails a single run (measured: the same build at 2,200 req/s gave lag p99 1.6, 5.4
    and 21.9 ms in three runs). Below 1,800 one held run is enough, and a rate whose first run fails
    runs up to ``TRIALS`` times as well (one stall at 1,750 req/s ended a whole sweep at 1,500)."""
    best = 0.0
    for rate in (*range(250, 4000, 250), *range(4000, top + 1, 500)):
        if rate < first:
            continue
        runs: list[bool] = []
        for _ in range(TRIALS):
            r = run_at(rate)
            runs.append(held(r))
            print(
                f"{label} --rate {rate:>5}: achieved {r['achieved']:>7,.0f} req/s, lag p99 {r['lag_p99_ms']:6.1f} ms, "
                f"latency p99 {r['latency_p99_ms']:6.1f} ms, dropped {r['dropped']:.0f}, failures {r['failures']:.0f}"
                f" -> {'held' if runs[-1] else 'NOT held'}",
                flush=True,
            )
            if rate < 1800 and runs[0]:
                break  # below the range the target is about, one held run is enough
            if sum(runs) * 2 > TRIALS or (len(runs) - sum(runs)) * 2 > TRIALS:
                break  # the majority is known
        ok = sum(runs) * 2 > len(runs) if len(runs) > 1 else runs[0]
        if len(runs) > 1:
            print(
                f"  {label} --rate {rate}: held in {sum(runs)} of {len(runs)} runs -> {'held' if ok else 'NOT held'}"
            )
        if not ok:
            break
        best = rate
    return best


def main() -> None:
    argv = sys.argv[1:]
    loop = "auto"
    if "--loop" in argv:
        i = argv.index("--loop")
        loop = argv[i + 1]
        del argv[i : i + 2]
    only_ir = "--instructions" in argv
    if only_ir:
        argv.remove("--instructions")
        os.environ["BENCH_INSTRUCTIONS"] = "1"
    seconds = float(argv[0]) if argv else 5.0
    bare_on = use_loop(loop)
    port = free_port()
    proc = subprocess.Popen([sys.executable, HERE, "--serve", str(port)])
    try:
        print(pin(proc.pid), flush=True)
        wait_port(port)
        base, rpc = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port}/rpc"
        if only_ir:
            print_instructions(base, rpc)
            return
        bare1 = asyncio.run(bare_loop(rpc, seconds))
        print(f"bare aiohttp loop (64 in flight, {bare_on}): {bare1:,.0f} req/s", flush=True)
        gc1 = asyncio.run(bare_loop(rpc, seconds, quiet_gc=True))
        print(f"bare aiohttp loop under load run's GC regime: {gc1:,.0f} req/s", flush=True)
        closed1 = a2actl_closed(base, seconds, loop=loop)
        print(f"a2actl load run -c 64 (closed, saturation): {closed1:,.0f} req/s", flush=True)
        # the ladder goes past the bare loop's closed throughput (a faster machine held every rate
        # of a ladder that stopped at 8,000: 0.74x of a bare loop at 10.8k was the ladder's top)
        top = max(8000, int(max(bare1, gc1) * 1.2) // 500 * 500)
        first = int(os.environ.get("BENCH_FROM", "250"))  # skip the low rates (a quick re-check)
        best = sweep("a2actl", lambda rate: a2actl_at(base, rate, seconds, loop), first, top)
        if best >= top:
            print(
                f"a2actl held every rate of the ladder, up to {top:,} req/s (its top, not a2actl's)",
                flush=True,
            )
        # the same sweep of a bare aiohttp open model with a2actl's scheduler (the open model's own cost)
        best_open = sweep("bare open", lambda rate: asyncio.run(bare_open(rpc, rate, seconds)), 2000, top)
        bare2 = asyncio.run(bare_loop(rpc, seconds))
        print(f"bare aiohttp loop again: {bare2:,.0f} req/s", flush=True)
        gc2 = asyncio.run(bare_loop(rpc, seconds, quiet_gc=True))
        print(f"bare aiohttp loop under load run's GC regime again: {gc2:,.0f} req/s", flush=True)
        closed2 = a2actl_closed(base, seconds, loop=loop)
        print(f"a2actl load run -c 64 again: {closed2:,.0f} req/s", flush=True)
        ext = external(rpc, seconds)
        for name, value in ext.items():
            print(f"{name} (64 connections): {value:,.0f} req/s", flush=True)
        plain, tuned = (bare1 + bare2) / 2, (gc1 + gc2) / 2
        # the reference is the faster of the two: a GC setting is no a2actl code, so a bare loop
        # may have it too (the stricter reading of the target)
        bare = max(plain, tuned)
        which = "under load run's GC regime" if tuned > plain else "on the interpreter's GC defaults"
        closed = (closed1 + closed2) / 2
        print(
            f"\nhighest rate held (lag p99 < 5 ms): {best:,.0f} req/s = {best / bare:.2f}x the bare aiohttp loop "
            f"({bare:,.0f} req/s, {which}; plain {plain:,.0f}, GC regime {tuned:,.0f}; target >= 0.8x)\n"
            f"saturation, closed model at 64 in flight: a2actl {closed:,.0f} req/s = {closed / bare:.2f}x the bare loop\n"
            f"the bare aiohttp loop as an open model (a2actl's scheduler, nothing else) held {best_open:,.0f} req/s "
            f"= {best_open / bare:.2f}x its closed throughput; a2actl held {best / max(best_open, 1):.2f}x of that\n"
            f"event loops: bare {bare_on}, a2actl {', '.join(sorted(LOOPS))} (as its report says)"
        )
        if os.environ.get("BENCH_INSTRUCTIONS") == "1":
            print_instructions(base, rpc)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--serve":
        sink(int(sys.argv[2]))
    elif len(sys.argv) > 3 and sys.argv[1] == "--bare-closed":
        use_loop("auto")
        asyncio.run(bare_closed_n(sys.argv[2], int(sys.argv[3])))
    elif len(sys.argv) > 4 and sys.argv[1] == "--bare-open":
        use_loop("auto")
        asyncio.run(bare_open(sys.argv[2], float(sys.argv[3]), float(sys.argv[4])))
    else:
        main()
