"""``a2actl sandbox serve`` start-up failures, through the real CLI: a port that is taken (the
message names which one, HTTP ``--port`` or ``--grpc-port``), a host that is not this machine's,
and a bad duration (the message names the flag). Every case fails before anything serves."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A loopback port another socket listens on for the test."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        yield sock.getsockname()[1]


def test_http_port_in_use_names_the_http_port(cli: Any, taken_port: int) -> None:
    r = cli("-o", "json", "sandbox", "serve", "--port", str(taken_port), "--no-grpc")
    assert r.exit_code == 2
    err = r.json["error"]
    assert err["message"] == f"cannot listen on 127.0.0.1:{taken_port} (HTTP, --port): Address already in use"
    assert err["hint"] == "pick other ports, or 0 for free ones (--port 0, --grpc-port 0)"


def test_grpc_port_in_use_names_the_grpc_port(cli: Any, taken_port: int) -> None:
    """It said ``cannot listen on 127.0.0.1:0 or gRPC port N``: the HTTP side was fine."""
    pytest.importorskip("grpc")
    r = cli("-o", "json", "sandbox", "serve", "--port", "0", "--grpc-port", str(taken_port))
    assert r.exit_code == 2
    assert r.json["error"]["message"] == (
        f"cannot listen on 127.0.0.1:{taken_port} (gRPC, --grpc-port): Address already in use"
    )


def test_a_host_not_of_this_machine_hints_at_host_not_ports(cli: Any) -> None:
    r = cli("-o", "json", "sandbox", "serve", "--host", "192.0.2.1", "--port", "0", "--no-grpc")
    assert r.exit_code == 2
    err = r.json["error"]
    assert err["message"].startswith("cannot listen on 192.0.2.1:0 (HTTP, --port): ")
    assert err["hint"] == "--host must be an address of this machine, e.g. 127.0.0.1, ::1 or 0.0.0.0"


@pytest.mark.parametrize(
    "flag",
    [
        "--handshake-delay",
        "--rpc-delay",
        "--stream-interval",
        "--stall",
        "--ws-ping-interval",
        "--max-session-age",
        "--blocking-handshake",
        "--sse-heartbeat",
    ],
)
def test_a_bad_duration_names_its_flag(cli: Any, flag: str) -> None:
    r = cli("-o", "json", "sandbox", "serve", "--port", "0", "--no-grpc", flag, "soon")
    assert r.exit_code == 2
    assert r.json["error"]["message"] == f"{flag}: not a duration: 'soon' (examples: 5s, 250ms, 1.5, 2m)"
