"""A work's one way from status to status: `advance` moves it and records what the step made in
one transaction, under a row lock that re-reads the status, so a step takes effect once."""

import io
from typing import Any

from django.db import transaction

from ledgerline.datasets.blobs import blob_file
from ledgerline.datasets.models import Blob
from ledgerline.datasets.services import blob_store
from ledgerline.provenance.services import audit_append
from ledgerline.works.manifest import MEDIA
from ledgerline.works.models import Work, WorkOutput


def advance(
    work: Work,
    expected: str,
    new: str,
    *,
    outputs: dict[str, Blob] | None = None,
    audit: dict[str, Any] | None = None,
    **fields: Any,
) -> bool:
    """Move ``work`` from ``expected`` to ``new`` with what the step made, all or nothing.
    False (and nothing written) when another worker got there first."""
    with transaction.atomic():
        locked = Work.objects.select_for_update().get(pk=work.pk)
        if locked.status != expected:
            return False
        for kind, blob in (outputs or {}).items():
            WorkOutput.objects.create(work=locked, kind=kind, blob=blob, media_type=MEDIA[kind])
        for name, value in fields.items():
            setattr(locked, name, value)
        locked.status = new
        locked.save()
        audit_append(organisation=locked.organisation, actor=None, action=f"work.{new}", obj=locked, data=audit or {})
    for name, value in {**fields, "status": new}.items():
        setattr(work, name, value)
    return True


def blob_put(data: bytes) -> Blob:
    return blob_store(io.BytesIO(data))


def output_bytes(work: Work, kind: str) -> bytes:
    blob = work.outputs.get(kind=kind).blob
    return blob_file(blob.sha256).read_bytes()
