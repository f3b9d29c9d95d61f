"""Property tests (hypothesis) for the dead-letter entry reader: arbitrary stored lines never raise
anything but a2actl's own errors, valid entries always come through unchanged and in order, and the
fast schema mirror agrees with ``dlq-entry.schema.json`` both ways."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from a2actl.core.errors import A2ACtlError
from a2actl.dlq.store.entry import InvalidEntries, _conforms, _validator, check
from a2actl.dlq.store.file import FileBackend
from a2actl.dlq.store.redis import RedisBackend

SETTINGS = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(10**12), 10**12)
    | st.floats(allow_nan=False)
    | st.text(max_size=8)
)
json_values = st.recursive(
    json_scalars,
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=5), kids, max_size=3),
    max_leaves=8,
)
# an id of the form line:N, or holding a NUL byte, is named by its line (docs/dlq.md, "Invalid entries")
ids = st.text(min_size=1, max_size=12).filter(lambda s: not s.startswith("line:") and "\0" not in s)
integers = st.integers(0, 10**6) | st.integers(0, 10**6).map(float)  # JSON Schema: 3.0 is an integer

last_errors = st.none() | st.fixed_dictionaries(
    {"message": st.text(max_size=10), "class": st.sampled_from(["transient", "permanent"])},
    optional={"code": st.none() | st.integers(-40000, 600) | st.text(max_size=6), "at": st.text(max_size=5)},
)

valid_entries = st.fixed_dictionaries(
    {
        "id": ids,
        "request": st.fixed_dictionaries(
            {
                "method": st.text(max_size=12),
                "params": st.dictionaries(st.text(max_size=6), json_values, max_size=3),
            }
        ),
        "target": st.fixed_dictionaries(
            {"url": st.text(max_size=20)},
            optional={
                "protocolBinding": st.text(max_size=8),
                "protocolVersion": st.text(max_size=4),
                "tenant": st.none() | st.text(max_size=4),
            },
        ),
        "enqueuedAt": st.text(max_size=24),
        "attempts": integers,
        "lastError": last_errors,
    },
    optional={
        "traceId": st.none() | st.text(max_size=8),
        "source": st.none() | st.text(max_size=8),
        "extra": json_values,
    },
)


FIELDS = [
    "id",
    "request",
    "target",
    "enqueuedAt",
    "attempts",
    "lastError",
    "traceId",
    "source",
    "request.method",
    "request.params",
    "target.url",
    "target.protocolBinding",
    "target.protocolVersion",
    "target.tenant",
    "lastError.class",
    "lastError.code",
    "lastError.message",
]
#: Values at the edges of JSON Schema's types: booleans are not integers, 2.0 is one, null is no string.
EDGES: list[Any] = [
    True,
    False,
    None,
    0,
    -1,
    1.5,
    2.0,
    float("inf"),
    "",
    "x",
    "transient",
    "permanent",
    [],
    {},
    {"a": 1},
]
tricky = st.sampled_from(EDGES) | json_values


@st.composite
def near_entries(draw: Any) -> Any:
    """A valid entry with some fields (top-level or nested) replaced by edge values or removed."""
    e = draw(valid_entries)
    for key in draw(st.lists(st.sampled_from(FIELDS), max_size=3)):
        head, _, leaf = key.rpartition(".")
        obj = e.get(head) if head else e
        if not isinstance(obj, dict):
            continue
        if draw(st.booleans()):
            obj.pop(leaf, None)
        else:
            obj[leaf] = draw(tricky)
    return draw(st.just(e) | json_values)


def _base() -> dict[str, Any]:
    return {
        "id": "a",
        "request": {"method": "SendMessage", "params": {"message": {"messageId": "m"}}},
        "target": {"url": "http://x", "protocolBinding": "JSONRPC", "protocolVersion": "1.0", "tenant": None},
        "enqueuedAt": "2026-01-01T00:00:00Z",
        "attempts": 3,
        "traceId": None,
        "source": "s",
        "lastError": {"code": -32603, "message": "down", "class": "transient"},
    }


@pytest.mark.parametrize("key", FIELDS)
@pytest.mark.parametrize("value", [*EDGES, "<deleted>"], ids=repr)
def test_fast_mirror_agrees_on_every_single_field_edge(key: str, value: Any) -> None:
    e = _base()
    head, _, leaf = key.rpartition(".")
    obj = e[head] if head else e
    if value == "<deleted>":
        del obj[leaf]
    else:
        obj[leaf] = value
    assert _conforms(e) == _validator().is_valid(e)
    assert (check(e) is None) == _validator().is_valid(e)


@settings(max_examples=500, deadline=None)
@given(near_entries())
def test_fast_mirror_agrees_with_the_schema(e: Any) -> None:
    valid = _validator().is_valid(e)
    assert _conforms(e) == valid
    assert (check(e) is None) == valid


@pytest.fixture
def dlq_file(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "dlq.jsonl"


def _read(path: Path) -> tuple[list[dict[str, Any]], InvalidEntries]:
    invalid = InvalidEntries()

    async def go() -> list[dict[str, Any]]:
        return [e async for e in FileBackend(path).iter_entries(invalid)]

    return asyncio.run(go()), invalid


def _is_meta(line: bytes) -> bool:
    try:
        rec = json.loads(line.decode("utf-8"))
    except (ValueError, RecursionError):
        return False
    return isinstance(rec, dict) and ("$tombstone" in rec or "$update" in rec)


junk_lines = (
    st.binary(max_size=40)
    | st.text(max_size=40).map(lambda s: s.encode("utf-8", "surrogatepass"))
    | json_values.map(lambda v: json.dumps(v).encode())
    | valid_entries.map(lambda e: FileBackend.line(e)[:-1][: len(FileBackend.line(e)) // 2])  # torn
).map(lambda b: b.replace(b"\n", b" "))


@SETTINGS
@given(st.lists(junk_lines | valid_entries.map(lambda e: FileBackend.line(e)[:-1]), max_size=12))
def test_arbitrary_lines_never_raise(dlq_file: Path, lines: list[bytes]) -> None:
    dlq_file.write_bytes(b"\n".join(lines))
    try:
        got, invalid = _read(dlq_file)
    except A2ACtlError:
        return  # a2actl's own errors are allowed (none is expected for a readable file)
    assert all(check(e) is None for e in got)
    records = [x for x in lines if x.strip() and not _is_meta(x)]
    assert len(got) + invalid.count <= len(records)


@SETTINGS
@given(
    st.lists(valid_entries, max_size=8, unique_by=lambda e: str(e["id"])),
    st.lists(junk_lines.filter(lambda b: not _is_meta(b)), max_size=8),
    st.randoms(use_true_random=False),
)
def test_valid_entries_always_come_through(
    dlq_file: Path, entries: list[dict[str, Any]], junk: list[bytes], rnd: Any
) -> None:
    # Junk must not itself be a valid entry (nor share an id with one: a duplicate id is another story).
    assume(all(check(_parsed(j)) is not None for j in junk))
    lines: list[tuple[str, bytes]] = [("entry", FileBackend.line(e)[:-1]) for e in entries]
    for j in junk:
        lines.insert(rnd.randint(0, len(lines)), ("junk", j))
    dlq_file.write_bytes(b"\n".join(b for _, b in lines) + b"\n")
    got, invalid = _read(dlq_file)
    assert got == [json.loads(FileBackend.line(e)) for e in entries]  # all, unchanged, in order
    # the reader skips a byte order mark at the start of the file: a first junk line of one is blank
    texts = [b.removeprefix(b"\xef\xbb\xbf") if i == 0 else b for i, (_, b) in enumerate(lines)]
    assert invalid.count == sum(
        1 for (kind, _), b in zip(lines, texts, strict=True) if kind == "junk" and b.strip()
    )
    assert all(b.error for b in invalid.first)


def _parsed(line: bytes) -> Any:
    try:
        return json.loads(line.decode("utf-8"))
    except (ValueError, RecursionError):
        return None


@SETTINGS
@given(valid_entries)
def test_appended_entries_read_back(dlq_file: Path, e: dict[str, Any]) -> None:
    """Whatever a producer appends (lone surrogates included) is read back as the same entry."""
    dlq_file.unlink(missing_ok=True)
    asyncio.run(FileBackend(dlq_file).append(e))
    got, invalid = _read(dlq_file)
    assert got == [json.loads(json.dumps(e))] and invalid.count == 0


@pytest.fixture(scope="module")
def redis_backend() -> Iterator[RedisBackend]:
    backend = RedisBackend("redis://127.0.0.1:1/0?stream=props")  # never connects: _decode is pure
    yield backend
    asyncio.run(backend.close())


@SETTINGS
@given(
    st.dictionaries(st.text(max_size=6), st.text(max_size=30), max_size=3)
    | valid_entries.map(lambda e: {"entry": json.dumps({k: v for k, v in e.items() if k != "id"})}),
    st.none() | st.text(max_size=30) | json_values.map(json.dumps),
)
def test_redis_records_never_raise(
    redis_backend: RedisBackend, fields: dict[str, str], meta: str | None
) -> None:
    entry, why = redis_backend._decode("1-0", fields, meta)
    if why is None:
        assert entry is not None and check(entry) is None and entry["id"] == "1-0"
    else:
        assert isinstance(why, str) and why


@SETTINGS
@given(valid_entries)
def test_valid_redis_entries_come_through(redis_backend: RedisBackend, e: dict[str, Any]) -> None:
    body = {k: v for k, v in e.items() if k != "id"}
    entry, why = redis_backend._decode("7-1", {"entry": json.dumps(body)}, None)
    assert why is None and entry == {**json.loads(json.dumps(body)), "id": "7-1"}
