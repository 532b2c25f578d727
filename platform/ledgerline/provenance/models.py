"""Signing keys (public halves) and the append-only audit log."""

from typing import Any, NoReturn

from django.conf import settings
from django.db import models

from ledgerline.models import BaseModel


class SigningKey(BaseModel):
    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="signing_keys")
    key_id = models.CharField(max_length=80, unique=True)
    algorithm = models.CharField(max_length=32)
    public_key_pem = models.TextField()
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta(BaseModel.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["organisation"], condition=models.Q(retired_at__isnull=True), name="one_active_key_per_org"
            )
        ]

    def __str__(self) -> str:
        return self.key_id


class AuditLogIsAppendOnly(Exception):
    pass


class AuditEntryQuerySet(models.QuerySet["AuditEntry"]):
    def update(self, **kwargs: Any) -> NoReturn:
        raise AuditLogIsAppendOnly("audit entries cannot be changed")

    def delete(self) -> NoReturn:
        raise AuditLogIsAppendOnly("audit entries cannot be deleted")


class AuditEntry(models.Model):
    """One entry of a hash chain: ``entry_hash`` covers the entry and ``prev_hash``.

    Changing or removing any entry breaks the chain from there on; removing the newest
    is caught by AuditHead, which remembers the last sequence number and hash.
    """

    seq = models.PositiveBigIntegerField(primary_key=True)
    created_at = models.DateTimeField()
    organisation = models.ForeignKey("accounts.Organisation", null=True, on_delete=models.PROTECT)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT)
    action = models.CharField(max_length=64)
    object_type = models.CharField(max_length=64)
    object_id = models.CharField(max_length=64)
    data = models.JSONField(default=dict)
    prev_hash = models.CharField(max_length=64)
    entry_hash = models.CharField(max_length=64, unique=True)

    objects = AuditEntryQuerySet.as_manager()

    class Meta:
        ordering = ["seq"]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AuditLogIsAppendOnly("audit entries cannot be changed")
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AuditLogIsAppendOnly("audit entries cannot be deleted")


class AuditHead(models.Model):
    """The single row every append locks: the newest entry's seq and hash."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    seq = models.PositiveBigIntegerField(default=0)
    entry_hash = models.CharField(max_length=64, default="0" * 64)

    def __str__(self) -> str:
        return f"head #{self.seq}"
