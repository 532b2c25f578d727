"""DDEX DSR flat files read as usage lines, and written (for the tests, the bench and the demo).

The format is the DDEX Digital Sales Reporting Message Suite's flat file (DSRF), Basic Audio
Profile (`BasicAudioProfile`, its default multi-record-block variant), profile version 1.2, with
the record layouts of DDEX's published schema for it (BasicAudioProfile.xsd 1.2, as in
github.com/ddexnet/dsrf) and of DSR Part 8 (Record Type Definitions). A file is tab-separated
UTF-8 lines, one record each, its type in the first cell; lines starting with # are comments::

    HEAD   MessageVersion Profile ProfileVersion MessageId MessageCreatedDateTime FileNumber
           NumberOfFiles UsageStartDate UsageEndDate SenderPartyId SenderName ServiceDescription ...
    SY01 | SY02   SummaryRecordId DistributionChannel DistributionChannelDPID CommercialModel
           UseType Territory ServiceDescription Usages (Subscribers|Users) CurrencyOfReporting
           NetRevenue ...                                           one per sales context
    blocks, each: [RE01] (AS01 MW01... | AS02)... [RE02...] (SU01 | SU02)...
        RE01   BlockId ReleaseReference DspReleaseId ...
        RE02   BlockId ReleaseReference DspSubReleaseId ProprietarySubReleaseId UsedResources
        AS01 | AS02   BlockId ResourceReference DspResourceId ISRC Title ...
        SU01   BlockId SummaryRecordId SalesTransactionId TransactedRelease TransactedResource
               IsRoyaltyBearing SalesUpgrade Usages Returns PriceConsumerPaidExcSalesTax ...
        SU02   BlockId SummaryRecordId SalesTransactionId TransactedRelease TransactedResource
               IsRoyaltyBearing NumberOfStreams PriceConsumerPaidExcSalesTax PromotionalActivity
               [UseType, added by profile version 1.3]
    FOOT   NumberOfLinesInFile NumberOfLinesInReport NumberOfSummaryRecords NumberOfBlocksInFile
           NumberOfBlocksInReport

A record type is read by its first four characters (SU02, SU02.02 and SU02.03 alike); a record
needs at least its cells, and any more must be empty (files pad records to one width).

Each SU record is one usage line:
- its work: the ISRC of the AS record it names in its block (TransactedResource), or of the one
  resource of the release it names (TransactedRelease); a resource with several ISRCs is read
  by its first;
- event_id: SenderPartyId:MessageId:SalesTransactionId. DSR makes MessageId unique per sender and
  SalesTransactionId unique within the message, so the same report sent again counts once;
- service, territory, currency: its summary record's ServiceDescription (else the HEAD's, else
  the SenderName), Territory and CurrencyOfReporting; period: the HEAD's UsageStartDate and
  UsageEndDate (YYYY, YYYY-MM or YYYY-MM-DD, taken to the first and last day);
- usage_type: its own UseType (SU02, version 1.3) or its summary's, mapped by USE_TYPES;
- units: NumberOfStreams (SU02), or Usages less Returns (SU01);
- revenue: its PriceConsumerPaidExcSalesTax, read as what the record's usages earned, when the
  sender gives it; else its share of its summary's NetRevenue by units, shared out to the micro
  as it goes (each line gets the rounded cumulative share less what was given before), so a
  summary's lines add up to its NetRevenue exactly. A summary's lines all give a price or none.

Checks, each named by its line: the HEAD first (profile BasicAudioProfile, one file), records
known and with their cells, SU records naming a known summary and resource, whole numbers,
decimals and dates; at the FOOT, its counts of lines, summaries and blocks; and for every
summary, on the summary's line, its Usages (and, where the lines give prices, its NetRevenue)
against what its SU records add up to.

Memory: the reader keeps the HEAD, the summaries and the current block's release and resource
records, never the whole file.

Files written by `dsr_write` pass the cell validation and the block conformance check of DDEX's
own DSRF library (github.com/ddexnet/dsrf, against its BasicAudioProfile 1.2 schema); that
library is not on PyPI, so the tests do not run it.
"""

import calendar
import datetime
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import IO, Any

from ledgerline.royalties.models import MICROS
from ledgerline.royalties.usage_readers import bytes_lines

PROFILE = "BasicAudioProfile"
PROFILE_VERSION = "1.2"
MESSAGE_VERSION = "dsrf/1.2/1.2/1.2"  # Part 1 / Part 2 (allowed values) / Part 8 (records)
# The cells each record type has, in order (RecordType first). SU02 may carry one more, UseType.
CELLS = {
    "HEAD": 16,
    "SY01": 15,
    "SY02": 22,
    "RE01": 15,
    "RE02": 6,
    "AS01": 12,
    "AS02": 22,
    "MW01": 16,
    "SU01": 12,
    "SU02": 10,
    "FOOT": 6,
}
SU02_USE_TYPE = 10
# DSR UseType (DDEX allowed-value set) -> the platform's usage type (usage_lines.USAGE_TYPES).
USE_TYPES = {
    "OnDemandStream": "OnDemandStream",
    "NonInteractiveStream": "NonInteractiveStream",
    "ContentInfluencedStream": "NonInteractiveStream",
    "ProgrammedContentStream": "NonInteractiveStream",
    "TimeInfluencedStream": "NonInteractiveStream",
    "Stream": "Stream",
    "PermanentDownload": "PermanentDownload",
    "KioskDownload": "PermanentDownload",
    "ConditionalDownload": "ConditionalDownload",
    "TetheredDownload": "ConditionalDownload",
    "Download": "Download",
    "Webcast": "Webcast",
    "Simulcast": "Webcast",
    "Broadcast": "Broadcast",
    "Cable": "Broadcast",
    "Narrowcast": "Broadcast",
    "Perform": "Performance",
    "PerformInPublic": "Performance",
    "PlayInPublic": "Performance",
    "UserMakeAvailableUserProvided": "UserGeneratedContent",
    "UserMakeAvailableLabelProvided": "UserGeneratedContent",
}
# The platform's usage type -> the DSR UseType the writer gives it.
WRITTEN_USE_TYPES = {
    "OnDemandStream": "OnDemandStream",
    "NonInteractiveStream": "NonInteractiveStream",
    "Stream": "Stream",
    "PermanentDownload": "PermanentDownload",
    "ConditionalDownload": "ConditionalDownload",
    "Download": "Download",
    "Webcast": "Webcast",
    "Broadcast": "Broadcast",
    "Performance": "Perform",
    "UserGeneratedContent": "UserMakeAvailableUserProvided",
}
DOWNLOADS = frozenset({"PermanentDownload", "ConditionalDownload", "Download"})

Lines = Iterator[tuple[int, dict[str, Any] | str]]


class RecordError(ValueError):
    pass


@dataclass
class Header:
    message_id: str
    sender: str
    service: str
    period_start: str
    period_end: str


@dataclass
class Summary:
    """A summary record and what its SU records have added up to so far."""

    line: int
    id: str
    service: str
    territory: str
    use_type: str
    currency: str
    usages: int
    net_micros: int
    priced: bool | None = None  # whether its lines give PriceConsumerPaidExcSalesTax; None until one comes
    units: int = 0
    micros: int = 0
    problem: str = ""  # why it cannot be used, if it cannot


@dataclass
class Block:
    id: str = ""
    resources: dict[str, str] = field(default_factory=dict)  # ResourceReference -> ISRC
    releases: dict[str, list[str]] = field(default_factory=dict)  # ReleaseReference -> its resources ([]: all)


@dataclass
class _Reading:
    """The state of one file's reading: small whatever the file's size."""

    header: Header | None = None
    summaries: dict[str, Summary] = field(default_factory=dict)
    block: Block = field(default_factory=Block)
    blocks: int = 0
    lines: int = 0
    footed: bool = False


def lines_dsr(stream: Iterable[bytes]) -> Lines:
    """(line number, usage values or the reason the line cannot be used) for a DSR file given as
    byte chunks; see the module's docstring."""
    reading = _Reading()
    for number, raw in enumerate(bytes_lines(stream), start=1):
        text = raw.rstrip(b"\r\n")
        if reading.footed:
            if text.strip():
                yield number, "a record after the FOOT record, which ends the file"
            continue
        reading.lines = number
        if not text.strip() or text.startswith(b"#"):
            continue
        try:
            cells = text.decode("utf-8-sig" if number == 1 else "utf-8").split("\t")
            values = _record(reading, number, cells)
        except UnicodeDecodeError:
            values = "the line is not UTF-8 text"
        except RecordError as exc:
            values = str(exc)
        if values is not None:
            yield number, values
        if reading.header is None:
            return  # not a DSR file: one reason is enough
    if reading.header is not None and not reading.footed:
        yield reading.lines + 1, "the file ends without a FOOT record: it may have been cut short"
    yield from _summaries_check(reading)


def _record(reading: _Reading, number: int, cells: list[str]) -> dict[str, Any] | str | None:
    """One record read into ``reading``: the usage values of an SU record, None for the others."""
    kind = cells[0].strip()[:4]
    if reading.header is None:
        if kind != "HEAD":
            raise RecordError(f"a DSR file starts with a HEAD record, not {cells[0][:20]!r}")
        reading.header = _head(_cells(kind, cells))
        return None
    if kind == "HEAD":
        raise RecordError("a second HEAD record: a DSR file has one, on its first line")
    if kind not in CELLS:
        known = ", ".join(k for k in CELLS if k != "HEAD")
        raise RecordError(f"unknown record type {cells[0][:20]!r}: a Basic Audio Profile file has {known}")
    cells = _cells(kind, cells)
    if kind in ("SY01", "SY02"):
        summary = _summary(reading, number, cells)
        if summary.id in reading.summaries:
            raise RecordError(f"summary record {summary.id} appears twice (line {reading.summaries[summary.id].line})")
        reading.summaries[summary.id] = summary
        return summary.problem or None
    if kind == "FOOT":
        reading.footed = True
        _foot(reading, cells)
        return None
    block_id = _required(cells, 1, "BlockId")
    if block_id != reading.block.id:
        reading.block = Block(id=block_id)
        reading.blocks += 1
    if kind in ("AS01", "AS02"):
        reference = _required(cells, 2, "ResourceReference")
        reading.block.resources[reference] = cells[4].split("|")[0].strip()
    elif kind == "RE01":
        reading.block.releases[_required(cells, 2, "ReleaseReference")] = []
    elif kind == "RE02":
        used = [ref.strip() for ref in cells[5].split("|") if ref.strip()]
        reading.block.releases[_required(cells, 2, "ReleaseReference")] = used
    elif kind in ("SU01", "SU02"):
        return _usage(reading, kind, cells)
    return None


def _cells(kind: str, cells: list[str]) -> list[str]:
    """The record's cells, checked for their number; padding beyond them must be empty."""
    size = CELLS[kind] + (1 if kind == "SU02" else 0)
    if len(cells) < CELLS[kind]:
        raise RecordError(f"{len(cells)} cells where a {kind} record has {CELLS[kind]}")
    if any(cell.strip() for cell in cells[size:]):
        raise RecordError(f"{len(cells)} cells where a {kind} record has {CELLS[kind]} (the rest must be empty)")
    return [cell.strip() for cell in cells[:size]] + [""] * (size - len(cells))


def _required(cells: list[str], index: int, name: str) -> str:
    if not cells[index]:
        raise RecordError(f"{name} (cell {index + 1}) is empty")
    return cells[index]


def _head(cells: list[str]) -> Header:
    if not cells[1].startswith("dsrf/"):
        raise RecordError(f"MessageVersion {cells[1]!r} is not a DSR flat-file version (dsrf/...)")
    if cells[2] != PROFILE:
        raise RecordError(f"profile {cells[2]!r}: this reads the {PROFILE} (multi-record blocks)")
    if (cells[6], cells[7]) != ("1", "1"):
        raise RecordError(f"this is file {cells[6]} of {cells[7]} of a DSR message: send the message as one file")
    start, end = _date(cells[8], "UsageStartDate"), _date(cells[9], "UsageEndDate", last=True)
    if start > end:
        raise RecordError(f"UsageStartDate {cells[8]} is after UsageEndDate {cells[9]}")
    return Header(
        message_id=_required(cells, 4, "MessageId"),
        sender=_required(cells, 10, "SenderPartyId"),
        service=cells[12] or _required(cells, 11, "SenderName"),
        period_start=start,
        period_end=end,
    )


def _date(value: str, name: str, last: bool = False) -> str:
    """An ISO date YYYY[-MM[-DD]] as YYYY-MM-DD: its first day, or its last if ``last``."""
    parts = value.split("-")
    try:
        if len(parts) == 3 and len(value) == 10:
            return datetime.date.fromisoformat(value).isoformat()
        year = int(parts[0]) if len(parts[0]) == 4 else None
        month = (int(parts[1]) if len(parts[1]) == 2 else None) if len(parts) == 2 else (12 if last else 1)
        if year is None or month is None or len(parts) > 2:
            raise ValueError
        day = calendar.monthrange(year, month)[1] if last else 1
        return datetime.date(year, month, day).isoformat()
    except ValueError:
        raise RecordError(f"{name} {value!r} is not a date (YYYY, YYYY-MM or YYYY-MM-DD)") from None


def _summary(reading: _Reading, number: int, cells: list[str]) -> Summary:
    """A summary record; one with bad figures is kept, with its problem, so its lines say why."""
    header = reading.header
    assert header is not None
    summary = Summary(
        line=number,
        id=_required(cells, 1, "SummaryRecordId"),
        service=cells[7] or header.service,
        territory=cells[6],
        use_type=cells[5],
        currency=cells[10],
        usages=0,
        net_micros=0,
    )
    try:
        summary.usages = _whole(cells[8].removeprefix("-"), "Usages") * (-1 if cells[8][:1] == "-" else 1)
        summary.net_micros = _micros(cells[11], "NetRevenue")
        for index, name in ((6, "Territory"), (10, "CurrencyOfReporting")):
            _required(cells, index, name)
    except RecordError as exc:
        summary.problem = str(exc)
    return summary


def _usage(reading: _Reading, kind: str, cells: list[str]) -> dict[str, Any]:
    """An SU record's usage values, its summary's running totals updated."""
    header = reading.header
    assert header is not None
    transaction = _required(cells, 3, "SalesTransactionId")
    summary = reading.summaries.get(_required(cells, 2, "SummaryRecordId"))
    if summary is None:
        raise RecordError(f"SummaryRecordId {cells[2]} names no summary record of this file")
    if summary.problem:
        raise RecordError(f"its summary record {summary.id} (line {summary.line}) is not valid")
    isrc = _isrc(reading.block, resource=cells[5], release=cells[4])
    if kind == "SU02":
        units = _whole(cells[7], "NumberOfStreams")
        price, use_type = cells[8], cells[SU02_USE_TYPE] or summary.use_type
    else:
        units = _whole(cells[8], "Usages") - _whole(cells[9], "Returns")
        price, use_type = cells[10], summary.use_type
    usage_type = USE_TYPES.get(use_type)
    if usage_type is None:
        raise RecordError(f"UseType {use_type!r} is not one this platform accounts for ({', '.join(USE_TYPES)})")
    priced = _micros(price, "PriceConsumerPaidExcSalesTax") if price else None
    if summary.priced not in (None, bool(price)):
        raise RecordError(
            f"the SU records of summary {summary.id} give PriceConsumerPaidExcSalesTax on some lines only: "
            "give it on all of them, or on none to share out the summary's NetRevenue"
        )
    summary.priced = bool(price)
    summary.units += units
    micros = (
        priced if priced is not None else _share(summary.net_micros, summary.units, summary.usages) - summary.micros
    )
    summary.micros += micros
    return {
        "event_id": f"{header.sender}:{header.message_id}:{transaction}",
        "isrc": isrc,
        "service": summary.service,
        "territory": summary.territory,
        "usage_type": usage_type,
        "units": units,
        "revenue": _amount(micros),
        "currency": summary.currency,
        "period_start": header.period_start,
        "period_end": header.period_end,
    }


def _isrc(block: Block, *, resource: str, release: str) -> str:
    """The ISRC of the resource an SU record names, or of the one resource of its release."""
    if resource:
        if resource not in block.resources:
            raise RecordError(f"TransactedResource {resource} names no resource record of block {block.id}")
        found = block.resources[resource]
    elif release:
        if release not in block.releases:
            raise RecordError(f"TransactedRelease {release} names no release record of block {block.id}")
        used = block.releases[release] or list(block.resources)
        if len(used) != 1:
            raise RecordError(
                f"release {release} has {len(used)} resources: report its usage by resource (TransactedResource)"
            )
        found = block.resources.get(used[0], "")
    else:
        raise RecordError("an SU record names its TransactedResource or TransactedRelease")
    if not found:
        raise RecordError(f"the resource this SU record names in block {block.id} has no ISRC")
    return found


def _share(net_micros: int, units: int, usages: int) -> int:
    """The rounded share of ``net_micros`` that ``units`` of ``usages`` earn (half to even)."""
    if usages == 0:
        return 0
    quotient, remainder = divmod(net_micros * units, usages)
    if 2 * remainder > usages or (2 * remainder == usages and quotient % 2):
        quotient += 1
    return quotient


def _foot(reading: _Reading, cells: list[str]) -> None:
    """The FOOT's counts against what was read (lines counted as the file has them, comments too)."""
    expected = {
        "NumberOfLinesInFile": (1, reading.lines),
        "NumberOfLinesInReport": (2, reading.lines),
        "NumberOfSummaryRecords": (3, len(reading.summaries)),
        "NumberOfBlocksInFile": (4, reading.blocks),
        "NumberOfBlocksInReport": (5, reading.blocks),
    }
    for name, (index, counted) in expected.items():
        if not cells[index] and name.endswith("InReport"):
            continue
        given = _whole(cells[index], name)
        if given != counted:
            raise RecordError(f"the FOOT gives {name} {given}, but the file has {counted}")


def _summaries_check(reading: _Reading) -> Lines:
    """Each summary's totals against its SU records', reported on the summary's line."""
    for summary in reading.summaries.values():
        if summary.problem:
            continue
        if summary.units != summary.usages:
            yield (
                summary.line,
                (f"summary {summary.id} gives Usages {summary.usages}, but its SU records add up to {summary.units}"),
            )
        elif summary.priced and summary.micros != summary.net_micros:
            yield (
                summary.line,
                (
                    f"summary {summary.id} gives NetRevenue {_amount(summary.net_micros)} {summary.currency}, but its "
                    f"SU records' PriceConsumerPaidExcSalesTax add up to {_amount(summary.micros)}"
                ),
            )


def _whole(value: str, name: str) -> int:
    if not value.isdigit():
        raise RecordError(f"{name} {value!r} is not a whole number of zero or more")
    return int(value)


def _micros(value: str, name: str) -> int:
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise RecordError(f"{name} {value!r} is not a decimal number") from None
    micros = amount * MICROS if amount.is_finite() else Decimal("NaN")
    if not micros.is_finite() or micros != micros.to_integral_value() or abs(micros) >= 10**18:
        raise RecordError(f"{name} {value!r} is not a decimal number with at most 6 decimal places")
    return int(micros)


def _amount(micros: int) -> str:
    return format(Decimal(micros).scaleb(-6).normalize(), "f")


def dsr_write(
    out: IO[bytes],
    *,
    message_id: str,
    sender: str,
    period_start: str,
    period_end: str,
    lines: Iterable[dict[str, Any]],
    sender_name: str = "Ledgerline",
    created: datetime.datetime | None = None,
) -> int:
    """Write ``lines`` (usage values: isrc, service, territory, usage_type, units, revenue,
    currency; event_id, if given, is the SalesTransactionId) as a Basic Audio Profile DSR file
    that `lines_dsr` reads back: one summary per service, territory, usage type and currency,
    one block per run of lines with the same ISRC, each line's revenue as its
    PriceConsumerPaidExcSalesTax. The period is the file's (HEAD), not the lines'. The blocks go
    to a temporary file first (the summaries come before them), so memory stays small.
    Returns the number of lines written."""
    summaries: dict[tuple[str, str, str, str], list[Any]] = {}  # context -> [id, usages, micros]
    body_lines = blocks = 0
    with tempfile.TemporaryFile() as body:
        isrc = None
        for n, line in enumerate(lines, start=1):
            usage_type = line["usage_type"]
            if usage_type not in WRITTEN_USE_TYPES:
                raise ValueError(f"usage_type {usage_type!r} has no DSR UseType")
            if int(line["units"]) < 0 and usage_type not in DOWNLOADS:
                raise ValueError("a stream's units are not negative in DSR (downloads give returns)")
            context = (line["service"], line["territory"], usage_type, line["currency"])
            summary = summaries.setdefault(context, [f"S{len(summaries) + 1}", 0, 0])
            units, micros = int(line["units"]), _micros(str(line["revenue"]), "revenue")
            summary[1] += units
            summary[2] += micros
            if line["isrc"] != isrc:
                isrc, blocks = line["isrc"], blocks + 1
                title = line.get("title") or isrc
                body.write(_row("RE01", blocks, "R1", f"R-{isrc}", "", "", "", sender_name, "", title, *[""] * 5))
                body.write(
                    _row(
                        "AS02.02",
                        blocks,
                        "A1",
                        isrc,
                        isrc,
                        title,
                        "",
                        sender_name,
                        "",
                        "",
                        "SoundRecording",
                        *[""] * 11,
                    )
                )
                body_lines += 2
            transaction = line.get("event_id") or f"T{n}"
            price = _amount(micros)
            if usage_type in DOWNLOADS:
                usages, returns = max(units, 0), max(-units, 0)
                body.write(
                    _row("SU01", blocks, summary[0], transaction, "", "A1", "true", "false", usages, returns, price, "")
                )
            else:
                body.write(_row("SU02", blocks, summary[0], transaction, "", "A1", "true", units, price, ""))
            body_lines += 1
        created_at = (created or datetime.datetime.now(datetime.UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
        total = 1 + len(summaries) + body_lines + 1
        out.write(
            _row(
                "HEAD", MESSAGE_VERSION, PROFILE, PROFILE_VERSION, message_id, created_at, 1, 1,
                period_start, period_end, sender, sender_name, "", "", "", "",
            )
        )  # fmt: skip
        for (service, territory, usage_type, currency), (id_, usages, micros) in summaries.items():
            out.write(
                _row(
                    "SY01.01", id_, "", "", "AsPerContract", WRITTEN_USE_TYPES[usage_type], territory, service,
                    usages, "", currency, _amount(micros), "", "", "",
                )
            )  # fmt: skip
        body.seek(0)
        while chunk := body.read(1 << 20):
            out.write(chunk)
        out.write(_row("FOOT", total, total, len(summaries), blocks, blocks))
    return total


def _row(*cells: Any) -> bytes:
    for cell in cells:
        if any(c in str(cell) for c in "\t\r\n"):
            raise ValueError(f"{cell!r}: a DSR cell has no tabs or line breaks")
    return ("\t".join(str(cell) for cell in cells) + "\n").encode()
