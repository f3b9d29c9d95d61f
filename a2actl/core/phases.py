"""The names of the handshake probe's timed phases and their display labels: one definition that
the probe (``a2actl.probe``) and its table view (``a2actl.render.probe``) both import.

Standard library only. The phases and their meaning are documented in ``docs/output-formats.md``
(``handshake probe``) and in ``a2actl.probe.handshake``.
"""

from __future__ import annotations

#: Every phase a sample can time, in wire order (durations in seconds, non-overlapping).
PHASES: tuple[str, ...] = (
    "dns",
    "connect",
    "tls",
    "ttfb",
    "transfer",
    "parse",
    "negotiate",
    "session",
    "grpc_dns",
    "grpc_ready",
    "rpc",
    "first_event",
    "terminal",
)

#: The phases of the card request; their sum is the ``card`` metric.
CARD_PHASES: tuple[str, ...] = ("dns", "connect", "tls", "ttfb", "transfer")

#: curl's ``-w`` names for the card request's cumulative timings (seconds from the request start),
#: usable as ``--budget`` metrics.
CURL_NAMES: tuple[str, ...] = (
    "time_namelookup",
    "time_connect",
    "time_appconnect",
    "time_pretransfer",
    "time_starttransfer",
    "time_total",
)

#: Display names of the phases and of the ``card`` and ``total`` sums (tables and budget messages).
PHASE_LABELS: dict[str, str] = {
    "dns": "DNS lookup",
    "connect": "TCP connect",
    "tls": "TLS handshake",
    "ttfb": "card TTFB",
    "transfer": "card transfer",
    "parse": "card parse",
    "negotiate": "negotiation",
    "session": "session handshake",
    "grpc_dns": "gRPC DNS lookup",
    "grpc_ready": "gRPC channel ready",
    "rpc": "first RPC",
    "first_event": "send: first event",
    "terminal": "send: terminal state",
    "card": "card total",
    "total": "total",
}


def phase_label(name: str) -> str:
    """The display name of phase or metric ``name`` (``ttfb`` → ``card TTFB``); unknown names
    (curl names) are shown as they are."""
    return PHASE_LABELS.get(name, name)
