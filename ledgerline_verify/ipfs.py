"""IPFS read block by block, every block checked against its CID: whatever node or gateway
serves the bytes, what comes back is what was pinned, or an error that says which block is not.

A block source is any function from a CID to the bytes a node returns for it: the Kubo RPC API
(`block/get`, which js-ipfs speaks too), a trustless HTTP gateway (`?format=raw`), or, inside
the platform, its own blockstore.
"""

import hashlib
from collections.abc import Callable

import requests

from ledgerline_verify.unixfs import CID, Link, directory_list, file_read, path_resolve

BlockSource = Callable[[CID], bytes]
TIMEOUT = 30  # seconds for one block; a node without it would otherwise search the network


class IpfsUnreachable(Exception):
    """The node or gateway does not answer: nothing can be said of what it holds."""


class BlockMissing(LookupError):
    """The node does not have a block (unpinned, collected, never added)."""


class CorruptBlock(ValueError):
    """The node returned bytes whose hash is not the CID asked for."""


def rpc_blocks(url: str) -> BlockSource:
    """Blocks from a Kubo RPC API at ``url`` (http://127.0.0.1:5001)."""
    base = url.rstrip("/")

    def get(cid: CID) -> bytes:
        try:
            response = requests.post(
                f"{base}/api/v0/block/get", params={"arg": str(cid), "timeout": f"{TIMEOUT}s"}, timeout=TIMEOUT + 5
            )
        except requests.RequestException as exc:
            raise IpfsUnreachable(f"the IPFS node at {base} does not answer: {exc}") from None
        if response.status_code == 200:
            return response.content
        if response.status_code >= 500 and "not found" not in response.text.lower() and "timeout" not in response.text:
            raise IpfsUnreachable(f"the IPFS node at {base} answered {response.status_code}: {response.text[:200]}")
        raise BlockMissing(f"the IPFS node at {base} does not have block {cid}")

    return get


def gateway_blocks(url: str) -> BlockSource:
    """Blocks from an HTTP gateway at ``url`` (http://host or http://host/ipfs) that serves raw
    blocks (the trustless gateway spec)."""
    base = url.rstrip("/").removesuffix("/ipfs")

    def get(cid: CID) -> bytes:
        try:
            response = requests.get(
                f"{base}/ipfs/{cid}",
                params={"format": "raw"},
                headers={"Accept": "application/vnd.ipld.raw"},
                timeout=TIMEOUT,
            )
        except requests.RequestException as exc:
            raise IpfsUnreachable(f"the IPFS gateway at {base} does not answer: {exc}") from None
        if response.status_code == 200:
            return response.content
        if response.status_code in (404, 410):
            raise BlockMissing(f"the IPFS gateway at {base} does not have block {cid}")
        raise IpfsUnreachable(f"the IPFS gateway at {base} answered {response.status_code}: {response.text[:200]}")

    return get


class Ipfs:
    """Files and folders read from verified blocks; a block is fetched and hashed once."""

    def __init__(self, source: BlockSource) -> None:
        self.source = source
        self._blocks: dict[bytes, bytes] = {}

    def block(self, cid: CID) -> bytes:
        cached = self._blocks.get(cid.digest)
        if cached is not None:
            return cached
        data = self.source(cid)
        if hashlib.sha256(data).digest() != cid.digest:
            raise CorruptBlock(f"block {cid} does not hash to its CID: the node returned other bytes")
        self._blocks[cid.digest] = data
        return data

    def cat(self, root: CID | str, path: str = "") -> bytes:
        cid = CID.parse(root) if isinstance(root, str) else root
        target = path_resolve(cid, path, self.block) if path else cid
        return b"".join(file_read(target, self.block))

    def uri(self, uri: str) -> bytes:
        """The bytes at ipfs://<cid>/<path>."""
        if not uri.startswith("ipfs://"):
            raise ValueError(f"{uri!r} is not an ipfs:// address")
        root, _, path = uri.removeprefix("ipfs://").partition("/")
        return self.cat(root, path)

    def folder(self, root: CID | str) -> dict[str, bytes]:
        """Every file below a directory, by its path inside it."""
        cid = CID.parse(root) if isinstance(root, str) else root
        links = directory_list(cid, self.block)
        if links is None:
            raise NotADirectoryError(f"{cid} is a file, not a folder")
        return self._files(links, prefix="")

    def _files(self, links: list[Link], *, prefix: str) -> dict[str, bytes]:
        files: dict[str, bytes] = {}
        for link in links:
            below = directory_list(link.cid, self.block)
            if below is not None:
                files.update(self._files(below, prefix=f"{prefix}{link.name}/"))
            else:
                files[prefix + link.name] = b"".join(file_read(link.cid, self.block))
        return files
