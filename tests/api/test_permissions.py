"""Every endpoint, asked by the owner, a teammate (artist), an auditor, an outsider from
another organisation, and nobody. An outsider gets 404, never the object."""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from rest_framework.test import APIClient

from ledgerline.works.models import Generation, Work
from tests.conftest import model_record
from tests.datasets.test_upload import sha256sum


@dataclass
class World:
    ids: dict[str, str]


@pytest.fixture
def world(team: Any, upload: Any, media_dir: Path) -> World:
    dataset_id, files = upload("melody.mid", "other.mid")
    version = team.owner.client.post(f"/api/v1/datasets/{dataset_id}/versions/", {}, format="json").json()
    # A model's record stands in for a trained one: these requests are checked, never run.
    artifact = model_record(team.organisation)
    run = artifact.run
    generation = Generation.objects.create(organisation=team.organisation, title="g", model=artifact, count=1, seed=1)
    work = Work.objects.create(organisation=team.organisation, title="w", model=artifact, seed=1, generation=generation)
    teammate_token = team.teammate.user.memberships.get().tokens.get()
    return World(
        ids={
            "dataset": dataset_id,
            "file": files.json()[0]["id"],
            "version": version["id"],
            "run": str(run.pk),
            "model": str(artifact.pk),
            "work": str(work.pk),
            "generation": str(generation.pk),
            "sha": sha256sum(media_dir / "melody.mid"),
            "org": team.organisation.slug,
            "token": str(teammate_token.pk),
        }
    )


ROLES = ["owner", "teammate", "auditor", "outsider", "anonymous"]
READ = (200, 200, 200, 404, 401)
WRITE = (201, 201, 403, 404, 401)
# (method, url, body, expected statuses in ROLES order)
ENDPOINTS: list[tuple[str, str, Any, tuple[int, ...]]] = [
    ("get", "/api/v1/me/", None, (200, 200, 200, 200, 401)),
    ("get", "/api/v1/organisations/{org}/members/", None, READ),
    ("post", "/api/v1/organisations/{org}/keys/rotate/", None, (201, 403, 403, 404, 401)),
    ("get", "/api/v1/organisations/{org}/wallet/", None, READ),
    (
        "put",
        "/api/v1/organisations/{org}/wallet/",
        {"wallet": "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"},
        (200, 403, 403, 404, 401),
    ),
    ("get", "/api/v1/keys/", None, (200, 200, 200, 200, 200)),
    ("get", "/api/v1/tokens/", None, (200, 200, 200, 200, 401)),
    ("post", "/api/v1/tokens/", {"name": "n"}, (403, 403, 403, 403, 401)),  # by a person, not a token
    ("delete", "/api/v1/tokens/{token}/", None, (204, 204, 403, 404, 401)),
    ("get", "/api/v1/datasets/{dataset}/", None, READ),
    ("patch", "/api/v1/datasets/{dataset}/", {"description": "new"}, (200, 200, 403, 404, 401)),
    ("post", "/api/v1/datasets/", {"organisation": "{org}", "name": "n", "licence_spdx": "MIT"}, WRITE),
    ("get", "/api/v1/datasets/{dataset}/files/", None, READ),
    ("post", "/api/v1/datasets/{dataset}/files/", "upload", WRITE),
    ("get", "/api/v1/dataset-files/{file}/", None, READ),
    ("delete", "/api/v1/dataset-files/{file}/", None, (204, 204, 403, 404, 401)),
    ("get", "/api/v1/blobs/{sha}", None, READ),
    ("get", "/api/v1/datasets/{dataset}/versions/", None, READ),
    ("post", "/api/v1/datasets/{dataset}/versions/", {}, WRITE),
    ("get", "/api/v1/dataset-versions/{version}/", None, READ),
    ("get", "/api/v1/dataset-versions/{version}/proof/?path=melody.mid", None, READ),
    ("get", "/api/v1/dataset-versions/{version}/croissant/", None, READ),
    ("get", "/api/v1/training-runs/{run}/", None, READ),
    (
        "post",
        "/api/v1/training-runs/",
        {"organisation": "{org}", "name": "r", "dataset_versions": ["{version}"]},
        WRITE,
    ),
    ("get", "/api/v1/works/{work}/", None, READ),
    ("post", "/api/v1/works/", {"organisation": "{org}", "title": "t", "model": "{model}", "seed": 7}, WRITE),
    ("get", "/api/v1/generations/{generation}/", None, READ),
    ("post", "/api/v1/generations/", {"organisation": "{org}", "title": "t", "model": "{model}", "count": 2}, WRITE),
    ("get", "/api/v1/audit-log/", None, (200, 200, 200, 200, 401)),
]


def _client(team: Any, role: str) -> APIClient:
    return APIClient() if role == "anonymous" else getattr(team, role).client


def _fill(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**ids)
    if isinstance(value, list):
        return [_fill(v, ids) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    return value


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("method", "url", "body", "expected"), ENDPOINTS, ids=[f"{e[0]} {e[1]}" for e in ENDPOINTS])
def test_each_endpoint_checks_who_asks(
    team: Any, world: World, media_dir: Path, role: str, method: str, url: str, body: Any, expected: tuple[int, ...]
) -> None:
    client = _client(team, role)
    if body == "upload":
        with open(media_dir / "tone.wav", "rb") as f:
            response = client.post(_fill(url, world.ids), {"file": f}, format="multipart")
    else:
        response = getattr(client, method)(_fill(url, world.ids), _fill(body, world.ids), format="json")
    assert response.status_code == expected[ROLES.index(role)], getattr(response, "data", response)
    if response.status_code >= 400:
        assert set(response.json()["error"]) == {"code", "message", "fields"}


LISTS = ["/api/v1/datasets/", "/api/v1/training-runs/", "/api/v1/generations/", "/api/v1/works/", "/api/v1/audit-log/"]


@pytest.mark.parametrize("url", LISTS)
def test_lists_show_members_their_organisations_objects_and_outsiders_none(team: Any, world: World, url: str) -> None:
    for role in ["owner", "teammate", "auditor"]:
        results = _client(team, role).get(url).json()["results"]
        assert results, f"{role} sees nothing at {url}"
        assert all(r.get("organisation", team.organisation.slug) == team.organisation.slug for r in results)
    outsider = team.outsider.client.get(url).json()["results"]
    assert all(r.get("organisation") != team.organisation.slug for r in outsider)
    assert not any(world.ids["dataset"] in str(r) for r in outsider)


def test_a_token_acts_only_in_its_own_organisation(team: Any, world: World) -> None:
    from ledgerline.accounts import services
    from ledgerline.accounts.models import Organisation, Role

    # The teammate also joins the other label; their Acme token must still not reach it.
    other = Organisation.objects.get(slug="other-label")
    services.membership_add(organisation=other, user=team.teammate.user, role=Role.ARTIST)
    response = team.teammate.client.post(
        "/api/v1/datasets/", {"organisation": "other-label", "name": "x", "licence_spdx": "MIT"}, format="json"
    )
    assert response.status_code == 404
    theirs = team.outsider.client.post(
        "/api/v1/datasets/", {"name": "theirs", "licence_spdx": "MIT"}, format="json"
    ).json()["id"]
    assert team.teammate.client.get(f"/api/v1/datasets/{theirs}/").status_code == 404
    assert team.teammate.client.patch(f"/api/v1/datasets/{theirs}/", {"name": "mine"}, format="json").status_code == 404
    assert theirs not in str(team.teammate.client.get("/api/v1/datasets/").json())
    assert [m["organisation"] for m in team.teammate.client.get("/api/v1/me/").json()["memberships"]] == [
        "acme-records"
    ]


def test_a_revoked_token_is_refused(team: Any, world: World) -> None:
    assert team.teammate.client.delete(f"/api/v1/tokens/{world.ids['token']}/").status_code == 204
    response = team.teammate.client.get("/api/v1/me/")
    assert response.status_code == 401
    assert "revoked" in response.json()["error"]["message"]


def test_a_new_token_is_shown_once_and_works(team: Any, client: Any) -> None:
    client.login(username="auditor", password="a long test password")
    response = client.post("/api/v1/tokens/", {"name": "royalty system"}, content_type="application/json")
    assert response.status_code == 201
    secret = response.json()["secret"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert client.get("/api/v1/me/").json()["username"] == "auditor"
    listed = team.auditor.client.get("/api/v1/tokens/").json()["results"]
    assert "secret" not in listed[0] and secret not in str(listed)


def test_session_login_reaches_the_api_and_the_portal(team: Any, client: Any) -> None:
    assert client.get("/").status_code == 302
    assert client.login(username="teammate", password="a long test password")
    assert client.get("/api/v1/me/").json()["username"] == "teammate"
    page = client.get("/")
    assert page.status_code == 200 and b"Acme Records" in page.content
