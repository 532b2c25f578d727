from typing import Any

from django.db.models import QuerySet

from ledgerline.provenance import keys
from ledgerline.provenance.canonical import canonical_json
from ledgerline.provenance.models import AuditEntry, SigningKey


def signing_key_list() -> QuerySet[SigningKey]:
    return SigningKey.objects.select_related("organisation").order_by("organisation__slug", "created_at")


def audit_entry_list(*, organisation_ids: list) -> QuerySet[AuditEntry]:
    entries = AuditEntry.objects.filter(organisation_id__in=organisation_ids)
    return entries.select_related("actor", "organisation").order_by("-seq")


def signed_manifest_verify(*, signed: dict[str, Any], public_key_pem: str) -> bool:
    """True if ``signed`` (as made by manifest_sign) verifies with the public key alone."""
    signature = signed.get("signature") or {}
    if signature.get("algorithm") != keys.ALGORITHM or signature.get("key_id") != keys.key_id_of(
        keys.load_public_pem(public_key_pem)
    ):
        return False
    return keys.verify(public_key_pem, canonical_json(signed["manifest"]), signature.get("value", ""))
