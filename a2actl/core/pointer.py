"""JSON pointers (RFC 6901) for findings, diffs and entry errors."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def pointer_token(key: Any) -> str:
    """One RFC 6901 reference token (RFC 6901 §3): ``~`` → ``~0``, ``/`` → ``~1``."""
    return str(key).replace("~", "~0").replace("/", "~1")


def to_pointer(path: Iterable[Any]) -> str:
    """The RFC 6901 JSON pointer of a sequence of keys/indexes (``["skills", 0]`` → ``/skills/0``; the
    empty sequence → ``""``, the whole document)."""
    return "".join("/" + pointer_token(p) for p in path)
