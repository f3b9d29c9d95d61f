"""The typed results of ``send`` and ``task get|cancel|list`` (``core.result.JobResult``): each knows
its exit code and its ``-o json`` document (``docs/output-formats.md``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from a2actl.core.exit_codes import ExitCode


@dataclass(frozen=True)
class SendDryRun:
    """``send --dry-run``: the exact request (``method``: the JSON-RPC method or ``VERB /path``;
    ``headers`` with secrets as ``$A2ACTL_…`` placeholders unless ``secrets_shown``), an equivalent
    ``curl`` command line and the negotiated interface. Nothing was sent: exit 0. Over gRPC
    (``docs/grpc.md``) ``headers`` is the call's metadata, ``body`` the request message as ProtoJSON,
    ``url`` the gRPC target and ``grpcurl`` the equivalent ``grpcurl`` command (``curl`` then empty)."""

    method: str
    url: str
    headers: dict[str, str]
    body: Any
    curl: str
    secrets_shown: bool
    negotiation: dict[str, Any]
    grpcurl: str | None = None

    @property
    def exit(self) -> ExitCode:
        """Always ``OK``: a dry run sends nothing that could fail."""
        return ExitCode.OK

    def to_json(self) -> dict[str, Any]:
        """The ``send --dry-run -o json`` document."""
        return {
            "dryRun": True,
            "method": self.method,
            "url": self.url,
            "headers": self.headers,
            "body": self.body,
            "curl": self.curl,
            "secretsShown": self.secrets_shown,
            "negotiation": self.negotiation,
        } | ({"grpcurl": self.grpcurl} if self.grpcurl is not None else {})


@dataclass(frozen=True)
class SentMessage:
    """A blocking (or ``--no-wait``) ``send``: ``result`` is the answer summarised by
    ``protocol.events.task_view`` (a task or a bare message), ``raw`` the answer as received (the last
    GetTask's task when the send was ``polled``). ``exit`` is 7 when the task ended in a ``--fail-on``
    state (``failed_on``), else 0 (a failed task is exit 0 by the official a2a-cli spec)."""

    method: str
    message_id: str
    result: dict[str, Any]
    task_id: str | None
    state: str | None
    raw: Any
    trace_id: str
    #: ``{"reason", "polls", "seconds", "firstState"}`` when the agent answered an active state to a
    #: blocking send and a2actl followed with GetTask (seconds: wall time spent polling).
    polled: dict[str, Any] | None
    failed_on: str | None
    exit: ExitCode

    def to_json(self) -> dict[str, Any]:
        """The ``send -o json`` document."""
        doc: dict[str, Any] = {
            "method": self.method,
            "streaming": False,
            "messageId": self.message_id,
            "result": self.result,
            "taskId": self.task_id,
            "state": self.state,
            "raw": self.raw,
            "traceId": self.trace_id,
        }
        if self.polled is not None:
            doc["polled"] = self.polled
        if self.failed_on is not None:
            doc["failedOn"] = self.failed_on
        doc["exitCode"] = int(self.exit)
        return doc


@dataclass(frozen=True)
class StreamedSend:
    """``send --stream``: the task the stream followed, its final ``state`` and the text of the
    status message that came with it, the number of ``events`` and the stream's ``outcome``;
    ``exit`` is the tail's (docs/exit-codes.md, ``stream tail``)."""

    method: str
    message_id: str
    task_id: str | None
    state: str | None
    events: int
    outcome: str
    exit: ExitCode
    trace_id: str
    failed_on: str | None
    #: The text of the status message that came with ``state`` (``TailSummary.status_message``).
    status_message: str | None = None
    #: The agent's reason for a ``failed``/``rejected`` end (``TailSummary.reason``), or ``None``.
    reason: dict[str, str] | None = None
    #: What was lost across the reconnects after cuts (``TailSummary.missed``; any: exit 7).
    missed: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The ``send --stream -o json`` document (with ``-o jsonl``: the last line, ``type: result``);
        ``missed`` only when something was lost across a reconnect, ``failedOn`` only with a
        ``--fail-on`` state reached."""
        doc: dict[str, Any] = {
            "method": self.method,
            "streaming": True,
            "messageId": self.message_id,
            "taskId": self.task_id,
            "state": self.state,
            "statusMessage": self.status_message,
            "reason": self.reason,
            "events": self.events,
            "outcome": self.outcome,
            "exitCode": int(self.exit),
            "traceId": self.trace_id,
        }
        if self.failed_on:
            doc["failedOn"] = self.failed_on
        if self.missed:
            doc["missed"] = list(self.missed)
        return doc


#: What ``send`` returns.
SendResult = SendDryRun | SentMessage | StreamedSend


@dataclass(frozen=True)
class TaskResult:
    """``task get`` / ``task cancel``: ``task`` summarised by ``protocol.events.task_view``, ``raw`` as
    the agent answered it. Exit 0 (A2A errors are raised, exit 1)."""

    method: str
    task: dict[str, Any]
    raw: Any
    trace_id: str

    @property
    def exit(self) -> ExitCode:
        """Always ``OK``: failures are raised as errors."""
        return ExitCode.OK

    def to_json(self) -> dict[str, Any]:
        """The ``task get|cancel -o json`` document."""
        return {"method": self.method, "task": self.task, "raw": self.raw, "traceId": self.trace_id}


@dataclass(frozen=True)
class TaskListResult:
    """``task list``: one page of ``tasks`` (each a ``task_view``), the token of the next page
    (``None`` on the last) and the agent's ``totalSize`` when it says. Exit 0."""

    method: str
    tasks: list[dict[str, Any]]
    next_page_token: str | None
    total_size: int | None
    trace_id: str

    @property
    def exit(self) -> ExitCode:
        """Always ``OK``: failures are raised as errors."""
        return ExitCode.OK

    def to_json(self) -> dict[str, Any]:
        """The ``task list -o json`` document."""
        return {
            "method": self.method,
            "tasks": self.tasks,
            "nextPageToken": self.next_page_token,
            "totalSize": self.total_size,
            "traceId": self.trace_id,
        }
