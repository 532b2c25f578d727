"""DirectAppender: bytes given in any sizes, from any offset, land in the file exactly, whether
the filesystem takes O_DIRECT or not."""

import mmap
import os
import random
from pathlib import Path

import pytest

from ledgerline.storage.direct import DirectAppender


def _in_page_aligned_buffer(piece: bytes) -> memoryview:
    """The piece as storage.relay hands it over: a view of an mmap, which the appender writes
    straight from when the file's end is on a block boundary."""
    buffer = mmap.mmap(-1, max(len(piece), 1))
    buffer[: len(piece)] = piece
    return memoryview(buffer)[: len(piece)]


@pytest.mark.parametrize("aligned", [False, True], ids=["bytes", "page-aligned views"])
@pytest.mark.parametrize("offset", [0, 1, 4095, 4096, 10_000])
def test_every_byte_lands_where_it_belongs(tmp_path: Path, offset: int, aligned: bool) -> None:
    rng = random.Random(offset)
    path = tmp_path / "part"
    before = rng.randbytes(offset)
    path.write_bytes(before)
    pieces = [rng.randbytes(rng.choice([1, 7, 4096, 5000, 8192, 70_000, 300_000])) for _ in range(60)]
    appender = DirectAppender(path, offset, buffer_size=64 * 1024)
    for i, piece in enumerate(pieces):
        appender.write(_in_page_aligned_buffer(piece) if aligned else piece)
        if i % 17 == 16:
            appender.flush()  # as a checkpoint does: everything given is then in the file
            assert path.stat().st_size == offset + sum(map(len, pieces[: i + 1]))
    appender.close()
    assert path.read_bytes() == before + b"".join(pieces)


def test_without_o_direct_it_writes_through_the_page_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(os, "O_DIRECT", raising=False)
    path = tmp_path / "part"
    path.write_bytes(b"")
    appender = DirectAppender(path, 0)
    appender.write(b"abc" * 5000)
    appender.close()
    assert path.read_bytes() == b"abc" * 5000
