"""``a2actl.render.output.json_document``: the ``-o json`` document is ``json.dumps(indent=2,
ensure_ascii=False)``'s layout, written by orjson (a 200,000-session ``sessions list -o json``
spent 14 s in the stdlib's indenting encoder), with the stdlib's fallbacks for what orjson refuses."""

from __future__ import annotations

import dataclasses
import datetime
import json
from typing import Any

import pytest

from a2actl.protocol.versions import Family
from a2actl.render.output import json_document


@pytest.mark.parametrize(
    "doc",
    [
        {"a": [], "b": {}, "c": [1, {"d": None, "e": True}], "x": "é ✓", "n": 1.5, "i": -3},
        [{"nested": [[], [[]], {"k": "v"}]}],
        {"family": Family.V1_0, "empty": "", "quote": 'a "b" \\ c\n'},
    ],
)
def test_the_layout_is_the_stdlib_indented_one(doc: Any) -> None:
    assert json_document(doc) == json.dumps(doc, indent=2, ensure_ascii=False)


def test_non_finite_numbers_are_null_and_unknown_objects_their_str() -> None:
    @dataclasses.dataclass
    class D:
        x: int

    when = datetime.datetime(2026, 11, 27, 12, 0, 0)
    out = json.loads(json_document({"nan": float("nan"), "inf": float("-inf"), "d": D(1), "t": when}))
    assert out == {"nan": None, "inf": None, "d": str(D(1)), "t": str(when)}


def test_what_orjson_refuses_is_written_by_the_stdlib() -> None:
    # integers past 64 bits, keys that are not strings, a lone surrogate (an agent's \\ud800)
    text = json_document({"big": 2**70, 1: "one", "s": "a\ud800b", "nan": float("nan")})
    assert json.loads(text) == {"big": 2**70, "1": "one", "s": "a\ud800b", "nan": None}
    text.encode("utf-8")  # writable on a UTF-8 stream
