"""``options.block_loop``: the ``--blocking-handshake`` sleep the HTTP and gRPC sides share."""

from __future__ import annotations

import time

from a2actl.server.sandbox.options import block_loop


def test_it_ends_when_the_server_stops_whatever_its_length() -> None:
    """Past what ``time.sleep`` takes (about 9.2e9 s: OverflowError), and an hour alike: it ends
    within a slice once ``stopping()`` says so."""
    calls = 0

    def stopping() -> bool:
        nonlocal calls
        calls += 1
        return calls > 2

    t0 = time.monotonic()
    block_loop(1e20, stopping)
    assert time.monotonic() - t0 < 1
    assert calls == 3


def test_it_sleeps_its_length_when_nothing_stops_it() -> None:
    t0 = time.monotonic()
    block_loop(0.25, lambda: False)
    assert 0.25 <= time.monotonic() - t0 < 0.6
