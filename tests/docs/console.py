"""Executable docs: every ```console block of README.md and docs/*.md runs in one bash session per
document, against sandboxes the document itself starts, and each command's exit status and key
output lines are checked. Collected by the root ``conftest.py`` (pytest ``testpaths`` lists
``README.md`` and ``docs``), so ``python -m pytest -q`` runs them; alone: ``python -m pytest README.md docs``.

Tool: Sybil (https://sybil.readthedocs.io; well kept, pytest integration, per-document namespace,
setup and teardown). It finds the Markdown fenced blocks, makes each one a pytest item in document
order and tears the document down at its end; this module is the ``console`` evaluator. The
alternatives: pytest-markdown-docs runs Python blocks only; prysk/cram run ``.t`` transcripts (the
docs would have to be copied into ``.t`` files or kept twice, and their exact-output matching with
regex escapes fits timings and ids badly); a hand-written Markdown parser was not needed.

What runs: ```console blocks only, in document order, in one ``bash`` per document (so ``&`` jobs,
``%%``, variables and ``cd`` carry over), started in a fresh temporary directory with the venv of
this Python first on ``PATH``, ``NO_COLOR=1``, no ``COLUMNS`` (a2actl then prints tables at their
natural width, as in a wide terminal), no ``A2ACTL_*`` variables and ``XDG_STATE_HOME`` inside the
temp dir. Other blocks are not transcripts and are not run: README's ``bash`` set-up commands (.ci/run
runs the test one itself), the ``sh`` synopses with placeholders in docs/caps.md (``caps diff
TARGET --expect …``) and docs/dlq.md (``dlq list SRC [--since …]``), ``yaml`` suite and workflow
files, ``json`` shapes and the ``python`` mounting example.
Generated pages are not collected: docs/cli-reference.md (scripts/gen_cli_docs.py) and
docs/interop.md (tests/interop).

Conventions (for doc writers):

* ``$ command`` starts a command; a line ending in ``\\`` continues it on the next line (a leading
  ``> `` prompt there is dropped). Every other line up to the next ``$`` is the command's expected
  output (stdout and stderr together). A command gets 60 s; one that hangs ends the session.
* Exit status: 0, unless the command has a trailing comment that starts with ``exit N`` followed by
  ``:`` or the end of the line (``# exit 7: over budget``), or the next command is ``echo $?``, whose
  output line then states it. Prose such as ``# exit 7 on a leak`` states nothing (it is a
  condition, not this run's outcome).
* Output: each non-blank line shown must match a line of the real output (stripped), in the order
  shown; real lines in between are skipped, so a doc shows the key lines only. A line that is only
  ``...`` marks omitted lines and is not checked. Within a line: ``...`` or ``…`` matches any text;
  a run of spaces matches any run of spaces (column widths vary); a run of bar glyphs (█ ▏…▉) with
  the spaces around it matches any bar; a measurement matches any measurement: a number with a
  time unit glued to it (``0µs``, ``1.2ms``, ``+25.5ms``, ``8.01s``, ``5m``), a size (``449 B``,
  ``1.8 KiB``) or a time of day (``04:06:59.842``). Other numbers (counts, ports, versions, error
  codes, the output of ``echo $?``) must be exact. Ids that vary are written ``…`` (``dlq-…``).
* A command ending in ``&`` with ``--port N`` is a server: the runner waits (30 s at most) until it
  has printed something and 127.0.0.1:N accepts connections, as a reader waits for
  ``sandbox agent listening on …``. Before a document runs, every such port must be free, else its
  examples fail saying which port is taken. At the end of the document (also after a failure) the
  session's whole process group is killed, so no server outlives its document.
* A block that cannot run here (a real deployment, remote hosts) has the visible line
  ``*(not run in CI: why)*`` right above it and is reported as skipped with that reason.
* Commands need ``bash``, and ``curl``/``jq`` where the docs use them: a command whose tool is
  missing is left out (the rest of its block runs), and the block is skipped saying so, or fails
  in CI (``CI=true``).
"""

from __future__ import annotations

import atexit
import os
import queue
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

NOT_RUN = re.compile(r"^\*\(not run in CI: (?P<why>.+)\)\*$")
PINNED_EXIT = re.compile(r"(?:^|\s)#\s*exit (?P<code>\d+)\s*(?::|$)")
COMMAND_TIMEOUT = 60.0
SERVER_TIMEOUT = 30.0
TOOLS = ("curl", "jq")

# Within a doc line: wildcards, measurements, bar runs, space runs; everything else is literal.
_TIME = r"[+-]?\d+(?:\.\d+)?(?:µs|us|ns|ms|s|m|h)(?![A-Za-z])"
_SIZE = r"[+-]?\d+(?:\.\d+)? ?(?:B|KiB|MiB|GiB)(?![A-Za-z])"
_CLOCK = r"\d{1,2}:\d\d:\d\d(?:\.\d+)?"
_MEASURE = f"(?:{_CLOCK}|{_SIZE}|{_TIME})"
_BAR = "\u2588-\u258f"
_TOKEN = re.compile(
    rf"(?P<wild>\.\.\.|…)|(?P<measure>(?<![\w.]){_MEASURE})|(?P<bar>[ \t]*[{_BAR}][{_BAR} \t]*)|(?P<space>[ \t]+)"
)


def line_pattern(doc_line: str) -> re.Pattern[str]:
    """The regular expression a doc output line stands for (see the conventions above)."""
    doc_line = doc_line.strip()
    out, pos = [], 0
    for m in _TOKEN.finditer(doc_line):
        out.append(re.escape(doc_line[pos : m.start()]))
        if m.group("wild"):
            out.append(".*?")
        elif m.group("measure"):
            out.append(_MEASURE)
        elif m.group("bar"):
            out.append(rf"[{_BAR}\s]*")
        else:
            out.append(r"\s+")
        pos = m.end()
    out.append(re.escape(doc_line[pos:]))
    return re.compile("".join(out))


def match_output(expected: list[str], actual: str) -> str | None:
    """None when every expected line matches a line of ``actual`` in order, else the first one that does not."""
    lines = [line.strip() for line in actual.splitlines()]
    i = 0
    for want in expected:
        pat = line_pattern(want)
        while i < len(lines) and not pat.fullmatch(lines[i]):
            i += 1
        if i == len(lines):
            return want
        i += 1
    return None


@dataclass
class Command:
    text: str
    line: int = 0  # 1-based line in the document
    output: list[str] = field(default_factory=list)

    @property
    def tokens(self) -> list[str]:
        lex = shlex.shlex(self.text, posix=True, punctuation_chars=True)
        lex.whitespace_split = True
        try:
            return list(lex)
        except ValueError:
            return []

    @property
    def background(self) -> bool:
        toks = self.tokens
        return bool(toks) and toks[-1] == "&"

    @property
    def ports(self) -> list[int]:
        toks, ports = self.tokens, []
        for a, b in zip(toks, toks[1:] + [""], strict=True):
            if a == "--port" and b.isdigit():
                ports.append(int(b))
            elif a.startswith("--port=") and a[7:].isdigit():
                ports.append(int(a[7:]))
        return ports

    @property
    def pinned_exit(self) -> int | None:
        last = self.text.splitlines()[-1]
        m = PINNED_EXIT.search(last)
        return int(m.group("code")) if m else None

    @property
    def is_echo_status(self) -> bool:
        return self.tokens == ["echo", "$?"]


def parse_block(source: str, first_line: int) -> list[Command]:
    """Commands of a console block; ``first_line`` is the document line of the block's first line."""
    cmds: list[Command] = []
    lines = source.splitlines()
    i = 0
    while i < len(lines):
        raw, lineno = lines[i], first_line + i
        if raw.startswith("$ ") or raw == "$":
            text = raw[2:]
            while text.endswith("\\") and i + 1 < len(lines):
                i += 1
                nxt = lines[i]
                text += "\n" + (nxt[2:] if nxt.startswith("> ") else nxt)
            cmds.append(Command(text, lineno))
        elif raw.strip() and raw.strip() not in ("...", "…"):
            if not cmds:
                raise ValueError(f"line {lineno}: output before the first '$ ' command: {raw!r}")
            cmds[-1].output.append(raw)
        i += 1
    return cmds


def not_run_reason(example: Any) -> str | None:
    before = example.document.text[: example.start].rstrip().rsplit("\n", 1)[-1].strip()
    m = NOT_RUN.match(before)
    return m.group("why") if m else None


def _port_taken(port: int) -> bool:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT leftovers are no obstacle
    try:
        s.bind(("127.0.0.1", port))
        return False
    except OSError:
        return True
    finally:
        s.close()


def _accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        try:
            os.kill(pid, 0)
            return True
        except OSError:
            return False


class Session:
    """One bash per document, in its own process group and temp dir."""

    DONE = "__A2ACTL_DOC_DONE__"

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="a2actl-docs-"))
        self.n = 0
        self.broken: str | None = None
        self.stopped = False
        bindir = str(Path(sys.executable).parent)
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("A2ACTL_") and k not in ("COLUMNS", "LINES", "FORCE_COLOR")
        }
        env.update(
            PATH=bindir + os.pathsep + env.get("PATH", ""),
            NO_COLOR="1",
            PYTHONIOENCODING="utf-8",
            XDG_STATE_HOME=str(self.dir / ".state"),
            TERM="dumb",
        )
        self.err = open(self.dir / ".session.err", "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            ["bash", "--noprofile", "--norc"],
            cwd=self.dir,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.err,
            start_new_session=True,
            text=True,
            encoding="utf-8",
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        atexit.register(self.stop)  # pytest interrupted before the teardown: servers must not outlive it
        self._send('__a2actl_setrc() { return "$1"; }\n__a2actl_rc=0\n')

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def _send(self, text: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text)
        self.proc.stdin.flush()

    def run(self, cmd: Command) -> tuple[int, str, int | None]:
        """Run one command: (exit status, its output, the pid of the last background job)."""
        timeout = COMMAND_TIMEOUT
        self.n += 1
        out = self.dir / f".out.{self.n}"
        self._send(
            f'__a2actl_setrc "$__a2actl_rc"\n{{ {cmd.text}\n}} > {shlex.quote(str(out))} 2>&1 < /dev/null\n'
            f'__a2actl_rc=$?\nprintf "\\n{self.DONE} {self.n} %s %s\\n" "$__a2actl_rc" "$!"\n'
        )
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                self.broken = f"`{cmd.text}` (line {cmd.line}) did not finish within {timeout:.0f}s"
                so_far = _read(out)
                self.stop()
                raise TimeoutError(f"{self.broken}; output so far:\n{_indent(so_far)}") from None
            if line is None:
                self.broken = f"bash exited during `{cmd.text}` (line {cmd.line})"
                raise RuntimeError(self.broken + ":\n" + _read(self.dir / ".session.err"))
            parts = line.split()
            if len(parts) >= 3 and parts[0] == self.DONE and parts[1] == str(self.n):
                pid = int(parts[3]) if len(parts) > 3 and parts[3].isdigit() else None
                return int(parts[2]), _read(out), pid

    def wait_server(self, cmd: Command, pid: int | None) -> str | None:
        out = self.dir / f".out.{self.n}"
        deadline = time.monotonic() + SERVER_TIMEOUT
        while time.monotonic() < deadline:
            if pid is not None and not _alive(pid):
                return f"the server exited:\n{_read(out)}"
            if out.stat().st_size > 0 and all(_accepts(p) for p in cmd.ports):
                return None
            time.sleep(0.05)
        return f"the server did not listen on {cmd.ports} within {SERVER_TIMEOUT:.0f}s:\n{_read(out)}"

    def stop(self) -> None:
        """Kill everything the document started (the session's process group), then its temp dir."""
        if self.stopped:
            return
        self.stopped = True
        pgid = self.proc.pid
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and (self.proc.poll() is None or _group_has_live(pgid)):
                time.sleep(0.05)
            if self.proc.poll() is not None and not _group_has_live(pgid):
                break
        for s in (self.proc.stdin, self.proc.stdout):
            try:
                if s:
                    s.close()
            except OSError:
                pass
        self.err.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def _group_has_live(pgid: int) -> bool:
    """Whether a non-zombie process is left in the group (zombies hold no ports)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def _read(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8", "replace")
    except OSError:
        return ""


def _indent(text: str, limit: int = 60) -> str:
    lines = text.rstrip("\n").splitlines() or ["(no output)"]
    if len(lines) > limit:
        lines = lines[:limit] + [f"... ({len(lines) - limit} more lines)"]
    return "\n".join("    | " + line for line in lines)


def _block_commands(example: Any) -> list[Command]:
    return parse_block(str(example.parsed), example.line + 1)


def _check_ports(document: Any) -> None:
    """Every port a server of this document will listen on must be free now."""
    taken = []
    for ex in document.examples():
        if ex.region.evaluator is not evaluate or not_run_reason(ex):
            continue
        for cmd in _block_commands(ex):
            if cmd.background:
                taken += [(p, cmd.line) for p in cmd.ports if _port_taken(p)]
    if taken:
        pytest.fail(
            f"{Path(document.path).name}: port(s) in use by another process: "
            + ", ".join(f"{p} (needed by line {line})" for p, line in taken)
            + "; stop it, then run the doc tests again",
            pytrace=False,
        )


def _missing_tools(cmd: Command) -> list[str]:
    used = set(cmd.tokens)
    return [t for t in TOOLS if t in used and shutil.which(t) is None]


def evaluate(example: Any) -> str | None:
    """Sybil evaluator for a console block: None when it ran as shown, else what differed."""
    where = f"{Path(example.path).name}:{example.line}"
    why = not_run_reason(example)
    if why:
        pytest.skip(f"{where}: not run in CI: {why}")
    try:
        cmds = _block_commands(example)
    except ValueError as exc:
        return str(exc)
    if shutil.which("bash") is None:
        pytest.skip(f"{where}: bash is not installed")
    ns = example.namespace
    session: Session | None = ns.get("_a2actl_session")
    if session is None:
        _check_ports(example.document)
        session = ns["_a2actl_session"] = Session()
    if session.broken:
        pytest.fail(f"not run: an earlier block broke the session ({session.broken})", pytrace=False)
    problems: list[str] = []
    not_run: list[str] = []
    for i, cmd in enumerate(cmds):
        missing = _missing_tools(cmd)
        if missing:  # only this command is left out: the block's servers and files still come up
            msg = f"line {cmd.line}: not run, {', '.join(missing)} not installed (apt-get install -y {' '.join(missing)})"
            (problems if os.environ.get("CI") == "true" else not_run).append(msg)
            continue
        bad = subprocess.run(["bash", "-n", "-c", cmd.text], capture_output=True, text=True)
        if bad.returncode:
            problems.append(f"line {cmd.line}: `$ {cmd.text}` is not valid bash: {bad.stderr.strip()}")
            continue
        try:
            rc, out, pid = session.run(cmd)
        except (TimeoutError, RuntimeError) as exc:
            problems.append(f"line {cmd.line}: {exc}")
            break
        shown = i + 1 < len(cmds) and cmds[i + 1].is_echo_status  # `echo $?` shows (and checks) it
        want = cmd.pinned_exit if cmd.pinned_exit is not None else 0
        at = f"line {cmd.line}: $ {cmd.text}"
        if not shown and rc != want:
            problems.append(f"{at}\n  exit status {rc}, expected {want}; output:\n{_indent(out)}")
            continue
        if cmd.background and cmd.ports:
            err = session.wait_server(cmd, pid)
            if err:
                problems.append(f"{at}\n  {err}")
                continue
        missing_line = match_output(cmd.output, out)
        if missing_line is not None:
            problems.append(
                f"{at}\n  this line was not in the output (in order): {missing_line.strip()!r}\n"
                f"  output:\n{_indent(out)}"
            )
    if problems:
        return "\n\n".join(problems)
    if not_run:
        pytest.skip(f"{where}: the rest ran as shown; " + "; ".join(not_run))
    return None


def teardown(namespace: dict[str, Any]) -> None:
    session: Session | None = namespace.pop("_a2actl_session", None)
    if session is not None:
        session.stop()
