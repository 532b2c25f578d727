"""Model weights signed in the OpenSSF model-signing format: a Sigstore bundle holding a DSSE
envelope over an in-toto statement that lists every file of the checkpoint folder with its
SHA-256, signed with an ECDSA P-256 key. The bundle, `model.sig`, lives in the folder it signs
(so one CID pins both) and is left out of the hashing."""

import tempfile
from pathlib import Path

from model_signing import hashing, verifying

SIGNATURE = "model.sig"


def hashing_config(folder: Path) -> hashing.Config:
    return hashing.Config().set_ignored_paths(paths=[folder / SIGNATURE], ignore_git_paths=True)


def folder_verify(folder: Path, *, public_key_pem: str, signature: Path | None = None) -> str | None:
    """None when ``folder`` is exactly what was signed with this key; else the reason."""
    with tempfile.TemporaryDirectory() as tmp:
        key = Path(tmp) / "key.pem"
        key.write_text(public_key_pem)
        try:
            config = verifying.Config().use_elliptic_key_verifier(public_key=key)
            config.set_hashing_config(hashing_config(folder)).verify(folder, signature or folder / SIGNATURE)
        except Exception as exc:  # model-signing raises ValueError and crypto errors alike
            return str(exc) or type(exc).__name__
    return None
