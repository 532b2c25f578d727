"""Usage reports: one event, or a file of them (JSON lines or CSV), with the fields of a DDEX DSR
sales/usage line.

Each line names its work by ISRC, token id or content hash (any of them; those given must agree),
the service, the territory (ISO 3166 two letters, or Worldwide), the usage type, the units, the
revenue with its currency (ISO 4217, kept as reported: nothing is converted) and the usage
period. `event_id` is the reporter's: a line whose id is already recorded with the same values is
a duplicate and counts once, with other values it is an error. `kind` is usage (the default),
correction (new values for the event named in `corrects`) or reversal (takes it back).

An import is one transaction, under a lock per organisation: it is recorded whole or not at all.
A file with bad lines is refused whole, every bad line named by number with its reason, unless
the caller asks to keep the good lines (`skip_invalid`), when the bad ones are returned instead.
"""

import csv
import datetime
import functools
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib.auth.models import User
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from ledgerline.accounts.models import Organisation
from ledgerline.royalties.isrc import InvalidIsrc, isrc_clean
from ledgerline.royalties.models import MICROS, EventKind, Isrc, RoyaltyPolicy, UsageEvent
from ledgerline.works.models import Work
from ledgerline_verify import bounded_json

FIELDS = (
    "event_id",
    "isrc",
    "token_id",
    "content_sha256",
    "service",
    "territory",
    "usage_type",
    "units",
    "revenue",
    "currency",
    "period_start",
    "period_end",
    "kind",
    "corrects",
)
REQUIRED = (
    "event_id",
    "service",
    "territory",
    "usage_type",
    "units",
    "revenue",
    "currency",
    "period_start",
    "period_end",
)
# DDEX use types (AVS UseType) a royalty report carries, and the platform's own resale royalty.
USAGE_TYPES = frozenset(
    {
        "OnDemandStream",
        "NonInteractiveStream",
        "Stream",
        "PermanentDownload",
        "ConditionalDownload",
        "Download",
        "Webcast",
        "Broadcast",
        "Performance",
        "Synchronization",
        "Licence",
        "UserGeneratedContent",
        "ResaleRoyalty",
    }
)
WORLDWIDE = "Worldwide"
USAGE, CORRECTION, REVERSAL = EventKind.USAGE.value, EventKind.CORRECTION.value, EventKind.REVERSAL.value
KINDS = frozenset(EventKind.values)
CHUNK = 5000
ROWS_PER_INSERT = 1000  # 16,000 parameters: within SQLite's and PostgreSQL's limits
MAX_REJECTED = 10_000  # reported in full up to here; the count is always exact
COLUMNS = (
    "organisation_id",
    "work_id",
    "event_id",
    "kind",
    "original_id",
    "service",
    "territory",
    "usage_type",
    "units",
    "revenue_micros",
    "amount_micros",
    "currency",
    "period_start",
    "period_end",
    "reported_at",
    "reported_by_id",
)
# What must match for a line to be the same event again (positions in a row).
SAME = (1, 3, 5, 6, 7, 8, 9, 11, 12, 13)


class LineError(ValueError):
    pass


@dataclass
class ImportResult:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)
    rejected_count: int = 0
    lines: int = 0

    @property
    def refused(self) -> bool:
        return bool(self.rejected_count)

    def reject(self, line: int, event_id: Any, reason: str) -> None:
        self.rejected_count += 1
        if len(self.rejected) < MAX_REJECTED:
            self.rejected.append({"line": line, "event_id": event_id, "reason": reason})

    def to_json(self) -> dict[str, Any]:
        return {
            "lines": self.lines,
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "rejected_count": self.rejected_count,
            "rejected": self.rejected,
        }


class _Works:
    """The organisation's released works by ISRC, token id and content hash, as database values."""

    def __init__(self, organisation: Organisation):
        pk = Work._meta.pk
        assert pk is not None
        self.db_id: dict[Any, Any] = {}
        self.by_hash: dict[str, Any] = {}
        self.by_token: dict[int, Any] = {}
        rows = Work.objects.filter(organisation=organisation, token__isnull=False).values_list(
            "pk", "content_sha256", "token__token_id"
        )
        for work_id, content, token_id in rows:
            value = pk.get_db_prep_value(work_id, connection)
            self.db_id[work_id] = value
            self.by_hash[content] = value
            self.by_token[token_id] = None if token_id in self.by_token else value  # None: ambiguous
        self.by_isrc = {
            code: self.db_id[work_id]
            for code, work_id in Isrc.objects.filter(work__organisation=organisation).values_list("code", "work_id")
            if work_id in self.db_id
        }

    def find(self, values: dict[str, Any]) -> Any:
        """The work a line names (its values already stripped)."""
        found = []
        isrc = values.get("isrc")
        if isrc:
            isrc = str(isrc)
            if isrc not in self.by_isrc:
                try:
                    isrc = isrc_clean(isrc)
                except InvalidIsrc as exc:
                    raise LineError(str(exc)) from None
            if isrc not in self.by_isrc:
                raise LineError(f"no released work of this organisation has the ISRC {isrc}")
            found.append(self.by_isrc[isrc])
        token = values.get("token_id")
        if token not in (None, ""):
            try:
                token_id = int(token)
            except (TypeError, ValueError):
                raise LineError(f"token_id {token!r} is not a whole number") from None
            if token_id not in self.by_token:
                raise LineError(f"no work of this organisation has the token {token_id}")
            if self.by_token[token_id] is None:
                raise LineError(f"token id {token_id} is on two contracts: name the work by ISRC or content hash")
            found.append(self.by_token[token_id])
        content = values.get("content_sha256")
        if content:
            content = str(content).lower()
            if content not in self.by_hash:
                raise LineError(f"no released work of this organisation has the content hash {content}")
            found.append(self.by_hash[content])
        if not found:
            raise LineError("name the work: isrc, token_id or content_sha256")
        if len(found) > 1 and any(f != found[0] for f in found):
            raise LineError("isrc, token_id and content_sha256 name different works")
        return found[0]


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value.strip() if isinstance(value, str) else str(value)


class _Parser:
    """Turns one line's values into a row (COLUMNS' order), with the same checks for every line.
    The values a file repeats (dates, currencies, territories) are checked once and remembered."""

    def __init__(self, organisation: Organisation, reported_by: User | None):
        self.works = _Works(organisation)
        self.organisation_id = Organisation._meta.pk.get_db_prep_value(organisation.pk, connection)
        self.reported_at = connection.ops.adapt_datetimefield_value(timezone.now())
        self.reported_by = reported_by.pk if reported_by else None
        self.dates: dict[Any, Any] = {}
        self.currencies: set[str] = set()
        self.territories: set[str] = {WORLDWIDE}

    def row(self, values: dict[str, Any]) -> tuple[list[Any], str]:
        """The row, and the event it corrects or reverses ("" for a usage); ``values`` as
        `line_clean` leaves them."""
        missing = [name for name in REQUIRED if values.get(name) in (None, "")]
        kind = values.get("kind") or USAGE
        if kind not in KINDS:
            raise LineError(f"kind must be usage, correction or reversal, not {kind!r}")
        corrects = _text(values.get("corrects"))
        if kind == REVERSAL:  # a reversal needs only its id and the event it takes back
            missing = [name for name in missing if name == "event_id"]
        if missing:
            raise LineError(f"{missing[0]} is missing")
        if (kind != USAGE) != bool(corrects):
            raise LineError("corrects names the event a correction or reversal replaces, and only they have it")
        event_id = str(values["event_id"])
        if len(event_id) > 100:
            raise LineError("event_id is longer than 100 characters")
        if kind == REVERSAL:
            return [
                self.organisation_id,
                None,
                event_id,
                kind,
                None,
                "",
                "",
                "",
                0,
                0,
                0,
                "",
                None,
                None,
                self.reported_at,
                self.reported_by,
            ], corrects
        work = self.works.find(values)
        service = str(values["service"])
        if len(service) > 100:
            raise LineError("service is longer than 100 characters")
        territory = str(values["territory"])
        if territory not in self.territories:
            if len(territory) != 2 or not territory.isascii() or not territory.isalpha() or not territory.isupper():
                raise LineError(f"territory {territory!r} is not an ISO 3166 two-letter code (e.g. GB) or Worldwide")
            self.territories.add(territory)
        usage_type = str(values["usage_type"])
        if usage_type not in USAGE_TYPES:
            raise LineError(f"usage_type {usage_type!r} is not one of {', '.join(sorted(USAGE_TYPES))}")
        units = values["units"]
        if not isinstance(units, int) or isinstance(units, bool):
            try:
                units = int(_text(units))
            except ValueError:
                raise LineError(f"units {values['units']!r} is not a whole number") from None
        if not -(2**63) < units < 2**63:
            raise LineError(f"units {units} is out of range")
        revenue = _micros(values["revenue"])
        currency = str(values["currency"])
        if currency not in self.currencies:
            if len(currency) != 3 or not currency.isascii() or not currency.isalpha() or not currency.isupper():
                raise LineError(f"currency {currency!r} is not an ISO 4217 code (e.g. EUR)")
            self.currencies.add(currency)
        start, end = self._date(values["period_start"]), self._date(values["period_end"])
        if start[0] > end[0]:
            raise LineError("period_start is after period_end")
        return [
            self.organisation_id,
            work,
            event_id,
            kind,
            None,
            service,
            territory,
            usage_type,
            units,
            revenue,
            revenue,
            currency,
            start[1],
            end[1],
            self.reported_at,
            self.reported_by,
        ], corrects

    def _date(self, value: Any) -> tuple[datetime.date, Any]:
        if value not in self.dates:
            try:
                day = datetime.date.fromisoformat(_text(value))
            except ValueError:
                raise LineError(f"{value!r} is not a date (YYYY-MM-DD)") from None
            self.dates[value] = (day, connection.ops.adapt_datefield_value(day))
        return self.dates[value]


def _micros(value: Any) -> int:
    try:
        amount = value if isinstance(value, Decimal) else Decimal(_text(value))
    except InvalidOperation:
        raise LineError(f"revenue {value!r} is not a decimal number") from None
    if not amount.is_finite():  # a JSON number parsed as a float reads as it was written (its repr)
        raise LineError(f"revenue {value!r} is not a decimal number")
    micros = amount * MICROS
    if micros != micros.to_integral_value():
        raise LineError(f"revenue {value} has more than 6 decimal places")
    if abs(micros) >= 10**15:
        raise LineError(f"revenue {value} is too large for one line")
    return int(micros)


def line_clean(values: dict[str, Any]) -> dict[str, Any] | str:
    """A JSON line's values with the spaces around its texts taken off, or why they cannot be used."""
    for name, value in values.items():
        if isinstance(value, (list, dict)):
            return f"{name} must be a single value, not {value!r}"
    return {name: value.strip() if type(value) is str else value for name, value in values.items()}


def lines_jsonl(stream: Iterable[bytes]) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """(line number, values or the reason they could not be read), blank lines skipped."""
    for number, raw in enumerate(stream, start=1):
        if not raw.strip():
            continue
        try:
            values = bounded_json.loads(raw, parse_float=Decimal)
        except (UnicodeDecodeError, ValueError) as exc:
            yield number, f"not a JSON object: {exc}"
            continue
        yield number, line_clean(values) if isinstance(values, dict) else "not a JSON object"


def lines_csv(stream: Iterable[bytes]) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """CSV with a header row naming the fields (line 1); the lines are numbered as in the file."""
    text = io.TextIOWrapper(io.BufferedReader(_Readable(stream)), encoding="utf-8-sig", newline="")
    reader = csv.reader(text)
    try:
        header = [name.strip().lower() for name in next(reader)]
    except StopIteration:
        return
    except (UnicodeDecodeError, csv.Error) as exc:
        yield 1, f"the header could not be read: {exc}"
        return
    unknown = [name for name in header if name not in FIELDS]
    if unknown:
        yield 1, f"unknown column {unknown[0]!r}; the columns are {', '.join(FIELDS)}"
        return
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except (UnicodeDecodeError, csv.Error) as exc:
            yield reader.line_num, f"the line could not be read: {exc}"
            continue
        if not cells or cells == [""]:
            continue
        if len(cells) != len(header):
            yield reader.line_num, f"{len(cells)} cells where the header has {len(header)}"
            continue
        yield reader.line_num, dict(zip(header, [cell.strip() for cell in cells], strict=True))


def bytes_lines(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Byte chunks (a request body as it arrives) as lines."""
    return iter(io.BufferedReader(_Readable(chunks), buffer_size=1 << 20))


class _Readable(io.RawIOBase):
    """An iterable of byte chunks as a binary stream, for TextIOWrapper."""

    def __init__(self, chunks: Iterable[bytes]):
        self.chunks = iter(chunks)
        self.rest = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self.rest:
            self.rest = next(self.chunks, b"")
            if not self.rest:
                return 0
        size = min(len(buffer), len(self.rest))
        buffer[:size], self.rest = self.rest[:size], self.rest[size:]
        return size


def usage_import(
    *,
    organisation: Organisation,
    lines: Iterable[tuple[int, dict[str, Any] | str]],
    reported_by: User | None,
    skip_invalid: bool = False,
) -> ImportResult:
    """Record the lines' events in one transaction; see the module's docstring."""
    RoyaltyPolicy.objects.get_or_create(organisation=organisation)
    result = ImportResult()
    with transaction.atomic():
        # The organisation's imports queue here, so a retried batch sent twice at once counts once.
        RoyaltyPolicy.objects.filter(organisation=organisation).update(imports=F("imports") + 1)
        parser = _Parser(organisation, reported_by)
        pending: list[tuple[int, list[Any]]] = []
        seen: set[str] = set()
        for number, values in lines:
            result.lines += 1
            if isinstance(values, str):
                result.reject(number, None, values)
                continue
            event_id = values.get("event_id")
            try:
                row, corrects = parser.row(values)
                if row[2] in seen:
                    raise LineError(f"event_id {row[2]} appears twice in this file")
            except LineError as exc:
                result.reject(number, event_id, str(exc))
                continue
            seen.add(row[2])
            if corrects:
                _flush(pending, result)
                _correction(number, row, corrects, result)
                continue
            pending.append((number, row))
            if len(pending) >= CHUNK:
                _flush(pending, result)
        _flush(pending, result)
        if result.refused and not skip_invalid:
            transaction.set_rollback(True)
            result.accepted = result.duplicates = 0
    return result


def _flush(pending: list[tuple[int, list[Any]]], result: ImportResult) -> None:
    if not pending:
        return
    table = UsageEvent._meta.db_table
    with connection.cursor() as cursor:
        # Insert first and look only where an id was taken: rows older than `before` were there
        # already (no other import of this organisation can commit meanwhile: it waits on the lock).
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}")
        before = cursor.fetchone()[0]
        inserted = _insert(cursor, [row for _, row in pending])
    result.accepted += inserted
    if inserted < len(pending):
        existing = _existing(pending[0][1][0], [row[2] for _, row in pending], before)
        for number, row in pending:
            earlier = existing.get(row[2])
            if earlier is None:
                continue
            if all(earlier[i] == row[i] for i in SAME):
                result.duplicates += 1
            else:
                result.reject(number, row[2], f"event_id {row[2]} was already reported with other values")
    pending.clear()


def _insert(cursor: Any, rows: list[list[Any]]) -> int:
    """Insert the rows, skipping event ids already taken; how many were inserted. PostgreSQL:
    COPY into a staging table, then one INSERT ... SELECT. SQLite: one statement per 1,000 rows."""
    if connection.vendor == "postgresql":
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS usage_stage ON COMMIT DELETE ROWS AS "
            f"SELECT {', '.join(COLUMNS)} FROM {UsageEvent._meta.db_table} WITH NO DATA"
        )
        with cursor.cursor.copy(f"COPY usage_stage ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cursor.execute(
            f"INSERT INTO {UsageEvent._meta.db_table} ({', '.join(COLUMNS)}) SELECT {', '.join(COLUMNS)} "
            "FROM usage_stage ON CONFLICT (organisation_id, event_id) DO NOTHING"
        )
        inserted = cursor.rowcount
        cursor.execute("TRUNCATE usage_stage")
        return int(inserted)
    inserted = 0
    for start in range(0, len(rows), ROWS_PER_INSERT):
        part = rows[start : start + ROWS_PER_INSERT]
        cursor.execute(_insert_sql(len(part)), [value for row in part for value in row])
        inserted += cursor.rowcount
    return inserted


@functools.cache
def _insert_sql(rows: int) -> str:
    values = "(" + ", ".join(["%s"] * len(COLUMNS)) + ")"
    return (
        f"INSERT INTO {UsageEvent._meta.db_table} ({', '.join(COLUMNS)}) VALUES {', '.join([values] * rows)} "
        "ON CONFLICT (organisation_id, event_id) DO NOTHING"
    )


def _existing(organisation_id: Any, event_ids: list[str], before: int) -> dict[str, tuple[Any, ...]]:
    """The rows recorded before this import with these ids, in COLUMNS' order (as far as SAME needs)."""
    params: list[Any]
    if connection.vendor == "postgresql":  # one array parameter, not thousands
        where, params = "event_id = ANY(%s)", [event_ids]
    else:
        where, params = f"event_id IN ({', '.join(['%s'] * len(event_ids))})", event_ids
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {', '.join(COLUMNS[:14])} FROM {UsageEvent._meta.db_table} "
            f"WHERE organisation_id = %s AND id <= %s AND {where}",
            [organisation_id, before, *params],
        )
        return {row[2]: _normal(row) for row in cursor.fetchall()}


def _normal(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """A row as read back, in the types the parser gives (dates as the database adapts them)."""
    values = list(row)
    values[1], values[12], values[13] = _work_value(values[1]), _date_value(values[12]), _date_value(values[13])
    return tuple(values)


def _work_value(value: Any) -> Any:
    """A work id read back by a raw query, as the parser has it (PostgreSQL gives UUIDs)."""
    if value is None or isinstance(value, str):
        return value
    return Work._meta.pk.get_db_prep_value(value, connection)


def _correction(number: int, row: list[Any], corrects: str, result: ImportResult) -> None:
    """A correction or reversal: its amount is what it changes of the event it names (which may
    itself be a correction: the chain's first event is the one recorded as `original`). A
    correction keeps the work, currency and period of what it corrects, so a chain's money stays
    in one period; a reversal takes back the chain as it stands, corrections included."""
    table = UsageEvent._meta.db_table
    organisation_id, event_id = row[0], row[2]
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id, original_id, work_id, currency, period_start, period_end FROM {table} "
            "WHERE organisation_id = %s AND event_id = %s",
            [organisation_id, corrects],
        )
        target = cursor.fetchone()
        if target is None:
            result.reject(number, event_id, f"corrects {corrects!r}, which is not a reported event")
            return
        original = target[1] or target[0]
        cursor.execute(
            f"SELECT kind, COALESCE(SUM(amount_micros), 0) FROM {table} "
            f"WHERE organisation_id = %s AND (id = %s OR original_id = %s) GROUP BY kind",
            [organisation_id, original, original],
        )
        by_kind = dict(cursor.fetchall())
        cursor.execute(
            f"SELECT {', '.join(COLUMNS[:14])} FROM {table} WHERE organisation_id = %s AND event_id = %s",
            [organisation_id, event_id],
        )
        again = cursor.fetchone()
    kept = (_work_value(target[2]), target[3], _date_value(target[4]), _date_value(target[5]))
    if row[3] == REVERSAL:
        row[1], row[11], row[12], row[13] = kept
    elif (row[1], row[11], row[12], row[13]) != kept:
        result.reject(number, event_id, f"a correction keeps the work, currency and period of {corrects}")
        return
    row[4] = original
    if again is not None:
        earlier = _normal(again)
        same = earlier[3] == row[3] and earlier[4] == original
        if same and (row[3] == REVERSAL or all(earlier[i] == row[i] for i in SAME)):
            result.duplicates += 1
        else:
            result.reject(number, event_id, f"event_id {event_id} was already reported with other values")
        return
    if REVERSAL in by_kind:
        result.reject(number, event_id, f"{corrects} was already reversed")
        return
    effective = sum(by_kind.values())
    if row[3] == REVERSAL:
        row[9] = row[10] = -effective
    else:
        row[10] = row[9] - effective
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {table} ({', '.join(COLUMNS)}) VALUES ({', '.join(['%s'] * len(COLUMNS))})", row)
    result.accepted += 1


def _date_value(value: Any) -> Any:
    """A date read back by a raw query, as the parser has it."""
    return connection.ops.adapt_datefield_value(value) if isinstance(value, datetime.date) else value
