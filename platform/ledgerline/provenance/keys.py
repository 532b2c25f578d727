"""ECDSA P-256 signing keys and signatures.

Private keys live only as encrypted PEM files (PKCS#8 under PBES2: PBKDF2-HMAC-SHA256,
AES-256-CBC) in settings.SIGNING_KEYS_DIR; the database holds the public half and the key id.
A key id is ``sha256:`` + the SHA-256 of the DER SubjectPublicKeyInfo, so anyone holding the
public key can recompute it.
"""

import base64
import functools
import hashlib
import logging
import os
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path

from asn1crypto import algos as asn1_algos
from asn1crypto import keys as asn1_keys
from asn1crypto import pem as asn1_pem
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, padding, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
from django.conf import settings

from ledgerline.private import private_dir
from ledgerline.storage.shared import file_restore, file_share, store_shared

logger = logging.getLogger(__name__)

ALGORITHM = "ecdsa-p256-sha256"
# PBKDF2-HMAC-SHA256 rounds guarding a key file: OWASP's figure (2023). BestAvailableEncryption
# gave 2,048; a file under fewer rounds is encrypted again when it is next loaded. Decrypting
# costs a tenth of a second or more by design, so each process decrypts a file once (_decrypted).
KDF_ROUNDS = 600_000


class KeyUnavailable(RuntimeError):
    """The private key file for a key id is missing or cannot be decrypted."""


def public_der(public_key: ec.EllipticCurvePublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def key_id_of(public_key: ec.EllipticCurvePublicKey) -> str:
    return "sha256:" + hashlib.sha256(public_der(public_key)).hexdigest()


def public_pem(public_key: ec.EllipticCurvePublicKey) -> str:
    return public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


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


def kdf_rounds() -> int:
    # SIGNING_KEY_KDF_ROUNDS is set by the tests alone (tests/conftest.py), to keep them quick.
    return int(getattr(settings, "SIGNING_KEY_KDF_ROUNDS", KDF_ROUNDS))


def pem_encrypt(private_key: ec.EllipticCurvePrivateKey, passphrase: bytes, *, rounds: int) -> bytes:
    """PKCS#8 PEM encrypted as RFC 8018's PBES2: PBKDF2-HMAC-SHA256 with ``rounds``, AES-256-CBC.

    What BestAvailableEncryption writes, with the rounds chosen: cryptography cannot choose them
    for PKCS#8, so the envelope is built here. cryptography and OpenSSL read it as they read theirs.
    """
    plain = private_key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    salt, iv = os.urandom(16), os.urandom(16)
    key = PBKDF2HMAC(hashes.SHA256(), 32, salt, rounds).derive(passphrase)
    padder = padding.PKCS7(128).padder()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    ciphertext = encryptor.update(padder.update(plain) + padder.finalize()) + encryptor.finalize()
    kdf = {
        "salt": asn1_algos.Pbkdf2Salt(name="specified", value=salt),
        "iteration_count": rounds,
        "prf": {"algorithm": "sha256"},
    }
    info = asn1_keys.EncryptedPrivateKeyInfo(
        {
            "encryption_algorithm": {
                "algorithm": "pbes2",
                "parameters": {
                    "key_derivation_func": {"algorithm": "pbkdf2", "parameters": kdf},
                    "encryption_scheme": {"algorithm": "aes256_cbc", "parameters": iv},
                },
            },
            "encrypted_data": ciphertext,
        }
    )
    pem: bytes = asn1_pem.armor("ENCRYPTED PRIVATE KEY", info.dump())
    return pem


def pem_kdf_rounds(pem: bytes) -> int:
    """The PBKDF2-HMAC-SHA256 rounds guarding an AES-256 encrypted PKCS#8 PEM; 0 for any other form."""
    try:
        kind, _, der = asn1_pem.unarmor(pem)
        algorithm = asn1_keys.EncryptedPrivateKeyInfo.load(der)["encryption_algorithm"]
        if kind != "ENCRYPTED PRIVATE KEY" or algorithm.kdf != "pbkdf2" or algorithm.kdf_hmac != "sha256":
            return 0
        if algorithm.encryption_cipher != "aes" or algorithm.key_length != 32:
            return 0
        return int(algorithm.kdf_iterations)
    except (ValueError, TypeError, KeyError):
        return 0


@functools.lru_cache(maxsize=64)
def _decrypted(pem: bytes, passphrase: bytes) -> PrivateKeyTypes:
    # Keyed by the file's bytes and the passphrase: a replaced file or another passphrase
    # decrypts afresh (and a wrong one still fails: exceptions are not cached).
    return serialization.load_pem_private_key(pem, password=passphrase)


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
            private_dir(self.directory)
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
        self.load(key_id)  # it raises KeyUnavailable, and brings an old file to today's rounds
        return self._path(key_id)

    def generate(self) -> tuple[str, ec.EllipticCurvePrivateKey]:
        private_key = ec.generate_private_key(ec.SECP256R1())
        key_id = key_id_of(private_key.public_key())
        self.save(self._path(key_id), private_key)
        return key_id, private_key

    def save(self, path: Path, private_key: ec.EllipticCurvePrivateKey) -> None:
        """Encrypted under kdf_rounds(), mode 0600, in a 0700 folder; written aside and renamed
        into place, so a reader sees the old file or the new one, whole."""
        pem = pem_encrypt(private_key, self.passphrase(), rounds=kdf_rounds())
        fd, temp = tempfile.mkstemp(dir=private_dir(path.parent))  # mode 0600
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(pem)
            os.replace(temp, path)
        except BaseException:
            os.unlink(temp)
            raise
        self.share(path)

    def share(self, path: Path) -> None:
        """With hosts that share no disk: ``path`` (a key, encrypted, or a certificate) sent to the
        IPFS node, where every default worker finds it (``restore``)."""
        if not store_shared():
            return
        if not settings.SIGNING_KEY_PASSPHRASE:  # encrypted under var/keys/.passphrase: no other host could open it
            logger.warning(
                "%s stays on this host: keys travel to other hosts only under SIGNING_KEY_PASSPHRASE(_FILE), "
                "the same secret on the site and every default worker",
                path.name,
            )
            return
        file_share(path, name=f"keys/{path.name}")

    def share_all(self) -> int:
        """Every key and certificate this host holds sent to the IPFS node (`manage.py share`)."""
        paths = (
            sorted(p for p in self.directory.glob("*") if p.suffix in (".pem", ".crt"))
            if self.directory.is_dir()
            else []
        )
        for path in paths:
            self.share(path)
        return len(paths)

    def restore(self, path: Path) -> bool:
        """``path`` fetched from the host that made it, if it is not here; False if there is none."""
        if path.exists():
            return True
        return store_shared() and file_restore(
            private_dir(path.parent) / path.name, name=f"keys/{path.name}", mode=0o600
        )

    def load(self, key_id: str) -> ec.EllipticCurvePrivateKey:
        return self.load_path(self._path(key_id), name=key_id)

    def load_path(self, path: Path, *, name: str = "") -> ec.EllipticCurvePrivateKey:
        """The key in ``path``. A file under fewer rounds than kdf_rounds() is encrypted again."""
        name = name or path.name
        self.restore(path)
        try:
            pem = path.read_bytes()
        except FileNotFoundError:
            raise KeyUnavailable(f"no private key file for {name} in {path.parent}") from None
        try:
            key = _decrypted(pem, self.passphrase())
        except (ValueError, TypeError):
            raise KeyUnavailable(f"the private key {name} cannot be decrypted with this passphrase") from None
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise KeyUnavailable(f"{name} is not an ECDSA key")
        if pem_kdf_rounds(pem) < kdf_rounds():
            try:
                self.save(path, key)
            except OSError as exc:  # a read-only mount, a folder of another user: sign all the same
                logger.warning(
                    "The key file %s could not be encrypted again under %s rounds: %s", path.name, kdf_rounds(), exc
                )
        return key

    def upgrade(self, key_id: str) -> bool:
        """Encrypt a key's file again under today's rounds if it has fewer; True if it did. A key
        that is missing or cannot be decrypted is left as it is: rotating away from one must work."""
        try:
            if pem_kdf_rounds(self._path(key_id).read_bytes()) >= kdf_rounds():
                return False
            self.load(key_id)
        except (FileNotFoundError, KeyUnavailable):
            return False
        return True
