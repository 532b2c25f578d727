"""Training data: a file shown to be one of a registered dataset version's files by the version's
Merkle root and an inclusion proof (the platform's proof file: GET
/api/v1/dataset-versions/<id>/proof/?sha256=...). The proof is checked here (RFC 9162); the chain
says whether the root is anchored and whether consent to train on the file was withdrawn. What
the proof file states of the dataset (its name, version, licence, consent) is reported as stated:
only the root, the leaf and the chain are checked.
"""

from typing import Any

from ledgerline_verify import bounded_json
from ledgerline_verify.chain import Chain, ChainUnreachable
from ledgerline_verify.content import sha256_hex
from ledgerline_verify.merkle import InclusionProof, verify_inclusion
from ledgerline_verify.verdict import iso

STATED = ("dataset", "version", "licence", "consent")


def training_data(data: bytes, proof: dict[str, Any], *, chain: Chain | None) -> dict[str, Any]:
    """A match of kind "training_data": whether the proof shows the file in the version's tree
    (`proof_verified`, with the `reason` when it does not), and what the chain says of the root."""
    sha256 = sha256_hex(data)
    found: dict[str, Any] = {"kind": "training_data", "sha256": sha256, "proof_verified": False}
    try:
        leaf_text = str(proof["leaf"])
        leaf = bounded_json.loads(leaf_text)
        root = bytes.fromhex(str(proof["merkle_root"]))
        inclusion = InclusionProof(
            leaf_index=int(proof["leaf_index"]),
            tree_size=int(proof["tree_size"]),
            audit_path=[bytes.fromhex(str(node)) for node in proof["audit_path"]],
        )
        if not isinstance(leaf, dict) or len(root) != 32:
            raise ValueError("its leaf is not an object, or its root not a SHA-256")
    except (KeyError, TypeError, ValueError) as exc:
        found["reason"] = f"The proof file is not a Ledgerline inclusion proof: {exc}"
        return found
    found.update(
        merkle_root=root.hex(),
        leaf_index=inclusion.leaf_index,
        tree_size=inclusion.tree_size,
        path=leaf.get("path"),
        tags=leaf.get("tags") or [],
        stated={key: proof[key] for key in STATED if key in proof},
    )
    if leaf.get("sha256") != sha256 or leaf.get("size") != len(data):
        found["reason"] = (
            f"The proof is of another file: its leaf names {leaf.get('path')!r} with SHA-256 {leaf.get('sha256')} "
            f"and {leaf.get('size')} bytes; this file's are {sha256} and {len(data)}."
        )
        return found
    if not verify_inclusion(leaf_text.encode(), inclusion, root):
        found["reason"] = f"The inclusion proof does not lead from the file's leaf to the root {root.hex()}."
        return found
    found["proof_verified"] = True
    found["reason"] = (
        f"{leaf.get('path')!r} is leaf {inclusion.leaf_index} under Merkle root {root.hex()}: the inclusion "
        "proof checks (RFC 9162)"
    )
    if chain is not None:
        try:
            anchored = chain.dataset_anchored_at(root.hex())
            withdrawn = [at for file, at in chain.consent_withdrawals(root.hex()) if file == sha256]
        except ChainUnreachable as exc:
            found["chain"] = str(exc)
            return found
        found["anchored_at"] = iso(anchored) if anchored else None
        found["consent_withdrawn_at"] = iso(withdrawn[0]) if withdrawn else None
    return found


def training_summary(found: dict[str, Any]) -> str:
    """One sentence for a verdict's summary. "Registered" only where the chain anchors the root:
    anyone can make a proof that checks against a root of their own. What the proof file
    states of the dataset is said to be its word."""
    if not found["proof_verified"]:
        return f"Not shown to be registered training data: {found['reason']}"
    stated = found.get("stated") or {}
    named = (
        f" (the proof file names it {stated['dataset']} v{stated['version']})"
        if "dataset" in stated and "version" in stated
        else ""
    )
    anchored = found.get("anchored_at")
    if not anchored:
        why = "the root is not anchored on chain" if "anchored_at" in found else "the chain was not asked"
        return f"{found['reason']}, but {why}: nothing but the proof file says it is registered training data."
    withdrawn = found.get("consent_withdrawn_at")
    consent = f"; consent to train on it was withdrawn on chain at {withdrawn}" if withdrawn else ""
    return f"Registered training data{named}: {found['reason']}; the root was anchored on chain at {anchored}{consent}."
