"""Writes of the provenance core: audit entries, signing keys and signatures."""

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import User
from django.db import models, transaction
from django.utils import timezone

from ledgerline.accounts.models import Organisation
from ledgerline.provenance import keys
from ledgerline.provenance.canonical import canonical_json
from ledgerline.provenance.hashing import sha256_bytes
from ledgerline.provenance.models import AuditEntry, AuditHead, SigningKey


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


@transaction.atomic
def audit_append(
    *,
    organisation: Organisation | None,
    actor: User | None,
    action: str,
    obj: models.Model,
    data: dict[str, Any],
) -> AuditEntry:
    """Append an entry to the log, chained to the one before it.

    Called inside the transaction of the write it records, so the two commit together.
    """
    head, _ = AuditHead.objects.select_for_update().get_or_create(pk=1)
    entry = AuditEntry(
        seq=head.seq + 1,
        created_at=timezone.now(),
        organisation=organisation,
        actor_id=actor.pk if actor is not None else None,
        action=action,
        object_type=obj._meta.label_lower,
        object_id=str(obj.pk),
        data=data,
        prev_hash=head.entry_hash,
    )
    entry.entry_hash = audit_entry_hash(entry)
    entry.save()
    head.seq, head.entry_hash = entry.seq, entry.entry_hash
    head.save(update_fields=["seq", "entry_hash"])
    return entry


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
        return AuditVerification(checked, f"the log ends at #{checked} but its head records #{head.seq}: "
                                          "newest entries were removed")
    if checked == 0 and AuditEntry.objects.exists():
        return AuditVerification(checked, "the log has entries but its head is gone")
    return AuditVerification(checked, None)


@transaction.atomic
def signing_key_create(*, organisation: Organisation, actor: User | None = None) -> SigningKey:
    key_id, private_key = keys.KeyStore.default().generate()
    signing_key = SigningKey.objects.create(
        organisation=organisation,
        key_id=key_id,
        algorithm=keys.ALGORITHM,
        public_key_pem=keys.public_pem(private_key.public_key()),
    )
    audit_append(organisation=organisation, actor=actor, action="signing_key.create", obj=signing_key,
                 data={"key_id": key_id, "algorithm": keys.ALGORITHM})
    return signing_key


def signing_key_active(*, organisation: Organisation) -> SigningKey:
    """The organisation's active key, made on first use."""
    with transaction.atomic():
        Organisation.objects.select_for_update().get(pk=organisation.pk)  # one creator at a time
        active = SigningKey.objects.filter(organisation=organisation, retired_at__isnull=True).first()
        return active or signing_key_create(organisation=organisation)


@transaction.atomic
def signing_key_rotate(*, organisation: Organisation, actor: User | None) -> SigningKey:
    """Retire the active key and make a new one. Old signatures stay verifiable: the
    retired key's public half stays published with the time it was retired."""
    Organisation.objects.select_for_update().get(pk=organisation.pk)
    old = SigningKey.objects.filter(organisation=organisation, retired_at__isnull=True).first()
    if old is not None:
        old.retired_at = timezone.now()
        old.save(update_fields=["retired_at", "updated_at"])
    new = signing_key_create(organisation=organisation, actor=actor)
    # The retired keys stay on disk: bring the files of older versions up to today's KDF rounds.
    store = keys.KeyStore.default()
    for key_id in SigningKey.objects.filter(organisation=organisation).exclude(pk=new.pk).values_list(
            "key_id", flat=True):
        store.upgrade(key_id)
    audit_append(organisation=organisation, actor=actor, action="signing_key.rotate", obj=new,
                 data={"retired": old.key_id if old else None, "active": new.key_id})
    transaction.on_commit(lambda: _publish_keys(organisation))
    return new


def _publish_keys(organisation: Organisation) -> None:
    from ledgerline.provenance.tasks import signing_keys_publish_task
    from ledgerline.tasks import enqueue

    enqueue(signing_keys_publish_task, str(organisation.pk))


def signing_keys_publish(*, organisation: Organisation) -> int:
    """Anchor each of the organisation's keys on chain, and mark the retired ones retired there:
    what lets anyone check its signatures from the chain alone. Safe to run twice; returns how
    many keys it looked at."""
    from ledgerline.ledger.client import Ledger
    from ledgerline.ledger.services import key_anchor, key_retire

    ledger = Ledger.connect()
    published = list(SigningKey.objects.filter(organisation=organisation).order_by("created_at"))
    for signing_key in published:
        der = keys.public_der(keys.load_public_pem(signing_key.public_key_pem))
        key_anchor(ledger=ledger, public_key_der=der, organisation_id=organisation.pk)
        if signing_key.retired_at is not None:
            key_retire(ledger=ledger, key_id=signing_key.key_id)
    return len(published)


def payload_sign(*, organisation: Organisation, payload: bytes) -> dict[str, str]:
    signing_key = signing_key_active(organisation=organisation)
    private_key = keys.KeyStore.default().load(signing_key.key_id)
    return {"key_id": signing_key.key_id, "algorithm": keys.ALGORITHM, "value": keys.sign(private_key, payload)}


def manifest_sign(*, organisation: Organisation, manifest: dict[str, Any]) -> dict[str, Any]:
    """A signed manifest: the signature is over the manifest's RFC 8785 bytes."""
    signature = payload_sign(organisation=organisation, payload=canonical_json(manifest))
    return {"manifest": manifest, "signature": signature}
