"""CAR v1 export (https://ipld.io/specs/transport/car/carv1/): a DAG as one file that
`ipfs dag import` accepts. Header: varint length + DAG-CBOR {roots: [CID], version: 1};
then each block as varint(len(cid) + len(data)) + cid + data, root first."""

from typing import BinaryIO

from ledgerline_verify.unixfs import CID, Get, varint, walk


def _cbor_bytes(data: bytes) -> bytes:
    # Major type 2 (bytes) with the length in the smallest form.
    n = len(data)
    if n < 24:
        return bytes([0x40 | n]) + data
    if n < 256:
        return bytes([0x58, n]) + data
    return bytes([0x59]) + n.to_bytes(2, "big") + data


def car_header(root: CID) -> bytes:
    # {"roots": [CID], "version": 1}; DAG-CBOR orders keys by length, then bytes.
    cid_link = b"\xd8\x2a" + _cbor_bytes(b"\x00" + bytes(root))  # tag 42, identity multibase prefix
    return b"\xa2" + b"\x65roots" + b"\x81" + cid_link + b"\x67version" + b"\x01"


def car_export(root: CID, get: Get, out: BinaryIO) -> int:
    """Write the DAG under ``root`` to ``out``; returns the number of blocks."""
    header = car_header(root)
    out.write(varint(len(header)) + header)
    count, seen = 0, set()
    for cid in walk(root, get):
        if cid.digest in seen:
            continue
        seen.add(cid.digest)
        block = get(cid)
        out.write(varint(len(bytes(cid)) + len(block)) + bytes(cid) + block)
        count += 1
    return count
