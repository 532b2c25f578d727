"""Licence conditions a machine can check, after Story Protocol's Programmable IP Licence (PIL):
the conditions of the common licences by SPDX id, and what a work's conditions may not exceed
of its training data's. The platform refuses a work that would (ledgerline.datasets.terms);
the verifier checks a signed manifest against the same rules.
"""

import datetime
from dataclasses import asdict, dataclass, replace
from decimal import Decimal
from fractions import Fraction
from typing import Any

from license_expression import AND, OR, ExpressionError, LicenseSymbol, get_spdx_licensing

WORLDWIDE = "*"


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

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Conditions":
        """What `to_json` wrote (a signed manifest's conditions); KeyError or ValueError if not."""
        return cls(
            commercial_use=bool(data["commercial_use"]),
            derivatives=bool(data["derivatives"]),
            attribution=bool(data.get("attribution", False)),
            share_alike=bool(data.get("share_alike", False)),
            revenue_share=Decimal(str(data.get("revenue_share", "0"))),
            territories=tuple(data.get("territories") or (WORLDWIDE,)),
            expires=datetime.date.fromisoformat(data["expires"]) if data.get("expires") else None,
        )


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
    territories = intersect(a.territories, b.territories)
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


def intersect(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[str, ...]:
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


def exceeded(
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
    if intersect(work.territories, terms.territories) != work.territories:
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
