"""protocol.jsondoc.parse: orjson's speed with the stdlib's results and errors, and the nesting bound."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from a2actl.core.errors import ProtocolViolation
from a2actl.protocol import jsondoc
from a2actl.protocol.jsondoc import MAX_NESTING, LoneSurrogate, loads_utf8, parse

_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)  # past 64 bits too: must stay exact ints
    | st.floats(allow_nan=False)
    | st.text()
)
_docs = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=30,
)


def _same(a: Any, b: Any) -> bool:
    """Equal values of equal types all the way down (1 and 1.0 differ)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float):
        return repr(a) == repr(b)  # NaN too
    return bool(a == b)


@settings(max_examples=300, deadline=None)
@given(_docs, st.booleans())
def test_parse_gives_what_the_stdlib_gives(doc: Any, as_bytes: bool) -> None:
    text = json.dumps(doc, ensure_ascii=False)
    data: str | bytes = text.encode("utf-8", "surrogatepass") if as_bytes else text
    try:
        expected = json.loads(data)
    except ValueError:
        with pytest.raises(ValueError):
            parse(data, "src")
        return
    assert _same(parse(data, "src"), expected)


@pytest.mark.parametrize(
    "data",
    [
        '{"a": 123456789012345678901234567890}',
        b'{"a": -9223372036854775809}',
        '{"a": NaN, "b": Infinity}',
        b'\xef\xbb\xbf{"a": 1}',
        '"\\ud800"',
        '{"a": 1, "a": 2}',
        "1e400",
        json.dumps({"x": 1}).encode("utf-16"),
    ],
)
def test_what_only_the_stdlib_reads_still_parses_exactly(data: str | bytes) -> None:
    assert _same(parse(data, "src"), json.loads(data))


@pytest.mark.parametrize("data", ["[1,2", "{'a': 1}", b"\xff", ""])
def test_not_json_raises_as_the_stdlib_does(data: str | bytes) -> None:
    with pytest.raises(ValueError) as ours:
        parse(data, "src")
    with pytest.raises(ValueError) as theirs:
        json.loads(data)
    assert type(ours.value) is type(theirs.value)


@pytest.mark.parametrize("depth", [MAX_NESTING + 1, 2000, 100_000])
def test_deeper_than_the_bound_is_a_protocol_violation(depth: int) -> None:
    with pytest.raises(ProtocolViolation, match="nested too deep"):
        parse("[" * depth + "]" * depth, "http://agent")
    assert parse("[" * MAX_NESTING + "]" * MAX_NESTING, "src") is not None


@settings(max_examples=300, deadline=None)
@given(_docs)
def test_loads_utf8_gives_what_the_stdlib_gives(doc: Any) -> None:
    raw = json.dumps(doc, ensure_ascii=False).encode("utf-8", "surrogatepass")
    try:
        expected = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        with pytest.raises(type(exc)):
            loads_utf8(raw)
        return
    assert _same(loads_utf8(raw), expected)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"a": 123456789012345678901234567890}',
        b'{"a": NaN}',
        b'"\\ud800"',
        b"1e400",
        b'{"a": 1, "a": 2}',
        b"[" * 200 + b"]" * 200,
    ],
)
def test_loads_utf8_reads_what_only_the_stdlib_reads(raw: bytes) -> None:
    assert _same(loads_utf8(raw), json.loads(raw.decode("utf-8")))


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (b"\xff{}", UnicodeDecodeError),
        (b'\xef\xbb\xbf{"a": 1}', ValueError),  # a BOM: json.loads(str) refuses it
        (b"[1,2", ValueError),
        (b"", ValueError),
        (b"[" * 100_000 + b"]" * 100_000, RecursionError),
    ],
)
def test_loads_utf8_raises_what_the_stdlib_raises(raw: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        json.loads(raw.decode("utf-8"))
    with pytest.raises(error):
        loads_utf8(raw)


@settings(max_examples=300, deadline=None)
@given(_docs)
def test_loads_utf8_of_text_gives_what_the_stdlib_gives(doc: Any) -> None:
    raw = json.dumps(doc, ensure_ascii=bool(len(str(doc)) % 2))  # escaped or not, surrogates included
    try:
        expected = json.loads(raw)
    except ValueError as exc:
        with pytest.raises(type(exc)):
            loads_utf8(raw)
        return
    assert _same(loads_utf8(raw), expected)


@pytest.mark.parametrize("text", [False, True])
@pytest.mark.parametrize(
    "raw",
    [
        b'{"a": "\\ud800"}',  # orjson refuses it: the stdlib's reading is checked
        b'{"a": ["x", "\\udc00\\ud83d"], "n": 12345678901234567890}',  # 19+ digits: the stdlib alone
        b'{"a": "\\udfff", "n": NaN}',  # NaN: orjson refuses, the stdlib reads
        b'{"\\ud800": 1}',  # a key
    ],
)
def test_a_lone_surrogate_is_refused_when_asked_on_either_decoder(raw: bytes, text: bool) -> None:
    doc: bytes | str = raw.decode() if text else raw
    expected = json.loads(raw.decode())
    assert _same(loads_utf8(doc), expected)  # as before by default
    with pytest.raises(LoneSurrogate) as caught:
        loads_utf8(doc, lone_surrogates=False)
    assert isinstance(caught.value, ValueError) and _same(caught.value.value, expected)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"a": "\\ud83d\\ude00 \\u00e9"}',
        b'{"a": "\\ud83d\\ude00", "n": 12345678901234567890}',
        b'{"a": "\\ud83d\\ude00", "n": NaN}',
    ],
)
def test_a_surrogate_pair_is_its_character(raw: bytes) -> None:
    assert loads_utf8(raw, lone_surrogates=False)["a"].startswith("\U0001f600")


def test_what_orjson_reads_is_not_walked_for_lone_surrogates(monkeypatch: pytest.MonkeyPatch) -> None:
    """orjson refuses every lone surrogate, so its results are not walked (the check cost ~1 µs a
    DLQ record); only the stdlib's, and there only when the text has a surrogate escape at all."""

    def walked(_: Any) -> bool:
        raise AssertionError("walked")

    monkeypatch.setattr(jsondoc, "holds_lone_surrogate", walked)
    assert loads_utf8(b'{"a": "\\ud83d\\ude00", "b": [1, {"c": "d"}]}', lone_surrogates=False)["b"][0] == 1
    assert loads_utf8('{"a": "\\ud83d\\ude00"}', lone_surrogates=False)["a"] == "\U0001f600"
    assert loads_utf8(b'{"a": NaN, "b": "no escape"}', lone_surrogates=False)["b"] == "no escape"
    with pytest.raises(AssertionError, match="walked"):
        loads_utf8(b'{"a": NaN, "b": "\\ud800"}', lone_surrogates=False)


def test_duplicate_members_in_document_order_with_pointers() -> None:
    from a2actl.protocol.jsondoc import duplicate_members

    doc = (
        '{"url": "https://a", "supportedInterfaces": [{"url": "x", "u\\u0072l": "y"}], "url": "https://b",'
        ' "name": "n", "name": "n", "a/b": {"k": [1, {"z": 1, "z": true}]}, "a/b": 2, "url": "https://c"}'
    )
    got = [(d.pointer, d.name, d.count, d.same) for d in duplicate_members(doc.encode())]
    assert got == [
        ("/url", "url", 3, False),
        ("/supportedInterfaces/0/url", "url", 2, False),
        ("/name", "name", 2, True),
        ("/a~1b", "a/b", 2, False),
        ("/a~1b/k/1/z", "z", 2, False),  # inside the value a later repeat shadows: true is not 1
    ]
    # what every other reader of the card sees is unchanged: the last value
    assert parse(doc, "t")["url"] == "https://c"


@pytest.mark.parametrize("text", ['{"a": 1, "b": {"a": 1}}', "[1, 2]", "not json", "", '{"a": [{}, {}]}'])
def test_no_duplicate_members(text: str) -> None:
    from a2actl.protocol.jsondoc import duplicate_members

    assert duplicate_members(text) == []
