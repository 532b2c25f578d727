"""What the training and generation endpoints refuse, and why, before anything is queued."""

from typing import Any

import pytest

from ledgerline.training.models import TrainingRun
from ledgerline.works.models import Work
from tests.conftest import model_record


def _version(team: Any, upload: Any, *names: str, **fields: Any) -> dict[str, Any]:
    dataset_id, response = upload(*names, **fields)
    assert response.status_code == 201, response.json()
    return dict(team.owner.client.post(f"/api/v1/datasets/{dataset_id}/versions/", {}, format="json").json())


def test_refuse_names_the_files_whose_consent_forbids_training(team: Any, upload: Any) -> None:
    version = _version(team, upload, "melody.mid")
    forbidden = _version(team, upload, "other.mid", consent='{"cawg.ai_training": "notAllowed"}')
    body = {"name": "r", "dataset_versions": [version["id"], forbidden["id"]], "consent_policy": "refuse"}
    response = team.owner.client.post("/api/v1/training-runs/", body, format="json")
    assert response.status_code == 400
    assert "other.mid" in response.json()["error"]["message"] and not TrainingRun.objects.exists()
    body["consent_policy"] = "exclude"
    run = team.owner.client.post("/api/v1/training-runs/", body, format="json").json()
    assert [e["path"] for e in run["excluded"]] == ["other.mid"] and run["status"] == "queued"


def test_a_run_on_nothing_it_may_train_on_is_refused(team: Any, upload: Any) -> None:
    forbidden = _version(
        team,
        upload,
        "other.mid",
        consent='{"cawg.ai_generative_training": "notAllowed", "cawg.ai_training": "allowed"}',
    )
    response = team.owner.client.post(
        "/api/v1/training-runs/", {"name": "r", "dataset_versions": [forbidden["id"]]}, format="json"
    )
    assert response.status_code == 400 and "consent forbids it" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"model": "gan"}, "model must be one of"),
        ({"max_steps": 0}, "max_steps must be an integer from 1"),
        ({"lr": "fast"}, "lr must be a number"),
        ({"steps": 10}, "unknown setting 'steps'"),
        ({"model": "audio", "tokenizer": "remi"}, "tokenizer does not apply to a audio model"),
        ({"model": "lstm", "epochs": 3}, "epochs does not apply to a lstm model"),
    ],
)
def test_bad_run_configs_are_named(team: Any, upload: Any, config: dict[str, Any], message: str) -> None:
    version = _version(team, upload, "melody.mid")
    response = team.owner.client.post(
        "/api/v1/training-runs/", {"name": "r", "config": config, "dataset_versions": [version["id"]]}, format="json"
    )
    assert response.status_code == 400
    assert message in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"temperature": 0}, "temperature must be above 0"),
        ({"length": 10**6}, "length must be a whole number of tokens up to 4096"),
        ({"originality_max_run": -1}, "originality_max_run must be a whole number"),
        ({"between": ["a", "b"]}, "'between' does not apply to this model"),
        ({"licence": ""}, "licence must be an SPDX id"),
        ({"top_k": 2.5}, "top_k has the wrong type"),
        ({"beams": 17}, "beams must be between 0 (sampling) and 16"),
        ({"beams": "4"}, "beams has the wrong type"),
        ({"primer": "ab" * 32}, "primer must be the SHA-256 of a MIDI file in one of the organisation's datasets"),
    ],
)
def test_bad_generation_parameters_are_named(team: Any, parameters: dict[str, Any], message: str) -> None:
    model = model_record(team.organisation)
    response = team.owner.client.post(
        "/api/v1/generations/",
        {"title": "t", "model": str(model.pk), "count": 2, "parameters": parameters},
        format="json",
    )
    assert response.status_code == 400
    assert message in response.json()["error"]["message"] and not Work.objects.exists()


def test_a_generation_makes_count_works_with_consecutive_seeds(team: Any) -> None:
    model = model_record(team.organisation)
    response = team.teammate.client.post(
        "/api/v1/generations/", {"title": "Set", "model": str(model.pk), "count": 3, "seed": 40}, format="json"
    )
    assert response.status_code == 201
    works = response.json()["works"]
    assert [(w["index"], w["seed"], w["title"]) for w in works] == [
        (0, 40, "Set #1"),
        (1, 41, "Set #2"),
        (2, 42, "Set #3"),
    ]
    assert response.json()["progress"]["requested"] == 3


def test_a_model_not_yet_published_cannot_generate(team: Any) -> None:
    model = model_record(team.organisation, published=False)
    response = team.owner.client.post("/api/v1/generations/", {"title": "t", "model": str(model.pk)}, format="json")
    assert response.status_code == 400
    assert "not yet signed, pinned and anchored" in response.json()["error"]["message"] and not Work.objects.exists()
