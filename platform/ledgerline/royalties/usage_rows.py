"""A usage event as one row of the usage table, in the values the database takes.

A NamedTuple, not a dataclass: it is a tuple, so the bulk insert hands rows to the driver (or
flattens them into parameters) as they are, with no conversion per row.
"""

from operator import attrgetter
from typing import Any, NamedTuple


class UsageRow(NamedTuple):
    """One row, its fields the table's columns in the order the SQL names them. Ids, dates and
    times are as the database adapts them (`get_db_prep_value`, `adapt_datefield_value`), so a row
    read back compares equal to the row the parser made for the same line."""

    organisation_id: Any
    work_id: Any  # None for a reversal until it takes its target's work
    event_id: str
    kind: str
    original_id: int | None  # the first event of a correction chain; None for a usage
    service: str
    territory: str
    usage_type: str
    units: int
    revenue_micros: int
    amount_micros: int  # what the row adds to statements: a correction's change, not its revenue
    currency: str
    period_start: Any
    period_end: Any
    reported_at: Any
    reported_by_id: int | None


COLUMNS: tuple[str, ...] = UsageRow._fields

# What must match for a line to be the same event again.
SAME = (
    "work_id",
    "kind",
    "service",
    "territory",
    "usage_type",
    "units",
    "revenue_micros",
    "currency",
    "period_start",
    "period_end",
)
same_values = attrgetter(*SAME)
