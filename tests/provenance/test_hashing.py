import io
import subprocess
from pathlib import Path

import pytest

from ledgerline.provenance.hashing import copy_and_hash, sha256_file


def sha256sum(path: Path) -> str:
    return subprocess.run(["sha256sum", str(path)], check=True, capture_output=True, text=True).stdout.split()[0]


@pytest.mark.parametrize("name", ["melody.mid", "tone.wav", "tone.flac", "tone.mp3", "empty.wav"])
def test_it_agrees_with_sha256sum_on_real_files(media_dir: Path, name: str) -> None:
    assert sha256_file(media_dir / name) == sha256sum(media_dir / name)


@pytest.mark.parametrize("size", [0, 1, 1024 * 1024 - 1, 1024 * 1024, 3 * 1024 * 1024 + 17])
def test_copy_and_hash_copies_every_byte_and_hashes_them(tmp_path: Path, size: int) -> None:
    data = bytes((i * 7 + 3) % 251 for i in range(size))
    target = tmp_path / "copy"
    with open(target, "wb") as out:
        digest, copied = copy_and_hash(io.BytesIO(data), out)
    assert copied == size
    assert target.read_bytes() == data
    assert digest == sha256sum(target)
