"""Writes of the provenance core: audit entries, signing keys and signatures.

Provenance sits below accounts (whose writes it records), so an organisation is any model
instance here: the rows name it by "accounts.Organisation" and these functions use its pk."""

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import User
from django.db import models, transaction
from django.utils import timezone

from ledgerline.provenance import keys
from ledgerline.provenance.canonical import canonical_json
from ledgerline.provenance.hashing import sha256_bytes
from ledgerline.provenance.models import AuditEntry, AuditHead, SigningKey
from ledgerline.queue import enqueue


def audit_entry_payload(entry: AuditEntry) -> dict[str, Any]:
    """What an entry's hash covers: every field but the hash itself."""
    return {
        "seq": entry.seq,
        "created_at": entry.created_at.isoformat(),
        "organisation": str(entry.organisation_id) if entry.organisation_id else None,
        "actor": str(entry.actor_id) if entry.actor_id else None,
        "action": entry.action,
        "object_type": entry.object_type,
        "object_id": entry.object_id,
        "data": entry.data,
        "prev_hash": entry.prev_hash,
    }


def audit_entry_hash(entry: AuditEntry) -> str:
    return sha256_bytes(canonical_json(audit_entry_payload(entry)))


@dataclass(frozen=True)
class AuditRecord:
    """What one audit entry says: who did what to which object, and its details."""

    organisation: models.Model | None
    actor: User | None
    action: str
    obj: models.Model
    data: dict[str, Any]


def audit_append(
    *,
    organisation: models.Model | None,
    actor: User | None,
    action: str,
    obj: models.Model,
    data: dict[str, Any],
) -> AuditEntry:
    """Append an entry to the log, chained to the one before it.

    Called inside the transaction of the write it records, so the two commit together.
    """
    [entry] = audit_append_many([AuditRecord(organisation, actor, action, obj, data)])
    return entry


@transaction.atomic
def audit_append_many(records: list[AuditRecord]) -> list[AuditEntry]:
    """Append entries in the order given, each chained to the one before: the head is locked and
    moved once, and the entries are inserted together (a catalog's files are logged at once)."""
    head, _ = AuditHead.objects.select_for_update().get_or_create(pk=1)
    entries = []
    for record in records:
        entry = AuditEntry(
            seq=head.seq + 1,
            created_at=timezone.now(),
            organisation_id=record.organisation.pk if record.organisation is not None else None,
            actor_id=record.actor.pk if record.actor is not None else None,
            action=record.action,
            object_type=record.obj._meta.label_lower,
            object_id=str(record.obj.pk),
            data=record.data,
            prev_hash=head.entry_hash,
        )
        entry.entry_hash = audit_entry_hash(entry)
        entries.append(entry)
        head.seq, head.entry_hash = entry.seq, entry.entry_hash
    AuditEntry.objects.bulk_create(entries, batch_size=1000)
    head.save(update_fields=["seq", "entry_hash"])
    return entries


@dataclass(frozen=True)
class AuditVerification:
    checked: int
    problem: str | None

    @property
    def ok(self) -> bool:
        return self.problem is None


def audit_verify() -> AuditVerification:
    """Walk the chain up to the head read at the start (appends made meanwhile are left for
    the next run); name the first entry that was edited, removed or inserted."""
    head = AuditHead.objects.filter(pk=1).first() or AuditHead()
    prev_hash, expected_seq, checked = "0" * 64, 1, 0
    for entry in AuditEntry.objects.filter(seq__lte=head.seq).order_by("seq").iterator(chunk_size=2000):
        if entry.seq != expected_seq:
            return AuditVerification(checked, f"entry #{expected_seq} is missing (next is #{entry.seq})")
        if entry.prev_hash != prev_hash:
            problem = f"entry #{entry.seq} does not follow #{entry.seq - 1}: prev_hash differs"
            return AuditVerification(checked, problem)
        if audit_entry_hash(entry) != entry.entry_hash:
            problem = f"entry #{entry.seq} ({entry.action}) was edited: its hash does not match"
            return AuditVerification(checked, problem)
        prev_hash, expected_seq, checked = entry.entry_hash, expected_seq + 1, checked + 1
    if head.seq != checked or head.entry_hash != prev_hash:
        return AuditVerification(
            checked, f"the log ends at #{checked} but its head records #{head.seq}: newest entries were removed"
        )
    if checked == 0 and AuditEntry.objects.exists():
        return AuditVerification(checked, "the log has entries but its head is gone")
    return AuditVerification(checked, None)


@transaction.atomic
def signing_key_create(*, organisation: models.Model, actor: User | None = None) -> SigningKey:
    key_id, private_key = keys.KeyStore.default().generate()
    signing_key = SigningKey.objects.create(
        organisation_id=organisation.pk,
        key_id=key_id,
        algorithm=keys.ALGORITHM,
        public_key_pem=keys.public_pem(private_key.public_key()),
    )
    audit_append(
        organisation=organisation,
        actor=actor,
        action="signing_key.create",
        obj=signing_key,
        data={"key_id": key_id, "algorithm": keys.ALGORITHM},
    )
    return signing_key


def _lock(organisation: models.Model) -> None:
    """Lock the organisation's row: one key maker at a time."""
    type(organisation)._default_manager.select_for_update().get(pk=organisation.pk)


def signing_key_active(*, organisation: models.Model) -> SigningKey:
    """The organisation's active key, made on first use."""
    with transaction.atomic():
        _lock(organisation)
        active = SigningKey.objects.filter(organisation_id=organisation.pk, retired_at__isnull=True).first()
        return active or signing_key_create(organisation=organisation)


@transaction.atomic
def signing_key_rotate(*, organisation: models.Model, actor: User | None) -> SigningKey:
    """Retire the active key and make a new one. Old signatures stay verifiable: the
    retired key's public half stays published with the time it was retired."""
    _lock(organisation)
    old = SigningKey.objects.filter(organisation_id=organisation.pk, retired_at__isnull=True).first()
    if old is not None:
        old.retired_at = timezone.now()
        old.save(update_fields=["retired_at", "updated_at"])
    new = signing_key_create(organisation=organisation, actor=actor)
    # The retired keys stay on disk: bring the files of older versions up to today's KDF rounds.
    store = keys.KeyStore.default()
    for key_id in (
        SigningKey.objects.filter(organisation_id=organisation.pk).exclude(pk=new.pk).values_list("key_id", flat=True)
    ):
        store.upgrade(key_id)
    audit_append(
        organisation=organisation,
        actor=actor,
        action="signing_key.rotate",
        obj=new,
        data={"retired": old.key_id if old else None, "active": new.key_id},
    )
    # ledger.tasks publishes them on chain (ledger.services.signing_keys_publish).
    transaction.on_commit(lambda: enqueue("ledgerline.provenance.keys_publish", str(organisation.pk)))
    return new


def payload_sign(*, organisation: models.Model, payload: bytes) -> dict[str, str]:
    signing_key = signing_key_active(organisation=organisation)
    private_key = keys.KeyStore.default().load(signing_key.key_id)
    return {"key_id": signing_key.key_id, "algorithm": keys.ALGORITHM, "value": keys.sign(private_key, payload)}


def manifest_sign(*, organisation: models.Model, manifest: dict[str, Any]) -> dict[str, Any]:
    """A signed manifest: the signature is over the manifest's RFC 8785 bytes."""
    signature = payload_sign(organisation=organisation, payload=canonical_json(manifest))
    return {"manifest": manifest, "signature": signature}
