"""The suite's exit code (docs/exit-codes.md), the ``smoke run`` document and its JUnit XML."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from a2actl.core.exit_codes import ExitCode
from a2actl.smoke.result import CheckResult, SmokeRun, Status, suite_exit_code
from a2actl.smoke.run import junit_xml
from a2actl.smoke.suite import Suite


def _r(status: Status, klass: ExitCode | None = None, target: str | None = "http://a") -> CheckResult:
    return CheckResult(f"c-{status}", "probe", target, status, 0.25, "m", "b", "msg", exit_class=klass)


@pytest.mark.parametrize(
    ("results", "code"),
    [
        ([], ExitCode.OK),
        ([_r("pass"), _r("pass")], ExitCode.OK),
        ([_r("pass"), _r("fail")], ExitCode.CHECK_FAILED),
        ([_r("error", ExitCode.UNREACHABLE), _r("error", ExitCode.UNREACHABLE)], ExitCode.UNREACHABLE),
        ([_r("error", ExitCode.AUTH)], ExitCode.AUTH),
        ([_r("error", ExitCode.TIMEOUT), _r("error", ExitCode.AUTH)], ExitCode.CHECK_FAILED),
        ([_r("error", ExitCode.TIMEOUT), _r("fail")], ExitCode.CHECK_FAILED),
        ([_r("error", ExitCode.TIMEOUT), _r("pass")], ExitCode.CHECK_FAILED),
        ([_r("error")], ExitCode.CHECK_FAILED),  # an error of no connection class
    ],
)
def test_suite_exit_code(results: list[CheckResult], code: ExitCode) -> None:
    assert suite_exit_code(results) is code


def test_run_document_in_order() -> None:
    suite = Suite(path="s.yaml", targets=["http://a"], name="n")
    run = SmokeRun(suite, [_r("pass"), _r("fail")], junit="j.xml")
    assert run.exit == ExitCode.CHECK_FAILED
    assert SmokeRun(suite, [_r("pass")], max_time_reached=True).exit is ExitCode.TIMEOUT
    doc = run.to_json()
    assert list(doc) == [
        "suite",
        "path",
        "targets",
        "exitCode",
        "maxTimeReached",
        "passed",
        "failed",
        "errors",
        "results",
        "junit",
    ]
    assert (doc["exitCode"], doc["passed"], doc["failed"], doc["errors"]) == (7, 1, 1, 0)
    assert doc["results"][1] == {
        "name": "c-fail",
        "kind": "probe",
        "target": "http://a",
        "status": "fail",
        "duration": 0.25,
        "measured": "m",
        "bound": "b",
        "message": "msg",
        "details": {},
    }
    assert "junit" not in SmokeRun(suite, []).to_json()


def test_junit_one_testsuite_per_target() -> None:
    suite = Suite(path="s.yaml", targets=[], name="n")
    results = [_r("pass"), _r("fail"), _r("error", target=None)]
    root = ET.fromstring(junit_xml(suite, results).split("?>", 1)[1])
    assert root.attrib == {"name": "n", "tests": "3", "failures": "1", "errors": "1", "time": "0.750"}
    assert [ts.attrib["name"] for ts in root] == ["n @ http://a", "n @ local"]
    first, second = root
    assert [tc.attrib["name"] for tc in first] == ["c-pass", "c-fail"]
    failure = first[1].find("failure")
    assert failure is not None and failure.attrib == {"message": "msg", "type": "probe"}
    assert failure.text == "measured: m\nbound: b\nmsg"
    assert second[0].find("error") is not None


def test_junit_escapes_what_xml_cannot_hold() -> None:
    """A control character, a lone surrogate and U+FFFE (from an agent's answer, a check's name or
    the suite's) are written as their escapes: the file is UTF-8 XML a CI system parses."""
    suite = Suite(path="s.yaml", targets=[], name="suite \x1b[31m")
    bad = CheckResult(
        "send \x00", "send", "http://a", "error", 0.5, "m\x07", "b", "on\x00fire \ud800 \ufffe\x1b[2J"
    )
    xml = junit_xml(suite, [bad])
    root = ET.fromstring(xml.encode("utf-8").split(b"?>", 1)[1])  # strict UTF-8: no surrogate left
    assert root.attrib["name"] == "suite \\x1b[31m"
    (case,) = root.iter("testcase")
    assert case.attrib["name"] == "send \\x00"
    error = case.find("error")
    assert error is not None
    assert error.attrib["message"] == "on\\x00fire \\ud800 \\ufffe\\x1b[2J"
    assert error.text == "measured: m\\x07\nbound: b\non\\x00fire \\ud800 \\ufffe\\x1b[2J"
    tab = CheckResult("t\tab", "send", None, "pass", 0, "", "", "")  # XML holds a tab: kept
    assert (
        ET.fromstring(junit_xml(suite, [tab]).split("?>", 1)[1]).find(".//testcase").attrib["name"] == "t\tab"
    )
