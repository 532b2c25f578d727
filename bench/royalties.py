"""Usage ingestion and statements, measured against a plain SQL GROUP BY over the same rows.

Makes an organisation with --works released works (each with its split recorded, as a signed
manifest has it, and an ISRC), writes a CSV usage report of --events lines (works named by ISRC
or token id, three currencies, per-stream revenue with six decimals), then times:
  ingest      the CSV through `usage_import` (parse, check every line, look up each work,
              idempotency check, insert; one transaction): events per second
  retry       the same file again: every line a duplicate (its id found by the unique index, its
              values compared by digest), nothing inserted; also printed as a ratio to the first
              import's speed (at least 1.0: a resent file is no slower)
  statements  `statements_compute`: every payee's statement of the period (GROUP BY, round to
              the cent, split by largest remainder)
  GROUP BY    the baseline: `SELECT work_id, currency, SUM(amount_micros) ... GROUP BY work_id,
              currency` over the same table, as one statement
and prints each as a ratio to the GROUP BY's time in the same database and run (1.0 = as fast).
The HTTP layer (streaming the request body into the same parser) is not included.

    .venv/bin/python bench/royalties.py [--events 1000000] [--works 1000] [--database-url postgres://...]
"""

import argparse
import random
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "platform"), str(ROOT), str(ROOT / "bench")]

from django_fresh import django_fresh  # noqa: E402


def report_write(path: Path, works: list[tuple[str, int]], events: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    territories = ["GB", "FR", "DE", "US", "JP", "BR", "ES", "IT", "Worldwide"]
    services = ["Spotify", "Apple Music", "Deezer", "YouTube", "Tidal"]
    currencies = ["EUR", "USD", "JPY"]
    with open(path, "w") as out:
        out.write(
            "event_id,isrc,token_id,service,territory,usage_type,units,revenue,currency,period_start,period_end\n"
        )
        for n in range(events):
            isrc, token = works[rng.randrange(len(works))]
            by_isrc = n % 2 == 0
            units = rng.randrange(1, 5000)
            currency = currencies[n % 3]
            revenue = units * rng.randrange(800, 4200) if currency != "JPY" else units * rng.randrange(1, 5) * 10**6
            out.write(
                f"dsr-{n},{isrc if by_isrc else ''},{'' if by_isrc else token},{services[n % 5]},"
                f"{territories[n % 9]},OnDemandStream,{units},{revenue / 1e6:.6f},{currency},2026-10-01,2026-10-31\n"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--works", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the statements and the GROUP BY")
    parser.add_argument("--database-url", default="", help="PostgreSQL (default: a fresh SQLite file)")
    args = parser.parse_args()

    work = django_fresh("ledgerline-bench-", database_url=args.database_url)
    from django.db import connection

    from ledgerline.accounts import services as accounts
    from ledgerline.datasets.models import Blob
    from ledgerline.ledger.models import Token
    from ledgerline.royalties.isrc import isrc_make
    from ledgerline.royalties.models import Isrc, UsageEvent
    from ledgerline.royalties.splits import work_split
    from ledgerline.royalties.statements import period_parse, statements_compute
    from ledgerline.royalties.usage import lines_csv, usage_import
    from ledgerline.training.models import ModelArtifact, TrainingRun
    from ledgerline.works.models import Work, WorkStatus

    user = accounts.user_create(username=f"bench{time.time_ns()}", password="bench password 123")
    organisation = accounts.organisation_create(name=f"Bench {time.time_ns()}", admin=user)
    run = TrainingRun.objects.create(organisation=organisation, name="run", config={"model": "lstm"})
    blob, _ = Blob.objects.get_or_create(sha256="cd" * 32, defaults={"size": 1})
    model = ModelArtifact.objects.create(run=run, name="weights", blob=blob)
    works = []
    for i in range(args.works):
        content = f"{i:064x}"
        token = Token.objects.create(chain_id=1, contract="0x" + "ab" * 20, content_sha256=content, token_id=i + 1)
        item = Work.objects.create(
            organisation=organisation,
            title=f"Work {i}",
            model=model,
            seed=i,
            status=WorkStatus.CONFIRMED,
            content_sha256=content,
            token=token,
        )
        item.manifest = {"manifest": {"royalties": work_split(item)}}
        item.save(update_fields=["manifest"])
        code = isrc_make(country="GB", registrant="LL1", year=2026, designation=i + 1)
        Isrc.objects.create(work=item, code=code)
        works.append((code, i + 1))
    csv_path = work / "report.csv"
    report_write(csv_path, works, args.events)
    size = csv_path.stat().st_size
    vendor = connection.vendor
    print(f"{vendor}: {args.events:,} events over {args.works} works, report {size / 2**20:.0f} MiB")

    def chunks() -> Iterator[bytes]:
        with open(csv_path, "rb") as f:
            while chunk := f.read(1 << 20):
                yield chunk

    start = time.perf_counter()
    result = usage_import(organisation=organisation, lines=lines_csv(chunks()), reported_by=user)
    ingest = time.perf_counter() - start
    assert result.accepted == args.events and not result.refused, result.to_json()
    start = time.perf_counter()
    again = usage_import(organisation=organisation, lines=lines_csv(chunks()), reported_by=user)
    retry = time.perf_counter() - start
    assert again.duplicates == args.events and again.accepted == 0
    assert UsageEvent.objects.filter(organisation=organisation).count() == args.events

    table = UsageEvent._meta.db_table
    period = period_parse("2026-10")
    group_by, statement = [], []
    for _ in range(args.rounds):
        start = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT work_id, currency, SUM(amount_micros) FROM {table} GROUP BY work_id, currency")
            groups = cursor.fetchall()
        group_by.append(time.perf_counter() - start)
        start = time.perf_counter()
        statements = statements_compute(organisation_id=organisation.pk, period=period)
        statement.append(time.perf_counter() - start)
    baseline = statistics.median(group_by)
    lines = sum(len(s.lines) for s in statements.values())
    print(f"GROUP BY (baseline)  {baseline:8.3f} s  {len(groups)} groups, {args.events / baseline:,.0f} rows/s")
    print(
        f"ingest               {ingest:8.3f} s  {args.events / ingest:,.0f} events/s   "
        f"ratio {ingest / baseline:.1f}x the GROUP BY"
    )
    print(
        f"retry (duplicates)   {retry:8.3f} s  {args.events / retry:,.0f} events/s   "
        f"ratio {retry / baseline:.1f}x the GROUP BY, {ingest / retry:.2f}x the first import's speed"
    )
    print(
        f"statements           {statistics.median(statement):8.3f} s  {len(statements)} payees, {lines} lines  "
        f"ratio {statistics.median(statement) / baseline:.2f}x the GROUP BY"
    )


if __name__ == "__main__":
    main()
