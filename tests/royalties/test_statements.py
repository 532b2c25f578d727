"""Statements reconcile to the cent: over any events, per work and in total, the payees' amounts
add up exactly to the revenue; each is within a cent of its exact share; nothing is converted."""

import csv
import io
from collections import defaultdict
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pypdf import PdfReader

from ledgerline.accounts import services as accounts
from ledgerline.royalties.money import minor_units
from ledgerline.royalties.statements import period_parse, statements_compute
from ledgerline.royalties.usage import usage_import
from tests.conftest import _member
from tests.royalties.conftest import Catalogue

CURRENCIES = ("EUR", "USD", "JPY", "BHD")
revenues = st.decimals(min_value=Decimal("-50"), max_value=Decimal("5000"), places=6, allow_nan=False)
events = st.lists(
    st.tuples(
        st.integers(0, 2),
        st.sampled_from(CURRENCIES),
        revenues,
        st.sampled_from(["10", "11"]),
        st.sampled_from(["usage", "usage", "usage", "correction", "reversal"]),
        revenues,
    ),
    min_size=1,
    max_size=40,
)


def report(catalogue: Catalogue, drawn: list[Any]) -> dict[tuple[int, str], Decimal]:
    """Import the drawn events and return what each (work, currency) earned in October, the exact
    sum of its changes. A correction or reversal names the latest event of the latest chain of
    its work, currency and month (so corrections of corrections, and reversals of them, too)."""
    lines, expected = [], defaultdict(Decimal)
    latest: dict[tuple[int, str, str], str] = {}  # -> the chain's latest event id
    effective: dict[str, Decimal] = {}  # latest event id -> what its chain counts now
    for n, (w, currency, revenue, month, kind, new) in enumerate(drawn):
        work = catalogue.works[w]
        line = {
            "event_id": f"e{n}",
            "token_id": work.token.token_id,
            "service": "Spotify",
            "territory": "DE",
            "usage_type": "Stream",
            "units": 1,
            "revenue": str(revenue),
            "currency": currency,
            "period_start": f"2026-{month}-05",
            "period_end": f"2026-{month}-20",
        }
        target = latest.get((w, currency, month))
        if kind != "usage" and target in effective:
            line.update(kind=kind, corrects=target, revenue=str(new))
            before = effective.pop(target)
            change = -before if kind == "reversal" else new - before
            if kind == "correction":
                effective[line["event_id"]] = new
                latest[(w, currency, month)] = line["event_id"]
        else:
            change = revenue
            effective[line["event_id"]] = revenue
            latest[(w, currency, month)] = line["event_id"]
        if month == "10":
            expected[(w, currency)] += change
        lines.append((n + 1, line))
    result = usage_import(organisation=catalogue.team.organisation, lines=lines, reported_by=None)
    assert not result.refused, result.rejected
    return expected


@pytest.mark.django_db
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(drawn=events)
def test_statements_reconcile_to_the_cent(catalogue: Catalogue, drawn: list[Any]) -> None:
    with transaction.atomic():
        expected = report(catalogue, drawn)
        statements = statements_compute(organisation_id=catalogue.team.organisation.pk, period=period_parse("2026-10"))
        paid: dict[str, Decimal] = defaultdict(Decimal)
        earned: dict[tuple[str, str], Decimal] = {}
        for statement in statements.values():
            for line in statement.lines:
                assert line.amount == line.revenue * line.share  # exact, nothing rounded per line
                earned[(line.work, line.currency)] = line.revenue
            for currency, total in statement.totals.items():
                exact = sum((ln.amount for ln in statement.lines if ln.currency == currency), Decimal(0))
                unit = Decimal(1).scaleb(-minor_units(currency))
                assert abs(total - exact) < unit, (statement.payee, currency, total, exact)
                assert total == total.quantize(unit)
                paid[currency] += total
        assert earned == {(str(catalogue.works[w].pk), c): amount for (w, c), amount in expected.items()}
        for currency in CURRENCIES:
            revenue = sum((a for (_, c), a in expected.items() if c == currency), Decimal(0))
            unit = Decimal(1).scaleb(-minor_units(currency))
            assert paid[currency] == revenue.quantize(unit, rounding=ROUND_HALF_EVEN)
        transaction.set_rollback(True)


def _october(catalogue: Catalogue) -> None:
    lines = [
        (
            i + 1,
            {
                "event_id": f"o{i}",
                "token_id": w.token.token_id,
                "service": "Apple Music",
                "territory": "GB",
                "usage_type": "OnDemandStream",
                "units": 1000,
                "revenue": revenue,
                "currency": currency,
                "period_start": "2026-10-01",
                "period_end": "2026-10-31",
            },
        )
        for i, (w, revenue, currency) in enumerate(
            [
                (catalogue.works[0], "100.00", "EUR"),
                (catalogue.works[1], "0.01", "EUR"),
                (catalogue.works[2], "333", "JPY"),
                (catalogue.works[0], "12.345", "USD"),
            ]
        )
    ]
    assert not usage_import(organisation=catalogue.team.organisation, lines=lines, reported_by=None).refused


@pytest.mark.django_db
def test_a_statement_in_json_csv_and_pdf(catalogue: Catalogue) -> None:
    _october(catalogue)
    ada = f"holder:{catalogue.holders['Ada'].pk}"
    client = catalogue.team.auditor.client
    data = client.get(f"/api/v1/statements/2026-10/{ada}/").json()
    # Ada has 0.075 of each work. EUR: 7.5 + 0.00075 exactly; the 100.01 paid is shared by the
    # floors (7.50, 7.50, 5.00, 80.00) and the cent left goes to the largest remainder, the
    # label's (0.8 of a cent). JPY: 24.975 of 333; the 3 yen the floors leave go to Ada, Bo and
    # the platform. USD: 0.925875 of 12.345, which is paid as 12.34 (half to even); the 2 cents
    # left go to the platform (.725) and the label (.6), not to Ada or Bo (.5875).
    assert data["totals"] == {"EUR": "7.50", "JPY": "25", "USD": "0.92"}
    assert [(line["revenue"], line["amount"]) for line in data["lines"] if line["currency"] == "USD"] == [
        ("12.345", "0.925875")
    ]

    every = client.get("/api/v1/statements/?period=2026-10").json()["results"]
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for statement in every:
        for currency, amount in statement["totals"].items():
            totals[currency] += Decimal(amount)
    assert totals == {"EUR": Decimal("100.01"), "JPY": Decimal("333"), "USD": Decimal("12.34")}

    rows = list(csv.DictReader(io.StringIO(client.get(f"/api/v1/statements/2026-10/{ada}.csv").content.decode())))
    assert [(r["title"], r["currency"], r["amount"]) for r in rows if r["title"] == "TOTAL"] == [
        ("TOTAL", "EUR", "7.50"),
        ("TOTAL", "JPY", "25"),
        ("TOTAL", "USD", "0.92"),
    ]

    pdf = client.get(f"/api/v1/statements/2026-10/{ada}.pdf")
    assert pdf["Content-Type"] == "application/pdf"
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "Royalty statement - Ada" in text and "Acme Records" in text
    assert "7.50" in text and "0.925875" in text


@pytest.mark.django_db
def test_who_sees_which_statement(catalogue: Catalogue) -> None:
    _october(catalogue)
    team = catalogue.team
    ada = catalogue.holders["Ada"]
    ada_url = f"/api/v1/statements/2026-10/holder:{ada.pk}/"
    label_url = f"/api/v1/statements/2026-10/organisation:{team.organisation.pk}/"
    # Ada's publisher has its own account; the label links it to Ada.
    publisher = _member(None, "publisher", None, admin_of="Ada Publishing")  # type: ignore[arg-type]
    assert publisher.client.get(ada_url).status_code == 404
    assert (
        team.teammate.client.put(
            f"/api/v1/rights-holders/{ada.pk}/account/", {"organisation": "ada-publishing"}, format="json"
        ).status_code
        == 403
    )
    linked = team.owner.client.put(
        f"/api/v1/rights-holders/{ada.pk}/account/", {"organisation": "ada-publishing"}, format="json"
    )
    assert linked.status_code == 200, linked.json()

    assert publisher.client.get(ada_url).json()["totals"]["EUR"] == "7.50"
    assert publisher.client.get(label_url).status_code == 404
    assert publisher.client.get(f"/api/v1/statements/2026-10/holder:{catalogue.holders['Bo'].pk}/").status_code == 404
    assert publisher.client.get("/api/v1/usage-events/").json()["count"] == 0
    listed = publisher.client.get("/api/v1/statements/?period=2026-10").json()["results"]
    assert [s["payee"] for s in listed] == [f"holder:{ada.pk}"]

    for member in (team.owner, team.teammate, team.auditor):
        assert member.client.get(label_url).json()["totals"]["EUR"] == "80.01"
        assert member.client.get(ada_url).status_code == 200
    for url in (ada_url, label_url, "/api/v1/statements/2026-10/holder:x/"):
        assert team.outsider.client.get(url).status_code == 404
    # The platform's statement, as the list shows it: what the member's own works pay Ledgerline.
    platform_url = "/api/v1/statements/2026-10/platform/"
    listed = team.owner.client.get("/api/v1/statements/?period=2026-10").json()["results"]
    assert "platform" in [s["payee"] for s in listed]
    for member in (team.owner, team.auditor):
        assert member.client.get(platform_url).json()["totals"] == {"EUR": "5.00", "JPY": "17", "USD": "0.62"}
    assert member.client.get("/api/v1/statements/2026-10/platform.csv").status_code == 200
    theirs = team.outsider.client.get(platform_url).json()  # Other Label's works: none of Acme's lines
    assert (theirs["lines"], theirs["totals"]) == ([], {})
    staff = accounts.user_create(username="operator", password="a long test password")
    staff.is_staff = True
    staff.save()
    team.outsider.client.force_authenticate(staff)
    assert team.outsider.client.get("/api/v1/statements/2026-10/platform/").json()["totals"]["EUR"] == "5.00"
    assert team.owner.client.get("/api/v1/statements/?period=October").status_code == 400
