"""Verifications (what was handed in, the verdict, and who may read it) and the fingerprint
index that finds a registered work from a copy whose bytes changed."""

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models

from ledgerline.models import BaseModel


class Verification(BaseModel):
    """One verdict. `result` is the full report; anyone with its id reads the public part of it,
    members of the work's organisation read all of it (lineage included)."""

    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    organisation = models.ForeignKey(
        "accounts.Organisation",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="the organisation of the work it names, if any",
    )
    work = models.ForeignKey("works.Work", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    subject_kind = models.CharField(max_length=16)  # file, token, hash, manifest
    subject_sha256 = models.CharField(max_length=64, blank=True)
    verdict = models.CharField(max_length=16)
    result = models.JSONField(default=dict, encoder=DjangoJSONEncoder)
    regeneration = models.JSONField(default=dict, blank=True, help_text="{status, ...} when asked for")

    def __str__(self) -> str:
        return f"{self.verdict} {self.subject_kind} {self.subject_sha256[:12]}"


class AudioLandmark(models.Model):
    """One spectral-peak pair of a confirmed work's released audio (ledgerline_verify.fingerprint)."""

    work = models.ForeignKey("works.Work", on_delete=models.CASCADE, related_name="+")
    hash = models.IntegerField(db_index=True)
    frame = models.IntegerField()

    class Meta:
        ordering = ["work", "frame"]

    def __str__(self) -> str:
        return f"{self.hash:06x}@{self.frame}"


class NoteGram(models.Model):
    """One run of intervals of a confirmed work's MIDI score."""

    work = models.ForeignKey("works.Work", on_delete=models.CASCADE, related_name="+")
    hash = models.BigIntegerField(db_index=True)

    class Meta:
        ordering = ["work"]
        constraints = [models.UniqueConstraint(fields=["work", "hash"], name="one_gram_per_work")]

    def __str__(self) -> str:
        return f"{self.hash:016x}"
