"""Organisations (labels, artist collectives), their members and API tokens."""

from django.conf import settings
from django.db import models

from ledgerline.models import BaseModel


class Organisation(BaseModel):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    wallet = models.CharField(
        max_length=42, blank=True, help_text="EIP-55 address its on-chain royalties are paid to (accounts.wallets)"
    )

    class Meta(BaseModel.Meta):
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"  # everything, plus members, keys and tokens
    ARTIST = "artist", "Artist"  # creates datasets, runs and works
    AUDITOR = "auditor", "Auditor"  # reads and verifies, changes nothing


WRITE_ROLES = frozenset({Role.ADMIN, Role.ARTIST})


class Membership(BaseModel):
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices)

    class Meta(BaseModel.Meta):
        constraints = [models.UniqueConstraint(fields=["organisation", "user"], name="one_membership_per_org")]

    def __str__(self) -> str:
        return f"{self.user} in {self.organisation} ({self.role})"


class ApiToken(BaseModel):
    """A bearer token acting as one member of one organisation.

    Only the SHA-256 of the secret is kept: tokens are 256-bit random, so a plain hash
    is enough and a database leak gives no usable token.
    """

    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12)
    secret_sha256 = models.CharField(max_length=64, unique=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"
