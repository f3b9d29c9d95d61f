"""``sandbox serve --host``: the forms an operator types, as the socket binds them and the card and
stdout name them (``a2actl.cli.sandbox._listen_host``)."""

from __future__ import annotations

import pytest

from a2actl.cli.sandbox import _listen_host
from a2actl.core.errors import UsageError


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("localhost", "localhost"),
        ("cafe", "cafe"),  # a name of hex digits: no address
        ("agent.internal", "agent.internal"),
        ("::1", "::1"),
        ("[::1]", "::1"),  # as URLs write it: it was taken for a host name
        ("0.0.0.0", "0.0.0.0"),
        ("::", "::"),
        # forms the OS reads as addresses: they listened there (0: every interface) while stdout
        # and the card said http://0:PORT, a URL a2actl refuses, and no wildcard was seen
        ("0", "0.0.0.0"),
        ("127.1", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("0:0:0:0:0:0:0:0", "::"),
        ("[0::0]", "::"),
    ],
)
def test_a_host_is_the_address_the_os_reads(given: str, used: str) -> None:
    assert _listen_host(given) == used


def test_a_host_with_a_port_is_refused() -> None:
    with pytest.raises(UsageError, match="not an address"):
        _listen_host("127.0.0.1:8080")


@pytest.mark.parametrize("blank", ["", " ", "\t"])
def test_a_blank_host_is_refused(blank: str) -> None:
    """``--host "$HOST"`` with ``HOST`` unset: the OS reads ``""`` as every interface; it listened on
    0.0.0.0 (an open debug API on the network) while stdout said ``http://127.0.0.1:PORT``."""
    with pytest.raises(UsageError, match="an empty address") as caught:
        _listen_host(blank)
    assert (
        caught.value.hint == "leave --host out for 127.0.0.1; --host 0.0.0.0 or :: listens on every interface"
    )
