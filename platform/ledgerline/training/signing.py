"""Model weights signed in the OpenSSF model-signing format: a Sigstore bundle holding a
DSSE envelope over an in-toto statement that lists every file of the checkpoint folder with
its SHA-256. `model_signing verify key FOLDER --signature FOLDER/model.sig --public_key
KEY.pem` (PyPI model-signing) checks it with the organisation's published public key."""

import json
import tempfile
from pathlib import Path
from typing import Any

from model_signing import hashing, signing, verifying

from ledgerline.provenance.keys import KeyStore

SIGNATURE = "model.sig"


def _hashing(folder: Path) -> hashing.Config:
    # The signature lives in the folder it signs, so that one CID pins both; it is not hashed.
    return hashing.Config().set_ignored_paths(paths=[folder / SIGNATURE], ignore_git_paths=True)


def folder_sign(folder: Path, *, key_id: str) -> dict[str, Any]:
    """Sign every file of ``folder`` with the key's encrypted PEM; writes and returns model.sig."""
    store = KeyStore.default()
    config = signing.Config().set_hashing_config(_hashing(folder))
    config.use_elliptic_key_signer(private_key=store.encrypted_pem(key_id), password=store.passphrase())  # type: ignore[arg-type]
    config.sign(folder, folder / SIGNATURE)
    bundle: dict[str, Any] = json.loads((folder / SIGNATURE).read_text())
    return bundle


def folder_verify(folder: Path, *, public_key_pem: str, bundle: dict[str, Any] | None = None) -> str | None:
    """None when the folder is exactly what was signed with this key; else the reason."""
    with tempfile.TemporaryDirectory() as tmp:
        key = Path(tmp) / "key.pem"
        key.write_text(public_key_pem)
        signature = folder / SIGNATURE
        if bundle is not None:
            signature = Path(tmp) / SIGNATURE
            signature.write_text(json.dumps(bundle))
        try:
            config = verifying.Config().use_elliptic_key_verifier(public_key=key)
            config.set_hashing_config(_hashing(folder)).verify(folder, signature)
        except Exception as exc:  # model-signing raises ValueError and crypto errors alike
            return str(exc) or type(exc).__name__
    return None
