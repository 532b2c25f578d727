"""C2PA content credentials embedded in a work's WAV, signed with the organisation's key.

C2PA needs an X.509 chain: the Ledgerline CA's certificate of the organisation's ECDSA P-256
signing key (provenance.certificates). The signing itself goes through a callback, so the private
key never leaves this process as bytes. With C2PA_TSA_URL set, c2pa-rs asks that RFC 3161 time
stamp authority to countersign each signature, so it stays valid after the certificate expires.
"""

import io
from typing import Any

import c2pa
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, utils
from django.conf import settings

from ledgerline.errors import LedgerlineError
from ledgerline.provenance.certificates import certificate_chain
from ledgerline.provenance.keys import KeyStore
from ledgerline.provenance.models import SigningKey
from ledgerline_verify.credentials import NoCredentials
from ledgerline_verify.credentials import credentials_read as verifier_credentials_read

TRAINED_ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
WAV = "audio/wav"


class CredentialsError(LedgerlineError):
    code = "invalid_credentials"


def wav_sign(wav: bytes, *, definition: dict[str, Any], signing_key: SigningKey) -> bytes:
    """The WAV with a C2PA manifest store (``definition``) embedded and signed."""
    private_key = KeyStore.default().load(signing_key.key_id)

    def sign(data: bytes) -> bytes:  # C2PA's ES256 wants r || s, not DER
        r, s = utils.decode_dss_signature(private_key.sign(data, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    signer = c2pa.Signer.from_callback(
        sign, c2pa.C2paSigningAlg.ES256, certificate_chain(signing_key), settings.C2PA_TSA_URL or None
    )
    out = io.BytesIO()
    try:
        with c2pa.Builder(definition) as builder:
            builder.sign(signer, WAV, io.BytesIO(wav), out)
    except c2pa.C2paError as exc:
        raise CredentialsError(f"The content credentials could not be embedded: {exc}") from None
    finally:
        signer.close()
    return out.getvalue()


def credentials_read(data: bytes, media_type: str = WAV) -> dict[str, Any]:
    """{"state": "Valid" | "Invalid" | ..., "manifest": the active manifest, "failures": [...]}."""
    try:
        return verifier_credentials_read(data, media_type)
    except NoCredentials as exc:
        raise CredentialsError(f"No readable content credentials: {exc}") from None
