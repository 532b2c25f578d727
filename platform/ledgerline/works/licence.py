"""A work's licence conditions: those its licence (an SPDX id or a LicenseRef) carries, refined
by the conditions its request spells out."""

from typing import Any

from ledgerline.datasets.terms import Conditions, conditions_clean, conditions_of
from ledgerline.errors import LedgerlineError

DEFAULT_LICENCE = "LicenseRef-All-Rights-Reserved"


def work_conditions(parameters: dict[str, Any]) -> Conditions:
    """A work's licence conditions: those of its `licence` (SPDX id or LicenseRef) refined by
    `licence_conditions`; a licence Ledgerline has no conditions for needs them all spelt out."""
    spdx = parameters.get("licence", DEFAULT_LICENCE)
    explicit = parameters.get("licence_conditions")
    if explicit is not None:
        return conditions_clean(
            explicit, base=conditions_of(spdx=spdx, explicit=None), field="parameters.licence_conditions"
        )
    conditions = conditions_of(spdx=spdx, explicit=None)
    if conditions is None:
        raise LedgerlineError(
            f"parameters: Ledgerline has no conditions for the licence {spdx!r}; give licence_conditions "
            "(commercial_use, derivatives, territories, expires ...).",
            fields={"parameters": ["licence_conditions"]},
        )
    return conditions
