"""The API's shared behaviour: one error format, pagination, the OpenAPI schema and docs."""

from typing import Any

import pytest
from rest_framework.test import APIClient


def test_errors_share_one_format(team: Any) -> None:
    response = team.owner.client.post("/api/v1/datasets/", {"licence_spdx": "MIT"}, format="json")
    assert response.status_code == 400
    assert response.json() == {
        "error": {
            "code": "invalid",
            "message": "name: This field is required.",
            "fields": {"name": ["This field is required."]},
        }
    }


def test_a_missing_licence_is_explained(team: Any) -> None:
    response = team.owner.client.post("/api/v1/datasets/", {"name": "x"}, format="json")
    assert response.status_code == 400
    assert "A licence is required" in response.json()["error"]["message"]


def test_malformed_json_is_a_400_not_a_500(team: Any) -> None:
    response = team.owner.client.generic("POST", "/api/v1/datasets/", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"


def test_an_unknown_api_path_is_a_json_404(team: Any) -> None:
    response = team.owner.client.get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_a_wrong_token_is_refused_with_a_reason(db: Any) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer ll_not-a-real-token")
    response = client.get("/api/v1/me/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"
    assert "not valid" in response.json()["error"]["message"]


def test_lists_are_paginated(team: Any) -> None:
    for i in range(3):
        team.owner.client.post("/api/v1/datasets/", {"name": f"d{i}", "licence_spdx": "MIT"}, format="json")
    page = team.owner.client.get("/api/v1/datasets/", {"page_size": 2}).json()
    assert page["count"] == 3 and len(page["results"]) == 2 and page["next"]
    assert [d["name"] for d in page["results"]] == ["d2", "d1"]  # newest first


def test_the_openapi_schema_describes_every_endpoint(team: Any) -> None:
    response = team.owner.client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    for path in [
        "/api/v1/datasets/",
        "/api/v1/datasets/{dataset_id}/files/",
        "/api/v1/keys/",
        "/api/v1/dataset-versions/{version_id}/proof/",
        "/api/v1/works/",
        "/api/v1/training-runs/",
    ]:
        assert path in schema["paths"], path


@pytest.mark.parametrize("url", ["/api/docs/", "/api/redoc/"])
def test_the_docs_are_served_without_outside_assets(client: Any, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 200
    assert b"cdn." not in response.content and b"unpkg" not in response.content


def test_rights_holders_shares_must_add_up_exactly(team: Any) -> None:
    thirds = [{"name": name, "share": "0.33333333"} for name in "ABC"]
    body = {"name": "x", "licence_spdx": "MIT", "rights_holders": thirds}
    response = team.owner.client.post("/api/v1/datasets/", body, format="json")
    assert response.status_code == 400
    assert "add up to 0.99999999" in response.json()["error"]["message"]
    body["rights_holders"][2]["share"] = "0.33333334"
    assert team.owner.client.post("/api/v1/datasets/", body, format="json").status_code == 201


def test_a_constrained_consent_needs_its_constraint(team: Any) -> None:
    body = {"name": "x", "licence_spdx": "MIT", "consent": {"data_mining": {"use": "constrained"}}}
    response = team.owner.client.post("/api/v1/datasets/", body, format="json")
    assert response.status_code == 400
    assert "needs a constraint_info" in response.json()["error"]["message"]


def test_a_work_without_a_seed_gets_one_recorded(team: Any) -> None:
    from tests.conftest import model_record

    model = model_record(team.organisation)
    response = team.teammate.client.post("/api/v1/works/", {"title": "t", "model": str(model.pk)}, format="json")
    assert response.status_code == 201
    assert response.json()["status"] == "requested" and isinstance(response.json()["seed"], int)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [("config", {"steps": 2**60}, "config: not plain JSON"), ("config", {"note": "a\u0000b"}, "NUL")],
)
def test_run_configs_that_cannot_be_signed_are_a_400(
    team: Any, upload: Any, field: str, value: Any, message: str
) -> None:
    dataset_id, _ = upload("melody.mid")
    version = team.owner.client.post(f"/api/v1/datasets/{dataset_id}/versions/", {}, format="json").json()
    response = team.owner.client.post(
        "/api/v1/training-runs/", {"name": "r", "dataset_versions": [version["id"]], field: value}, format="json"
    )
    assert response.status_code == 400
    assert message in response.json()["error"]["message"]
