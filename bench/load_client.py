"""Which HTTP client the throughput paths (``load run``, ``dlq replay``) use: issue #15's client table,
reproduced in one run against one small raw-ASGI sink.

    python bench/load_client.py [--rounds 3] [--duration 2] [--in-flight 1,8,64]

Every cell is its own client process, POSTing one JSON-RPC ``SendMessage`` for ``--duration`` seconds
with N requests in flight (after a warm-up that opens the connections), against one sink process
(uvicorn, raw ASGI, answering each POST at once with a completed Task that echoes the request id).
Rounds are interleaved (every client at every concurrency in each round, in turn), so a busy machine
slows every column alike; the table gives each cell's median and range over the rounds.

Columns: ``httpx`` (``AsyncClient``, ``json=``), ``httpx on httpx-aiohttp`` (httpx's client on the
``httpx_aiohttp.AiohttpTransport``; only when that package is installed, it is no dependency),
``aiohttp`` (one ``ClientSession``, orjson bodies), ``aiohttp + uvloop``, ``a2actl FastTransport``
(the transport alone: ``request()`` with a2actl's headers, traceparent and checks; the answer decoded
with orjson), ``a2actl`` (``FastTransport`` + ``A2AClient.call("SendMessage")``: a fresh request id,
the envelope checked and the result decoded per request, on the asyncio loop), ``a2actl + uvloop`` (``load run``'s default loop when uvloop is installed), and ``hey``
and ``wrk`` when on PATH (Go and C: the machine's ceiling; the sink shares the cores).

Figures: requests per second, and in brackets the client's CPU per request in ms (``time.process_time``
of the client process over the timed part; for hey and wrk the whole process's CPU from
``getrusage(RUSAGE_CHILDREN)``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from typing import Any

from loopback import free_port, sink, wait_port

HERE = os.path.abspath(__file__)
BODY: dict[str, Any] = {
    "jsonrpc": "2.0",
    "id": "bench-1",
    "method": "SendMessage",
    "params": {"message": {"messageId": "m-1", "role": "ROLE_USER", "parts": [{"text": "hello"}]}},
}
PYTHON_CLIENTS = [
    "httpx",
    "httpx-aiohttp",
    "aiohttp",
    "aiohttp+uvloop",
    "fast",
    "a2actl",
    "a2actl+uvloop",
]
TITLES = {
    "httpx": "httpx",
    "httpx-aiohttp": "httpx on httpx-aiohttp",
    "aiohttp": "aiohttp",
    "aiohttp+uvloop": "aiohttp + uvloop",
    "fast": "a2actl FastTransport",
    "a2actl": "a2actl FastTransport+A2AClient",
    "a2actl+uvloop": "a2actl + uvloop",
    "hey": "hey",
    "wrk": "wrk",
}


# --- the sink -----------------------------------------------------------------------------------


# --- one cell: a client process ---------------------------------------------------------------------


async def _drive(one: Callable[[], Awaitable[None]], conc: int, duration: float) -> dict[str, float]:
    """Warm up (each of ``conc`` workers sends one request), then ``conc`` workers send back to back
    for ``duration`` seconds: ``{"rate": req/s, "cpu_ms": client CPU ms per request, "n": requests}``."""
    await asyncio.gather(*[one() for _ in range(conc)])
    count = 0
    deadline = 0.0

    async def worker() -> None:
        nonlocal count
        while time.perf_counter() < deadline:
            await one()
            count += 1

    cpu, t0 = time.process_time(), time.perf_counter()
    deadline = t0 + duration
    await asyncio.gather(*[worker() for _ in range(conc)])
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu
    return {"rate": count / wall, "cpu_ms": 1000 * cpu / max(1, count), "n": count}


async def _httpx(url: str, conc: int, duration: float, aiohttp_transport: bool) -> dict[str, float]:
    import httpx

    transport: Any = None
    if aiohttp_transport:
        import aiohttp
        from httpx_aiohttp import AiohttpTransport

        transport = AiohttpTransport(
            client=lambda: aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=conc))
        )
    limits = httpx.Limits(max_connections=conc, max_keepalive_connections=conc)
    async with httpx.AsyncClient(limits=limits, transport=transport) as client:

        async def one() -> None:
            r = await client.post(url, json=BODY)
            r.json()

        return await _drive(one, conc, duration)


async def _aiohttp(url: str, conc: int, duration: float) -> dict[str, float]:
    import aiohttp
    import orjson

    data = orjson.dumps(BODY)
    headers = {"Content-Type": "application/json"}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=conc)) as session:

        async def one() -> None:
            async with session.post(url, data=data, headers=headers) as r:
                orjson.loads(await r.read())

        return await _drive(one, conc, duration)


async def _fast(url: str, conc: int, duration: float) -> dict[str, float]:
    import orjson

    from a2actl.core.config import Settings
    from a2actl.transport.fast import FastTransport

    async with FastTransport(Settings(), None, max_connections=conc) as transport:

        async def one() -> None:
            res = await transport.request("POST", url, json_body=BODY, headers={"A2A-Version": "1.0"})
            orjson.loads(res.body)

        return await _drive(one, conc, duration)


async def _a2actl(url: str, conc: int, duration: float) -> dict[str, float]:
    from a2actl.core.config import Settings
    from a2actl.protocol.card import Interface
    from a2actl.protocol.negotiation import Selection
    from a2actl.protocol.versions import Family
    from a2actl.transport.a2a import A2AClient
    from a2actl.transport.fast import FastTransport

    iface = Interface(
        url=url, protocol_binding="JSONRPC", protocol_version="1.0", family=Family.V1_0, source="bench"
    )
    async with FastTransport(Settings(), None, max_connections=conc) as transport:
        client = A2AClient(transport, Selection(iface, Family.V1_0, "bench"))
        params = BODY["params"]

        async def one() -> None:
            out = await client.call("SendMessage", params)
            if out.error is not None:
                raise SystemExit(f"the sink answered an error: {out.error}")

        return await _drive(one, conc, duration)


def run_client(name: str, url: str, conc: int, duration: float) -> dict[str, float]:
    """One cell, in this process: ``name`` is one of ``PYTHON_CLIENTS``."""
    if name.endswith("+uvloop"):
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    base = name.removesuffix("+uvloop")
    if base in ("httpx", "httpx-aiohttp"):
        return asyncio.run(_httpx(url, conc, duration, base == "httpx-aiohttp"))
    if base == "aiohttp":
        return asyncio.run(_aiohttp(url, conc, duration))
    if base == "a2actl":
        return asyncio.run(_a2actl(url, conc, duration))
    if base == "fast":
        return asyncio.run(_fast(url, conc, duration))
    raise SystemExit(f"unknown client {name!r}")


# --- the driver --------------------------------------------------------------------------------------


def _child_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def python_cell(name: str, url: str, conc: int, duration: float) -> dict[str, float]:
    out = subprocess.run(
        [
            sys.executable,
            HERE,
            "--client",
            name,
            "--url",
            url,
            "--conc",
            str(conc),
            "--duration",
            str(duration),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"{name} at {conc} in flight failed: {out.stderr[-800:]}")
    doc: dict[str, float] = json.loads(out.stdout)
    return doc


def tool_cell(name: str, url: str, conc: int, duration: float, tmp: str) -> dict[str, float]:
    """hey or wrk: the same POST for ``duration`` seconds at ``conc`` connections."""
    body = json.dumps(BODY)
    if name == "hey":
        path = os.path.join(tmp, "body.json")
        with open(path, "w") as f:
            f.write(body)
        cmd = [
            "hey",
            "-z",
            f"{duration}s",
            "-c",
            str(conc),
            "-m",
            "POST",
            "-T",
            "application/json",
            "-D",
            path,
            url,
        ]
    else:
        script = os.path.join(tmp, "post.lua")
        with open(script, "w") as f:
            f.write(
                'wrk.method = "POST"\n'
                f"wrk.body = {json.dumps(body)}\n"
                'wrk.headers["Content-Type"] = "application/json"\n'
            )
        cmd = ["wrk", "-t", "1", "-c", str(conc), "-d", f"{duration:g}s", "-s", script, url]
    cpu = _child_cpu()
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    cpu = _child_cpu() - cpu
    rate = None
    for line in out.stdout.splitlines():
        if line.strip().startswith("Requests/sec:"):
            rate = float(line.split()[1])
    if rate is None or out.returncode != 0:
        raise SystemExit(f"{name} failed: {out.stdout[-400:]} {out.stderr[-400:]}")
    n = rate * duration
    return {"rate": rate, "cpu_ms": 1000 * cpu / max(1.0, n), "n": n}


def _cell(values: list[dict[str, float]]) -> str:
    rates = [v["rate"] for v in values]
    cpus = [v["cpu_ms"] for v in values]
    lo, mid, hi = min(rates), statistics.median(rates), max(rates)
    spread = f"{lo:,.0f}-{hi:,.0f}" if len(rates) > 1 else f"{mid:,.0f}"
    return f"{mid:,.0f} [{spread}] ({statistics.median(cpus):.2f} ms)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=2, help="whole seconds per cell (wrk's unit)")
    ap.add_argument("--in-flight", default="1,8,64")
    args = ap.parse_args()
    levels = [int(x) for x in args.in_flight.split(",")]
    clients = list(PYTHON_CLIENTS)
    try:
        import httpx_aiohttp  # noqa: F401
    except ImportError:
        clients.remove("httpx-aiohttp")
        print("httpx-aiohttp is not installed: that column is left out (pip install httpx-aiohttp)")
    try:
        import uvloop  # noqa: F401
    except ImportError:
        clients = [c for c in clients if not c.endswith("+uvloop")]
        print("uvloop is not installed: the + uvloop columns are left out (pip install 'a2actl[fast]')")
    tools = [t for t in ("hey", "wrk") if shutil.which(t)]
    for t in ("hey", "wrk"):
        if t not in tools:
            print(f"{t} is not on PATH: its column is left out (apt-get install {t})")
    tmp = tempfile.mkdtemp(prefix="a2actl-bench-")
    port = free_port()
    server = subprocess.Popen([sys.executable, HERE, "--sink", str(port)])
    url = f"http://127.0.0.1:{port}/rpc"
    results: dict[tuple[str, int], list[dict[str, float]]] = {}
    try:
        wait_port(port)
        load = os.getloadavg()
        print(
            f"client table: POST SendMessage to one raw-ASGI sink (uvicorn, its own process), {args.rounds} "
            f"interleaved rounds of {args.duration:g} s per cell; {os.cpu_count()} CPUs, load average "
            f"{load[0]:.1f} at start"
        )
        for r in range(1, args.rounds + 1):
            t0 = time.perf_counter()
            for conc in levels:
                for name in clients + tools:
                    if name in tools:
                        cell = tool_cell(name, url, conc, args.duration, tmp)
                    else:
                        cell = python_cell(name, url, conc, args.duration)
                    results.setdefault((name, conc), []).append(cell)
            print(f"  round {r} done in {time.perf_counter() - t0:.0f} s", flush=True)
        cols = clients + tools
        print()
        print("req/s: median [range over rounds] (client CPU ms per request, median)")
        print()
        print("| in flight | " + " | ".join(TITLES[c] for c in cols) + " |")
        print("|---|" + "---|" * len(cols))
        for conc in levels:
            print(f"| {conc} | " + " | ".join(_cell(results[(c, conc)]) for c in cols) + " |")
        print()
        for conc in levels:
            base = statistics.median(v["rate"] for v in results[("aiohttp", conc)])
            ratios = ", ".join(
                f"{TITLES[c]} {statistics.median(v['rate'] for v in results[(c, conc)]) / base:.2f}x"
                for c in cols
                if c != "aiohttp"
            )
            print(f"  {conc:>3} in flight, vs aiohttp: {ratios}")
        print(f"  load average at the end: {os.getloadavg()[0]:.1f}")
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--sink":
        sink(int(sys.argv[2]))
    elif len(sys.argv) > 1 and sys.argv[1] == "--client":
        ap = argparse.ArgumentParser()
        ap.add_argument("--client")
        ap.add_argument("--url")
        ap.add_argument("--conc", type=int)
        ap.add_argument("--duration", type=float)
        a = ap.parse_args()
        print(json.dumps(run_client(a.client, a.url, a.conc, a.duration)))
    else:
        main()
