"""Parsing JSON an agent sent, with a bound on nesting; writing the JSON a2actl sends (``dumps_body``).

``json.loads`` recurses once per level: a card nested 100,000 levels deep raises ``RecursionError``,
and one nested 900 levels parses but breaks every later recursive walk (redaction in ``-vv``,
schema validation, output). No A2A document needs more than a few dozen levels (the deepest spec
shapes — a task's history message part's data — are under ten, plus whatever an agent puts in
``metadata``), so anything deeper than ``MAX_NESTING`` is refused as a protocol violation (exit 6).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, NoReturn

import orjson

from a2actl.core.errors import ProtocolViolation, UsageError

_LONG_DIGITS = re.compile(r"\d{19}")
#: Bytes: every ASCII digit becomes ``0``, every other byte a space, so a run of 19 digits is
#: ``b"0" * 19`` (``bytes.translate`` and a substring search: ~10x faster than the regex).
_DIGIT_MAP = bytes(0x30 if 0x30 <= b <= 0x39 else 0x20 for b in range(256))
_NINETEEN = b"0" * 19

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

    Decoded by orjson (several times faster on the throughput paths); what orjson refuses is read
    again by the stdlib, so the result and the errors are the stdlib's: JSON only Python's reader
    takes (``NaN``, integers past 64 bits (read exactly, not as floats), lone surrogates, a UTF-8 BOM, UTF-16 bytes) still parses,
    and text that is not JSON raises ``ValueError``/``UnicodeDecodeError`` as ``json.loads`` does
    (callers word that themselves). Raises ``ProtocolViolation`` (exit 6) for a document nested
    deeper than ``MAX_NESTING`` levels; a document with at most ``MAX_NESTING`` brackets cannot be,
    so only larger ones are walked."""
    try:
        # 19+ digits in a row may be an integer past 64 bits, which orjson reads as a float
        if _LONG_DIGITS.search(data) if isinstance(data, str) else _NINETEEN in data.translate(_DIGIT_MAP):
            raise orjson.JSONDecodeError("a long number: the stdlib reads it exactly", "", 0)
        obj = orjson.loads(data)
    except orjson.JSONDecodeError:
        try:
            obj = json.loads(data)
        except RecursionError:
            _too_deep(source)
    # depth d takes d opening and d closing brackets: a short document cannot be too deep
    if len(data) > 2 * MAX_NESTING:
        opening = (
            data.count("{") + data.count("[")
            if isinstance(data, str)
            else data.count(b"{") + data.count(b"[")
        )
        if opening > MAX_NESTING and nesting(obj) > MAX_NESTING:
            _too_deep(source)
    return obj


def loads_utf8(raw: bytes | str, *, lone_surrogates: bool = True) -> Any:
    """``json.loads(raw.decode("utf-8"))`` (``json.loads(raw)`` for a ``str``), same result and same
    errors, decoded by orjson when it can (~9x faster on a DLQ entry line): what orjson refuses
    (``NaN``, lone surrogates, a BOM, a document past its depth limit, bytes that are not UTF-8) and
    19+ digits in a row (an integer past 64 bits, which orjson reads as a float) go to the stdlib.
    Raises ``UnicodeDecodeError`` (not UTF-8), ``ValueError`` (not JSON) or ``RecursionError`` (too
    deep for the stdlib). No nesting bound (``parse`` has one).

    ``lone_surrogates=False``: a document holding a string or key with a lone surrogate (the escape
    ``"\\ud800"``, which the stdlib takes but no UTF-8 writer can write) raises ``LoneSurrogate``
    (a ``ValueError``, with what it decoded to). orjson refuses every such document, so the check
    runs on the stdlib's path only, and there only when the text has a surrogate at all."""
    # a str is encoded for the digit scan: \d{19} over a str costs ~12x bytes.translate (\d is Unicode)
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    if _NINETEEN not in data.translate(_DIGIT_MAP):
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass
    value = json.loads(raw.decode("utf-8") if isinstance(raw, bytes) else raw)
    if not lone_surrogates and may_hold_surrogate(raw) and holds_lone_surrogate(value):
        raise LoneSurrogate(value)
    return value


#: ``null`` in orjson's output (a ``None``, or a non-finite float it wrote so). A compiled search:
#: ~2x faster than ``b"null" in data`` (~150 ns against ~300 ns on a 200-byte body).
_NULL = re.compile(rb"null").search


class BodyNotJSON(UsageError):
    """A request body that cannot be written as JSON (``dumps_body``): exit 2. ``why`` is the reason
    alone (``NaN at /params/x: …``), for a caller that words the message itself."""

    def __init__(self, dest: str, why: str) -> None:
        super().__init__(f"the request to {dest} cannot be written as JSON: {why}")
        self.why = why


def dumps_body(body: Any, dest: str) -> bytes:
    """``body`` (decoded JSON: dicts, lists, str, int, float, bool, None) as the compact UTF-8 JSON
    a2actl sends to ``dest`` (a URL, for the message): the one encoder of every request body, on the
    httpx path, the aiohttp path (``load run``, ``dlq replay``, ``fleet probe``) and the WebSocket
    binding, so each sends the same bytes and refuses the same bodies.

    The data is never changed:

    * ``NaN``, ``Infinity``, ``-Infinity`` (which Python's JSON reader takes, in ``--data`` or a DLQ
      entry) raise ``BodyNotJSON`` (a ``UsageError``, exit 2) naming the first one's JSON pointer:
      JSON has no such numbers (RFC 8259 §6), and writing them as ``null`` (orjson's way) would send
      other data.
    * An integer past 64 bits is written exactly (``1180591620717411303424``).
    * A string or key holding a lone surrogate (``"\\udc80"`` read by Python's reader) is written
      with that surrogate as its ``\\udXXX`` escape, as it was read; the rest stays UTF-8.
    * Nesting deeper than the interpreter's recursion limit allows (about 1,000 levels, less the
      caller's own depth) raises ``BodyNotJSON``; up to it, any depth is written.
    * Any other value no JSON can carry (an object of another type, a circular reference) raises
      ``BodyNotJSON``.

    Cost: one ``orjson.dumps`` call for the common body; a walk of the body for non-finite floats
    only when the output holds ``null`` (orjson writes those floats as ``null``), and the standard
    library (~5x slower) only for what orjson refuses (integers past 64 bits, nesting past 255
    levels, lone surrogates, non-string keys). The standard library writes floats by ``repr``
    (``2.5e-05`` where orjson writes ``0.000025``): the same numbers."""
    try:
        data = orjson.dumps(body)
    except TypeError:  # orjson.JSONEncodeError: what orjson will not write
        return _stdlib_body(body, dest)
    if _NULL(data) is not None and _has_non_finite(body):
        _refuse_non_finite(body, dest)
    return data


def _stdlib_body(body: Any, dest: str) -> bytes:
    """``dumps_body`` by the standard library, for what orjson refuses."""
    try:
        text = json.dumps(body, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except ValueError as exc:  # NaN/Infinity, or a circular reference (which the walk would not end)
        if "Circular" not in str(exc) and _has_non_finite(body):
            _refuse_non_finite(body, dest)
        raise BodyNotJSON(dest, str(exc)) from exc
    except RecursionError as exc:
        raise BodyNotJSON(
            dest, f"it is nested {nesting(body, 1 << 30)} levels deep, too deep to write"
        ) from exc
    except TypeError as exc:  # a value of a type JSON has not
        raise BodyNotJSON(dest, str(exc)) from exc
    # only a surrogate has no UTF-8 form, and one can only be inside a string: its \udXXX escape
    return text.encode("utf-8", "backslashreplace")


def _has_non_finite(body: Any) -> bool:
    """Whether a float ``NaN``/``Infinity``/``-Infinity`` is anywhere in ``body``. Iterative; exact
    type tests first (2.5x faster than ``isinstance`` on decoded JSON), subclasses and tuples after
    (orjson writes those too). ``x - x`` is ``0.0`` for a finite float, ``nan`` otherwise."""
    stack: list[Any] = [(body,)]
    while stack:
        node = stack.pop()
        for v in node.values() if isinstance(node, dict) else node:
            tv = type(v)
            if tv is str or tv is int or v is None or tv is bool:
                continue
            if tv is float:
                if v - v != 0.0:
                    return True
            elif tv is dict or tv is list:
                stack.append(v)
            elif isinstance(v, float):
                if v - v != 0.0:
                    return True
            elif isinstance(v, (dict, list, tuple)):
                stack.append(v)
    return False


def _refuse_non_finite(body: Any, dest: str) -> NoReturn:
    """Raise the ``BodyNotJSON`` for a body holding a non-finite float, naming the first one's JSON
    pointer (depth first, in document order)."""
    from a2actl.core.pointer import to_pointer

    where, value = "", float("nan")
    stack: list[tuple[Any, tuple[Any, ...]]] = [(body, ())]
    while stack:
        node, path = stack.pop()
        if isinstance(node, float) and node - node != 0.0:
            where, value = to_pointer(path), node
            break
        if isinstance(node, dict):
            stack.extend(reversed([(v, (*path, k)) for k, v in node.items()]))
        elif isinstance(node, (list, tuple)):
            stack.extend(reversed([(v, (*path, i)) for i, v in enumerate(node)]))
    name = "NaN" if value != value else "Infinity" if value > 0 else "-Infinity"
    at = where.encode("utf-8", "backslashreplace").decode("utf-8") or "the top level"
    raise BodyNotJSON(
        dest,
        f"{name} at {at}: JSON has no NaN or Infinity (RFC 8259 §6), and a2actl does not send them as null",
    )


class LoneSurrogate(ValueError):
    """JSON text holding a string or key with a lone surrogate (``"\\ud800"``): Python's reader
    takes it, but no UTF-8 writer can write it (printing or sending it raises
    ``UnicodeEncodeError``). ``value`` is what the text decoded to."""

    def __init__(self, value: Any) -> None:
        super().__init__("a lone surrogate escape (\\ud800-\\udfff) in a string")
        self.value = value


#: A surrogate in JSON text: the escape ``\\uD800``-``\\uDFFF`` (a valid pair is decoded to the
#: character it encodes, a lone one is kept), or in a ``str`` the code point itself.
_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]|[\ud800-\udfff]")
_SURROGATE_B = re.compile(rb"\\u[dD][89a-fA-F]")


def may_hold_surrogate(raw: bytes | str) -> bool:
    """Whether the JSON text ``raw`` has a surrogate escape (lone or in a pair) or code point."""
    if isinstance(raw, bytes):
        return _SURROGATE_B.search(raw) is not None
    return _SURROGATE.search(raw) is not None


def holds_lone_surrogate(value: Any) -> bool:
    """Whether a string or key anywhere in ``value`` (decoded JSON: dicts, lists, scalars) holds a
    lone surrogate, i.e. is not UTF-8-encodable. Iterative: any depth."""
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            try:
                v.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(v, dict):
            stack.extend(v.keys())
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
    return False


@dataclass(frozen=True)
class DuplicateMember:
    """A member name that appears more than once in one JSON object. ``pointer``: the RFC 6901
    pointer of that member (``/supportedInterfaces/0/url``); ``name``: the name as decoded (``"url"``
    and ``"\\u0075rl"`` are one name); ``count``: how many times it appears (≥ 2); ``same``: whether
    every occurrence has the same value (then all readers agree on it, whichever one they keep)."""

    pointer: str
    name: str
    count: int
    same: bool


class _Members(dict[str, Any]):
    """A decoded object that remembers its repeated members: ``repeats`` maps a name to ``[count,
    same, shadowed]`` (``shadowed``: the earlier values that are objects or arrays, walked too so a
    repeat inside one is found), or is ``None``."""

    __slots__ = ("repeats",)

    repeats: dict[str, list[Any]] | None


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, allow_nan=True)


def _members(pairs: list[tuple[str, Any]]) -> _Members:
    obj = _Members()
    obj.repeats = None
    for name, value in pairs:
        if name in obj:
            if obj.repeats is None:
                obj.repeats = {}
            entry = obj.repeats.get(name)
            if entry is None:
                entry = obj.repeats[name] = [1, True, [], _canonical(obj[name])]
            previous = obj[name]
            if isinstance(previous, (dict, list)):
                entry[2].append(previous)
            entry[0] += 1
            if entry[1] and _canonical(value) != entry[3]:
                entry[1] = False
        obj[name] = value
    return obj


def duplicate_members(data: str | bytes) -> list[DuplicateMember]:
    """Every member name repeated within one object of the JSON document ``data``, in document order
    (a repeat inside a value that a later repeat shadows included). RFC 8259 §4 says names SHOULD be
    unique and leaves the result to the reader: Python, orjson, Go and JavaScript keep the last value,
    others the first, strict readers refuse the document. ``[]`` for a document without repeats, and
    for text that is not JSON or nests too deep (``parse`` reports those). Reads the whole document
    again with the standard library: call it only where the answer is wanted (``caps validate``,
    ``caps lint``), never on a throughput path."""
    from a2actl.core.pointer import to_pointer

    if (b"{" not in data) if isinstance(data, bytes) else ("{" not in data):
        return []
    try:
        doc = json.loads(data, object_pairs_hook=_members)
    except (ValueError, RecursionError):
        return []
    out: list[DuplicateMember] = []
    # depth first, in document order: a repeat is listed before what its values hold
    stack: list[DuplicateMember | tuple[Any, tuple[Any, ...]]] = [(doc, ())]
    while stack:
        item = stack.pop()
        if isinstance(item, DuplicateMember):
            out.append(item)
            continue
        node, path = item
        seq: list[DuplicateMember | tuple[Any, tuple[Any, ...]]] = []
        if isinstance(node, _Members):
            for name, value in node.items():
                where = (*path, name)
                entry = node.repeats.get(name) if node.repeats else None
                if entry is not None:
                    count, same, shadowed, _ = entry
                    seq.append(DuplicateMember(to_pointer(where), name, count, same))
                    seq += [(v, where) for v in shadowed]
                if isinstance(value, (dict, list)):
                    seq.append((value, where))
        elif isinstance(node, list):
            seq = [(v, (*path, i)) for i, v in enumerate(node) if isinstance(v, (dict, list))]
        stack.extend(reversed(seq))
    return out


def _too_deep(source: str) -> NoReturn:
    raise ProtocolViolation(
        f"the JSON from {source} is nested too deep (over {MAX_NESTING} levels)",
        hint="no A2A document nests this deep: a broken or hostile agent",
    )
