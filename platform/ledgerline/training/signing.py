"""Model weights signed in the OpenSSF model-signing format: a Sigstore bundle holding a
DSSE envelope over an in-toto statement that lists every file of the checkpoint folder with
its SHA-256. `model_signing verify key FOLDER --signature FOLDER/model.sig --public_key
KEY.pem` (PyPI model-signing) checks it with the organisation's published public key."""

import json
import tempfile
from pathlib import Path
from typing import Any

from model_signing import signing

from ledgerline.provenance.keys import KeyStore
from ledgerline_verify.weights import SIGNATURE, hashing_config
from ledgerline_verify.weights import folder_verify as bundle_verify


def folder_sign(folder: Path, *, key_id: str) -> dict[str, Any]:
    """Sign every file of ``folder`` with the key's encrypted PEM; writes and returns model.sig."""
    store = KeyStore.default()
    config = signing.Config().set_hashing_config(hashing_config(folder))
    config.use_elliptic_key_signer(private_key=store.encrypted_pem(key_id), password=store.passphrase())  # type: ignore[arg-type]
    config.sign(folder, folder / SIGNATURE)
    bundle: dict[str, Any] = json.loads((folder / SIGNATURE).read_text())
    return bundle


def folder_verify(folder: Path, *, public_key_pem: str, bundle: dict[str, Any] | None = None) -> str | None:
    """None when the folder is exactly what was signed with this key; else the reason."""
    if bundle is None:
        return bundle_verify(folder, public_key_pem=public_key_pem)
    with tempfile.TemporaryDirectory() as tmp:
        signature = Path(tmp) / SIGNATURE
        signature.write_text(json.dumps(bundle))
        return bundle_verify(folder, public_key_pem=public_key_pem, signature=signature)
