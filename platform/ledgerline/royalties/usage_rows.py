"""A usage event as one row of the usage table, in the values the database takes.

A NamedTuple, not a dataclass: it is a tuple, so the bulk insert hands rows to the driver (or
flattens them into parameters) as they are, with no conversion per row.
"""

from hashlib import sha256
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
    digest: bytes  # event_digest of the row's values


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


def event_digest(
    event_id: str,
    work: str,
    kind: str,
    service: str,
    territory: str,
    usage_type: str,
    units: int,
    revenue_micros: int,
    currency: str,
    start: str,
    end: str,
) -> bytes:
    """The SHA-256 of an event's canonical form: its id and the values SAME compares, as text
    (the work as its UUID's 32 hex digits, dates YYYY-MM-DD), joined by the unit separator.
    The two free texts (event id and service) are prefixed by their length, so no value can
    shift into the next. Stored digests depend on this form: changing it needs a migration."""
    text = "\x1f".join(
        (
            f"{len(event_id)}:{event_id}",
            work,
            kind,
            f"{len(service)}:{service}",
            territory,
            usage_type,
            str(units),
            str(revenue_micros),
            currency,
            start,
            end,
        )
    )
    return sha256(text.encode()).digest()
