"""Suite files (docs/smoke.md, "The suite file"): loading with line numbers, ``${VAR}`` expansion,
and every problem a ``UsageError`` (exit 2) starting ``FILE:LINE:``."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from a2actl.core.errors import UsageError
from a2actl.core.exit_codes import ExitCode
from a2actl.smoke.run import validate_job
from a2actl.smoke.suite import load_suite

GOOD = """\
version: 1
name: orders agent
targets:
  - ${TARGET}
checks:
  - name: handshake within budget
    kind: probe
    samples: 10
    budget: 2s
  - kind: send
    text: hello
    target: ${OTHER:-http://127.0.0.1:9}
  - name: DLQ drained
    kind: dlq-depth
    source: file://dlq.jsonl
    max: 0
"""


def _write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "suite.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def _error(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> str:
    path = _write(tmp_path, text)
    with pytest.raises(UsageError) as info:
        load_suite(path, env={} if env is None else env)
    assert info.value.exit_code == ExitCode.USAGE
    return info.value.message.replace(path, "SUITE")


def test_a_good_suite(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD)
    suite = load_suite(path, env={"TARGET": "http://127.0.0.1:1"})
    assert (suite.name, suite.path, suite.targets) == ("orders agent", path, ["http://127.0.0.1:1"])
    assert [(c.name, c.kind, c.target, c.line) for c in suite.checks] == [
        ("handshake within budget", "probe", None, 6),
        ("send #2", "send", "http://127.0.0.1:9", 10),
        ("DLQ drained", "dlq-depth", None, 13),
    ]
    assert suite.checks[0].options == {"samples": 10, "budget": "2s"}
    assert suite.checks[2].options == {"source": "file://dlq.jsonl", "max": 0}


def test_validate_job_document(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TARGET", "http://127.0.0.1:1")
    path = _write(tmp_path, GOOD)
    result = asyncio.run(validate_job(path))
    assert result.exit == ExitCode.OK
    assert result.to_json() == {
        "path": path,
        "valid": True,
        "targets": ["http://127.0.0.1:1"],
        "checks": [
            {"name": "handshake within budget", "kind": "probe", "line": 6},
            {"name": "send #2", "kind": "send", "line": 10},
            {"name": "DLQ drained", "kind": "dlq-depth", "line": 13},
        ],
    }


def test_an_unset_variable_names_its_line(tmp_path: Path) -> None:
    text = GOOD.replace("${OTHER:-http://127.0.0.1:9}", "${OTHER}")
    assert _error(tmp_path, text, {"TARGET": "t"}) == "SUITE:10: variable ${OTHER} is not set"
    # in a list (which has no line of its own): the line of the mapping holding it
    assert _error(tmp_path, GOOD) == "SUITE:1: variable ${TARGET} is not set"


def test_a_bad_duration_names_the_check_line(tmp_path: Path) -> None:
    text = GOOD.replace("budget: 2s", "budget: soon")
    assert _error(tmp_path, text, {"TARGET": "t"}) == (
        "SUITE:6: checks/0/budget: budget 'soon' is not a duration (examples: 5s, 250ms, 2m)"
    )


def test_an_unknown_kind(tmp_path: Path) -> None:
    text = GOOD.replace("kind: probe", "kind: prob")
    assert _error(tmp_path, text, {"TARGET": "t"}).startswith(
        "SUITE:6: checks/0/kind: unknown check kind 'prob'; use one of probe, caps-diff, send, stream, "
        "sessions-leaks, dlq-depth"
    )


def test_not_yaml_and_not_a_mapping(tmp_path: Path) -> None:
    assert _error(tmp_path, "checks: [\n  - kind: probe\n").startswith("SUITE:2: not valid YAML:")
    assert _error(tmp_path, "- just\n- a list\n") == "SUITE:1: a suite is a mapping with 'checks:'"


def test_a_check_without_any_target(tmp_path: Path) -> None:
    text = "version: 1\nchecks:\n  - name: p\n    kind: probe\n"
    message = _error(tmp_path, text)
    assert message == "SUITE:3: check 'p' has no target and the suite has no 'targets:'"


def test_bad_sizes_and_phase_budgets(tmp_path: Path) -> None:
    stream = "version: 1\ntargets: [t]\nchecks:\n  - kind: stream\n    text: hi\n    maxEventBytes: huge\n"
    assert "maxEventBytes 'huge' is not a size (examples: 4MiB, 512KiB)" in _error(tmp_path, stream)
    for zero in ("0", "0B", "0.5"):  # a bound under 1 byte reads no event: every one oversize
        text = stream.replace("huge", f"'{zero}'")
        assert f"maxEventBytes '{zero}' is not a size" in _error(tmp_path, text), zero
    for zero in ("0", "0s", "0.0ms"):  # as stream tail --heartbeat 0 (exit 2): every gap was a stall
        text = stream.replace("maxEventBytes: huge", f"heartbeat: '{zero}'")
        assert _error(tmp_path, text) == (
            f"SUITE:4: stream #1: heartbeat '{zero}' must be positive (the longest silence allowed, e.g. 10s)"
        ), zero
    budgets = "version: 1\ntargets: [t]\nchecks:\n  - kind: probe\n    budgets: {rpc: fast}\n"
    assert _error(tmp_path, budgets).startswith("SUITE:")


def test_an_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot read suite"):
        load_suite(str(tmp_path / "missing.yaml"), env={})


def test_a_file_that_is_not_utf8_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "suite.yaml"
    path.write_bytes(b"version: 1\ntargets: [t]\nchecks:\n  - kind: send\n    text: caf\xe9\n")
    with pytest.raises(UsageError) as info:
        load_suite(str(path), env={})
    assert info.value.exit_code == ExitCode.USAGE
    assert info.value.message == f"{path}:5: not UTF-8 text (invalid continuation byte at byte 60)"


def test_an_expect_text_that_is_not_a_regular_expression(tmp_path: Path) -> None:
    text = "version: 1\ntargets: [t]\nchecks:\n  - name: echo\n    kind: send\n    text: hi\n    expectText: '(('\n"
    assert _error(tmp_path, text) == (
        "SUITE:4: echo: expectText '((' is not a regular expression: missing ), unterminated subpattern at position 1"
    )
