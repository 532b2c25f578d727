"""The embedded IPFS blockstore: one file per block under var/ipfs/blocks, named by the
block's multihash (as Kubo's flatfs does, so a CIDv0 and a CIDv1 of one block share it).
Every read checks the bytes against the CID: a corrupted block is an error, never data."""

import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from ledgerline_verify.ipfs import BlockMissing, CorruptBlock
from ledgerline_verify.unixfs import CID, DAG_PB, _base32, _unbase32


class Blockstore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, cid: CID) -> Path:
        key = _base32(cid.multihash).upper()
        return self.root / key[-3:-1] / key

    def has(self, cid: CID) -> bool:
        return self._path(cid).exists()

    def put(self, cid: CID, block: bytes) -> None:
        path = self._path(cid)
        if path.exists() and hashlib.sha256(path.read_bytes()).digest() == cid.digest:
            return  # already stored, intact; a corrupted copy is replaced below
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=path.parent)
        with os.fdopen(fd, "wb") as f:
            f.write(block)
        os.replace(temp, path)  # a block appears whole or not at all

    def get(self, cid: CID) -> bytes:
        try:
            block = self._path(cid).read_bytes()
        except FileNotFoundError:
            raise BlockMissing(f"block {cid} is not in this node's store") from None
        if hashlib.sha256(block).digest() != cid.digest:
            raise CorruptBlock(f"block {cid} is corrupt: its bytes no longer hash to its CID")
        return block

    def delete(self, cid: CID) -> None:
        self._path(cid).unlink(missing_ok=True)

    def digests(self) -> Iterator[bytes]:
        """The SHA-256 of every stored block (what garbage collection compares)."""
        if not self.root.exists():
            return
        for path in self.root.glob("*/*"):
            if path.is_file() and not path.name.startswith("tmp"):
                try:
                    multihash = _unbase32(path.name.lower())
                except ValueError:
                    continue  # not a block file: not ours to judge or delete
                if multihash[:2] == bytes([0x12, 32]) and len(multihash) == 34:
                    yield multihash[2:]

    def stale_temporaries(self, older_than: float) -> Iterator[Path]:
        """Half-written block files left by a crash (a write renames its temp file when done)."""
        if self.root.exists():
            for path in self.root.glob("*/tmp*"):
                if path.stat().st_mtime < older_than:
                    yield path

    def delete_digest(self, digest: bytes) -> None:
        self.delete(CID(0, DAG_PB, digest))
