"""Royalty policies, ISRCs, and the usage royalty systems report.

Money is kept in integer millionths of the currency's major unit (micros), so sums are exact in
SQLite and PostgreSQL alike and per-stream revenue (0.0034 USD) is kept as reported.
"""

from decimal import Decimal

from django.conf import settings
from django.db import models

from ledgerline.models import BaseModel

MICROS = 1_000_000


class RoyaltyPolicy(BaseModel):
    """How an organisation's works share their revenue: `data_share` to the training data's
    rights holders (weighted by their files' share of the training tokens), `platform_share` to
    Ledgerline, the rest to the organisation; `resale_bps` is the ERC-2981 royalty on resales.
    A work's split is fixed in its signed manifest when it is signed."""

    organisation = models.OneToOneField("accounts.Organisation", on_delete=models.CASCADE, related_name="royalty")
    data_share = models.DecimalField(max_digits=13, decimal_places=12, default=Decimal("0.3"))
    platform_share = models.DecimalField(max_digits=13, decimal_places=12, default=Decimal("0.05"))
    resale_bps = models.PositiveIntegerField(default=500)
    imports = models.PositiveBigIntegerField(default=0, help_text="bumped by each import: its row lock")

    class Meta(BaseModel.Meta):
        constraints = [
            models.CheckConstraint(
                condition=models.Q(data_share__gte=0, platform_share__gte=0, resale_bps__lte=10_000),
                name="policy_in_range",
            )
        ]

    def __str__(self) -> str:
        return f"{self.organisation}: data {self.data_share}, platform {self.platform_share}"


class Registrant(BaseModel):
    """The organisation's ISRC registrant code (from its national ISRC agency) and the last
    designation code it gave out in each year."""

    organisation = models.OneToOneField("accounts.Organisation", on_delete=models.CASCADE, related_name="registrant")
    country = models.CharField(max_length=2)
    code = models.CharField(max_length=3)
    year = models.PositiveIntegerField()
    last_designation = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.country}-{self.code}"


class Isrc(BaseModel):
    work = models.OneToOneField("works.Work", on_delete=models.PROTECT, related_name="isrc")
    code = models.CharField(max_length=12, unique=True)

    def __str__(self) -> str:
        return self.code


class EventKind(models.TextChoices):
    USAGE = "usage"
    CORRECTION = "correction"  # replaces what an earlier event reported
    REVERSAL = "reversal"  # takes an earlier event back entirely


class UsageEvent(models.Model):
    """One line of a usage report (a DDEX DSR sales/usage line). `revenue_micros` is what the
    line says; `amount_micros` is what it adds to the totals: the revenue itself for a usage,
    the difference to the event it corrects, minus that event's value for a reversal. `digest`
    is the SHA-256 of the event's canonical form (`usage_rows.event_digest`): a line sent again
    is found by its id through the unique index and recognised by its digest alone.

    This table takes millions of rows per import, so it carries no index and no foreign key
    constraint that the import would pay for on every row and no query needs: the organisation,
    work and reporter are checked by the import itself (which takes work ids only from the
    organisation's released works, and works are never deleted), and Django's PROTECT still
    refuses to delete what an event refers to. On PostgreSQL the three deferred constraints
    cost more at commit than inserting the rows (10.7 against 7.7 us a row, measured)."""

    id = models.BigAutoField(primary_key=True)
    # Indexed only as below: each index is paid for by every row of a million-line import.
    organisation = models.ForeignKey(
        "accounts.Organisation", on_delete=models.PROTECT, related_name="+", db_index=False, db_constraint=False
    )
    work = models.ForeignKey(
        "works.Work", on_delete=models.PROTECT, related_name="usage_events", db_index=False, db_constraint=False
    )
    event_id = models.CharField(max_length=100, help_text="the reporter's id: a retry with it counts once")
    kind = models.CharField(max_length=10, choices=EventKind.choices, default=EventKind.USAGE)
    original = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    service = models.CharField(max_length=100)
    territory = models.CharField(max_length=9)
    usage_type = models.CharField(max_length=40)
    units = models.BigIntegerField()
    revenue_micros = models.BigIntegerField()
    amount_micros = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    period_start = models.DateField()
    period_end = models.DateField()
    reported_at = models.DateTimeField()
    reported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    digest = models.BinaryField(max_length=32, help_text="SHA-256 of the event's canonical form")

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["organisation", "event_id"], name="one_event_per_id")]
        indexes = [
            models.Index(fields=["organisation", "period_start"], name="usage_by_period"),
            models.Index(fields=["original"], condition=models.Q(original__isnull=False), name="usage_corrections"),
        ]

    def __str__(self) -> str:
        return self.event_id


class Release(BaseModel):
    """Released works grouped as one product (a single, an EP, an album), sent to distributors
    as a DDEX ERN NewReleaseMessage (royalties.ern). `icpn` is its UPC or EAN, where it has one."""

    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="releases")
    title = models.CharField(max_length=200)
    icpn = models.CharField(max_length=13, blank=True, help_text="UPC (12 digits) or EAN (13), check digit checked")
    label_name = models.CharField(max_length=200, help_text="the label it is released under")
    release_date = models.DateField(null=True, blank=True)
    sender_dpid = models.CharField(
        max_length=40, blank=True, help_text="the DDEX Party ID (PADPIDA...) its ERN messages are sent under"
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")

    def __str__(self) -> str:
        return self.title


class ReleaseTrack(BaseModel):
    """A release's works: each at its place (1, 2, ...)."""

    release = models.ForeignKey(Release, on_delete=models.CASCADE, related_name="tracks")
    work = models.ForeignKey("works.Work", on_delete=models.PROTECT, related_name="release_tracks")
    sequence = models.PositiveIntegerField()

    class Meta(BaseModel.Meta):
        ordering = ["release", "sequence"]
        constraints = [
            models.UniqueConstraint(fields=["release", "sequence"], name="one_track_per_place"),
            models.UniqueConstraint(fields=["release", "work"], name="one_place_per_work"),
        ]

    def __str__(self) -> str:
        return f"{self.release} {self.sequence}"
