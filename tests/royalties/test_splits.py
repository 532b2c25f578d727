"""A work's payees come from its lineage: the data's rights holders by training tokens, the
organisation and the platform, by the organisation's policy; shares exact and summing to 1."""

from decimal import Decimal
from typing import Any

import pytest

from ledgerline.royalties.splits import work_split
from tests.royalties.conftest import Catalogue, model_record, released_works, training_run, version_freeze


def _shares(client: Any, work: Any) -> dict[str, Decimal]:
    response = client.get(f"/api/v1/works/{work.pk}/royalties/")
    assert response.status_code == 200, response.json()
    return {p["name"]: Decimal(p["share"]) for p in response.json()["split"]["payees"]}


@pytest.mark.django_db
def test_the_split_follows_training_tokens_and_the_policy(catalogue: Catalogue) -> None:
    # Composers has 400 of the 800 training tokens, shared by Ada and Bo half each; the public
    # domain half owes no one, so its part of the data's 0.3 goes to the label.
    shares = _shares(catalogue.team.auditor.client, catalogue.works[0])
    assert shares == {
        "Ada": Decimal("0.075"),
        "Bo": Decimal("0.075"),
        "Ledgerline": Decimal("0.05"),
        "Acme Records": Decimal("0.8"),
    }
    assert sum(shares.values()) == 1

    # Signing records the split in the manifest; a later policy applies to later works only.
    signed = catalogue.works[0]
    signed.manifest = {"manifest": {"royalties": work_split(signed)}}
    signed.save()
    changed = catalogue.team.owner.client.put(
        "/api/v1/organisations/acme-records/royalty-policy/",
        {"data_share": "0.5", "platform_share": "0.1", "resale_bps": 750},
        format="json",
    )
    assert changed.status_code == 200, changed.json()
    assert _shares(catalogue.team.owner.client, signed)["Ada"] == Decimal("0.075")
    later = released_works(catalogue.model, 1, first_token=20)[0]
    assert _shares(catalogue.team.owner.client, later) == {
        "Ada": Decimal("0.125"),
        "Bo": Decimal("0.125"),
        "Ledgerline": Decimal("0.1"),
        "Acme Records": Decimal("0.65"),
    }
    assert work_split(later)["resale_bps"] == 750


@pytest.mark.django_db
def test_shares_that_do_not_divide_evenly_still_sum_to_exactly_one(catalogue: Catalogue, upload: Any) -> None:
    team = catalogue.team
    thirds = version_freeze(
        team,
        upload,
        ("melody.mid", "other.mid", "tone.wav"),
        name="Thirds",
        rights_holders=[
            {"name": "Cy", "identifier": "", "share": "0.3333"},
            {"name": "Di", "identifier": "", "share": "0.3333"},
            {"name": "Ed", "identifier": "", "share": "0.3334"},
        ],
    )
    model = model_record(team.organisation)
    training_run(
        model,
        [thirds, catalogue.versions["composers"]],
        {"Thirds/melody.mid": 7, "Thirds/other.mid": 5, "Composers/melody.mid": 11},
    )
    team.owner.client.put("/api/v1/organisations/acme-records/royalty-policy/", {"data_share": "0.37"}, format="json")
    split = work_split(released_works(model, 1, first_token=10)[0])
    shares = {p["name"]: Decimal(p["share"]) for p in split["payees"]}
    assert sum(shares.values()) == 1
    assert split["weighted_by"] == "training tokens"
    exact = {"Cy": Decimal("0.37") * 12 / 23 * Decimal("0.3333"), "Ada": Decimal("0.37") * 11 / 23 / 2}
    for name, value in exact.items():
        assert abs(shares[name] - value) <= Decimal("1e-12"), name
    assert all(-shares[name].as_tuple().exponent <= 12 for name in shares)  # type: ignore[operator]


@pytest.mark.django_db
def test_a_run_without_recorded_tokens_weighs_files_equally(catalogue: Catalogue) -> None:
    run = catalogue.model.run
    run.metrics = {}
    run.save()
    split = work_split(catalogue.works[0])
    shares = {p["name"]: Decimal(p["share"]) for p in split["payees"]}
    # Two of the three files are the composers': 2/3 of 0.3, half each to Ada and Bo.
    assert split["weighted_by"] == "files"
    assert shares["Ada"] == shares["Bo"] == Decimal("0.1")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"data_share": "0.9", "platform_share": "0.2"}, "add up to more than 1"),
        ({"data_share": "-0.1"}, "data_share must be a decimal from 0 to 1"),
        ({"data_share": "0.1234567890123"}, "at most 12 places"),
        ({"resale_bps": 10001}, "basis points"),
    ],
)
def test_a_policy_that_cannot_be_is_refused(catalogue: Catalogue, body: dict[str, Any], message: str) -> None:
    response = catalogue.team.owner.client.put(
        "/api/v1/organisations/acme-records/royalty-policy/", body, format="json"
    )
    assert response.status_code == 400
    assert message in response.json()["error"]["message"]


@pytest.mark.django_db
def test_only_an_admin_sets_the_policy(catalogue: Catalogue) -> None:
    team = catalogue.team
    url = "/api/v1/organisations/acme-records/royalty-policy/"
    assert team.teammate.client.put(url, {"data_share": "0.1"}, format="json").status_code == 403
    assert team.auditor.client.put(url, {"data_share": "0.1"}, format="json").status_code == 403
    assert team.outsider.client.get(url).status_code == 404
    assert team.auditor.client.get(url).json()["data_share"] == "0.300000000000"
