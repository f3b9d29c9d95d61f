"""Issue 13, item 12: one malformed dead letter never blocks the queue. ``dlq list``, ``stats``,
``replay`` and ``show`` over file and Redis sources holding good entries and every kind of bad one,
through the real CLI, replaying into the real sandbox agent."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import redis

from a2actl.dlq.store.file import FileBackend
from a2actl.dlq.store.redis import RedisBackend
from tests.cli.test_dlq import entries_for, fill


def deliveries(sb: Any, mids: list[str]) -> dict[str, int]:
    got = httpx.get(sb.url + "/debug/a2a/received").json()["messages"]
    return {m: got.get(m, {}).get("deliveries", 0) for m in mids}


def _mids(es: list[dict[str, Any]]) -> list[str]:
    return [e["request"]["params"]["message"]["messageId"] for e in es]


BAD_LINES = [  # (line as stored, the ref dlq reports, the start of its error)
    (
        '{"id":"bad-request","request":"oops","target":{"url":"http://x"},"enqueuedAt":"2026-01-01T00:00:00Z",'
        '"attempts":1,"lastError":null}',
        "bad-request",
        "/request: 'oops' is not of type 'object'",
    ),
    (
        '{"id":"bad-target","request":{"method":"SendMessage","params":{}},"target":"http://x",'
        '"enqueuedAt":"2026-01-01T00:00:00Z","attempts":1,"lastError":null}',
        "bad-target",
        "/target: 'http://x' is not of type 'object'",
    ),
    (
        '{"id":"bad-error","request":{"method":"SendMessage","params":{}},"target":{"url":"http://x"},'
        '"enqueuedAt":"2026-01-01T00:00:00Z","attempts":1,"lastError":"x"}',
        "bad-error",
        "/lastError: 'x' is not valid",
    ),
    (
        '{"request":{"method":"SendMessage","params":{}},"target":{"url":"http://x"},'
        '"enqueuedAt":"2026-01-01T00:00:00Z","attempts":1,"lastError":null}',
        "line:{n}",
        "/: 'id' is a required property",
    ),
    ("this is not json", "line:{n}", "not JSON"),
    ('{"id":"torn","request":{"meth', "line:{n}", "not JSON"),
]


def _mixed_file(path: Path, sandbox_url: str) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """20 good entries with the bad lines spread between them; returns the good ones and ref -> error."""
    good = entries_for(sandbox_url, 20)
    lines: list[str] = []
    expected: dict[str, str] = {}
    for i, e in enumerate(good):
        lines.append(FileBackend.line(e).decode().rstrip("\n"))
        if i % 3 == 1 and BAD_LINES[len(expected) :]:
            raw, ref, err = BAD_LINES[len(expected)]
            lines.append(raw)
            expected[ref.format(n=len(lines))] = err
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert len(expected) == len(BAD_LINES)
    return good, expected


def _assert_invalid(doc: dict[str, Any], expected: dict[str, str]) -> None:
    assert doc["count"] == len(expected)
    got = {b["ref"]: b["error"] for b in doc["first"]}
    assert set(got) == set(expected)
    for ref, err in expected.items():
        assert got[ref].startswith(err), (ref, got[ref])


def test_file_queue_with_malformed_entries(cli: Any, sandbox: Any, tmp_path: Path) -> None:
    src = f"file://{tmp_path}/dlq.jsonl"
    good, expected = _mixed_file(tmp_path / "dlq.jsonl", sandbox.url)

    listed = cli("dlq", "list", src, "-o", "json")
    assert listed.exit_code == 0
    assert [e["id"] for e in listed.json["entries"]] == [e["id"] for e in good]
    _assert_invalid(listed.json["invalid"], expected)
    assert "skipped 6 invalid entries" in listed.stderr and "Traceback" not in listed.stderr
    assert [x["id"] for x in cli("dlq", "list", src, "-o", "jsonl").jsonl] == [e["id"] for e in good]

    stats = cli("dlq", "stats", src, "-o", "json")
    assert stats.exit_code == 0 and stats.json["depth"] == 20
    _assert_invalid(stats.json["invalid"], expected)

    shown = cli("dlq", "show", src, "bad-request", "-o", "json")
    assert shown.exit_code == 0 and shown.json["request"] == "oops"
    assert "bad-request is not a valid entry" in shown.stderr

    # The replay takes every good entry, reports the bad ones, and exits 7: they are still in the queue.
    r = cli("dlq", "replay", src, "--yes", "--journal", str(tmp_path / "j"), "-o", "json")
    assert r.exit_code == 7, r.stdout[-800:]
    assert r.json["acknowledged"] == 20 and r.json["stillDead"] == {"transient": 0, "permanent": 0}
    _assert_invalid(r.json["invalid"], expected)
    assert deliveries(sandbox, _mids(good)) == {m: 1 for m in _mids(good)}
    after = cli("dlq", "list", src, "-o", "json").json
    assert after["count"] == 0 and after["invalid"]["count"] == 6  # nothing bad was dropped silently

    # Bad entries are purged by the ref the report gives (an id, or line:N for a line without one).
    purged = cli("dlq", "purge", src, *[a for ref in expected for a in ("--ids", ref)], "--yes", "-o", "json")
    assert purged.exit_code == 0 and all(x["removed"] for x in purged.json["results"])
    clean = cli("dlq", "replay", src, "--yes", "--journal", str(tmp_path / "j"), "-o", "json")
    assert clean.exit_code == 0 and clean.json["invalid"] == {"count": 0, "first": []}
    assert clean.json["selected"] == 0


def test_replay_with_ids_counts_only_selected_invalid_entries(cli: Any, sandbox: Any, tmp_path: Path) -> None:
    src = f"file://{tmp_path}/dlq.jsonl"
    good, _ = _mixed_file(tmp_path / "dlq.jsonl", sandbox.url)
    r = cli(
        "dlq", "replay", src, "--ids", good[0]["id"], "--yes", "--journal", str(tmp_path / "j"), "-o", "json"
    )
    assert r.exit_code == 0 and r.json["acknowledged"] == 1 and r.json["invalid"]["count"] == 0
    r = cli(
        "dlq",
        "replay",
        src,
        "--ids",
        "bad-target",
        "--ids",
        good[1]["id"],
        "--yes",
        "--journal",
        str(tmp_path / "j"),
        "-o",
        "json",
    )
    assert r.exit_code == 7 and r.json["acknowledged"] == 1
    assert [b["ref"] for b in r.json["invalid"]["first"]] == ["bad-target"]


def test_redis_queue_with_malformed_entries(cli: Any, sandbox: Any, redis_url: str, tmp_path: Path) -> None:
    stream = f"dlq-bad-{uuid.uuid4().hex[:6]}"
    src = f"{redis_url}?stream={stream}"
    good = entries_for(sandbox.url, 10)
    r = redis.Redis.from_url(redis_url, decode_responses=True)
    expected: dict[str, str] = {}
    ids = fill(RedisBackend(src), good[:5])
    bad: list[tuple[dict[Any, Any], str]] = [
        ({"entry": "not json"}, "the 'entry' field is not JSON"),
        ({"entry": "[1, 2]"}, "the 'entry' field is a JSON list"),
        ({"other": "x"}, "no 'entry' field"),
        ({"entry": json.dumps({"request": "oops"})}, "/"),
    ]
    for fields, err in bad:
        expected[str(r.xadd(stream, fields))] = err
    ids += fill(RedisBackend(src), good[5:])
    r.hset(stream + ":meta", ids[7], "{torn")  # a corrupt attempts/lastError update
    expected[ids[7]] = f"{stream}:meta[{ids[7]}] is not JSON"
    r.close()

    listed = cli("dlq", "list", src, "-o", "json")
    assert listed.exit_code == 0 and listed.json["count"] == 9
    _assert_invalid(listed.json["invalid"], expected)
    assert cli("dlq", "stats", src, "-o", "json").json["invalid"]["count"] == 5

    rep = cli("dlq", "replay", src, "--yes", "--journal", str(tmp_path / "j"), "-o", "json")
    assert rep.exit_code == 7 and rep.json["acknowledged"] == 9
    _assert_invalid(rep.json["invalid"], expected)
    ok = [m for i, m in enumerate(_mids(good)) if i != 7]
    assert deliveries(sandbox, ok) == {m: 1 for m in ok}
    assert deliveries(sandbox, [_mids(good)[7]]) == {_mids(good)[7]: 0}

    purged = cli("dlq", "purge", src, *[a for ref in expected for a in ("--ids", ref)], "--yes", "-o", "json")
    assert all(x["removed"] for x in purged.json["results"])
    assert cli("dlq", "stats", src, "-o", "json").json["invalid"]["count"] == 0


def test_redis_records_not_utf8_or_with_lone_surrogates(
    cli: Any, sandbox: Any, redis_url: str, tmp_path: Path
) -> None:
    """Binary junk XADDed into the stream (or its meta hash), and an ``entry`` whose JSON holds a
    lone surrogate escape, are invalid records like any other: reported, skipped, purgeable. One of
    them ended every ``dlq list``, ``stats`` and ``replay`` of the stream with an unexpected
    UnicodeDecodeError (exit 1), blocking the rest."""
    stream = f"dlq-bin-{uuid.uuid4().hex[:6]}"
    src = f"{redis_url}?stream={stream}"
    good = entries_for(sandbox.url, 3)
    ids = fill(RedisBackend(src), good)
    r = redis.Redis.from_url(redis_url)  # bytes in, bytes out
    lone = json.dumps({**good[0], "source": "\ud800"}).encode()
    expected = {
        r.xadd(stream, {b"entry": b"\xff\xfe\x80 junk"}).decode(): "the 'entry' field is not UTF-8 text",
        r.xadd(stream, {b"\xff": b"\xfe"}).decode(): "no 'entry' field",
        r.xadd(stream, {b"entry": lone}).decode(): "the 'entry' field is not valid Unicode text",
        ids[2]: f"{stream}:meta[{ids[2]}] is not UTF-8 text",
    }
    r.hset(stream + ":meta", ids[2], b"\xff not utf-8")
    r.close()
    listed = cli("dlq", "list", src, "-o", "json")
    assert listed.exit_code == 0, listed.stderr
    assert [e["id"] for e in listed.json["entries"]] == ids[:2]
    _assert_invalid(listed.json["invalid"], expected)
    assert cli("dlq", "stats", src, "-o", "json").json["depth"] == 2
    shown = cli("dlq", "show", src, next(iter(expected)), "-o", "json")
    assert shown.exit_code == 0 and shown.json["fields"] == {"entry": "\ufffd\ufffd\ufffd junk"}
    rep = cli("dlq", "replay", src, "--yes", "--journal", str(tmp_path / "j"), "-o", "json")
    assert rep.exit_code == 7 and rep.json["acknowledged"] == 2 and rep.json["invalid"]["count"] == 4
    purged = cli("dlq", "purge", src, *[a for ref in expected for a in ("--ids", ref)], "--yes", "-o", "json")
    assert all(x["removed"] for x in purged.json["results"])
    assert cli("dlq", "stats", src, "-o", "json").json["invalid"]["count"] == 0


def test_file_lines_with_lone_surrogates(cli: Any, sandbox: Any, tmp_path: Path) -> None:
    """A line whose JSON holds a lone surrogate escape (``"\\ud800"``, which Python's reader takes
    but no UTF-8 writer can write) is an invalid record: ``list``/``stats`` printed nothing but an
    unexpected UnicodeEncodeError (exit 1), and ``replay`` stopped on it before the good entries."""
    path = tmp_path / "dlq.jsonl"
    good = entries_for(sandbox.url, 2)
    bad = {**entries_for(sandbox.url, 1)[0], "id": "lone-\ud800"}
    path.write_text("".join(json.dumps(e) + "\n" for e in (good[0], bad, good[1])), encoding="utf-8")
    src = f"file://{path}"
    expected = {"line:2": "not valid Unicode text"}
    listed = cli("dlq", "list", src, "-o", "json")
    assert listed.exit_code == 0, listed.stderr
    assert [e["id"] for e in listed.json["entries"]] == [good[0]["id"], good[1]["id"]]
    _assert_invalid(listed.json["invalid"], expected)
    rep = cli("dlq", "replay", src, "--yes", "--journal", str(tmp_path / "j"), "-o", "json")
    assert rep.exit_code == 7 and rep.json["acknowledged"] == 2 and rep.json["invalid"]["count"] == 1
    assert deliveries(sandbox, _mids(good)) == {m: 1 for m in _mids(good)}
    purged = cli("dlq", "purge", src, "--ids", "line:2", "--yes", "-o", "json")
    assert [x["removed"] for x in purged.json["results"]] == [True]
    assert cli("dlq", "stats", src, "-o", "json").json["invalid"]["count"] == 0
