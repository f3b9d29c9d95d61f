"""Secret redaction applied before anything reaches an output or a log.

Header names and JSON keys that conventionally carry credentials are masked; known secret values
(the bearer token, a handshake session token) are masked wherever they appear in text.
"""

from __future__ import annotations

import re
from typing import Any

MASK = "***"
_SENSITIVE_HEADER = re.compile(
    r"^(authorization|proxy-authorization|cookie|set-cookie|x-api-key|api-key|apikey|"
    r"x-a2a-notification-token|x-auth-token|.*-token|.*-secret|.*session.*)$", re.I)
_SENSITIVE_KEY = re.compile(r"(token|secret|password|passwd|api[-_]?key|credential|authorization)", re.I)


def redact_header(name: str, value: str) -> str:
    """Mask a header value if its name is a credential header; keeps the auth scheme (``Bearer ***``)."""
    if not _SENSITIVE_HEADER.match(name):
        return value
    scheme, _, rest = value.partition(" ")
    if rest and scheme.lower() in ("bearer", "basic", "token", "digest"):
        return f"{scheme} {MASK}"
    return MASK


def redact_headers(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(k, redact_header(k, v)) for k, v in headers]


def redact_json(obj: Any) -> Any:
    """A copy of ``obj`` with the values of credential-like keys masked (recursively)."""
    if isinstance(obj, dict):
        return {k: (MASK if isinstance(k, str) and _SENSITIVE_KEY.search(k) and v not in (None, "")
                    else redact_json(v)) for k, v in obj.items()}
    if isinstance(obj, list):
        return [redact_json(v) for v in obj]
    return obj


def redact_text(text: str, secrets: list[str]) -> str:
    """Replace every occurrence of each known secret value (ignoring values shorter than 4 chars)."""
    for s in secrets:
        if s and len(s) >= 4:
            text = text.replace(s, MASK)
    return text
