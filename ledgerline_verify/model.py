"""The model link: the weights a work was made with are anchored on chain, their folder on IPFS
verifies against its model-signing signature by an anchored key, and so does every pretrained
model it continues."""

import tempfile
from pathlib import Path
from typing import Any

import rfc8785
from cryptography.hazmat.primitives import serialization

from ledgerline_verify import bounded_json
from ledgerline_verify.chain import Anchors, Chain
from ledgerline_verify.content import sha256_hex
from ledgerline_verify.ipfs import Ipfs
from ledgerline_verify.verdict import FAIL, PASS, Broken, Check, Link, iso
from ledgerline_verify.weights import SIGNATURE, folder_verify

# A model folder's check: (PASS or FAIL, the reason, its config.json; {} where it failed).
FolderCheck = tuple[str, str, dict[str, Any]]


class ModelFolders:
    """Signed model folders fetched from IPFS and verified, each once per verifier: one model
    makes many works."""

    def __init__(self, chain: Chain, ipfs: Ipfs) -> None:
        self.chain = chain
        self.ipfs = ipfs
        self._checked: dict[str, FolderCheck] = {}

    def verified(self, model: dict[str, Any], weights: str) -> FolderCheck:
        """The folder ``model`` names, as first checked for these weights."""
        if weights not in self._checked:
            self._checked[weights] = self._verify(model, weights)
        return self._checked[weights]

    def _verify(self, model: dict[str, Any], weights: str) -> FolderCheck:
        """Fetch the signed checkpoint folder and verify it."""
        files = self.ipfs.folder(str(model.get("cid", "")))
        if sha256_hex(files.get("model.safetensors", b"")) != weights:
            return FAIL, f"The weights in ipfs://{model.get('cid')} are not {weights}.", {}
        bundle = files.get(SIGNATURE)
        if bundle is None:
            return FAIL, f"ipfs://{model.get('cid')} holds no {SIGNATURE}.", {}
        signature = model.get("signature") or {}
        try:
            pinned_signature = bounded_json.loads(bundle)
        except ValueError as exc:
            return FAIL, f"The {SIGNATURE} pinned with the model is not JSON: {exc}", {}
        if sha256_hex(rfc8785.dumps(pinned_signature)) != signature.get("sha256"):
            return FAIL, f"The {SIGNATURE} pinned with the model is not the signature the manifest names.", {}
        key = self.chain.signing_key(str(signature.get("key_id", "")))
        if key is None:
            return FAIL, f"The model is signed with the key {signature.get('key_id')}, which is not anchored.", {}
        pem = (
            serialization.load_der_public_key(key.public_key_der)
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp) / "model"
            for name, data in files.items():
                (root / name).parent.mkdir(parents=True, exist_ok=True)
                (root / name).write_bytes(data)
            problem = folder_verify(root, public_key_pem=pem)
        if problem:
            return FAIL, f"The model folder does not verify against its model-signing signature: {problem}", {}
        try:
            config = bounded_json.loads(files.get("config.json", b"{}"))
        except ValueError:
            config = {}
        return PASS, f"model-signing signature by {signature.get('key_id')} verifies; anchored on chain", config


def model_check(
    manifest: dict[str, Any], *, anchors: Anchors, folders: ModelFolders
) -> tuple[Check, dict[str, Any] | None]:
    """The manifest's model and the pretrained models it continues; with the signed checkpoint's
    config.json (None where the folder was not reached, {} where it did not verify)."""
    model = manifest.get("model") or {}
    weights = str(model.get("weights_sha256", ""))
    config: dict[str, Any] | None = None
    link = Link("model")
    with link as details:
        details.update({"weights_sha256": weights, "cid": model.get("cid")})
        anchored = anchors.model_anchored_at(weights)
        if not anchored:
            raise Broken(f"The model weights {weights} are not anchored on the Ledgerline contract.")
        details["anchored_at"] = iso(anchored)
        status, reason, config = folders.verified(model, weights)
        if status == FAIL:
            raise Broken(reason)
        bases = model.get("bases") or []
        _bases_check(config, bases, anchors=anchors, folders=folders)
        if bases:
            details["bases"] = [str(base.get("weights_sha256")) for base in bases]
            reason += f"; it continues {len(bases)} pretrained model(s), each anchored and signed"
        details["reason"] = reason
    return link.check, config


def _bases_check(
    config: dict[str, Any], bases: list[dict[str, Any]], *, anchors: Anchors, folders: ModelFolders
) -> None:
    """The pretrained models a model continues, nearest first: each must be the one the signed
    checkpoint before it says it continued, anchored, and its own folder must verify. A
    manifest cannot leave one out (and with it the data it was trained on)."""
    for base in [*bases, None]:
        continued = (config.get("pretrained") or {}).get("weights_sha256")
        named = str(base.get("weights_sha256", "")) if base is not None else None
        if continued != named:
            if named is None:
                raise Broken(
                    f"The signed checkpoint continues the model {continued}, which the manifest does "
                    "not name: the data it was trained on is missing from the lineage."
                )
            raise Broken(
                f"The manifest names {named} as the pretrained model, but the signed checkpoint "
                f"continues {continued or 'no model'}."
            )
        if base is None or named is None:
            return
        if not anchors.model_anchored_at(named):
            raise Broken(f"The pretrained model {named} is not anchored on the Ledgerline contract.")
        status, reason, config = folders.verified(base, named)
        if status == FAIL:
            raise Broken(f"The pretrained model {named}: {reason}")
