"""RFC 6962 Merkle trees, against Certificate Transparency's reference test vectors."""

import hashlib

import pytest

from ledgerline.provenance.merkle import InclusionProof, inclusion_proof, merkle_root, verify_inclusion

# The leaves and roots of the reference tests in certificate-transparency (merkle_tree_test).
LEAVES = [
    bytes.fromhex(h)
    for h in [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
]
ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def test_the_empty_tree_is_the_hash_of_nothing() -> None:
    assert merkle_root([]) == hashlib.sha256(b"").digest()


@pytest.mark.parametrize("n", range(1, 9))
def test_it_matches_the_reference_roots(n: int) -> None:
    assert merkle_root(LEAVES[:n]).hex() == ROOTS[n - 1]


def test_it_matches_the_reference_audit_path() -> None:
    # From the same tests: the path of leaf 0 in the tree of 8 leaves.
    proof = inclusion_proof(LEAVES, 0)
    assert [p.hex() for p in proof.audit_path] == [
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ]


@pytest.mark.parametrize("n", [1, 2, 3, 5, 7, 8, 13, 64, 100])
def test_every_leaf_has_a_proof_that_verifies(n: int) -> None:
    leaves = [f"file-{i}".encode() for i in range(n)]
    root = merkle_root(leaves)
    for i, leaf in enumerate(leaves):
        assert verify_inclusion(leaf, inclusion_proof(leaves, i), root)


def test_a_changed_leaf_fails() -> None:
    leaves = [f"file-{i}".encode() for i in range(11)]
    root = merkle_root(leaves)
    proof = inclusion_proof(leaves, 6)
    assert not verify_inclusion(b"file-6 changed", proof, root)


def test_a_proof_for_another_position_or_size_fails() -> None:
    leaves = [f"file-{i}".encode() for i in range(11)]
    root = merkle_root(leaves)
    proof = inclusion_proof(leaves, 6)
    assert not verify_inclusion(leaves[6], InclusionProof(5, 11, proof.audit_path), root)
    # A size that changes the path's shape (leaf 6 would be the last of 7).
    assert not verify_inclusion(leaves[6], InclusionProof(6, 7, proof.audit_path), root)
    assert not verify_inclusion(leaves[6], InclusionProof(6, 11, proof.audit_path[:-1]), root)


def test_a_changed_file_changes_the_root() -> None:
    leaves = [f"file-{i}".encode() for i in range(5)]
    assert merkle_root(leaves) != merkle_root([*leaves[:4], b"file-4 changed"])
