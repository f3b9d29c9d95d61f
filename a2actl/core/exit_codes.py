"""Process exit codes, the same for every command. Frozen: see ``docs/exit-codes.md``.

Protocol error codes (JSON-RPC ``-32xxx``) never become exit statuses; they go in the JSON error
object's ``a2aCode`` so that protocol outcomes cannot collide with the tool's own 1 and 2.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Exit status of an ``a2actl`` invocation."""

    OK = 0
    #: The agent answered with a JSON-RPC/A2A error, an HTTP error status, or an unexpected failure.
    ERROR = 1
    #: Bad command line or bad local input (file not found, unparseable option value).
    USAGE = 2
    #: DNS failure, connection refused, TLS handshake failure.
    UNREACHABLE = 3
    #: HTTP 401/403 or an A2A auth error.
    AUTH = 4
    #: Connect, read or ``--max-time`` timeout.
    TIMEOUT = 5
    #: Malformed JSON, wrong envelope, schema-invalid payload, malformed SSE, oversized body.
    PROTOCOL = 6
    #: A budget, expectation, diff or smoke check did not hold.
    CHECK_FAILED = 7
    #: Ctrl-C (SIGINT).
    INTERRUPTED = 130
