"""Statements: what each payee earned in a period, per work and in total, per currency.

An event belongs to the period that holds its `period_start`. Each work's events in the period
are summed exactly (in micros, per currency), and each payee's line is that revenue times its
share, exactly. What is paid is rounded once per payee and currency: the period's revenue in the
currency is rounded to its minor unit (half to even: ROUNDING), each payee gets the floor of its
exact total, and the units left over go one each to the largest remainders, ties to the smaller
payee key (money.allocate). So the payees' totals add up exactly to the period's revenue, each is
within one minor unit of its exact amount, and no currency is ever converted into another.
"""

import calendar
import csv
import datetime
import io
import re
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from fractions import Fraction
from typing import Any

from django.db import connection

from ledgerline.accounts.models import Organisation
from ledgerline.errors import LedgerlineError
from ledgerline.royalties.models import MICROS, UsageEvent
from ledgerline.royalties.money import PRECISION, allocate, minor_units
from ledgerline.royalties.splits import decimal_text, work_split
from ledgerline.works.models import Work
from ledgerline.works.royalty_receivers import payee_destinations

ROUNDING = ROUND_HALF_EVEN
# Years 1900-2999. The API's schema gives this pattern to clients as it is (an ECMA regex too).
PERIOD = re.compile(r"^((?:19|2\d)\d{2})(?:-(0[1-9]|1[0-2])|-Q([1-4]))?$")


@dataclass(frozen=True)
class Period:
    label: str
    start: datetime.date
    end: datetime.date  # exclusive


def period_parse(text: str) -> Period:
    """2026-10 (a month), 2026-Q4 (a quarter) or 2026 (a year)."""
    match = PERIOD.match(text.strip())
    if not match:
        raise LedgerlineError(
            f"period {text!r} is not a month (2026-10), a quarter (2026-Q4) or a year (2026).",
            fields={"period": ["YYYY-MM, YYYY-Qn or YYYY"]},
        )
    year = int(match[1])
    if match[2]:
        month = int(match[2])
        first, last = month, month
    elif match[3]:
        first = 3 * int(match[3]) - 2
        last = first + 2
    else:
        first, last = 1, 12
    start = datetime.date(year, first, 1)
    end = datetime.date(year, last, calendar.monthrange(year, last)[1]) + datetime.timedelta(days=1)
    return Period(text.strip(), start, end)


@dataclass
class Line:
    work: str
    title: str
    isrc: str
    token_id: int | None
    currency: str
    revenue: Decimal  # the work's revenue in the period, exact (as reported, summed)
    share: Decimal
    amount: Decimal  # revenue x share, exact; the statement's totals are what is paid


@dataclass
class Statement:
    payee: str
    name: str
    period: Period
    lines: list[Line] = field(default_factory=list)
    totals: dict[str, Decimal] = field(default_factory=dict)  # per currency, in minor units: what is paid

    def to_json(self) -> dict[str, Any]:
        # Where its part of a resale royalty is paid on chain (works minted from now on): its
        # wallet, its organisation's, or the platform's account, which holds it for the payee.
        destination = payee_destinations([self.payee])[self.payee]
        return {
            "payee": self.payee,
            "name": self.name,
            "wallet": destination.wallet,
            "accrues_to": destination.accrues_to,
            "period": {
                "label": self.period.label,
                "start": self.period.start.isoformat(),
                "end": (self.period.end - datetime.timedelta(days=1)).isoformat(),
            },
            "totals": {currency: str(amount) for currency, amount in self.totals.items()},
            "lines": [
                {
                    "work": line.work,
                    "title": line.title,
                    "isrc": line.isrc,
                    "token_id": line.token_id,
                    "currency": line.currency,
                    "revenue": decimal_text(line.revenue),
                    "share": decimal_text(line.share),
                    "amount": decimal_text(line.amount),
                }
                for line in self.lines
            ],
        }


def revenue_by_work(*, organisation_id: Any, period: Period) -> dict[tuple[Any, str], int]:
    """{(work id, currency): micros}: the one GROUP BY a statement needs."""
    table = UsageEvent._meta.db_table
    ops = connection.ops
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT work_id, currency, SUM(amount_micros) FROM {table} "
            f"WHERE organisation_id = %s AND period_start >= %s AND period_start < %s "
            f"GROUP BY work_id, currency",
            [
                UsageEvent._meta.get_field("organisation").get_db_prep_value(organisation_id, connection),
                ops.adapt_datefield_value(period.start),
                ops.adapt_datefield_value(period.end),
            ],
        )
        return {(work_id, currency): int(micros) for work_id, currency, micros in cursor.fetchall()}


def work_payees(work: Work) -> dict[str, Any]:
    """The split the work's signed manifest records; for a work signed before splits were
    recorded, the one its lineage and policy give now."""
    recorded = work.manifest.get("manifest", {}).get("royalties")
    if recorded:
        return recorded
    try:
        return work_split(work)
    except ValueError as exc:
        raise LedgerlineError(f"{work.title} has no recorded split, and its lineage gives none: {exc}.") from None


def statements_compute(*, organisation_id: Any, period: Period) -> dict[str, Statement]:
    """Every payee's statement for the organisation's works in ``period``: per-work lines with
    exact amounts, and per currency the total to pay, rounded once (see the module docstring)."""
    revenue = revenue_by_work(organisation_id=organisation_id, period=period)
    field_ = Work._meta.pk
    assert field_ is not None
    ids = {field_.to_python(work_id) for work_id, _ in revenue}
    works = {
        field_.get_db_prep_value(work.pk, connection): work
        for work in Work.objects.filter(pk__in=ids).select_related("organisation", "model__run", "token", "isrc")
    }
    statements: dict[str, Statement] = {}
    exact: dict[str, dict[str, Fraction]] = defaultdict(lambda: defaultdict(Fraction))  # currency -> payee -> sum
    with localcontext() as context:
        context.prec = PRECISION  # revenue x share stays exact
        for (work_id, currency), micros in sorted(revenue.items(), key=lambda item: (str(item[0][0]), item[0][1])):
            work = works[work_id]
            payees = work_payees(work)
            isrc = getattr(work, "isrc", None)
            for payee in payees["payees"]:
                key, share = payee["payee"], Decimal(payee["share"])
                exact[currency][key] += Fraction(micros, MICROS) * Fraction(share)
                statement = statements.setdefault(key, Statement(key, payee["name"], period))
                statement.lines.append(
                    Line(
                        work=str(work.pk),
                        title=work.title,
                        isrc=isrc.code if isrc else "",
                        token_id=work.token.token_id if work.token else None,
                        currency=currency,
                        revenue=Decimal(micros) / MICROS,
                        share=share,
                        amount=Decimal(micros) * share / MICROS,
                    )
                )
    for currency, by_payee in sorted(exact.items()):
        unit = Decimal(1).scaleb(-minor_units(currency))
        total = (Decimal(sum(revenue[k] for k in revenue if k[1] == currency)) / MICROS).quantize(unit, ROUNDING)
        paid = allocate(int(total / unit), {payee: amount / Fraction(unit) for payee, amount in by_payee.items()})
        for payee, units in paid.items():
            statements[payee].totals[currency] = (units * unit).quantize(unit)
    return statements


def statements_visible(*, organisations: list[Organisation], period: Period) -> list[tuple[Statement, Organisation]]:
    """Every statement of ``period`` that members of ``organisations`` see, with the organisation
    whose works it covers: every payee of their own works, and the statement of each rights
    holder of another organisation's data that they speak for."""
    from ledgerline.datasets.models import RightsHolder

    found = [
        (statement, organisation)
        for organisation in organisations
        for statement in statements_compute(organisation_id=organisation.pk, period=period).values()
    ]
    ids = [o.pk for o in organisations]
    for holder in (
        RightsHolder.objects.filter(account_id__in=ids).exclude(organisation_id__in=ids).select_related("organisation")
    ):
        held = statements_compute(organisation_id=holder.organisation_id, period=period).get(f"holder:{holder.pk}")
        if held is not None:
            found.append((held, holder.organisation))
    return found


def statement_csv(statement: Statement) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        ["payee", "period", "work", "title", "isrc", "token_id", "currency", "work_revenue", "share", "amount"]
    )
    for line in statement.lines:
        writer.writerow(
            [
                statement.payee,
                statement.period.label,
                line.work,
                line.title,
                line.isrc,
                line.token_id if line.token_id is not None else "",
                line.currency,
                decimal_text(line.revenue),
                decimal_text(line.share),
                decimal_text(line.amount),
            ]
        )
    for currency, amount in statement.totals.items():
        writer.writerow([statement.payee, statement.period.label, "", "TOTAL", "", "", currency, "", "", amount])
    return out.getvalue()


def statement_pdf(statement: Statement, *, organisation: str) -> bytes:
    """A one-table PDF a label can send: who, which period, each work's line and the totals."""
    from fpdf import FPDF
    from fpdf.enums import XPos, YPos

    pdf = FPDF(orientation="landscape", format="A4")
    pdf.set_title(f"Royalty statement {statement.period.label} - {statement.name}")
    pdf.set_creator("Ledgerline")
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(0, 10, _latin(f"Royalty statement - {statement.name}"), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("Helvetica", "", 10)
    json = statement.to_json()
    for text in (
        f"Works of {organisation}",
        f"Period {statement.period.label}: {json['period']['start']} to {json['period']['end']}",
        f"Payee {statement.payee}",
        "Lines: each work's revenue times the share its signed manifest records, exactly. Totals: the",
        "period's revenue rounded to the cent (half to even), shared by the floors of the exact amounts",
        "and the cents left over to the largest remainders.",
    ):
        pdf.cell(0, 6, _latin(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(4)
    with pdf.table(
        col_widths=(60, 34, 18, 16, 34, 30, 34),
        text_align=("LEFT", "LEFT", "RIGHT", "CENTER", "RIGHT", "RIGHT", "RIGHT"),
    ) as table:
        table.row(["Work", "ISRC", "Token", "Currency", "Work revenue", "Share", "Amount"])
        for line in statement.lines:
            table.row(
                [
                    _latin(line.title),
                    line.isrc,
                    str(line.token_id or ""),
                    line.currency,
                    decimal_text(line.revenue),
                    decimal_text(line.share),
                    decimal_text(line.amount),
                ]
            )
        for currency, amount in statement.totals.items():
            table.row(["Total", "", "", currency, "", "", str(amount)])
    return bytes(pdf.output())


def _latin(text: str) -> str:
    """The PDF's core font speaks Latin-1: other characters are shown as '?'."""
    return text.encode("latin-1", "replace").decode("latin-1")
