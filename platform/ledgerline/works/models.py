"""Generated works: which model made them, from which seed and parameters, their outputs,
signed manifest, CIDs and token. Each work moves through WorkStatus one step at a time, and
every step records its result in the same transaction as the new status (see services)."""

from django.conf import settings
from django.db import models

from ledgerline.models import BaseModel


class WorkStatus(models.TextChoices):
    """The path of a work, in order; HELD and FAILED end it early, with the reason in `error`."""

    REQUESTED = "requested"
    GENERATED = "generated"
    CHECKED = "checked"
    SIGNED = "signed"
    PINNED = "pinned"
    MINTED = "minted"
    CONFIRMED = "confirmed"
    HELD = "held"
    FAILED = "failed"


class Generation(BaseModel):
    """A request for `count` works from one model: work i gets the seed `seed + i`."""

    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="generations")
    title = models.CharField(max_length=200)
    model = models.ForeignKey("training.ModelArtifact", on_delete=models.PROTECT, related_name="generations")
    count = models.PositiveIntegerField()
    seed = models.BigIntegerField()
    parameters = models.JSONField(default=dict)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")

    def __str__(self) -> str:
        return self.title


class Work(BaseModel):
    generation = models.ForeignKey(Generation, null=True, blank=True, on_delete=models.PROTECT, related_name="works")
    index = models.PositiveIntegerField(default=0, help_text="its place in the generation")
    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="works")
    title = models.CharField(max_length=200)
    model = models.ForeignKey("training.ModelArtifact", on_delete=models.PROTECT, related_name="works")
    status = models.CharField(max_length=16, choices=WorkStatus.choices, default=WorkStatus.REQUESTED)
    seed = models.BigIntegerField()
    parameters = models.JSONField(default=dict)
    manifest = models.JSONField(default=dict, blank=True, help_text="{manifest, signature}, signed by the organisation")
    originality = models.JSONField(default=dict, blank=True)
    provenance = models.JSONField(default=dict, blank=True, help_text="what regenerating it takes, as the model said")
    content_sha256 = models.CharField(max_length=64, blank=True, help_text="the released WAV, as minted")
    cid = models.CharField(max_length=100, blank=True, help_text="the work's folder: audio, MIDI, manifest")
    token = models.OneToOneField("ledger.Token", null=True, blank=True, on_delete=models.PROTECT, related_name="work")
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")

    class Meta(BaseModel.Meta):
        ordering = ["-created_at", "index"]
        constraints = [models.UniqueConstraint(fields=["generation", "index"], name="one_work_per_index")]

    def __str__(self) -> str:
        return self.title


class WorkOutput(BaseModel):
    work = models.ForeignKey(Work, on_delete=models.CASCADE, related_name="outputs")
    kind = models.CharField(max_length=16)  # midi, wav (as rendered), audio (the released WAV), manifest
    blob = models.ForeignKey("datasets.Blob", on_delete=models.PROTECT, related_name="+")
    media_type = models.CharField(max_length=40)

    class Meta(BaseModel.Meta):
        ordering = ["kind"]
        constraints = [models.UniqueConstraint(fields=["work", "kind"], name="one_output_per_kind")]

    def __str__(self) -> str:
        return f"{self.work} {self.kind}"
