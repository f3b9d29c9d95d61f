"""``Output.jsonl`` and ``RecordWriter`` in ``jsonl``: the JSONL bytes (orjson, with the stdlib for what
orjson refuses), redaction of every record (the choke point), and the write to stdout's file (order
with earlier text, unbuffered stdout, a non-UTF-8 stream, short writes on a full non-blocking pipe)."""

from __future__ import annotations

import io
import json
import os
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from a2actl.core import redact
from a2actl.render.output import Output, jsonl_line

STDLIB = json.JSONEncoder(ensure_ascii=False, default=str, separators=(",", ":")).encode


@pytest.fixture
def registry() -> Any:
    """The process registry of secrets, restored after the test."""
    saved = set(redact._REGISTRY)
    yield redact
    redact._REGISTRY.clear()
    redact._REGISTRY.update(saved)
    redact._registry_version[0] += 1


def test_a_record_is_compact_utf8_json_on_one_line_as_the_stdlib_wrote_it() -> None:
    rec = {
        "type": "event",
        "wall": "2026-11-22T04:07:00.643Z",
        "t": 0.0095,
        "delta": 123.456789,
        "kind": "status-update",
        "state": "working",
        "taskId": 'tâche "1" \\ ✓ 😀 \x1b \u2028',
        "bytes": 449,
        "oversize": False,
        "violations": [{"rule": "illegal-transition", "message": "completed → working"}],
        "rtt": None,
    }
    line = jsonl_line(rec)
    assert line == (STDLIB(rec) + "\n").encode("utf-8")  # non-ASCII as is, controls escaped
    assert line.count(b"\n") == 1 and json.loads(line) == rec


def test_numbers_are_the_same_values_in_their_shortest_spelling() -> None:
    """The one byte-level change from the stdlib: orjson spells some floats differently (1e-6 for
    1e-06, 0.000015 for 1.5e-05); every reader gets the same value."""
    rec = {"a": 1e-06, "b": 1.5e-05, "c": 2**63, "d": -0.0, "e": 1e22}
    line = jsonl_line(rec)
    assert json.loads(line) == rec and b"1e-6" in line


def test_what_orjson_refuses_is_written_by_the_stdlib() -> None:
    big = 2**70 + 3
    assert json.loads(jsonl_line({"n": big}))["n"] == big  # past 64 bits, exact
    assert json.loads(jsonl_line({1: "a", None: "b"})) == {"1": "a", "null": "b"}  # keys not strings
    line = jsonl_line({"taskId": "t\ud800x"})  # a lone surrogate (JSON from an agent can carry one)
    assert line == b'{"taskId":"t\\ud800x"}\n' and json.loads(line) == {"taskId": "t\ud800x"}


def test_nan_and_infinities_are_null_valid_json() -> None:
    assert json.loads(jsonl_line({"x": float("nan"), "y": [float("inf")]})) == {"x": None, "y": [None]}


def test_objects_json_does_not_know_are_written_as_str_as_before() -> None:
    @dataclass
    class Point:
        x: int

    when = datetime(2026, 11, 22, 4, 7, tzinfo=timezone.utc)
    rec = {"p": Point(1), "when": when, "path": Path("/a")}
    assert jsonl_line(rec) == (STDLIB(rec) + "\n").encode()
    got = json.loads(jsonl_line(rec))
    assert got["p"].endswith("Point(x=1)") and (got["when"], got["path"]) == (str(when), "/a")


def test_a_circular_record_raises_value_error() -> None:
    rec: dict[str, Any] = {}
    rec["self"] = rec
    with pytest.raises(ValueError):
        jsonl_line(rec)


SECRET = 'k3y-"q"\\-é-\x07-tail'  # a quote, a backslash, non-ASCII and a control character


@pytest.mark.parametrize("kind", ["file", "text"])
def test_every_record_is_redacted_whatever_its_escaping(kind: str, tmp_path: Path, registry: Any) -> None:
    stream: Any = open(tmp_path / "out.jsonl", "w", encoding="utf-8") if kind == "file" else io.StringIO()
    out = Output("jsonl", stdout=stream, secrets=[SECRET])
    late = "late-registered-value-42"
    records: list[dict[str, Any]] = [
        {"type": "event", "taskId": SECRET},  # JSON-escaped in the line: \" \\ \u0007
        {"type": "event", "text": f"echo {SECRET} echo", "n": 1},
        {"type": "event", "text": f"before {late}"},  # not a secret yet: written as is
    ]
    writer = out.records(key="records", summary_view=lambda o, d: None)
    for rec in records:
        writer.record(rec)
    registry.register_secret(late)  # the registry grows during the run (a URL's credentials)
    writer.record({"type": "event", "text": f"after {late}"})
    writer.finish({"type": "summary"})
    stream.flush()
    text = stream.getvalue() if kind == "text" else (tmp_path / "out.jsonl").read_text("utf-8")
    got = [json.loads(line) for line in text.splitlines()]
    assert got[0]["taskId"] == "***" and got[1]["text"] == "echo *** echo"
    assert got[2]["text"] == f"before {late}" and got[3]["text"] == "after ***"
    assert "k3y" not in text and len(got) == 5


def test_show_secrets_writes_records_unmasked(tmp_path: Path) -> None:
    with open(tmp_path / "out.jsonl", "w", encoding="utf-8") as stream:
        out = Output("jsonl", stdout=stream, secrets=[SECRET], redact=False)
        out.jsonl({"taskId": SECRET})
    assert json.loads((tmp_path / "out.jsonl").read_text("utf-8")) == {"taskId": SECRET}


def test_text_written_before_a_record_stays_before_it(tmp_path: Path) -> None:
    """The record goes to the file under the text stream; text still in the stream's buffer is
    flushed first."""
    with open(tmp_path / "out", "w", encoding="utf-8") as stream:
        out = Output("jsonl", stdout=stream)
        out.stdout.write("a line of text\n")  # buffered in the text stream, not flushed
        out.jsonl({"n": 1})
        stream.write("more text\n")
        out.jsonl({"n": 2})
    assert (tmp_path / "out").read_text("utf-8") == 'a line of text\n{"n":1}\nmore text\n{"n":2}\n'


def test_an_unbuffered_stdout_gets_whole_lines(tmp_path: Path) -> None:
    """PYTHONUNBUFFERED=1 / python -u: stdout's binary layer is the file itself."""
    raw = io.FileIO(tmp_path / "out", "w")
    stream = io.TextIOWrapper(raw, encoding="utf-8", write_through=True)
    out = Output("jsonl", stdout=stream)
    out.jsonl({"é": "✓"})
    out.jsonl({"n": 2})
    raw.close()
    assert (tmp_path / "out").read_bytes() == '{"é":"✓"}\n{"n":2}\n'.encode()


def test_text_and_records_keep_their_order_on_an_unbuffered_stdout(tmp_path: Path) -> None:
    """PYTHONUNBUFFERED=1 / python -u: text goes to the file as it is written (write-through over the
    file itself), so records written without flushing the text layer first still come after it."""
    raw = io.FileIO(tmp_path / "out", "w")
    stream = io.TextIOWrapper(raw, encoding="utf-8", write_through=True)
    out = Output("jsonl", stdout=stream)
    out.stdout.write("a line of text\n")
    out.jsonl({"n": 1})
    stream.write("more text, no newline ")
    out.jsonl({"n": 2})
    raw.close()
    assert (tmp_path / "out").read_bytes() == b'a line of text\n{"n":1}\nmore text, no newline {"n":2}\n'


def test_a_stream_that_is_not_utf8_gets_text(tmp_path: Path) -> None:
    with open(tmp_path / "out", "w", encoding="latin-1") as stream:
        Output("jsonl", stdout=stream).jsonl({"name": "café"})
    assert (tmp_path / "out").read_text("latin-1") == '{"name":"café"}\n'


def test_a_short_write_on_a_full_non_blocking_pipe_is_finished() -> None:
    """A record larger than the pipe's buffer on a non-blocking pipe: the first write is short (or
    refused), the rest is written as the reader drains it, whole and in order."""
    r, w = os.pipe()
    os.set_blocking(w, False)
    got = bytearray()

    def drain() -> None:
        while chunk := os.read(r, 65536):
            got.extend(chunk)

    reader = threading.Thread(target=drain)
    stream = io.TextIOWrapper(io.BufferedWriter(io.FileIO(w, "w")), encoding="utf-8")
    out = Output("jsonl", stdout=stream)
    big = {"data": "x" * (1 << 20)}
    out.jsonl({"n": 1})  # fits: written before the reader starts
    reader.start()
    out.jsonl(big)
    out.jsonl({"n": 3})
    stream.close()
    reader.join(10)
    os.close(r)
    assert [json.loads(line) for line in got.splitlines()] == [{"n": 1}, big, {"n": 3}]


def test_record_types_and_the_summary_in_jsonl() -> None:
    buf = io.StringIO()
    out = Output("jsonl", stdout=buf)
    writer = out.records(
        key="results", summary_view=lambda o, d: None, record_type="result", summary_type="summary"
    )
    writer.record({"id": 1})
    writer.finish({"results": [{"id": 1}], "n": 1})
    assert [json.loads(x) for x in buf.getvalue().splitlines()] == [
        {"type": "result", "id": 1},
        {"type": "summary", "n": 1},
    ]
