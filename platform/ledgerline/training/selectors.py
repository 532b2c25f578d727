from django.db.models import QuerySet

from ledgerline.training.models import ModelArtifact, TrainingRun


def training_run_list(*, organisation_ids: list) -> QuerySet[TrainingRun]:
    return (
        TrainingRun.objects.filter(organisation_id__in=organisation_ids)
        .prefetch_related("dataset_versions", "artifacts__blob")
        .select_related("organisation")
    )


def model_artifact_list(*, organisation_ids: list) -> QuerySet[ModelArtifact]:
    return ModelArtifact.objects.filter(run__organisation_id__in=organisation_ids).select_related("run", "blob")
