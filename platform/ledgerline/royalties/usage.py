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

The parts: `usage_readers` reads the files, `usage_lines` checks each line and makes its row
(`usage_rows.UsageRow`), `usage_store` writes and reads the rows in SQL; this module holds the
import itself, the rules for duplicates and correction chains.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import F

from ledgerline.accounts.models import Organisation
from ledgerline.royalties import usage_store
from ledgerline.royalties.models import RoyaltyPolicy
from ledgerline.royalties.usage_lines import REVERSAL, LineError, LineParser
from ledgerline.royalties.usage_readers import FIELDS, bytes_lines, line_clean, lines_csv, lines_jsonl
from ledgerline.royalties.usage_rows import UsageRow, same_values

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
        pending: list[tuple[int, UsageRow]] = []
        seen: set[str] = set()
        for number, values in lines:
            result.lines += 1
            if isinstance(values, str):
                result.reject(number, None, values)
                continue
            event_id = values.get("event_id")
            try:
                row, corrects = parser.row(values)
                if row.event_id in seen:
                    raise LineError(f"event_id {row.event_id} appears twice in this file")
            except LineError as exc:
                result.reject(number, event_id, str(exc))
                continue
            seen.add(row.event_id)
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


def _flush(pending: list[tuple[int, UsageRow]], result: ImportResult) -> None:
    if not pending:
        return
    # Insert first and look only where an id was taken: rows older than `before` were there
    # already (no other import of this organisation can commit meanwhile: it waits on the lock).
    before = usage_store.last_id()
    inserted = usage_store.rows_insert([row for _, row in pending])
    result.accepted += inserted
    if inserted < len(pending):
        organisation_id = pending[0][1].organisation_id
        existing = usage_store.rows_recorded(organisation_id, [row.event_id for _, row in pending], before)
        for number, row in pending:
            earlier = existing.get(row.event_id)
            if earlier is None:
                continue
            if same_values(earlier) == same_values(row):
                result.duplicates += 1
            else:
                result.reject(number, row.event_id, f"event_id {row.event_id} was already reported with other values")
    pending.clear()


def _correction(number: int, row: UsageRow, corrects: str, result: ImportResult) -> None:
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
    usage_store.row_insert(row)
    result.accepted += 1
