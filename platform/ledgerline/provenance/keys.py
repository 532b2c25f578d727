"""ECDSA P-256 signing keys and signatures.

Private keys live only as encrypted PEM files (PKCS#8, best available encryption) in
settings.SIGNING_KEYS_DIR; the database holds the public half and the key id. A key id is
``sha256:`` + the SHA-256 of the DER SubjectPublicKeyInfo, so anyone holding the public
key can recompute it.
"""

import base64
import hashlib
import os
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings

ALGORITHM = "ecdsa-p256-sha256"


class KeyUnavailable(RuntimeError):
    """The private key file for a key id is missing or cannot be decrypted."""


def public_der(public_key: ec.EllipticCurvePublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def key_id_of(public_key: ec.EllipticCurvePublicKey) -> str:
    return "sha256:" + hashlib.sha256(public_der(public_key)).hexdigest()


def public_pem(public_key: ec.EllipticCurvePublicKey) -> str:
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def load_public_pem(pem: str) -> ec.EllipticCurvePublicKey:
    key = serialization.load_pem_public_key(pem.encode())
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ValueError("not an ECDSA P-256 public key")
    return key


def sign(private_key: ec.EllipticCurvePrivateKey, payload: bytes) -> str:
    """A DER-encoded ECDSA signature over SHA-256(payload), base64."""
    return base64.b64encode(private_key.sign(payload, ec.ECDSA(hashes.SHA256()))).decode()


def verify(public_key_pem: str, payload: bytes, signature_b64: str) -> bool:
    """True only if ``signature_b64`` is the key's signature over exactly ``payload``."""
    try:
        signature = base64.b64decode(signature_b64, validate=True)
        load_public_pem(public_key_pem).verify(signature, payload, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        return False
    return True


@dataclass(frozen=True)
class KeyStore:
    """Encrypted PEM files, one per key id, in one folder."""

    directory: Path

    @classmethod
    def default(cls) -> "KeyStore":
        return cls(Path(settings.SIGNING_KEYS_DIR))

    def passphrase(self) -> bytes:
        if settings.SIGNING_KEY_PASSPHRASE:
            return settings.SIGNING_KEY_PASSPHRASE.encode()
        # The embedded default only: a passphrase made on first run, readable by this
        # user alone. A deployment passes SIGNING_KEY_PASSPHRASE(_FILE) from a secret.
        # `manage.py check --deploy` warns when this is in use.
        path = self.directory / ".passphrase"
        if not path.exists():
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd, temp = tempfile.mkstemp(dir=self.directory)  # mode 0600
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_urlsafe(32))
            try:
                os.link(temp, path)  # appears whole or not at all; the first process wins
            except FileExistsError:
                pass
            finally:
                os.unlink(temp)
        return path.read_text().strip().encode()

    def _path(self, key_id: str) -> Path:
        return self.directory / (key_id.removeprefix("sha256:") + ".pem")

    def encrypted_pem(self, key_id: str) -> Path:
        """The encrypted PEM file, for a library that loads the key itself (model-signing)."""
        path = self._path(key_id)
        if not path.is_file():
            raise KeyUnavailable(f"no private key file for {key_id} in {self.directory}")
        return path

    def generate(self) -> tuple[str, ec.EllipticCurvePrivateKey]:
        private_key = ec.generate_private_key(ec.SECP256R1())
        key_id = key_id_of(private_key.public_key())
        pem = private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(self.passphrase()),
        )
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = self._path(key_id)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
        return key_id, private_key

    def load(self, key_id: str) -> ec.EllipticCurvePrivateKey:
        try:
            pem = self._path(key_id).read_bytes()
        except FileNotFoundError:
            raise KeyUnavailable(f"no private key file for {key_id} in {self.directory}") from None
        try:
            key = serialization.load_pem_private_key(pem, password=self.passphrase())
        except (ValueError, TypeError):
            raise KeyUnavailable(f"the private key {key_id} cannot be decrypted with this passphrase") from None
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise KeyUnavailable(f"{key_id} is not an ECDSA key")
        return key
