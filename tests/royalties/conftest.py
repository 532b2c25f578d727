"""A catalogue of released works with a known lineage, built through the API where the API
builds it: two datasets (one with two rights holders, one public domain), frozen versions, a
training run over both that recorded its training tokens, and works minted from its model."""

import secrets
from dataclasses import dataclass
from typing import Any

import pytest

from ledgerline.datasets.models import DatasetVersion, RightsHolder
from ledgerline.ledger.models import Token
from ledgerline.training.models import ModelArtifact, RunStatus
from ledgerline.works.models import Work, WorkStatus
from tests.conftest import Team, dataset_create, model_record


@dataclass
class Catalogue:
    team: Team
    works: list[Work]
    model: ModelArtifact
    versions: dict[str, DatasetVersion]
    holders: dict[str, RightsHolder]


def version_freeze(team: Team, upload: Any, files: tuple[str, ...], **fields: Any) -> DatasetVersion:
    dataset_id, response = upload(*files, dataset_id=dataset_create(team, **fields))
    assert response.status_code == 201, response.json()
    frozen = team.owner.client.post(f"/api/v1/datasets/{dataset_id}/versions/", {}, format="json")
    assert frozen.status_code == 201, frozen.json()
    return DatasetVersion.objects.select_related("dataset").get(pk=frozen.json()["id"])


def released_works(model: ModelArtifact, count: int, *, first_token: int = 1) -> list[Work]:
    """Works of ``model`` as the pipeline leaves them once confirmed: content hash and token."""
    works = []
    for i in range(count):
        content = secrets.token_hex(32)
        token = Token.objects.create(
            chain_id=31337, contract="0x" + "ab" * 20, content_sha256=content, token_id=first_token + i
        )
        works.append(
            Work.objects.create(
                organisation=model.run.organisation,
                title=f"Work {i + 1}",
                model=model,
                seed=i,
                status=WorkStatus.CONFIRMED,
                content_sha256=content,
                token=token,
            )
        )
    return works


def training_run(model: ModelArtifact, versions: list[DatasetVersion], tokens: dict[str, int]) -> None:
    """The run behind ``model`` trained on ``versions``; ``tokens``: {"<dataset name>/<path>": n}."""
    run = model.run
    run.dataset_versions.set(versions)
    by_name = {v.dataset.name: v for v in versions}
    recorded = {}
    for key, n in tokens.items():
        name, _, path = key.partition("/")
        recorded[f"{by_name[name].dataset_id}-v{by_name[name].number}/{path}"] = n
    run.metrics = {"training_tokens": recorded}
    run.status = RunStatus.SUCCEEDED
    run.save()


@pytest.fixture
def catalogue(team: Team, upload: Any) -> Catalogue:
    composers = version_freeze(
        team,
        upload,
        ("melody.mid", "other.mid"),
        name="Composers",
        rights_holders=[
            {"name": "Ada", "identifier": "0000000121032683", "share": "0.5"},
            {"name": "Bo", "identifier": "", "share": "0.5"},
        ],
    )
    public = version_freeze(team, upload, ("tone.wav",), name="Public domain", licence_spdx="CC0-1.0")
    model = model_record(team.organisation)
    training_run(
        model,
        [composers, public],
        {"Composers/melody.mid": 300, "Composers/other.mid": 100, "Public domain/tone.wav": 400},
    )
    holders = {h.name: h for h in RightsHolder.objects.filter(organisation=team.organisation)}
    return Catalogue(team, released_works(model, 3), model, {"composers": composers, "public": public}, holders)
