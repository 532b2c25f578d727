"""The one hashing module: SHA-256 of bytes, files and streams.

Storing a stream and hashing it is one pass: copy_and_hash for imports and raw uploads,
HashingWriter for the chunks a multipart upload hands over. bench/hash_throughput.py measures it against sha256sum.
"""

import ctypes
import ctypes.util
import hashlib
import io
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO

from ledgerline.storage.relay import relay

FILE_CHUNK = 1024 * 1024


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


def copy_and_hash(
    source: BinaryIO, write: Callable[[memoryview], object], *, expected: int | None = None
) -> tuple[str, int]:
    """Copy ``source`` to ``write`` in one pass; return the SHA-256 (hex) and the number of bytes.

    A stream (a request's body, probably ``expected`` bytes long) is relayed: reading, hashing and
    writing go on at once, on threads of their own (storage.relay), so that one upload uses two
    cores. A file is copied in a plain loop over one reused buffer, small enough to stay in the
    CPU's cache from its read to its write: ``dataset_files_import`` copies several files at once,
    one per core, and that is faster than relaying each (bench/hash_throughput.py).
    """
    digest = hashlib.sha256()
    readinto = getattr(source, "readinto", None)
    if readinto is not None and _is_file(source):
        buffer = bytearray(FILE_CHUNK)
        view, size = memoryview(buffer), 0
        while count := readinto(buffer):
            digest.update(view[:count])
            write(view[:count])
            size += count
        return digest.hexdigest(), size
    if readinto is None:

        def readinto(view: memoryview) -> int:
            data = source.read(len(view))
            view[: len(data)] = data
            return len(data)

    size = relay(readinto, [digest.update, write], expected=expected)
    return digest.hexdigest(), size


def _is_file(source: BinaryIO) -> bool:
    try:
        source.fileno()
    except (AttributeError, OSError, io.UnsupportedOperation):
        return False
    return True


class _Sha256Context(ctypes.Structure):
    """OpenSSL's SHA256_CTX (openssl/sha.h): the whole state of a SHA-256 between two updates."""

    _fields_ = [
        ("h", ctypes.c_uint32 * 8),
        ("Nl", ctypes.c_uint32),
        ("Nh", ctypes.c_uint32),
        ("data", ctypes.c_uint32 * 16),
        ("num", ctypes.c_uint32),
        ("md_len", ctypes.c_uint32),
    ]


def _libcrypto() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("crypto")
    try:
        lib = ctypes.CDLL(name) if name else None
        if lib is not None:
            lib.SHA256_Update.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t]
            lib.SHA256_Final.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
            lib.SHA256_Init.argtypes = [ctypes.c_void_p]
    except (OSError, AttributeError):
        return None
    return lib


_CRYPTO = _libcrypto()


class ResumableSha256:
    """A SHA-256 whose state can be saved between requests and taken up again, so an upload
    that arrives in many requests is hashed once, as its bytes arrive.

    hashlib cannot export its state, so this calls OpenSSL's SHA256_* (the library hashlib
    itself uses; the call releases the GIL) on a context whose bytes are the saved state. The
    state is only meaningful on the machine that made it. Where the library is missing,
    ``state()`` is empty and the caller hashes again what it had (``saved`` says so).
    """

    def __init__(self, state: bytes = b"") -> None:
        self._hashlib = hashlib.sha256() if _CRYPTO is None else None
        self._context = _Sha256Context()
        if state and len(state) == ctypes.sizeof(_Sha256Context) and _CRYPTO is not None:
            ctypes.memmove(ctypes.byref(self._context), state, len(state))
        elif _CRYPTO is not None:
            _CRYPTO.SHA256_Init(ctypes.byref(self._context))

    @staticmethod
    def saved(state: bytes) -> bool:
        """Whether ``state`` can be taken up again here (else hash the bytes so far again)."""
        return _CRYPTO is not None and len(state) == ctypes.sizeof(_Sha256Context)

    def update(self, data: bytes | memoryview) -> None:
        if _CRYPTO is None:
            assert self._hashlib is not None
            self._hashlib.update(data)
        elif isinstance(data, bytes):
            _CRYPTO.SHA256_Update(ctypes.byref(self._context), data, len(data))
        elif data:  # a view of a buffer (storage.relay's), hashed where it lies
            _CRYPTO.SHA256_Update(ctypes.byref(self._context), (ctypes.c_char * len(data)).from_buffer(data), len(data))

    def state(self) -> bytes:
        return b"" if _CRYPTO is None else bytes(self._context)

    def hexdigest(self) -> str:
        if _CRYPTO is None:
            assert self._hashlib is not None
            return self._hashlib.hexdigest()
        context = _Sha256Context.from_buffer_copy(bytes(self._context))
        digest = (ctypes.c_ubyte * 32)()
        _CRYPTO.SHA256_Final(digest, ctypes.byref(context))
        return bytes(digest).hex()
