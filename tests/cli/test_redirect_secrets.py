"""-L and secrets: a redirect to another origin gets neither the bearer token nor any -H header the
redactor treats as a secret (X-API-Key, *-Token, *-Secret, ...), on the httpx path (card get,
handshake probe) and the aiohttp path (load run); the same origin still gets them all.

``http://127.0.0.1:P`` and ``http://localhost:P`` are one fault server under two origins; its
``/seen/`` routes record the credential header names each request carried (``SEEN_CREDENTIALS``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.servers import SEEN_CREDENTIALS

TOKEN = "tok-REDIRECT-0123456789"
SECRETS = ["authorization", "x-api-key", "x-auth-token", "x-custom-secret"]
HEADERS = [
    "-H",
    "X-API-Key: key-REDIRECT-1",
    "-H",
    "X-Auth-Token: at-REDIRECT-2",
    "-H",
    "X-Custom-Secret: s-3",
]


@pytest.fixture
def seen() -> Iterator[list[tuple[str, str, list[str]]]]:
    SEEN_CREDENTIALS.clear()
    yield SEEN_CREDENTIALS
    SEEN_CREDENTIALS.clear()


def _hosts(fault: str) -> tuple[str, str]:
    port = fault.rsplit(":", 1)[1]
    return f"http://127.0.0.1:{port}", f"http://localhost:{port}"


def _card_hits(seen: list[tuple[str, str, list[str]]]) -> list[tuple[str, list[str]]]:
    return [(host, names) for host, path, names in seen if path == "/seen/agent-card.json"]


# (from, to, secrets expected at the target): the two origins both ways, and the same origin.
CASES = [
    pytest.param(0, 1, [], id="ip-to-name"),
    pytest.param(1, 0, [], id="name-to-ip"),
    pytest.param(0, 0, SECRETS, id="same-origin-ip"),
    pytest.param(1, 1, SECRETS, id="same-origin-name"),
]


@pytest.mark.parametrize(("src", "dst", "expected"), CASES)
def test_card_get_follows_without_secrets_to_another_origin(
    cli: Any, fault: str, seen: Any, src: int, dst: int, expected: list[str]
) -> None:
    origins = _hosts(fault)
    url = f"{origins[src]}/redirectto/agent-card.json?to={origins[dst]}/seen/agent-card.json"
    r = cli("-L", *HEADERS, "-o", "json", "card", "get", url, env={"A2ACTL_TOKEN": TOKEN})
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["normalized"]["name"] == "fault agent"
    target_host = origins[dst].removeprefix("http://")
    assert _card_hits(seen) == [(target_host, expected)]


def test_the_verbose_log_says_so_once_without_values(cli: Any, fault: str, seen: Any) -> None:
    ip, name = _hosts(fault)
    # Two hops away from the origin: one note, and the second hop carries nothing either.
    hop2 = f"{name}/redirectto/agent-card.json?to={name}/seen/agent-card.json"
    url = f"{ip}/redirectto/agent-card.json?to={hop2}"
    r = cli("-v", "-L", *HEADERS, "card", "get", url, env={"A2ACTL_TOKEN": TOKEN})
    assert r.exit_code == 0, r.stderr
    notes = [line for line in r.stderr.splitlines() if "not forwarding" in line]
    assert len(notes) == 1
    for name_ in ("Authorization", "X-API-Key", "X-Auth-Token", "X-Custom-Secret"):
        assert name_ in notes[0]
    assert TOKEN not in r.stderr and "REDIRECT" not in r.stderr
    assert _card_hits(seen) == [(name.removeprefix("http://"), [])]


@pytest.mark.parametrize(("src", "dst", "expected"), CASES[:3])
def test_handshake_probe_fetches_the_card_without_secrets_from_another_origin(
    cli: Any, fault: str, seen: Any, src: int, dst: int, expected: list[str]
) -> None:
    origins = _hosts(fault)
    url = f"{origins[src]}/redirectto/agent-card.json?to={origins[dst]}/seen/agent-card.json"
    r = cli("-L", *HEADERS, "-o", "json", "handshake", "probe", url, env={"A2ACTL_TOKEN": TOKEN})
    out = json.loads(r.stdout)
    assert out["negotiation"]["url"].endswith("/seen/jsonrpc")  # the card was read: the probe went on
    assert r.exit_code == out["exitCode"]
    assert _card_hits(seen) == [(origins[dst].removeprefix("http://"), expected)]


@pytest.mark.parametrize(("src", "dst", "expected"), CASES[:3])
def test_load_run_on_aiohttp_follows_without_secrets_to_another_origin(
    cli: Any, fault: str, seen: Any, src: int, dst: int, expected: list[str]
) -> None:
    origins = _hosts(fault)
    url = f"{origins[src]}/redirectto/agent-card.json?to={origins[dst]}/seen/agent-card.json"
    r = cli(
        "-L", *HEADERS, "-o", "json", "load", "run", url, "-s", "card", "-c", "1", "-n", "3",
        "--no-progress", env={"A2ACTL_TOKEN": TOKEN},
    )  # fmt: skip
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["exitCode"] == 0
    hits = _card_hits(seen)
    assert len(hits) >= 3  # discovery, then every request of the scenario
    assert hits == [(origins[dst].removeprefix("http://"), expected)] * len(hits)
