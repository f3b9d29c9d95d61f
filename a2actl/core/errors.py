"""The a2actl exception tree. Each class carries the exit code the CLI boundary turns it into.

::

    A2ACtlError (exit 1)
    ├── UsageError (2)              bad option value, unreadable local file
    │   └── StdoutUnwritable        standard output cannot be written (a full disk)
    ├── UnreachableError (3)        DNS, refused, TLS handshake
    ├── AuthError (4)               HTTP 401/403, A2A auth failure
    ├── TimeoutError_ (5)           connect/read timeout, --max-time
    ├── ProtocolViolation (6)       malformed JSON, wrong envelope, oversized body, malformed SSE
    │   ├── StreamCut               the connection ended before the stream did
    │   ├── BodyTooLarge            an answer's body over the limit (its HTTP status kept)
    │   └── NoSuchRoute             an HTTP+JSON 404/405 that no A2A server wrote
    ├── A2AError (1)                the agent answered with a JSON-RPC / A2A error
    ├── NotCanceled (1)             CancelTask answered with a task that is not canceled
    ├── HTTPStatusError (1)         any other non-2xx answer
    └── CheckFailed (7)             a budget or expectation did not hold

Only ``a2actl.cli`` converts these into output and exit statuses; core code raises them.
"""

from __future__ import annotations

from typing import Any

from a2actl.core.exit_codes import ExitCode


class A2ACtlError(Exception):
    """Base class. ``code`` is a stable machine name, ``hint`` an optional one-line suggestion."""

    exit_code: ExitCode = ExitCode.ERROR
    code: str = "error"

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        a2a_code: int | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.a2a_code = a2a_code
        self.details = details or {}

    def to_json(self) -> dict[str, Any]:
        """The ``{"error": {...}}`` object documented in ``docs/output-formats.md``."""
        err: dict[str, Any] = {"code": self.code, "message": self.message, "exitCode": int(self.exit_code)}
        if self.hint:
            err["hint"] = self.hint
        if self.a2a_code is not None:
            err["a2aCode"] = self.a2a_code
        if self.details:
            err["details"] = self.details
        return {"error": err}


class UsageError(A2ACtlError):
    """Bad command line or bad local input (an option value, an unreadable file): exit 2."""

    exit_code = ExitCode.USAGE
    code = "usage"


class StdoutUnwritable(UsageError):
    """Standard output cannot be written: a full disk (``> /dev/full``, ``ENOSPC``), an I/O error, a
    file over its size limit: exit 2, as a closed or read-only one (``a2actl.stdio``). A reader that
    went away (``| head``, ``BrokenPipeError``) is not one: that ends the command quietly. The CLI
    boundary points standard output at ``/dev/null`` before it reports one, so the report does not
    fail again; ``message``: ``"standard output: cannot write: REASON"``."""

    @classmethod
    def of(cls, exc: OSError) -> StdoutUnwritable:
        """The error for ``exc``, raised writing or flushing standard output."""
        return cls(f"standard output: cannot write: {exc.strerror or exc}")


class UnreachableError(A2ACtlError):
    """The agent cannot be reached: DNS failure, connection refused or reset, TLS handshake: exit 3."""

    exit_code = ExitCode.UNREACHABLE
    code = "unreachable"


class AuthError(A2ACtlError):
    """HTTP 401/403, or an A2A answer whose reason is ``UNAUTHENTICATED``/``PERMISSION_DENIED``: exit 4."""

    exit_code = ExitCode.AUTH
    code = "auth"


class TimeoutError_(A2ACtlError):  # noqa: N801 - avoid shadowing the builtin TimeoutError
    """A connect, read or ``--max-time`` timeout: exit 5."""

    exit_code = ExitCode.TIMEOUT
    code = "timeout"


class ProtocolViolation(A2ACtlError):
    """The agent broke the protocol: malformed JSON or HTTP, a wrong envelope or result shape,
    an oversized body, malformed SSE: exit 6. ``answer_status``: the HTTP status of the answer that
    could not be read, when one came (``A2AClient`` sets it; not in ``details``, which the
    classifiers of ``load run``, ``fleet probe`` and the exporter read as an HTTP error's)."""

    exit_code = ExitCode.PROTOCOL
    code = "protocol"
    answer_status: int | None = None


class BodyTooLarge(ProtocolViolation):
    """An answer whose body is over the byte limit (declared or read): exit 6, as any oversized
    body. ``status`` is the HTTP status it came with (``None`` when unknown): a ``dlq replay`` tells
    an agent that answered 2xx (it took the message; retrying delivers it again) from one that failed."""

    def __init__(self, message: str, *, status: int | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status = status


class StreamCut(ProtocolViolation):
    """The connection ended (reset, incomplete chunked body, read timeout) before the stream did.
    ``stream tail`` resubscribes after one; elsewhere it is a protocol violation (exit 6)."""

    code = "stream_cut"


class NoSuchRoute(ProtocolViolation):
    """An HTTP+JSON URL answered 404/405 with a body no A2A server writes (a framework's or proxy's
    "Not Found"): the route does not exist, which is not a TaskNotFound (exit 6)."""

    code = "no_such_route"


class A2AError(A2ACtlError):
    """The agent answered with a JSON-RPC or A2A error (``a2a_code`` holds the JSON-RPC code)."""

    exit_code = ExitCode.ERROR
    code = "a2a_error"


class NotCanceled(A2ACtlError):
    """CancelTask answered with a Task whose state is not ``canceled`` (still ``working``, already
    ``completed``): the agent answered but did not cancel, as a ``-32002 TaskNotCancelable`` would
    say in the spec's words: exit 1, ``details`` ``{"taskId", "state", "task"}`` (the answer's
    ``task_view``)."""

    exit_code = ExitCode.ERROR
    code = "not_canceled"


class HTTPStatusError(A2ACtlError):
    """A non-2xx answer that is neither an A2A error nor auth (``details["httpStatus"]``), or an
    unfollowed redirect: exit 1."""

    exit_code = ExitCode.ERROR
    code = "http_status"


class CheckFailed(A2ACtlError):
    """A budget, expectation, diff or smoke check did not hold: exit 7."""

    exit_code = ExitCode.CHECK_FAILED
    code = "check_failed"


def parse_value_reason(exc: ValueError) -> str:
    """The reason of a plain ``ValueError`` a JSON or YAML reader raised for a value it could not
    build (an integer over Python's 4,300-digit limit; PyYAML's unquoted date that is no date,
    ``2001-13-01``), without the advice to call ``sys.set_int_max_str_digits()``: the one-line
    reason of the usage error (exit 2) that smoke suites, fleet inventories, the exporter's and
    ``caps lint``'s configurations give for it."""
    return str(exc).split(";")[0]
