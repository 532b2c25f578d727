import io
import subprocess
from pathlib import Path

import pytest

from ledgerline.provenance.hashing import copy_and_hash, sha256_file
from ledgerline.storage.relay import CHUNK


def sha256sum(path: Path) -> str:
    return subprocess.run(["sha256sum", str(path)], check=True, capture_output=True, text=True).stdout.split()[0]


@pytest.mark.parametrize("name", ["melody.mid", "tone.wav", "tone.flac", "tone.mp3", "empty.wav"])
def test_it_agrees_with_sha256sum_on_real_files(media_dir: Path, name: str) -> None:
    assert sha256_file(media_dir / name) == sha256sum(media_dir / name)


# Up to one chunk goes through on the caller's thread; more goes round the relay's threads.
@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, 2 * CHUNK + 17])
def test_copy_and_hash_copies_every_byte_and_hashes_them(tmp_path: Path, size: int) -> None:
    data = (bytes(range(251)) * (size // 251 + 1))[:size]
    target = tmp_path / "copy"
    with open(target, "wb") as out:
        digest, copied = copy_and_hash(io.BytesIO(data), out.write)
    assert copied == size
    assert target.read_bytes() == data
    assert digest == sha256sum(target)
