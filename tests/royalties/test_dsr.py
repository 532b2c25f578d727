"""DDEX DSR flat files (Basic Audio Profile): a file in, statements out to the cent; sent again it
counts once; every bad record named by its line; through the API and manage.py usage_import;
read in constant memory."""

import io
import tracemalloc
from collections import defaultdict
from collections.abc import Iterator
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from ledgerline.royalties import services
from ledgerline.royalties.models import UsageEvent
from ledgerline.royalties.money import minor_units
from ledgerline.royalties.statements import period_parse, statements_compute
from ledgerline.royalties.usage_dsr import dsr_write, lines_dsr
from tests.royalties.conftest import Catalogue

ISRCS = ("GBLDG2600001", "GBLDG2600002", "GBLDG2600003")
SENDER = "PADPIDA2026100101X"
# (summary id, territory, currency, NetRevenue, Usages): the money is on the summary records, the
# streams on the SU records, as DSPs send them. Amounts that do not divide evenly.
SUMMARIES = [
    ("S1", "DE", "EUR", "1000.000001", 7),
    ("S2", "JP", "JPY", "333", 9),
    ("S3", "BH", "BHD", "12.3457", 6),
    ("S4", "FR", "EUR", "0.01", 3),
]
# (block, isrc index, summary, streams): each SU record's share of its summary.
USAGE = [
    (1, 0, "S1", 3),
    (1, 0, "S2", 2),
    (1, 0, "S3", 1),
    (2, 1, "S1", 2),
    (2, 1, "S2", 4),
    (2, 1, "S4", 1),
    (3, 2, "S1", 2),
    (3, 2, "S2", 3),
    (3, 2, "S3", 5),
    (3, 2, "S4", 2),
]


def dsr_file(message_id: str = "M-2026-10", usage: list[tuple[int, int, str, int]] = USAGE) -> str:
    """A DSR file as a DSP sends it: comment lines, records padded to one width, SU02.02 records
    with their UseType (profile version 1.3), no prices on the lines."""
    pad = "\t" * 3
    rows = [
        f"HEAD\tdsrf/1.1/1.4.1/1.3\tBasicAudioProfile\t1.3\t{message_id}\t2026-11-03T07:59:30Z\t1\t1\t2026-10\t"
        f"2026-10\t{SENDER}\tStreamCo\tStreamCo-Premium\tPADPIDA2026100102Y\tAcme Records\t{pad}",
        "#SY02.02\tSummaryRecordId\tDistributionChannel\t...",
    ]
    for summary, territory, currency, net, usages in SUMMARIES:
        rows.append(
            f"SY02.02\t{summary}\t\t\tSubscriptionModel\tOnDemandStream\t{territory}\t\t{usages}\t\t{currency}\t{net}"
            + "\t" * 10
        )
    block = 0
    for number, (b, work, summary, streams) in enumerate(usage):
        if b != block:
            block = b
            rows.append(f"RE01.02\t{b}\tR{b}\tREL{b}\t\t\t\tArtist\t\tAlbum {b}\t\tAlbum\t\t\t{pad}")
            rows.append(
                f"AS02.03\t{b}\tA{b}\tDSP{b}\t{ISRCS[work]}\tSong {b}\t\tArtist\t\tPT3M\tSoundRecording" + pad * 4
            )
        rows.append(f"SU02.02\t{b}\t{summary}\tT{number}\t\tA{b}\tTRUE\t{streams}\t\t\tOnDemandStream{pad}")
    blocks = len({b for b, *_ in usage})
    rows.append(f"FOOT\t{len(rows) + 1}\t{len(rows) + 1}\t{len(SUMMARIES)}\t{blocks}\t{blocks}{pad}")
    return "\n".join(rows) + "\n"


def expected_revenue() -> dict[tuple[str, str], Decimal]:
    """What each (ISRC, currency) earned: each SU record's exact share of its summary's NetRevenue,
    in Decimal, rounded to the micro on the running total so a summary's lines add up to it."""
    totals = {s: (Decimal(net), usages, currency) for s, _, currency, net, usages in SUMMARIES}
    running: dict[str, int] = defaultdict(int)
    earned: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for _, work, summary, streams in USAGE:
        net, usages, currency = totals[summary]
        before = (net * running[summary] / usages).quantize(Decimal("0.000001"), ROUND_HALF_EVEN)
        running[summary] += streams
        after = (net * running[summary] / usages).quantize(Decimal("0.000001"), ROUND_HALF_EVEN)
        earned[(ISRCS[work], currency)] += after - before
    return earned


@pytest.fixture
def isrcs(catalogue: Catalogue) -> Catalogue:
    for work, code in zip(catalogue.works, ISRCS, strict=True):
        services.isrc_assign(work=work, code=code)
    return catalogue


def send(client: Any, body: str, query: str = "") -> Any:
    return client.generic(
        "POST", f"/api/v1/usage-events/bulk/{query}", body.encode(), content_type="text/tab-separated-values"
    )


@pytest.mark.django_db
def test_a_dsr_file_in_statements_out_reconciled_to_the_cent(isrcs: Catalogue) -> None:
    team = isrcs.team
    assert send(team.auditor.client, dsr_file()).status_code == 403
    response = send(team.owner.client, dsr_file())
    assert response.status_code == 201, response.json()
    assert response.json()["accepted"] == len(USAGE)

    expected = expected_revenue()
    revenue: dict[str, Decimal] = defaultdict(Decimal)
    for (_, currency), amount in expected.items():
        revenue[currency] += amount
    assert revenue == {"EUR": Decimal("1000.010001"), "JPY": Decimal("333"), "BHD": Decimal("12.3457")}

    statements = statements_compute(organisation_id=team.organisation.pk, period=period_parse("2026-10"))
    earned: dict[tuple[str, str], Decimal] = {}
    paid: dict[str, Decimal] = defaultdict(Decimal)
    for statement in statements.values():
        for line in statement.lines:
            earned[(line.work, line.currency)] = line.revenue
        for currency, amount in statement.totals.items():
            paid[currency] += amount
    by_isrc = {code: str(work.pk) for code, work in zip(ISRCS, isrcs.works, strict=True)}
    assert earned == {(by_isrc[isrc], c): amount for (isrc, c), amount in expected.items()}
    for currency, exact in revenue.items():
        unit = Decimal(1).scaleb(-minor_units(currency))
        assert paid[currency] == exact.quantize(unit, rounding=ROUND_HALF_EVEN)
    assert paid == {"EUR": Decimal("1000.01"), "JPY": Decimal("333"), "BHD": Decimal("12.346")}


@pytest.mark.django_db
def test_the_same_report_sent_again_counts_once(isrcs: Catalogue) -> None:
    client = isrcs.team.owner.client
    assert send(client, dsr_file()).status_code == 201
    again = send(client, dsr_file())
    assert again.status_code == 200
    assert again.json() | {"rejected": []} == {
        "lines": len(USAGE),
        "accepted": 0,
        "duplicates": len(USAGE),
        "rejected_count": 0,
        "rejected": [],
    }
    assert send(client, dsr_file(message_id="M-2026-10-b")).json()["accepted"] == len(USAGE)  # another report
    assert UsageEvent.objects.filter(organisation=isrcs.team.organisation).count() == 2 * len(USAGE)


@pytest.mark.django_db
def test_a_file_that_is_not_dsr_is_refused_with_its_reason(isrcs: Catalogue) -> None:
    client = isrcs.team.owner.client
    for body, reason in [
        ("event_id,isrc\n", "a DSR file starts with a HEAD record, not 'event_id,isrc'"),
        ("\udcff\x00\tHEAD", "the line is not UTF-8 text"),
    ]:
        response = client.generic(
            "POST", "/api/v1/usage-events/bulk/", body.encode("utf-8", "surrogateescape"),
            content_type="text/tab-separated-values",
        )  # fmt: skip
        assert response.status_code == 400
        assert response.json()["error"]["fields"]["lines"] == [{"line": 1, "event_id": None, "reason": reason}]
    assert send(client, "").json()["lines"] == 0


def test_the_writer_s_file_reads_back_as_it_was_written() -> None:
    lines = [
        {"isrc": ISRCS[0], "service": "Deezer", "territory": "FR", "usage_type": "OnDemandStream", "units": 300,
         "revenue": "1.234567", "currency": "EUR", "event_id": "a"},
        {"isrc": ISRCS[0], "service": "Deezer", "territory": "JP", "usage_type": "Stream", "units": 30,
         "revenue": "333", "currency": "JPY", "event_id": "b"},
        {"isrc": ISRCS[1], "service": "iTunes", "territory": "US", "usage_type": "PermanentDownload", "units": -2,
         "revenue": "-1.98", "currency": "USD", "event_id": "c"},
        {"isrc": ISRCS[2], "service": "Deezer", "territory": "FR", "usage_type": "OnDemandStream", "units": 1,
         "revenue": "0.000001", "currency": "EUR", "event_id": "d"},
    ]  # fmt: skip
    out = io.BytesIO()
    written = dsr_write(out, message_id="W1", sender=SENDER, period_start="2026-10", period_end="2026-10", lines=lines)
    text = out.getvalue().decode()
    assert written == len(text.splitlines()) and text.startswith("HEAD\t") and text.splitlines()[-1].startswith("FOOT")
    read = [values for _, values in lines_dsr([out.getvalue()])]
    assert all(isinstance(values, dict) for values in read), read
    assert [(v["event_id"], v["isrc"], v["units"], v["revenue"], v["currency"], v["usage_type"]) for v in read] == [
        (f"{SENDER}:W1:{line['event_id']}", line["isrc"], line["units"], line["revenue"], line["currency"],
         line["usage_type"])
        for line in lines
    ]  # fmt: skip
    assert {(v["period_start"], v["period_end"]) for v in read} == {("2026-10-01", "2026-10-31")}


BAD = """HEAD\tdsrf/30\tBasicAudioProfile\t1.2\tM1\t2026-11-03T07:59:30Z\t1\t1\t2026-10\t2026-10-31\tDPID\tCo\t\t\t\t
SY01.01\tS1\t\t\tSubscriptionModel\tOnDemandStream\tGB\tPremium\t10\t\tGBP\t5.00\t\t\t
SY01.01\tS2\t\t\tSubscriptionModel\tOnDemandStream\tGB\tPremium\tmany\t\tGBP\t5.00\t\t\t
SY01.01\tS3\t\t\tSubscriptionModel\tOnDemandStream\tGB\tPremium\t4\t\tGBP\t5.00\t\t\t
XX01\t1
RE01\t1\tR1\tREL1\t\t\t\tArtist\t\tAlbum\t\t\t\t\t
AS01.01\t1\tA1\tD1\tGBLDG2600001\tSong\t\tArtist\t\t\tSoundRecording\t
AS01.01\t1\tA2\tD2
SU02\t1\tS1\tT1\t\tA1\ttrue\t6\t\t
SU02\t1\tS1\tT2\t\tA9\ttrue\t4\t\t
SU02\t1\tS9\tT3\t\tA1\ttrue\t4\t\t
SU02\t1\tS2\tT4\t\tA1\ttrue\t4\t\t
SU02\t1\tS3\tT5\t\tA1\ttrue\tfour\t\t
SU02\t1\tS3\tT6\t\tR1\ttrue\t1\t\t
SU02\t1\tS3\tT7\t\t\ttrue\t1\t\t
SU01\t1\tS3\tT8\t\tA1\ttrue\tfalse\t2\t0\t1.0000001\t
SU02\t1\tS3\tT9\t\tA1\ttrue\t1\t\t\tWatchOnTV
FOOT\t20\t20\t3\t1\t1
"""


def test_every_bad_record_is_named_by_its_line() -> None:
    found = dict(lines_dsr([BAD.encode()]))
    reasons = {number: values for number, values in found.items() if isinstance(values, str)}
    assert set(reasons) == {2, 3, 4, 5, 8, 10, 11, 12, 13, 14, 15, 16, 17, 18}, reasons
    assert reasons[2] == "summary S1 gives Usages 10, but its SU records add up to 6"
    assert "Usages 'many' is not a whole number" in reasons[3]
    assert reasons[4] == "summary S3 gives Usages 4, but its SU records add up to 0"
    assert reasons[5].startswith("unknown record type 'XX01'")
    assert reasons[8] == "4 cells where a AS01 record has 12"
    assert reasons[10] == "TransactedResource A9 names no resource record of block 1"
    assert reasons[11] == "SummaryRecordId S9 names no summary record of this file"
    assert reasons[12] == "its summary record S2 (line 3) is not valid"
    assert reasons[13] == "NumberOfStreams 'four' is not a whole number of zero or more"
    assert reasons[14] == "TransactedResource R1 names no resource record of block 1"
    assert reasons[15] == "an SU record names its TransactedResource or TransactedRelease"
    assert "PriceConsumerPaidExcSalesTax '1.0000001' is not a decimal number with at most 6" in reasons[16]
    assert reasons[17].startswith("UseType 'WatchOnTV' is not one this platform accounts for")
    assert reasons[18] == "the FOOT gives NumberOfLinesInFile 20, but the file has 18"
    assert found[9]["revenue"] == "3" and found[9]["event_id"] == "DPID:M1:T1"  # 6 of S1's 10 usages: 3.00 of 5.00


@pytest.mark.parametrize(
    ("body", "line", "reason"),
    [
        ("SY01.01\tS1\n", 1, "a DSR file starts with a HEAD record, not 'SY01.01'"),
        (BAD.replace("BasicAudioProfile", "UgcProfile"), 1, "profile 'UgcProfile': this reads the BasicAudioProfile"),
        (BAD.replace("2026-10-31", "2026-13"), 1, "UsageEndDate '2026-13' is not a date"),
        (BAD.replace("\t1\t1\t2026", "\t2\t3\t2026"), 1, "this is file 2 of 3 of a DSR message"),
        (BAD.split("FOOT")[0], 18, "the file ends without a FOOT record"),
        (BAD + "SU02\t1\tS1\tT1\t\tA1\ttrue\t6\t\t\n", 19, "a record after the FOOT record"),
    ],
)
def test_a_broken_file_is_named_by_its_line(body: str, line: int, reason: str) -> None:
    found = [(number, values) for number, values in lines_dsr([body.encode()]) if isinstance(values, str)]
    assert any(number == line and values.startswith(reason) for number, values in found), found


@pytest.mark.django_db
def test_manage_py_usage_import(isrcs: Catalogue, tmp_path: Path) -> None:
    report = tmp_path / "DSR_StreamCo_2026-10.tsv"
    report.write_text(dsr_file())
    out, err = io.StringIO(), io.StringIO()
    slug = isrcs.team.organisation.slug
    call_command("usage_import", str(report), "--organisation", slug, stdout=out, stderr=err)
    assert out.getvalue().strip() == f"{len(USAGE)} lines: {len(USAGE)} accepted, 0 duplicates, 0 rejected."
    call_command("usage_import", str(report), "--organisation", slug, "--format", "dsr", stdout=out, stderr=err)
    assert f"0 accepted, {len(USAGE)} duplicates" in out.getvalue()

    broken = tmp_path / "broken.txt"
    broken.write_text(dsr_file(message_id="M2").replace("\tA3\tTRUE", "\tA7\tTRUE"))
    with pytest.raises(CommandError, match="nothing was imported"):
        call_command("usage_import", str(broken), "--organisation", slug, stdout=out, stderr=err)
    assert "TransactedResource A7 names no resource record of block 3" in err.getvalue()
    with pytest.raises(CommandError, match="no organisation"):
        call_command("usage_import", str(report), "--organisation", "nobody", stdout=out, stderr=err)


def generated(records: int) -> Iterator[bytes]:
    """A DSR file of ``records`` SU records (1000 per summary, 10 per block), made as it is read."""
    summaries = -(-records // 1000)
    blocks = -(-records // 10)
    yield b"HEAD\tdsrf/1.2/1.2/1.2\tBasicAudioProfile\t1.2\tBIG\t2026-11-01T00:00:00Z\t1\t1\t2026-10\t2026-10\tP\tCo"
    yield b"\t\t\t\t\n"
    for s in range(summaries):
        count = min(1000, records - 1000 * s)
        yield f"SY01.01\tS{s}\t\t\tSubscriptionModel\tStream\tGB\tBasic\t{count}\t\tGBP\t1234.56\t\t\t\n".encode()
    chunk = []
    for n in range(records):
        block = n // 10
        if n % 10 == 0:
            chunk.append(f"RE01\t{block}\tR\tREL\t\t\t\tArtist\t\tAlbum\t\t\t\t\t\n")
            chunk.append(f"AS01.01\t{block}\tA\tD\tGBLDG26{block % 100000:05d}\tSong\t\tArtist\t\t\tSoundRecording\t\n")
        chunk.append(f"SU02\t{block}\tS{n // 1000}\tT{n}\t\tA\ttrue\t1\t\t\n")
        if len(chunk) > 3000:
            yield "".join(chunk).encode()
            chunk = []
    yield "".join(chunk).encode()
    total = 1 + summaries + 2 * blocks + records + 1
    yield f"FOOT\t{total}\t{total}\t{summaries}\t{blocks}\t{blocks}\n".encode()


def peak(records: int) -> int:
    tracemalloc.start()
    try:
        read = 0
        for _, values in lines_dsr(generated(records)):
            assert isinstance(values, dict), values
            read += 1
        assert read == records
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_large_file_is_read_in_constant_memory() -> None:
    small, large = peak(5_000), peak(50_000)  # 0.2 and 2.1 MB of DSR (tracemalloc makes more slow)
    assert large < 4 * 2**20, large
    assert large - small < 256 * 2**10, (small, large)
