"""Training runs and the model artifacts they produce. The GPU workers (issue 6) fill
them in; here they have their shape, their owner and their API."""

from django.conf import settings
from django.db import models

from ledgerline.models import BaseModel


class RunStatus(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class TrainingRun(BaseModel):
    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="training_runs")
    name = models.CharField(max_length=200)
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.QUEUED)
    config = models.JSONField(default=dict)
    code_version = models.CharField(max_length=100, blank=True)
    dataset_versions = models.ManyToManyField("datasets.DatasetVersion", related_name="training_runs")
    metrics = models.JSONField(default=dict)
    error = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")

    def __str__(self) -> str:
        return self.name


class ModelArtifact(BaseModel):
    """Trained weights: their hash, and the signature over it."""

    run = models.ForeignKey(TrainingRun, on_delete=models.PROTECT, related_name="artifacts")
    name = models.CharField(max_length=200)
    blob = models.ForeignKey("datasets.Blob", on_delete=models.PROTECT, related_name="+")
    signature = models.JSONField(default=dict)

    def __str__(self) -> str:
        return self.name
