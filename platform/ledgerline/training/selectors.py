from dataclasses import dataclass

from django.db.models import QuerySet

from ledgerline.datasets.models import DatasetVersion
from ledgerline.training.models import ModelArtifact, TrainingRun


def training_run_list(*, organisation_ids: list) -> QuerySet[TrainingRun]:
    return (
        TrainingRun.objects.filter(organisation_id__in=organisation_ids)
        .prefetch_related("dataset_versions", "artifacts__blob")
        .select_related("organisation", "base_model__blob")
    )


def model_artifact_list(*, organisation_ids: list) -> QuerySet[ModelArtifact]:
    return ModelArtifact.objects.filter(run__organisation_id__in=organisation_ids).select_related("run", "blob")


def run_chain(run: TrainingRun) -> list[TrainingRun]:
    """The run, then the run of the model it continues, and so on back to one trained from scratch."""
    chain = [run]
    while chain[-1].base_model_id is not None:
        base = TrainingRun.objects.select_related("base_model__blob").get(artifacts=chain[-1].base_model_id)
        if any(r.pk == base.pk for r in chain):  # cannot be made through the API; guards a hand-edited row
            raise ValueError(f"the training run {run.name} continues itself")
        chain.append(base)
    return chain


@dataclass(frozen=True)
class LineageVersion:
    """A dataset version in a model's lineage: trained on by its own run (``via`` None) or
    inherited from a pretrained model it continues (``via``, the model whose run trained on it)."""

    version: DatasetVersion
    via: ModelArtifact | None


def lineage_versions(run: TrainingRun) -> list[LineageVersion]:
    """Every dataset version the run's model carries, each once: its own first, then each base
    model's, nearest first. Consent, licences, royalty splits and the manifest all count these."""
    found: list[LineageVersion] = []
    seen: set[object] = set()
    via: ModelArtifact | None = None
    for link in run_chain(run):
        for version in link.dataset_versions.select_related("dataset").order_by("dataset__name", "number"):
            if version.pk not in seen:
                seen.add(version.pk)
                found.append(LineageVersion(version, via))
        via = link.base_model
    return found


def anchored_roots(run: TrainingRun) -> list[str]:
    """The dataset roots the run's model is anchored with: its whole lineage's, one per version."""
    return [line.version.merkle_root for line in lineage_versions(run)]
