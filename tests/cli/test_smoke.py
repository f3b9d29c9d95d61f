"""``a2actl smoke``: for each check kind a suite that passes and one that fails; JUnit parsed with a
JUnit parser library; init → run against the sandbox, and exit 7 after a breaking card change;
bad suite files get one-line errors with the YAML line, exit 2."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from junitparser import Error, Failure, JUnitXml

from a2actl.dlq.store.file import FileBackend
from tests.cli.test_dlq import entries_for, fill
from tests.fifo import a2actl_run


def suite(tmp_path: Path, body: str, name: str = "suite.yaml") -> str:
    p = tmp_path / name
    p.write_text(body, errors="surrogateescape")  # a lone surrogate writes a byte that is not UTF-8
    return str(p)


def run(cli: Any, path: str, *extra: str, env: dict[str, str] | None = None) -> Any:
    return cli("smoke", "run", path, "-o", "json", *extra, env=env)


@pytest.fixture
def snapshot(cli: Any, sandbox: Any, tmp_path: Path) -> str:
    (tmp_path / "caps.json").write_text(cli("caps", "snapshot", sandbox.url).stdout)
    return "caps.json"


def cases(url: str, tmp_path: Path) -> dict[str, tuple[str, str]]:
    """kind → (passing check YAML, failing check YAML)."""
    empty = tmp_path / "empty.jsonl"
    full = tmp_path / "full.jsonl"
    empty.write_text("")
    fill(FileBackend(str(full)), entries_for(url, 2))
    (tmp_path / "req.json").write_text(json.dumps({"a2actlRequirements": 1, "skills": ["summarize"]}))
    return {
        "probe": (
            "kind: probe\n    samples: 2\n    budget: 5s",
            "kind: probe\n    samples: 2\n    budget: 1us",
        ),
        "caps-diff": ("kind: caps-diff\n    expect: caps.json", "kind: caps-diff\n    expect: req.json"),
        "send": (
            "kind: send\n    text: hello\n    expectText: 'echo: hello'\n    firstEvent: 5s",
            "kind: send\n    text: /fail\n    expectState: completed",
        ),
        "stream": (
            "kind: stream\n    text: /stream 3 10\n    heartbeat: 5s\n    maxEventBytes: 1MiB",
            "kind: stream\n    text: /stream 2 5000\n    maxEventBytes: 1KiB",
        ),
        "sessions-leaks": ("kind: sessions-leaks\n    maxAge: 5m", "kind: sessions-leaks\n    maxAge: 0s"),
        "dlq-depth": (
            f"kind: dlq-depth\n    source: file://{empty}\n    max: 0",
            f"kind: dlq-depth\n    source: file://{full}\n    max: 1",
        ),
    }


@pytest.mark.parametrize("kind", ["probe", "caps-diff", "send", "stream", "sessions-leaks", "dlq-depth"])
def test_each_check_kind_passes_and_fails(
    cli: Any, sandbox: Any, tmp_path: Path, snapshot: str, kind: str
) -> None:
    if kind == "sessions-leaks":
        cli(
            "send", sandbox.url, "/slow 5", "--no-wait"
        )  # an open session, so maxAge 0s has something to flag
    good, bad = cases(sandbox.url, tmp_path)[kind]
    for body, code, status in ((good, 0, "pass"), (bad, 7, "fail")):
        path = suite(tmp_path, f"targets: [{sandbox.url}]\nchecks:\n  - name: {kind}\n    {body}\n")
        r = run(cli, path)
        assert r.exit_code == code, (body, r.stdout[-600:])
        res = r.json["results"][0]
        assert res["status"] == status and res["kind"] == kind and res["measured"] and res["bound"]


def test_junit_output_parses(cli: Any, sandbox: Any, tmp_path: Path, snapshot: str) -> None:
    path = suite(
        tmp_path,
        f"""name: ci smoke
targets: [{sandbox.url}]
checks:
  - name: fast enough
    kind: probe
    budget: 5s
  - name: too fast to be true
    kind: probe
    budget: 1us
  - name: caps
    kind: caps-diff
    expect: caps.json
  - name: other agent
    kind: send
    text: hi
    target: http://127.0.0.1:9
""",
    )
    out = tmp_path / "junit.xml"
    r = run(cli, path, "--junit", str(out))
    assert r.exit_code == 7
    xml = JUnitXml.fromfile(str(out))
    cases_ = [case for ts in xml for case in ts]
    assert [c.name for c in cases_] == ["fast enough", "too fast to be true", "caps", "other agent"]
    assert [type(c.result[0]).__name__ if c.result else "ok" for c in cases_] == [
        "ok",
        "Failure",
        "ok",
        "Error",
    ]
    assert isinstance(cases_[1].result[0], Failure) and isinstance(cases_[3].result[0], Error)
    assert xml.tests == 4 and xml.failures == 1 and xml.errors == 1


def test_unreachable_target_gives_its_exit_class(cli: Any, tmp_path: Path, refused_url: str) -> None:
    path = suite(
        tmp_path,
        f"targets: [{refused_url}]\nchecks:\n  - kind: send\n    text: hi\n  - kind: caps-diff\n"
        f"    expect: nothing.json\n",
    )
    (tmp_path / "nothing.json").write_text('{"a2actlSnapshot": 1}')
    r = run(cli, path)
    assert r.exit_code == 3
    assert {x["status"] for x in r.json["results"]} == {"error"}


def test_an_auth_failure_errors_every_check_with_the_agents_answer(
    cli: Any, sandbox_auth: Any, tmp_path: Path
) -> None:
    """No token for an agent that wants one: every check is an ``error`` of the auth class (the
    suite exits 4), and the probe row says what failed as the other rows do; it read
    ``samples failed: {'auth': 2}``, a Python dict, without the agent's answer."""
    path = suite(
        tmp_path,
        f"targets: [{sandbox_auth.url}]\nchecks:\n  - {{name: p, kind: probe, samples: 2, budget: 5s}}\n"
        "  - {name: s, kind: send, text: hi}\n  - {name: t, kind: stream, text: hi}\n",
    )
    r = run(cli, path)
    assert r.exit_code == 4, r.stdout[-600:]
    rows = {x["name"]: x for x in r.json["results"]}
    assert {x["status"] for x in rows.values()} == {"error"}
    answer = f"{sandbox_auth.url}/a2a/jsonrpc answered HTTP 401 Unauthorized"
    assert rows["p"]["message"].startswith(f"2 of 2 samples failed (auth 2); first: {answer}"), rows["p"]
    assert rows["p"]["details"] == {"failures": {"auth": 2}}
    assert rows["s"]["message"].startswith(answer) and rows["t"]["message"].startswith(answer)


def test_the_suites_url_credentials_are_never_printed(
    cli: Any, sandbox: Any, tmp_path: Path, refused_url: str
) -> None:
    """A target given whole in ``${TARGET}`` (docs/smoke.md: the suite holds no secret) and a
    ``dlq-depth`` source with a password: the password and ``api_key`` were in every row's target,
    in ``-o json``, in error messages and in the JUnit file CI publishes."""
    import secrets

    pw, key, dlq_pw = (f"smokesecret{secrets.token_hex(6)}" for _ in range(3))  # never registered before
    host = sandbox.url.split("://", 1)[1]
    target = f"http://bob:{pw}@{host}/?api_key={key}"
    # first, as the secrets stay registered in this process once read: a misplaced ${TARGET} (a
    # string, not a list), whose value the schema's error quotes whole
    misplaced = suite(tmp_path, "targets: '${TARGET}'\nchecks:\n  - kind: probe\n", "misplaced.yaml")
    bad = cli("smoke", "validate", misplaced, env={"TARGET": target})
    assert bad.exit_code == 2 and f"http://bob:***@{host}/?api_key=***" in bad.stderr, bad.stderr
    path = suite(
        tmp_path,
        "targets: ['${TARGET}']\nchecks:\n  - kind: send\n    text: hello\n"
        f"  - kind: dlq-depth\n    source: {refused_url.replace('://', f'://u:{dlq_pw}@')}/dlq\n    max: 0\n",
    )
    junit = tmp_path / "smoke.xml"
    r = run(cli, path, "--junit", str(junit), env={"TARGET": target})
    assert r.exit_code == 7, r.stdout[-600:]
    assert [x["status"] for x in r.json["results"]] == ["pass", "error"]
    assert r.json["results"][0]["target"] == f"http://bob:***@{host}/?api_key=***"
    table = cli("smoke", "run", path, env={"TARGET": target})
    valid = cli("smoke", "validate", path, "-o", "json", env={"TARGET": target})
    assert valid.json["targets"] == [f"http://bob:***@{host}/?api_key=***"]
    for text in (r.stdout, r.stderr, junit.read_text(), table.stdout, table.stderr, valid.stdout, bad.stderr):
        assert pw not in text and key not in text and dlq_pw not in text


def test_init_then_run_passes_and_a_breaking_change_fails(
    cli: Any, sandbox: Any, sandbox_v1: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    r = cli("smoke", "init", sandbox.url, "--samples", "3")
    assert r.exit_code == 0, r.stderr
    path = suite(tmp_path, r.stdout)
    assert (tmp_path / "expected-caps.json").exists()
    ok = cli("smoke", "run", path, "--junit", "smoke.xml")
    assert ok.exit_code == 0, ok.stdout
    assert JUnitXml.fromfile(str(tmp_path / "smoke.xml")).failures == 0
    # The same suite against an agent whose card dropped the 0.3 interfaces: breaking.
    broken = cli("smoke", "run", path, "-o", "json", env={"TARGET": sandbox_v1.url})
    assert broken.exit_code == 7
    caps = next(x for x in broken.json["results"] if x["kind"] == "caps-diff")
    assert caps["status"] == "fail" and "/interfaces/" in caps["message"]


@pytest.mark.parametrize(
    "body, needle, line",
    [
        ("checks:\n  - kind: probe\n  - kind: teleport\n", "unknown check kind 'teleport'", 3),
        ("targets: [x]\nchecks:\n  - kind: probe\n    budget: soon\n", "budget 'soon' is not a duration", 3),
        (
            "targets: ['${NO_SUCH_VAR_A2ACTL}']\nchecks:\n  - kind: probe\n",
            "${NO_SUCH_VAR_A2ACTL} is not set",
            1,
        ),
        ("checks: [\n", "not valid YAML", 2),
        ("targets: [x]\nchecks:\n  - kind: send\n", "'text' is a required property", 3),
        # a regular expression that does not compile: was exit 1, "unexpected error", at run time
        (
            "targets: [x]\nchecks:\n  - kind: send\n    text: hi\n    expectText: '(('\n",
            "not a regular expression",
            3,
        ),
        # a repetition count re cannot hold raises OverflowError, not re.error: exit 1 'unexpected'
        (
            "targets: [x]\nchecks:\n  - kind: send\n    text: hi\n    expectText: 'a{4294967295}'\n",
            "is not a regular expression: the repetition number is too large",
            3,
        ),
        # a file that is not UTF-8: was exit 1, "unexpected UnicodeDecodeError"
        ("targets: [x]\nchecks:\n  - kind: send\n    text: caf\udce9\n", "not UTF-8 text", 4),
        # a key given twice: PyYAML kept the last silently (here: a send check run as a probe)
        ("targets: [x]\nchecks:\n  - kind: send\n    kind: probe\n", "duplicate key 'kind'", 4),
        # a phase no probe knows: valid for 'validate', then exit 1 'unexpected ValueError' at run time,
        # with no JUnit file
        (
            "targets: [x]\nchecks:\n  - kind: probe\n    budgets: {rpcc: 1s}\n",
            "budgets.rpcc: unknown phase",
            3,
        ),
        ("targets: [x]\nchecks:\n  - kind: probe\n    budgets: {1: 1s}\n", "budgets.1: unknown phase", 3),
        # the key the loader marks lines with: a user's was overwritten by the mark, silently
        ("targets: [x]\nchecks:\n  - kind: probe\n    __line__: 9\n", "('__line__' was unexpected)", 3),
        ("targets: [x]\n__line__: 9\nchecks:\n  - kind: probe\n", "('__line__' was unexpected)", 1),
        (
            "targets: [x]\nchecks:\n  - kind: probe\n    budgets: {__line__: 1s}\n",
            "budgets.__line__: unknown phase",
            3,
        ),
        # values PyYAML cannot build raise a plain ValueError, no YAMLError: exit 1 'unexpected
        # ValueError' (an integer over int()'s 4,300 digits, an unquoted date that is no date)
        (
            "targets: [x]\nchecks:\n  - kind: dlq-depth\n    source: x\n    max: " + "9" * 5000 + "\n",
            "not valid YAML: Exceeds the limit (4300",  # 3.10 and 3.11+ word the rest differently
            5,
        ),
        ("targets: [x]\nchecks:\n  - kind: probe\n    name: 2001-13-01\n", "month must be in 1..12", 4),
        ("targets: [x]\nchecks:\n  - kind: probe\n    2001-13-01: x\n", "month must be in 1..12", 4),
        # two checks of one name: two JUnit testcases of that name, -o json results ambiguous
        (
            "targets: [x]\nchecks:\n  - kind: probe\n    name: echo\n  - kind: probe\n"
            "  - kind: send\n    text: hi\n    name: echo\n",
            "checks/2: duplicate check name 'echo': checks/0 (line 3) has it too",
            6,
        ),
        # a DLQ source set but empty (a CI secret a fork cannot read): an error row at run time
        (
            "checks:\n  - kind: dlq-depth\n    source: ''\n    max: 0\n",
            "dlq-depth #1: source '': an empty DLQ source (a ${VARIABLE} set but empty?)",
            2,
        ),
        # no event comes within 0 s: the check failed on every run (exit 7)
        (
            "targets: [x]\nchecks:\n  - kind: send\n    text: hi\n    firstEvent: 0s\n",
            "send #1: firstEvent '0s' must be positive",
            3,
        ),
        # a name: equal to the KIND #N another check goes by
        (
            "targets: [x]\nchecks:\n  - kind: probe\n    name: 'probe #2'\n  - kind: probe\n",
            "checks/1: duplicate check name 'probe #2' (the name a check without name: goes by): "
            "checks/0 (line 3) has it too",
            5,
        ),
    ],
)
def test_bad_suites_are_one_line_usage_errors(
    cli: Any, tmp_path: Path, body: str, needle: str, line: int
) -> None:
    path = suite(tmp_path, body)
    for cmd in ("validate", "run"):
        r = cli("smoke", cmd, path)
        assert r.exit_code == 2
        lines = [x for x in r.stderr.splitlines() if x.strip()]
        assert len(lines) == 1 and needle in lines[0] and f"{path}:{line}:" in lines[0], r.stderr
        assert "Traceback" not in r.stderr


@pytest.mark.parametrize(
    "body, needle, line",
    [
        # a secret a fork's CI run cannot read is set, but empty: every check was an error at run
        # time, exit 7 ("a check failed"), and 'smoke validate' said the suite was valid
        (
            'targets:\n  - "${TARGET}"\nchecks:\n  - kind: probe\n',
            "targets[0] '': TARGET is empty (a ${VARIABLE} set but empty?)",
            1,
        ),
        ("targets: [ftp://agent]\nchecks:\n  - kind: probe\n", "targets[0] 'ftp://agent': unsupported", 1),
        # a check's own empty target silently ran against the suite's targets instead
        (
            'targets: [x]\nchecks:\n  - kind: probe\n  - kind: probe\n    target: "${TARGET}"\n',
            "probe #2: target '': TARGET is empty",
            4,
        ),
    ],
)
def test_a_target_that_is_no_target_is_a_bad_suite(
    cli: Any, tmp_path: Path, body: str, needle: str, line: int
) -> None:
    path = suite(tmp_path, body)
    for cmd in ("validate", "run"):
        r = cli("-o", "json", "smoke", cmd, path, env={"TARGET": ""})
        assert r.exit_code == 2, (cmd, r.stdout[-500:])
        error = r.json["error"]
        assert error["code"] == "usage" and error["message"].startswith(f"{path}:{line}: "), error
        assert needle in error["message"], error


@pytest.mark.parametrize(
    "body, line, message, hint",
    [
        (
            "targets: [http://127.0.0.1:9]\nchecks:\n  - name: caps\n    kind: caps-diff\n"
            "    expect: missing.json\n",
            3,
            "caps: expect 'missing.json': not found: {suite_dir}/missing.json",
            "expect is relative to the suite file",
        ),
        (
            "targets: [http://127.0.0.1:9]\nchecks:\n  - name: caps\n    kind: caps-diff\n    expect: snaps\n",
            3,
            "caps: expect 'snaps': is a directory: {suite_dir}/snaps",
            "expect is relative to the suite file",
        ),
        (
            "targets: [http://127.0.0.1:9]\nchecks:\n  - name: caps\n    kind: caps-diff\n    expect: ''\n",
            3,
            "caps: expect '': an empty path (a ${{VARIABLE}} set but empty?)",
            "expect is relative to the suite file",
        ),
        (
            "targets: [card.json]\nchecks:\n  - name: caps\n    kind: caps-diff\n    expect: here.json\n",
            1,
            "targets[0] 'card.json': card file not found: {cwd}/card.json",
            "a card file target is relative to the current directory",
        ),
        (
            "targets: [http://127.0.0.1:9]\nchecks:\n  - name: caps\n    kind: caps-diff\n"
            "    expect: here.json\n    target: file://{cwd}/gone.json\n",
            3,
            "caps: target 'file://{cwd}/gone.json': card file not found: {cwd}/gone.json",
            "a card file target is relative to the current directory",
        ),
    ],
)
def test_a_file_the_suite_names_that_is_missing_is_a_bad_suite(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str, line: int, message: str, hint: str
) -> None:
    """A ``caps-diff`` ``expect`` or a card file target that does not exist passed ``smoke
    validate`` and was an error row at run time: exit 7, "a check failed", for a bad suite file.
    It is exit 2 at the check's (or the suite's) line, naming the path looked for, from ``validate``
    and from ``run`` before any check. ``expect`` is relative to the suite file (the current
    directory is elsewhere here), a card file target to the current directory."""
    suite_dir, cwd = tmp_path / "ci", tmp_path / "work"
    suite_dir.mkdir()
    cwd.mkdir()
    (suite_dir / "snaps").mkdir()
    (suite_dir / "here.json").write_text("{}")
    monkeypatch.chdir(cwd)
    path = str(suite_dir / "suite.yaml")
    Path(path).write_text(body.format(cwd=cwd))
    for cmd in ("validate", "run"):
        r = cli("-o", "json", "smoke", cmd, path)
        assert r.exit_code == 2, (cmd, r.stdout[-500:])
        assert "results" not in r.json
        assert r.json["error"]["message"] == f"{path}:{line}: " + message.format(suite_dir=suite_dir, cwd=cwd)
        assert r.json["error"]["hint"] == hint
        assert len(r.stderr.splitlines()) == 1, r.stderr


def test_an_expect_file_beside_the_suite_is_valid_from_any_directory(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The files check resolves ``expect`` as the run does: beside the suite, not in the current
    directory."""
    (tmp_path / "ci").mkdir()
    (tmp_path / "ci" / "caps.json").write_text("{}")
    path = suite(
        tmp_path / "ci",
        "targets: [http://127.0.0.1:9]\nchecks:\n  - name: caps\n    kind: caps-diff\n    expect: caps.json\n",
    )
    monkeypatch.chdir(tmp_path)
    r = cli("-o", "json", "smoke", "validate", path)
    assert r.exit_code == 0, r.stdout + r.stderr


def _laughs(levels: int) -> str:
    rows = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    rows += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, levels)]
    return "targets: [x]\n" + "\n".join(rows) + "\nchecks:\n  - kind: probe\n"


@pytest.mark.parametrize(
    "body, needle",
    [
        # YAML aliases that repeat each other ("billion laughs"): 9^8 values took 40 s and 2.3 GB
        # before the schema said 'a0' is unknown; one level more ran out of memory
        (_laughs(8), "expands to over 100,000 values"),
        # PyYAML composes nested collections recursively: exit 1 'unexpected RecursionError'
        (
            "targets: [x]\nchecks:\n  - kind: probe\n    name: " + "[" * 5000 + "]" * 5000 + "\n",
            "nested too deeply",
        ),
        (
            "targets: [x]\nchecks:\n  - kind: probe\n    name: " + "{a: " * 5000 + "1" + "}" * 5000 + "\n",
            "nested too deeply",
        ),
        ("targets: [x]\nchecks:\n  - kind: probe\n" + "# padding\n" * 120_000, "over 1,048,576 bytes"),
    ],
)
def test_hostile_suites_are_one_line_usage_errors(cli: Any, tmp_path: Path, body: str, needle: str) -> None:
    path = suite(tmp_path, body)
    started = time.monotonic()
    for cmd in ("validate", "run"):
        r = cli("smoke", cmd, path)
        assert r.exit_code == 2, r.stderr
        lines = [x for x in r.stderr.splitlines() if x.strip()]
        assert len(lines) == 1 and needle in lines[0] and lines[0].startswith(f"a2actl: {path}:"), r.stderr
    assert time.monotonic() - started < 20


def test_yaml_merge_keys_may_be_overridden(cli: Any, tmp_path: Path) -> None:
    """The duplicate-key rule leaves merges alone: ``<<: *base`` then a key of the base."""
    path = suite(
        tmp_path,
        "targets: [x]\nchecks:\n  - &base {kind: probe, samples: 2}\n  - <<: *base\n    samples: 3\n    name: two\n",
    )
    r = cli("smoke", "validate", path, "-o", "json")
    assert r.exit_code == 0, r.stderr
    assert [c["name"] for c in r.json["checks"]] == ["probe #1", "two"]


def test_the_junit_file_parses_whatever_the_agent_says(cli: Any, fault: str, tmp_path: Path) -> None:
    """An agent's error message (or a check's name) holding characters XML 1.0 cannot hold (NUL,
    ESC) went into the JUnit file as they were: no JUnit reader could parse it, so CI showed nothing."""
    path = suite(
        tmp_path,
        f"name: 'suite \\e[31m'\ntargets: [{fault}/ctlerror/agent-card.json]\nchecks:\n"
        '  - kind: send\n    name: "send \\0 \\e"\n    text: hi\n',
    )
    out = tmp_path / "smoke.xml"
    r = run(cli, path, "--junit", str(out))
    assert r.exit_code == 7, r.stdout[-600:]
    assert "on\x00fire\x1b[2J" in r.json["results"][0]["message"]
    xml = JUnitXml.fromfile(str(out))
    (case,) = [case for ts in xml for case in ts]
    assert case.name == "send \\x00 \\x1b"
    assert isinstance(case.result[0], Error) and "on\\x00fire\\x1b[2J" in case.result[0].message


def test_an_unwritable_junit_path_is_a_usage_error_before_the_run(cli: Any, tmp_path: Path) -> None:
    """It was 'unexpected FileNotFoundError' (exit 1) after the whole suite had run."""
    (tmp_path / "dlq.jsonl").write_text("")
    path = suite(
        tmp_path, f"checks:\n  - kind: dlq-depth\n    source: {tmp_path / 'dlq.jsonl'}\n    max: 0\n"
    )
    (tmp_path / "adir").mkdir()
    for junit, says in (
        (tmp_path / "missing" / "smoke.xml", "cannot write: No such file or directory"),
        (tmp_path / "adir", "is a directory"),
    ):
        r = run(cli, path, "--junit", str(junit))
        assert r.exit_code == 2, r.stderr
        assert r.json["error"]["message"] == f"--junit {junit}: {says}"
        assert "Traceback" not in r.stderr
    bad = suite(tmp_path, "checks: [\n", "bad.yaml")
    assert run(cli, bad, "--junit", str(tmp_path / "smoke.xml")).exit_code == 2
    assert not (tmp_path / "smoke.xml").exists()  # no empty JUnit file left for CI to choke on
    ok = run(cli, path, "--junit", str(tmp_path / "smoke.xml"))
    assert ok.exit_code == 0 and ok.json["junit"] == str(tmp_path / "smoke.xml")
    assert JUnitXml.fromfile(str(tmp_path / "smoke.xml")).tests == 1


def test_a_junit_path_naming_a_file_the_suite_reads_is_refused(
    cli: Any, sandbox: Any, snapshot: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``smoke run smoke.yaml --junit smoke.yaml`` (a typo for ``smoke.xml``) wrote the JUnit XML
    over the suite, exit 0; over the caps snapshot or a file DLQ, the same. Each is exit 2 before
    any check runs, the file untouched."""
    monkeypatch.chdir(tmp_path)  # file://dlq.jsonl is relative to the working directory
    (tmp_path / "dlq.jsonl").write_text('{"not": "an entry"}\n')
    body = (
        f"targets: [{sandbox.url}]\nchecks:\n  - kind: caps-diff\n    expect: {snapshot}\n"
        "  - kind: dlq-depth\n    source: file://dlq.jsonl\n    max: 5\n"
    )
    path = suite(tmp_path, body)
    (tmp_path / "link.xml").symlink_to(path)
    before = {p: (tmp_path / p).read_bytes() for p in (path, snapshot, "dlq.jsonl")}
    for junit in (path, "link.xml", str(tmp_path / snapshot), "dlq.jsonl"):
        r = run(cli, path, "--junit", junit)
        assert r.exit_code == 2, (junit, r.stdout[-400:])
        message = r.json["error"]["message"]
        assert message.startswith(f"--junit {junit} is ") and "it would be overwritten" in message
    assert {p: (tmp_path / p).read_bytes() for p in before} == before
    ok = run(cli, path, "--junit", "smoke.xml")
    assert ok.exit_code == 0, ok.stdout[-400:]


def test_dlq_depth_counts_invalid_entries(cli: Any, tmp_path: Path) -> None:
    """Invalid dead letters are still in the queue (replay exits 7 for them): 'DLQ drained, max: 0'
    passed over a file of nothing but invalid entries."""
    dlq = tmp_path / "dlq.jsonl"
    dlq.write_text('torn {"id": \n{"id": "x", "request": "oops"}\n')
    path = suite(
        tmp_path, f"checks:\n  - name: drained\n    kind: dlq-depth\n    source: {dlq}\n    max: 0\n"
    )
    r = run(cli, path)
    assert r.exit_code == 7, r.stderr
    row = r.json["results"][0]
    assert (row["status"], row["details"]["depth"], row["details"]["invalid"]) == ("fail", 2, 2)
    assert row["measured"] == "depth 2 (2 invalid)"
    ok = run(
        cli, suite(tmp_path, f"checks:\n  - kind: dlq-depth\n    source: {dlq}\n    max: 2\n", "ok.yaml")
    )
    assert ok.exit_code == 0 and ok.json["results"][0]["status"] == "pass"


def test_variables_and_defaults(cli: Any, sandbox: Any, tmp_path: Path) -> None:
    path = suite(
        tmp_path, "targets: ['${AGENT:-http://127.0.0.1:9}']\nchecks:\n  - kind: probe\n    budget: 5s\n"
    )
    assert cli("smoke", "validate", path, "-o", "json").json["targets"] == ["http://127.0.0.1:9"]
    r = run(cli, path, env={"AGENT": sandbox.url})
    assert r.exit_code == 0 and r.json["targets"] == [sandbox.url]


def test_suite_schema_is_valid_json_schema() -> None:
    from jsonschema import Draft202012Validator

    from a2actl.schemas import load_named

    Draft202012Validator.check_schema(load_named("smoke-suite.schema.json"))


def test_init_out_writes_suite_and_snapshot_relative_to_it(
    cli: Any, sandbox: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The docs' recipe (issue #13): a suite in ci/ names its snapshot relative to itself."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ci").mkdir()
    r = cli("smoke", "init", sandbox.url, "--samples", "2", "--out", "ci/smoke.yaml")
    assert r.exit_code == 0, r.stderr
    assert (tmp_path / "ci" / "expected-caps.json").exists() and r.stdout == ""
    import yaml

    assert "# Run: a2actl smoke run ci/smoke.yaml" in (tmp_path / "ci" / "smoke.yaml").read_text()
    doc = yaml.safe_load((tmp_path / "ci" / "smoke.yaml").read_text())
    assert next(c for c in doc["checks"] if c["kind"] == "caps-diff")["expect"] == "expected-caps.json"
    ok = cli("smoke", "run", "ci/smoke.yaml", "-o", "json")
    assert ok.exit_code == 0, ok.stdout
    # --snapshot relative to the current directory, named relative to the suite.
    r2 = cli(
        "smoke", "init", sandbox.url, "--samples", "2", "--out", "ci/other.yaml", "--snapshot", "ci/caps.json"
    )
    assert r2.exit_code == 0, r2.stderr
    doc2 = yaml.safe_load((tmp_path / "ci" / "other.yaml").read_text())
    assert next(c for c in doc2["checks"] if c["kind"] == "caps-diff")["expect"] == "caps.json"
    assert cli("smoke", "run", "ci/other.yaml").exit_code == 0


def test_init_refuses_to_overwrite_and_missing_dirs(
    cli: Any, sandbox: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "expected-caps.json").write_text("{}")
    r = cli("smoke", "init", sandbox.url, "--samples", "1", "--out", "suite.yaml", "-o", "json")
    assert r.exit_code == 2 and "--force" in r.json["error"]["hint"]
    assert (tmp_path / "expected-caps.json").read_text() == "{}" and not (tmp_path / "suite.yaml").exists()
    forced = cli("smoke", "init", sandbox.url, "--samples", "1", "--out", "suite.yaml", "--force")
    assert forced.exit_code == 0 and (tmp_path / "expected-caps.json").read_text() != "{}"
    missing = cli(
        "smoke", "init", sandbox.url, "--samples", "1", "--snapshot", "nope/caps.json", "-o", "json"
    )
    assert missing.exit_code == 2 and "does not exist" in missing.json["error"]["message"]


@pytest.mark.parametrize("snapshot", ["suite.yaml", "./sub/../suite.yaml"])
def test_init_refuses_a_snapshot_that_is_the_suite(
    cli: Any, sandbox: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, snapshot: str
) -> None:
    """``--out suite.yaml --snapshot suite.yaml`` wrote the snapshot, then the suite over it: exit 0,
    and a suite whose caps-diff expects the suite file itself, which no run can pass."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    for force in ([], ["--force"]):
        r = cli(
            "smoke", "init", sandbox.url, "--samples", "1", "--out", "suite.yaml", "--snapshot", snapshot,
            *force, "-o", "json",
        )  # fmt: skip
        assert r.exit_code == 2, r.stdout[-400:]
        assert "is the suite's file" in r.json["error"]["message"]
        assert not (tmp_path / "suite.yaml").exists()


def test_a_send_answered_with_a_message_says_so(cli: Any, sandbox: Any, tmp_path: Path) -> None:
    """A Message has no task state: the row read "state None" against "state completed" and
    passed (a send check expects no state of a message unless ``expectState`` says so); a stream
    check given ``expectState`` failed with "state None, expected completed"."""
    path = suite(
        tmp_path,
        f"targets: [{sandbox.url}]\nchecks:\n  - kind: send\n    text: /msg hi\n"
        "  - kind: send\n    text: /msg hi\n    expectState: completed\n"
        "  - kind: stream\n    text: /msg hi\n    expectState: completed\n",
    )
    r = run(cli, path)
    assert r.exit_code == 7, r.stdout[-600:]
    free, bound, stream = r.json["results"]
    assert (stream["status"], stream["message"]) == ("fail", "no task state, expected state completed")
    assert (free["status"], free["measured"], free["bound"]) == (
        "pass",
        "a message (no task)",
        "state completed or a message",
    )
    assert (bound["status"], bound["measured"], bound["bound"], bound["message"]) == (
        "fail",
        "a message (no task)",
        "state completed",
        "a message (no task), expected state completed",
    )


def test_a_stream_whose_task_fails_fails_the_check(cli: Any, sandbox: Any, tmp_path: Path) -> None:
    """``kind: stream``: a stream that ends in a ``failed`` task is a healthy stream, but the smoke
    check fails (``expectState`` defaults to ``completed``, as ``kind: send``); ``expectState: failed``
    passes it, and the row says the state either way."""
    body = "kind: stream\n    text: /fail\n    heartbeat: 5s"
    r = run(cli, suite(tmp_path, f"targets: [{sandbox.url}]\nchecks:\n  - name: s\n    {body}\n"))
    assert r.exit_code == 7, r.stdout[-600:]
    res = r.json["results"][0]
    assert res["status"] == "fail" and res["details"]["finalState"] == "failed"
    assert res["details"]["outcome"] == "completed"  # the stream itself ended well
    assert "state failed, expected completed" in res["message"]
    ok = body + "\n    expectState: failed"
    r = run(cli, suite(tmp_path, f"targets: [{sandbox.url}]\nchecks:\n  - name: s\n    {ok}\n"))
    assert r.exit_code == 0, r.stdout[-600:]
    assert r.json["results"][0]["status"] == "pass"


def test_a_first_event_that_never_comes_fails_the_check_at_its_deadline(cli: Any, tmp_path: Path) -> None:
    """``firstEvent: 1s`` against an agent whose stream holds its first event for 30 s (the blocking
    send answers at once): the check waited for the whole stream, and a stream that never sent an
    event held it, and every check after it, until the suite's ``--max-time`` (exit 5, each an
    error). It fails at the deadline, saying so, and the next check runs."""
    from a2actl.server.sandbox.options import SandboxOptions
    from a2actl.server.sandbox.server import RunningSandbox

    with RunningSandbox(SandboxOptions(stream_interval=0.01, stall=30, stall_after=0)) as agent:
        path = suite(
            tmp_path,
            f"targets: [{agent.url}]\nchecks:\n  - {{name: fe, kind: send, text: hi, firstEvent: 1s}}\n"
            "  - {name: next, kind: send, text: hi}\n",
        )
        started = time.monotonic()
        r = run(cli, path, "--max-time", "15s")
        took = time.monotonic() - started
    assert r.exit_code == 7, r.stdout[-800:]
    fe, nxt = r.json["results"]
    assert fe["status"] == "fail" and fe["message"] == "no first event within 1.00s", fe
    assert fe["details"]["firstEvent"] is None and fe["measured"] == "state completed, no first event"
    assert nxt["status"] == "pass", nxt
    assert took < 10, took


def test_a_stream_cut_that_loses_events_fails_saying_so(
    cli: Any, sandbox_streams: Any, tmp_path: Path
) -> None:
    """``kind: stream`` against an agent that cuts the stream (``--drop-after 3``): ``stream tail``
    resubscribes, but the artifact chunks sent during the outage are lost (its exit 7). The row
    failed with the message ``recovered``, which reads as all well; it names the cut and what was
    missed, and ``details`` count them."""
    body = "kind: stream\n    text: /stream 5 10\n    heartbeat: 5s"
    r = run(cli, suite(tmp_path, f"targets: [{sandbox_streams.url}]\nchecks:\n  - name: s\n    {body}\n"))
    assert r.exit_code == 7, r.stdout[-600:]
    res = r.json["results"][0]
    assert res["status"] == "fail" and res["details"]["outcome"] == "recovered", res
    assert res["details"]["cuts"] == 1 and res["details"]["missed"], res
    first, *rest = res["message"].split("; ")
    assert first.startswith(f"the stream from {sandbox_streams.url}/a2a/jsonrpc was cut: "), first
    assert first.endswith((" (resumed via SubscribeToTask)", " (resumed via GetTask)")), first
    assert rest == [f"missed across the reconnect: {m}" for m in res["details"]["missed"]], res["message"]


def _jsonl_run_with_junit(path: str, out: Path) -> list[str]:
    """The command line of ``a2actl -o jsonl smoke run PATH --junit OUT`` as its own process."""
    return [sys.executable, "-m", "a2actl", "-o", "jsonl", "smoke", "run", path, "--junit", str(out)]


def _three_sends(tmp_path: Path, url: str) -> str:
    """A suite of three quick ``send`` checks, ``c0``…``c2``, on ``url``."""
    body = "".join(f"  - name: c{i}\n    kind: send\n    text: hello\n" for i in range(3))
    return suite(tmp_path, f"targets: [{url}]\nchecks:\n" + body)


def _cut_short_suite(tmp_path: Path, url: str) -> str:
    """A suite whose second check runs for a minute: a stop during it leaves one check ended, one
    cut short and one never run."""
    return suite(
        tmp_path,
        f"""targets: [{url}]
checks:
  - name: quick
    kind: send
    text: hello
  - name: slow
    kind: send
    text: /slow 60
  - name: never run
    kind: send
    text: hello
""",
    )


def test_max_time_keeps_the_results_so_far_and_the_junit_file(cli: Any, sandbox: Any, tmp_path: Path) -> None:
    """``--max-time`` stops the suite, not the report: the checks that ended keep their results, the
    check it cut short and those never run are errors (exit class 5), the JUnit file is written with
    all of them, and the exit is 5. (It was an error document alone: no results, no JUnit file.)"""
    path = _cut_short_suite(tmp_path, sandbox.url)
    out = tmp_path / "junit.xml"
    r = run(cli, path, "--junit", str(out), "--max-time", "3s")
    assert r.exit_code == 5, r.stdout[-600:]
    doc = r.json
    assert doc["maxTimeReached"] is True and doc["exitCode"] == 5
    assert [(x["name"], x["status"]) for x in doc["results"]] == [
        ("quick", "pass"),
        ("slow", "error"),
        ("never run", "error"),
    ]
    assert "while this check ran" in doc["results"][1]["message"]
    assert "before this check ran" in doc["results"][2]["message"]
    xml = JUnitXml.fromfile(str(out))
    cases_ = [case for ts in xml for case in ts]
    assert [c.name for c in cases_] == ["quick", "slow", "never run"]
    assert [type(c.result[0]).__name__ if c.result else "ok" for c in cases_] == ["ok", "Error", "Error"]


def test_the_check_cut_short_keeps_how_long_it_ran(cli: Any, sandbox: Any, tmp_path: Path) -> None:
    """The check --max-time cut short had duration 0 (JSON and the JUnit testcase's ``time``): the
    report said nothing took the run's time. It is how long the check ran; a check never run is 0."""
    path = _cut_short_suite(tmp_path, sandbox.url)
    out = tmp_path / "junit.xml"
    r = run(cli, path, "--junit", str(out), "--max-time", "2.5s")
    assert r.exit_code == 5, r.stdout[-600:]
    quick, slow, never = r.json["results"]
    assert slow["status"] == "error" and 1.0 < slow["duration"] <= 2.5, slow
    assert never["duration"] == 0
    cases_ = [case for ts in JUnitXml.fromfile(str(out)) for case in ts]
    assert [c.name for c in cases_] == ["quick", "slow", "never run"]
    assert cases_[1].time == pytest.approx(slow["duration"], abs=0.001) and cases_[2].time == 0


@pytest.mark.parametrize("style", ["flow", "block"])
def test_probe_budgets_per_phase(cli: Any, sandbox: Any, tmp_path: Path, style: str) -> None:
    """``kind: probe`` with ``budgets:`` (a mapping, as docs/smoke.md shows): each phase is a
    budget. The line mark the suite loader puts in every mapping was read as a phase named
    ``__line__``: every such suite was 'unexpected ValueError' (exit 1). A phase the probe never
    measures (``first_event``: it sends nothing) is a usage error naming the line (exit 2): the
    check could never pass."""

    def budgets(spec: dict[str, str]) -> str:
        if style == "flow":
            return "budgets: {" + ", ".join(f"{k}: {v}" for k, v in spec.items()) + "}"
        return "budgets:\n" + "".join(f"      {k}: {v}\n" for k, v in spec.items())

    ok = budgets({"rpc": "5s", "card": "5s"})
    r = run(
        cli, suite(tmp_path, f"targets: [{sandbox.url}]\nchecks:\n  - name: p\n    kind: probe\n    {ok}\n")
    )
    assert r.exit_code == 0, r.stdout[-600:]
    assert r.json["results"][0]["status"] == "pass"
    bad = budgets({"rpc": "5s", "first_event": "5s"})
    r = run(
        cli, suite(tmp_path, f"targets: [{sandbox.url}]\nchecks:\n  - name: p\n    kind: probe\n    {bad}\n")
    )
    assert r.exit_code == 2, r.stdout[-600:]
    assert "budgets.first_event: a probe check never measures first_event" in r.json["error"]["message"]
    assert r.json["error"]["message"].startswith(str(tmp_path / "suite.yaml") + ":")


def test_an_interrupted_run_still_writes_its_junit_file(sandbox: Any, tmp_path: Path) -> None:
    """SIGTERM (a CI job's timeout or cancel) during a real ``smoke run``: exit 130, and the JUnit
    file has the check that ended and an error for the one cut short and the one never run (it was
    removed as never written: CI had nothing to publish)."""
    path = _cut_short_suite(tmp_path, sandbox.url)
    out = tmp_path / "junit.xml"
    proc = subprocess.Popen(
        _jsonl_run_with_junit(path, out),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = json.loads(proc.stdout.readline())  # the quick check's record: the slow one runs now
        assert (first["name"], first["status"]) == ("quick", "pass")
        time.sleep(0.3)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    cases_ = [case for ts in JUnitXml.fromfile(str(out)) for case in ts]
    assert [c.name for c in cases_] == ["quick", "slow", "never run"]
    assert [type(c.result[0]).__name__ if c.result else "ok" for c in cases_] == ["ok", "Error", "Error"]
    assert "interrupted" in cases_[1].result[0].message


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full here")
def test_a_full_stdout_still_writes_the_junit_file(sandbox: Any, tmp_path: Path) -> None:
    """``smoke run -o jsonl --junit FILE > /dev/full``: the first check's record could not be
    written, the run ended with an OSError and the JUnit file, CI's record of the run, was never
    written. The run stops there (exit 2, one line naming standard output) and the file has the check
    that ended and an error for each check not run."""
    path = _three_sends(tmp_path, sandbox.url)
    out = tmp_path / "junit.xml"
    with open("/dev/full", "wb") as full:
        done = subprocess.run(
            _jsonl_run_with_junit(path, out),
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
        )
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == ["a2actl: standard output: cannot write: No space left on device"]
    cases_ = [case for ts in JUnitXml.fromfile(str(out)) for case in ts]
    assert [c.name for c in cases_] == ["c0", "c1", "c2"]
    assert [type(c.result[0]).__name__ if c.result else "ok" for c in cases_] == ["ok", "Error", "Error"]
    assert [c.result[0].message for c in cases_[1:]] == [
        "standard output could not be written before this check ran"
    ] * 2


def test_a_reader_gone_away_still_gets_the_junit_file(sandbox: Any, tmp_path: Path) -> None:
    """``smoke run -o jsonl --junit FILE | head -1``: the record that met the closed pipe ended the
    command quietly (exit 0, as any ``| head``), and the JUnit file, created empty before the run,
    was removed: CI had no record of the run. The run stops there, as on a full disk, and the file
    has the check that ended and an error for each check not run."""
    path = _three_sends(tmp_path, sandbox.url)
    out = tmp_path / "junit.xml"
    proc = subprocess.Popen(
        _jsonl_run_with_junit(path, out),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader is gone before the first record (| head -0)
    err = proc.stderr.read()
    assert proc.wait(60) == 0 and err == "", err
    cases_ = [case for ts in JUnitXml.fromfile(str(out)) for case in ts]
    assert [c.name for c in cases_] == ["c0", "c1", "c2"]
    assert [type(c.result[0]).__name__ if c.result else "ok" for c in cases_] == ["ok", "Error", "Error"]
    assert [c.result[0].message for c in cases_[1:]] == [
        "standard output was closed before this check ran"
    ] * 2


def test_a_suite_that_never_arrives_is_bounded(tmp_path: Path) -> None:
    """A FIFO (or ``<(cmd)``) with no writer: ``smoke run`` blocked in ``open`` on the event loop,
    ignoring --max-time and SIGTERM until a writer came. It is read off the loop: --max-time is
    exit 5 naming the suite, SIGTERM exit 130. A pipe that delivers a suite still runs it."""
    import os

    fifo = tmp_path / "suite.fifo"
    os.mkfifo(fifo)

    def start(*extra: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "a2actl", "smoke", "run", str(fifo), *extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    for extra, signalled, code in ((("--max-time", "1"), False, 5), ((), True, 130)):
        proc = start(*extra)
        try:
            if signalled:
                time.sleep(1.5)
                proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=15)
        finally:
            if proc.poll() is None:  # blocked for good: give it its writer so it can end
                with open(fifo, "w") as w:
                    w.write("x\n")
                proc.communicate(timeout=15)
        assert proc.returncode == code, err
        assert ("still being read" in err) if code == 5 else ("interrupted" in err), err
    (tmp_path / "empty.jsonl").write_text("")
    body = f"checks: [{{kind: dlq-depth, source: {tmp_path / 'empty.jsonl'}, max: 0}}]\n"
    proc = subprocess.Popen(
        [sys.executable, "-m", "a2actl", "-o", "json", "smoke", "run", str(fifo)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    with open(fifo, "w") as w:
        w.write(body)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert json.loads(out)["passed"] == 1


def test_max_time_counts_the_suites_read_and_its_checks_together(tmp_path: Path) -> None:
    """--max-time bounds the whole run: a suite that takes 2 s to arrive left the checks a fresh
    --max-time of their own (a run with --max-time 3 ended after 5 s)."""
    import os
    import socket
    import threading

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # accepts, never answers: the check runs until the deadline
    fifo = tmp_path / "suite.fifo"
    os.mkfifo(fifo)
    target = f"http://127.0.0.1:{silent.getsockname()[1]}"

    def late_writer() -> None:
        time.sleep(2)
        with open(fifo, "w") as w:
            w.write(f"target: {target}\nchecks: [{{kind: probe, name: hangs}}]\n")

    threading.Thread(target=late_writer, daemon=True).start()
    started = time.monotonic()
    try:
        r = subprocess.run(
            [sys.executable, "-m", "a2actl", "--max-time", "3", "-o", "json", "smoke", "run", str(fifo)],
            capture_output=True,
            text=True,
            timeout=30,
        )
    finally:
        silent.close()
    elapsed = time.monotonic() - started
    assert r.returncode == 5, r.stderr
    assert elapsed < 4.5, elapsed  # ~3 s of a2actl plus its start-up; it was 5 s
    assert json.loads(r.stdout)["results"][0]["status"] == "error"


@pytest.mark.parametrize("debug", [False, True])
def test_an_unexpected_error_in_one_check_is_that_checks_error(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, debug: bool
) -> None:
    """A bug (any exception that is not an a2actl error) inside one check ended the whole run with
    exit 1 "unexpected ValueError" and no JUnit file: CI had no report at all. It is that check's
    ``error`` (the exception's type and message in the row, one line on stderr; with ``--debug`` the
    traceback too); the other checks still run, the JUnit file is written and the exit is 7."""
    import a2actl.smoke.checks as checks

    async def broken(*_a: Any, **_k: Any) -> Any:
        raise ValueError("boom")

    monkeypatch.setattr(checks, "_probe", broken)
    (tmp_path / "dlq.jsonl").write_text("")
    path = suite(
        tmp_path,
        "targets: [http://127.0.0.1:9]\nchecks:\n  - name: buggy\n    kind: probe\n"
        f"  - name: drained\n    kind: dlq-depth\n    source: {tmp_path / 'dlq.jsonl'}\n    max: 0\n",
    )
    out = tmp_path / "junit.xml"
    r = run(cli, path, "--junit", str(out), *(["--debug"] if debug else []))
    assert r.exit_code == 7, r.stdout + r.stderr
    doc = r.json
    assert (doc["exitCode"], doc["passed"], doc["errors"]) == (7, 1, 1)
    bad, good = doc["results"]
    assert (bad["name"], bad["status"], good["status"]) == ("buggy", "error", "pass")
    assert bad["message"] == "unexpected ValueError: boom"
    assert bad["details"]["exception"] == {"type": "ValueError", "message": "boom"}
    cases_ = [case for ts in JUnitXml.fromfile(str(out)) for case in ts]
    assert [c.name for c in cases_] == ["buggy", "drained"]
    assert isinstance(cases_[0].result[0], Error) and not cases_[1].result
    assert "unexpected ValueError: boom" in cases_[0].result[0].message
    said = [x for x in r.stderr.splitlines() if x.startswith("a2actl: ")]
    assert said == [
        "a2actl: check 'buggy' (http://127.0.0.1:9): unexpected ValueError: boom"
        + ("" if debug else " (rerun with --debug for a traceback)")
    ], r.stderr
    assert ("Traceback" in r.stderr) is debug
    if not debug:
        assert len(r.stderr.splitlines()) == 1, r.stderr


def test_an_empty_junit_path_is_a_usage_error(cli: Any, tmp_path: Path) -> None:
    """``--junit ""`` (an unset variable in ``--junit "$REPORT"``) ran the suite and wrote no JUnit
    file, silently: CI then found no report."""
    (tmp_path / "dlq.jsonl").write_text("")
    path = suite(
        tmp_path, f"checks:\n  - kind: dlq-depth\n    source: {tmp_path / 'dlq.jsonl'}\n    max: 0\n"
    )
    r = run(cli, path, "--junit", "")
    assert r.exit_code == 2, r.stdout + r.stderr
    assert r.json["error"]["message"] == "--junit: an empty path"
    assert "results" not in r.json  # refused before the run


@pytest.mark.parametrize("fmt", ["json", "table"])
def test_junit_dash_is_refused_before_the_run(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    """``--junit -`` (stdout, as ``-`` is for SUITE) ran the suite and wrote a file named ``-`` in
    the current directory; stdout carries the results table or document, which JUnit XML on it
    would corrupt. It is exit 2, one line, before any check runs, and no file is left."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "dlq.jsonl").write_text("")
    path = suite(tmp_path, "checks:\n  - kind: dlq-depth\n    source: file://dlq.jsonl\n    max: 0\n")
    r = cli("-o", fmt, "smoke", "run", path, "--junit", "-")
    assert r.exit_code == 2, r.stdout + r.stderr
    assert r.stderr.splitlines() == [
        "a2actl: --junit -: JUnit XML goes to a file (standard output carries the results) "
        "(hint: --junit smoke.xml, the file a CI JUnit reporter reads)"
    ]
    if fmt == "json":
        assert "results" not in r.json
    assert not (tmp_path / "-").exists()


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize("fmt", ["json", "table"])
def test_a_junit_file_that_fails_at_write_time_keeps_the_results(cli: Any, tmp_path: Path, fmt: str) -> None:
    """A write that only fails at the end (``/dev/full``, a disk that filled during the run) was an
    error line alone (exit 2): the results the suite measured never reached stdout in table mode,
    and ``-o json`` had them beside an error object. Now the results are written as always, with
    the write error on stderr (and ``junitError`` in ``-o json``); the exit is 2."""
    (tmp_path / "dlq.jsonl").write_text("")
    path = suite(
        tmp_path,
        f"checks:\n  - name: drained\n    kind: dlq-depth\n    source: {tmp_path / 'dlq.jsonl'}\n    max: 0\n",
    )
    r = cli("smoke", "run", path, "-o", fmt, "--junit", "/dev/full")
    assert r.exit_code == 2, r.stdout + r.stderr
    assert r.stderr.splitlines() == ["a2actl: --junit /dev/full: cannot write: No space left on device"]
    if fmt == "json":
        doc = r.json
        assert "error" not in doc and "junit" not in doc
        assert (doc["exitCode"], doc["passed"]) == (2, 1)
        assert doc["junitError"] == "--junit /dev/full: cannot write: No space left on device"
        assert [x["name"] for x in doc["results"]] == ["drained"]
    else:
        assert "drained" in r.stdout and "1 passed, 0 failed, 0 errors" in r.stdout
        assert "JUnit: /dev/full" not in r.stdout


@pytest.mark.parametrize("stop", ["max-time", "SIGTERM"])
def test_a_catastrophic_expect_text_is_still_bounded(sandbox: Any, tmp_path: Path, stop: str) -> None:
    """``expectText: (a+)+$`` against an answer of 40 a's and a b backtracks for ages; ``re.search``
    ran on the event loop, so neither ``--max-time`` nor SIGTERM could end the run (the process
    outlived both, with no JUnit file). The match runs in a child process that is killed when the
    run is stopped: exit 5 / 130, and the JUnit file names the check cut short."""
    path = suite(
        tmp_path,
        f"targets: [{sandbox.url}]\nchecks:\n  - name: quick\n    kind: send\n    text: hello\n"
        f"    expectText: 'echo: h.llo'\n  - name: greedy\n    kind: send\n    text: {'a' * 40}b\n"
        "    expectText: '(a+)+$'\n",
    )
    out = tmp_path / "junit.xml"
    extra = ["--max-time", "4"] if stop == "max-time" else []
    proc = subprocess.Popen(
        [sys.executable, "-m", "a2actl", "-o", "jsonl", "smoke", "run", path, "--junit", str(out), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    started = time.monotonic()
    try:
        assert proc.stdout is not None
        first = json.loads(proc.stdout.readline())  # the quick check's record: the greedy one runs now
        assert (first["name"], first["status"]) == ("quick", "pass"), first
        if stop == "SIGTERM":
            time.sleep(1)
            proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == (5 if stop == "max-time" else 130), err
    assert time.monotonic() - started < 20
    cases_ = [case for ts in JUnitXml.fromfile(str(out)) for case in ts]
    assert [c.name for c in cases_] == ["quick", "greedy"]
    assert not cases_[0].result and isinstance(cases_[1].result[0], Error)
    assert ("--max-time 4s reached" if stop == "max-time" else "interrupted") in cases_[1].result[0].message


# -- smoke init against odd cards -----------------------------------------------------------------

#: Card variants the proxy serves at ``/<name>/.well-known/agent-card.json``: the sandbox's card with
#: its skills' examples replaced (the RPCs go to the sandbox itself, as its card says).
ODD_EXAMPLES: dict[str, list[str]] = {
    "emoji": ["say \U0001f600 please"],  # beyond the BMP: JSON writes it as a surrogate pair
    "controls": ["tab\there, C1 \x85 and \x9f, line separator \u2028 end"],
    "yamlish": ['key: value # not a comment\n- "quoted" \\ back'],
    "message": ["/msg hi"],  # the agent answers a bare Message: there is no task state
    "dollar": ["book a flight to ${city}", "hello"],  # smoke run would read ${city} as a variable
    "dollar-only": ["pay ${AMOUNT}"],
    "none": [],
    "surrogate": ["hello"],  # and the card's name ends in a lone surrogate (a "\ud800" escape)
}


@pytest.fixture(scope="module")
def odd_cards(sandbox: Any) -> Iterator[str]:
    """A card server: ``URL/<name>`` is an agent whose card is the sandbox's with the examples of
    ``ODD_EXAMPLES[name]`` (``dead``: every interface URL points at a closed port)."""
    import httpx
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from tests.servers import LoopbackServer

    card = httpx.get(sandbox.url + "/.well-known/agent-card.json", timeout=10).json()

    def app(_base: str) -> Starlette:
        async def serve(request: Request) -> Response:
            name = request.path_params["name"]
            doc = json.loads(json.dumps(card))
            if name.startswith("dead"):
                doc = json.loads(json.dumps(doc).replace(sandbox.url, "http://127.0.0.1:9"))
                doc["skills"][0]["examples"] = ["hello"] if name == "dead" else []
            else:
                doc["skills"][0]["examples"] = ODD_EXAMPLES[name]
            for skill in doc["skills"][1:]:
                skill["examples"] = []
            if name == "surrogate":
                doc["name"] += " \ud800"
            # json.dumps escapes a lone surrogate (it is no UTF-8: JSONResponse cannot send it)
            return Response(json.dumps(doc), media_type="application/json")

        return Starlette(routes=[Route("/{name}/.well-known/agent-card.json", serve)])

    with LoopbackServer(app) as srv:
        yield srv.url


@pytest.mark.parametrize("name", list(ODD_EXAMPLES))
def test_init_writes_a_suite_that_runs_for_odd_skill_examples(
    cli: Any, odd_cards: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    """What ``smoke init`` writes, ``smoke run`` runs and passes against the same agent. It wrote the
    example as a JSON string: an emoji became two lone surrogates in YAML (the send failed to encode
    them), a C1 control or U+2028 made the file unreadable or changed the text; ``${city}`` in an
    example made ``smoke run`` exit 2 (an unset variable); and ``expectState: completed`` for an agent
    that answers a Message failed the run at once ('state None')."""
    import yaml

    monkeypatch.chdir(tmp_path)
    r = cli("smoke", "init", f"{odd_cards}/{name}", "--samples", "2", "--out", "suite.yaml")
    assert r.exit_code == 0, r.stderr
    doc = yaml.safe_load((tmp_path / "suite.yaml").read_text(encoding="utf-8"))
    sends = [c for c in doc["checks"] if c["kind"] == "send"]
    usable = [ex for ex in ODD_EXAMPLES[name] if "${" not in ex]
    assert [c["text"] for c in sends] == usable[:1]
    if name == "message":
        assert "expectState" not in sends[0]
    if len(usable) < len(ODD_EXAMPLES[name]):
        assert "${" in r.stderr and "smoke run reads ${NAME} as an environment variable" in r.stderr
    ok = cli("smoke", "run", "suite.yaml", "-o", "json")
    assert ok.exit_code == 0, ok.stdout[-800:] + ok.stderr
    assert [x["kind"] for x in ok.json["results"]] == ["probe", "caps-diff", *(["send"] if usable else [])]


def test_init_keeps_the_targets_credentials_out_of_the_suite(
    cli: Any, sandbox: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A target with a password or an ``api_key`` went into the suite as given: printed in clear on
    stdout (past the redaction every other output goes through) and written to a file meant for a
    repository, though docs/smoke.md says secrets come from the environment only. They are masked,
    and a note says to give the target in ``TARGET``."""
    monkeypatch.chdir(tmp_path)
    target = sandbox.url.replace("http://", "http://alice:hunter2-pw@") + "/?api_key=s3cr3t-key"
    r = cli("smoke", "init", target, "--samples", "1")
    assert r.exit_code == 0, r.stderr
    for secret in ("hunter2-pw", "s3cr3t-key"):
        assert secret not in r.stdout + r.stderr
    assert "${TARGET:-http://alice:***@" in r.stdout and "TARGET" in r.stderr
    (tmp_path / "suite.yaml").write_text(r.stdout)
    ok = cli("smoke", "run", "suite.yaml", "-o", "json", env={"TARGET": target})
    assert ok.exit_code == 0, ok.stdout[-800:]
    out = cli("smoke", "init", target, "--samples", "1", "--out", "out.yaml", "--force")
    assert out.exit_code == 0, out.stderr
    assert "hunter2-pw" not in (tmp_path / "out.yaml").read_text()


def test_a_failed_init_leaves_no_snapshot_behind(cli: Any, odd_cards: str, tmp_path: Path) -> None:
    """The snapshot was written first: an init that then failed (here the agent's RPC interface is
    unreachable, exit 3) left ``expected-caps.json``, and the next try was refused without --force."""
    r = cli("smoke", "init", f"{odd_cards}/dead", "--samples", "1", "--out", str(tmp_path / "suite.yaml"))
    assert r.exit_code == 3, r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_init_does_not_invent_a_probe_measurement(cli: Any, odd_cards: str, tmp_path: Path) -> None:
    """Every probe sample failed: the suite's comment said 'measured total p99 100.0 ms' (a fallback
    figure) and init said nothing. The comment says no sample succeeded, a note says why, and the
    budget is the 250 ms floor."""
    r = cli("smoke", "init", f"{odd_cards}/dead-none", "--samples", "2", "--out", str(tmp_path / "s.yaml"))
    assert r.exit_code == 0, r.stderr
    text = (tmp_path / "s.yaml").read_text()
    assert "measured total p99" not in text and "no probe sample succeeded" in text
    assert "budget: 250ms" in text
    assert "note: the probe failed: 2 of 2 samples (unreachable 2)" in r.stderr


def test_validate_max_time_bounds_a_suite_that_never_arrives(tmp_path: Path) -> None:
    """smoke validate FIFO (or <(cmd)) nobody writes: read on the main thread, it ignored
    --max-time. Now exit 5, one line."""
    import os

    from tests.fifo import run_a2actl

    fifo = tmp_path / "suite.fifo"
    os.mkfifo(fifo)
    ran = run_a2actl("--max-time", "1.5s", "-o", "json", "smoke", "validate", str(fifo))
    assert ran.code == 5, (ran.out[-500:], ran.err[-500:])
    assert json.loads(ran.out)["error"]["message"].startswith("gave up after --max-time 1.5s")
    assert ran.elapsed < 10, ran.elapsed


def test_init_writes_a_snapshot_without_the_card_interfaces_credentials(
    cli: Any, fault: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, forget_secrets: Any
) -> None:
    """The snapshot ``smoke init`` writes beside the suite (to be committed) held the card's interface
    URL as served, password and ``token`` included (written past the output's redaction). It holds
    them masked, and ``smoke run`` still passes against the same agent."""
    from tests.servers import IFACE_CREDENTIALS, iface_url, secret_fragments

    monkeypatch.chdir(tmp_path)
    card = f"{fault}/credsiface/agent-card.json"
    r = cli("smoke", "init", card, "--samples", "1", "--out", "suite.yaml")
    assert r.exit_code == 0, r.stderr
    text = (tmp_path / "expected-caps.json").read_text()
    assert json.loads(text)["interfaces"]["JSONRPC@1.0"]["url"] == iface_url(fault)
    for piece in secret_fragments(*IFACE_CREDENTIALS["credsiface"]):
        assert piece not in text and piece not in r.stdout + r.stderr, piece
    ok = cli("smoke", "run", "suite.yaml", "-o", "json")
    assert ok.exit_code == 0, ok.stdout[-800:]
    assert [x["kind"] for x in ok.json["results"]] == ["probe", "caps-diff"]


def test_a_stream_check_ended_by_an_error_frame_leaves_nothing_on_stderr(
    streams: str, tmp_path: Path
) -> None:
    """A stream that ends with a JSON-RPC error frame, then more checks in the same run: the checks
    fail with the agent's error and stderr stays empty. The stream's SSE reader, collected during the
    run, was closed by an ``aclose()`` task of asyncio's finalizer that raced its parent's close and
    printed "Task exception was never retrieved ... already running" with a traceback."""
    target = streams + "/errframe/agent-card.json"
    checks = "".join(
        f"  - name: s{i}\n    kind: {kind}\n    text: hi\n"
        for i, kind in enumerate(["stream", "send", "stream", "stream"])
    )
    # its own process, as an operator runs it: the finalizer's task is collected, and logged, there
    r, _ = a2actl_run(
        "smoke", "run", suite(tmp_path, f"targets: [{target}]\nchecks:\n{checks}"), "-o", "json"
    )
    assert r.returncode == 7, r.stdout[-600:]
    streamed = [res for res in json.loads(r.stdout)["results"] if res["name"] != "s1"]
    assert [res["status"] for res in streamed] == ["error"] * 3, r.stdout[-600:]
    assert all("-32603" in res["message"] for res in streamed)
    assert r.stderr == "", r.stderr


def test_validate_has_a_default_deadline(tmp_path: Path) -> None:
    """smoke validate FIFO without --max-time waited for ever (only Ctrl-C ended it), where every
    other command reading such a file (fleet report, load report, caps lint --config) gives up at
    its default deadline. Every default is shortened to 1.5 s in the child."""
    import os

    from tests.fifo import run_a2actl

    fifo = tmp_path / "suite.fifo"
    os.mkfifo(fifo)
    shorten = (
        "from a2actl.cli import context\nfor k in context.DEFAULT_MAX_TIME: context.DEFAULT_MAX_TIME[k] = 1.5"
    )
    ran = run_a2actl("-o", "json", "smoke", "validate", str(fifo), prelude=shorten, timeout=10)
    assert ran.code == 5, (ran.code, ran.out[-500:], ran.err[-500:])
    message = json.loads(ran.out)["error"]["message"]
    assert message == "gave up after --max-time 1.5s (the default for 'smoke validate')"


@pytest.mark.parametrize("option", ["--out", "--snapshot"])
def test_init_to_a_fifo_nobody_reads_is_bounded(sandbox: Any, tmp_path: Path, option: str) -> None:
    """smoke init --out/--snapshot FIFO --force with no reader: the write blocked the event loop in
    open(), past --max-time and one SIGTERM (only a second signal ended it). Now exit 5 at
    --max-time, 130 on one SIGTERM."""
    import os

    from tests.fifo import run_a2actl

    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    other = "--snapshot" if option == "--out" else "--out"
    argv = [
        "smoke",
        "init",
        sandbox.url,
        "--samples",
        "1",
        option,
        str(fifo),
        other,
        str(tmp_path / "f"),
        "--force",
    ]
    ran = run_a2actl("--max-time", "3s", "-o", "json", *argv)
    assert ran.code == 5, (ran.code, ran.out[-500:], ran.err[-500:])
    assert json.loads(ran.out)["error"]["message"].startswith("gave up after --max-time 3s")
    ran = run_a2actl(*argv, term_after=3, timeout=12)
    assert ran.code == 130, (ran.code, ran.err[-500:])


def test_init_to_a_full_disk_is_exit_2_naming_the_file(cli: Any, sandbox: Any, tmp_path: Path) -> None:
    """A write that fails (/dev/full: a disk that filled) was exit 1 'unexpected OSError'."""
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full here")
    r = cli(
        "smoke", "init", sandbox.url, "--samples", "1", "--out", "/dev/full",
        "--snapshot", str(tmp_path / "caps.json"), "--force", "-o", "json",
    )  # fmt: skip
    assert r.exit_code == 2, r.stdout + r.stderr
    assert r.json["error"]["message"] == "--out /dev/full: cannot write: No space left on device"


def test_init_to_a_full_stdout_is_exit_2_naming_it(sandbox: Any, tmp_path: Path) -> None:
    """``smoke init URL > /dev/full`` (the suite on stdout) was exit 1 'unexpected OSError: [Errno
    28] …': it bypasses Output to print the suite as generated. Exit 2, one line naming stdout."""
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full here")
    argv = ["smoke", "init", sandbox.url, "--samples", "1", "--snapshot", str(tmp_path / "caps.json")]
    with open("/dev/full", "wb") as full:
        done = subprocess.run(
            [sys.executable, "-m", "a2actl", *argv],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
        )
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == ["a2actl: standard output: cannot write: No space left on device"]


# ------------------------------------------------------------------ a suite on standard input (-)


def _stdin_run(args: list[str], text: str) -> Any:
    """``a2actl ARGS`` in-process with ``text`` on standard input."""
    from typer.testing import CliRunner

    from a2actl.cli.app import app
    from tests.conftest import Result

    r = CliRunner().invoke(app, args, input=text, catch_exceptions=False)
    return Result(r.exit_code, r.stdout, r.stderr)


def test_a_suite_on_stdin_runs_and_its_files_are_relative_to_the_current_directory(
    cli: Any, sandbox: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``cat suite.yaml | a2actl smoke run -`` read a file named ``-``: "cannot read suite -",
    exit 2. The suite is read from stdin (``<stdin>`` in the results), and the ``expect`` file it
    names is found in the current directory; ``smoke validate -`` alike."""
    (tmp_path / "caps.json").write_text(cli("caps", "snapshot", sandbox.url).stdout)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    body = f"targets: [{sandbox.url}]\nchecks:\n  - name: caps\n    kind: caps-diff\n    expect: caps.json\n"
    monkeypatch.chdir(tmp_path)
    junit = tmp_path / "junit.xml"
    r = _stdin_run(["smoke", "run", "-", "-o", "json", "--junit", str(junit)], body)
    assert r.exit_code == 0, r.stdout[-800:] + r.stderr
    assert r.json["path"] == "<stdin>"
    assert [(c["name"], c["status"]) for c in r.json["results"]] == [("caps", "pass")]
    assert [case.name for ts in JUnitXml.fromfile(str(junit)) for case in ts] == ["caps"]
    r = _stdin_run(["smoke", "validate", "-", "-o", "json"], body)
    assert r.exit_code == 0 and r.json["path"] == "<stdin>", r.stderr
    monkeypatch.chdir(elsewhere)  # no caps.json here: a bad suite (exit 2), before any check runs
    r = _stdin_run(["smoke", "run", "-", "-o", "json"], body)
    assert r.exit_code == 2 and "results" not in r.json, r.stdout[-800:]
    assert (
        r.json["error"]["message"]
        == f"<stdin>:3: caps: expect 'caps.json': not found: {elsewhere / 'caps.json'}"
    )
    assert r.json["error"]["hint"] == "expect is relative to the current directory"
    # a bad suite on stdin is named <stdin>, with its line
    r = _stdin_run(["-o", "json", "smoke", "validate", "-"], body.replace("caps.json", "caps.json\n    x: 1"))
    assert r.exit_code == 2 and r.json["error"]["message"].startswith("<stdin>:3: "), r.stdout


@pytest.mark.parametrize("stdin", ["empty", "closed", "terminal"])
@pytest.mark.parametrize("cmd", ["run", "validate"])
def test_a_suite_on_no_stdin_is_a_usage_error(cmd: str, stdin: str) -> None:
    """``smoke run -`` with nothing piped in: an empty stdin (``</dev/null``), a closed one
    (``<&-``) or a terminal (nobody piped a suite; it would wait for one typed) is one line, exit 2."""
    import os
    import pty

    argv = [sys.executable, "-m", "a2actl", "smoke", cmd, "-"]
    kw: dict[str, Any] = {"capture_output": True, "text": True, "timeout": 30}
    if stdin == "terminal":
        leader, follower = pty.openpty()
        try:
            r = subprocess.run(argv, stdin=follower, **kw)
        finally:
            os.close(leader)
            os.close(follower)
    elif stdin == "closed":
        r = subprocess.run(argv, stdin=subprocess.DEVNULL, preexec_fn=lambda: os.close(0), **kw)  # noqa: PLW1509
    else:
        r = subprocess.run(argv, stdin=subprocess.DEVNULL, **kw)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr
    expected = {
        "empty": "a2actl: suite '-': standard input was empty",
        "closed": "a2actl: suite '-' reads standard input, which is closed",
        "terminal": "a2actl: suite '-' reads standard input, which is a terminal",
    }[stdin]
    assert lines[0].startswith(expected + " (hint: pipe the suite in"), lines[0]
