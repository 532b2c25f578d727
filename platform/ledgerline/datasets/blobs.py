"""The content-addressed file store: var/blobs/ab/cd/<sha256>, written once, read-only. When
hosts share no disk (storage.shared) each file also goes to the IPFS node, and var/blobs is a
cache that a host fills from there as it needs (``blob_file``) and may delete at any time."""

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from django.conf import settings

from ledgerline.datasets.models import Blob
from ledgerline.provenance.hashing import copy_and_hash
from ledgerline.storage.direct import DirectAppender
from ledgerline.storage.shared import content_fetch, content_put, store_shared


def _root() -> Path:
    return Path(settings.LEDGERLINE_BLOB_DIR)


def blob_path(sha256: str) -> Path:
    return _root() / sha256[:2] / sha256[2:4] / sha256


def blob_file(sha256: str) -> Path:
    """The stored file, to read: from this host's store, or fetched from the IPFS node by the CID
    its row records (and checked against ``sha256``) when another host stored it."""
    path = blob_path(sha256)
    if path.exists():
        return path
    cid = Blob.objects.filter(sha256=sha256).values_list("cid", flat=True).first()
    if not cid:
        raise FileNotFoundError(f"the file {sha256} is not stored on this host, and no host shared it")
    return content_fetch(cid=cid, sha256=sha256, target=path)


def blob_share(temp_path: Path, sha256: str, *, internal: bool) -> str:
    """A file about to be stored, sent to the IPFS node when hosts share it: its CID, or "" when
    this host's store is the only one. ``internal``: not for the site's gateway (a dataset's
    file, unlike a work's output)."""
    if not store_shared():
        return ""
    return content_put(temp_path, name=sha256, internal=internal)


def blob_adopt(temp_path: Path, sha256: str) -> Path:
    """Move a fully written and hashed file into the store (or drop it if already there)."""
    final = blob_path(sha256)
    if final.exists():
        temp_path.unlink(missing_ok=True)
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.replace(temp_path, final)  # atomic on one filesystem
    except OSError:
        # Another volume: copy beside the target first, so the store never holds a partial blob.
        fd, beside = tempfile.mkstemp(dir=final.parent)
        os.close(fd)
        shutil.copyfile(temp_path, beside)
        os.replace(beside, final)
        temp_path.unlink()
    final.chmod(0o444)
    return final


def blob_files() -> Iterator[Path]:
    """Every stored blob file and every staged file, for garbage collection."""
    root = _root()
    if root.exists():
        yield from (p for p in root.glob("??/??/*") if p.is_file())
        yield from (p for p in (root / "staging").glob("*") if p.is_file())


def blob_stage(source: BinaryIO, *, expected: int | None = None, direct: bool = False) -> tuple[Path, str, int]:
    """Copy a stream (of probably ``expected`` bytes) into a temporary file beside the store,
    hashing as it goes. ``direct``: written past the page cache (storage.direct), as an upload's
    bytes are not read again soon; a local import copies several files at once through the page
    cache, which went faster here (bench/hash_throughput.py), and leaves writing back to the kernel."""
    staging = _root() / "staging"
    staging.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=staging)
    try:
        if direct:
            os.close(fd)
            target = DirectAppender(name, 0)
            try:
                sha256, size = copy_and_hash(source, target.write, expected=expected)
            finally:
                target.close()
        else:
            with os.fdopen(fd, "wb") as plain:
                sha256, size = copy_and_hash(source, plain.write, expected=expected)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return Path(name), sha256, size
