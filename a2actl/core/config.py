"""Settings shared by every command, and the ``A2ACTL_*`` environment variable names.

Precedence: command-line flag > ``A2ACTL_*`` environment variable > default. Secrets (bearer tokens)
come from the environment or a file only, never from argv; see ``docs/environment-variables.md``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

ENV_OUTPUT = "A2ACTL_OUTPUT"
ENV_TOKEN = "A2ACTL_TOKEN"
ENV_DEBUG = "A2ACTL_DEBUG"

DEFAULT_CONNECT_TIMEOUT = 10.0  # seconds
DEFAULT_READ_TIMEOUT = 30.0  # seconds, per read
DEFAULT_MAX_CARD_BYTES = 10 * 1024 * 1024  # bytes; larger cards are a protocol violation (exit 6)
DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024  # bytes, for RPC answers
DEFAULT_MAX_EVENT_BYTES = 16 * 1024 * 1024  # bytes buffered for one SSE event (stream tail --max-event-bytes)
#: The most bytes read from one local input that becomes a request (``send``'s ``--data @FILE``,
#: ``--file`` and TEXT ``-``; ``load run``'s ``--messages`` and ``--data @FILE``): the order of the
#: largest answer read (``DEFAULT_MAX_BODY_BYTES``). ``/dev/zero`` or ``<(yes)`` never end.
MAX_INPUT_BYTES = 64 * 1024 * 1024
#: The most bytes read from one report file to merge (``load report``, ``fleet report``): a fleet
#: report takes ~750 bytes an agent, so this holds ~350,000 agents.
MAX_REPORT_BYTES = 256 * 1024 * 1024


def new_trace_id() -> str:
    """A W3C trace-id: 16 random bytes as 32 lower-case hex digits (never all zero)."""
    import secrets

    while True:
        tid = secrets.token_hex(16)
        if tid != "0" * 32:
            return tid


@dataclass(frozen=True)
class Settings:
    """Resolved global options of one invocation (timeouts in seconds, sizes in bytes).

    ``token`` is a secret: it is only ever sent as ``Authorization: Bearer …`` and redacted everywhere
    else. ``trace_id`` is shared by every request of the invocation (W3C ``traceparent``).
    """

    headers: tuple[tuple[str, str], ...] = ()
    token: str | None = field(default=None, repr=False)
    cacert: str | None = None
    cert: str | None = None
    key: str | None = None
    insecure: bool = False
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    read_timeout: float = DEFAULT_READ_TIMEOUT
    max_time: float | None = None
    follow_redirects: bool = False
    a2a_version: str = "auto"
    binding: str = "auto"
    trace_id: str = field(default_factory=new_trace_id)
    max_card_bytes: int = DEFAULT_MAX_CARD_BYTES
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES
    #: ``(path, content)`` of each ``--cacert``/``--cert``/``--key`` that is not a regular file (a
    #: FIFO, ``<(vault read …)``), read once under ``--max-time`` by the CLI: such a file can be read
    #: only once, and ssl would block on it in ``open`` (``core.tlsfiles``). May hold a private key.
    tls_data: tuple[tuple[str, bytes], ...] = field(default=(), repr=False)

    def tls_file(self, path: str) -> bytes | None:
        """The content of TLS file ``path`` when it was read ahead (``tls_data``), else ``None``."""
        return next((data for p, data in self.tls_data if p == path), None)

    def secrets(self) -> list[str]:
        """Values that must never appear in any output: the token and the values of sensitive
        ``-H`` headers (``Authorization``, ``X-Api-Key``, ``Cookie``, ``*-Token``, …)."""
        from a2actl.core.redact import header_secrets

        out = [self.token] if self.token else []
        return out + header_secrets(self.headers)


def env_flag(name: str) -> bool:
    """Whether environment variable ``name`` is set to a true value (``1``, ``true``, ``yes``, ``on``)."""
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")
