"""``smoke init``: a starting suite from a live agent (a caps snapshot as the expectation, a probe
budget from the measured p99 times a stated margin, a send check when a skill has examples)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from a2actl.core.exit_codes import ExitCode

if TYPE_CHECKING:
    from a2actl.core.config import Settings
    from a2actl.core.sink import EventSink


#: The smallest budget init writes (ms): below it, scheduler noise on a busy CI runner fails suites.
MIN_BUDGET_MS = 250


def _budget(seconds: float) -> str:
    """A budget for the suite file: ``seconds`` rounded up to whole 10 ms, at least ``MIN_BUDGET_MS``."""
    ms = max(MIN_BUDGET_MS, math.ceil(seconds * 1000 / 10) * 10)  # whole 10 ms
    return f"{ms}ms" if ms < 10_000 else f"{math.ceil(ms / 1000)}s"


def plan_paths(
    snapshot: str | None, out: str | None, stdout_path: str | None, force: bool
) -> tuple[Path, str, list[str]]:
    """Where the snapshot goes and how the suite names it: ``(snapshot file, expect path, notes)``.

    ``expect:`` paths are resolved relative to the suite file (``smoke run``), so the suite's own
    directory decides how the snapshot is named in it: ``out`` (``--out SUITE``), else the file
    stdout is redirected to (``stdout_path``), else the current directory (noted). The snapshot
    (``--snapshot``, default ``expected-caps.json``) is relative to the current directory when
    given, else written beside the suite. Raises ``UsageError`` (exit 2) when a file would be
    overwritten without ``force``, a directory does not exist, or the snapshot is the suite's file
    (``out``, or ``stdout_path``)."""
    import os

    from a2actl.core.errors import UsageError

    notes: list[str] = []
    suite_dir = (
        Path(out).resolve().parent if out else (Path(stdout_path).resolve().parent if stdout_path else None)
    )
    if suite_dir is None:
        notes.append(
            "the suite goes to standard output: its expect: path is relative to the current "
            "directory; save the suite here, or use --out SUITE"
        )
        suite_dir = Path.cwd()
    snap = Path(snapshot) if snapshot else suite_dir / "expected-caps.json"
    suite_file = out or stdout_path
    if suite_file is not None and snap.resolve() == Path(suite_file).resolve():
        # the suite was written over the snapshot (or, to stdout, over its start): exit 0, and a
        # suite that expects itself, which no run can pass
        raise UsageError(
            f"--snapshot {snap} is the suite's file: give the snapshot its own file",
            hint="drop --snapshot: the default is expected-caps.json beside the suite",
        )
    for path, what in ((snap, "--snapshot"), *(((Path(out), "--out"),) if out else ())):
        if not path.resolve().parent.is_dir():
            raise UsageError(
                f"{what} {path}: the directory {path.parent} does not exist", hint=f"mkdir -p {path.parent}"
            )
        if path.exists() and not force:
            raise UsageError(f"{what} {path} exists; not overwriting it", hint="pass --force to replace it")
    expect = os.path.relpath(snap.resolve(), suite_dir)
    return snap, Path(expect).as_posix(), notes


def _yaml_str(text: str) -> str:
    """``text`` as a one-line YAML double-quoted scalar that the suite loader (PyYAML) reads back as
    ``text``. JSON's spelling is not one: a character beyond the BMP (an emoji) is a surrogate pair
    there, which YAML reads as two lone surrogates (a send that cannot be encoded)."""
    import yaml

    dumped: str = yaml.safe_dump(text, default_style='"', allow_unicode=True, width=1 << 30)
    return dumped.removesuffix("\n...\n").rstrip("\n")


def _example(skills: list[Any]) -> tuple[str | None, list[str]]:
    """The first skill example (card order: the author's first) that ``smoke run`` can send as
    written, and a note for each example passed over before it: ``${NAME}`` in a suite is an
    environment variable (``smoke.suite``), so an example holding ``${`` would be exit 2 at run time
    (or another text, sent)."""
    notes: list[str] = []
    for ex in (ex for s in skills for ex in s.examples):
        if "${" not in ex:
            return ex, notes
        notes.append(
            f"skipped the skill example {ex!r} for the send check: smoke run reads ${{NAME}} as an "
            "environment variable"
        )
    return None, notes


async def init_suite(
    target: str,
    settings: Settings,
    sink: EventSink | None,
    *,
    expect_path: str,
    samples: int,
    margin: float,
    suite_name: str = "suite.yaml",
) -> tuple[str, dict[str, Any], list[str]]:
    """``(suite YAML text, caps snapshot, notes)``: the snapshot is the one the suite names
    ``expect_path`` (relative to the suite file, see ``plan_paths``), the secrets of its URLs masked
    as ``caps snapshot`` masks them (``masked_snapshot``); nothing is written here (the
    caller writes both once every step succeeded). ``notes`` for the operator: probe samples that
    failed, skill examples passed over. The text is redacted like any file a2actl writes (a password
    or ``api_key`` in ``target`` is ``***``: secrets come from the environment, ``TARGET``)."""
    from a2actl.agent.discovery import load_card
    from a2actl.agent.target import parse_target
    from a2actl.caps.snapshot import masked_snapshot, snapshot_view
    from a2actl.core.redact import Redactor
    from a2actl.probe.handshake import run_probe
    from a2actl.probe.report import ProbeOptions
    from a2actl.protocol.events import PartSpec
    from a2actl.tasks.jobs import send_job
    from a2actl.tasks.request import SendOptions
    from a2actl.tasks.results import SentMessage

    card = await load_card(target, settings, sink)
    snap = masked_snapshot(snapshot_view(card.view, card.raw))  # committed: no URL credentials in it
    report = await run_probe(ProbeOptions(target=parse_target(target), samples=samples), settings, sink)
    p99 = report.total_p99
    fails = report.failures()
    failed = ", ".join(f"{k} {v}" for k, v in sorted(fails.items()))
    notes: list[str] = []
    if fails:
        notes.append(
            f"the probe failed: {sum(fails.values())} of {len(report.samples)} samples ({failed}); "
            "the suite's probe check fails while they do"
        )
    if p99 is None:
        measured = (
            f"    # no probe sample succeeded when init ran ({failed or 'none ran'}): the budget is the"
            f" {MIN_BUDGET_MS} ms floor"
        )
        budget = _budget(0)
    else:
        measured = (
            f"    # measured total p99 {p99 * 1000:.1f} ms over {samples} samples x margin {margin:g}"
            f" (at least {MIN_BUDGET_MS} ms)" + (f"; failed samples: {failed}" if fails else "")
        )
        budget = _budget(p99 * margin)
    lines = [
        f"# a2actl smoke suite for {target}, written by 'a2actl smoke init'.",
        f"# Run: a2actl smoke run {suite_name} --junit smoke.xml   (TARGET overrides the agent URL)",
        "version: 1",
        "name: a2actl smoke",
        "targets:",
        f"  - ${{TARGET:-{target}}}",
        "checks:",
        "  - name: handshake within budget",
        "    kind: probe",
        f"    samples: {samples}",
        measured,
        f"    budget: {budget}",
        "  - name: capabilities match the snapshot",
        "    kind: caps-diff",
        f"    expect: {expect_path}",
        "    failOn: breaking",
    ]
    example, passed_over = _example(card.view.skills)
    notes += passed_over
    if example is not None:
        sent = await send_job(
            target, settings, sink, SendOptions(parts=[PartSpec("text", text=example)]), None
        )
        lines += [
            "  - name: skill example answers",
            "    kind: send",
            f"    text: {_yaml_str(example)}",
        ]
        if isinstance(sent, SentMessage) and sent.result.get("kind") == "message":
            # no task, no state: a send check expects none of a message unless told (expectState)
            lines.append("    # the agent answered with a message (no task) when init ran")
        else:
            state = sent.state if isinstance(sent, SentMessage) else None
            lines.append(f"    expectState: {state or 'completed'}   # what the agent answered when init ran")
    text = "\n".join(lines) + "\n"
    redacted = Redactor(settings.secrets())(text)
    if redacted != text:
        notes.append(
            "the target's credentials are *** in the suite (secrets come from the environment "
            "only): give the whole target in TARGET, e.g. from a CI secret"
        )
    return redacted, snap, notes


@dataclass
class InitResult:
    """``smoke init``: the suite ``text`` (YAML), written to ``suite`` when given (else for stdout);
    ``snapshot`` the caps snapshot file written; ``expect`` how the suite names it; ``notes`` for
    the operator."""

    text: str
    suite: str | None
    snapshot: Path
    expect: str
    notes: list[str]

    @property
    def exit(self) -> ExitCode:
        """Always 0 (failures raise)."""
        return ExitCode.OK

    def to_json(self) -> dict[str, Any]:
        """``{"suite", "snapshot", "expect", "notes"}`` (printed with ``-o json|jsonl`` and ``--out``)."""
        return {
            "suite": self.suite,
            "snapshot": str(self.snapshot),
            "expect": self.expect,
            "notes": self.notes,
        }


async def init_job(
    target: str,
    settings: Settings,
    sink: EventSink | None,
    *,
    out: str | None,
    snapshot: str | None,
    stdout_path: str | None,
    force: bool,
    samples: int,
    margin: float,
) -> InitResult:
    """``smoke init``: plan the paths (``plan_paths``: ``UsageError``, exit 2, before any request),
    build the suite (``init_suite``; its errors raise, and then nothing is written), then write the
    snapshot, and the suite to ``out`` when given. ``stdout_path``: the regular file stdout is
    redirected to, if any."""
    snap, expect, notes = plan_paths(snapshot, out, stdout_path, force)
    text, doc, more = await init_suite(
        target,
        settings,
        sink,
        expect_path=expect,
        samples=samples,
        margin=margin,
        suite_name=out or "suite.yaml",
    )
    # written once every step succeeded: a failed init leaves no snapshot that the next try would
    # refuse to overwrite without --force
    # a lone surrogate (an agent's "\ud800" escape) is written as its JSON escape, as by caps snapshot
    await _write_text(
        snap, json.dumps(doc, indent=2, ensure_ascii=False) + "\n", "--snapshot", "backslashreplace"
    )
    if out:
        await _write_text(Path(out), text, "--out")
    return InitResult(text, out, snap, expect, notes + more)


async def _write_text(path: Path, text: str, option: str, errors: str = "strict") -> None:
    """Write ``text`` (UTF-8) to ``option``'s file ``path``: a regular or new file at once; a FIFO or
    ``>(cmd)`` (``--force`` given) in a daemon thread (``core.offloop.write_path``), so the
    command's ``--max-time`` and one Ctrl-C/SIGTERM end a wait for a reader that never comes (the
    event loop blocked in ``open`` ignored both). Raises ``UsageError`` (exit 2) naming the option
    and the path when the write fails (a full disk, ``/dev/full``)."""
    from a2actl.core.errors import UsageError
    from a2actl.core.offloop import write_path

    def write() -> None:
        with open(path, "w", encoding="utf-8", errors=errors) as fh:
            fh.write(text)

    try:
        await write_path(str(path), write, None, "a2actl-out")
    except OSError as exc:
        raise UsageError(f"{option} {path}: cannot write: {exc.strerror or exc}") from exc
