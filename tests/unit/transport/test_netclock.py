"""``a2actl.transport.netclock``: network-side times for plain-HTTP connections (issue #12 item 7).

The seams: ``handshake_end`` and ``rx_timestamp``/``real_to_perf`` are pure; the stream is exercised
over a real loopback connection, where a blocked event loop (what ``-c N`` samples do to each other)
must not show up in the recorded times, as it does in resume-time marks."""

from __future__ import annotations

import asyncio
import socket
import struct
import sys
import threading
import time

import httpcore
import httpx
import pytest

from a2actl.core.config import Settings
from a2actl.transport import netclock
from a2actl.transport.http import HttpTransport
from a2actl.transport.netclock import TimedBackend, TimedStream, handshake_end, real_to_perf, rx_timestamp
from a2actl.transport.timing import Clock

linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SO_TIMESTAMPNS/TCP_INFO are Linux's")


def test_handshake_end_takes_the_kernel_round_trip() -> None:
    assert handshake_end(10.0, 10.5, (1, 250, 0)) == pytest.approx(10.000250)


def test_handshake_end_never_later_than_seen() -> None:
    assert handshake_end(10.0, 10.0001, (1, 5000, 0)) == 10.0001


@pytest.mark.parametrize("info", [None, (1, 0, 0), (1, 250, 1)])
def test_handshake_end_without_a_clean_sample_is_when_seen(info: tuple[int, int, int] | None) -> None:
    # no TCP_INFO, no RTT sample, or a retransmitted SYN (Karn: the kernel takes no sample)
    assert handshake_end(10.0, 10.5, info) == 10.5


def test_rx_timestamp_reads_scm_timestampns() -> None:
    data = struct.pack("@qq", 1_700_000_000, 123_456_789)
    assert rx_timestamp([(socket.SOL_SOCKET, 35, data)]) == 1_700_000_000_123_456_789
    assert rx_timestamp([(socket.SOL_SOCKET, 29, data)]) is None  # another cmsg type
    assert rx_timestamp([]) is None


def test_real_to_perf_maps_now_to_now() -> None:
    assert real_to_perf(time.time_ns()) == pytest.approx(time.perf_counter(), abs=0.001)


class _Server:
    """A loopback HTTP server in a thread that answers each request after ``delay`` seconds."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.sent_at: list[float] = []
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            buf = b""
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                buf += chunk
                while b"\r\n\r\n" in buf:
                    head, _, buf = buf.partition(b"\r\n\r\n")
                    length = next(
                        (
                            int(line.split(b":")[1])
                            for line in head.split(b"\r\n")
                            if line.lower().startswith(b"content-length:")
                        ),
                        0,
                    )
                    while len(buf) < length:
                        buf += conn.recv(65536)
                    buf = buf[length:]
                    time.sleep(self.delay)
                    self.sent_at.append(time.perf_counter())
                    conn.sendall(
                        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
                    )

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def server() -> _Server:
    s = _Server(delay=0.02)
    yield s
    s.close()


@linux
def test_the_http_pool_records_network_times(server: _Server) -> None:
    async def go() -> tuple[httpx.Response, object, object]:
        async with HttpTransport(Settings()) as tr:
            first = await tr.request("GET", f"http://127.0.0.1:{server.port}/card")
            second = await tr.request("POST", f"http://127.0.0.1:{server.port}/rpc", json_body={"x": 1})
            return first, first.timing, second.timing

    _, t1, t2 = asyncio.run(go())
    assert t1.new_connection and not t2.new_connection
    assert 0 < t1.time_connect < 0.005  # the kernel's loopback handshake, not an event-loop turn
    assert t1.time_connect <= t1.time_pretransfer < t1.time_starttransfer <= t1.time_total
    # the server's 20 ms; the upper bound leaves room for a busy CI machine's scheduling
    assert 0.02 <= t1.time_starttransfer - t1.time_pretransfer < 0.08
    assert 0.02 <= t2.time_total < 0.08 and t2.time_connect == 0.0


@linux
def test_a_busy_event_loop_is_not_charged_to_the_network(server: _Server) -> None:
    """A sample whose answer arrived while another coroutine held the loop for 150 ms: the resume-time
    mark says ~155 ms (5 ms + 150 ms), the kernel's receive timestamp the server's 20 ms (under 80 ms
    even on a busy machine, so the two cannot be confused)."""

    async def hog() -> None:
        await asyncio.sleep(0.005)  # the request is out; hold the loop past the answer's arrival
        time.sleep(0.15)

    async def go() -> tuple[object, Clock]:
        async with HttpTransport(Settings()) as tr:
            seen: list[Clock] = []
            real = tr._prepare

            async def spy(*a: object, **k: object) -> object:
                request, clock = await real(*a, **k)  # type: ignore[arg-type]  # a pass-through spy
                seen.append(clock)
                return request, clock

            tr._prepare = spy  # type: ignore[method-assign]  # spy on the clock it builds
            res, _ = await asyncio.gather(tr.request("GET", f"http://127.0.0.1:{server.port}/card"), hog())
            return res.timing, seen[0]

    timing, clock = asyncio.run(go())
    marked = (
        clock.marks["http11.receive_response_headers.complete"]
        - clock.marks["http11.send_request_headers.started"]
    )
    assert marked > 0.145
    assert 0.02 <= timing.time_starttransfer - timing.time_pretransfer < 0.08
    assert timing.time_connect < 0.005


def test_a_clock_without_a_timed_stream_uses_the_marks() -> None:
    c = Clock()
    c.marks = {
        "connection.connect_tcp.started": 1.0,
        "connection.connect_tcp.complete": 1.002,
        "http11.send_request_headers.started": 1.003,
        "http11.receive_response_headers.complete": 1.010,
    }
    c.attach(object())  # not a TimedStream: ignored
    c.headers_received()
    t = c.timing
    assert (t.time_connect, t.time_pretransfer, t.time_starttransfer) == pytest.approx((0.002, 0.003, 0.010))


def test_a_clock_on_a_timed_stream_uses_its_times() -> None:
    st = TimedStream(socket.socket(), connect_started=1.0, connected_at=1.0001)
    st.sock.close()
    st.tx, st.rx_first, st.rx_last = 1.001, 1.004, 1.005
    c = Clock()
    c.timing.time_namelookup = 0.0005
    c.marks = {
        "connection.connect_tcp.started": 0.9,
        "connection.connect_tcp.complete": 1.5,
        "http11.send_request_headers.started": 1.6,
        "http11.receive_response_headers.complete": 1.9,
    }
    c.attach(st)
    c.finish()
    t = c.timing
    assert t.new_connection
    assert (t.time_connect, t.time_pretransfer, t.time_starttransfer, t.time_total) == pytest.approx(
        (0.0006, 0.0015, 0.0045, 0.0055)
    )
    reused = Clock()
    reused.marks = {"http11.send_request_headers.started": 1.6}
    reused.attach(st)
    reused.finish()
    r = reused.timing
    assert not r.new_connection
    assert (r.time_connect, r.time_pretransfer, r.time_starttransfer, r.time_total) == pytest.approx(
        (0.0, 0.0, 0.003, 0.004)
    )


def test_a_refused_connect_is_connection_refused() -> None:
    async def go() -> None:
        await TimedBackend().connect_tcp("127.0.0.1", 1, timeout=1.0)

    with pytest.raises(httpcore.ConnectError) as info:
        asyncio.run(go())
    assert isinstance(info.value.__cause__, ConnectionRefusedError)


def test_a_read_timeout_is_httpcore_read_timeout() -> None:
    srv = socket.create_server(("127.0.0.1", 0))

    async def go() -> None:
        stream = await TimedBackend().connect_tcp("127.0.0.1", srv.getsockname()[1], timeout=1.0)
        try:
            await stream.read(10, timeout=0.05)
        finally:
            await stream.aclose()

    try:
        with pytest.raises(httpcore.ReadTimeout):
            asyncio.run(go())
    finally:
        srv.close()


def test_without_kernel_timestamps_the_read_instant_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    st = TimedStream(socket.socket(), 0.0, 0.0)
    st.sock.close()
    before = time.perf_counter()
    st._received(None)
    assert st.rx_first is not None and before <= st.rx_first <= time.perf_counter()
    assert netclock.handshake_end(1.0, 2.0, None) == 2.0


def test_a_peer_that_always_has_data_cannot_starve_cancellation() -> None:
    """Reads that never block still yield (after taking their time): --max-time must be able to end
    an endless stream."""
    srv = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def flood() -> None:
        conn, _ = srv.accept()
        with conn:
            while not stop.is_set():
                try:
                    conn.sendall(b"x" * 65536)
                except OSError:
                    return

    threading.Thread(target=flood, daemon=True).start()

    async def go() -> int:
        stream = await TimedBackend().connect_tcp("127.0.0.1", srv.getsockname()[1], timeout=1.0)
        # the flood has started (on a loaded machine the server thread may take longer than the
        # 0.2 s below to send its first bytes, and then nothing was read at all)
        n = len(await stream.read(65536))
        try:

            async def drain() -> None:
                nonlocal n
                while True:
                    n += len(await stream.read(65536))

            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(drain(), 0.2)
        finally:
            await stream.aclose()
        return n

    try:
        assert asyncio.run(asyncio.wait_for(go(), 5)) > 0
    finally:
        stop.set()
        srv.close()


def test_is_readable_takes_a_descriptor_past_fd_setsize() -> None:
    """httpcore asks a pooled connection ``is_readable`` before reusing it. With the open-file limit
    raised (fleet probe, the exporter: core.fdlimit) descriptors pass 1024, which select() refuses:
    every such request failed 'filedescriptor out of range in select()'."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1100:
        pytest.skip(f"the open-file limit ({hard}) is too low to reach descriptor 1024")
    if soft < 1100:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(4096, hard) if hard > 0 else 4096, hard))
    a, b = socket.socketpair()
    try:
        import os

        high = os.dup2(a.fileno(), 1500)  # a descriptor past FD_SETSIZE, as a busy sweep gets
        sock = socket.socket(fileno=high)
        try:
            stream = TimedStream(sock, 0.0, 0.0)
            assert stream.get_extra_info("is_readable") is False  # idle: reusable
            b.sendall(b"x")
            assert stream.get_extra_info("is_readable") is True  # data or EOF: not reusable
        finally:
            sock.close()
    finally:
        a.close()
        b.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
