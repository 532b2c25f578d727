"""RFC 6962 Merkle trees (Certificate Transparency, section 2.1), the verifying half: a leaf's and
a node's hash, and RFC 9162's check of an inclusion proof (section 2.1.3.2). The platform builds
its trees and proofs with these (ledgerline.provenance.merkle); an auditor checks them with these.

Leaf hash = SHA-256(0x00 || leaf), node hash = SHA-256(0x01 || left || right).
"""

import hashlib
from dataclasses import dataclass


def leaf_hash(leaf: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


@dataclass(frozen=True)
class InclusionProof:
    leaf_index: int
    tree_size: int
    audit_path: list[bytes]


def verify_inclusion(leaf: bytes, proof: InclusionProof, root: bytes) -> bool:
    """RFC 9162 2.1.3.2: True when ``leaf`` sits at ``proof.leaf_index`` in the tree of ``root``."""
    if not 0 <= proof.leaf_index < proof.tree_size:
        return False
    fn, sn = proof.leaf_index, proof.tree_size - 1
    r = leaf_hash(leaf)
    for p in proof.audit_path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root
