"""Training runs and the model artifacts they produce. A run is queued by the API, trained
by a worker of the `gpu` queue, and its checkpoint signed, pinned and anchored on chain."""

from django.conf import settings
from django.db import models

from ledgerline.models import BaseModel


class RunStatus(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class ConsentPolicy(models.TextChoices):
    EXCLUDE = "exclude"  # train without the files whose consent forbids it, and record them
    REFUSE = "refuse"  # refuse the whole run if any file forbids it


class TrainingRun(BaseModel):
    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="training_runs")
    name = models.CharField(max_length=200)
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.QUEUED)
    config = models.JSONField(default=dict)
    code_version = models.CharField(max_length=100, blank=True)
    dataset_versions = models.ManyToManyField("datasets.DatasetVersion", related_name="training_runs")
    base_model = models.ForeignKey(
        "training.ModelArtifact",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="derived_runs",
        help_text="the model this run continues (pretrained); its data counts in the new model's lineage",
    )
    consent_policy = models.CharField(max_length=16, choices=ConsentPolicy.choices, default=ConsentPolicy.EXCLUDE)
    excluded = models.JSONField(default=list, help_text="[{version, path, sha256, reason}] left out for consent")
    metrics = models.JSONField(default=dict)
    progress = models.JSONField(default=dict, help_text="step, loss and the loss curve while it trains")
    snapshot = models.JSONField(
        default=dict, help_text="the last resume point, {step, files}, when hosts share no disk (training.snapshots)"
    )
    checkpoint = models.JSONField(
        default=dict, help_text="the trained checkpoint folder's files, {path: {sha256, size, cid}}, once trained"
    )
    error = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")

    def __str__(self) -> str:
        return self.name


class ModelArtifact(BaseModel):
    """Trained weights: their hash, the model-signing bundle over the checkpoint folder, the
    folder's CID and when the chain anchored the weights' hash. Each is filled in once."""

    run = models.ForeignKey(TrainingRun, on_delete=models.PROTECT, related_name="artifacts")
    name = models.CharField(max_length=200)
    blob = models.ForeignKey("datasets.Blob", on_delete=models.PROTECT, related_name="+")
    signature = models.JSONField(default=dict, help_text="the OpenSSF model-signing bundle (model.sig)")
    key_id = models.CharField(max_length=80, blank=True, help_text="the signing key")
    cid = models.CharField(max_length=100, blank=True, help_text="the checkpoint folder, model.sig included")
    anchored_at = models.PositiveBigIntegerField(null=True, blank=True, help_text="chain time of anchorModel")

    def __str__(self) -> str:
        return self.name
