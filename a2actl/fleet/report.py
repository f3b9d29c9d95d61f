"""The result of a fleet probe (``FleetReport``): the funnel, failures by cause, the slowest agents,
the version/binding distribution, totals and the exit rule; its ``-o json`` document, JUnit XML, and
the merge of shard reports (``a2actl fleet report a.json b.json``). docs/fleet.md shows the shapes.

Everything here is computed from the per-agent records (``AgentResult``), so a merged report counts
exactly what one unsharded run over the same agents counts.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

from a2actl.core.errors import UsageError
from a2actl.core.exit_codes import ExitCode
from a2actl.core.junit import junit_text
from a2actl.fleet.inventory import normalise_url
from a2actl.fleet.result import CAUSES, CROSS_HOST_NOTE, STAGE_LABELS, STAGES, AgentResult

#: ``kind`` of the report documents, so ``fleet report`` can refuse other JSON.
REPORT_KIND = "a2actl.fleet.report"
#: How many agents the "slowest" table lists.
SLOWEST = 10
#: How many example agents each failure cause lists.
EXAMPLES = 3
#: Agent records per piece of ``FleetReport.json_chunks``.
JSON_BATCH = 200
#: The end of a merge's note naming the shards it lacks.
_MISSING = " missing: their agents are not in this report"
#: Labels whose value names an agent's JUnit classname, in order of preference (else the host).
CLASSNAME_LABELS = ("group", "team", "env")


def parse_percent(text: str) -> float:
    """``--fail-under``: ``"95%"`` or ``"95"`` → ``0.95``; a bare number is a percentage too (``0.5`` is
    0.5 %, not 50 %). Returns a fraction in ``[0, 1]``. Raises ``UsageError`` (exit 2) outside 0-100."""
    raw = text.strip().removesuffix("%").strip()
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or not 0 <= value <= 100:
        raise UsageError(f"--fail-under {text!r}: give a percentage between 0 and 100, e.g. 95%")
    return value / 100.0


def _version_family(version: str) -> str:
    """``"0.3.0"`` → ``"0.3"``, ``"1.0"`` → ``"1.0"``: versions are compared by major.minor."""
    parts = version.strip().lstrip("vV").split(".")
    return ".".join(parts[:2]) if len(parts) >= 2 else version.strip()


def declared_label(versions: Sequence[str]) -> str:
    """The distribution key of a card's declared versions: families joined by ``+`` (``0.3+1.0``), or
    ``none declared``."""
    families = sorted({_version_family(v) for v in versions if v.strip()})
    return "+".join(families) if families else "none declared"


def classname(result: AgentResult) -> str:
    """The JUnit classname of an agent: the first of ``CLASSNAME_LABELS`` it carries, else its URL's
    ``host[:port]``."""
    for key in CLASSNAME_LABELS:
        value = result.spec.labels.get(key)
        if value:
            return value
    try:
        parts = urlsplit(result.spec.url)
        host = parts.hostname or result.spec.url
        return f"{host}:{parts.port}" if parts.port else host
    except ValueError:
        return result.spec.url


@dataclass
class FleetReport:
    """A fleet probe's (or a merge's) result. ``results``: one per agent, in inventory order;
    ``stages``: the funnel stages the checks asked for (``stages_for``); ``options``: the run's
    ``FleetOptions.to_json()`` (``None`` in a merge of differing runs); ``source``: inventory name;
    ``shard``: ``(index, count)`` 1-based, or ``None``; ``shards``: the shards merged; ``duplicates``:
    inventory entries dropped as duplicates; ``started_at``: Unix time; ``elapsed``: seconds (a merge:
    from the earliest start to the latest end); ``fail_under``: the ``--fail-under`` fraction or
    ``None``; ``sources``: the files merged; ``unchecked``: agents of the inventory (shard) left
    unchecked because ``--max-time`` ended the run (``timed_out``) or Ctrl-C stopped it
    (``interrupted``)."""

    results: list[AgentResult]
    stages: tuple[str, ...]
    source: str = ""
    options: dict[str, Any] | None = None
    shard: tuple[int, int] | None = None
    duplicates: int = 0
    started_at: float = 0.0
    elapsed: float = 0.0
    fail_under: float | None = None
    shards: list[tuple[int, int] | None] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    unchecked: int = 0
    timed_out: bool = False
    interrupted: bool = False

    # ------------------------------------------------------------------------------ figures

    @property
    def total(self) -> int:
        """Agents checked."""
        return len(self.results)

    @property
    def ok_count(self) -> int:
        """Agents whose every requested check passed."""
        return sum(r.ok for r in self.results)

    @property
    def ok_share(self) -> float:
        """``ok_count / total`` (1.0 for an empty report)."""
        return self.ok_count / self.total if self.total else 1.0

    @property
    def rate(self) -> float | None:
        """Agents checked per second of ``elapsed`` (``None`` when nothing was timed)."""
        return self.total / self.elapsed if self.elapsed > 0 else None

    def funnel(self) -> list[dict[str, Any]]:
        """``[{"stage", "label", "count", "percent"}]`` for ``stages``: how many agents reached each
        stage; ``percent`` of the listed agents (0-100, one decimal)."""
        counts = Counter(stage for r in self.results for stage in r.passed)
        counts["listed"] = listed = self.total
        return [
            {
                "stage": s,
                "label": STAGE_LABELS[s],
                "count": counts[s],
                "percent": round(100.0 * counts[s] / listed, 1) if listed else 0.0,
            }
            for s in self.stages
        ]

    def causes(self) -> list[dict[str, Any]]:
        """Failures grouped by cause, most frequent first: ``[{"cause", "meaning", "count", "stage",
        "codes": {code: count}, "examples": [{"name", "url", "detail", "stage"}], "byStage": [{"stage",
        "count", "codes"}]}]``. ``stage``: the funnel stage most of this cause's agents failed to reach;
        ``byStage``: the agents of this cause by the stage they failed at, most first (``stage`` is the
        first; one cause can fail agents at several stages: ``protocol`` for a malformed card and for
        a malformed RPC answer); ``codes``: JSON-RPC error codes or HTTP statuses seen; ``examples``:
        at most ``EXAMPLES`` agents (more when the cause spans more stages), the first agent (in
        inventory order) of each ``byStage`` entry first, in that order, then more of the row's
        stage, then of the others; each names its ``stage`` (for ``invalid-card``, ``detail`` is the
        first schema error)."""
        groups: dict[str, list[AgentResult]] = {}
        for r in self.results:
            if not r.ok:
                groups.setdefault(r.cause or "protocol", []).append(r)
        out = []
        for cause, rs in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0])):
            by_stage: dict[str, list[AgentResult]] = {}
            for r in rs:
                by_stage.setdefault(r.failed_stage or "listed", []).append(r)
            # most agents first; a tie goes to the stage met first in inventory order (dict order)
            parts = sorted(by_stage.items(), key=lambda kv: -len(kv[1]))
            picks = [members[0] for _, members in parts]
            for _, members in parts:
                for r in members[1:]:
                    if len(picks) >= EXAMPLES:
                        break
                    picks.append(r)
            out.append(
                {
                    "cause": cause,
                    "meaning": CAUSES.get(cause, ""),
                    "count": len(rs),
                    "stage": parts[0][0],
                    "codes": _codes(rs),
                    "examples": [
                        {
                            "name": r.spec.name,
                            "url": r.spec.url,
                            "detail": r.detail,
                            "stage": r.failed_stage or "listed",
                        }
                        for r in picks
                    ],
                    "byStage": [
                        {"stage": stage, "count": len(members), "codes": _codes(members)}
                        for stage, members in parts
                    ],
                }
            )
        return out

    def slowest(self, n: int = SLOWEST) -> list[dict[str, Any]]:
        """The ``n`` agents with the longest ``total`` (seconds), longest first: ``[{"name", "url",
        "total", "phases", "ok", "cause"}]``."""
        top = sorted(self.results, key=lambda r: -r.total)[:n]
        return [
            {
                "name": r.spec.name,
                "url": r.spec.url,
                "total": round(r.total, 6),
                "phases": {k: round(v, 6) for k, v in r.phases.items()},
                "ok": r.ok,
                "cause": r.cause,
            }
            for r in top
        ]

    def cross_host(self) -> dict[str, Any]:
        """``{"agents": n, "examples": [{"name", "url", "interfaceUrl", "note"}]}``: the agents whose
        negotiated interface URL is on another host than the one that served their card (their
        ``notes`` hold a ``CROSS_HOST_NOTE``), ok or not; the first ``EXAMPLES`` in inventory order.
        A registry's operator wants these: a catalog can steer a sweep's requests at other hosts."""
        found = [(r, n) for r in self.results for n in r.notes[:8] if n.startswith(CROSS_HOST_NOTE)]
        return {
            "agents": len({id(r) for r, _ in found}),
            "examples": [
                {"name": r.spec.name, "url": r.spec.url, "interfaceUrl": r.interface_url, "note": n}
                for r, n in found[:EXAMPLES]
            ],
        }

    def distribution(self) -> dict[str, Any]:
        """``{"declared": {label: count}, "negotiated": {"version binding": count}, "legacyOnly": n,
        "withCard": n}``: ``declared`` groups the agents whose card was read by the version families
        it declares (``declared_label``); ``negotiated`` the agents that reached ``negotiated`` by what
        was chosen; ``legacyOnly`` how many cards declare only versions before 1.0 (A2A 0.x)."""
        with_card = [r for r in self.results if r.declared_versions or "card" in r.passed]
        declared = Counter(declared_label(r.declared_versions) for r in with_card)
        negotiated = Counter(
            f"{r.version or '?'} {r.binding or '?'}" for r in self.results if "negotiated" in r.passed
        )
        legacy = sum(
            1
            for r in with_card
            if r.declared_versions and all(_version_family(v).startswith("0.") for v in r.declared_versions)
        )
        return {
            "declared": dict(declared.most_common()),
            "negotiated": dict(negotiated.most_common()),
            "legacyOnly": legacy,
            "withCard": len(with_card),
        }

    @property
    def exit(self) -> ExitCode:
        """130 when Ctrl-C (SIGINT) stopped the run, 5 when ``--max-time`` ended it, before every agent
        was checked (a merge with such a report keeps its code: its agents were not all checked);
        else 0 when every agent passed its checks, 7 when one failed (docs/exit-codes.md). With
        ``fail_under``: 7 only when the ok share is below it (``--fail-under 95%``; ``0`` never
        fails)."""
        if self.interrupted:
            return ExitCode.INTERRUPTED
        if self.timed_out:
            return ExitCode.TIMEOUT
        if self.fail_under is not None:
            return ExitCode.CHECK_FAILED if self.ok_share < self.fail_under else ExitCode.OK
        return ExitCode.OK if self.ok_count == self.total else ExitCode.CHECK_FAILED

    # ---------------------------------------------------------------------------- documents

    def summary_json(self) -> dict[str, Any]:
        """The report without per-agent records (the ``-o jsonl`` summary line)."""
        rate = self.rate
        return {
            "kind": REPORT_KIND,
            "source": self.source,
            "sources": self.sources or None,
            "shard": _shard_text(self.shard),
            "shards": [_shard_text(s) for s in self.shards] or None,
            "options": self.options,
            "startedAt": datetime.fromtimestamp(self.started_at, timezone.utc).isoformat(
                timespec="milliseconds"
            ),
            "elapsed": round(self.elapsed, 6),
            "totals": {
                "agents": self.total,
                "ok": self.ok_count,
                "failed": self.total - self.ok_count,
                "okPercent": round(100.0 * self.ok_share, 2),
                "duplicates": self.duplicates,
                "unchecked": self.unchecked,
                "agentsPerSecond": round(rate, 3) if rate is not None else None,
            },
            "stages": list(self.stages),
            "funnel": self.funnel(),
            "causes": self.causes(),
            "slowest": self.slowest(),
            "distribution": self.distribution(),
            "crossHost": self.cross_host(),
            "failUnder": round(self.fail_under * 100.0, 4) if self.fail_under is not None else None,
            "notes": self.notes,
            "timedOut": self.timed_out,
            "interrupted": self.interrupted,
            "exitCode": int(self.exit),
        }

    def to_json(self) -> dict[str, Any]:
        """The ``-o json`` / ``--out`` document: ``summary_json()`` plus ``agents`` (every
        ``AgentResult.to_json()`` record, in inventory order). ``fleet report`` reads it back."""
        return {**self.summary_json(), "agents": [r.to_json() for r in self.results]}

    def json_chunks(
        self, summary: dict[str, Any] | None = None, after: dict[str, Any] | None = None
    ) -> Iterator[str]:
        """The text of ``json.dumps({**summary, "agents": [records], **after}, indent=2,
        ensure_ascii=False)``, the same bytes, in pieces: the summary, then ``JSON_BATCH`` agent
        records at a time, each encoded as it is written (``AgentResult.to_json``), so a report of
        100,000 agents never exists as one dict or one string (``--out``, ``-o json``). ``summary``:
        ``summary_json()`` when ``None``; ``after``: keys written after ``agents`` (``junit``)."""
        head = json.dumps(self.summary_json() if summary is None else summary, indent=2, ensure_ascii=False)
        if not self.results:
            yield head[:-2] + ',\n  "agents": []'
        else:
            yield head[:-2] + ',\n  "agents": ['
            batch: list[str] = []
            sep = "\n    "
            for r in self.results:
                batch.append(
                    sep + json.dumps(r.to_json(), indent=2, ensure_ascii=False).replace("\n", "\n    ")
                )
                sep = ",\n    "
                if len(batch) >= JSON_BATCH:
                    yield "".join(batch)
                    batch.clear()
            batch.append("\n  ]")
            yield "".join(batch)
        for key, value in (after or {}).items():
            text = json.dumps(value, indent=2, ensure_ascii=False).replace("\n", "\n  ")
            yield f",\n  {json.dumps(key, ensure_ascii=False)}: {text}"
        yield "\n}"

    def junit_xml(self) -> str:
        """JUnit XML (the dialect GitHub Actions, GitLab and Jenkins read, as ``smoke run --junit``):
        one ``testsuite`` for the run, one ``testcase`` per agent (``classname``: ``classname()``,
        ``name``: the agent's name, ``time``: its total seconds); a ``failure`` (``type`` the cause,
        ``message`` cause and detail) for an agent that failed its checks. Characters XML 1.0 cannot
        hold (control characters, as an agent's error text, a catalog's or a report file's name may
        carry) are written as ``\\x1b`` escapes (``a2actl.core.junit.junit_text``, over the whole
        tree). The caller masks secrets before writing (``Redactor``)."""
        import xml.etree.ElementTree as ET

        failures = self.total - self.ok_count
        name = "a2actl fleet probe" + (f" {self.source}" if self.source else "")
        if self.shard:
            name += f" (shard {_shard_text(self.shard)})"
        root = ET.Element(
            "testsuites",
            name=name,
            tests=str(self.total),
            failures=str(failures),
            errors="0",
            time=f"{self.elapsed:.3f}",
        )
        suite = ET.SubElement(
            root,
            "testsuite",
            name=name,
            tests=str(self.total),
            failures=str(failures),
            errors="0",
            skipped="0",
            time=f"{self.elapsed:.3f}",
            timestamp=datetime.fromtimestamp(self.started_at, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S"),
        )
        for r in self.results:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=classname(r),
                name=r.spec.name,
                time=f"{r.total:.3f}",
            )
            lines = [
                f"url: {r.spec.url}",
                "reached: " + " > ".join(STAGE_LABELS[s] for s in r.passed),
            ]
            if r.version or r.binding:
                lines.append(f"negotiated: {r.version or '?'} {r.binding or '?'}")
            if r.declared_versions:
                lines.append("declared versions: " + ", ".join(r.declared_versions))
            if r.phases:
                lines.append("phases: " + ", ".join(f"{k} {v * 1000:.1f} ms" for k, v in r.phases.items()))
            if r.attempts > 1:
                lines.append(f"attempts: {r.attempts}")
            if not r.ok:
                cause = r.cause or "protocol"
                message = cause + (f": {r.detail}" if r.detail else "")
                failed = r.failed_stage
                text = f"failed at: {STAGE_LABELS.get(failed or '', failed or '-')}\n" + "\n".join(lines)
                ET.SubElement(case, "failure", message=message, type=cause).text = text
            ET.SubElement(case, "system-out").text = "\n".join(lines)
        return junit_text(root)

    @classmethod
    def from_json(cls, doc: Any, source: str) -> FleetReport:
        """Read a report document (``to_json``; a file written by ``--out`` or ``-o json``). Raises
        ``UsageError`` (exit 2) naming ``source`` for anything else: another kind of JSON, a missing
        or malformed field, an invalid agent record (``agents[3]: …``)."""
        if not isinstance(doc, dict) or doc.get("kind") != REPORT_KIND:
            raise UsageError(f"{source}: not an 'a2actl fleet probe -o json' report")
        stages = doc.get("stages")
        if (
            not isinstance(stages, list)
            or not stages
            or any(s not in STAGES for s in stages)
            or stages != sorted(set(stages), key=STAGES.index)
        ):
            raise UsageError(f"{source}: 'stages' must list funnel stages in order ({', '.join(STAGES)})")
        agents = doc.get("agents")
        if not isinstance(agents, list):
            raise UsageError(
                f"{source}: 'agents' (the per-agent records) is missing; write the report with -o json or --out"
            )
        results = [AgentResult.from_json(a, f"{source}: agents[{i}]") for i, a in enumerate(agents)]
        for i, r in enumerate(results):
            extra = [p for p in r.passed if p not in stages]
            if extra:
                raise UsageError(
                    f"{source}: agents[{i}]: stage {extra[0]!r} is not one of this report's stages"
                )
            if r.ok and list(r.passed) != stages:
                raise UsageError(f"{source}: agents[{i}]: an ok record must pass every stage of the report")
        totals_agents = (
            (doc.get("totals") or {}).get("agents") if isinstance(doc.get("totals"), dict) else None
        )
        if totals_agents is not None and totals_agents != len(results):
            raise UsageError(
                f"{source}: 'totals.agents' is {totals_agents!r} but the report holds {len(results)} agent "
                "records (a truncated or edited file?)"
            )
        elapsed = doc.get("elapsed", 0.0)
        if (
            isinstance(elapsed, bool)
            or not isinstance(elapsed, (int, float))
            or not math.isfinite(elapsed)
            or elapsed < 0
        ):
            raise UsageError(f"{source}: 'elapsed' is not a non-negative number of seconds")
        try:
            started = datetime.fromisoformat(str(doc.get("startedAt"))).timestamp()
            # shown again in UTC (``to_json``, JUnit): a time whose UTC form falls outside years
            # 1-9999 (``0001-01-01T00:00:00+14:00``) has none, which was exit 1 'unexpected ValueError'
            datetime.fromtimestamp(started, timezone.utc)
        except (ValueError, OverflowError, OSError) as exc:
            raise UsageError(f"{source}: 'startedAt' is not an ISO 8601 time") from exc
        shard = _parse_shard_field(doc.get("shard"), source)
        options = _options_field(doc.get("options"), source)
        totals_doc = doc.get("totals")
        totals: dict[str, Any] = totals_doc if isinstance(totals_doc, dict) else {}
        dups = totals.get("duplicates", 0)
        unchecked = totals.get("unchecked", 0)
        if isinstance(unchecked, bool) or not isinstance(unchecked, int) or not 0 <= unchecked < 2**63:
            raise UsageError(f"{source}: 'totals.unchecked' is not a count")
        timed_out = doc.get("timedOut", False)
        if not isinstance(timed_out, bool):
            raise UsageError(f"{source}: 'timedOut' is not true or false")
        interrupted = doc.get("interrupted", False)  # absent from reports of a2actl before it
        if not isinstance(interrupted, bool):
            raise UsageError(f"{source}: 'interrupted' is not true or false")
        fail_under = doc.get("failUnder")
        if fail_under is not None and (
            isinstance(fail_under, bool)
            or not isinstance(fail_under, (int, float))
            or not 0 <= fail_under <= 100
        ):
            raise UsageError(f"{source}: 'failUnder' is not a percentage")
        sources = doc.get("sources")
        shards_doc = doc.get("shards")
        return cls(
            results=results,
            stages=tuple(stages),
            source=str(doc.get("source") or ""),
            options=options,
            shard=shard,
            duplicates=dups if isinstance(dups, int) and not isinstance(dups, bool) and dups >= 0 else 0,
            started_at=started,
            elapsed=float(elapsed),
            fail_under=fail_under / 100.0 if fail_under is not None else None,
            shards=[_parse_shard_field(s, source) for s in shards_doc]
            if isinstance(shards_doc, list)
            else [],
            sources=[str(s) for s in sources] if isinstance(sources, list) else [],
            notes=[str(n) for n in doc.get("notes") or [] if isinstance(n, str)],
            unchecked=unchecked,
            timed_out=timed_out,
            interrupted=interrupted,
        )


def _codes(results: Iterable[AgentResult]) -> dict[str, int]:
    """``{code: count}``, most frequent first: each agent's JSON-RPC error code, else its HTTP status
    (``"HTTP 503"``); agents with neither are not counted."""
    codes = Counter(
        str(r.error_code) if r.error_code is not None else f"HTTP {r.http_status}"
        for r in results
        if r.error_code is not None or r.http_status is not None
    )
    return dict(codes.most_common())


def _shard_text(shard: tuple[int, int] | None) -> str | None:
    return f"{shard[0]}/{shard[1]}" if shard else None


_DIGITS = re.compile(r"[0-9]+")


def _parse_shard_field(value: Any, source: str) -> tuple[int, int] | None:
    if value is None:
        return None
    if isinstance(value, str):
        index, _, count = value.partition("/")
        # ASCII digits (str.isdigit() also takes '²') and at most int()'s 4,300: int() refused the
        # others with exit 1 'unexpected ValueError'
        if (
            _DIGITS.fullmatch(index)
            and _DIGITS.fullmatch(count)
            and len(index) <= 4300
            and len(count) <= 4300
            and 1 <= int(index) <= int(count)
        ):
            return int(index), int(count)
    raise UsageError(f"{source}: 'shard' {value!r} is not I/N")


def merge_reports(reports: Iterable[tuple[str, FleetReport]], fail_under: float | None = None) -> FleetReport:
    """Merge the reports of shards (or of any runs over disjoint agents) into one, as one run over
    their union would have counted: records concatenated in the order given, the funnel, causes,
    slowest and distribution recomputed; ``elapsed`` from the earliest start to the latest end;
    ``duplicates`` and ``unchecked`` added; timed out (interrupted) when one of them was. ``fail_under``: the merged run's ``--fail-under`` (default: the strictest
    of the reports').

    Raises ``UsageError`` (exit 2) naming the files when: no reports; two reports of the same shard
    (same ``I/N`` of the same inventory); shards of one inventory with different ``N``; an agent (by
    normalised URL) in two reports; the reports counted different stages (``--checks`` differ). Shards
    of an inventory left out of a merge of several reports (``1/4`` and ``2/4`` only) are named in a
    note: their agents are not counted."""
    items = list(reports)
    if not items:
        raise UsageError("no reports to merge")
    stages = {r.stages for _, r in items}
    if len(stages) > 1:
        raise UsageError(
            "the reports ran different checks (stages "
            + " vs ".join(",".join(s) for s in sorted(stages))
            + "): merge runs of the same --checks"
        )
    seen_shards: dict[tuple[str, tuple[int, int]], str] = {}
    owner: dict[str, str] = {}
    results: list[AgentResult] = []
    shards: list[tuple[int, int] | None] = []
    sources: list[str] = []
    for name, report in items:
        own_shards = report.shards or [report.shard]
        for shard in own_shards:
            if shard is not None:
                shard_key = (report.source, shard)
                if shard_key in seen_shards:
                    raise UsageError(
                        f"{name}: shard {_shard_text(shard)} of {report.source or 'the inventory'} "
                        f"is already in {seen_shards[shard_key]}"
                    )
                other = next((k for k in seen_shards if k[0] == report.source and k[1][1] != shard[1]), None)
                if other is not None:
                    raise UsageError(
                        f"{name}: shard {_shard_text(shard)} of {report.source or 'the inventory'}, but "
                        f"{seen_shards[other]} is shard {_shard_text(other[1])}: different shard counts",
                        hint="merge the shards of one run: --shard 1/N … N/N with the same N",
                    )
                seen_shards[shard_key] = name
        for r in report.results:
            key = normalise_url(r.spec.url)
            if key in owner:
                raise UsageError(
                    f"{name}: agent {r.spec.url} is also in {owner[key]} (the reports overlap)",
                    hint="merge the reports of disjoint shards (--shard 1/N … N/N)",
                )
            owner[key] = name
        results += report.results
        shards += own_shards
        sources += report.sources or [name]
    # a merge of merges recomputes which shards are missing: an earlier merge's note may be stale
    notes = sorted({n for _, r in items for n in r.notes if not n.endswith(_MISSING)})
    counts: dict[str, set[int]] = {}
    for source, (_index, count) in seen_shards:
        counts.setdefault(source, set()).add(count)
    for source, ns in sorted(counts.items()):
        what = source or "the inventory"
        (count,) = ns  # one N per inventory (checked above)
        present = {i for s, (i, _n) in seen_shards if s == source}
        if len(present) < count and len(items) > 1:
            # the first ten missing, found without walking all N (a --shard 1/999999999999 report
            # made range(1, N + 1) a list that never finished)
            missing: list[int] = []
            i = 1
            while len(missing) < 11 and i <= count:
                if i not in present:
                    missing.append(i)
                i += 1
            shown = ", ".join(f"{i}/{count}" for i in missing[:10]) + (" …" if len(missing) > 10 else "")
            notes.append(f"{what}: shard(s) {shown}{_MISSING}")
    starts = [r.started_at for _, r in items]
    ends = [r.started_at + r.elapsed for _, r in items]
    given = [r.fail_under for _, r in items if r.fail_under is not None]
    options = {_options_key(r.options) for _, r in items}
    first = items[0][1]
    sources_set = {r.source for _, r in items}
    return FleetReport(
        results=results,
        stages=first.stages,
        source=first.source if len(sources_set) == 1 else "merged",
        options=first.options if len(options) == 1 else None,
        shard=None,
        duplicates=sum(r.duplicates for _, r in items),
        started_at=min(starts),
        elapsed=max(ends) - min(starts),
        fail_under=fail_under if fail_under is not None else (max(given) if given else None),
        shards=shards,
        sources=sources,
        notes=notes,
        unchecked=sum(r.unchecked for _, r in items),
        timed_out=any(r.timed_out for _, r in items),
        interrupted=any(r.interrupted for _, r in items),
    )


def _options_field(options: Any, source: str) -> dict[str, Any] | None:
    """A report's ``options`` as read back: an object (``None`` when absent) whose ``checks`` is a list
    of check names and ``budget`` a number of seconds or null, as the table reads them; ``UsageError``
    (exit 2) naming the field for a hand-edited one."""
    if options is None:
        return None
    if not isinstance(options, dict):
        raise UsageError(f"{source}: 'options' is not an object")
    checks = options.get("checks")
    if checks is not None and (not isinstance(checks, list) or not all(isinstance(c, str) for c in checks)):
        raise UsageError(f"{source}: 'options.checks' is not a list of check names")
    budget = options.get("budget")
    if budget is not None and (
        isinstance(budget, bool)
        or not isinstance(budget, (int, float))
        or not math.isfinite(budget)
        or budget < 0
    ):
        raise UsageError(f"{source}: 'options.budget' is not a number of seconds")
    return options


def _options_key(options: dict[str, Any] | None) -> str:
    return json.dumps(options, sort_keys=True, default=str)


__all__ = [
    "REPORT_KIND",
    "FleetReport",
    "classname",
    "declared_label",
    "merge_reports",
    "parse_percent",
]
