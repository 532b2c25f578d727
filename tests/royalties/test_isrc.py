from typing import Any

import pytest
from django.utils import timezone

from ledgerline.royalties.isrc import InvalidIsrc, isrc_clean, isrc_format, isrc_make
from tests.royalties.conftest import released_works


@pytest.mark.parametrize(
    "value", ["USRC17607839", "US-RC1-76-07839", "isrc us-rc1-76-07839", " GBAYE0601498 ", "IS-RCX-26-00001"]
)  # Iceland, registrant RCX: not a prefix
def test_isrcs_are_read_in_any_usual_spelling(value: str) -> None:
    assert len(isrc_clean(value)) == 12
    assert isrc_format(value).count("-") == 3


@pytest.mark.parametrize("value", ["", "USRC1760783", "USRC176078390", "U1RC17607839", "USRC1A607839", "US_RC1_76"])
def test_what_is_not_an_isrc_is_refused_with_its_shape(value: str) -> None:
    with pytest.raises(InvalidIsrc, match="CC-XXX-YY-NNNNN"):
        isrc_clean(value)


def test_an_isrc_is_made_from_the_registrant_code_and_a_designation() -> None:
    assert isrc_format(isrc_make(country="GB", registrant="LL1", year=2026, designation=42)) == "GB-LL1-26-00042"
    with pytest.raises(InvalidIsrc, match="five digits"):
        isrc_make(country="GB", registrant="LL1", year=2026, designation=100_000)


@pytest.mark.django_db
def test_released_works_get_isrcs_from_the_registrant_code(catalogue: Any) -> None:
    team, works = catalogue.team, catalogue.works
    url = "/api/v1/organisations/acme-records/isrc-registrant/"
    assert team.owner.client.get(url).status_code == 404
    assert team.teammate.client.put(url, {"country": "GB", "code": "A1C"}, format="json").status_code == 403
    bad = team.owner.client.put(url, {"country": "G1", "code": "A1C"}, format="json")
    assert bad.status_code == 400 and "registrant code" in bad.json()["error"]["message"]
    no_code = team.teammate.client.post(f"/api/v1/works/{works[0].pk}/isrc/", {}, format="json")
    assert no_code.status_code == 409 and "no ISRC registrant code yet" in no_code.json()["error"]["message"]
    assert team.owner.client.put(url, {"country": "gb", "code": "a1c"}, format="json").status_code == 200

    year = timezone.now().year % 100
    codes = [
        team.teammate.client.post(f"/api/v1/works/{w.pk}/isrc/", {}, format="json").json()["isrc"] for w in works[:2]
    ]
    assert codes == [f"GBA1C{year:02d}00001", f"GBA1C{year:02d}00002"]
    again = team.teammate.client.post(f"/api/v1/works/{works[0].pk}/isrc/", {}, format="json")
    assert again.json()["isrc"] == codes[0]  # a work keeps its ISRC
    taken = team.teammate.client.post(f"/api/v1/works/{works[2].pk}/isrc/", {"isrc": codes[1]}, format="json")
    assert taken.status_code == 409 and "already another work's" in taken.json()["error"]["message"]
    given = team.teammate.client.post(f"/api/v1/works/{works[2].pk}/isrc/", {"isrc": "us-s1z-99-00001"}, format="json")
    assert given.json()["isrc"] == "USS1Z9900001"
    assert team.outsider.client.post(f"/api/v1/works/{works[2].pk}/isrc/", {}, format="json").status_code == 404
    assert team.auditor.client.post(f"/api/v1/works/{works[2].pk}/isrc/", {}, format="json").status_code == 403

    unreleased = released_works(catalogue.model, 1, first_token=50)[0]
    unreleased.status = "pinned"
    unreleased.save()
    refused = team.teammate.client.post(f"/api/v1/works/{unreleased.pk}/isrc/", {}, format="json")
    assert refused.status_code == 409 and "not released yet" in refused.json()["error"]["message"]
