"""Generated works: which model made them, from which seed and parameters, and their
outputs and manifest. Generation itself arrives with the workers (issue 6)."""

from django.conf import settings
from django.db import models

from ledgerline.models import BaseModel


class WorkStatus(models.TextChoices):
    REQUESTED = "requested"
    GENERATED = "generated"
    CHECKED = "checked"
    SIGNED = "signed"
    PINNED = "pinned"
    MINTED = "minted"
    CONFIRMED = "confirmed"
    HELD = "held"
    FAILED = "failed"


class Work(BaseModel):
    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="works")
    title = models.CharField(max_length=200)
    model = models.ForeignKey("training.ModelArtifact", on_delete=models.PROTECT, related_name="works")
    status = models.CharField(max_length=16, choices=WorkStatus.choices, default=WorkStatus.REQUESTED)
    seed = models.BigIntegerField()
    parameters = models.JSONField(default=dict)
    manifest = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")

    def __str__(self) -> str:
        return self.title


class WorkOutput(BaseModel):
    work = models.ForeignKey(Work, on_delete=models.CASCADE, related_name="outputs")
    kind = models.CharField(max_length=16)  # midi, wav, tokens
    blob = models.ForeignKey("datasets.Blob", on_delete=models.PROTECT, related_name="+")
    media_type = models.CharField(max_length=40)

    class Meta(BaseModel.Meta):
        ordering = ["kind"]

    def __str__(self) -> str:
        return f"{self.work} {self.kind}"
