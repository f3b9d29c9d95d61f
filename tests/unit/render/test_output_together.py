"""``Output.together()``: the JSONL records written inside are held and go out in one write when the
outermost block exits (also on an error), in order, one per line, masked, after text written before."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import pytest

from a2actl.core import redact
from a2actl.render.output import Output

SECRET = 'tok-"q"\\-é-secret-value'  # a quote, a backslash and non-ASCII: JSON-escaped in a line


@pytest.fixture
def registry() -> Iterator[Any]:
    """The process registry of secrets, restored after the test."""
    saved = set(redact._REGISTRY)
    yield redact
    redact._REGISTRY.clear()
    redact._REGISTRY.update(saved)
    redact._registry_version[0] += 1


class Sink:
    """A stream ``Output`` writes to, and what a reader sees of it so far (``seen``)."""

    def __init__(self, stream: IO[str], seen: Callable[[], str], close: Callable[[], None]) -> None:
        self.stream, self.seen, self.close = stream, seen, close


@pytest.fixture(params=["file", "pipe", "stringio"])
def sink(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Sink]:
    if request.param == "file":
        path = tmp_path / "out.jsonl"
        stream: IO[str] = open(path, "w", encoding="utf-8")
        yield Sink(stream, lambda: path.read_text("utf-8"), stream.close)
        stream.close()
    elif request.param == "pipe":
        r, w = os.pipe()
        os.set_blocking(r, False)
        stream = open(w, "w", encoding="utf-8")
        got = bytearray()

        def seen() -> str:  # what reached the pipe (the records here are far under its buffer)
            while True:
                try:
                    chunk = os.read(r, 65536)
                except BlockingIOError:
                    break
                if not chunk:
                    break
                got.extend(chunk)
            return got.decode("utf-8")

        yield Sink(stream, seen, stream.close)
        stream.close()
        os.close(r)
    else:
        buf = io.StringIO()
        yield Sink(buf, buf.getvalue, lambda: None)


def lines(text: str) -> list[Any]:
    assert text == "" or text.endswith("\n")
    return [json.loads(line) for line in text.split("\n")[:-1]]  # not splitlines: U+2028 is in a line


def test_records_inside_are_held_until_the_block_exits_then_all_in_order(sink: Sink) -> None:
    out = Output("jsonl", stdout=sink.stream)
    out.jsonl({"n": 0})
    assert lines(sink.seen()) == [{"n": 0}]  # outside a block: written at once
    with out.together():
        for n in range(1, 6):
            out.jsonl({"n": n, "text": "é ✓ \u2028"})
            assert lines(sink.seen()) == [{"n": 0}]  # held
    text = sink.seen()
    assert lines(text) == [{"n": 0}, *({"n": n, "text": "é ✓ \u2028"} for n in range(1, 6))]
    assert text.count("\n") == 6
    out.jsonl({"n": 6})  # after the block: at once again
    assert lines(sink.seen())[-1] == {"n": 6}


def test_a_nested_block_writes_nothing_the_outer_one_writes_all(sink: Sink) -> None:
    out = Output("jsonl", stdout=sink.stream)
    with out.together():
        out.jsonl({"n": 1})
        with out.together():
            out.jsonl({"n": 2})
        assert sink.seen() == ""  # the inner exit wrote nothing
        out.jsonl({"n": 3})
        assert sink.seen() == ""
    assert lines(sink.seen()) == [{"n": 1}, {"n": 2}, {"n": 3}]


def test_an_empty_block_writes_nothing(sink: Sink) -> None:
    out = Output("jsonl", stdout=sink.stream)
    with out.together():
        pass
    assert sink.seen() == ""


def test_an_error_inside_still_writes_the_held_records_and_propagates(sink: Sink) -> None:
    out = Output("jsonl", stdout=sink.stream)

    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        with out.together():
            out.jsonl({"n": 1})
            out.jsonl({"n": 2})
            raise Boom
    assert lines(sink.seen()) == [{"n": 1}, {"n": 2}]
    out.jsonl({"n": 3})  # the writer is out of its holding state
    assert lines(sink.seen()) == [{"n": 1}, {"n": 2}, {"n": 3}]


def test_an_error_in_a_nested_block_writes_at_the_outer_exit(sink: Sink) -> None:
    out = Output("jsonl", stdout=sink.stream)
    with pytest.raises(KeyError):
        with out.together():
            out.jsonl({"n": 1})
            with out.together():
                out.jsonl({"n": 2})
                raise KeyError("x")
    assert lines(sink.seen()) == [{"n": 1}, {"n": 2}]


def test_known_secrets_are_masked_in_the_held_records(sink: Sink, registry: Any) -> None:
    out = Output("jsonl", stdout=sink.stream, secrets=[SECRET])
    late = "late-registered-secret-42"
    with out.together():
        out.jsonl({"taskId": SECRET})
        out.jsonl({"text": f"echo {SECRET} echo"})
        out.jsonl({"text": f"a {late} b"})
        registry.register_secret(late)  # registered while held: masked when written
        out.jsonl({"n": 4})
    text = sink.seen()
    assert lines(text) == [{"taskId": "***"}, {"text": "echo *** echo"}, {"text": "a *** b"}, {"n": 4}]
    assert "secret" not in text and "tok-" not in text


def test_text_written_before_a_block_comes_before_its_records(sink: Sink) -> None:
    out = Output("jsonl", stdout=sink.stream)
    out.stdout.write("a line of text\n")  # may still sit in the text stream's buffer
    with out.together():
        out.jsonl({"n": 1})
        out.jsonl({"n": 2})
    out.stdout.write("after\n")
    out.stdout.flush()
    assert sink.seen() == 'a line of text\n{"n":1}\n{"n":2}\nafter\n'


def test_records_of_two_blocks_stay_in_order(sink: Sink) -> None:
    out = Output("jsonl", stdout=sink.stream)
    for block in range(3):
        with out.together():
            out.jsonl({"block": block, "i": 0})
            out.jsonl({"block": block, "i": 1})
        assert lines(sink.seen())[-2:] == [{"block": block, "i": 0}, {"block": block, "i": 1}]
    assert len(lines(sink.seen())) == 6


class CountingFile(io.FileIO):
    """A file that records each write the writer makes to it."""

    writes: list[bytes]

    def write(self, b: Any) -> int:
        self.writes.append(bytes(b))
        return super().write(b)


def test_the_held_records_go_out_in_one_write(tmp_path: Path) -> None:
    raw = CountingFile(tmp_path / "out", "w")
    raw.writes = []
    stream = io.TextIOWrapper(io.BufferedWriter(raw), encoding="utf-8")
    out = Output("jsonl", stdout=stream)
    with out.together():
        for n in range(5):
            out.jsonl({"n": n})
    assert raw.writes == [b"".join(b'{"n":%d}\n' % n for n in range(5))]
    stream.close()
