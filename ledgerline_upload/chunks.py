"""A chunk of a file as a request body: read from disk as it is sent, never held whole in memory."""

import base64
import hashlib
from typing import BinaryIO

READ_BYTES = 1 << 20


class ChunkReader:
    """A file-like view of `length` bytes of `source` from `offset`: http.client reads it block by block."""

    def __init__(self, source: BinaryIO, offset: int, length: int) -> None:
        self._source = source
        self._left = length
        source.seek(offset)

    def read(self, size: int = -1) -> bytes:
        """Up to size bytes (all that is left when size < 0), b'' at the chunk's end."""
        want = self._left if size < 0 else min(size, self._left)
        data = self._source.read(want) if want else b""
        self._left -= len(data)
        return data


def chunk_checksum(source: BinaryIO, offset: int, length: int) -> str:
    """The chunk's Upload-Checksum value, "sha256 <base64 digest>", from one streamed read of it."""
    digest = hashlib.sha256()
    reader = ChunkReader(source, offset, length)
    while block := reader.read(READ_BYTES):
        digest.update(block)
    return "sha256 " + base64.b64encode(digest.digest()).decode()
