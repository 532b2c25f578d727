"""The one Merkle tree: RFC 6962 (Certificate Transparency), section 2.1.

Leaf hash = SHA-256(0x00 || leaf), node hash = SHA-256(0x01 || left || right); a tree of n
leaves splits at the largest power of two below n, so the shape depends only on n. The
empty tree's root is SHA-256 of nothing. Inclusion proofs are RFC 6962 audit paths and
are checked with RFC 9162's verification algorithm (section 2.1.3.2), which lives with the
hashes in ledgerline_verify.merkle: the auditor's tool checks proofs with the same code.
"""

import hashlib
from collections.abc import Sequence

from ledgerline_verify.merkle import InclusionProof, leaf_hash, node_hash, verify_inclusion

__all__ = ["InclusionProof", "inclusion_proof", "leaf_hash", "merkle_root", "node_hash", "verify_inclusion"]


def _split(n: int) -> int:
    """The largest power of two strictly less than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def _root_of_hashes(hashes: Sequence[bytes]) -> bytes:
    # Bottom-up, one level at a time: pairing left to right and carrying an odd last node
    # up unchanged yields exactly the RFC's recursive split.
    level = list(hashes)
    while len(level) > 1:
        paired = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def merkle_root(leaves: Sequence[bytes]) -> bytes:
    if not leaves:
        return hashlib.sha256(b"").digest()
    return _root_of_hashes([leaf_hash(leaf) for leaf in leaves])


def inclusion_proof(leaves: Sequence[bytes], index: int) -> InclusionProof:
    if not 0 <= index < len(leaves):
        raise IndexError(f"leaf {index} is not in a tree of {len(leaves)}")
    hashes = [leaf_hash(leaf) for leaf in leaves]
    path: list[bytes] = []
    lo, hi, m = 0, len(hashes), index
    # Walk down from the root, keeping the sibling subtree's root at each split.
    while hi - lo > 1:
        k = _split(hi - lo)
        if m < k:
            path.append(_root_of_hashes(hashes[lo + k : hi]))
            hi = lo + k
        else:
            path.append(_root_of_hashes(hashes[lo : lo + k]))
            lo, m = lo + k, m - k
    return InclusionProof(leaf_index=index, tree_size=len(leaves), audit_path=path[::-1])
