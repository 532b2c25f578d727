"""Royalty writes: policies, registrant codes and ISRCs, and the licence check works pass."""

import datetime
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone

from ledgerline.accounts.models import Organisation
from ledgerline.datasets.models import DatasetVersion, RightsHolder
from ledgerline.datasets.terms import Block, Conditions, conditions_clean, conditions_of, licence_blocks
from ledgerline.errors import Conflict, LedgerlineError
from ledgerline.provenance.services import audit_append
from ledgerline.royalties.isrc import InvalidIsrc, isrc_clean, isrc_make
from ledgerline.royalties.models import Isrc, Registrant, RoyaltyPolicy
from ledgerline.royalties.splits import policy_of, version_weights
from ledgerline.training.models import TrainingRun
from ledgerline.training.selectors import lineage_versions
from ledgerline.works.licence import DEFAULT_LICENCE, work_conditions
from ledgerline.works.models import Work, WorkStatus


def _share(value: Any, name: str) -> Decimal:
    try:
        share = Decimal(str(value))
    except InvalidOperation:
        share = Decimal("NaN")
    if (
        isinstance(value, bool)
        or not share.is_finite()
        or not 0 <= share <= 1
        or share != share.quantize(Decimal("1e-12"))
    ):
        raise LedgerlineError(
            f'{name} must be a decimal from 0 to 1 with at most 12 places, e.g. "0.3".', fields={name: ["0 to 1"]}
        )
    return share


@transaction.atomic
def policy_update(
    *,
    organisation: Organisation,
    updated_by: User,
    data_share: Any = None,
    platform_share: Any = None,
    resale_bps: Any = None,
) -> RoyaltyPolicy:
    """Change how the organisation's works split revenue from now on. Works already signed keep
    the split their manifest records (and the ERC-2981 royalty their batch was minted with)."""
    RoyaltyPolicy.objects.get_or_create(organisation=organisation)
    policy = RoyaltyPolicy.objects.select_for_update().get(organisation=organisation)
    if data_share is not None:
        policy.data_share = _share(data_share, "data_share")
    if platform_share is not None:
        policy.platform_share = _share(platform_share, "platform_share")
    if resale_bps is not None:
        if isinstance(resale_bps, bool) or not isinstance(resale_bps, int) or not 0 <= resale_bps <= 10_000:
            raise LedgerlineError(
                "resale_bps is the ERC-2981 royalty in basis points: 0 to 10000.", fields={"resale_bps": ["0 to 10000"]}
            )
        policy.resale_bps = resale_bps
    if policy.data_share + policy.platform_share > 1:
        raise LedgerlineError(
            f"data_share {policy.data_share.normalize()} and platform_share {policy.platform_share.normalize()} "
            "add up to more than 1.",
            fields={"data_share": ["with platform_share above 1"]},
        )
    policy.save(update_fields=["data_share", "platform_share", "resale_bps", "updated_at"])
    audit_append(
        organisation=organisation,
        actor=updated_by,
        action="royalty_policy.update",
        obj=policy,
        data={
            "data_share": str(policy.data_share),
            "platform_share": str(policy.platform_share),
            "resale_bps": policy.resale_bps,
        },
    )
    return policy


@transaction.atomic
def registrant_set(
    *, organisation: Organisation, updated_by: User, country: str, code: str, year: int | None = None
) -> Registrant:
    """The organisation's ISRC registrant (country and three-character code from its ISRC agency)."""
    year = year or timezone.now().year
    try:
        isrc_make(country=country, registrant=code, year=year, designation=0)
    except InvalidIsrc:
        raise LedgerlineError(
            f"{country}-{code} is not an ISRC country and registrant code (two letters, then three letters or digits).",
            fields={"code": ["CC-XXX"]},
        ) from None
    registrant, _ = Registrant.objects.select_for_update().get_or_create(
        organisation=organisation, defaults={"country": country.upper(), "code": code.upper(), "year": year}
    )
    if (registrant.country, registrant.code) != (country.upper(), code.upper()):
        registrant.country, registrant.code, registrant.year = country.upper(), code.upper(), year
        registrant.last_designation = _last_used(registrant)
        registrant.save()
    audit_append(
        organisation=organisation,
        actor=updated_by,
        action="registrant.set",
        obj=registrant,
        data={"country": registrant.country, "code": registrant.code},
    )
    return registrant


def _last_used(registrant: Registrant) -> int:
    prefix = f"{registrant.country}{registrant.code}{registrant.year % 100:02d}"
    codes = Isrc.objects.filter(code__startswith=prefix).values_list("code", flat=True)
    return max((int(code[7:]) for code in codes), default=0)


def isrc_assign(*, work: Work, code: str | None = None, assigned_by: User | None = None) -> Isrc:
    """The work's ISRC: the one given (e.g. assigned elsewhere) or the next free one of the
    organisation's registrant code in the current year. A work keeps its ISRC; only released
    works get one."""
    given = _isrc_given(code) if code else None
    existing = Isrc.objects.filter(work=work).first()
    if existing is not None:
        if given is not None and given != existing.code:
            raise Conflict(
                f"{work.title} already has the ISRC {existing.code}; a work keeps its ISRC.",
                fields={"isrc": ["already assigned"]},
            )
        return existing
    if work.token_id is None or work.status not in (WorkStatus.MINTED, WorkStatus.CONFIRMED):
        raise Conflict(f"{work.title} is not released yet (it is {work.status}): an ISRC comes with its token.")
    with transaction.atomic():
        value = given or _isrc_next(work.organisation)
        try:
            with transaction.atomic():
                isrc = Isrc.objects.create(work=work, code=value)
        except IntegrityError:
            existing = Isrc.objects.filter(work=work).first()
            if existing is not None:  # another process gave it one meanwhile
                return existing
            raise Conflict(f"The ISRC {value} is already another work's.", fields={"isrc": ["taken"]}) from None
        audit_append(
            organisation=work.organisation, actor=assigned_by, action="work.isrc", obj=work, data={"isrc": value}
        )
    return isrc


def _isrc_given(code: str) -> str:
    try:
        return isrc_clean(code)
    except InvalidIsrc as exc:
        raise LedgerlineError(str(exc), fields={"isrc": ["CC-XXX-YY-NNNNN"]}) from None


def _isrc_next(organisation: Organisation) -> str:
    """The registrant's next designation code, skipping any already given by hand; under its row lock."""
    registrant = Registrant.objects.select_for_update().filter(organisation=organisation).first()
    if registrant is None:
        raise Conflict(
            f"{organisation.name} has no ISRC registrant code yet: an admin sets it.",
            fields={"isrc": ["no registrant code"]},
        )
    year = timezone.now().year
    if registrant.year != year:  # designation codes start again each year
        registrant.year = year
        registrant.last_designation = _last_used(registrant)
    while True:
        registrant.last_designation += 1
        value = isrc_make(
            country=registrant.country, registrant=registrant.code, year=year, designation=registrant.last_designation
        )
        if not Isrc.objects.filter(code=value).exists():
            registrant.save()
            return value


def holder_account_set(*, holder: RightsHolder, account: Organisation | None, updated_by: User) -> RightsHolder:
    """The Ledgerline organisation that speaks for a rights holder: its members see the holder's
    statements (and nothing else of the label's)."""
    holder.account = account
    holder.save(update_fields=["account", "updated_at"])
    audit_append(
        organisation=holder.organisation,
        actor=updated_by,
        action="rights_holder.account",
        obj=holder,
        data={"account": account.slug if account else None},
    )
    return holder


@transaction.atomic
def version_conditions_set(*, version: DatasetVersion, conditions: Any, updated_by: User) -> DatasetVersion:
    """Spell out, once, the conditions of a frozen version whose licence has none Ledgerline can
    read (custom terms, an unknown LicenseRef), so models trained on it can be used. Known
    conditions are never changed: a version keeps the terms it was frozen with."""
    version = DatasetVersion.objects.select_for_update().select_related("dataset").get(pk=version.pk)
    if version_conditions(version) is not None:
        raise Conflict(
            f"{version.dataset.name} v{version.number} already has conditions; a frozen version keeps them.",
            fields={"licence_conditions": ["already set"]},
        )
    conditions_clean(conditions, base=None)
    version.licence_conditions = conditions
    version.save(update_fields=["licence_conditions", "updated_at"])
    audit_append(
        organisation=version.dataset.organisation,
        actor=updated_by,
        action="dataset_version.licence_conditions",
        obj=version,
        data={"licence_conditions": conditions},
    )
    return version


def version_conditions(version: DatasetVersion) -> Conditions | None:
    return conditions_of(spdx=version.licence_spdx, explicit=version.licence_conditions)


def licence_check(*, run: TrainingRun, parameters: dict[str, Any]) -> list[Block]:
    """Each condition of the run's training data that a work's licence (or the share of its
    revenue the data's rights holders would get) goes beyond; empty when the work may be
    released under it."""
    return licence_blocks(
        work=work_conditions(parameters),
        work_spdx=parameters.get("licence", DEFAULT_LICENCE),
        data=licence_data(run=run),
        today=datetime.date.today(),
    )


def licence_data(*, run: TrainingRun) -> list[tuple[DatasetVersion, Conditions | None, Fraction]]:
    """Each dataset version the run trained on, its conditions, and the share of a work's revenue
    its rights holders receive: what a work's licence is checked against."""
    versions = [line.version for line in lineage_versions(run)]  # a pretrained model's data included
    weights, _ = version_weights(run)
    data_share = Fraction(policy_of(run.organisation).data_share)
    return [
        (v, version_conditions(v), data_share * weights.get(str(v.pk), Fraction(0)) if v.rights else Fraction(0))
        for v in versions
    ]


def licence_require(*, run: TrainingRun, parameters: dict[str, Any]) -> None:
    blocks = licence_check(run=run, parameters=parameters)
    if blocks:
        raise LedgerlineError(
            f"The work's licence goes beyond its training data: {blocks[0].reason}.",
            fields={"licence": [block.reason for block in blocks]},
        )
