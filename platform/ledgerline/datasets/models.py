"""Datasets of MIDI and audio, their files, frozen versions, licences, rights and consent."""

from django.conf import settings
from django.db import models

from ledgerline.models import BaseModel


class Blob(BaseModel):
    """File content, stored once by its SHA-256 whoever uploads it and however often."""

    sha256 = models.CharField(max_length=64, unique=True)
    size = models.PositiveBigIntegerField()
    cid = models.CharField(max_length=100, blank=True, help_text="on the IPFS node, when hosts share no disk")

    def __str__(self) -> str:
        return self.sha256


class Licensed(models.Model):
    """A licence: an SPDX expression, custom terms, or both."""

    licence_spdx = models.CharField(max_length=200, blank=True)
    licence_terms = models.TextField(blank=True)
    # The fields of C2PA's cawg.training-mining assertion, see datasets/consent.py.
    consent = models.JSONField(default=dict)

    class Meta:
        abstract = True


class Dataset(BaseModel, Licensed):
    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="datasets")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    licence_conditions = models.JSONField(default=dict, blank=True, help_text="see royalties.terms")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")

    def __str__(self) -> str:
        return self.name


class DatasetFile(BaseModel, Licensed):
    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="files")
    blob = models.ForeignKey(Blob, on_delete=models.PROTECT, related_name="dataset_files")
    path = models.CharField(max_length=500)
    media_type = models.CharField(max_length=40)
    duration_seconds = models.FloatField()
    details = models.JSONField(default=dict)
    tags = models.JSONField(default=list, blank=True, help_text="words describing it: instrument, genre, mood, artist")
    caption = models.CharField(max_length=500, blank=True)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")

    class Meta(BaseModel.Meta):
        ordering = ["path"]
        constraints = [
            models.UniqueConstraint(fields=["dataset", "path"], name="one_path_per_dataset"),
            models.UniqueConstraint(fields=["dataset", "blob"], name="one_copy_per_dataset"),
        ]

    def __str__(self) -> str:
        return self.path


class RightsHolder(BaseModel):
    """Someone owed a share: a composer, a performer, a publisher, a label."""

    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="rights_holders")
    name = models.CharField(max_length=200)
    identifier = models.CharField(max_length=100, blank=True, help_text="ISNI, IPI or another public id")
    account = models.ForeignKey(
        "accounts.Organisation",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="held_rights",
        help_text="its members see this holder's statements",
    )
    wallet = models.CharField(
        max_length=42,
        blank=True,
        help_text="EIP-55 address its on-chain royalties are paid to; without one they go to its organisation's",
    )

    class Meta(BaseModel.Meta):
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "name", "identifier"], name="unique_rights_holder")
        ]

    def __str__(self) -> str:
        return self.name


class RightsShare(BaseModel):
    """A holder's share of a dataset, or of one file (which then overrides the dataset's)."""

    holder = models.ForeignKey(RightsHolder, on_delete=models.PROTECT, related_name="shares")
    dataset = models.ForeignKey(Dataset, null=True, blank=True, on_delete=models.CASCADE, related_name="shares")
    file = models.ForeignKey(DatasetFile, null=True, blank=True, on_delete=models.CASCADE, related_name="shares")
    share = models.DecimalField(max_digits=9, decimal_places=8)

    class Meta(BaseModel.Meta):
        ordering = ["-share", "holder__name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(dataset__isnull=False, file__isnull=True)
                | models.Q(dataset__isnull=True, file__isnull=False),
                name="share_of_dataset_or_file",
            ),
            models.CheckConstraint(condition=models.Q(share__gt=0, share__lte=1), name="share_between_0_and_1"),
        ]

    def __str__(self) -> str:
        return f"{self.holder}: {self.share}"


class DatasetVersion(BaseModel):
    """A frozen set of files with its Merkle root. It copies what it freezes (the files'
    entries, the dataset's licence, consent and rights holders), so it stays provable and
    its terms stay as they were after the dataset changes."""

    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="versions")
    licence_spdx = models.CharField(max_length=200, blank=True)
    licence_terms = models.TextField(blank=True)
    consent = models.JSONField(default=dict)
    licence_conditions = models.JSONField(default=dict, blank=True)
    rights = models.JSONField(default=list, help_text="[{holder, name, identifier, share}] as frozen")
    number = models.PositiveIntegerField()
    merkle_root = models.CharField(max_length=64)
    file_count = models.PositiveIntegerField()
    total_bytes = models.PositiveBigIntegerField()
    note = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")

    class Meta(BaseModel.Meta):
        ordering = ["dataset", "-number"]
        constraints = [models.UniqueConstraint(fields=["dataset", "number"], name="unique_version_number")]

    def __str__(self) -> str:
        return f"{self.dataset} v{self.number}"


class VersionEntry(models.Model):
    version = models.ForeignKey(DatasetVersion, on_delete=models.CASCADE, related_name="entries")
    leaf_index = models.PositiveIntegerField()
    path = models.CharField(max_length=500)
    sha256 = models.CharField(max_length=64)
    size = models.PositiveBigIntegerField()
    media_type = models.CharField(max_length=40)
    tags = models.JSONField(default=list, blank=True)
    caption = models.CharField(max_length=500, blank=True)
    file = models.ForeignKey(DatasetFile, null=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["version", "leaf_index"]
        constraints = [
            models.UniqueConstraint(fields=["version", "leaf_index"], name="unique_leaf_index"),
            models.UniqueConstraint(fields=["version", "path"], name="unique_leaf_path"),
        ]

    def __str__(self) -> str:
        return self.path


class Upload(BaseModel):
    """A file on its way into a dataset over the resumable protocol (tus, see datasets.resumable).

    The bytes so far sit in a part file beside the blob store on the web host that took them;
    the row holds how many there are and the SHA-256 state after them, so every request goes on
    where the last one stopped and no byte is read twice. Once complete, the file goes through
    the same checks as any upload and into the store, or is refused and deleted.
    """

    class State(models.TextChoices):
        RECEIVING = "receiving"
        COMPLETE = "complete"
        REFUSED = "refused"

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="uploads")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    filename = models.CharField(max_length=500)
    path = models.CharField(max_length=500, help_text="its path in the dataset")
    tags = models.JSONField(default=list, blank=True)
    caption = models.CharField(max_length=500, blank=True)
    length = models.PositiveBigIntegerField()
    offset = models.PositiveBigIntegerField(default=0)
    sha256_state = models.BinaryField(default=b"", help_text="SHA-256 state after `offset` bytes")
    boot_id = models.CharField(max_length=64, blank=True, help_text="the host's boot when `offset` was recorded")
    state = models.CharField(max_length=10, choices=State.choices, default=State.RECEIVING)
    file = models.ForeignKey(DatasetFile, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    error = models.TextField(blank=True)
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return self.filename
