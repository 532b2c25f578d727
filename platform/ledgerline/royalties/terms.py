"""Licence conditions a machine can check, after Story Protocol's Programmable IP Licence (PIL).

Each dataset version and each work has conditions: commercial use, derivatives, attribution,
share-alike (PIL's "derivatives reciprocal"), the revenue share owed to the licensor (PIL's
"commercial revenue share"), the territories and the expiry. They come from the licence's SPDX
id (the table below, for the common open licences) and are refined or replaced by explicit
`licence_conditions`. A work trained on data may not be used more widely than the data allows:
`licence_blocks` names each dataset condition a work's conditions exceed.

A licence whose conditions are unknown (custom text, an unknown LicenseRef) blocks every use:
Ledgerline cannot vouch for terms it cannot read.
"""

import datetime
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

from license_expression import AND, OR, ExpressionError, LicenseSymbol, get_spdx_licensing

from ledgerline.errors import LedgerlineError

WORLDWIDE = "*"
TERRITORY = re.compile(r"^[A-Z]{2}$")


@dataclass(frozen=True)
class Conditions:
    commercial_use: bool
    derivatives: bool
    attribution: bool = False
    share_alike: bool = False
    revenue_share: Decimal = Decimal(0)
    territories: tuple[str, ...] = (WORLDWIDE,)
    expires: datetime.date | None = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["revenue_share"] = str(self.revenue_share)
        data["territories"] = list(self.territories)
        data["expires"] = self.expires.isoformat() if self.expires else None
        return data


ALL_RIGHTS_RESERVED = "LicenseRef-All-Rights-Reserved"
_FREE = Conditions(commercial_use=True, derivatives=True)
_BY = Conditions(commercial_use=True, derivatives=True, attribution=True)
_BY_NC = Conditions(commercial_use=False, derivatives=True, attribution=True)
_BY_ND = Conditions(commercial_use=True, derivatives=False, attribution=True)

# The conditions of the common licences, by SPDX id (versions share their conditions).
SPDX_CONDITIONS: dict[str, Conditions] = {
    "CC0-1.0": _FREE,
    "PDDL-1.0": _FREE,
    "Unlicense": _FREE,
    "LicenseRef-Public-Domain": _FREE,
    "ODC-By-1.0": _BY,
    "MIT": _BY,
    "Apache-2.0": _BY,
    "BSD-3-Clause": _BY,
    **{f"CC-BY-{v}": _BY for v in ("2.0", "2.5", "3.0", "4.0")},
    **{f"CC-BY-SA-{v}": replace(_BY, share_alike=True) for v in ("2.0", "2.5", "3.0", "4.0")},
    **{f"CC-BY-NC-{v}": _BY_NC for v in ("2.0", "2.5", "3.0", "4.0")},
    **{f"CC-BY-NC-SA-{v}": replace(_BY_NC, share_alike=True) for v in ("2.0", "2.5", "3.0", "4.0")},
    **{f"CC-BY-ND-{v}": _BY_ND for v in ("2.0", "2.5", "3.0", "4.0")},
    **{f"CC-BY-NC-ND-{v}": replace(_BY_NC, derivatives=False) for v in ("2.0", "2.5", "3.0", "4.0")},
    # The owner's own exploitation, nothing granted to others: what a label does with its works.
    ALL_RIGHTS_RESERVED: Conditions(commercial_use=True, derivatives=False),
}

FIELDS = tuple(Conditions.__dataclass_fields__)


def _weaker(a: Conditions, b: Conditions) -> Conditions:
    """What both licences allow (an AND of licences)."""
    territories = _intersect(a.territories, b.territories)
    return Conditions(
        commercial_use=a.commercial_use and b.commercial_use,
        derivatives=a.derivatives and b.derivatives,
        attribution=a.attribution or b.attribution,
        share_alike=a.share_alike or b.share_alike,
        revenue_share=max(a.revenue_share, b.revenue_share),
        territories=territories,
        expires=min((d for d in (a.expires, b.expires) if d), default=None),
    )


def _stronger(a: Conditions, b: Conditions) -> Conditions:
    """What either licence allows (an OR: the licensee picks)."""
    return (
        a
        if (a.commercial_use, a.derivatives, not a.share_alike) >= (b.commercial_use, b.derivatives, not b.share_alike)
        else b
    )


def _intersect(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[str, ...]:
    if WORLDWIDE in a:
        return b
    if WORLDWIDE in b:
        return a
    return tuple(sorted(set(a) & set(b)))


def spdx_conditions(spdx: str) -> Conditions | None:
    """The conditions of an SPDX expression, or None where a part of it is not in the table."""
    if not spdx:
        return None
    try:
        parsed = get_spdx_licensing().parse(spdx)
    except ExpressionError:
        return None
    return _expression(parsed)


def _expression(node: Any) -> Conditions | None:
    if isinstance(node, LicenseSymbol):
        return SPDX_CONDITIONS.get(node.key)
    parts = [_expression(arg) for arg in node.args]
    if any(part is None for part in parts):
        return None
    combine = _weaker if isinstance(node, AND) else _stronger if isinstance(node, OR) else None
    if combine is None:
        return None
    result = parts[0]
    for part in parts[1:]:
        result = combine(result, part)  # type: ignore[arg-type]
    return result


def conditions_clean(data: Any, *, base: Conditions | None = None, field: str = "licence_conditions") -> Conditions:
    """Explicit conditions (a JSON object with any of FIELDS) over ``base`` (from the SPDX id).
    Without a base every one of commercial_use and derivatives must be given."""
    if not isinstance(data, Mapping):
        raise LedgerlineError(f"{field} must be an object with {', '.join(FIELDS)}.", fields={field: ["not an object"]})
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise LedgerlineError(
            f"{field}: unknown condition {unknown[0]!r}; the conditions are {', '.join(FIELDS)}.",
            fields={field: [f"unknown {unknown[0]!r}"]},
        )
    if base is None:
        missing = [name for name in ("commercial_use", "derivatives") if name not in data]
        if missing:
            raise LedgerlineError(
                f"{field}: {missing[0]} is needed where the licence is not a known SPDX id.",
                fields={field: [f"{missing[0]} missing"]},
            )
        base = Conditions(commercial_use=False, derivatives=False)
    values: dict[str, Any] = {}
    for name in ("commercial_use", "derivatives", "attribution", "share_alike"):
        if name in data:
            if not isinstance(data[name], bool):
                raise LedgerlineError(f"{field}: {name} must be true or false.", fields={field: [name]})
            values[name] = data[name]
    if "revenue_share" in data:
        try:
            share = Decimal(str(data["revenue_share"]))
        except InvalidOperation:
            share = Decimal("NaN")
        if isinstance(data["revenue_share"], bool) or not share.is_finite() or not 0 <= share <= 1:
            raise LedgerlineError(
                f'{field}: revenue_share must be a decimal from 0 to 1, e.g. "0.25".', fields={field: ["revenue_share"]}
            )
        values["revenue_share"] = share
    if "territories" in data:
        territories = data["territories"]
        if (
            not isinstance(territories, list)
            or not territories
            or not all(isinstance(t, str) and (t == WORLDWIDE or TERRITORY.match(t)) for t in territories)
        ):
            raise LedgerlineError(
                f'{field}: territories must be a list of ISO 3166 two-letter country codes, or ["*"] for worldwide.',
                fields={field: ["territories"]},
            )
        values["territories"] = (WORLDWIDE,) if WORLDWIDE in territories else tuple(sorted(set(territories)))
    if "expires" in data:
        values["expires"] = _date(data["expires"], field)
    return replace(base, **values)


def _date(value: Any, field: str) -> datetime.date | None:
    if value is None:
        return None
    try:
        return datetime.date.fromisoformat(value)
    except (TypeError, ValueError):
        raise LedgerlineError(
            f"{field}: expires must be a date (YYYY-MM-DD) or null.", fields={field: ["expires"]}
        ) from None


def conditions_of(*, spdx: str, explicit: Mapping[str, Any] | None) -> Conditions | None:
    """A licence's conditions: the SPDX id's, refined by the explicit ones; None if unknown."""
    base = spdx_conditions(spdx)
    if explicit:
        return conditions_clean(explicit, base=base)
    return base


@dataclass(frozen=True)
class Block:
    """One dataset condition that a work's licence goes beyond."""

    dataset_version: str
    dataset: str
    condition: str
    reason: str


def licence_blocks(
    *,
    work: Conditions,
    work_spdx: str,
    data: list[tuple[Any, Conditions | None, Fraction]],
    today: datetime.date,
) -> list[Block]:
    """Each condition of the training data (``data``: (dataset version, its conditions, the share
    of a work's revenue its rights holders receive)) that the work's conditions, or that share,
    go beyond. Attribution never blocks: every work's signed manifest and C2PA credentials name
    its datasets."""
    blocks = []
    for version, terms, received in data:
        name = f"{version.dataset.name} v{version.number}"
        licence = version.licence_spdx or "custom terms"
        for condition, reason in _exceeded(work, work_spdx, version.licence_spdx, terms, received, today):
            blocks.append(Block(str(version.pk), name, condition, f"{name} ({licence}): {reason}"))
    return blocks


def _exceeded(
    work: Conditions,
    work_spdx: str,
    data_spdx: str,
    terms: Conditions | None,
    received: Fraction,
    today: datetime.date,
) -> list[tuple[str, str]]:
    if terms is None:
        return [("licence", "its licence has no conditions Ledgerline can check; set the dataset's licence_conditions")]
    found = []
    if work.commercial_use and not terms.commercial_use:
        found.append(("commercial_use", "does not allow commercial use"))
    if not terms.derivatives:
        found.append(
            ("derivatives", "does not allow derivative works, and a generated work derives from its training data")
        )
    if terms.share_alike and work_spdx != data_spdx:
        found.append(("share_alike", f"is share-alike: works from it must carry the same licence, not {work_spdx}"))
    if _intersect(work.territories, terms.territories) != work.territories:
        outside = (
            ["worldwide"] if WORLDWIDE in work.territories else sorted(set(work.territories) - set(terms.territories))
        )
        found.append(
            ("territories", f"covers {', '.join(terms.territories)} only; the work asks for {', '.join(outside)}")
        )
    if terms.expires is not None:
        if terms.expires <= today:
            found.append(("expires", f"expired on {terms.expires}"))
        elif work.expires is None or work.expires > terms.expires:
            found.append(("expires", f"ends on {terms.expires}; the work's licence must end by then"))
    if Fraction(terms.revenue_share) > received:
        given = round(Decimal(received.numerator) / received.denominator, 6).normalize()
        found.append(
            (
                "revenue_share",
                f"asks {terms.revenue_share} of revenue for its rights holders; they would get {given} "
                "(the policy's data share, by this data's part of the training tokens)",
            )
        )
    return found
