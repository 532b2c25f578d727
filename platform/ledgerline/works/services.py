import secrets
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction

from ledgerline.accounts.models import Organisation
from ledgerline.errors import LedgerlineError, json_field_check
from ledgerline.provenance.services import audit_append
from ledgerline.training.models import ModelArtifact
from ledgerline.works.models import Work

# Seeds stay within JSON's exact integers, so manifests (RFC 8785) and every parser keep them.
MAX_SEED = 2**53 - 1


@transaction.atomic
def work_request(*, organisation: Organisation, title: str, model: ModelArtifact, parameters: dict[str, Any],
                 created_by: User, seed: int | None = None) -> Work:
    """Record a generation request. A seed not given is drawn here and recorded, so the
    work can be regenerated; the generation worker (issue 6) picks it up."""
    json_field_check("parameters", parameters)
    if model.run.organisation_id != organisation.pk:
        raise LedgerlineError("A work can only be generated with a model of its own organisation.")
    if seed is None:
        seed = secrets.randbelow(MAX_SEED + 1)
    work = Work.objects.create(organisation=organisation, title=title.strip(), model=model, seed=seed,
                               parameters=parameters, created_by=created_by)
    audit_append(organisation=organisation, actor=created_by, action="work.request", obj=work,
                 data={"title": work.title, "model": str(model.pk), "model_sha256": model.blob.sha256,
                       "seed": seed, "parameters": parameters})
    return work
