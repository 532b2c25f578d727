"""C2PA content credentials read from a file, and the certificate that signed them.

c2pa-python validates the claim signature against the certificate in the COSE `x5chain`, but
does not hand that certificate out; it is found here among the DER certificates in the file's
manifest store, so its public key can be compared with a key anchored on chain.
"""

import contextlib
import io
import re
from typing import Any

import c2pa
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization

from ledgerline_verify import bounded_json

# A DER certificate starts with a SEQUENCE of two-byte length holding a SEQUENCE (tbsCertificate).
_DER_CERTIFICATE = re.compile(rb"\x30\x82(..)\x30\x82", re.DOTALL)


class NoCredentials(ValueError):
    """The file has no C2PA manifest store that can be read."""


def trust_settings(trust_anchors: list[bytes]) -> dict[str, Any]:
    """c2pa settings that trust these CA certificates (DER) and no others: the same JSON the
    platform serves at /c2pa/trust-settings.json, which c2patool and c2pa's SDKs load."""
    pem = "".join(
        x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM).decode() for der in trust_anchors
    )
    return {"version": 1, "trust": {"trust_anchors": pem}, "verify": {"verify_trust": True}}


def credentials_read(data: bytes, media_type: str, *, trust_anchors: list[bytes] | None = None) -> dict[str, Any]:
    """{"state": "Valid" | "Trusted" | "Invalid" | ..., "manifest": the active manifest,
    "failures": [...], "timestamp": {"time", "trusted"} or None}. "Trusted" needs the signer's
    certificate to chain to one of ``trust_anchors`` (DER CA certificates)."""
    try:
        with contextlib.ExitStack() as resources:
            context = None
            if trust_anchors:
                settings = resources.enter_context(c2pa.Settings.from_dict(trust_settings(trust_anchors)))
                context = resources.enter_context(c2pa.Context(settings))
            with c2pa.Reader(media_type, io.BytesIO(data), context=context) as reader:
                written = reader.json()
    except c2pa.C2paError as exc:
        raise NoCredentials(f"no readable content credentials: {exc}") from None
    # The store as c2pa-rs writes it out, parsed here rather than by the Reader's helpers: they
    # use json.loads with no bound on nesting, and raise KeyError when c2pa-rs left the active
    # manifest out (it does, for one it could not decode: an assertion nested past 128 levels).
    try:
        store = bounded_json.loads(written)
    except ValueError as exc:
        raise NoCredentials(f"no readable content credentials: {exc}") from None
    manifests = store.get("manifests") if isinstance(store, dict) else None
    active = manifests.get(store.get("active_manifest")) if isinstance(manifests, dict) else None
    if not isinstance(active, dict):
        raise NoCredentials("no readable content credentials: the active manifest could not be decoded")
    results = (store.get("validation_results") or {}).get("activeManifest") or {}
    results = results if isinstance(results, dict) else {}
    successes = {str(s.get("code")) for s in results.get("success") or [] if isinstance(s, dict)}
    signed_at = (active.get("signature_info") or {}).get("time")
    return {
        "state": store.get("validation_state"),
        "manifest": active,
        "failures": list(results.get("failure", [])),
        # An RFC 3161 time stamp on the signature: when a TSA says it existed, checked by c2pa-rs.
        "timestamp": {"time": signed_at, "trusted": "timeStamp.trusted" in successes}
        if "timeStamp.validated" in successes
        else None,
    }


def failure_codes(credentials: dict[str, Any]) -> list[str]:
    """The codes of the validation failures `credentials_read` found."""
    return [str(f.get("code")) for f in credentials.get("failures") or []]


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


def issuer_among(certificate: x509.Certificate, authorities: list[bytes]) -> x509.Certificate | None:
    """The one of ``authorities`` (DER) that issued ``certificate`` (checked by its signature)."""
    for der in authorities:
        try:
            authority = x509.load_der_x509_certificate(der)
            certificate.verify_directly_issued_by(authority)
        except (ValueError, TypeError, InvalidSignature):
            continue
        return authority
    return None


def public_key_der(certificate: x509.Certificate) -> bytes:
    return certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
