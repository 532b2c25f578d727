"""Who signed: the manifest's signature under a key anchored on chain for the organisation it
names (the signature link), and the C2PA credentials in the audio signed with that same key (the
credentials link)."""

import base64
import datetime
from typing import Any

import rfc8785
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ledgerline_verify.chain import Chain, KeyRecord
from ledgerline_verify.content import sha256_hex
from ledgerline_verify.credentials import (
    NoCredentials,
    credentials_read,
    failure_codes,
    issuer_among,
    public_key_der,
    signing_certificates,
)
from ledgerline_verify.verdict import Broken, Check, Link, Unchecked, iso

TRAINED_ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"


def signature_check(chain: Chain, signed: dict[str, Any]) -> tuple[Check, KeyRecord | None]:
    """The manifest is signed by a key anchored for its organisation, before the key was retired;
    with the key as anchored (None where it is not)."""
    manifest = signed["manifest"]
    key: KeyRecord | None = None
    link = Link("signature")
    with link as details:
        signature = signed["signature"]
        key_id = str(signature.get("key_id", ""))
        details["key_id"] = key_id
        key = chain.signing_key(key_id)
        if key is None:
            raise Broken(
                f"The manifest is signed with the key {key_id}, which is not anchored on the Ledgerline "
                "contract: it was not signed by a key Ledgerline published."
            )
        if "sha256:" + sha256_hex(key.public_key_der) != key_id:
            raise Broken(f"The key anchored as {key_id} does not hash to its id.")
        details.update(_key_details(key))
        if not _signature_valid(key.public_key_der, rfc8785.dumps(manifest), signature.get("value")):
            raise Broken(
                f"The signature does not match the manifest's bytes under the key {key_id}: the manifest "
                "or its signature was changed after signing."
            )
        organisation = str((manifest.get("organisation") or {}).get("id", ""))
        if organisation != key.organisation:
            raise Broken(
                f"The key {key_id} was anchored for the organisation {key.organisation}, but the "
                f"manifest names {organisation or 'none'}."
            )
        signed_at = _timestamp(manifest.get("signed_at"))
        if key.retired_at and signed_at and signed_at > key.retired_at:
            raise Broken(
                f"The manifest says it was signed at {iso(signed_at)}, after the key was retired at "
                f"{iso(key.retired_at)}."
            )
        details["reason"] = f"signed by {key_id}, anchored for organisation {key.organisation}"
    return link.check, key


def credentials_check(
    manifest: dict[str, Any],
    *,
    audio: bytes | None,
    audio_type: str | None,
    key: KeyRecord | None,
    chain: Chain,
    token_id: int,
) -> Check:
    """The audio's C2PA credentials validate, are signed with the organisation's anchored key, say
    a trained model made it, name the manifest's models and datasets as ingredients, and bind the
    watermark the manifest records (a soft binding), which the contract announced for the token."""
    link = Link("credentials")
    with link as details:
        if audio is None or audio_type is None:
            raise Unchecked("No audio to read content credentials from.")
        anchors = chain.trust_anchors()
        try:
            credentials = credentials_read(audio, audio_type, trust_anchors=anchors)
        except NoCredentials as exc:
            raise Broken(f"The audio has no content credentials: {exc}") from None
        details["state"] = credentials["state"]
        failures = [f for f in failure_codes(credentials) if f != "signingCredential.untrusted"]
        if credentials["state"] not in ("Valid", "Trusted") or failures:
            raise Broken(f"The C2PA credentials do not validate: {', '.join(failures) or credentials['state']}.")
        active = credentials["manifest"] or {}
        serial = str((active.get("signature_info") or {}).get("cert_serial_number", ""))
        signer = next((c for c in signing_certificates(audio) if str(c.serial_number) == serial), None)
        if signer is None or key is None or public_key_der(signer) != key.public_key_der:
            raise Broken("The C2PA credentials were not signed with the organisation's anchored key.")
        trust = _trust(
            signer, anchors, chain=chain, trusted=credentials["state"] == "Trusted", failures=failure_codes(credentials)
        )
        details["trust"] = trust
        details["timestamp"] = credentials["timestamp"]
        actions = _assertion(active, "c2pa.actions.v2").get("actions") or [{}]
        if actions[0].get("digitalSourceType") != TRAINED_ALGORITHMIC_MEDIA:
            raise Broken("The C2PA credentials do not say the audio was made by a trained model.")
        model = manifest["model"]
        expected = {
            f"sha256:{model['weights_sha256']}",
            *(f"sha256:{base.get('weights_sha256')}" for base in model.get("bases") or []),
            *(f"merkle:{d['merkle_root']}" for d in manifest.get("datasets") or []),
            *(f"sha256:{source.get('sha256')}" for source in manifest.get("sources") or []),  # what it varies
        }
        found = {i.get("instance_id") for i in active.get("ingredients") or []}
        if found != expected:
            raise Broken("The C2PA ingredients are not the models, datasets and sources the manifest names.")
        bound = _watermark_bound(manifest, active, chain=chain, token_id=token_id)
        if bound:
            details["watermark"] = bound
        details["reason"] = (
            f"C2PA {credentials['state']} ({trust['reason']}), signed with the "
            "anchored key; trainedAlgorithmicMedia from the manifest's model and datasets"
            + (f"; soft binding to the watermark {bound}, announced on chain for token {token_id}" if bound else "")
            + (
                f"; time-stamped {credentials['timestamp']['time']} by an RFC 3161 TSA"
                if credentials["timestamp"]
                else ""
            )
        )
    return link.check


def _trust(
    signer: x509.Certificate, anchors: list[bytes], *, chain: Chain, trusted: bool, failures: list[str]
) -> dict[str, Any]:
    """Why the credentials are (or are not) trusted. c2pa decides, from the trust anchors the
    contract holds; this names the anchor that issued the signer's certificate, whether the
    contract vouches for that certificate, and overrides c2pa where the contract revoked it."""
    issuer = issuer_among(signer, anchors)
    leaf = signer.public_bytes(serialization.Encoding.DER)
    vouched = chain.certificate(leaf)
    trust: dict[str, Any] = {
        "trusted": trusted,
        "signer": signer.subject.rfc4514_string(),
        "certificate_sha256": sha256_hex(leaf),
        "certificate_anchored_at": iso(vouched[1]) if vouched else None,
        "certificate_revoked_at": iso(vouched[2]) if vouched and vouched[2] else None,
        "anchor": None,
    }
    if vouched and vouched[0] != "sha256:" + sha256_hex(public_key_der(signer)):
        raise Broken("The contract vouches for the signer's certificate under another key than the one it holds.")
    if issuer is not None:
        der = issuer.public_bytes(serialization.Encoding.DER)
        anchored = chain.certificate(der)
        trust["anchor"] = {
            "subject": issuer.subject.rfc4514_string(),
            "sha256": sha256_hex(der),
            "anchored_at": iso(anchored[1]) if anchored else None,
        }
    if trust["certificate_revoked_at"]:
        trust["trusted"] = False
        trust["reason"] = (
            f"the contract revoked the signer's certificate at {trust['certificate_revoked_at']}: untrusted"
        )
    elif trusted:
        by = (
            f"was issued by {issuer.subject.rfc4514_string()} (sha256 {trust['anchor']['sha256'][:16]}...), "
            if issuer is not None
            else "chains to "
        )
        trust["reason"] = f"its certificate {by}a trust anchor the contract holds" + (
            ", and the contract vouches for the certificate itself" if vouched else ""
        )
    elif issuer is not None:
        trust["reason"] = "issued by a trust anchor the contract holds, yet not trusted by c2pa: " + (
            ", ".join(failures) or "no reason given"
        )
    elif anchors:
        trust["reason"] = "the signer's certificate was not issued by a trust anchor the contract holds: untrusted"
    else:
        trust["reason"] = "the contract holds no trust anchor: signer untrusted"
    return trust


def _watermark_bound(manifest: dict[str, Any], active: dict[str, Any], *, chain: Chain, token_id: int) -> str:
    """The watermark the manifest records, once the credentials' soft binding names it and the
    contract announced it for the token; "" for a work signed before watermarks."""
    entry = manifest.get("watermark")
    if entry is None:
        return ""
    payload = str(entry["payload"])
    binding = _assertion(active, "c2pa.soft-binding")
    blocks = binding.get("blocks") or [{}]
    if (binding.get("alg"), blocks[0].get("value")) != (entry["algorithm"], payload):
        raise Broken(f"The C2PA soft binding does not name the watermark the manifest records ({payload}).")
    if token_id not in chain.tokens_of_watermark(bytes.fromhex(payload)):
        raise Broken(f"The contract did not announce the watermark {payload} for token {token_id}.")
    return payload


def _signature_valid(public_key_der_bytes: bytes, payload: bytes, value: Any) -> bool:
    try:
        key = serialization.load_der_public_key(public_key_der_bytes)
        if not isinstance(key, ec.EllipticCurvePublicKey):
            return False
        key.verify(base64.b64decode(str(value), validate=True), payload, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        return False
    return True


def _key_details(key: KeyRecord) -> dict[str, Any]:
    return {
        "organisation": key.organisation,
        "anchored_at": iso(key.anchored_at),
        "retired_at": iso(key.retired_at) if key.retired_at else None,
    }


def _timestamp(value: Any) -> int | None:
    try:
        return int(datetime.datetime.fromisoformat(str(value)).timestamp())
    except ValueError:
        return None


def _assertion(manifest: dict[str, Any], label: str) -> dict[str, Any]:
    for assertion in manifest.get("assertions") or []:
        if assertion.get("label") == label:
            return dict(assertion.get("data") or {})
    return {}
