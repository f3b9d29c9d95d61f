"""``core.offloop``'s capped readers: an input without end (``/dev/zero``, ``<(yes)``) is refused after
at most the limit + 1 bytes."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from a2actl.core.errors import UsageError
from a2actl.core.offloop import over_limit, read_capped, read_file_capped, read_upto


class Endless(io.RawIOBase):
    """A raw stream of zeros without end that counts the bytes it served; each read returns at
    most ``chunk`` bytes (as a pipe does)."""

    def __init__(self, chunk: int = 7) -> None:
        self.served = 0
        self.chunk = chunk

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray) -> int:  # type: ignore[override]
        n = min(len(b), self.chunk)
        b[:n] = bytes(n)
        self.served += n
        return n


def test_an_endless_stream_is_refused_after_the_limit_and_one_byte() -> None:
    stream = Endless()
    with pytest.raises(UsageError) as info:
        read_capped(stream, "--file /dev/zero", 100)  # type: ignore[arg-type]
    assert info.value.message == "--file /dev/zero: over the 100-byte limit"
    assert stream.served == 101


def test_the_limit_itself_is_read_whole_from_short_reads() -> None:
    data = bytes(range(256)) * 4
    assert read_capped(io.BytesIO(data), "x", len(data)) == data
    stream = io.BufferedReader(io.BytesIO(data), buffer_size=16)
    assert read_capped(stream, "x", len(data)) == data
    with pytest.raises(UsageError):
        read_capped(io.BytesIO(data), "x", len(data) - 1)


def test_read_upto_reads_a_file_descriptor_up_to_most_or_its_end() -> None:
    """``read_upto`` is the one bounded read under ``read_capped``, ``Invocation.read_files`` (the
    global files, ``exporter --inventory``) and the fleet inventory's stdin: from the descriptor in
    1 MiB chunks when there is one (``/dev/zero`` never ends: exactly ``most`` bytes), to the end of
    a pipe whose writer closed, and from ``read`` for a stream without one."""
    import os

    most = 3 * (1 << 20) + 5
    with open("/dev/zero", "rb") as zeros:
        assert read_upto(zeros, most) == bytes(most)
    read_end, write_end = os.pipe()
    os.write(write_end, b"ten bytes!")
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        assert read_upto(pipe, 100) == b"ten bytes!"
    stream = Endless(chunk=3)
    assert read_upto(stream, 10) == bytes(10) and stream.served == 10  # type: ignore[arg-type]
    assert read_upto(io.BytesIO(b"abc"), 0) == b""


def test_over_limit_names_the_input_and_the_limit_in_mib() -> None:
    assert over_limit("--messages m.jsonl", 64 * 1024 * 1024) == (
        "--messages m.jsonl: over the 64 MiB limit (67,108,864 bytes)"
    )
    assert over_limit("r.json", 256 * 1024 * 1024) == "r.json: over the 256 MiB limit (268,435,456 bytes)"
    assert over_limit("x", 1000) == "x: over the 1,000-byte limit"


def test_read_file_capped(tmp_path: Path) -> None:
    """A file that cannot be opened is the one-line "LABEL: cannot read: REASON"; one over the limit
    (a sparse file: no disk) is refused."""
    with pytest.raises(UsageError) as info:
        read_file_capped(str(tmp_path / "missing"), "--file missing")
    assert info.value.message == "--file missing: cannot read: No such file or directory"
    big = tmp_path / "big"
    with open(big, "wb") as fh:
        fh.truncate(1025)
    with pytest.raises(UsageError, match=r"^--data @big: over the 1,024-byte limit$"):
        read_file_capped(str(big), "--data @big", 1024)
    assert read_file_capped(str(big), "--data @big", 1025) == bytes(1025)
