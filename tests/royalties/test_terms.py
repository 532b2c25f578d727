"""A work's licence cannot go beyond its training data's, and the refusal names the condition."""

import datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest

from ledgerline.datasets.terms import Conditions, conditions_clean, licence_blocks, spdx_conditions
from tests.royalties.conftest import Catalogue, model_record, training_run, version_freeze

TODAY = datetime.date(2026, 11, 22)


class Version:
    """What licence_blocks reads of a dataset version."""

    def __init__(self, spdx: str, name: str = "Data") -> None:
        self.pk, self.number, self.licence_spdx = name, 1, spdx
        self.dataset = type("Dataset", (), {"name": name})


def blocks(
    work_spdx: str,
    data_spdx: str,
    *,
    work: dict[str, Any] | None = None,
    data: dict[str, Any] | None = None,
    data_share: str = "0.3",
) -> list[str]:
    work_terms = conditions_clean(work or {}, base=spdx_conditions(work_spdx))
    data_terms = conditions_clean(data, base=spdx_conditions(data_spdx)) if data else spdx_conditions(data_spdx)
    # One dataset with rights holders, all the training tokens: its holders get all of data_share.
    found = licence_blocks(
        work=work_terms,
        work_spdx=work_spdx,
        data=[(Version(data_spdx), data_terms, Fraction(Decimal(data_share)))],
        today=TODAY,
    )
    return [b.condition for b in found]


def test_spdx_ids_and_expressions_have_conditions() -> None:
    assert spdx_conditions("CC-BY-NC-4.0") == Conditions(commercial_use=False, derivatives=True, attribution=True)
    assert spdx_conditions("CC-BY-ND-4.0").derivatives is False  # type: ignore[union-attr]
    # AND: both licences apply; OR: the licensee picks the freer one.
    assert spdx_conditions("CC-BY-4.0 AND CC-BY-NC-4.0").commercial_use is False  # type: ignore[union-attr]
    assert spdx_conditions("CC-BY-NC-4.0 OR CC-BY-4.0").commercial_use is True  # type: ignore[union-attr]
    assert spdx_conditions("LicenseRef-Our-Own-Deal") is None
    assert spdx_conditions("CC-BY-4.0 AND LicenseRef-Our-Own-Deal") is None


@pytest.mark.parametrize(
    ("work", "data", "kwargs", "expected"),
    [
        ("LicenseRef-All-Rights-Reserved", "CC-BY-4.0", {}, []),
        ("LicenseRef-All-Rights-Reserved", "CC0-1.0", {}, []),
        ("LicenseRef-All-Rights-Reserved", "CC-BY-NC-4.0", {}, ["commercial_use"]),
        ("CC-BY-NC-4.0", "CC-BY-NC-4.0", {}, []),
        ("LicenseRef-All-Rights-Reserved", "CC-BY-ND-4.0", {}, ["derivatives"]),
        ("CC-BY-4.0", "CC-BY-SA-4.0", {}, ["share_alike"]),
        ("CC-BY-SA-4.0", "CC-BY-SA-4.0", {}, []),
        ("LicenseRef-All-Rights-Reserved", "", {}, ["licence"]),
        ("CC-BY-4.0", "CC-BY-4.0", {"data": {"territories": ["GB", "FR"]}}, ["territories"]),
        ("CC-BY-4.0", "CC-BY-4.0", {"data": {"territories": ["GB", "FR"]}, "work": {"territories": ["GB"]}}, []),
        (
            "CC-BY-4.0",
            "CC-BY-4.0",
            {"data": {"territories": ["GB"]}, "work": {"territories": ["GB", "US"]}},
            ["territories"],
        ),
        ("CC-BY-4.0", "CC-BY-4.0", {"data": {"expires": "2027-06-30"}}, ["expires"]),
        ("CC-BY-4.0", "CC-BY-4.0", {"data": {"expires": "2027-06-30"}, "work": {"expires": "2027-06-30"}}, []),
        ("CC-BY-4.0", "CC-BY-4.0", {"data": {"expires": "2026-01-01"}, "work": {"expires": "2025-12-31"}}, ["expires"]),
        ("CC-BY-4.0", "CC-BY-4.0", {"data": {"revenue_share": "0.4"}}, ["revenue_share"]),
        ("CC-BY-4.0", "CC-BY-4.0", {"data": {"revenue_share": "0.4"}, "data_share": "0.4"}, []),
    ],
)
def test_each_data_condition_blocks_what_goes_beyond_it(
    work: str, data: str, kwargs: dict[str, Any], expected: list[str]
) -> None:
    assert blocks(work, data, **kwargs) == expected


@pytest.mark.parametrize(
    ("conditions", "message"),
    [
        ({"commercial": True}, "unknown condition 'commercial'"),
        ({"territories": ["United Kingdom"]}, "two-letter"),
        ({"revenue_share": "1.5"}, "revenue_share"),
        ({"expires": "next year"}, "expires must be a date"),
        ({"attribution": "yes"}, "attribution must be true or false"),
    ],
)
def test_bad_conditions_are_refused_by_name(team: Any, conditions: dict[str, Any], message: str) -> None:
    response = team.owner.client.post(
        "/api/v1/datasets/",
        {
            "name": "Deal",
            "licence_spdx": "CC-BY-4.0",
            "licence_conditions": conditions,
        },
        format="json",
    )
    assert response.status_code == 400
    assert message in response.json()["error"]["message"]


@pytest.mark.django_db
def test_the_api_names_the_dataset_condition_that_blocks_a_licence(catalogue: Catalogue, upload: Any) -> None:
    team = catalogue.team
    restricted = version_freeze(
        team,
        upload,
        ("melody.mid",),
        name="Library",
        licence_spdx="",
        licence_terms="Streaming in the UK and France, until 2030.",
        licence_conditions={
            "commercial_use": True,
            "derivatives": True,
            "territories": ["FR", "GB"],
            "expires": "2030-01-01",
        },
    )
    catalogue.model.run.dataset_versions.add(restricted)
    check = team.teammate.client.post("/api/v1/licence-check/", {"model": str(catalogue.model.pk)}, format="json")
    assert check.status_code == 200, check.json()
    assert check.json()["allowed"] is False
    assert [(b["dataset"], b["condition"]) for b in check.json()["blocks"]] == [
        ("Library v1", "territories"),
        ("Library v1", "expires"),
    ]

    narrow = {
        "licence": "LicenseRef-All-Rights-Reserved",
        "licence_conditions": {"territories": ["GB"], "expires": "2029-12-31"},
    }
    check = team.teammate.client.post(
        "/api/v1/licence-check/", {"model": str(catalogue.model.pk), "parameters": narrow}, format="json"
    )
    assert check.json()["allowed"] is True, check.json()

    refused = team.teammate.client.post(
        "/api/v1/generations/",
        {"title": "Everywhere", "model": str(catalogue.model.pk), "parameters": {}},
        format="json",
    )
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert error["message"].startswith("The work's licence goes beyond its training data: Library v1")
    assert "covers FR, GB only; the work asks for worldwide" in error["message"]
    assert len(error["fields"]["licence"]) == 2

    accepted = team.teammate.client.post(
        "/api/v1/generations/",
        {"title": "UK only", "model": str(catalogue.model.pk), "parameters": narrow},
        format="json",
    )
    assert accepted.status_code == 201, accepted.json()


@pytest.mark.django_db
def test_a_version_keeps_the_conditions_it_was_frozen_with(catalogue: Catalogue) -> None:
    team = catalogue.team
    version = catalogue.versions["composers"]
    changed = team.owner.client.patch(
        f"/api/v1/datasets/{version.dataset_id}/", {"licence_spdx": "CC-BY-NC-4.0"}, format="json"
    )
    assert changed.status_code == 200
    check = team.owner.client.post("/api/v1/licence-check/", {"model": str(catalogue.model.pk)}, format="json")
    assert check.json()["allowed"] is True  # the run trained on v1, frozen under CC-BY-4.0


@pytest.mark.django_db
def test_a_dataset_asking_a_revenue_share_gets_it_from_its_part_of_the_tokens(
    catalogue: Catalogue, upload: Any
) -> None:
    team = catalogue.team
    shared = version_freeze(
        team,
        upload,
        ("melody.mid",),
        name="Shared",
        rights_holders=[{"name": "Cy", "identifier": "", "share": "1"}],
        licence_conditions={"revenue_share": "0.2"},
    )
    model = model_record(team.organisation)
    training_run(model, [shared, catalogue.versions["public"]], {"Shared/melody.mid": 50, "Public domain/tone.wav": 50})
    check = team.owner.client.post("/api/v1/licence-check/", {"model": str(model.pk)}, format="json").json()
    # The policy gives the data 0.3; Shared has half the tokens, so its holders would get 0.15.
    assert [b["condition"] for b in check["blocks"]] == ["revenue_share"]
    assert "asks 0.2 of revenue for its rights holders; they would get 0.15" in check["blocks"][0]["reason"]
    team.owner.client.put("/api/v1/organisations/acme-records/royalty-policy/", {"data_share": "0.4"}, format="json")
    assert (
        team.owner.client.post("/api/v1/licence-check/", {"model": str(model.pk)}, format="json").json()["allowed"]
        is True
    )


@pytest.mark.django_db
def test_a_version_without_readable_conditions_gets_them_spelt_out_once(catalogue: Catalogue, upload: Any) -> None:
    team = catalogue.team
    custom = version_freeze(
        team, upload, ("melody.mid",), name="Deal", licence_spdx="", licence_terms="Our own deal, see the contract."
    )
    catalogue.model.run.dataset_versions.add(custom)
    check = team.owner.client.post("/api/v1/licence-check/", {"model": str(catalogue.model.pk)}, format="json")
    assert [b["condition"] for b in check.json()["blocks"]] == ["licence"]
    url = f"/api/v1/dataset-versions/{custom.pk}/licence-conditions/"
    body = {"licence_conditions": {"commercial_use": True, "derivatives": True}}
    assert team.teammate.client.put(url, body, format="json").status_code == 403
    assert team.outsider.client.put(url, body, format="json").status_code == 404
    partial = team.owner.client.put(url, {"licence_conditions": {"commercial_use": True}}, format="json")
    assert partial.status_code == 400 and "derivatives is needed" in partial.json()["error"]["message"]
    assert team.owner.client.put(url, body, format="json").status_code == 200
    check = team.owner.client.post("/api/v1/licence-check/", {"model": str(catalogue.model.pk)}, format="json")
    assert check.json()["allowed"] is True
    again = team.owner.client.put(
        url, {"licence_conditions": {"commercial_use": False, "derivatives": True}}, format="json"
    )
    assert again.status_code == 409 and "a frozen version keeps them" in again.json()["error"]["message"]
    composers = f"/api/v1/dataset-versions/{catalogue.versions['composers'].pk}/licence-conditions/"
    assert team.owner.client.put(composers, body, format="json").status_code == 409  # CC-BY-4.0 is known
