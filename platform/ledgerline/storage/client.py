"""The one IPFS client: the embedded blockstore, or a Kubo RPC API through ipfshttpclient.

Both add files as `ipfs add --cid-version=1` does (256 KiB chunks, raw leaves, balanced
DAG), so a CID computed here is the CID any node computes for the same bytes.
"""

import fcntl
import io
import logging
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, Protocol
from urllib.parse import urlparse

import requests
from django.conf import settings

from ledgerline.errors import LedgerlineError, Unavailable
from ledgerline.storage import car
from ledgerline.storage.blockstore import Blockstore
from ledgerline.storage.models import Pin
from ledgerline_verify import unixfs
from ledgerline_verify.unixfs import CID, Added

logger = logging.getLogger(__name__)
READ_CHUNK = 1024 * 1024


class IpfsUnavailable(Unavailable):
    code = "ipfs_unavailable"


class Ipfs(Protocol):
    def add(self, source: BinaryIO, *, name: str) -> Added: ...
    def add_directory(self, files: dict[str, bytes], *, name: str) -> Added: ...
    def add_path(self, path: Path) -> Added: ...
    def size(self, cid: CID) -> int: ...
    def read(self, cid: CID, start: int = 0, end: int | None = None) -> Iterator[bytes]: ...
    def resolve(self, cid: CID, path: str) -> CID: ...
    def listing(self, cid: CID) -> list[unixfs.Link] | None: ...
    def pins(self) -> list[str]: ...
    def unpin(self, cid: CID) -> None: ...
    def export_car(self, cid: CID, out: BinaryIO) -> None: ...
    def block(self, cid: CID) -> bytes: ...


class EmbeddedIpfs:
    def __init__(self, root: Path) -> None:
        self.store = Blockstore(root)
        self._lock_path = root.parent / "gc.lock"

    @contextmanager
    def _lock(self, *, exclusive: bool) -> Iterator[None]:
        """Adds hold it shared from their first block to their pin; gc holds it alone, so
        it never deletes blocks of an add in progress (in any process)."""
        self._lock_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self._lock_path, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _pin(self, added: Added, name: str) -> Added:
        Pin.objects.get_or_create(cid=str(added.cid), defaults={"name": name, "size": added.size})
        return added

    def add(self, source: BinaryIO, *, name: str) -> Added:
        with self._lock(exclusive=False):
            return self._pin(unixfs.file_add(source, self.store.put), name)

    def add_directory(self, files: dict[str, bytes], *, name: str) -> Added:
        entries = {}
        with self._lock(exclusive=False):
            for filename, content in files.items():
                entries[_entry_name(filename)] = unixfs.file_add(io.BytesIO(content), self.store.put)
            return self._pin(unixfs.directory_add(entries, self.store.put), name)

    def add_path(self, path: Path) -> Added:
        with self._lock(exclusive=False):
            return self._pin(unixfs.path_add(path, self.store.put), path.name)

    def size(self, cid: CID) -> int:
        return unixfs.file_size(cid, self.store.get)

    def read(self, cid: CID, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        return unixfs.file_read(cid, self.store.get, start, end)

    def resolve(self, cid: CID, path: str) -> CID:
        return unixfs.path_resolve(cid, path, self.store.get)

    def listing(self, cid: CID) -> list[unixfs.Link] | None:
        return unixfs.directory_list(cid, self.store.get)

    def pins(self) -> list[str]:
        return list(Pin.objects.order_by("cid").values_list("cid", flat=True))

    def unpin(self, cid: CID) -> None:
        Pin.objects.filter(cid=str(cid)).delete()

    def export_car(self, cid: CID, out: BinaryIO) -> None:
        car.car_export(cid, self.store.get, out)

    def block(self, cid: CID) -> bytes:
        return self.store.get(cid)

    def gc(self) -> int:
        """Delete every block no pin reaches; returns how many were deleted. A pin whose
        DAG cannot be walked whole stops gc before anything is deleted."""
        with self._lock(exclusive=True):
            keep: set[bytes] = set()
            for pinned in Pin.objects.values_list("cid", flat=True):
                try:
                    keep.update(cid.digest for cid in unixfs.walk(CID.parse(pinned), self.store.get))
                except (LookupError, ValueError) as exc:
                    raise LedgerlineError(
                        f"gc stopped, nothing deleted: the pin {pinned} is damaged ({exc})."
                    ) from None
            removed = 0
            for digest in list(self.store.digests()):
                if digest not in keep:
                    self.store.delete_digest(digest)
                    removed += 1
            for temporary in self.store.stale_temporaries(time.time() - 3600):
                temporary.unlink(missing_ok=True)
            return removed


def _entry_name(name: str) -> str:
    if not name or name in (".", "..") or "/" in name or "\0" in name:
        raise LedgerlineError(f"{name!r} cannot name a file in an IPFS directory.")
    return name


def _multiaddr(url: str) -> str:
    parsed = urlparse(url)
    host, port = parsed.hostname or "127.0.0.1", parsed.port or 5001
    proto = "ip4" if host.replace(".", "").isdigit() else "dns"
    return f"/{proto}/{host}/tcp/{port}/{parsed.scheme or 'http'}"


class KuboIpfs:
    """A Kubo RPC API (Kubo, or js-ipfs which speaks it), through ipfshttpclient 0.8."""

    ADD_OPTIONS = {"cid_version": 1, "raw_leaves": True, "chunker": "size-262144", "pin": True}

    def __init__(self, url: str) -> None:
        import warnings

        import ipfshttpclient

        self.url = url.rstrip("/")
        try:
            with warnings.catch_warnings():  # it warns about daemons newer than it knows; they work
                warnings.simplefilter("ignore")
                self.client = ipfshttpclient.connect(_multiaddr(url), timeout=60)
        except ipfshttpclient.exceptions.Error as exc:
            raise IpfsUnavailable(f"The IPFS node at {url} does not answer: {exc}") from None

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        import ipfshttpclient

        try:
            return fn(*args, **kwargs)
        except (ipfshttpclient.exceptions.ConnectionError, ipfshttpclient.exceptions.TimeoutError) as exc:
            raise IpfsUnavailable(f"The IPFS node at {self.url} does not answer ({what}): {exc}") from None
        except ipfshttpclient.exceptions.ErrorResponse as exc:
            raise FileNotFoundError(f"the IPFS node says: {exc}") from None

    def add(self, source: BinaryIO, *, name: str) -> Added:
        result = self._call("add", self.client.add, source, **self.ADD_OPTIONS)
        return Added(CID.parse(result["Hash"]), int(result.get("Size", 0)), int(result.get("Size", 0)))

    def add_directory(self, files: dict[str, bytes], *, name: str) -> Added:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp) / "dir"
            folder.mkdir()
            for filename, content in files.items():
                (folder / _entry_name(filename)).write_bytes(content)
            results = self._call("add", self.client.add, str(folder), recursive=True, **self.ADD_OPTIONS)
        root = next(r for r in results if r["Name"] == "dir")
        return Added(CID.parse(root["Hash"]), sum(len(c) for c in files.values()), int(root.get("Size", 0)))

    def add_path(self, path: Path) -> Added:
        results = self._call("add", self.client.add, str(path), recursive=True, **self.ADD_OPTIONS)
        root = results[-1] if isinstance(results, list) else results
        return Added(CID.parse(root["Hash"]), int(root.get("Size", 0)), int(root.get("Size", 0)))

    def size(self, cid: CID) -> int:
        return int(self._call("stat", self.client.files.stat, f"/ipfs/{cid}")["Size"])

    def read(self, cid: CID, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        end = self.size(cid) if end is None else end
        while start < end:
            length = min(READ_CHUNK, end - start)
            data = self._call("cat", self.client.cat, str(cid), offset=start, length=length)
            if not data:
                return
            yield data
            start += len(data)

    def resolve(self, cid: CID, path: str) -> CID:
        stat = self._call("stat", self.client.files.stat, f"/ipfs/{cid}/{path.strip('/')}")
        return CID.parse(stat["Hash"])

    def listing(self, cid: CID) -> list[unixfs.Link] | None:
        stat = self._call("stat", self.client.files.stat, f"/ipfs/{cid}")
        if stat.get("Type") != "directory":
            return None
        objects = self._call("ls", self.client.ls, str(cid))["Objects"][0]["Links"]
        return [unixfs.Link(CID.parse(o["Hash"]), o["Name"], int(o["Size"])) for o in objects]

    def pins(self) -> list[str]:
        keys = self._call("pin ls", self.client.pin.ls, type="recursive")["Keys"]
        return sorted(str(CID.parse(k)) if k.startswith("b") else k for k in keys)

    def unpin(self, cid: CID) -> None:
        self._call("pin rm", self.client.pin.rm, str(cid))

    def block(self, cid: CID) -> bytes:
        data: bytes = self._call("block get", self.client.block.get, str(cid))
        return data

    def export_car(self, cid: CID, out: BinaryIO) -> None:
        try:
            response = requests.post(f"{self.url}/api/v0/dag/export", params={"arg": str(cid)}, stream=True, timeout=60)
            response.raise_for_status()
            for chunk in response.iter_content(READ_CHUNK):
                out.write(chunk)
        except requests.RequestException as exc:
            raise IpfsUnavailable(f"The IPFS node at {self.url} does not answer (dag export): {exc}") from None


def ipfs_connect() -> Ipfs:
    if settings.IPFS_API_URL:
        return KuboIpfs(settings.IPFS_API_URL)
    return EmbeddedIpfs(Path(settings.IPFS_BLOCKS_DIR))
