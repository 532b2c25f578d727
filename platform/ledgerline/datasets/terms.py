"""Licence conditions a machine can check, after Story Protocol's Programmable IP Licence (PIL).

Each dataset version and each work has conditions: commercial use, derivatives, attribution,
share-alike (PIL's "derivatives reciprocal"), the revenue share owed to the licensor (PIL's
"commercial revenue share"), the territories and the expiry. They come from the licence's SPDX
id (ledgerline_verify.licences' table, for the common open licences) and are refined or replaced by explicit
`licence_conditions`. A work trained on data may not be used more widely than the data allows:
`licence_blocks` names each dataset condition a work's conditions exceed.

A licence whose conditions are unknown (custom text, an unknown LicenseRef) blocks every use:
Ledgerline cannot vouch for terms it cannot read.
"""

import datetime
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

from ledgerline.errors import LedgerlineError
from ledgerline_verify.licences import (  # noqa: F401 (the platform's names for them)
    ALL_RIGHTS_RESERVED,
    FIELDS,
    SPDX_CONDITIONS,
    WORLDWIDE,
    Conditions,
    exceeded,
    spdx_conditions,
)

TERRITORY = re.compile(r"^[A-Z]{2}$")


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
        for condition, reason in exceeded(work, work_spdx, version.licence_spdx, terms, received, today):
            blocks.append(Block(str(version.pk), name, condition, f"{name} ({licence}): {reason}"))
    return blocks
