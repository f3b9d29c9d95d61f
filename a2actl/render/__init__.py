"""The one module that owns rich: human tables, waterfalls, histograms, JSON/JSONL, errors, and the
verbose wire log.

Consoles are created with ``markup=False, highlight=False, emoji=False``: agent-supplied strings are
untrusted, so ``[bold]`` in an agent name is printed as text, and control characters are escaped by
``safe()`` before display. Data goes to stdout; narration, warnings and ``-v`` output to stderr.
"""

from __future__ import annotations

import json
import sys
import unicodedata
from collections.abc import Iterable
from typing import IO, Any

from rich import box
from rich.console import Console, RenderHook
from rich.table import Table
from rich.text import Text

from a2actl.core.units import format_seconds


def safe(value: Any, limit: int = 500) -> str:
    """Text for display: control characters escaped (``\\x1b`` → ``\\x1b`` literally), truncated."""
    s = "" if value is None else str(value)
    out = []
    for ch in s[:limit]:
        if unicodedata.category(ch) in ("Cc", "Cf") and ch not in ("\n", "\t"):
            out.append(ch.encode("unicode_escape").decode("ascii"))
        else:
            out.append(ch)
    return "".join(out) + ("…" if len(s) > limit else "")


#: One compact encoder for every JSONL record: ``json.dumps`` with options builds a new encoder per
#: call, which was a fifth of the per-event cost of ``stream tail -o jsonl``.
_JSONL = json.JSONEncoder(ensure_ascii=False, default=str, separators=(",", ":")).encode


def _count(value: Any) -> str:
    """A count for display: thousands separated, ``?`` when unknown (``None``)."""
    return f"{value:,}" if isinstance(value, int) else "?"


def _unsafe_chars() -> dict[int, str]:
    """Every C0/C1 control (but newline and tab) and every format character (bidi overrides such as
    U+202E, zero-width joiners), mapped to its escaped spelling (``\\x1b``, ``\\u202e``)."""
    table: dict[int, str] = {}
    for cp in list(range(0x00, 0x20)) + [0x7F] + list(range(0x80, 0xA0)):
        if chr(cp) not in "\n\t":
            table[cp] = chr(cp).encode("unicode_escape").decode("ascii")
    for cp in (
        0x00AD,
        0x061C,
        0x180E,
        *range(0x200B, 0x2010),
        *range(0x202A, 0x202F),
        *range(0x2060, 0x2070),
        0xFEFF,
        *range(0xFFF9, 0xFFFC),
    ):
        table[cp] = chr(cp).encode("unicode_escape").decode("ascii")
    return table


_UNSAFE = _unsafe_chars()


class _Neutralised:
    """Renders another renderable and escapes control and bidi characters in its text segments.
    Rich's own control segments (cursor moves) and styles pass through untouched: only text that
    came from data is changed, so an agent's ``ESC]0;…BEL`` or U+202E cannot reach the terminal."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __rich_console__(self, console: Console, options: Any) -> Any:
        from rich.segment import Segment

        for seg in console.render(self.inner, options):
            if seg.control or not seg.text:
                yield seg
            else:
                text = seg.text.translate(_UNSAFE)
                yield seg if text == seg.text else Segment(text, seg.style, seg.control)


class _NeutraliseHook(RenderHook):
    """The one choke point for terminal safety in table mode: every renderable printed on a console
    of this module passes through ``_Neutralised`` (``safe()`` at call sites stays as a first line)."""

    def process_renderables(self, renderables: list[Any]) -> list[Any]:
        return [_Neutralised(r) for r in renderables]


#: Width for output that is not a terminal (a CI log, a pipe) when ``COLUMNS`` is not set: wide
#: enough that URLs and ids are never wrapped or cut (rich's default would be 80 columns).
PIPE_WIDTH = 1000


def _console(file: IO[str]) -> Console:
    import os

    width = None
    if not os.environ.get("COLUMNS"):
        try:
            if not file.isatty():
                width = PIPE_WIDTH
        except (AttributeError, ValueError):
            width = PIPE_WIDTH
    console = Console(file=file, markup=False, highlight=False, emoji=False, soft_wrap=True, width=width)
    console.push_render_hook(_NeutraliseHook())
    return console


class _RedactingStream:
    """A text stream that masks every known secret (``a2actl.core.redact.Redactor``) in what is written
    to it: the choke point between a2actl and its stdout/stderr. Everything else is delegated."""

    def __init__(self, inner: IO[str], redact: Any) -> None:
        self._inner = inner
        self._redact = redact

    def write(self, text: str) -> int:
        if self._redact.needles():
            text = self._redact(text)
        return self._inner.write(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        self._inner.flush()

    def __getattr__(self, name: str) -> Any:  # isatty, fileno, encoding, … for rich
        return getattr(self._inner, name)


class Renderer:
    """Writes results in the chosen format (``table``, ``json``, ``jsonl``). Every byte goes through
    a ``_RedactingStream`` (known secrets masked) and, in table mode, through the terminal-safety
    render hook (control and bidi characters escaped)."""

    def __init__(
        self,
        output: str,
        stdout: IO[str] | None = None,
        stderr: IO[str] | None = None,
        secrets: Iterable[str] = (),
        redact: bool = True,
    ) -> None:
        from a2actl.core.redact import Redactor

        self.output = output
        self.redact = Redactor(secrets)
        self.stdout: IO[str] = (
            _RedactingStream(stdout or sys.stdout, self.redact) if redact else (stdout or sys.stdout)
        )
        self.stderr: IO[str] = _RedactingStream(stderr or sys.stderr, self.redact)
        self.out = _console(self.stdout)
        self.err = _console(self.stderr)

    # -- machine output ------------------------------------------------------------------------
    def json(self, obj: Any) -> None:
        """One JSON document on stdout."""
        self.stdout.write(json.dumps(obj, indent=2, ensure_ascii=False, default=str) + "\n")
        self.stdout.flush()

    def jsonl(self, obj: Any) -> None:
        """One compact JSON object on its own line, flushed at once."""
        self.stdout.write(_JSONL(obj) + "\n")
        self.stdout.flush()

    def data(self, obj: Any) -> None:
        """``json`` or ``jsonl`` according to the output format."""
        (self.jsonl if self.output == "jsonl" else self.json)(obj)

    # -- narration -----------------------------------------------------------------------------
    def warn(self, text: str) -> None:
        self.err.print(Text("warning: " + safe(text), style="yellow"))

    def note(self, text: str) -> None:
        self.err.print(Text(safe(text), style="dim"))

    def error(self, err_json: dict[str, Any]) -> None:
        """An error: one line on stderr (message and hint); with json/jsonl also the object on stdout."""
        e = err_json["error"]
        line = Text("a2actl: ", style="bold red")
        line.append(safe(e["message"], 2000))
        if e.get("hint"):
            line.append(" (hint: " + safe(e["hint"]) + ")", style="yellow")
        self.err.print(line)
        if self.output in ("json", "jsonl"):
            self.data(err_json)

    # -- card ------------------------------------------------------------------------------------
    def card(self, doc: dict[str, Any]) -> None:
        """Human view of ``card get``: identity, interfaces, capabilities, skills, security."""
        v = doc["normalized"]
        ident = Table(box=box.SIMPLE_HEAD, show_header=False, pad_edge=False)
        ident.add_column(style="bold")
        ident.add_column()
        provider = v.get("provider") or {}
        rows = [
            ("name", v.get("name")),
            ("description", v.get("description")),
            ("version", v.get("version")),
            ("provider", provider.get("organization")),
            ("source", doc.get("source")),
            ("card shape", f"{v['shape']} (declares {', '.join(v['declaredVersions']) or 'no version'})"),
            ("signed", "yes" if v.get("signed") else "no"),
        ]
        for k, val in rows:
            ident.add_row(k, Text(safe(val)))
        self.out.print(ident)
        ifs = Table(title="Interfaces", box=box.SIMPLE_HEAD, title_justify="left")
        for col in ("#", "binding", "version", "url", "declared by"):
            ifs.add_column(col)
        for i, iface in enumerate(v["interfaces"], 1):
            ifs.add_row(
                str(i),
                Text(safe(iface["protocolBinding"])),
                Text(safe(iface["protocolVersion"] or "?")),
                Text(safe(iface["url"])),
                iface["source"],
            )
        self.out.print(ifs)
        caps = v["capabilities"]
        self.out.print(
            Text(
                "Capabilities: "
                + ", ".join(f"{k}={'yes' if val else 'no'}" for k, val in caps.items())
                + (f"; extensions: {len(v['extensions'])}" if v["extensions"] else "")
            )
        )
        sk = Table(title=f"Skills ({len(v['skills'])})", box=box.SIMPLE_HEAD, title_justify="left")
        for col in ("id", "name", "tags", "examples"):
            sk.add_column(col)
        for s in v["skills"]:
            sk.add_row(
                Text(safe(s["id"])),
                Text(safe(s["name"])),
                Text(safe(", ".join(s["tags"]))),
                Text(safe("; ".join(s["examples"]), 120)),
            )
        self.out.print(sk)
        if v["securitySchemes"] or v["securityRequirements"]:
            sec = Table(title="Security", box=box.SIMPLE_HEAD, title_justify="left")
            sec.add_column("scheme")
            sec.add_column("type")
            sec.add_column("required")
            required = {name for req in v["securityRequirements"] for name in req}
            for name, scheme in v["securitySchemes"].items():
                detail = scheme.get("scheme") or scheme.get("location") or ""
                sec.add_row(
                    Text(safe(name)),
                    Text(safe(f"{scheme.get('type')} {detail}".strip())),
                    "yes" if name in required else "no",
                )
            self.out.print(sec)
        else:
            self.out.print(Text("Security: none declared"))
        for note in doc.get("notes", []) + v.get("warnings", []):
            self.warn(note)

    # -- caps ------------------------------------------------------------------------------------
    _SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "info": "dim"}
    _CLASS_STYLE = {"breaking": "bold red", "risky": "yellow", "cosmetic": "dim"}

    def caps_validate(self, doc: dict[str, Any]) -> None:
        """Human view of ``caps validate``: one row per finding, then a verdict line."""
        counts = doc["counts"]
        self.out.print(
            Text(
                f"{safe(doc['source'])}: {doc['shape']} card, checked against the "
                f"{' and '.join(doc['schemas']) or 'no'} schema"
                + ("s" if len(doc["schemas"]) > 1 else "")
                + (" (strict)" if doc["strict"] else "")
                + (" + live checks" if doc["live"] else "")
            )
        )
        for f in doc["findings"]:
            line = Text(f"{f['severity']:<8}", style=self._SEVERITY_STYLE.get(f["severity"], ""))
            line.append(safe(f["pointer"] or "/"), style="bold")
            line.append("  " + safe(f["message"]))
            self.out.print(line)
            what = f"schema {f['schema']}" if f["kind"] == "schema" else f"check {f['check']}"
            self.out.print(Text(f"{'':8}{what} · {safe(f['section'])}", style="dim"))
        verdict = (
            "schema violations"
            if counts["schemaErrors"]
            else "operational checks failed"
            if counts["checkErrors"]
            else "valid"
        )
        style = "bold green" if verdict == "valid" else "bold red"
        self.out.print(
            Text(
                f"{verdict}: {counts['schemaErrors']} schema error(s), {counts['checkErrors']} "
                f"failed check(s), {counts['warnings']} warning(s)",
                style=style,
            )
        )
        for note in doc.get("notes", []):
            self.warn(note)

    def caps_diff(self, doc: dict[str, Any]) -> None:
        """Human view of ``caps diff``: changes grouped by class, then the verdict against --fail-on."""
        before, after = doc["before"], doc["after"]
        label = f" ({doc['expectation']})" if doc.get("expectation") else ""
        self.out.print(Text(f"{safe(before['source'])}{label} → {safe(after['source'])}"))
        if not doc["changes"]:
            self.out.print(Text("no changes", style="bold green"))
        for klass in ("breaking", "risky", "cosmetic"):
            rows = [c for c in doc["changes"] if c["class"] == klass]
            if not rows:
                continue
            t = Table(
                title=f"{klass} ({len(rows)})",
                title_justify="left",
                title_style=self._CLASS_STYLE[klass],
                box=box.SIMPLE_HEAD,
            )
            t.add_column("path", no_wrap=True)  # a JSON pointer is read whole: the prose columns wrap
            for col in ("change", "reason"):
                t.add_column(col, overflow="fold")
            for c in rows:
                t.add_row(
                    Text(safe(c["path"] or "/")),
                    Text(safe(self._change_text(c), 70)),
                    Text(safe(c["reason"])),
                )
            self.out.print(t)
        n = doc["counts"]
        line = f"{n['breaking']} breaking, {n['risky']} risky, {n['cosmetic']} cosmetic; --fail-on {doc['failOn']}: "
        self.out.print(
            Text(
                line + ("FAIL" if doc["failed"] else "pass"),
                style="bold red" if doc["failed"] else "bold green",
            )
        )

    @staticmethod
    def _change_text(c: dict[str, Any]) -> str:
        def short(v: Any) -> str:
            if isinstance(v, dict) and isinstance(v.get("url"), str):
                return v["url"]  # a whole interface: its url says which one
            return json.dumps(v, ensure_ascii=False, default=str) if not isinstance(v, str) else v

        if c["op"] == "added":
            return f"+ {short(c['after'])}"
        if c["op"] == "removed":
            return f"- {short(c['before'])}"
        return f"{short(c['before'])} → {short(c['after'])}"

    def caps_fingerprint(self, doc: dict[str, Any]) -> None:
        """Human view of ``caps fingerprint``: per endpoint, declared vs answered; then mismatches."""
        self.out.print(
            Text(
                f"{safe(doc['source'])}: speaks {', '.join(doc['speaks']) or 'nothing'} "
                f"({doc['verdict']}); the card declares {', '.join(doc['declared']) or 'nothing'}",
                style="bold",
            )
        )
        t = Table(box=box.SIMPLE_HEAD)
        t.add_column("binding", no_wrap=True)
        t.add_column("url", overflow="fold", min_width=24)
        for col in ("declared", "1.0", "0.3", "A2A-Version"):
            t.add_column(col, no_wrap=True)
        for e in doc["endpoints"]:
            cells = []
            for fam in ("1.0", "0.3"):
                p = e["probes"].get(fam)
                mark = (
                    {"answers": "answers", "rejects": "rejected", "error": "error"}.get(p["verdict"], "?")
                    if p
                    else "-"
                )
                style = (
                    {"answers": "green", "rejects": "red", "error": "yellow"}.get(p["verdict"], "")
                    if p
                    else ""
                )
                cells.append(Text(mark, style=style))
            vh = e["versionHeader"]
            header = "honoured" if vh["honoured"] else "ignored" if vh["honoured"] is False else "n/a"
            if vh["missingHeaderReadAs"] == "1.0":
                header += "; missing = 1.0"
            t.add_row(
                Text(safe(e["protocolBinding"])),
                Text(safe(e["url"])),
                ", ".join(e["declaredVersions"]) or "-",
                *cells,
                header,
            )
        self.out.print(t)
        self.out.print(
            Text(
                "1.0 = GetTask with 'A2A-Version: 1.0'; 0.3 = tasks/get without the header; "
                "both on a random task id (TaskNotFound = answers)",
                style="dim",
            )
        )
        cv = doc.get("cardVariants")
        if cv:
            self.out.print(
                Text(
                    "card: "
                    + ("changes with A2A-Version" if cv["varies"] else "same for every A2A-Version")
                    + (f" (Vary: {safe(cv['vary'])})" if cv.get("vary") else "")
                )
            )
        if doc["bindingsAgree"] is not None:
            self.out.print(
                Text("bindings: " + ("JSON-RPC and HTTP+JSON agree" if doc["bindingsAgree"] else "disagree"))
            )
        for m in doc["mismatches"]:
            line = Text(f"{m['severity']}: ", style=self._SEVERITY_STYLE.get(m["severity"], ""))
            line.append(safe(m["message"]))
            line.append(" → try: " + safe(m["suggestion"]), style="cyan")
            self.out.print(line)
        for note in doc.get("notes", []):
            self.warn(note)

    # -- send / task ------------------------------------------------------------------------------
    _STATE_STYLE = {
        "completed": "bold green",
        "failed": "bold red",
        "rejected": "bold red",
        "canceled": "yellow",
        "input-required": "bold yellow",
        "auth-required": "bold yellow",
        "working": "cyan",
        "submitted": "cyan",
    }

    def send_result(self, doc: dict[str, Any]) -> None:
        """Human view of ``send``: the dry run, or the task / message it produced."""
        if doc.get("dryRun"):
            self.out.print(Text(f"{doc['method']}  {safe(doc['url'])}", style="bold"))
            for k, v in doc["headers"].items():
                self.out.print(Text(f"{safe(k)}: {safe(v)}"))
            self.out.print(Text(json.dumps(doc["body"], indent=2, ensure_ascii=False)))
            self.out.print(Text("\n" + doc["curl"]))
            return
        if doc.get("streaming"):
            self.out.print(
                Text(f"task {safe(doc['taskId'])}: ", style="bold").append(
                    safe(doc["state"] or "-"), style=self._STATE_STYLE.get(doc["state"] or "", "")
                )
            )
            return
        if doc.get("polled"):
            p = doc["polled"]
            self.err.print(
                Text(
                    f"note: {safe(p['reason'])} ({p['polls']} GetTask poll(s), "
                    f"{format_seconds(p['seconds'])})",
                    style="yellow",
                )
            )
        self.task_result({"task": doc["result"], "method": doc["method"]})

    def task_result(self, doc: dict[str, Any]) -> None:
        """Human view of one task (or a bare Message answer)."""
        v = doc["task"]
        if v.get("kind") == "message":
            self.out.print(Text(f"message {safe(v.get('id'))} (no task)", style="bold"))
            self.out.print(Text(safe(v.get("text"), 4000)))
            return
        head = Text(f"task {safe(v.get('id'))}  ", style="bold")
        head.append(safe(v.get("state") or "-"), style=self._STATE_STYLE.get(v.get("state") or "", ""))
        head.append(f"  context {safe(v.get('contextId'))}", style="dim")
        self.out.print(head)
        if v.get("statusMessage"):
            self.out.print(Text("status: " + safe(v["statusMessage"], 2000)))
        for a in v.get("artifacts") or []:
            self.out.print(
                Text(f"artifact {safe(a.get('name') or a.get('artifactId'))}: ", style="bold").append(
                    safe(a.get("text"), 2000)
                )
            )

    def task_list(self, doc: dict[str, Any]) -> None:
        """Human view of ``task list``."""
        t = Table(box=box.SIMPLE_HEAD)
        for col in ("id", "state", "contextId", "artifacts"):
            t.add_column(col, overflow="fold")
        for v in doc["tasks"]:
            t.add_row(
                Text(safe(v.get("id"))),
                Text(safe(v.get("state") or "-"), style=self._STATE_STYLE.get(v.get("state") or "", "")),
                Text(safe(v.get("contextId"))),
                str(len(v.get("artifacts") or [])),
            )
        self.out.print(t)
        more = f"; next page: --page-token {doc['nextPageToken']}" if doc.get("nextPageToken") else ""
        self.out.print(Text(f"{len(doc['tasks'])} task(s) (total {doc.get('totalSize')}){more}", style="dim"))

    # -- sessions ---------------------------------------------------------------------------------
    @staticmethod
    def _age(seconds: float | None) -> str:
        """``45s``, ``4m12s``, ``2h03m``, ``3d04h``."""
        if seconds is None:
            return "-"
        s = int(seconds)
        if s < 60:
            return f"{seconds:.1f}s" if seconds < 10 else f"{s}s"
        if s < 3600:
            return f"{s // 60}m{s % 60:02d}s"
        if s < 86400:
            return f"{s // 3600}h{s % 3600 // 60:02d}m"
        return f"{s // 86400}d{s % 86400 // 3600:02d}h"

    def _sessions_table_obj(self, doc: dict[str, Any]) -> Table:
        t = Table(
            box=box.SIMPLE_HEAD,
            title=f"{len(doc['sessions'])} session(s) from {doc['source']}",
            title_justify="left",
        )
        for col in ("id", "state", "age", "idle", "tasks", "peer", "token"):
            t.add_column(col, overflow="fold")
        for s in doc["sessions"]:
            tasks = s.get("tasks") or []
            running = sum(
                1 for x in tasks if x["state"] not in ("completed", "failed", "canceled", "rejected")
            )
            tok = s.get("token")
            tok_text = (
                "-"
                if not tok
                else ("revoked" if tok["revoked"] else f"{tok['scope']} until {tok['expiresAt']}")
            )
            t.add_row(
                Text(safe(s["id"])),
                Text(
                    s["state"],
                    style={"active": "cyan", "idle": "yellow", "closed": "dim"}.get(s["state"], ""),
                ),
                self._age(s.get("ageSeconds")),
                self._age(s.get("idleSeconds")),
                f"{len(tasks)} ({running} running)",
                Text(safe(s.get("peer") or "-")),
                Text(safe(tok_text)),
            )
        return t

    def sessions_table(self, doc: dict[str, Any]) -> None:
        """Human view of ``sessions list``."""
        self.out.print(self._sessions_table_obj(doc))

    def sessions_live(self, doc: dict[str, Any]) -> None:
        """``sessions list --watch``: one live table, redrawn in place."""
        from rich.live import Live

        if getattr(self, "_live", None) is None:
            self._live = Live(self._sessions_table_obj(doc), console=self.out, auto_refresh=False)
            self._live.start()
        self._live.update(self._sessions_table_obj(doc), refresh=True)

    def session_detail(self, doc: dict[str, Any]) -> None:
        """Human view of ``sessions show``."""
        s = doc["session"]
        t = Table(box=box.SIMPLE_HEAD, show_header=False)
        t.add_column(style="bold")
        t.add_column()
        tok = s.get("token")
        rows = [
            ("id", s["id"]),
            ("state", s["state"]),
            ("peer", s.get("peer") or "-"),
            ("contexts", ", ".join(s.get("contextIds") or []) or "-"),
            # ageSeconds/idleSeconds stop at closedAt (docs/debug-endpoints.md): for a closed
            # session they are its lifetime and its last idle spell, not "ago".
            (
                "created",
                f"{s['createdAt']} ({self._age(s['ageSeconds'])} ago)"
                if not s.get("closedAt")
                else f"{s['createdAt']} (lived {self._age(s['ageSeconds'])})",
            ),
            (
                "last activity",
                f"{s['lastActivityAt']} ({self._age(s['idleSeconds'])} ago)"
                if not s.get("closedAt")
                else f"{s['lastActivityAt']} ({self._age(s['idleSeconds'])} before it closed)",
            ),
            (
                "token",
                "-"
                if not tok
                else f"scope {tok['scope']}, expires {tok['expiresAt']}"
                + (", revoked" if tok["revoked"] else ""),
            ),
            (
                "messages",
                f"{s.get('messages')} ({_count(s.get('bytesIn'))} bytes in, {_count(s.get('bytesOut'))} out)",
            ),
            ("closed", f"{s['closedAt']} ({s['closeReason']})" if s.get("closedAt") else "-"),
        ]
        for k, v in rows:
            t.add_row(k, Text(safe(v)))
        for task in s.get("tasks") or []:
            t.add_row("task", Text(f"{safe(task['id'])}  {task['state']}"))
        self.out.print(t)

    def sessions_killed(self, doc: dict[str, Any]) -> None:
        """Human view of ``sessions kill``: the plan (dry run) or what was cancelled and revoked."""
        if doc["dryRun"] or not doc["results"]:
            verb = "would kill" if doc["dryRun"] else "nothing to kill:"
            listed = ": " + ", ".join(doc["selected"]) if doc["selected"] else ""
            self.out.print(Text(safe(f"{verb} {len(doc['selected'])} session(s){listed}", 4000)))
            return
        t = Table(box=box.SIMPLE_HEAD)
        for col in ("session", "result", "cancelled tasks", "already ended", "token revoked"):
            t.add_column(col, overflow="fold")
        for r in doc["results"]:
            result = "not found" if not r["found"] else ("already closed" if r["alreadyClosed"] else "killed")
            t.add_row(
                Text(safe(r["id"])),
                Text(result, style="red" if not r["found"] else ""),
                Text(safe(", ".join(r["canceledTasks"]) or "-")),
                Text(safe(", ".join(r["alreadyTerminalTasks"]) or "-")),
                "yes" if r["tokenRevoked"] else "no",
            )
        self.out.print(t)

    def sessions_leaks(self, doc: dict[str, Any]) -> None:
        """Human view of ``sessions leaks``."""
        pending = doc.get("withinGrace") or []
        if pending:
            self.err.print(
                Text(
                    f"note: {len(pending)} session(s) have ended all their tasks but are still within "
                    f"--grace {self._age(doc['grace'])}: not counted yet; check again later or pass "
                    "--grace 0",
                    style="yellow",
                )
            )
        if doc["ok"]:
            self.out.print(
                Text(
                    f"no leaks: {doc['checked']} open session(s), none over --max-age "
                    f"{self._age(doc['maxAge'])} or open after their tasks ended"
                    + (f" ({len(pending)} within --grace)" if pending else ""),
                    style="bold green",
                )
            )
            return
        for leak in doc["leaks"]:
            line = Text(f"LEAK {safe(leak['id'])}: ", style="bold red")
            line.append(safe("; ".join(leak["reasons"])))
            self.out.print(line)
        self.out.print(
            Text(f"{len(doc['leaks'])} leaked of {doc['checked']} open session(s)", style="bold red")
        )

    # -- dlq --------------------------------------------------------------------------------------
    def dlq_list(self, doc: dict[str, Any]) -> None:
        """Human view of ``dlq list`` (and ``replay --dry-run``)."""
        title = f"{doc['count']} dead letter(s) in {doc['source']}" + (
            " would be replayed" if doc.get("dryRun") else ""
        )
        t = Table(box=box.SIMPLE_HEAD, title=title, title_justify="left")
        for col in ("id", "method", "messageId", "age", "attempts", "error"):
            t.add_column(col, overflow="fold")
        for e in doc["entries"]:
            err = f"{e['errorClass'] or '-'} {e['errorCode'] if e['errorCode'] is not None else ''}".strip()
            t.add_row(
                Text(safe(e["id"])),
                Text(safe(e["method"])),
                Text(safe(e["messageId"])),
                self._age(e["ageSeconds"]),
                str(e["attempts"]),
                Text(safe(err)),
            )
        self.out.print(t)

    def dlq_stats(self, doc: dict[str, Any]) -> None:
        """Human view of ``dlq stats``."""
        oldest = doc["oldest"]
        self.out.print(
            Text(
                f"{doc['source']}: depth {doc['depth']}"
                + (f", oldest {safe(oldest['id'])} ({self._age(oldest['ageSeconds'])})" if oldest else "")
                + (
                    f", {doc['invalid']['count']} invalid (skipped)"
                    if doc.get("invalid", {}).get("count")
                    else ""
                ),
                style="bold",
            )
        )
        peak = max([b["count"] for b in doc["ageHistogram"]] + [1])
        for b in doc["ageHistogram"]:
            self.out.print(
                Text(f"  {b['bucket']:>5} {b['count']:>8}  " + "█" * round(30 * b["count"] / peak))
            )
        t = Table(box=box.SIMPLE_HEAD, title="top error codes", title_justify="left")
        t.add_column("code")
        t.add_column("count", justify="right")
        for c in doc["topErrorCodes"]:
            t.add_row(Text(safe(c["code"])), str(c["count"]))
        self.out.print(t)
        t = Table(box=box.SIMPLE_HEAD, title="by target", title_justify="left")
        t.add_column("target", overflow="fold")
        t.add_column("count", justify="right")
        for c in doc["byTarget"]:
            t.add_row(Text(safe(c["target"])), str(c["count"]))
        self.out.print(t)

    def dlq_purged(self, doc: dict[str, Any]) -> None:
        for r in doc["results"]:
            self.out.print(
                Text(f"{safe(r['id'])}: " + ("removed" if r["removed"] else "not found (nothing removed)"))
            )

    def replay_progress(self) -> Any:
        """A progress display on stderr for ``dlq replay``: ``advance(result)``, ``notice(text)``, ``stop()``."""
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        renderer = self

        class _P:
            def __init__(self) -> None:
                self.p = Progress(
                    TextColumn("replay"),
                    BarColumn(),
                    MofNCompleteColumn(),
                    TextColumn("{task.fields[acked]} acked, {task.fields[dead]} dead"),
                    TimeElapsedColumn(),
                    console=renderer.err,
                    transient=False,
                )
                self.task = self.p.add_task("replay", total=None, acked=0, dead=0)
                self.acked = self.dead = 0
                self.p.start()

            def advance(self, rec: dict[str, Any]) -> None:
                if rec["status"] == "acknowledged":
                    self.acked += 1
                else:
                    self.dead += 1
                self.p.update(self.task, advance=1, acked=self.acked, dead=self.dead)

            def notice(self, text: str) -> None:
                self.p.console.print(Text(safe(text), style="yellow"))

            def stop(self) -> None:
                self.p.stop()

        return _P()

    def replay_summary(self, s: dict[str, Any]) -> None:
        t = Table(box=box.SIMPLE_HEAD, show_header=False, title="Replay", title_justify="left")
        t.add_column(style="bold")
        t.add_column()
        dead = s["stillDead"]
        for k, v in [
            ("selected", s["selected"]),
            ("replayed", s["replayed"]),
            ("acknowledged", s["acknowledged"]),
            ("retried", s["retried"]),
            ("still dead", f"{dead['transient']} transient, {dead['permanent']} permanent"),
            ("invalid (skipped)", s.get("invalid", {}).get("count", 0)),
            ("resumed removals", s["resumedRemovals"]),
            ("breaker trips", s["breakerTrips"]),
            ("duration", format_seconds(s["duration"])),
            ("msgs/s", s["rate"] if s["rate"] is not None else "-"),
            ("journal", s["journal"]),
        ]:
            t.add_row(k, Text(safe(v)))
        self.out.print(t)

    # -- smoke ------------------------------------------------------------------------------------
    def smoke_results(self, doc: dict[str, Any]) -> None:
        """Human view of ``smoke run``: one row per check."""
        t = Table(box=box.SIMPLE_HEAD, title=f"{doc['suite']} ({doc['path']})", title_justify="left")
        for col in ("check", "target", "status", "time", "measured", "bound"):
            t.add_column(col, overflow="fold")
        style = {"pass": "bold green", "fail": "bold red", "error": "bold yellow"}
        for r in doc["results"]:
            t.add_row(
                Text(safe(r["name"])),
                Text(safe(r["target"] or "-")),
                Text(r["status"], style=style[r["status"]]),
                format_seconds(r["duration"]),
                Text(safe(r["measured"])),
                Text(safe(r["bound"])),
            )
        self.out.print(t)
        for r in doc["results"]:
            if r["status"] != "pass" and r["message"]:
                self.out.print(
                    Text(f"{r['status']}: {safe(r['name'])}: {safe(r['message'])}", style=style[r["status"]])
                )
        verdict = f"{doc['passed']} passed, {doc['failed']} failed, {doc['errors']} errors"
        self.out.print(
            Text(
                verdict + (f"; JUnit: {doc['junit']}" if doc.get("junit") else ""),
                style="bold green" if doc["exitCode"] == 0 else "bold red",
            )
        )

    def smoke_valid(self, doc: dict[str, Any]) -> None:
        self.out.print(
            Text(
                f"{doc['path']}: valid, {len(doc['checks'])} check(s) against "
                f"{', '.join(doc['targets']) or 'their own targets'}",
                style="bold green",
            )
        )

    # -- stream tail ---------------------------------------------------------------------------------
    def tail_record(self, rec: dict[str, Any]) -> None:
        """One line per ``stream tail`` record; the summary as a table."""
        from a2actl.core.units import format_bytes

        kind = rec["type"]
        if kind == "summary":
            self._tail_summary(rec)
            return
        clock = str(rec.get("wall", ""))[11:23]
        if kind == "event":
            line = Text(
                f"{clock}  {'+' + format_seconds(rec['delta']):>9}  {safe(rec['kind']):<16}"
                f"{safe(rec['state'] or '-'):<15}{format_bytes(rec['bytes']):>10}"
            )
            if rec["oversize"]:
                line.append("  OVER --max-event-bytes", style="bold red")
            for v in rec["violations"]:
                line.append(f"  ! {v['rule']}: {safe(v['message'])}", style="bold red")
        elif kind == "heartbeat":
            rtt = f" rtt {format_seconds(rec['rtt'])}" if rec.get("rtt") is not None else ""
            line = Text(
                f"{clock}  {'+' + format_seconds(rec['delta']):>9}  heartbeat ({rec['source']}){rtt}",
                style="dim",
            )
        elif kind == "gap":
            line = Text(
                f"{clock}  silence of {format_seconds(rec['seconds'])}, over --heartbeat "
                f"{format_seconds(rec['expected'])}",
                style="bold yellow",
            )
        elif kind == "stall":
            limit = rec.get("stallTimeout")
            line = Text(
                f"{clock}  STALL: silent for {format_seconds(rec['silentFor'])} (--heartbeat "
                f"{format_seconds(rec['expected'])}"
                + (f"; giving up at {format_seconds(limit)}" if limit else "")
                + ")",
                style="bold yellow",
            )
        elif kind == "cut":
            line = Text(f"{clock}  CUT (attempt {rec['attempt']}): {safe(rec['reason'])}", style="bold red")
        else:  # reconnect
            line = Text(
                f"{clock}  reconnected via {rec['via']} after {format_seconds(rec['outage'])}", style="cyan"
            )
            for m in rec["missed"]:
                line.append(f"; missed: {safe(m)}", style="bold yellow")
        self.out.print(line)

    def _tail_summary(self, s: dict[str, Any]) -> None:
        from a2actl.core.units import format_bytes

        t = Table(title="Summary", title_justify="left", box=box.SIMPLE_HEAD, show_header=False)
        t.add_column(style="bold")
        t.add_column()
        gaps = s["gaps"]
        outcome = {
            "completed": "stream completed",
            "recovered": "stream recovered after cuts",
            "stalled": f"stalled: silent past --stall-timeout {format_seconds(s.get('stallTimeout'))}",
        }.get(s["outcome"], s["outcome"])
        if s.get("failedOn"):
            outcome += f"; task {s['failedOn']} (--fail-on)"
        elif s["outcome"] in ("completed", "recovered") and s.get("finalState"):
            outcome += f"; task {s['finalState']}"
        rows = [
            ("outcome", f"{outcome} (exit {s['exitCode']})"),
            ("final state", s["finalState"] or "-"),
            (
                "events",
                f"{s['events']} ({format_bytes(s['bytes'])}, largest {format_bytes(s['maxEventBytes'])})",
            ),
            ("duration", format_seconds(s["duration"])),
            ("first event", format_seconds(s["firstEvent"])),
            (
                "gaps",
                f"p50 {format_seconds(gaps['p50'])}, p99 {format_seconds(gaps['p99'])}, "
                f"max {format_seconds(gaps['max'])}",
            ),
            (
                "heartbeats",
                str(s["heartbeats"])
                + (f" (rtt p50 {format_seconds(s['rtt']['p50'])})" if s.get("rtt") else ""),
            ),
            (
                "silences over --heartbeat",
                ", ".join(format_seconds(g["seconds"]) for g in s["stalls"]) or "none",
            ),
            ("oversized events", str(len(s["oversize"]))),
            ("cuts / reconnects", f"{len(s['cuts'])} / {len(s['reconnects'])}"),
            ("missed", "; ".join(s["missed"]) or "nothing"),
            ("violations", "; ".join(f"{v['rule']}: {v['message']}" for v in s["violations"]) or "none"),
        ]
        for k, v in rows:
            t.add_row(k, Text(safe(v)))
        self.out.print(t)

    # -- probe -----------------------------------------------------------------------------------
    def probe(self, report: dict[str, Any]) -> None:
        """Human view of ``handshake probe``: a waterfall for one sample, percentiles and a histogram
        for many, then failures and budget verdicts."""
        from a2actl.probe.handshake import PHASE_LABELS

        neg = report["negotiation"]
        head = Text()
        head.append("card        ", style="bold")
        head.append(safe(report["cardUrl"]))
        head.append(
            f"  ({report['card']['shape']} card; declares {', '.join(report['card']['declaredVersions']) or '?'})"
        )
        self.out.print(head)
        line = Text()
        line.append("negotiated  ", style="bold")
        line.append(f"{neg['protocolBinding']} {neg['protocolVersion']} at {safe(neg['url'])}")
        self.out.print(line)
        self.out.print(Text("            " + safe(neg["reason"]), style="dim"))
        for n in report["discovery"]["notes"]:
            self.note(n)
        samples = report["samples"]
        ok = [s for s in samples if s["ok"]]
        if len(samples) == 1:
            self._waterfall(samples[0], PHASE_LABELS)
        else:
            self._percentiles(report, PHASE_LABELS)
            self._histogram(report["histogram"])
        if ok and ok[0].get("rpc"):
            rpc = ok[0]["rpc"]
            err = rpc.get("error")
            what = f"{err['code']} {err['name']}" if err else "a task"
            self.out.print(Text(f"first RPC   {rpc['method']} → {what}: {rpc.get('meaning', '')}"))
        if ok and ok[0].get("send"):
            s = ok[0]["send"]
            self.out.print(
                Text(f"send        {s['method']}: {s['events']} event(s), final state {s['finalState']}")
            )
        if ok and ok[0].get("session"):
            ses = ok[0]["session"]
            self.out.print(
                Text(
                    f"session     {safe(ses['url'])}: HTTP {ses['status']}, token issued: "
                    f"{'yes (not shown)' if ses['tokenIssued'] else 'no'}"
                )
            )
        if report["failures"]:
            total = len(samples)
            fails = ", ".join(f"{k} {v}" for k, v in report["failures"].items())
            self.out.print(
                Text(f"failures    {sum(report['failures'].values())} of {total}: {fails}", style="red")
            )
            first = next(s for s in samples if not s["ok"])
            e = first["error"]
            self.out.print(
                Text(f"            in {first['failedPhase']}: {safe(e['message'], 400)}", style="red")
            )
            if e.get("hint"):
                self.out.print(Text(f"            hint: {safe(e['hint'])}", style="yellow"))
        vc = report.get("versionCheck")
        if vc and vc.get("conclusion"):
            self.out.print(Text(f"version     {vc['conclusion']}", style="yellow"))
        budget = report["budget"]
        for v in budget["violations"]:
            self.out.print(Text(f"budget      FAIL {v['message']}", style="bold red"))
        if budget["limits"] and budget["ok"] and ok:
            limits = ", ".join(f"{b['metric']}≤{format_seconds(b['limit'])}" for b in budget["limits"])
            self.out.print(Text(f"budget      ok ({limits}, on p99)", style="green"))
        self.out.print(Text(f"trace id    {report['traceId']}", style="dim"))

    def _waterfall(self, sample: dict[str, Any], labels: dict[str, str]) -> None:
        phases = sample["phases"]
        total = sum(phases.values()) or 1e-9
        width = 40
        t = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
        t.add_column("phase")
        t.add_column("time", justify="right")
        t.add_column("", no_wrap=True)
        start = 0.0
        for name, dur in phases.items():
            left = int(start / total * width)
            bar = max(1, round(dur / total * width)) if dur > 0 else 0
            t.add_row(labels.get(name, name), format_seconds(dur), " " * left + "█" * min(bar, width - left))
            start += dur
        t.add_row("total", format_seconds(sum(phases.values())), "")
        self.out.print(t)
        curl = sample.get("curl") or {}
        if curl:
            self.out.print(
                Text(
                    "curl-style  "
                    + "  ".join(
                        f"{k}={curl[k]:.6f}"
                        for k in (
                            "time_namelookup",
                            "time_connect",
                            "time_appconnect",
                            "time_starttransfer",
                            "time_total",
                        )
                        if k in curl
                    ),
                    style="dim",
                )
            )
        if not sample["ok"]:
            self.out.print(Text(f"FAILED in {sample['failedPhase']}", style="bold red"))

    def _percentiles(self, report: dict[str, Any], labels: dict[str, str]) -> None:
        ok = sum(1 for s in report["samples"] if s["ok"])
        t = Table(
            title=f"{ok} of {len(report['samples'])} samples ok "
            f"(concurrency {report['options']['concurrency']}, "
            f"{'reused connections' if report['options']['reuse'] else 'new connection each'})",
            box=box.SIMPLE_HEAD,
            title_justify="left",
        )
        for col in ("phase", "min", "p50", "p90", "p99", "max"):
            t.add_column(col, justify="left" if col == "phase" else "right")
        for name, st in report["stats"].items():
            if st["count"] == 0:
                continue
            t.add_row(
                labels.get(name, name),
                *(format_seconds(st[k]) for k in ("min", "p50", "p90", "p99", "max")),
                style="bold" if name == "total" else None,
            )
        self.out.print(t)

    def _histogram(self, buckets: list[dict[str, Any]]) -> None:
        if not buckets:
            return
        top = max(b["count"] for b in buckets) or 1
        self.out.print(Text("total latency histogram", style="bold"))
        for b in buckets:
            bar = "█" * max(1 if b["count"] else 0, round(b["count"] / top * 30))
            self.out.print(
                Text(f"  {format_seconds(b['from']):>8} – {format_seconds(b['to']):<8} {bar} {b['count']}")
            )


class VerboseSink:
    """``-v``: request and response lines with headers; ``-vv``: also bodies (first 2 KiB) and timings.
    Everything goes to stderr; headers and bodies arrive already redacted."""

    def __init__(self, renderer: Renderer, level: int) -> None:
        self.err = renderer.err
        self.level = level

    def on_request(self, method: str, url: str, headers: list[tuple[str, str]]) -> None:
        self.err.print(Text(f"> {method} {safe(url)}", style="cyan"))
        for k, v in headers:
            self.err.print(Text(f"> {k}: {safe(v)}", style="cyan"))

    def on_response(self, status: int, reason: str, headers: list[tuple[str, str]], elapsed: float) -> None:
        self.err.print(Text(f"< {status} {safe(reason)} ({format_seconds(elapsed)})", style="green"))
        for k, v in headers:
            self.err.print(Text(f"< {k}: {safe(v)}", style="green"))

    @property
    def wants_bodies(self) -> bool:
        return self.level >= 2

    def on_body(self, direction: str, body: bytes) -> None:
        if self.level >= 2:
            text = body[:2048].decode("utf-8", "replace")
            more = f" … ({len(body):,} bytes)" if len(body) > 2048 else ""
            self.err.print(Text(f"{direction} {safe(text, 2048)}{more}", style="dim"))

    def on_timing(self, name: str, seconds: float) -> None:
        if self.level >= 2:
            self.err.print(Text(f"* {name}: {format_seconds(seconds)}", style="dim"))

    def on_note(self, text: str) -> None:
        self.err.print(Text(f"* {safe(text)}", style="dim"))
