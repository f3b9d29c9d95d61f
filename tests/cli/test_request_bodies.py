"""Request bodies JSON cannot carry, on every client (``protocol.jsondoc.dumps_body``), through the
real CLI against the sandbox: ``NaN``/``Infinity`` in ``--data`` (Python's JSON reader takes them) is
exit 2 with a one-line error on the httpx path (``send``, ``send --stream``, ``send --dry-run``) and
the aiohttp path (``load run``); a dead letter holding one stays dead (permanent) in ``dlq replay``
while the entries after it are delivered. Before: ``send`` was exit 1 "unexpected ValueError", and
``load run`` and ``dlq replay`` sent ``null`` in its place (the replay then removed the entry: the
value was lost)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from a2actl.dlq.store.file import FileBackend
from tests.dlq_helpers import dead_send, fill_file_dlq

COMMANDS = {
    "send (httpx)": ["send"],
    "send --binding HTTP+JSON (httpx)": ["send", "--binding", "HTTP+JSON"],
    "send --stream (httpx, SSE)": ["send", "--stream"],
    "send --dry-run": ["send", "--dry-run"],
    "load run (aiohttp)": ["load", "run", "-n", "1", "-c", "1"],
}


@pytest.mark.parametrize("command", list(COMMANDS.values()), ids=list(COMMANDS))
@pytest.mark.parametrize(("text", "name"), [("NaN", "NaN"), ("-Infinity", "-Infinity")])
def test_nan_in_data_is_a_one_line_usage_error_on_every_path(
    cli: Any, sandbox: Any, tmp_path: Path, command: list[str], text: str, name: str
) -> None:
    data = tmp_path / "data.json"
    data.write_text('{"reading": {"value": ' + text + ', "unit": "C"}}')
    verb, *options = command
    r = cli("-o", "json", verb, *options, sandbox.url, "--data", f"@{data}")
    assert r.exit_code == 2, (r.exit_code, r.stdout, r.stderr)
    error = r.json["error"]
    assert error["code"] == "usage" and error["exitCode"] == 2
    assert f"{name} at /" in error["message"] and "/data/reading/value" in error["message"]
    assert "JSON has no NaN or Infinity" in error["message"]
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr  # one line, no traceback


def _entry(url: str, mid: str, data: Any) -> dict[str, Any]:
    return dead_send(url + "/a2a/jsonrpc", mid, {"data": data})


def test_dlq_replay_keeps_an_entry_whose_request_cannot_be_written(
    cli: Any, sandbox: Any, tmp_path: Path
) -> None:
    """The entry with NaN is a permanent failure of that entry: not sent (as null), not removed, its
    ``attempts`` and ``lastError`` updated; the entries after it are delivered (an integer past 64
    bits exactly); exit 7, as for any entry still dead."""
    src = tmp_path / "dlq.jsonl"
    entries = [
        _entry(sandbox.url, "m-nan", {"x": float("nan")}),
        _entry(sandbox.url, "m-ok", {"x": 1}),
        _entry(sandbox.url, "m-big", {"x": 2**70}),
    ]
    fill_file_dlq(src, entries)
    nan_id = entries[0]["id"]
    r = cli(
        "-o", "json", "dlq", "replay", str(src), "--yes", "--max-attempts", "3",
        "--journal", str(tmp_path / "journal.jsonl"),
    )  # fmt: skip
    assert r.exit_code == 7, (r.stdout, r.stderr)
    doc = r.json
    status = {x["messageId"]: x for x in doc["results"]}
    assert {m: x["status"] for m, x in status.items()} == {
        "m-nan": "dead-permanent",
        "m-ok": "acknowledged",
        "m-big": "acknowledged",
    }
    assert status["m-nan"]["attempts"] == 1  # permanent: not retried
    assert "NaN at /params/message/parts/1/data/x" in status["m-nan"]["error"]["message"]
    assert doc["stillDead"] == {"transient": 0, "permanent": 1}
    listed = cli("-o", "json", "dlq", "list", str(src)).json
    assert [(e["id"], e["attempts"], e["errorClass"]) for e in listed["entries"]] == [
        (nan_id, 2, "permanent")
    ]
    assert "NaN at /params/message/parts/1/data/x" in listed["entries"][0]["error"]

    async def stored() -> Any:
        backend = FileBackend(str(src))
        try:
            return await backend.get(nan_id)
        finally:
            await backend.close()

    value = asyncio.run(stored())["request"]["params"]["message"]["parts"][1]["data"]["x"]
    assert isinstance(value, float) and value != value  # still NaN in the source, not null


def test_send_text_that_is_not_utf8_is_a_usage_error(cli: Any, sandbox: Any) -> None:
    """A byte that is not UTF-8 in TEXT (Python keeps it as a lone surrogate, ``\\udcff``) was exit 1
    "unexpected UnicodeEncodeError"; sent as the ``\\udcff`` escape it would not be the text typed.
    ``load run --text`` already said so (exit 2)."""
    r = cli("-o", "json", "send", sandbox.url, "a\udcffb")
    assert r.exit_code == 2, (r.stdout, r.stderr)
    assert r.json["error"]["message"].startswith("TEXT is not valid UTF-8 (character 1)")


def test_send_data_with_a_lone_surrogate_escape_sends_the_escape(
    cli: Any, sandbox: Any, tmp_path: Path
) -> None:
    """``--data`` holding the JSON escape ``"\\udc80"``: sent as that escape, as ``dlq replay`` (aiohttp)
    sends it; the httpx path was exit 1 "unexpected UnicodeEncodeError". The sandbox (a2a-sdk) then
    refuses the params (-32602, exit 1): the agent's answer, not a2actl's failure."""
    data = tmp_path / "data.json"
    data.write_text('{"s": "\\udc80"}')
    r = cli("-o", "json", "-vv", "send", sandbox.url, "--data", f"@{data}")
    assert r.exit_code == 1, (r.stdout, r.stderr)
    assert r.json["error"]["code"] == "a2a_error" and r.json["error"]["a2aCode"] == -32602
    assert '"data":{"s":"\\udc80"}' in r.stderr  # the request body as sent (-vv)


def test_entries_that_fail_before_sending_do_not_trip_the_agents_breaker(
    cli: Any, sandbox: Any, tmp_path: Path
) -> None:
    """Entries that fail here, before anything is sent (a body JSON cannot carry), are not the
    agent's failures: five of them in a row tripped ``--breaker 2``, and the healthy agent's
    deliveries waited out each ``--breaker-cooldown`` (here past ``--max-time``: exit 5)."""
    src = tmp_path / "dlq.jsonl"
    entries = [
        *(_entry(sandbox.url, f"m-nan-{i}", {"x": float("nan")}) for i in range(5)),
        _entry(sandbox.url, "m-ok", {"x": 1}),
    ]
    fill_file_dlq(src, entries)
    r = cli(
        "-o", "json", "dlq", "replay", str(src), "--yes", "--max-in-flight", "1",
        "--breaker", "2", "--breaker-cooldown", "20s", "--max-time", "15s",
        "--journal", str(tmp_path / "journal.jsonl"),
    )  # fmt: skip
    assert r.exit_code == 7, (r.stdout, r.stderr)
    doc = r.json
    assert doc["breakerTrips"] == 0
    assert {x["messageId"]: x["status"] for x in doc["results"]} == {
        **{f"m-nan-{i}": "dead-permanent" for i in range(5)},
        "m-ok": "acknowledged",
    }
    assert doc["duration"] < 10


@pytest.mark.parametrize(
    ("location", "needle"),
    [
        ("http://[::1/x", "malformed HTTP from "),  # was UsageError 'invalid URL <the entry's URL>'
        ("ftp://elsewhere/x", "which a2actl cannot follow"),
    ],
)
def test_a_redirect_the_agent_answered_counts_toward_its_breaker(
    cli: Any, fault: str, tmp_path: Path, location: str, needle: str
) -> None:
    """-L and an agent that answers each delivery with a redirect a2actl cannot follow (a Location
    that is no URL, or not http(s)): the message was sent and the agent's answer failed it, so these
    are the agent's consecutive failures (Outcome.sent). The malformed Location was a UsageError
    ('invalid URL' naming the entry's own URL), taken for an entry never sent: four in a row never
    tripped --breaker 2."""
    from urllib.parse import quote

    url = f"{fault}/redirectto/agent-card.json?status=307&to={quote(location, safe='')}"
    src = tmp_path / "dlq.jsonl"
    fill_file_dlq(src, [dead_send(url, f"m-{i}") for i in range(4)])
    r = cli(
        "-L", "-o", "json", "dlq", "replay", str(src), "--yes", "--max-in-flight", "1",
        "--max-attempts", "1", "--breaker", "2", "--breaker-cooldown", "0.1s", "--max-time", "15s",
        "--journal", str(tmp_path / "journal.jsonl"),
    )  # fmt: skip
    assert r.exit_code == 7, (r.stdout, r.stderr)
    doc = r.json
    assert [x["status"] for x in doc["results"]] == ["dead-transient"] * 4
    assert all(needle in x["error"]["message"] for x in doc["results"]), doc["results"][0]
    assert doc["breakerTrips"] == 2
