"""``a2actl send`` and ``a2actl task get|list|cancel|subscribe``: the operations of the official
a2a-cli spec, on any negotiated family (0.3, 1.0) and binding (JSON-RPC, HTTP+JSON)."""

from __future__ import annotations

import json
import mimetypes
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from a2actl.core.errors import TimeoutError_, UsageError
from a2actl.protocol.events import PartSpec, message_params, task_view
from a2actl.protocol.versions import TASK_STATES, Family, StateKind, canonical_state, state_kind

if TYPE_CHECKING:
    from a2actl.core.config import Settings
    from a2actl.core.sink import EventSink

#: States ``--fail-on`` accepts (a task ending in one of them → exit 7).
FAIL_STATES = ("failed", "rejected", "canceled", "input-required", "auth-required")


@dataclass
class SendOptions:
    """What ``send`` sends. ``parts`` in order; ``fail_on`` canonical state names."""

    parts: list[PartSpec]
    context_id: str | None = None
    task_id: str | None = None
    stream: bool = False
    no_wait: bool = False
    fail_on: set[str] = field(default_factory=set)
    dry_run: bool = False
    message_id: str | None = None
    show_secrets: bool = False


def parse_fail_on(values: list[str]) -> set[str]:
    """``["failed,rejected", "canceled"]`` → canonical names. Raises ``UsageError`` for others."""
    out: set[str] = set()
    for v in values:
        for name in (x.strip() for x in v.split(",") if x.strip()):
            canon = canonical_state(name)
            if canon not in FAIL_STATES:
                raise UsageError(f"--fail-on {name!r}: use {', '.join(FAIL_STATES)}")
            out.add(canon)
    return out


def build_parts(text: str | None, data: list[str], files: list[str], stdin: Any = None) -> list[PartSpec]:
    """Parts from the command line: TEXT (``-`` reads stdin), ``--data @file.json`` or inline JSON,
    ``--file PATH`` (bytes, media type guessed from the name). Raises ``UsageError``."""
    parts: list[PartSpec] = []
    if text is not None:
        if text == "-":
            import sys

            text = (stdin or sys.stdin).read()
        parts.append(PartSpec("text", text=text))
    for d in data:
        raw = d
        if d.startswith("@"):
            try:
                raw = Path(d[1:]).read_text(encoding="utf-8")
            except OSError as exc:
                raise UsageError(f"--data {d}: cannot read: {exc.strerror or exc}") from exc
        try:
            parts.append(PartSpec("data", data=json.loads(raw)))
        except ValueError as exc:
            raise UsageError(f"--data {d[:40]!r} is not JSON: {exc}") from exc
    for f in files:
        p = Path(f)
        try:
            content = p.read_bytes()
        except OSError as exc:
            raise UsageError(f"--file {f}: cannot read: {exc.strerror or exc}") from exc
        parts.append(
            PartSpec(
                "file",
                raw=content,
                media_type=mimetypes.guess_type(p.name)[0] or "application/octet-stream",
                filename=p.name,
            )
        )
    if not parts:
        raise UsageError("nothing to send: give TEXT, '-' for stdin, --data or --file")
    return parts


def secret_placeholder(name: str, value: str) -> str:
    """What ``--dry-run`` shows instead of a sensitive header's value: an environment variable to set
    (``Authorization: Bearer $A2ACTL_TOKEN``, ``X-Api-Key: $A2ACTL_HEADER_X_API_KEY``)."""
    import re

    scheme, _, rest = value.partition(" ")
    if name.lower() == "authorization" and rest and scheme.lower() == "bearer":
        return f"{scheme} $A2ACTL_TOKEN"
    var = "A2ACTL_HEADER_" + re.sub(r"[^A-Z0-9]", "_", name.upper())
    if rest and scheme.lower() in ("basic", "token", "digest"):
        return f"{scheme} ${var}"
    return f"${var}"


def curl_command(method: str, url: str, headers: dict[str, str], body: Any) -> str:
    """An equivalent curl command. Header values holding a ``$A2ACTL_…`` placeholder are double-quoted
    so the shell expands them; everything else is single-quoted."""
    args = ["curl", "-sS"] + (["-N"] if headers.get("Accept") == "text/event-stream" else []) + ["-X", method]
    cmd = " ".join(shlex.quote(a) for a in args)
    for k, v in headers.items():
        if "$A2ACTL_" in v:
            cmd += ' -H "' + f"{k}: {v}".replace("\\", "\\\\").replace('"', '\\"').replace("`", "\\`") + '"'
        else:
            cmd += " -H " + shlex.quote(f"{k}: {v}")
    if body is not None:
        cmd += " -H 'Content-Type: application/json' --data " + shlex.quote(
            json.dumps(body, ensure_ascii=False)
        )
    return cmd + " " + shlex.quote(url)


def dry_run_doc(
    client: Any, operation: str, params: dict[str, Any], settings: Settings, show_secrets: bool = False
) -> dict[str, Any]:
    """The exact request ``operation`` would send on ``client`` and an equivalent curl command.
    Secrets (the token, sensitive ``-H`` values) are shown as ``$A2ACTL_…`` placeholders unless
    ``show_secrets``."""
    from a2actl.core.redact import header_secrets
    from a2actl.protocol.jsonrpc import build_request
    from a2actl.protocol.versions import BINDING_HTTP_JSON

    headers = client.headers(streaming=operation == "SendStreamingMessage")
    for k, v in settings.headers:
        headers[k] = v if show_secrets or not header_secrets([(k, v)]) else secret_placeholder(k, v)
    if settings.token and not any(k.lower() == "authorization" for k in headers):
        headers["Authorization"] = f"Bearer {settings.token if show_secrets else '$A2ACTL_TOKEN'}"
    if client.binding == BINDING_HTTP_JSON:
        verb, path = client.wire.rest[operation]
        url = client.url + path
        body: Any = params
        method = f"{verb} {path}"
    else:
        verb, url, method = "POST", client.url, client.wire.methods[operation]
        body = build_request(method, params, "a2actl-dry-run")
    return {
        "dryRun": True,
        "method": method,
        "url": url,
        "headers": headers,
        "body": body,
        "curl": curl_command(verb, url, headers, body),
        "secretsShown": show_secrets,
        "negotiation": client.selection.to_json(),
    }


#: GetTask polling after a blocking send answered an active state: first delay and cap, in seconds.
POLL_FIRST, POLL_MAX = 0.1, 1.0


async def send_job(
    target: str,
    settings: Settings,
    sink: EventSink | None,
    opts: SendOptions,
    card_path: str | None,
    emit: Any = None,
) -> tuple[dict[str, Any], int]:
    """``send``: returns ``(document, exit code)``; the document carries the same ``exitCode``.

    Exit 7 when the task ends in a ``--fail-on`` state; a failed task is otherwise exit 0 (official
    a2a-cli spec) with its state shown. A blocking send that an agent answers with an active state
    (``submitted``/``working``: an agent that ignores ``blocking``) is followed with GetTask until the
    task is terminal or interrupted, for at most ``settings.read_timeout`` seconds (``polled`` in the
    document says so); past that ``TimeoutError_`` (5) names the task. A blocking send that times out
    before any answer names the task it created when the agent can list tasks (1.0 ``ListTasks``).
    """
    from a2actl.agent.connect import connect
    from a2actl.transport.http import HttpTransport

    async with HttpTransport(settings, sink) as transport:
        client = await connect(target, settings, transport, card_path)
        params = message_params(
            opts.parts,
            client.family,
            client.binding,
            message_id=opts.message_id,
            context_id=opts.context_id,
            task_id=opts.task_id,
            tenant=client.selection.interface.tenant,
            no_wait=opts.no_wait,
        )
        operation = "SendStreamingMessage" if opts.stream else "SendMessage"
        if opts.dry_run:
            return dry_run_doc(client, operation, params, settings, opts.show_secrets), 0
        if opts.stream:
            from a2actl.stream.tail import TailOptions, tail_a2a

            summary = await tail_a2a(
                client,
                operation,
                params,
                TailOptions(reconnect_attempts=0, fail_on=frozenset(opts.fail_on)),
                emit or (lambda _r: None),
            )
            state = summary["finalState"]
            code = summary["exitCode"]
            doc = {
                "method": client.method_name(operation),
                "streaming": True,
                "messageId": params["message"]["messageId"],
                "taskId": summary["taskId"],
                "state": state,
                "events": summary["events"],
                "outcome": summary["outcome"],
                "exitCode": code,
                "traceId": settings.trace_id,
            }
            if summary.get("failedOn"):
                doc["failedOn"] = summary["failedOn"]
            return doc, code
        message_id = params["message"]["messageId"]
        try:
            out = await client.call(operation, params)
        except TimeoutError_ as exc:
            if opts.no_wait:
                raise
            raise await _timeout_with_task(client, message_id, exc) from exc
        if out.error is not None:
            raise out.error.to_exception(out.method)
        view = task_view(out.result)
        polled = None
        if (
            not opts.no_wait
            and view.get("kind") == "task"
            and view.get("id")
            and state_kind(view.get("state")) is StateKind.ACTIVE
        ):
            view, raw, polled = await _poll_until_settled(client, view, settings.read_timeout)
        else:
            raw = out.result
        state = view.get("state")
        doc = {
            "method": out.method,
            "streaming": False,
            "messageId": message_id,
            "result": view,
            "taskId": view.get("id") if view.get("kind") == "task" else view.get("taskId"),
            "state": state,
            "raw": raw,
            "traceId": settings.trace_id,
        }
        if polled is not None:
            doc["polled"] = polled
    code = 0
    if state in opts.fail_on:
        doc["failedOn"] = state
        code = 7
    doc["exitCode"] = code
    return doc, code


async def _poll_until_settled(
    client: Any, view: dict[str, Any], limit: float
) -> tuple[dict[str, Any], Any, dict[str, Any]]:
    """GetTask every 0.1 s (doubling to 1 s) until the task leaves the active states; returns the
    last view, its raw task and ``{"reason", "polls", "seconds"}``. Raises ``TimeoutError_`` after
    ``limit`` seconds, ``A2AError`` when GetTask fails."""
    import asyncio
    import time

    first_state = view.get("state")
    reason = (
        f"the agent answered '{first_state}' to a blocking send (it ignored "
        f"{'configuration.blocking' if client.family is not Family.V1_0 else 'blocking mode'}); "
        "followed with GetTask until the task settled"
    )
    client.transport.sink.on_note(reason)
    t0 = time.perf_counter()
    polls, delay, raw = 0, POLL_FIRST, None
    while state_kind(view.get("state")) is StateKind.ACTIVE:
        if time.perf_counter() - t0 + delay > limit:
            raise TimeoutError_(
                f"task {view.get('id')} is still '{view.get('state')}' after {polls} GetTask "
                f"poll(s) over {time.perf_counter() - t0:.1f}s (--timeout {limit:g}s)",
                hint=f"a2actl task get TARGET {view.get('id')} shows it later; raise --timeout "
                "to wait longer",
                details={"taskId": view.get("id"), "state": view.get("state")},
            )
        await asyncio.sleep(delay)
        delay = min(delay * 2, POLL_MAX)
        got = await client.call("GetTask", {"id": view["id"]})
        polls += 1
        if got.error is not None:
            raise got.error.to_exception(got.method)
        raw = got.result
        view = task_view(
            {"task": got.result}
            if isinstance(got.result, dict) and "kind" not in got.result and "task" not in got.result
            else got.result
        )
    return (
        view,
        raw,
        {
            "reason": reason,
            "polls": polls,
            "seconds": round(time.perf_counter() - t0, 6),
            "firstState": first_state,
        },
    )


async def _timeout_with_task(client: Any, message_id: str, exc: TimeoutError_) -> TimeoutError_:
    """The read timeout of a blocking send, with the task it created when the agent can say (1.0:
    ``ListTasks``, newest first, looking for the task whose history holds ``message_id``)."""
    from a2actl.core.errors import A2ACtlError

    found: dict[str, Any] | None = None
    if client.family is Family.V1_0:
        try:
            got = await client.call("ListTasks", {"pageSize": 50, "historyLength": 50})
            tasks = (
                (got.result or {}).get("tasks")
                if got.error is None and isinstance(got.result, dict)
                else None
            )
            for t in tasks or []:
                if isinstance(t, dict) and any(
                    isinstance(m, dict) and m.get("messageId") == message_id for m in t.get("history") or []
                ):
                    found = task_view({"task": t})
                    break
        except A2ACtlError:
            found = None
    if found is not None:
        return TimeoutError_(
            f"{exc.message}; the agent created task {found['id']} (state {found['state']}), "
            "which may still be running",
            hint=f"a2actl task get TARGET {found['id']}  or  a2actl stream tail TARGET --task "
            f"{found['id']}; raise --timeout to wait longer",
            details={"taskId": found["id"], "state": found["state"], "messageId": message_id},
        )
    how = (
        "0.3 has no ListTasks to find it" if client.family is not Family.V1_0 else "ListTasks did not show it"
    )
    return TimeoutError_(
        f"{exc.message}; the task this message ({message_id}) started is unknown ({how})",
        hint=exc.hint or "raise --timeout; --no-wait returns the task id at once",
        details={"messageId": message_id},
    )


async def task_job(
    verb: str,
    target: str,
    settings: Settings,
    sink: EventSink | None,
    *,
    task_id: str | None = None,
    history: int | None = None,
    context_id: str | None = None,
    state: str | None = None,
    page_size: int | None = None,
    page_token: str | None = None,
    card_path: str | None = None,
) -> dict[str, Any]:
    """``task get|cancel|list``: the answer, summarised. Raises ``A2AError`` for an A2A error and
    ``UsageError`` for ``list`` on a 0.x endpoint (ListTasks exists only in 1.0) and for an empty
    ``task_id``."""
    from a2actl.agent.connect import connect
    from a2actl.transport.http import HttpTransport

    if verb != "list" and not (task_id or "").strip():
        raise UsageError("TASK_ID is empty", hint="a2actl task list TARGET shows the task ids (A2A 1.0)")

    async with HttpTransport(settings, sink) as transport:
        client = await connect(target, settings, transport, card_path)
        if verb == "list":
            if client.family is not Family.V1_0:
                speaks_v1 = any(i.family is Family.V1_0 for i in client.selection.candidates)
                raise UsageError(
                    f"ListTasks does not exist in A2A {client.family.value} (0.3 has no tasks/list; "
                    "it is new in 1.0)",
                    hint=f"the card declares 1.0: drop --a2a-version {settings.a2a_version}"
                    if speaks_v1
                    else "the agent declares no A2A 1.0 interface; 'a2actl sessions "
                    "list' works through debug endpoints instead",
                )
            params: dict[str, Any] = {}
            if context_id:
                params["contextId"] = context_id
            if state:
                canon = canonical_state(state)
                if canon == "unknown":
                    raise UsageError(f"--state {state!r}: use one of {', '.join(TASK_STATES)}")
                params["status"] = TASK_STATES[canon][1]
            if page_size:
                params["pageSize"] = page_size
            if page_token:
                params["pageToken"] = page_token
            out = await client.call("ListTasks", params)
            v1_declared = any(i.family is Family.V1_0 for i in client.selection.candidates)
            if out.error is not None and out.error.version_mismatch and not v1_declared:
                # forced 1.0 on a 0.x-only card: "try 0.3" would be a dead end (0.3 has no ListTasks)
                declared = sorted({i.family.value for i in client.selection.candidates if i.family}) or [
                    "0.x"
                ]
                raise UsageError(
                    f"ListTasks is A2A 1.0 and this agent declares only {', '.join(declared)} "
                    f"(it answered {out.error.code} {out.error.name} to {out.method})",
                    hint="0.3 has no way to list tasks; 'a2actl sessions list' works through debug "
                    "endpoints, 'a2actl task get TARGET ID' reads one task",
                )
        elif verb == "get":
            params = {"id": task_id}
            if history is not None:
                params["historyLength"] = history
            out = await client.call("GetTask", params)
        else:
            out = await client.call("CancelTask", {"id": task_id})
    if out.error is not None:
        raise out.error.to_exception(out.method)
    if verb == "list":
        result = out.result if isinstance(out.result, dict) else {}
        return {
            "method": out.method,
            "tasks": [task_view({"task": t}) for t in result.get("tasks") or []],
            "nextPageToken": result.get("nextPageToken") or None,
            "totalSize": result.get("totalSize"),
            "traceId": settings.trace_id,
        }
    return {
        "method": out.method,
        "task": task_view(out.result),
        "raw": out.result,
        "traceId": settings.trace_id,
    }
