"""``push listen`` summary view: the outcome row says whether the task ended or waits for the client
(an interrupted state), and names a ``--fail-on`` state."""

from __future__ import annotations

from typing import Any

import pytest

from a2actl.render import push as render_push
from tests.unit.render.rendering import stdout_trimmed


def summary(final: str | None, failed_on: str | None = None, outcome: str = "completed") -> dict[str, Any]:
    return {
        "type": "summary",
        "outcome": outcome,
        "exitCode": 7 if failed_on else 0,
        "url": "http://127.0.0.1:1/a2a/push",
        "taskId": "t-1",
        "registration": None,
        "deliveries": 0,
        "unique": 0,
        "duplicates": 0,
        "authFailures": 0,
        "invalid": 0,
        "outOfOrder": 0,
        "bytes": 0,
        "duration": 1.0,
        "firstDelivery": None,
        "latency": {"p50": None, "p99": None, "max": None},
        "finalState": final,
        "failedOn": failed_on,
        "problems": [],
    }


@pytest.mark.parametrize(
    ("doc", "row"),
    [
        (summary("completed"), "outcome               task ended (exit 0)"),
        (
            summary("input-required"),
            "outcome               task waits for the client: input-required (exit 0)",
        ),
        (
            summary("auth-required", "auth-required"),
            "outcome               task waits for the client: auth-required (--fail-on) (exit 7)",
        ),
        (summary("failed", "failed"), "outcome               task ended: failed (--fail-on) (exit 7)"),
        (summary("working", outcome="max-time"), "outcome               --max-time reached (exit 0)"),
    ],
)
def test_the_outcome_row(doc: dict[str, Any], row: str, monkeypatch: pytest.MonkeyPatch) -> None:
    out = stdout_trimmed(render_push.summary, doc, monkeypatch, columns=120)
    assert row in [line.strip() for line in out.splitlines()]
