"""The usage table in raw SQL, for the import's speed: event ids looked up by the unique index
(their digests tell a duplicate from a clash), new rows inserted in bulk (COPY on PostgreSQL,
multi-row INSERTs on SQLite). Values read back are turned into the types the parser gives, so a
row read back compares equal to the same line parsed."""

import datetime
import functools
from typing import Any, NamedTuple

from django.db import connection
from django.db.backends.base.base import BaseDatabaseWrapper

from ledgerline.royalties.models import UsageEvent
from ledgerline.royalties.usage_rows import COLUMNS, UsageRow
from ledgerline.works.models import Work

ROWS_PER_INSERT = 1000  # 17,000 parameters: within SQLite's and PostgreSQL's limits
TABLE = UsageEvent._meta.db_table
# The columns read back: all but reported_at and reported_by_id, which no comparison needs.
READ = (*COLUMNS[:14], "digest")


class ChainTarget(NamedTuple):
    """The event a correction or reversal names, and what a correction must keep of it."""

    id: int
    original_id: int | None
    work_id: Any
    currency: str
    period_start: Any
    period_end: Any


def last_id() -> int:
    """The highest id in the table: rows above it were inserted after this call."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {TABLE}")
        return int(cursor.fetchone()[0])


def rows_lookup(db: BaseDatabaseWrapper, organisation_id: Any, event_ids: list[str]) -> dict[str, tuple[int, bytes]]:
    """{event id: (row id, digest)} of the rows recorded with these event ids: one lookup
    through the (organisation, event id) unique index, the values compared by their digest.
    ``db`` is the import's connection: this runs on its writer thread."""
    params: list[Any]
    if db.vendor == "postgresql":  # one array parameter, not thousands
        where, params = "event_id = ANY(%s)", [event_ids]
    else:
        where, params = f"event_id IN ({', '.join(['%s'] * len(event_ids))})", event_ids
    with db.cursor() as cursor:
        cursor.execute(
            f"SELECT event_id, id, digest FROM {TABLE} WHERE organisation_id = %s AND {where}",
            [organisation_id, *params],
        )
        return {event_id: (pk, bytes(digest)) for event_id, pk, digest in cursor.fetchall()}


def rows_insert(db: BaseDatabaseWrapper, rows: list[UsageRow]) -> None:
    """Insert rows whose event ids are new (`rows_lookup` found none, and the organisation's
    import lock keeps it so). PostgreSQL: one COPY straight into the table. SQLite: one
    statement per 1,000 rows."""
    with db.cursor() as cursor:
        if db.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {TABLE} ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return
        for start in range(0, len(rows), ROWS_PER_INSERT):
            part = rows[start : start + ROWS_PER_INSERT]
            cursor.execute(_insert_sql(len(part)), [value for row in part for value in row])


@functools.cache
def _insert_sql(rows: int) -> str:
    values = "(" + ", ".join(["%s"] * len(COLUMNS)) + ")"
    return f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}) VALUES {', '.join([values] * rows)}"


def row_insert(row: UsageRow) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}) VALUES ({', '.join(['%s'] * len(COLUMNS))})", row)


def row_recorded(organisation_id: Any, event_id: str) -> UsageRow | None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {', '.join(READ)} FROM {TABLE} WHERE organisation_id = %s AND event_id = %s",
            [organisation_id, event_id],
        )
        row = cursor.fetchone()
    return None if row is None else _row(row)


def chain_target(organisation_id: Any, event_id: str) -> ChainTarget | None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id, original_id, work_id, currency, period_start, period_end FROM {TABLE} "
            "WHERE organisation_id = %s AND event_id = %s",
            [organisation_id, event_id],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    pk, original_id, work_id, currency, start, end = row
    return ChainTarget(pk, original_id, _work_value(work_id), currency, _date_value(start), _date_value(end))


def chain_amounts(organisation_id: Any, original_id: int) -> dict[str, int]:
    """What a correction chain (its first event and every event recorded against it) adds up to, by kind."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT kind, COALESCE(SUM(amount_micros), 0) FROM {TABLE} "
            f"WHERE organisation_id = %s AND (id = %s OR original_id = %s) GROUP BY kind",
            [organisation_id, original_id, original_id],
        )
        return dict(cursor.fetchall())


def _row(values: tuple[Any, ...]) -> UsageRow:
    """A row as read back (READ's columns) in the types the parser gives; reported_at and
    reported_by_id, not read, are None."""
    organisation_id, work_id, *middle, start, end, digest = values  # middle: event_id to currency
    start, end = _date_value(start), _date_value(end)
    return UsageRow._make((organisation_id, _work_value(work_id), *middle, start, end, None, None, bytes(digest)))


def _work_value(value: Any) -> Any:
    """A work id read back by a raw query, as the parser has it (PostgreSQL gives UUIDs)."""
    if value is None or isinstance(value, str):
        return value
    return Work._meta.pk.get_db_prep_value(value, connection)


def _date_value(value: Any) -> Any:
    """A date read back by a raw query, as the parser has it."""
    return connection.ops.adapt_datefield_value(value) if isinstance(value, datetime.date) else value
