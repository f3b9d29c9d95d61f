"""The sandbox's load knobs (``sandbox serve --service-time/--max-concurrency/--blocking-handshake``),
measured from outside with plain httpx calls against a real sandbox on 127.0.0.1:0.

The timings asserted are lower bounds the knobs impose (sleeps, a queue, a blocked loop), so a
sandbox that ignored a knob fails them; nothing here asserts how fast anything is."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from a2actl.server.sandbox.options import SandboxOptions, ServiceTime
from a2actl.server.sandbox.server import RunningSandbox

CARD = "/.well-known/agent-card.json"
JSONRPC = "/a2a/jsonrpc"


def _sandbox(**kw: Any) -> Iterator[RunningSandbox]:
    sb = RunningSandbox(SandboxOptions(stream_interval=0.005, **kw)).start()
    try:
        yield sb
    finally:
        sb.stop()


def _send_body(method: str = "SendMessage", text: str = "hi") -> dict[str, Any]:
    message = {"messageId": uuid.uuid4().hex, "role": "ROLE_USER", "parts": [{"text": text}]}
    return {"jsonrpc": "2.0", "id": uuid.uuid4().hex, "method": method, "params": {"message": message}}


async def _timed_send(client: httpx.AsyncClient, url: str, delay: float = 0.0) -> tuple[float, float, Any]:
    """(start, end) monotonic times and the response of one SendMessage sent after ``delay`` s."""
    await asyncio.sleep(delay)
    start = time.monotonic()
    r = await client.post(url + JSONRPC, json=_send_body(), headers={"A2A-Version": "1.0"})
    return start, time.monotonic(), r


def _completed(r: httpx.Response) -> bool:
    assert r.status_code == 200, r.text
    return bool(r.json()["result"]["task"]["status"]["state"] == "TASK_STATE_COMPLETED")


@pytest.fixture(scope="module")
def slow_service() -> Iterator[RunningSandbox]:
    yield from _sandbox(service_time=ServiceTime.parse("100ms"))


def test_service_time_delays_every_rpc(slow_service: RunningSandbox) -> None:
    async def go() -> tuple[float, float, Any]:
        async with httpx.AsyncClient(timeout=10) as client:
            start, end, r = await _timed_send(client, slow_service.url)
            return start, end, r

    start, end, r = asyncio.run(go())
    assert _completed(r)
    assert end - start >= 0.1


def test_service_time_comes_before_the_first_stream_event(slow_service: RunningSandbox) -> None:
    with httpx.Client(timeout=10) as client:
        start = time.monotonic()
        first_event = None
        body = _send_body("SendStreamingMessage")
        with client.stream(
            "POST", slow_service.url + JSONRPC, json=body, headers={"A2A-Version": "1.0"}
        ) as r:
            assert r.status_code == 200
            for line in r.iter_lines():
                if line.startswith("data:") and first_event is None:
                    first_event = time.monotonic() - start
    assert first_event is not None and first_event >= 0.1


def test_max_concurrency_queues_in_order_and_rejects_none() -> None:
    async def go(url: str) -> list[tuple[float, float, Any]]:
        async with httpx.AsyncClient(timeout=10) as client:
            # Staggered by 30 ms so the arrival order is known; all three are in flight together.
            return list(await asyncio.gather(*(_timed_send(client, url, 0.03 * i) for i in range(3))))

    for sb in _sandbox(service_time=ServiceTime.parse("200ms"), max_concurrency=1):
        t0 = time.monotonic()
        results = asyncio.run(go(sb.url))
        total = time.monotonic() - t0
    assert all(_completed(r) for _, _, r in results)
    assert total >= 0.6  # served one at a time: 3 x 200 ms
    ends = [end for _, end, _ in results]
    assert ends == sorted(ends)  # FIFO: finished in the order they arrived
    assert ends[2] - results[0][0] >= 0.6


def test_blocking_handshake_stalls_every_request() -> None:
    async def go(url: str) -> tuple[list[int], float, tuple[float, float, Any]]:
        async with httpx.AsyncClient(timeout=10) as client:
            t0 = time.monotonic()
            cards = asyncio.gather(*(client.get(url + CARD) for _ in range(5)))
            rpc = asyncio.ensure_future(_timed_send(client, url, delay=0.02))
            answers = await cards
            total = time.monotonic() - t0
            return [a.status_code for a in answers], total, await rpc

    for sb in _sandbox(blocking_handshake=0.1):
        statuses, total, (start, end, r) = asyncio.run(go(sb.url))
    assert statuses == [200] * 5
    assert total >= 0.5  # the loop is blocked 100 ms per card: the five run one after another
    assert _completed(r)
    assert end - start >= 0.05  # the RPC (no delay of its own) waited behind a blocked card


def test_cli_passes_the_load_knobs(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[SandboxOptions] = []
    monkeypatch.setattr(
        "a2actl.server.sandbox.server.serve", lambda opts, on_ready=None, **kw: seen.append(opts)
    )
    r = cli(
        "sandbox", "serve", "--port", "0", "--service-time", "normal:50ms,10ms",
        "--max-concurrency", "4", "--blocking-handshake", "50ms",
    )  # fmt: skip
    assert r.exit_code == 0, r.stderr
    (opts,) = seen
    assert opts.service_time == ServiceTime("normal", 0.05, 0.01, "normal:50ms,10ms")
    assert (opts.max_concurrency, opts.blocking_handshake) == (4, 0.05)
    r = cli("sandbox", "serve", "--port", "0")
    assert r.exit_code == 0
    assert (seen[1].service_time, seen[1].max_concurrency, seen[1].blocking_handshake) == (None, 0, 0.0)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--service-time", "exp:soon"], "'exp:soon'"),
        (["--service-time", "uniform:90ms-10ms"], "'uniform:90ms-10ms'"),
        (["--blocking-handshake", "a while"], "'a while'"),
        (["--max-concurrency", "-1"], "--max-concurrency"),
    ],
)
def test_bad_load_knob_is_usage_error(cli: Any, args: list[str], needle: str) -> None:
    r = cli("sandbox", "serve", "--port", "0", *args, "-o", "json")
    assert r.exit_code == 2
    assert "Traceback" not in r.stderr
    if args[0] != "--max-concurrency":  # click's own range check prints its usage text
        assert r.json["error"]["code"] == "usage"
        assert needle in r.json["error"]["message"]
    else:
        assert needle in r.stderr
