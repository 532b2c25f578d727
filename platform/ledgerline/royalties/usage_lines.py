"""One usage line checked and turned into a row: the rules every line meets, whichever reader it
came from. A line that breaks one raises `LineError`, whose message is the reason the report gives."""

import datetime
import re
import uuid
from decimal import Decimal, InvalidOperation
from operator import itemgetter
from typing import Any

from django.contrib.auth.models import User
from django.db import connection
from django.utils import timezone

from ledgerline.accounts.models import Organisation
from ledgerline.royalties.isrc import InvalidIsrc, isrc_clean
from ledgerline.royalties.models import MICROS, EventKind
from ledgerline.royalties.selectors import ReleasedWorks, released_works
from ledgerline.royalties.usage_rows import UsageRow, event_digest

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
required_values = itemgetter(*REQUIRED)
# A revenue as most reports write it (-12.345678): read without Decimal, a tenth of its cost.
PLAIN_AMOUNT = re.compile(r"(-?)(\d{1,15})(?:\.(\d{1,6}))?")
WORLDWIDE = "Worldwide"
USAGE, CORRECTION, REVERSAL = EventKind.USAGE.value, EventKind.CORRECTION.value, EventKind.REVERSAL.value
KINDS = frozenset(EventKind.values)


class LineError(ValueError):
    pass


class LineParser:
    """Turns one line's values into a row, with the same checks for every line.
    The values a file repeats (dates, currencies, territories) are checked once and remembered."""

    def __init__(self, organisation: Organisation, reported_by: User | None):
        self.works = released_works(organisation=organisation)
        self.organisation_id = Organisation._meta.pk.get_db_prep_value(organisation.pk, connection)
        self.reported_at = connection.ops.adapt_datetimefield_value(timezone.now())
        self.reported_by = reported_by.pk if reported_by else None
        self.dates: dict[Any, tuple[datetime.date, Any, str]] = {}
        self.work_keys: dict[Any, str] = {}  # a work's id as the database takes it -> its UUID's hex
        self.currencies: set[str] = set()
        self.territories: set[str] = {WORLDWIDE}

    def row(self, values: dict[str, Any]) -> tuple[UsageRow, str]:
        """The row, and the event it corrects or reverses ("" for a usage); ``values`` as
        `line_clean` leaves them."""
        try:
            given = required_values(values)
            complete = None not in given and "" not in given
        except KeyError:
            complete = False
        missing = [] if complete else [name for name in REQUIRED if values.get(name) in (None, "")]
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
            return self._reversal(event_id), corrects
        work = _work_find(self.works, values)
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
        if work not in self.work_keys:
            self.work_keys[work] = uuid.UUID(str(work)).hex
        digest = event_digest(
            event_id,
            self.work_keys[work],
            kind,
            service,
            territory,
            usage_type,
            units,
            revenue,
            currency,
            start[2],
            end[2],
        )
        # By position: keywords cost a microsecond a line, 5% of a large import.
        return UsageRow(
            self.organisation_id,
            work,
            event_id,
            kind,
            None,  # original_id
            service,
            territory,
            usage_type,
            units,
            revenue,  # revenue_micros
            revenue,  # amount_micros: a usage adds what it earned
            currency,
            start[1],
            end[1],
            self.reported_at,
            self.reported_by,
            digest,
        ), corrects

    def _reversal(self, event_id: str) -> UsageRow:
        """A reversal's row before it is matched: work, currency, period and amounts come from
        the event it takes back."""
        return UsageRow(
            organisation_id=self.organisation_id,
            work_id=None,
            event_id=event_id,
            kind=REVERSAL,
            original_id=None,
            service="",
            territory="",
            usage_type="",
            units=0,
            revenue_micros=0,
            amount_micros=0,
            currency="",
            period_start=None,
            period_end=None,
            reported_at=self.reported_at,
            reported_by_id=self.reported_by,
            digest=b"",  # made once the reversal has its target's values (row_final)
        )

    def row_final(self, row: UsageRow) -> UsageRow:
        """A correction's or reversal's row with its values complete: its digest made."""
        work = self.work_keys.get(row.work_id) or uuid.UUID(str(row.work_id)).hex
        return row._replace(
            digest=event_digest(
                row.event_id,
                work,
                row.kind,
                row.service,
                row.territory,
                row.usage_type,
                row.units,
                row.revenue_micros,
                row.currency,
                str(row.period_start),
                str(row.period_end),
            )
        )

    def _date(self, value: Any) -> tuple[datetime.date, Any, str]:
        """The date, as the database takes it, and as the canonical form writes it."""
        if value not in self.dates:
            try:
                day = datetime.date.fromisoformat(_text(value))
            except ValueError:
                raise LineError(f"{value!r} is not a date (YYYY-MM-DD)") from None
            self.dates[value] = (day, connection.ops.adapt_datefield_value(day), day.isoformat())
        return self.dates[value]


def _work_find(works: ReleasedWorks, values: dict[str, Any]) -> Any:
    """The work a line names (its values already stripped); those of its names it gives must agree."""
    found = []
    isrc = values.get("isrc")
    if isrc:
        isrc = str(isrc)
        if isrc not in works.by_isrc:
            try:
                isrc = isrc_clean(isrc)
            except InvalidIsrc as exc:
                raise LineError(str(exc)) from None
        if isrc not in works.by_isrc:
            raise LineError(f"no released work of this organisation has the ISRC {isrc}")
        found.append(works.by_isrc[isrc])
    token = values.get("token_id")
    if token not in (None, ""):
        try:
            token_id = int(token)
        except (TypeError, ValueError):
            raise LineError(f"token_id {token!r} is not a whole number") from None
        if token_id not in works.by_token:
            raise LineError(f"no work of this organisation has the token {token_id}")
        if works.by_token[token_id] is None:
            raise LineError(f"token id {token_id} is on two contracts: name the work by ISRC or content hash")
        found.append(works.by_token[token_id])
    content = values.get("content_sha256")
    if content:
        content = str(content).lower()
        if content not in works.by_hash:
            raise LineError(f"no released work of this organisation has the content hash {content}")
        found.append(works.by_hash[content])
    if not found:
        raise LineError("name the work: isrc, token_id or content_sha256")
    if len(found) > 1 and any(f != found[0] for f in found):
        raise LineError("isrc, token_id and content_sha256 name different works")
    return found[0]


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value.strip() if isinstance(value, str) else str(value)


def _micros(value: Any) -> int:
    if type(value) is str:
        plain = PLAIN_AMOUNT.fullmatch(value)
        if plain is not None:
            sign, whole, fraction = plain.groups()
            plain_micros = int(whole) * MICROS + (int(fraction.ljust(6, "0")) if fraction else 0)
            if plain_micros >= 10**15:
                raise LineError(f"revenue {value} is too large for one line")
            return -plain_micros if sign else plain_micros
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
