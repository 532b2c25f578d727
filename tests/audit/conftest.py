"""A released work to verify: real chorales uploaded, a tiny model trained, two works generated
and confirmed on the embedded chain and IPFS (or the real ones), and the verifier's own view."""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ledgerline.audit.services import platform_verifier
from tests.conftest import Team, dataset_create
from tests.pipeline.conftest import TINY, chorale_files, embedded, trained_run, upload_files  # noqa: F401 (fixtures)


@dataclass
class Released:
    team: Team
    model: dict[str, Any]
    versions: list[dict[str, Any]]
    works: list[dict[str, Any]]
    files: list[Path]  # the chorales trained on

    def verify(self, client: Any = None, **body: Any) -> dict[str, Any]:
        """POST /api/v1/verify as ``client`` (default: the public); the response's JSON."""
        from rest_framework.test import APIClient

        multipart = "file" in body
        response = (client or APIClient()).post("/api/v1/verify", body, format="multipart" if multipart else "json")
        assert response.status_code == 201, response.json()
        return dict(response.json())


def release(team: Team, files: list[Path], capture: Callable[..., Any], *, count: int = 2) -> Released:
    client = team.owner.client
    dataset = dataset_create(team, name="Chorales", rights_holders=[{"name": "Bach Estate", "share": "1"}])
    upload_files(client, dataset, files)
    versions = [client.post(f"/api/v1/datasets/{dataset}/versions/", {}, format="json").json()]
    [model] = trained_run(client, capture, [v["id"] for v in versions], TINY)["artifacts"]
    with capture(execute=True):
        generation = client.post(
            "/api/v1/generations/",
            {
                "title": "Chorale",
                "model": model["id"],
                "count": count,
                "seed": 11,
                "parameters": {"length": 96, "originality_max_run": 1000, "licence": "CC-BY-4.0"},
            },
            format="json",
        ).json()
    works = client.get(f"/api/v1/generations/{generation['id']}/").json()["works"]
    assert [w["status"] for w in works] == ["confirmed"] * count, [w["error"] for w in works]
    return Released(team, model, versions, works, files)


@pytest.fixture
def released(
    team: Team,
    chorale_files: list[Path],  # noqa: F811
    embedded: None,  # noqa: F811
    django_capture_on_commit_callbacks: Any,
) -> Released:
    return release(team, chorale_files[:8], django_capture_on_commit_callbacks)


@pytest.fixture
def verifier(released: Released) -> Any:
    """The independent verifier's engine on the embedded chain and blockstore."""
    return platform_verifier()
