"""The one hashing module: SHA-256 of bytes, files and streams.

Storing a stream and hashing it is one pass (HashingWriter): uploads and imports both
use it. bench/hash_throughput.py measures it against sha256sum.
"""

import hashlib
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO

CHUNK = 1024 * 1024


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def sha256_chunks(chunks: Iterable[bytes]) -> str:
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
    return digest.hexdigest()


class HashingWriter:
    """Writes chunks to a file on a second thread while hashing them on this one.

    hashlib and file writes both release the GIL, so on two cores storing a stream costs
    about what the slower of the two costs, not their sum. Chunks must be immutable (bytes).
    """

    def __init__(self, target: BinaryIO) -> None:
        self.target = target
        self.digest = hashlib.sha256()
        self.size = 0
        self._writer = ThreadPoolExecutor(max_workers=1)
        self._pending: Future[int] | None = None

    def write(self, chunk: bytes) -> None:
        if self._pending is not None:
            self._pending.result()  # at most one chunk in flight: memory stays flat
        self._pending = self._writer.submit(self.target.write, chunk)
        self.digest.update(chunk)
        self.size += len(chunk)

    def finish(self) -> tuple[str, int]:
        """Wait for the last write; the SHA-256 (hex) and the number of bytes."""
        try:
            if self._pending is not None:
                self._pending.result()
        finally:
            self._writer.shutdown()
        return self.digest.hexdigest(), self.size

    def abort(self) -> None:
        self._writer.shutdown(wait=True)


def copy_and_hash(source: BinaryIO, target: BinaryIO, *, chunk_size: int = CHUNK) -> tuple[str, int]:
    """Copy ``source`` to ``target``; return the SHA-256 (hex) and the number of bytes."""
    writer = HashingWriter(target)
    try:
        while chunk := source.read(chunk_size):
            writer.write(chunk)
    except BaseException:
        writer.abort()
        raise
    return writer.finish()
