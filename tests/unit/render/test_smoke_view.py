"""The table views of ``smoke run|validate`` (a2actl.render.smoke), whole, at 80 columns."""

from __future__ import annotations

from typing import Any

import pytest

from a2actl.render import smoke as view
from tests.unit.render.rendering import stdout_trimmed as render


def _check(
    name: str, kind: str, target: str | None, status: str, duration: float, **kw: str
) -> dict[str, Any]:
    return {
        "name": name,
        "kind": kind,
        "target": target,
        "status": status,
        "duration": duration,
        "measured": kw.get("measured", ""),
        "bound": kw.get("bound", ""),
        "message": kw.get("message", ""),
        "details": {},
    }


PROBE = _check(
    "probe", "probe", "http://a", "pass", 0.0123, measured="total p99 5.0ms", bound="total p99 <= 2.00s"
)
RUN = {
    "suite": "demo",
    "path": "suite.yaml",
    "targets": ["http://a"],
    "exitCode": 7,
    "passed": 1,
    "failed": 1,
    "errors": 1,
    "results": [
        PROBE,
        _check(
            "depth", "dlq-depth", None, "fail", 0.5, measured="depth 2", bound="depth <= 0", message="2 over"
        ),
        _check("send", "send", "http://a", "error", 1.5, message="connection refused"),
    ],
    "junit": "j.xml",
}


def test_results(monkeypatch: pytest.MonkeyPatch) -> None:
    assert render(view.results, RUN, monkeypatch) == (
        "demo (suite.yaml)\n"
        "\n"
        "  check   target     status   time      measured          bound\n"
        " ────────────────────────────────────────────────────────────────────────────\n"
        "  probe   http://a   pass     12.3ms    total p99 5.0ms   total p99 <= 2.00s\n"
        "  depth   -          fail     500.0ms   depth 2           depth <= 0\n"
        "  send    http://a   error    1.50s\n"
        "\n"
        "fail: depth: 2 over\n"
        "error: send: connection refused\n"
        "1 passed, 1 failed, 1 errors; JUnit: j.xml\n"
    )


def test_results_all_passed_without_junit(monkeypatch: pytest.MonkeyPatch) -> None:
    doc = {**RUN, "exitCode": 0, "failed": 0, "errors": 0, "results": [PROBE]}
    del doc["junit"]
    assert render(view.results, doc, monkeypatch) == (
        "demo (suite.yaml)\n"
        "\n"
        "  check   target     status   time     measured          bound\n"
        " ───────────────────────────────────────────────────────────────────────────\n"
        "  probe   http://a   pass     12.3ms   total p99 5.0ms   total p99 <= 2.00s\n"
        "\n"
        "1 passed, 0 failed, 0 errors\n"
    )


def test_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    doc = {
        "path": "suite.yaml",
        "valid": True,
        "targets": ["http://a", "http://b"],
        "checks": [{"name": "p"}],
    }
    assert (
        render(view.valid, doc, monkeypatch) == "suite.yaml: valid, 1 check(s) against http://a, http://b\n"
    )
    doc = {**doc, "targets": [], "checks": []}
    assert render(view.valid, doc, monkeypatch) == "suite.yaml: valid, 0 check(s) against their own targets\n"
