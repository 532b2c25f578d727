from typing import Any

from django.contrib.auth.models import User
from django.db import transaction

from ledgerline.accounts.models import Organisation
from ledgerline.datasets.models import DatasetVersion
from ledgerline.errors import LedgerlineError, json_field_check
from ledgerline.provenance.services import audit_append
from ledgerline.training.models import TrainingRun


@transaction.atomic
def training_run_create(*, organisation: Organisation, name: str, config: dict[str, Any],
                        dataset_versions: list[DatasetVersion], created_by: User,
                        code_version: str = "") -> TrainingRun:
    """Record a run, queued. The training worker (issue 6) picks it up."""
    json_field_check("config", config)
    if not dataset_versions:
        raise LedgerlineError("A training run needs at least one dataset version.")
    foreign = [v for v in dataset_versions if v.dataset.organisation_id != organisation.pk]
    if foreign:
        raise LedgerlineError("A training run can only use dataset versions of its own organisation.")
    run = TrainingRun.objects.create(organisation=organisation, name=name.strip(), config=config,
                                     code_version=code_version, created_by=created_by)
    run.dataset_versions.set(dataset_versions)
    audit_append(organisation=organisation, actor=created_by, action="training_run.create", obj=run,
                 data={"name": run.name, "config": config,
                       "dataset_versions": {str(v.pk): v.merkle_root for v in dataset_versions}})
    return run
