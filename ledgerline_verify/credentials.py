"""C2PA content credentials read from a file, and the certificate that signed them.

c2pa-python validates the claim signature against the certificate in the COSE `x5chain`, but
does not hand that certificate out; it is found here among the DER certificates in the file's
manifest store, so its public key can be compared with a key anchored on chain.
"""

import io
import re
from typing import Any

import c2pa
from cryptography import x509
from cryptography.hazmat.primitives import serialization

# A DER certificate starts with a SEQUENCE of two-byte length holding a SEQUENCE (tbsCertificate).
_DER_CERTIFICATE = re.compile(rb"\x30\x82(..)\x30\x82", re.DOTALL)


class NoCredentials(ValueError):
    """The file has no C2PA manifest store that can be read."""


def credentials_read(data: bytes, media_type: str) -> dict[str, Any]:
    """{"state": "Valid" | "Invalid" | ..., "manifest": the active manifest, "failures": [...]}."""
    try:
        with c2pa.Reader(media_type, io.BytesIO(data)) as reader:
            results = reader.get_validation_results() or {}
            active = results.get("activeManifest") or {}
            return {
                "state": reader.get_validation_state(),
                "manifest": reader.get_active_manifest(),
                "failures": list(active.get("failure", [])) if isinstance(active, dict) else [],
            }
    except c2pa.C2paError as exc:
        raise NoCredentials(f"no readable content credentials: {exc}") from None


def signing_certificates(data: bytes) -> list[x509.Certificate]:
    """The end-entity certificates (not CAs) embedded in the file."""
    found = []
    for match in _DER_CERTIFICATE.finditer(data):
        length = int.from_bytes(match.group(1), "big")
        try:
            certificate = x509.load_der_x509_certificate(data[match.start() : match.start() + 4 + length])
            constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints).value
        except (ValueError, x509.ExtensionNotFound):
            continue
        if not constraints.ca:
            found.append(certificate)
    return found


def public_key_der(certificate: x509.Certificate) -> bytes:
    return certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
