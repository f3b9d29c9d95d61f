"""The table views of ``dlq list|show|stats|purge|replay`` (a2actl.render.dlq), whole, at 80 columns."""

from __future__ import annotations

import io
from typing import Any

import pytest

from a2actl.render import dlq as view
from a2actl.render.output import Output
from tests.unit.render.rendering import stdout_trimmed as render


def _row(
    eid: str, method: str, mid: str | None, age: float, attempts: int, klass: Any, code: Any
) -> dict[str, Any]:
    return {
        "id": eid,
        "method": method,
        "messageId": mid,
        "target": "http://a",
        "enqueuedAt": "2026-01-01T00:00:00.000Z",
        "ageSeconds": age,
        "attempts": attempts,
        "errorClass": klass,
        "errorCode": code,
        "error": "down",
        "source": None,
    }


LIST = {
    "source": "file://dlq.jsonl",
    "entries": [
        _row("e0", "SendMessage", "m0", 4.25, 3, "transient", -32603),
        _row("e1", "message/send", None, 3725.0, 0, None, None),
    ],
    "count": 2,
    "invalid": {"count": 0, "first": []},
}

TABLE = """\

  id   method         messageId   age     attempts   error
 ─────────────────────────────────────────────────────────────────────
  e0   SendMessage    m0          4.2s    3          transient -32603
  e1   message/send               1h02m   0          -

"""


def test_entries(monkeypatch: pytest.MonkeyPatch) -> None:
    assert render(view.entries, LIST, monkeypatch) == "2 dead letter(s) in file://dlq.jsonl\n" + TABLE


def test_entries_dry_run(monkeypatch: pytest.MonkeyPatch) -> None:
    got = render(view.entries, {**LIST, "dryRun": True}, monkeypatch)
    assert got == "2 dead letter(s) in file://dlq.jsonl would be replayed\n" + TABLE


def test_entry_is_pretty_json(monkeypatch: pytest.MonkeyPatch) -> None:
    assert (
        render(view.entry, {"id": "e0", "attempts": 1}, monkeypatch)
        == '{\n  "id": "e0",\n  "attempts": 1\n}\n'
    )


def _histogram(*counts: int) -> list[dict[str, Any]]:
    return [
        {"bucket": b, "count": n}
        for b, n in zip(("<1m", "<10m", "<1h", "<1d", "<7d", ">=7d"), counts, strict=True)
    ]


def test_stats(monkeypatch: pytest.MonkeyPatch) -> None:
    doc = {
        "source": "file://dlq.jsonl",
        "depth": 3,
        "invalid": {"count": 1, "first": []},
        "oldest": {"id": "e0", "ageSeconds": 7300.0},
        "ageHistogram": _histogram(1, 0, 0, 2, 0, 0),
        "topErrorCodes": [{"code": "-32603", "count": 2}, {"code": "503", "count": 1}],
        "byClass": {"transient": 3},
        "byTarget": [{"target": "http://a", "count": 3}],
    }
    assert render(view.stats, doc, monkeypatch) == (
        "file://dlq.jsonl: depth 3, oldest e0 (2h01m), 1 invalid (skipped)\n"
        "    <1m        1  ███████████████\n"
        "   <10m        0\n"
        "    <1h        0\n"
        "    <1d        2  ██████████████████████████████\n"
        "    <7d        0\n"
        "   >=7d        0\n"
        "top error codes\n"
        "\n"
        "  code     count\n"
        " ────────────────\n"
        "  -32603       2\n"
        "  503          1\n"
        "\n"
        "by target\n"
        "\n"
        "  target     count\n"
        " ──────────────────\n"
        "  http://a       3\n"
        "\n"
    )


def test_stats_of_an_empty_queue(monkeypatch: pytest.MonkeyPatch) -> None:
    doc = {
        "source": "file://dlq.jsonl",
        "depth": 0,
        "invalid": {"count": 0, "first": []},
        "oldest": None,
        "ageHistogram": _histogram(0, 0, 0, 0, 0, 0),
        "topErrorCodes": [],
        "byClass": {},
        "byTarget": [],
    }
    got = render(view.stats, doc, monkeypatch)
    assert got.split("\n")[:2] == ["file://dlq.jsonl: depth 0", "    <1m        0"]
    assert "█" not in got
    assert got.endswith("by target\n\n  target   count\n ────────────────\n\n")


def test_stats_with_the_broker_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    doc = {
        "source": "sqs://eu-west-1/q",
        "depth": 0,
        "invalid": {"count": 0, "first": []},
        "oldest": None,
        "ageHistogram": _histogram(0, 0, 0, 0, 0, 0),
        "topErrorCodes": [],
        "byClass": {},
        "byTarget": [],
        "broker": {"messages": 4, "notVisible": 1, "delayed": 0},
    }
    got = render(view.stats, doc, monkeypatch, 120)
    assert got.split("\n")[0] == (
        "sqs://eu-west-1/q: depth 0; the broker counts messages 4, notVisible 1, delayed 0"
    )


def test_purged(monkeypatch: pytest.MonkeyPatch) -> None:
    doc = {"source": "s", "results": [{"id": "e0", "removed": True}, {"id": "zz", "removed": False}]}
    assert render(view.purged, doc, monkeypatch) == "e0: removed\nzz: not found (nothing removed)\n"


SUMMARY = {
    "type": "summary",
    "selected": 4,
    "replayed": 4,
    "acknowledged": 3,
    "retried": 2,
    "resumedRemovals": 1,
    "stillDead": {"transient": 1, "permanent": 0},
    "invalid": {"count": 2, "first": []},
    "duration": 0.5,
    "rate": 8.0,
    "breakerTrips": 0,
    "journal": "/tmp/j.jsonl",
    "exitCode": 7,
}


def test_replay_summary(monkeypatch: pytest.MonkeyPatch) -> None:
    assert render(view.replay_summary, SUMMARY, monkeypatch) == (
        "Replay\n"
        "\n"
        "  selected            4\n"
        "  replayed            4\n"
        "  acknowledged        3\n"
        "  retried             2\n"
        "  still dead          1 transient, 0 permanent\n"
        "  invalid (skipped)   2\n"
        "  resumed removals    1\n"
        "  breaker trips       0\n"
        "  duration            500.0ms\n"
        "  msgs/s              8.0\n"
        "  journal             /tmp/j.jsonl\n"
        "\n"
    )


def test_replay_summary_without_a_rate(monkeypatch: pytest.MonkeyPatch) -> None:
    got = render(view.replay_summary, {**SUMMARY, "rate": None, "duration": 0.0}, monkeypatch)
    assert "  duration            0µs\n  msgs/s              -\n" in got


def test_replay_progress_counts_results(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    out = Output("table", stdout=io.StringIO(), stderr=io.StringIO())
    progress = view.replay_progress(out)
    try:
        for status in ("acknowledged", "dead-transient", "acknowledged"):
            progress.record(out, {"type": "result", "status": status})
        progress.notice("resumed: removed 1 entr(y/ies)")
    finally:
        progress.stop()
    assert (progress.acked, progress.dead) == (2, 1)
    err = out.stderr._inner.getvalue()  # type: ignore[attr-defined]
    assert "resumed: removed 1 entr(y/ies)" in err and "2 acked, 1 dead" in err
    assert out.stdout._inner.getvalue() == ""  # type: ignore[attr-defined]


def test_redrive_summary(monkeypatch: pytest.MonkeyPatch) -> None:
    doc = {
        "type": "summary",
        "mode": "to-broker",
        "source": "sqs://eu-west-1/orders-dlq",
        "sourceArn": "arn:aws:sqs:eu-west-1:123456789012:orders-dlq",
        "taskHandle": "task-1",
        "status": "FAILED",
        "moved": 2,
        "toMove": 5,
        "failureReason": "AccessDenied",
        "duration": 1.5,
        "exitCode": 7,
    }
    assert render(view.replay_summary, doc, monkeypatch) == (
        "Redrive to the source queues\n"
        "\n"
        "  source     sqs://eu-west-1/orders-dlq\n"
        "  task       task-1\n"
        "  status     FAILED\n"
        "  moved      2 of 5\n"
        "  duration   1.50s\n"
        "  failure    AccessDenied\n"
        "\n"
    )
