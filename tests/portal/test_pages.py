"""The portal's pages without a browser: the works list pages through an organisation's works,
and shows none of another organisation's."""

from typing import Any

import pytest

from ledgerline.works.models import Work, WorkStatus
from tests.conftest import Team, model_record


@pytest.mark.django_db
def test_the_works_list_pages_through_the_organisations_works(team: Team, client: Any) -> None:
    model = model_record(team.organisation)
    Work.objects.bulk_create([Work(organisation=team.organisation, title=f"Take {i}", model=model, seed=i,
                                   status=WorkStatus.HELD) for i in range(60)])
    client.force_login(team.auditor.user)
    first, second = client.get("/works/"), client.get("/works/?page=2")
    assert first.status_code == second.status_code == 200
    assert len(first.context["page"].object_list) == 50 and len(second.context["page"].object_list) == 10
    assert "page 1 of 2 · 60 works" in first.content.decode()
    client.force_login(team.outsider.user)
    assert "No works yet" in client.get("/works/").content.decode()
    assert client.get(f"/works/{Work.objects.first().pk}/").status_code == 404  # type: ignore[union-attr]
