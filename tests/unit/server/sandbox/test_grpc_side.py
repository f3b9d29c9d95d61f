"""``a2actl.server.sandbox.grpc`` without serving: the card's gRPC target, the port reservation and
the services per served version."""

from __future__ import annotations

import socket

import pytest

from a2actl.server.sandbox.grpc import SERVICE_V03, SERVICE_V1, GrpcSide, grpc_target, reserve_port
from a2actl.server.sandbox.options import SandboxOptions


def test_the_target_is_host_port_with_ipv6_in_brackets() -> None:
    assert grpc_target("127.0.0.1", 50051) == "127.0.0.1:50051"
    assert grpc_target("::1", 50051) == "[::1]:50051"


def test_reserve_port_picks_a_free_port_and_refuses_a_taken_one() -> None:
    port = reserve_port("127.0.0.1", 0)
    assert port > 0
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(OSError):
            reserve_port("127.0.0.1", taken.getsockname()[1])


@pytest.mark.parametrize(
    ("versions", "services"),
    [
        (("1.0", "0.3"), [SERVICE_V1, SERVICE_V03]),
        (("1.0",), [SERVICE_V1]),
        (("0.3",), [SERVICE_V1, SERVICE_V03]),
    ],
)
def test_services_per_version(versions: tuple[str, ...], services: list[str]) -> None:
    side = GrpcSide(SandboxOptions(versions=versions), "127.0.0.1", 1)
    assert side.services() == services
    assert side.url == "127.0.0.1:1"
