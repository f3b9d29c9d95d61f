"""Parsing JSON an agent sent, with a bound on nesting.

``json.loads`` recurses once per level: a card nested 100,000 levels deep raises ``RecursionError``,
and one nested 900 levels parses but breaks every later recursive walk (redaction in ``-vv``,
schema validation, output). No A2A document needs more than a few dozen levels (the deepest spec
shapes — a task's history message part's data — are under ten, plus whatever an agent puts in
``metadata``), so anything deeper than ``MAX_NESTING`` is refused as a protocol violation (exit 6).
"""

from __future__ import annotations

import json
from typing import Any

from a2actl.core.errors import ProtocolViolation

#: Deepest nesting of objects and arrays accepted in an agent's JSON.
MAX_NESTING = 100


def nesting(obj: Any, stop_at: int = MAX_NESTING + 1) -> int:
    """Depth of nested dicts/lists in ``obj`` (a scalar is 0), counted iteratively; stops counting
    at ``stop_at``."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(obj, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        depth += 1
        if depth > deepest:
            deepest = depth
            if deepest >= stop_at:
                return deepest
        stack.extend((c, depth) for c in children if isinstance(c, (dict, list)))
    return deepest


def parse(data: str | bytes, source: str) -> Any:
    """``json.loads(data)`` for a document from ``source`` (a URL or a path, for the message).

    Raises ``ValueError``/``UnicodeDecodeError`` as ``json.loads`` does for text that is not JSON
    (callers word that themselves), and ``ProtocolViolation`` (exit 6) for a document nested deeper
    than ``MAX_NESTING`` levels."""
    try:
        obj = json.loads(data)
    except RecursionError:
        obj = None
        deep = True
    else:
        deep = nesting(obj) > MAX_NESTING
    if deep:
        raise ProtocolViolation(
            f"the JSON from {source} is nested too deep (over {MAX_NESTING} levels)",
            hint="no A2A document nests this deep: a broken or hostile agent",
        )
    return obj
