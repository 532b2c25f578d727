"""Usage reports: one event, or a file of them (JSON lines or CSV), with the fields of a DDEX DSR
sales/usage line.

Each line names its work by ISRC, token id or content hash (any of them; those given must agree),
the service, the territory (ISO 3166 two letters, or Worldwide), the usage type, the units, the
revenue with its currency (ISO 4217, kept as reported: nothing is converted) and the usage
period. `event_id` is the reporter's: a line whose id is already recorded, or appears earlier in
the same file, with the same values is a duplicate and counts once; with other values it is an
error. `kind` is usage (the default), correction (new values for the event named in `corrects`)
or reversal (takes it back).

An import is one transaction, under a lock per organisation: it is recorded whole or not at all.
A file with bad lines is refused whole, every bad line named by number with its reason, unless
the caller asks to keep the good lines (`skip_invalid`), when the bad ones are returned instead.

Speed: lines are parsed in chunks of CHUNK. Each chunk's ids are looked up by the unique index
(a duplicate is told from a clash by the digest of its canonical form) and its new rows inserted
in bulk on a second thread, on the import's own connection and transaction, while this thread
parses the next chunk: the database's work (in its own process for PostgreSQL, outside the GIL
for SQLite) overlaps Python's. A file sent again is all lookups and no inserts.

The parts: `usage_readers` reads the files, `usage_lines` checks each line and makes its row
(`usage_rows.UsageRow`), `usage_store` writes and reads the rows in SQL; this module holds the
import itself, the rules for duplicates and correction chains.
"""

from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

from django.contrib.auth.models import User
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import F

from ledgerline.accounts.models import Organisation
from ledgerline.royalties import usage_store
from ledgerline.royalties.models import RoyaltyPolicy
from ledgerline.royalties.usage_lines import REVERSAL, LineError, LineParser
from ledgerline.royalties.usage_readers import FIELDS, bytes_lines, line_clean, lines_csv, lines_jsonl
from ledgerline.royalties.usage_rows import UsageRow, same_values

# A chunk's outcome, made on the writer thread and applied to the result on the import's.
Outcome = tuple[int, int, list[tuple[int, str, str]]]  # accepted, duplicates, (line, event id, reason)

# The readers are imported from here by the API and the benchmark.
__all__ = [
    "FIELDS",
    "ImportResult",
    "LineError",
    "bytes_lines",
    "line_clean",
    "lines_csv",
    "lines_jsonl",
    "usage_import",
]

CHUNK = 5000
MAX_REJECTED = 10_000  # reported in full up to here; the count is always exact
# What a correction keeps of the event it corrects, and a reversal takes from it.
KEPT = ("work_id", "currency", "period_start", "period_end")
kept_values = attrgetter(*KEPT)


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
        parser = LineParser(organisation, reported_by)
        writer = _Writer(result, first_id=usage_store.last_id())
        pending: dict[str, tuple[int, UsageRow]] = {}  # the chunk's rows by event id
        try:
            for number, values in lines:
                result.lines += 1
                if isinstance(values, str):
                    result.reject(number, None, values)
                    continue
                try:
                    row, corrects = parser.row(values)
                except LineError as exc:
                    result.reject(number, values.get("event_id"), str(exc))
                    continue
                if corrects:
                    writer.send(pending)
                    writer.wait()  # the correction reads what the chunks before it wrote
                    _correction(number, parser, row, corrects, result)
                    continue
                earlier = pending.get(row.event_id)
                if earlier is not None:
                    _again(number, row, earlier[1].digest, result, "appears earlier in this file")
                    continue
                pending[row.event_id] = (number, row)
                if len(pending) >= CHUNK:
                    writer.send(pending)
            writer.send(pending)
            writer.wait()
        finally:
            writer.close()
        if result.refused and not skip_invalid:
            transaction.set_rollback(True)
            result.accepted = result.duplicates = 0
    return result


def _again(number: int, row: UsageRow, digest: bytes, result: ImportResult, where: str) -> None:
    """A line whose event id is taken: a duplicate if its values are the same, else its error."""
    if row.digest == digest:
        result.duplicates += 1
    else:
        result.reject(number, row.event_id, f"event_id {row.event_id} {where} with other values")


class _Writer:
    """Writes the import's chunks on a second thread, one at a time, on the import's connection
    (so in its transaction), while the import's thread parses the next one. Only one thread
    uses the connection at a time: the import's waits for the chunk in flight before it
    queries (a correction) or ends."""

    def __init__(self, result: ImportResult, *, first_id: int):
        self.result = result
        self.first_id = first_id
        self.db: BaseDatabaseWrapper = connections[DEFAULT_DB_ALIAS]
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="usage-import")
        self.flight: Future[Outcome] | None = None
        self.db.inc_thread_sharing()

    def send(self, pending: dict[str, tuple[int, UsageRow]]) -> None:
        """Write these rows (after the chunk in flight), and empty ``pending``."""
        if not pending:
            return
        self.wait()
        chunk = list(pending.values())
        pending.clear()
        self.flight = self.pool.submit(_chunk_write, self.db, chunk, self.first_id)

    def wait(self) -> None:
        """Wait for the chunk in flight, and count its outcome."""
        if self.flight is None:
            return
        flight, self.flight = self.flight, None
        accepted, duplicates, rejected = flight.result()
        self.result.accepted += accepted
        self.result.duplicates += duplicates
        for number, event_id, reason in rejected:
            self.result.reject(number, event_id, reason)

    def close(self) -> None:
        self.pool.shutdown(wait=True)  # after an error too: nothing may use the connection after
        self.db.dec_thread_sharing()


def _chunk_write(db: BaseDatabaseWrapper, chunk: list[tuple[int, UsageRow]], first_id: int) -> Outcome:
    """On the writer thread: look the chunk's ids up, insert the new rows, and say which lines
    were duplicates or clashes. A row recorded above ``first_id`` came from this import (no
    other import of this organisation can write meanwhile: it waits on the lock)."""
    organisation_id = chunk[0][1].organisation_id
    recorded = usage_store.rows_lookup(db, organisation_id, [row.event_id for _, row in chunk])
    if not recorded:
        usage_store.rows_insert(db, [row for _, row in chunk])
        return len(chunk), 0, []
    new, duplicates, rejected = [], 0, []
    for number, row in chunk:
        found = recorded.get(row.event_id)
        if found is None:
            new.append(row)
        elif found[1] == row.digest:
            duplicates += 1
        else:
            where = "appears earlier in this file" if found[0] > first_id else "was already reported"
            rejected.append((number, row.event_id, f"event_id {row.event_id} {where} with other values"))
    if new:
        usage_store.rows_insert(db, new)
    return len(new), duplicates, rejected


def _correction(number: int, parser: LineParser, row: UsageRow, corrects: str, result: ImportResult) -> None:
    """A correction or reversal: its amount is what it changes of the event it names (which may
    itself be a correction: the chain's first event is the one recorded as `original`). A
    correction keeps the work, currency and period of what it corrects, so a chain's money stays
    in one period; a reversal takes back the chain as it stands, corrections included."""
    organisation_id, event_id = row.organisation_id, row.event_id
    target = usage_store.chain_target(organisation_id, corrects)
    if target is None:
        result.reject(number, event_id, f"corrects {corrects!r}, which is not a reported event")
        return
    original = target.original_id or target.id
    by_kind = usage_store.chain_amounts(organisation_id, original)
    again = usage_store.row_recorded(organisation_id, event_id)
    if row.kind == REVERSAL:
        row = row._replace(**dict(zip(KEPT, kept_values(target), strict=True)))
    elif kept_values(row) != kept_values(target):
        result.reject(number, event_id, f"a correction keeps the work, currency and period of {corrects}")
        return
    row = row._replace(original_id=original)
    if again is not None:
        same = again.kind == row.kind and again.original_id == original
        if same and (row.kind == REVERSAL or same_values(again) == same_values(row)):
            result.duplicates += 1
        else:
            result.reject(number, event_id, f"event_id {event_id} was already reported with other values")
        return
    if REVERSAL in by_kind:
        result.reject(number, event_id, f"{corrects} was already reversed")
        return
    effective = sum(by_kind.values())
    if row.kind == REVERSAL:
        row = row._replace(revenue_micros=-effective, amount_micros=-effective)
    else:
        row = row._replace(amount_micros=row.revenue_micros - effective)
    usage_store.row_insert(parser.row_final(row))
    result.accepted += 1
