"""The console-block runner (tests/docs/console.py) itself: parsing, the matching and exit-status
conventions, skips, and that a document's background jobs die with its session."""

from __future__ import annotations

import os
import textwrap
import time
from pathlib import Path

import pytest
from sybil import Sybil
from sybil.example import SybilFailure
from sybil.parsers.markdown import CodeBlockParser

from tests.docs.console import Command, evaluate, line_pattern, match_output, parse_block, teardown


@pytest.mark.parametrize(
    ("doc", "real"),
    [
        ("TCP connect   1.2ms  █", "TCP connect      1.4ms   ███"),
        ("card TTFB     1.5ms   █", "card TTFB        8.00s   ████████████████████████████████████████"),
        ("DNS lookup      0µs", "DNS lookup         0µs"),
        (
            "04:06:59.842    +25.5ms  task            submitted           449 B",
            "00:40:58.037    +12.8ms  task            submitted           451 B",
        ),
        (
            "budget      FAIL total p99 8.01s is over the 5.00s budget; card TTFB used 8.00s of it",
            "budget      FAIL total p99 8.02s is over the 5.00s budget; card TTFB used 8.00s of it",
        ),
        (
            "  dlq-…   SendMessage   order-1     0.6s   3          transient -32603",
            "dlq-5f94e6e88e179127   SendMessage   order-1     4.4s   3          transient -32603",
        ),
        ("events 5 (1.8 KiB, largest 513 B)", "events 5 (12 KiB, largest 1.1 MiB)"),
        (
            "protocol version 0.3 dropped: ...",
            "protocol version 0.3 dropped: clients that speak only it cannot call the agent",
        ),
    ],
)
def test_lines_that_match(doc: str, real: str) -> None:
    assert line_pattern(doc).fullmatch(real.strip())


@pytest.mark.parametrize(
    ("doc", "real"),
    [
        ("7", "0"),  # echo $? and other bare numbers are exact
        ("acknowledged        3", "acknowledged        2"),
        ("declares 1.0, 0.3", "declares 1.0"),  # versions are not measurements
        ("http://127.0.0.1:9999/a2a", "http://127.0.0.1:9998/a2a"),  # ports are exact
        ("no changes", "no changes at all"),  # a whole line, not a substring
        ("p99 8.01s", "p99 n/a"),
    ],
)
def test_lines_that_do_not_match(doc: str, real: str) -> None:
    assert not line_pattern(doc).fullmatch(real.strip())


def test_output_lines_match_in_order_with_gaps() -> None:
    real = "a\nb 1ms\nc\nd\n"
    assert match_output(["a", "c"], real) is None
    assert match_output(["b 9ms", "d"], real) is None
    assert match_output(["c", "a"], real) == "a"


def test_parse_block() -> None:
    src = textwrap.dedent("""\
        $ a2actl sandbox serve --port 9998 --handshake-delay 8s &   # a server
        $ a2actl handshake probe http://127.0.0.1:9998 --budget 5s
        budget      FAIL …

        ...
        $ echo $?
        7
        $ a2actl send URL /fail --fail-on failed   # exit 7: failed
        $ a2actl caps diff A B   # exit 7 on a breaking change
        $ for i in 1 2; do \\
        >   echo $i; done
        """)
    cmds = parse_block(src, 10)
    assert [c.line for c in cmds] == [10, 11, 15, 17, 18, 19]
    assert cmds[0].background and cmds[0].ports == [9998] and not cmds[1].background
    assert cmds[1].output == ["budget      FAIL …"] and cmds[2].output == ["7"]
    assert cmds[2].is_echo_status
    assert [c.pinned_exit for c in cmds] == [None, None, None, 7, None, None]
    assert cmds[5].text == "for i in 1 2; do \\\n  echo $i; done"
    with pytest.raises(ValueError, match="before the first"):
        parse_block("output\n$ true\n", 1)
    assert Command("kill %%; a2actl sandbox serve --port=9996 &").ports == [9996]


def _run_doc(tmp_path: Path, text: str) -> list[str]:
    """Evaluate every console block of a Markdown text the way the doc tests do: 'ok', 'skip: …' or 'fail: …'."""
    doc = tmp_path / "doc.md"
    doc.write_text(textwrap.dedent(text))
    document = Sybil(parsers=[CodeBlockParser(language="console", evaluator=evaluate)]).parse(doc)
    results = []
    try:
        for example in document.examples():
            try:
                example.evaluate()
                results.append("ok")
            except SybilFailure as exc:
                results.append(f"fail: {exc.result}")
            except pytest.skip.Exception as exc:
                results.append(f"skip: {exc.msg}")
            except pytest.fail.Exception as exc:
                results.append(f"fail: {exc.msg}")
    finally:
        teardown(document.namespace)
    return results


def test_a_document_runs_in_one_session(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    results = _run_doc(
        tmp_path,
        f"""\
        # doc

        ```console
        $ X=hello; mkdir sub && cd sub
        $ sleep 300 &
        $ echo $! > {pidfile}
        $ echo "$X from $(basename "$PWD")"
        hello from sub
        $ (exit 3)
        $ echo $?
        3
        $ false   # exit 1: pinned
        ```

        ```sh
        this is not run
        ```

        *(not run in CI: needs a real deployment)*

        ```console
        $ curl https://agent.example.com
        ```

        ```console
        $ echo "the output"; exit_status_is_127_here
        the output
        $ echo $?
        0
        ```
        """,
    )
    assert results[:2] == ["ok", "skip: doc.md:21: not run in CI: needs a real deployment"]
    # `echo $?` states the status: the command itself is not checked against 0, the shown line is
    assert results[2].startswith(
        "fail: line 28: $ echo $?\n  this line was not in the output (in order): '0'"
    )
    assert "exit status 127" not in results[2]
    pid = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and Path(f"/proc/{pid}").exists() and "Z" not in _state(pid):
        time.sleep(0.05)
    assert not Path(f"/proc/{pid}").exists() or "Z" in _state(pid), "the background job outlived its document"


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return "Z"


def test_failures_say_what_differed(tmp_path: Path) -> None:
    results = _run_doc(
        tmp_path,
        """\
        ```console
        $ echo one; exit_code_is_nonzero_here
        one
        $ echo two
        three
        $ true   # exit 2: says the doc
        ```
        """,
    )
    assert len(results) == 1 and results[0].startswith("fail: ")
    msg = results[0]
    assert "line 2: $ echo one; exit_code_is_nonzero_here\n  exit status 127, expected 0" in msg
    assert "line 4: $ echo two\n  this line was not in the output (in order): 'three'" in msg
    assert "line 6: $ true   # exit 2: says the doc\n  exit status 0, expected 2" in msg


def test_a_taken_port_fails_the_document_clearly(tmp_path: Path) -> None:
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    port = s.getsockname()[1]
    try:
        results = _run_doc(
            tmp_path,
            f"""\
            ```console
            $ a2actl sandbox serve --port {port} &
            ```
            """,
        )
    finally:
        s.close()
    assert results == [
        f"fail: doc.md: port(s) in use by another process: {port} (needed by line 2); "
        "stop it, then run the doc tests again"
    ]


def test_a_server_that_dies_is_reported(tmp_path: Path) -> None:
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    results = _run_doc(
        tmp_path,
        f"""\
        ```console
        $ a2actl sandbox serve --port {port} --no-such-option &
        ```
        """,
    )
    assert results[0].startswith("fail: ") and "the server exited" in results[0]
    assert "No such option" in results[0] or "no such option" in results[0].lower()


@pytest.mark.skipif(os.name != "posix", reason="bash sessions")
def test_a_command_that_hangs_stops_the_session(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tests.docs.console as console

    monkeypatch.setattr(console, "COMMAND_TIMEOUT", 1.0)
    results = _run_doc(
        tmp_path,
        """\
        ```console
        $ echo before; sleep 30
        ```

        ```console
        $ echo after
        ```
        """,
    )
    assert (
        results[0].startswith("fail: ")
        and "did not finish within 1s" in results[0]
        and "before" in results[0]
    )
    assert results[1].startswith("fail: not run: an earlier block broke the session")


def test_a_missing_tool_leaves_out_its_command_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tests.docs.console as console

    monkeypatch.setattr(console, "TOOLS", ("no-such-tool-a2actl",))
    doc = """\
        ```console
        $ echo made > file
        $ no-such-tool-a2actl file
        $ cat file
        made
        ```
        """
    monkeypatch.delenv("CI", raising=False)
    assert _run_doc(tmp_path, doc) == [
        "skip: doc.md:1: the rest ran as shown; line 3: not run, no-such-tool-a2actl "
        "not installed (apt-get install -y no-such-tool-a2actl)"
    ]
    monkeypatch.setenv("CI", "true")
    assert _run_doc(tmp_path, doc) == [
        "fail: line 3: not run, no-such-tool-a2actl not installed (apt-get install -y no-such-tool-a2actl)"
    ]
