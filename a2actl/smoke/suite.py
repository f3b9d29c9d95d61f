"""Smoke suite files (YAML): loading with line numbers, ``${VAR}`` expansion from the environment, and
validation against the shipped JSON Schema ``a2actl/schemas/smoke-suite.schema.json``.

Every problem is a ``UsageError`` (exit 2) whose message starts with ``FILE:LINE:`` (or ``FILE:``
for the file as a whole: over ``MAX_SUITE_BYTES``, nested too deep, or expanding, through YAML
aliases, to more than ``MAX_VALUES`` values: a "billion laughs" file would otherwise take minutes
and gigabytes). A key given twice in one mapping is an error too (YAML 1.2 §3.2.1.1; PyYAML keeps
the last silently), but a merge key (``<<: *defaults``) may be overridden.

The path ``-`` (``STDIN``) reads the suite from standard input; it is then named ``<stdin>``
(``STDIN_NAME``) in messages and results, and the files it names (a ``caps-diff`` ``expect``) are
relative to the current directory.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Final

from a2actl.core.errors import UsageError, parse_value_reason

KINDS = ("probe", "caps-diff", "send", "stream", "sessions-leaks", "dlq-depth")
#: A suite file larger than this many bytes is refused, unread (1 MiB, as ``caps lint --config``).
MAX_SUITE_BYTES = 1024 * 1024
#: A suite that expands (aliases followed) to more values than this is refused.
MAX_VALUES = 100_000
#: The suite path that means standard input (``smoke run -``), and the name such a suite goes by.
STDIN = "-"
STDIN_NAME = "<stdin>"
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class _LineKey:
    """The key under which the loader records a mapping's line: an object no YAML key can be, so a
    key the user wrote (even ``__line__``) is never taken for it, and the schema judges it."""

    def __repr__(self) -> str:
        return "<line>"


LINE: Final = _LineKey()


@dataclass
class Check:
    """One check: ``kind`` (``KINDS``), its options, the target it runs against and its YAML line."""

    name: str
    kind: str
    options: dict[str, Any]
    target: str | None
    line: int


@dataclass
class Suite:
    """A loaded suite: its ``path`` as given (``STDIN_NAME``, ``<stdin>``, for one read from
    standard input: ``from_stdin``), the ``targets`` every check runs against (a check's own
    ``target`` overrides), the checks in file order and the suite's ``name``."""

    path: str
    targets: list[str]
    checks: list[Check] = field(default_factory=list)
    name: str = "a2actl smoke"
    from_stdin: bool = False

    @property
    def directory(self) -> Path:
        """The directory the files the suite names are relative to: the suite file's, or the
        current directory for a suite read from standard input."""
        return Path.cwd() if self.from_stdin else Path(self.path).resolve().parent


def _loader() -> Any:
    import yaml

    class LineLoader(yaml.SafeLoader):
        """SafeLoader that records each mapping's line (1-based) under ``LINE``, and turns the
        ``ValueError`` a scalar's constructor raises into a ``ConstructorError`` at its line."""

        def construct_object(self, node: Any, deep: bool = False) -> Any:
            # an integer over int()'s 4,300 digits, an unquoted date that is no date (2001-13-01):
            # PyYAML raises a plain ValueError, no YAMLError, and the run was exit 1 'unexpected'
            try:
                return super().construct_object(node, deep=deep)
            except ValueError as exc:
                raise yaml.constructor.ConstructorError(
                    None, None, parse_value_reason(exc), node.start_mark
                ) from None

    def construct_mapping(loader: Any, node: Any, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge" or not isinstance(key_node, yaml.ScalarNode):
                continue  # a merge key's values may be overridden; other keys are checked below
            key = loader.construct_object(key_node)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (each key once per mapping)", key_node.start_mark
                )
            seen.add(key)
        mapping = yaml.SafeLoader.construct_mapping(loader, node, deep=deep)
        mapping[LINE] = node.start_mark.line + 1
        return mapping

    LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
    return LineLoader


class _Budget:
    """Counts the values ``_expand`` builds (``MAX_VALUES``): YAML aliases share one object, but the
    expanded suite is a tree."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.left = MAX_VALUES

    def spend(self) -> None:
        self.left -= 1
        if self.left < 0:
            raise UsageError(
                f"{self.path}: the suite expands to over {MAX_VALUES:,} values (YAML aliases that "
                "repeat each other?): not a smoke suite"
            )


def _expand(value: Any, env: dict[str, str], where: str, budget: _Budget | None = None) -> Any:
    if budget is not None:
        budget.spend()
    if isinstance(value, str):

        def sub(m: re.Match[str]) -> str:
            name, default = m.group(1), m.group(2)
            if name in env:
                return env[name]
            if default is not None:
                return default
            raise UsageError(
                f"{where}: variable ${{{name}}} is not set",
                hint=f"export {name}=… (secrets come from the environment only)",
            )

        return _VAR.sub(sub, value)
    if isinstance(value, list):
        return [_expand(v, env, where, budget) for v in value]
    if isinstance(value, dict):
        line = value.get(LINE)
        here = where.rsplit(":", 1)[0] + f":{line}" if line else where
        return {k: (v if k == LINE else _expand(v, env, here, budget)) for k, v in value.items()}
    return value


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k != LINE}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def load_suite(path: str, env: dict[str, str] | None = None, stdin: IO[bytes] | None = None) -> Suite:
    """Read, expand and validate a suite file; ``path`` ``-`` reads standard input (``stdin``, by
    default ``sys.stdin.buffer``: ``_read_stdin``). Raises ``UsageError`` with ``FILE:LINE:``
    (module docstring; ``FILE`` is ``<stdin>`` for ``-``)."""
    from_stdin = path == STDIN
    if from_stdin:
        path = STDIN_NAME
    try:
        return _load_suite(path, env, _read_stdin(stdin) if from_stdin else None)
    except RecursionError:  # PyYAML composes, and _expand and jsonschema walk, recursively
        raise UsageError(f"{path}: nested too deeply to be a smoke suite") from None


def _read_stdin(stdin: IO[bytes] | None) -> bytes:
    """At most ``MAX_SUITE_BYTES`` + 1 bytes of the suite on standard input (``stdin``, default
    ``sys.stdin.buffer``). ``UsageError`` (exit 2) when it is closed (``<&-``), a terminal (nobody
    piped a suite in: the command would wait for one typed), cannot be read, or is empty."""

    hint = "pipe the suite in (cat suite.yaml | a2actl smoke run -) or give its file"
    from a2actl.core.offloop import read_upto, stdin_bytes

    if stdin is None:
        stdin = stdin_bytes("suite '-'", hint)

    try:
        data = read_upto(stdin, MAX_SUITE_BYTES + 1)  # bounded: `yes | smoke run -` must end
    except (OSError, ValueError) as exc:  # ValueError: a stream closed under us
        reason = getattr(exc, "strerror", None) or exc
        raise UsageError(f"cannot read the suite from standard input: {reason}") from exc
    if not data:
        raise UsageError("suite '-': standard input was empty", hint=hint)
    return data


def _load_suite(path: str, env: dict[str, str] | None, data: bytes | None = None) -> Suite:
    """``load_suite`` of the file ``path``, or of ``data`` (the bytes read from standard input,
    ``path`` then its name)."""
    import yaml
    from jsonschema import Draft202012Validator

    from a2actl.schemas import load_named

    env = dict(os.environ) if env is None else env
    from_stdin = data is not None
    if data is None:
        try:
            with open(path, "rb") as fh:  # bounded: a suite of /dev/zero must not read forever
                data = fh.read(MAX_SUITE_BYTES + 1)
        except OSError as exc:
            raise UsageError(f"cannot read suite {path}: {exc.strerror or exc}") from exc
    if len(data) > MAX_SUITE_BYTES:
        raise UsageError(f"{path}: over {MAX_SUITE_BYTES:,} bytes: not a smoke suite")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = exc.object[: exc.start].count(b"\n") + 1
        raise UsageError(f"{path}:{line}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    try:
        raw = yaml.load(text, Loader=_loader())  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        raise UsageError(f"{path}:{line}: not valid YAML: {getattr(exc, 'problem', exc)}") from exc
    if not isinstance(raw, dict):
        raise UsageError(f"{path}:1: a suite is a mapping with 'checks:'")
    doc = _expand(raw, env, f"{path}:{raw.get(LINE, 1)}", _Budget(path))
    _register_secrets(doc)  # before any message quotes a value (a schema error quotes it whole)
    errors = sorted(
        Draft202012Validator(load_named("smoke-suite.schema.json")).iter_errors(_strip(doc)),
        key=lambda e: list(map(str, e.absolute_path)),
    )
    if errors:
        err = errors[0]
        node: Any = doc
        line = doc.get(LINE, 1)
        for part in err.absolute_path:
            try:
                node = node[part]
            except (KeyError, IndexError, TypeError):
                break
            if isinstance(node, dict) and LINE in node:
                line = node[LINE]
        where = "/".join(map(str, err.absolute_path)) or "suite"
        message = err.message
        if err.validator == "enum" and err.absolute_path and err.absolute_path[-1] == "kind":
            message = f"unknown check kind {err.instance!r}; use one of {', '.join(KINDS)}"
        elif err.validator == "pattern" and "duration" in str(err.schema.get("description", "")):
            message = f"{err.absolute_path[-1]} {err.instance!r} is not a duration (examples: 5s, 250ms, 2m)"
        elif err.validator in ("oneOf", "anyOf") and err.context:
            from jsonschema.exceptions import best_match

            message = best_match(err.context).message
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise UsageError(f"{path}:{line}: {where}: {message}{more}")
    targets = doc.get("targets") or ([doc["target"]] if doc.get("target") else [])
    suite = Suite(
        path=path,
        targets=[str(t) for t in targets],
        name=str(doc.get("name") or "a2actl smoke"),
        from_stdin=from_stdin,
    )
    for idx, c in enumerate(doc["checks"]):
        # nested mappings (budgets:) lose their line marks too: they are the check's option values
        options = {k: _strip(v) for k, v in c.items() if k not in (LINE, "name", "kind", "target")}
        suite.checks.append(
            Check(
                name=str(c.get("name") or f"{c['kind']} #{idx + 1}"),
                kind=c["kind"],
                options=options,
                target=c.get("target"),
                line=c[LINE],
            )
        )
    _check_names(suite, [not c.get("name") for c in doc["checks"]])
    needs_target = [c for c in suite.checks if c.kind != "dlq-depth" and not c.target]
    if needs_target and not suite.targets:
        raise UsageError(
            f"{path}:{needs_target[0].line}: check {needs_target[0].name!r} has no target and the "
            "suite has no 'targets:'",
            hint="add targets: [${TARGET}] at the top",
        )
    _check_targets(suite, int(doc.get(LINE, 1)), used=bool(needs_target))
    _check_files(suite)
    _check_durations(suite)
    _check_patterns(suite)
    return suite


def _register_secrets(doc: Any) -> None:
    """Register (``core.redact.register_urls_in_json``) the credentials of every URL in the expanded
    suite ``doc``, as the command line's are: a target's or a ``dlq-depth`` source's userinfo and
    credential-like query values (``http://user:PASSWORD@…``, ``?api_key=…``, ``redis://:PASSWORD@…``),
    often given whole in ``${TARGET}`` as docs/smoke.md advises. They were printed in every row's
    ``target``, in ``-o json``, in the JUnit file CI publishes, and in the error of a suite that
    misplaced one (``targets: ${TARGET}``: "'http://user:PASSWORD@…' is not of type 'array'")."""
    from a2actl.core.redact import register_urls_in_json

    register_urls_in_json(doc)


def _check_targets(suite: Suite, line: int, *, used: bool) -> None:
    """Every target a check will run against must be a TARGET (``agent.target.parse_target``: an
    http(s) URL or a card file): the suite's ``targets`` (``line``: the suite's own line, as
    scalars carry none) when ``used`` by a check without its own, and each check's ``target``
    (``dlq-depth`` names its source instead). An empty one (``${TARGET}`` set but empty, as CI sets
    a secret a fork's run cannot read) or another scheme passed ``smoke validate`` and made every
    check an error at run time: exit 7, "a check failed", for a bad suite file (2); a check's empty
    ``target:`` silently ran against the suite's targets instead."""
    from a2actl.agent.target import parse_target

    def check(value: str, where: str, at: int) -> None:
        try:
            parsed = parse_target(value)
        except UsageError as exc:
            unset = " (a ${VARIABLE} set but empty?)" if not value.strip() else ""
            raise UsageError(
                f"{suite.path}:{at}: {where} {value!r}: {exc.message}{unset}", hint=exc.hint
            ) from None
        if parsed.kind == "file":  # a card file: read from the current directory, as on the command line
            problem = _file_problem(parsed.value)
            if problem is not None:
                raise UsageError(
                    f"{suite.path}:{at}: {where} {value!r}: card file {problem}",
                    hint="a card file target is relative to the current directory",
                )

    if used:
        for i, target in enumerate(suite.targets):
            check(target, f"targets[{i}]", line)
    for c in suite.checks:
        if c.target is not None and c.kind != "dlq-depth":
            check(str(c.target), f"{c.name}: target", c.line)


def _file_problem(path: str | Path) -> str | None:
    """Why ``path`` is no file a check can read (``"not found: /abs/path"``, ``"is a directory:
    …"``, ``"cannot be read: Permission denied: …"``), or ``None``. A FIFO or device passes: it is
    not opened here (a FIFO would block, and lose the bytes the check reads)."""
    shown = os.path.abspath(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return f"not found: {shown}"
    except (OSError, ValueError) as exc:
        return f"cannot be read: {getattr(exc, 'strerror', None) or exc}: {shown}"
    import stat

    if stat.S_ISDIR(st.st_mode):
        return f"is a directory: {shown}"
    if not os.access(path, os.R_OK):
        return f"cannot be read: Permission denied: {shown}"
    return None


def _check_files(suite: Suite) -> None:
    """A ``dlq-depth`` ``source`` must not be empty, and every ``caps-diff`` ``expect`` must name a
    file that exists and can be read, resolved as the check reads it (``Suite.directory``: relative
    to the suite file, or to the current directory for a suite from standard input; an absolute
    path stays). Either passed ``smoke validate`` and made the check an error at run time: exit 7,
    "a check failed", for a bad suite (2). ``UsageError`` (exit 2) at the check's line, naming the
    path it looked for."""
    for c in suite.checks:
        source = str(c.options.get("source", ""))
        if c.kind == "dlq-depth" and not source.strip():
            # `source: ${DLQ}` with DLQ set but empty: an error row at run time ("names no file")
            raise UsageError(
                f"{suite.path}:{c.line}: {c.name}: source {source!r}: an empty DLQ source "
                "(a ${VARIABLE} set but empty?)"
            )
        if c.kind != "caps-diff":
            continue
        expect = str(c.options["expect"])
        # an empty one (a ${VARIABLE} set but empty) named the suite's directory
        problem = "an empty path (a ${VARIABLE} set but empty?)" if not expect.strip() else None
        problem = problem or _file_problem(suite.directory / expect)
        if problem is not None:
            relative = "the current directory" if suite.from_stdin else "the suite file"
            raise UsageError(
                f"{suite.path}:{c.line}: {c.name}: expect {expect!r}: {problem}",
                hint=f"expect is relative to {relative}",
            )


def _check_names(suite: Suite, defaulted: list[bool]) -> None:
    """Every check's name must be unique in the suite (``defaulted[i]``: check ``i`` has no
    ``name:`` and goes by ``KIND #N``): the names are the JUnit testcase names and the ``name`` of
    ``-o json`` results, where two of one name cannot be told apart. ``UsageError`` (exit 2) at the
    second, naming both positions."""
    first: dict[str, int] = {}
    for i, c in enumerate(suite.checks):
        j = first.setdefault(c.name, i)
        if j == i:
            continue
        other = suite.checks[j]
        said = " (the name a check without name: goes by)" if defaulted[i] or defaulted[j] else ""
        raise UsageError(
            f"{suite.path}:{c.line}: checks/{i}: duplicate check name {c.name!r}{said}: checks/{j} "
            f"(line {other.line}) has it too; each check needs a name of its own (JUnit testcases, "
            "-o json results)",
            hint="rename one of them",
        )


def _check_patterns(suite: Suite) -> None:
    """``expectText`` must compile as the regular expression ``re.search`` is given at run time."""
    for c in suite.checks:
        pattern = c.options.get("expectText")
        if pattern is None:
            continue
        try:
            re.compile(str(pattern))
        except (re.error, OverflowError) as exc:  # OverflowError: a{4294967295}, a repetition too large
            raise UsageError(
                f"{suite.path}:{c.line}: {c.name}: expectText {pattern!r} is not a regular expression: {exc}"
            ) from None


#: Phases ``kind: probe`` never measures: it runs ``handshake probe`` without ``--send`` and
#: ``--handshake-path``; a budget on one of them would fail every run (``probe.budget``).
_UNMEASURED_BY_PROBE = ("first_event", "terminal", "session")


def _check_durations(suite: Suite) -> None:
    from a2actl.core.units import parse_duration, parse_size
    from a2actl.probe.budget import METRICS

    for c in suite.checks:
        for key in ("budget", "firstEvent", "heartbeat", "maxAge", "grace", "timeout"):
            if key in c.options:
                try:
                    seconds = parse_duration(str(c.options[key]))
                except ValueError:
                    raise UsageError(
                        f"{suite.path}:{c.line}: {c.name}: {key} {c.options[key]!r} is not a duration "
                        "(examples: 5s, 250ms, 2m)"
                    ) from None
                if key == "heartbeat" and seconds <= 0:
                    # as stream tail --heartbeat (exit 2): every gap, even 0.1 ms, was a silence
                    # over it, and the check failed on every run (exit 7)
                    raise UsageError(
                        f"{suite.path}:{c.line}: {c.name}: heartbeat {c.options[key]!r} must be "
                        "positive (the longest silence allowed, e.g. 10s)"
                    )
                if key == "firstEvent" and seconds <= 0:
                    # no event comes within 0 s: the check failed on every run (exit 7)
                    raise UsageError(
                        f"{suite.path}:{c.line}: {c.name}: firstEvent {c.options[key]!r} must be "
                        "positive (the longest wait for the first streamed event, e.g. 2s)"
                    )
        for phase, value in (c.options.get("budgets") or {}).items():
            if phase not in METRICS:  # as handshake probe --budget PHASE=…: it failed at run time, exit 1
                raise UsageError(
                    f"{suite.path}:{c.line}: {c.name}: budgets.{phase}: unknown phase; use one of: "
                    + ", ".join(sorted(METRICS))
                )
            if c.kind == "probe" and phase in _UNMEASURED_BY_PROBE:
                raise UsageError(
                    f"{suite.path}:{c.line}: {c.name}: budgets.{phase}: a probe check never measures "
                    f"{phase} (it sends no message and opens no session), so the budget could never hold",
                    hint="time the first event with a send check's firstEvent",
                )
            try:
                parse_duration(str(value))
            except ValueError:
                raise UsageError(
                    f"{suite.path}:{c.line}: {c.name}: budgets.{phase} {value!r} is not a duration"
                ) from None
        if "maxEventBytes" in c.options:
            try:
                if parse_size(str(c.options["maxEventBytes"])) < 1:  # as stream tail --max-event-bytes
                    raise ValueError("under 1 byte")
            except ValueError:
                raise UsageError(
                    f"{suite.path}:{c.line}: {c.name}: maxEventBytes {c.options['maxEventBytes']!r} "
                    "is not a size (examples: 4MiB, 512KiB)"
                ) from None
