"""The one IPFS client: the embedded blockstore, or a Kubo RPC API through ipfshttpclient.

Both add files as `ipfs add --cid-version=1` does (256 KiB chunks, raw leaves, balanced
DAG), so a CID computed here is the CID any node computes for the same bytes.
"""

import logging
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, Protocol
from urllib.parse import urlparse

import requests
from django.conf import settings
from django.db import transaction

from ledgerline.errors import LedgerlineError
from ledgerline.storage import car, unixfs
from ledgerline.storage.blockstore import Blockstore
from ledgerline.storage.models import Pin
from ledgerline.storage.unixfs import CID, Added

logger = logging.getLogger(__name__)
READ_CHUNK = 1024 * 1024


class IpfsUnavailable(LedgerlineError):
    status = 503
    code = "ipfs_unavailable"


class Ipfs(Protocol):
    def add(self, source: BinaryIO, *, name: str) -> Added: ...
    def add_directory(self, files: dict[str, bytes], *, name: str) -> Added: ...
    def size(self, cid: CID) -> int: ...
    def read(self, cid: CID, start: int = 0, end: int | None = None) -> Iterator[bytes]: ...
    def resolve(self, cid: CID, path: str) -> CID: ...
    def listing(self, cid: CID) -> list[unixfs.Link] | None: ...
    def pins(self) -> list[str]: ...
    def unpin(self, cid: CID) -> None: ...
    def export_car(self, cid: CID, out: BinaryIO) -> None: ...


class EmbeddedIpfs:
    def __init__(self, root: Path) -> None:
        self.store = Blockstore(root)

    def _pin(self, added: Added, name: str) -> Added:
        Pin.objects.get_or_create(cid=str(added.cid), defaults={"name": name, "size": added.size})
        return added

    def add(self, source: BinaryIO, *, name: str) -> Added:
        return self._pin(unixfs.file_add(source, self.store.put), name)

    def add_directory(self, files: dict[str, bytes], *, name: str) -> Added:
        entries = {}
        for filename, content in files.items():
            with tempfile.SpooledTemporaryFile(max_size=READ_CHUNK) as f:
                f.write(content)
                f.seek(0)
                entries[filename] = unixfs.file_add(f, self.store.put)  # type: ignore[arg-type]
        return self._pin(unixfs.directory_add(entries, self.store.put), name)

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

    @transaction.atomic
    def gc(self) -> int:
        """Delete every block no pin reaches; returns how many were deleted."""
        keep: set[bytes] = set()
        for pinned in Pin.objects.select_for_update().values_list("cid", flat=True):
            keep.update(cid.digest for cid in unixfs.walk(CID.parse(pinned), self.store.get))
        removed = 0
        for digest in list(self.store.digests()):
            if digest not in keep:
                self.store.delete_digest(digest)
                removed += 1
        return removed


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

    def add(self, source: BinaryIO, *, name: str) -> Added:
        result = self._call("add", self.client.add, source, **self.ADD_OPTIONS)
        return Added(CID.parse(result["Hash"]), int(result.get("Size", 0)), int(result.get("Size", 0)))

    def add_directory(self, files: dict[str, bytes], *, name: str) -> Added:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp) / "dir"
            folder.mkdir()
            for filename, content in files.items():
                (folder / filename).write_bytes(content)
            results = self._call("add", self.client.add, str(folder), recursive=True, **self.ADD_OPTIONS)
        root = next(r for r in results if r["Name"] == "dir")
        return Added(CID.parse(root["Hash"]), sum(len(c) for c in files.values()), int(root.get("Size", 0)))

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

    def export_car(self, cid: CID, out: BinaryIO) -> None:
        try:
            response = requests.post(f"{self.url}/api/v0/dag/export", params={"arg": str(cid)}, stream=True,
                                     timeout=60)
            response.raise_for_status()
            for chunk in response.iter_content(READ_CHUNK):
                out.write(chunk)
        except requests.RequestException as exc:
            raise IpfsUnavailable(f"The IPFS node at {self.url} does not answer (dag export): {exc}") from None


def ipfs_connect() -> Ipfs:
    if settings.IPFS_API_URL:
        return KuboIpfs(settings.IPFS_API_URL)
    return EmbeddedIpfs(Path(settings.IPFS_BLOCKS_DIR))
