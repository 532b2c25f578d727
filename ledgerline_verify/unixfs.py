"""UnixFS DAGs exactly as `ipfs add` builds them, so Ledgerline's CIDs are any node's CIDs.

Files are cut into 256 KiB chunks and laid out as Kubo's balanced DAG (boxo
ipld/unixfs/importer/balanced): leaves left to right, at most 174 links per node, the tree
growing a level whenever the current root is full. With CIDv1 the leaves are raw blocks
(`ipfs add --cid-version=1`, which implies --raw-leaves); with CIDv0 they are dag-pb UnixFS
nodes (plain `ipfs add`). Directories are dag-pb nodes whose links are sorted by name.
Streaming: a file is read once, a chunk at a time, and only one path of the tree (at most
174 links per level) is held in memory.
"""

import hashlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

CHUNK_SIZE = 256 * 1024
MAX_LINKS = 174
# Kubo shards a directory (HAMT) once its links' names and CIDs reach 256 KiB; those are
# not built here, so such directories are refused rather than given a CID no node agrees with.
HAMT_THRESHOLD = 256 * 1024
# A balanced DAG of 174-way nodes over 256 KiB chunks is 8 levels deep at 2**64 bytes.
MAX_DEPTH = 12
RAW, DAG_PB = 0x55, 0x70
SHA2_256 = 0x12
_FILE, _DIRECTORY = 2, 1

_B32 = "abcdefghijklmnopqrstuvwxyz234567"
_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def read_varint(data: bytes, offset: int = 0) -> tuple[int, int]:
    """The varint at ``offset`` and the offset just after it."""
    value, shift = 0, 0
    while True:
        if offset >= len(data):
            raise ValueError("truncated varint")
        byte = data[offset]
        value |= (byte & 0x7F) << shift
        offset += 1
        if not byte & 0x80:
            return value, offset
        shift += 7


@dataclass(frozen=True, order=True)
class CID:
    version: int
    codec: int
    digest: bytes  # SHA-256 of the block

    @property
    def multihash(self) -> bytes:
        return bytes([SHA2_256, 32]) + self.digest

    def __bytes__(self) -> bytes:
        if self.version == 0:
            return self.multihash
        return varint(1) + varint(self.codec) + self.multihash

    def __str__(self) -> str:
        if self.version == 0:
            return _base58(self.multihash)
        return "b" + _base32(bytes(self))

    @classmethod
    def of(cls, block: bytes, *, codec: int, version: int) -> "CID":
        return cls(version, codec, hashlib.sha256(block).digest())

    @classmethod
    def parse(cls, text: str) -> "CID":
        """A CID from its string (CIDv0 base58, or CIDv1 base32 with the 'b' prefix)."""
        try:
            if text.startswith("Qm") and len(text) == 46:
                raw = _unbase58(text)
                if raw[:2] != bytes([SHA2_256, 32]):
                    raise ValueError("not a sha2-256 multihash")
                return cls(0, DAG_PB, raw[2:])
            if text.startswith("z"):  # base58btc, as some nodes (js-ipfs) print CIDv1
                return cls.from_bytes(_unbase58(text[1:]))
            if not text.startswith("b"):
                raise ValueError("only base32 (b…) and base58btc (z…) CIDv1 strings are read")
            return cls.from_bytes(_unbase32(text[1:]))
        except (ValueError, IndexError) as exc:
            raise ValueError(f"{text!r} is not a CID Ledgerline can read: {exc}") from None

    @classmethod
    def from_bytes(cls, raw: bytes) -> "CID":
        if raw[:2] == bytes([SHA2_256, 32]) and len(raw) == 34:
            return cls(0, DAG_PB, raw[2:])
        version, offset = read_varint(raw)
        codec, offset = read_varint(raw, offset)
        if version != 1 or raw[offset : offset + 2] != bytes([SHA2_256, 32]) or len(raw) != offset + 34:
            raise ValueError("only CIDv1 with a sha2-256 multihash is supported")
        return cls(1, codec, raw[offset + 2 : offset + 34])


def _base32(data: bytes) -> str:
    bits, value, out = 0, 0, []
    for byte in data:
        value = (value << 8) | byte
        bits += 8
        while bits >= 5:
            out.append(_B32[(value >> (bits - 5)) & 31])
            bits -= 5
    if bits:
        out.append(_B32[(value << (5 - bits)) & 31])
    return "".join(out)


def _unbase32(text: str) -> bytes:
    bits, value, out = 0, 0, bytearray()
    for char in text:
        value = (value << 5) | _B32.index(char)
        bits += 5
        if bits >= 8:
            out.append((value >> (bits - 8)) & 0xFF)
            bits -= 8
    return bytes(out)


def _base58(data: bytes) -> str:
    n = int.from_bytes(data, "big")
    out = ""
    while n:
        n, rem = divmod(n, 58)
        out = _B58[rem] + out
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + out


def _unbase58(text: str) -> bytes:
    n = 0
    for char in text:
        n = n * 58 + _B58.index(char)
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return b"\0" * (len(text) - len(text.lstrip("1"))) + body


# --- protobuf, the two small messages UnixFS needs (field order as Kubo writes them) ---


def _field(number: int, wire: int) -> bytes:
    return varint((number << 3) | wire)


def _bytes_field(number: int, value: bytes) -> bytes:
    return _field(number, 2) + varint(len(value)) + value


def unixfs_data(
    kind: int, *, data: bytes | None = None, filesize: int | None = None, blocksizes: list[int] | None = None
) -> bytes:
    out = _field(1, 0) + varint(kind)
    if data:
        out += _bytes_field(2, data)
    if filesize is not None:
        out += _field(3, 0) + varint(filesize)
    for size in blocksizes or []:
        out += _field(4, 0) + varint(size)
    return out


@dataclass(frozen=True)
class Link:
    cid: CID
    name: str
    tsize: int  # the linked DAG's cumulative size in bytes, blocks included


def dag_pb(links: list[Link], data: bytes) -> bytes:
    """A dag-pb node: links first, then data, as the dag-pb spec orders them."""
    out = b""
    for link in links:
        body = (
            _bytes_field(1, bytes(link.cid)) + _bytes_field(2, link.name.encode()) + _field(3, 0) + varint(link.tsize)
        )
        out += _bytes_field(2, body)
    return out + _bytes_field(1, data)


def dag_pb_decode(block: bytes) -> tuple[list[Link], bytes]:
    """The links and data of a dag-pb node."""
    links, data, offset = [], b"", 0
    while offset < len(block):
        key, offset = read_varint(block, offset)
        length, offset = read_varint(block, offset)
        body, offset = block[offset : offset + length], offset + length
        if key == (2 << 3) | 2:
            fields = _fields(body)
            links.append(
                Link(
                    CID.from_bytes(fields.get(1, b"")),
                    fields.get(2, b"").decode(),
                    int.from_bytes(fields.get(3, b""), "big"),
                )
            )
        elif key == (1 << 3) | 2:
            data = body
    return links, data


def _fields(body: bytes) -> dict[int, bytes]:
    """Fields of a PBLink: bytes fields as bytes, the varint Tsize as big-endian bytes."""
    out, offset = {}, 0
    while offset < len(body):
        key, offset = read_varint(body, offset)
        if key & 7 == 0:
            value, offset = read_varint(body, offset)
            out[key >> 3] = value.to_bytes(8, "big")
        else:
            length, offset = read_varint(body, offset)
            out[key >> 3], offset = body[offset : offset + length], offset + length
    return out


# --- building ---

Put = Callable[[CID, bytes], None]


@dataclass
class _Node:
    links: list[Link] = field(default_factory=list)
    blocksizes: list[int] = field(default_factory=list)

    @property
    def filesize(self) -> int:
        return sum(self.blocksizes)


@dataclass(frozen=True)
class Added:
    cid: CID
    size: int  # file bytes
    tsize: int  # DAG bytes, as a parent's link records it


class FileImporter:
    """Kubo's balanced layout; every block goes to ``put`` as it is made."""

    def __init__(self, source: BinaryIO, put: Put, *, version: int = 1, chunk_size: int = CHUNK_SIZE) -> None:
        self.source, self.put, self.version, self.chunk_size = source, put, version, chunk_size
        self._next = self._read()

    def _read(self) -> bytes | None:
        chunk = self.source.read(self.chunk_size)
        return chunk or None

    def _done(self) -> bool:
        return self._next is None

    def _leaf(self, chunk: bytes) -> Added:
        if self.version == 1:
            cid = CID.of(chunk, codec=RAW, version=1)
            self.put(cid, chunk)
            return Added(cid, len(chunk), len(chunk))
        block = dag_pb([], unixfs_data(_FILE, data=chunk, filesize=len(chunk)))
        cid = CID.of(block, codec=DAG_PB, version=0)
        self.put(cid, block)
        return Added(cid, len(chunk), len(block))

    def _next_leaf(self) -> Added:
        assert self._next is not None
        chunk, self._next = self._next, self._read()
        return self._leaf(chunk)

    def _commit(self, node: _Node) -> Added:
        block = dag_pb(node.links, unixfs_data(_FILE, filesize=node.filesize, blocksizes=node.blocksizes))
        cid = CID.of(block, codec=DAG_PB, version=self.version)
        self.put(cid, block)
        return Added(cid, node.filesize, len(block) + sum(link.tsize for link in node.links))

    def _add_child(self, node: _Node, child: Added) -> None:
        node.links.append(Link(child.cid, "", child.tsize))
        node.blocksizes.append(child.size)

    def _fill(self, node: _Node, depth: int) -> Added:
        while len(node.links) < MAX_LINKS and not self._done():
            child = self._next_leaf() if depth == 1 else self._fill(_Node(), depth - 1)
            self._add_child(node, child)
        return self._commit(node)

    def run(self) -> Added:
        if self._done():
            return self._leaf(b"")
        root = self._next_leaf()
        depth = 1
        while not self._done():
            node = _Node()
            self._add_child(node, root)
            root = self._fill(node, depth)
            depth += 1
        return root


def file_add(source: BinaryIO, put: Put, *, version: int = 1) -> Added:
    return FileImporter(source, put, version=version).run()


class DirectoryTooLarge(ValueError):
    pass


def directory_add(entries: dict[str, Added], put: Put, *, version: int = 1) -> Added:
    """A UnixFS directory of already added entries, links sorted by name as Kubo sorts them."""
    links = [Link(entries[name].cid, name, entries[name].tsize) for name in sorted(entries, key=str.encode)]
    if sum(len(link.name.encode()) + len(bytes(link.cid)) for link in links) >= HAMT_THRESHOLD:
        raise DirectoryTooLarge(
            f"a directory of {len(links)} entries would be sharded by Kubo (HAMT), which "
            "Ledgerline does not build yet: split it into subdirectories"
        )
    block = dag_pb(links, unixfs_data(_DIRECTORY))
    cid = CID.of(block, codec=DAG_PB, version=version)
    put(cid, block)
    return Added(cid, sum(e.size for e in entries.values()), len(block) + sum(link.tsize for link in links))


def walk(cid: CID, get: Callable[[CID], bytes]) -> Iterator[CID]:
    """Every block of a DAG once, root first (a shared child is visited once)."""
    stack, seen = [cid], set()
    while stack:
        current = stack.pop()
        if current.digest in seen:
            continue
        seen.add(current.digest)
        _check_codec(current)
        yield current
        if current.codec == DAG_PB:
            links, _ = dag_pb_decode(get(current))
            stack.extend(reversed([link.cid for link in links]))


def _check_codec(cid: CID) -> None:
    if cid.codec not in (RAW, DAG_PB):
        raise ValueError(f"{cid} is neither a raw block nor a dag-pb node")


@dataclass(frozen=True)
class UnixFSNode:
    kind: int
    data: bytes
    filesize: int | None
    blocksizes: list[int]

    @property
    def is_directory(self) -> bool:
        return self.kind == _DIRECTORY


def unixfs_decode(data: bytes) -> UnixFSNode:
    kind, payload, filesize, blocksizes, offset = _FILE, b"", None, [], 0
    while offset < len(data):
        key, offset = read_varint(data, offset)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, offset = read_varint(data, offset)
            if number == 1:
                kind = value
            elif number == 3:
                filesize = value
            elif number == 4:
                blocksizes.append(value)
        elif wire == 2:
            length, offset = read_varint(data, offset)
            if number == 2:
                payload = data[offset : offset + length]
            offset += length
        else:
            raise ValueError(f"unexpected protobuf wire type {wire}")
    return UnixFSNode(kind, payload, filesize, blocksizes)


# --- reading ---

Get = Callable[[CID], bytes]


class NotAFile(ValueError):
    pass


def file_size(cid: CID, get: Get) -> int:
    _check_codec(cid)
    if cid.codec == RAW:
        return len(get(cid))
    links, data = dag_pb_decode(get(cid))
    return _file_node(cid, links, data).filesize or 0


def _file_node(cid: CID, links: list[Link], data: bytes) -> UnixFSNode:
    """The UnixFS node of a file, checked: its sizes must add up, so a reader can trust them."""
    node = unixfs_decode(data)
    if node.is_directory:
        raise NotAFile(f"{cid} is a directory")
    if node.kind not in (_FILE, 0) or len(node.blocksizes) != len(links):
        raise ValueError(f"{cid} is not a UnixFS file node Ledgerline can read")
    total = len(node.data) + sum(node.blocksizes)
    if node.filesize is not None and node.filesize != total:
        raise ValueError(f"{cid} claims {node.filesize} bytes but its parts add up to {total}")
    return UnixFSNode(node.kind, node.data, total, node.blocksizes)


def file_read(
    cid: CID, get: Get, start: int = 0, end: int | None = None, *, expect: int | None = None, depth: int = 0
) -> Iterator[bytes]:
    """The bytes [start, end) of a UnixFS file, fetching only the blocks that hold them.
    ``expect`` is the size the parent claims for this part; a part of another size is an error."""
    _check_codec(cid)
    if depth > MAX_DEPTH:
        raise ValueError(f"{cid} is nested deeper than any file Ledgerline makes")
    if cid.codec == RAW:
        block = get(cid)
        if expect is not None and len(block) != expect:
            raise ValueError(f"{cid} holds {len(block)} bytes where its parent claims {expect}")
        if end is None or end > start:
            yield block[start:end]
        return
    links, data = dag_pb_decode(get(cid))
    node = _file_node(cid, links, data)
    if expect is not None and node.filesize != expect:
        raise ValueError(f"{cid} holds {node.filesize} bytes where its parent claims {expect}")
    if end is not None and end <= start:
        return
    position = 0
    if node.data:
        piece = node.data[start:end]
        if piece:
            yield piece
        position = len(node.data)
    for link, size in zip(links, node.blocksizes, strict=True):
        if end is not None and position >= end:
            break
        if position + size > start:
            yield from file_read(
                link.cid,
                get,
                max(start - position, 0),
                None if end is None else min(end - position, size),
                expect=size,
                depth=depth + 1,
            )
        position += size


def path_resolve(root: CID, path: str, get: Get) -> CID:
    """The CID at ``path`` (a/b/c) below a UnixFS directory."""
    current = root
    for name in [part for part in path.split("/") if part]:
        if current.codec != DAG_PB:
            raise FileNotFoundError(f"{name!r}: {current} is a file, not a directory")
        links, data = dag_pb_decode(get(current))
        if not unixfs_decode(data).is_directory:
            raise FileNotFoundError(f"{name!r}: {current} is a file, not a directory")
        match = [link for link in links if link.name == name]
        if not match:
            raise FileNotFoundError(f"no {name!r} in {current}")
        current = match[0].cid
    return current


def directory_list(cid: CID, get: Get) -> list[Link] | None:
    """The entries of a directory, or None if ``cid`` is a file."""
    if cid.codec != DAG_PB:
        return None
    links, data = dag_pb_decode(get(cid))
    return links if unixfs_decode(data).is_directory else None


def path_add(path: "os.PathLike[str] | str", put: Put, *, version: int = 1, hidden: bool = False) -> Added:
    """A local file, or a folder with everything under it, as `ipfs add -r` adds them: hidden
    files (names starting with a dot) are left out, as the CLI does unless given --hidden."""
    target = Path(path)
    if target.is_dir():
        children = [child for child in target.iterdir() if hidden or not child.name.startswith(".")]
        return directory_add(
            {child.name: path_add(child, put, version=version, hidden=hidden) for child in children},
            put,
            version=version,
        )
    with open(target, "rb") as f:
        return file_add(f, put, version=version)
