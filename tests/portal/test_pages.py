"""The portal's pages without a browser: the works list pages through an organisation's works,
and shows none of another organisation's."""

from typing import Any

import pytest

from ledgerline.works.models import Work, WorkStatus
from tests.conftest import Team, model_record
from tests.royalties.conftest import catalogue  # noqa: F401 (a fixture)


@pytest.mark.django_db
def test_the_works_list_pages_through_the_organisations_works(team: Team, client: Any) -> None:
    model = model_record(team.organisation)
    Work.objects.bulk_create(
        [
            Work(organisation=team.organisation, title=f"Take {i}", model=model, seed=i, status=WorkStatus.HELD)
            for i in range(60)
        ]
    )
    client.force_login(team.auditor.user)
    first, second = client.get("/works/"), client.get("/works/?page=2")
    assert first.status_code == second.status_code == 200
    assert len(first.context["page"].object_list) == 50 and len(second.context["page"].object_list) == 10
    assert "page 1 of 2 · 60 works" in first.content.decode()
    client.force_login(team.outsider.user)
    assert "No works yet" in client.get("/works/").content.decode()
    assert client.get(f"/works/{Work.objects.first().pk}/").status_code == 404  # type: ignore[union-attr]


@pytest.mark.django_db
def test_the_royalties_page_shows_each_payees_statement_and_each_works_revenue(
    catalogue: Any,  # noqa: F811 (the fixture)
    client: Any,
) -> None:
    from tests.royalties.test_statements import _october

    _october(catalogue)
    client.force_login(catalogue.team.auditor.user)
    page = client.get("/royalties/?period=2026-10")
    assert page.status_code == 200
    rows = page.context["rows"]
    paid = sum(row["statement"].totals.get("EUR", 0) for row in rows)
    assert str(paid) == "100.01"  # the payees' totals add up to the period's revenue, to the cent
    html = page.content.decode()
    ada = f"holder:{catalogue.holders['Ada'].pk}"
    assert f"/api/v1/statements/2026-10/{ada}.pdf" in html and "7.50 EUR" in html
    assert {w["currency"] for w in page.context["works"]} == {"EUR", "JPY", "USD"}
    assert client.get("/royalties/?period=October").status_code == 400
    client.force_login(catalogue.team.outsider.user)
    assert "No usage reported" in client.get("/royalties/?period=2026-10").content.decode()


@pytest.mark.django_db
def test_only_an_admin_adds_members(team: Team, client: Any) -> None:
    from ledgerline.accounts.models import Membership

    client.force_login(team.teammate.user)
    refused = client.post("/organisations/acme-records/", {"username": "outsider", "role": "admin"})
    assert refused.status_code == 403
    assert not Membership.objects.filter(user=team.outsider.user, organisation=team.organisation).exists()
    client.force_login(team.owner.user)
    assert client.post("/organisations/acme-records/", {"username": "outsider", "role": "boss"}).status_code == 400
    assert client.post("/organisations/acme-records/", {"username": "outsider", "role": "auditor"}).status_code == 302
    again = client.post("/organisations/acme-records/", {"username": "outsider", "role": "auditor"})
    assert again.status_code == 400 and "already a member" in again.content.decode()
