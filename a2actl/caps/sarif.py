"""``caps lint -o sarif``: the lint result as a SARIF 2.1.0 log (OASIS Static Analysis Results
Interchange Format, https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/), the subset GitHub
code scanning reads (docs.github.com "SARIF support for code scanning").

* ``tool.driver.rules``: every rule that ran, with ``id``, ``name``, ``shortDescription`` (title),
  ``fullDescription`` (why), ``help`` (why + fix), ``helpUri`` (the rule's anchor in
  ``docs/lint-rules.md``), ``defaultConfiguration.level`` and GitHub's ``security-severity``
  property (error 7.5 "high", warning 5.0 "medium", info 2.0 "low");
* ``results``: one per finding, ``ruleId``/``ruleIndex``, ``level`` (``info`` → ``note``),
  ``message.text``, one location: ``physicalLocation.artifactLocation`` (``_artifact``: the card
  file's path, or ``HOST/PATH`` of the card URL with the URL beside it) with ``region.startLine``
  (the line of the pointed-to member in the card as served; its nearest ancestor's when it is
  absent), a ``logicalLocations`` entry whose ``fullyQualifiedName`` is the JSON pointer, and
  ``properties.jsonPointer``; ``partialFingerprints`` so repeated uploads match
  (``primaryLocationLineHash``, the one key code scanning reads: rule, artifact and pointer
  hashed, ``:N`` for the N-th finding of one rule on one member); allowed findings carry
  ``suppressions`` (``external``, the reason);
* ``run.properties.omitted``: per rule, the findings over ``a2actl.caps.lint.MAX_PER_RULE`` that are
  not listed (code scanning rejects a run of over 25,000 results and shows 5,000).

Pure: builds a dict, never prints.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import TYPE_CHECKING, Any

from a2actl import __version__

if TYPE_CHECKING:
    from a2actl.caps.lint import LintResult

SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
#: Where ``docs/lint-rules.md`` is published, when the project has a public home (pyproject declares
#: no ``[project.urls]`` yet): then a rule's ``helpUri`` is this plus ``#a2a-sec-NNN`` and the driver's
#: ``informationUri`` this. ``None``: both are left out (they are optional in SARIF 2.1.0 §3.19.13,
#: §3.49.12) rather than pointing at a made-up address; ``help`` names the page and anchor instead.
DOCS_URL: str | None = None
_LEVEL = {"error": "error", "warning": "warning", "info": "note"}
#: GitHub code scanning's ``security-severity`` (0.0-10.0; 7.0+ high, 4.0+ medium, below low).
_SECURITY_SEVERITY = {"error": "7.5", "warning": "5.0", "info": "2.0"}

_WS = re.compile(r"[ \t\n\r]*")
_STRING = re.compile(r'"(?:[^"\\\x00-\x1f]|\\.)*"')
_SCALAR = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null")


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def pointer_lines(text: str) -> dict[str, int]:
    """The 1-based line of every JSON pointer of the JSON document ``text``: for an object member,
    the line of its name; for an array item, the line where it starts; ``""`` is the line of the
    document's first value. Returns what it found before the first syntax error (``{}`` for text
    that is not JSON); never raises."""
    out: dict[str, int] = {}
    newlines = [i for i, c in enumerate(text) if c == "\n"]

    def line(pos: int) -> int:
        import bisect

        return bisect.bisect_left(newlines, pos) + 1

    def ws(i: int) -> int:
        m = _WS.match(text, i)
        return m.end() if m else i

    def value(i: int, ptr: str) -> int:
        i = ws(i)
        out.setdefault(ptr, line(i))
        c = text[i : i + 1]
        if c == "{":
            i = ws(i + 1)
            if text[i : i + 1] == "}":
                return i + 1
            while True:
                i = ws(i)
                if text[i : i + 1] != '"':
                    raise ValueError("member name expected")
                name_at = i
                m = _STRING.match(text, i)
                if not m:
                    raise ValueError("unterminated member name")
                name, i = json.loads(m.group()), m.end()
                child = f"{ptr}/{_escape(name)}"
                out[child] = line(name_at)
                i = ws(i)
                if text[i : i + 1] != ":":
                    raise ValueError("':' expected")
                i = value(i + 1, child)
                out[child] = line(name_at)  # the member's line, not its value's
                i = ws(i)
                c = text[i : i + 1]
                if c == ",":
                    i += 1
                    continue
                if c == "}":
                    return i + 1
                raise ValueError("',' or '}' expected")
        if c == "[":
            i = ws(i + 1)
            if text[i : i + 1] == "]":
                return i + 1
            n = 0
            while True:
                i = value(i, f"{ptr}/{n}")
                n += 1
                i = ws(i)
                c = text[i : i + 1]
                if c == ",":
                    i += 1
                    continue
                if c == "]":
                    return i + 1
                raise ValueError("',' or ']' expected")
        if c == '"':
            m = _STRING.match(text, i)
            if not m:
                raise ValueError("unterminated string")
            return m.end()
        m = _SCALAR.match(text, i)
        if not m:
            raise ValueError("value expected")
        return m.end()

    try:
        value(0, "")
    except (ValueError, IndexError, RecursionError):
        pass
    return out


def line_of(lines: dict[str, int], pointer: str) -> int:
    """The line of ``pointer``, or of its nearest ancestor that exists (a missing member such as
    ``/documentationUrl`` points at its parent), else 1."""
    p = pointer
    while True:
        if p in lines:
            return lines[p]
        if not p:
            return 1
        p = p.rsplit("/", 1)[0]


def _artifact(source: str, kind: str) -> dict[str, Any]:
    """The ``artifactLocation`` of the card: for a file, its path as given (relative, under
    ``%SRCROOT%``) or its ``file://`` URI (absolute); for a URL, the relative reference
    ``HOST[%3APORT]/PATH`` with the URL (userinfo and query left out) in ``description`` and
    ``properties.url``. Not the ``https://`` URL itself: code scanning rejects an upload whose
    absolute URIs do not share the checkout's ``file`` scheme (docs.github.com "SARIF support",
    source root; github/codeql-action#754)."""
    from pathlib import PurePath
    from urllib.parse import quote, urlsplit

    if kind == "url" or re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", source):
        try:
            parts = urlsplit(source)
            host, port = parts.hostname or "card", parts.port
        except ValueError:
            parts, host, port = urlsplit(""), "card", None
        if ":" in host:  # an IPv6 literal
            host = f"[{host}]"
        where = f"{host}:{port}" if port else host
        url = f"{parts.scheme}://{where}{parts.path}" if parts.scheme else source
        return {
            "uri": quote(f"{where}{parts.path or '/'}", safe="/"),
            "description": {"text": f"the agent card served at {url}"},
            "properties": {"url": url},
        }
    p = PurePath(source)
    if p.is_absolute():
        return {"uri": p.as_uri()}
    return {"uri": quote(p.as_posix()), "uriBaseId": "%SRCROOT%"}


def to_sarif(result: LintResult) -> dict[str, Any]:
    """The SARIF 2.1.0 log of one ``caps lint`` run (shape in the module docstring)."""
    rules = [r for r in result.rules if r.id not in result.not_run]
    index = {r.id: n for n, r in enumerate(rules)}
    lines = pointer_lines(result.text) if result.text else {}
    artifact = _artifact(result.source, result.kind)
    results: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for f in result.findings:
        fp = hashlib.sha256(f"{f.rule.id}\0{artifact['uri']}\0{f.pointer}".encode()).hexdigest()
        seen[fp] = seen.get(fp, 0) + 1
        res: dict[str, Any] = {
            "ruleId": f.rule.id,
            "level": _LEVEL[f.severity],
            "message": {"text": f"{f.message}. {f.rule.fix}"},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": artifact,
                        "region": {"startLine": line_of(lines, f.pointer)},
                    },
                    "logicalLocations": [
                        {"fullyQualifiedName": f.pointer or "/", "kind": "member"},
                    ],
                    "properties": {"jsonPointer": f.pointer},
                }
            ],
            # code scanning reads primaryLocationLineHash only (docs.github.com "SARIF support",
            # result object) and upload-sarif computes it from the file's line text when absent,
            # which a URL target has not: ours is the rule, the artifact and the pointer, with
            # CodeQL's ":N" occurrence suffix, so moving lines never opens new alerts
            "partialFingerprints": {
                "primaryLocationLineHash": f"{fp[:16]}:{seen[fp]}",
                "a2actlLint/v1": fp,
            },
            "properties": {"jsonPointer": f.pointer, "severity": f.severity},
        }
        if f.rule.id in index:
            res["ruleIndex"] = index[f.rule.id]
        if f.suppressed is not None:
            res["suppressions"] = [
                {
                    "kind": "external",
                    "justification": f.suppressed.reason,
                    "properties": {"source": f.suppressed.source},
                }
            ]
        results.append(res)
    driver: dict[str, Any] = {
        **({"informationUri": DOCS_URL} if DOCS_URL else {}),
        "name": "a2actl",
        "fullName": "a2actl caps lint",
        "version": __version__,
        "rules": [
            {
                "id": r.id,
                "name": r.name,
                "shortDescription": {"text": r.title},
                "fullDescription": {"text": r.why},
                "help": {
                    "text": f"{r.why}\nFix: {r.fix}\nSource: {r.source}\nDocs: a2actl docs/lint-rules.md#{r.anchor}",
                    "markdown": f"{r.why}\n\n**Fix:** {r.fix}\n\n*Source:* {r.source}\n\n*Docs:* a2actl `docs/lint-rules.md#{r.anchor}`",
                },
                **({"helpUri": f"{DOCS_URL}#{r.anchor}"} if DOCS_URL else {}),
                "defaultConfiguration": {"level": _LEVEL[r.severity]},
                "properties": {
                    "tags": ["security", "a2a"],
                    "security-severity": _SECURITY_SEVERITY[r.severity],
                    "precision": "high" if r.severity != "info" else "medium",
                    "live": r.live,
                },
            }
            for r in rules
        ],
    }
    run: dict[str, Any] = {
        "tool": {"driver": driver},
        "invocations": [
            {
                "executionSuccessful": True,
                "properties": {
                    "failOn": result.fail_on,
                    "failed": result.failed,
                    "live": result.live,
                    "notRun": [{"id": k, "reason": v} for k, v in result.not_run.items()],
                },
            }
        ],
        "results": results,
        "properties": {"shape": result.shape, "source": result.source, "omitted": result.omitted},
    }
    if artifact.get("uriBaseId"):
        run["originalUriBaseIds"] = {"%SRCROOT%": {"description": {"text": "The directory a2actl ran in."}}}
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}


def dumps(log: dict[str, Any]) -> str:
    """The SARIF log as indented JSON text (UTF-8 safe, no trailing newline)."""
    return json.dumps(log, indent=2, ensure_ascii=False)
