"""The API as its schema says, and the probe's findings on it: what a client sends that the API
cannot take is a 4xx with the error body, never a 500, an HTML page or a silent guess."""

import json
from typing import Any

import pytest
import yaml
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from rest_framework.test import APIClient

from tests.conftest import Team

PASSWORD = "a long test password"


@pytest.fixture
def schema(db: Any) -> dict[str, Any]:
    response = APIClient().get("/api/schema/")
    assert response.status_code == 200
    return dict(yaml.safe_load(response.content))


def test_bearer_tokens_are_a_security_scheme(schema: dict[str, Any]) -> None:
    assert schema["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "An API token: `Authorization: Bearer ll_...`.",
    }
    assert {"bearerAuth": []} in schema["paths"]["/api/v1/datasets/"]["get"]["security"]


def test_lists_are_documented_as_pages(schema: dict[str, Any]) -> None:
    operation = schema["paths"]["/api/v1/works/"]["get"]
    page = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert set(schema["components"]["schemas"][page]["properties"]) == {"count", "next", "previous", "results"}
    assert {p["name"] for p in operation["parameters"]} >= {"page", "page_size"}


def test_every_operation_documents_its_errors(schema: dict[str, Any]) -> None:
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            statuses = set(operation["responses"])
            assert {"400", "401", "403", "404"} <= statuses, (method, path)
            if method in ("post", "put", "patch"):
                assert {"409", "413", "415"} <= statuses, (method, path)
            body = operation["responses"]["404"]["content"]["application/json"]["schema"]
            assert body == {"$ref": "#/components/schemas/Error"}
    assert "429" in schema["paths"]["/api/v1/verify"]["post"]["responses"]


def test_a_token_id_past_uint256_is_refused(db: Any) -> None:
    response = APIClient().post("/api/v1/verify", {"token_id": 2**256}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["fields"]["token_id"]
    assert APIClient().post("/api/v1/verify", {"token_id": 2**256 - 1}, format="json").status_code == 201


def test_json_fields_take_their_own_types(team: Team) -> None:
    verify = APIClient().post("/api/v1/verify", {"token_id": "5"}, format="json")
    assert verify.status_code == 400 and verify.json()["error"]["fields"] == {"token_id": ["must be a whole number"]}
    flag = APIClient().post("/api/v1/verify", {"token_id": 5, "regenerate": 0}, format="json")
    assert flag.status_code == 400 and "regenerate" in flag.json()["error"]["fields"]
    dataset = team.owner.client.post("/api/v1/datasets/", {"name": 0, "licence_spdx": "MIT"}, format="json")
    assert dataset.status_code == 400 and dataset.json()["error"]["fields"] == {"name": ["must be a string"]}


@pytest.mark.parametrize("body", [[], 5, None, "text", True])
def test_a_body_that_is_not_an_object_is_a_400(team: Team, body: Any) -> None:
    url = f"/api/v1/organisations/{team.organisation.slug}/royalty-policy/"
    response = team.owner.client.generic("PUT", url, json.dumps(body), content_type="application/json")
    assert response.status_code == 400, response.content
    assert "JSON object" in response.json()["error"]["message"]


def test_a_page_or_page_size_it_cannot_read_is_a_400(team: Team) -> None:
    assert team.owner.client.get("/api/v1/datasets/?page_size=ten").status_code == 400
    assert team.owner.client.get("/api/v1/datasets/?page_size=0").status_code == 400
    assert team.owner.client.get("/api/v1/datasets/?page_size=10").status_code == 200
    assert team.owner.client.get("/api/v1/datasets/?page=").status_code == 400
    assert team.owner.client.get("/api/v1/datasets/?page=x").status_code == 400
    assert team.owner.client.get("/api/v1/datasets/?page=9").status_code == 404  # past the last


def test_a_period_out_of_the_calendar_is_a_400(team: Team) -> None:
    for period in ("0000", "0000-01", "9999-Q4"):
        response = team.owner.client.get(f"/api/v1/statements/?period={period}")
        assert response.status_code == 400, (period, response.content)
        assert "is not a month" in response.json()["error"]["message"]


def test_a_wrong_address_with_a_token_is_a_json_404(team: Team) -> None:
    client = APIClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {team.owner.token}")
    for response in (
        client.post("/api/v1/no-such/", {}, format="json"),
        client.get("/api/v1/datasets/not-an-id/"),
        client.get("/api/v1/datasets/%0A/"),
    ):
        assert response.status_code == 404
        assert response["Content-Type"] == "application/json"
        assert response.json()["error"]["code"] == "not_found"


def test_a_session_without_its_csrf_token_gets_the_error_body(team: Team) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(team.owner.user)
    response = client.post("/api/v1/no-such/", "{}", content_type="application/json")
    assert response.status_code == 404  # no such endpoint, whatever the CSRF token
    response = client.post("/api/v1/datasets/", '{"name": "x", "licence_spdx": "MIT"}', content_type="application/json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    assert "CSRF" in response.json()["error"]["message"]


def test_a_usage_report_is_imported_under_a_session(team: Team) -> None:
    # The portal's way in: a session and its CSRF token (DRF's CSRF check reads the body first).
    client = Client(enforce_csrf_checks=True)
    client.get("/login/")
    assert (
        client.post(
            "/login/",
            {"username": "owner", "password": PASSWORD, "csrfmiddlewaretoken": client.cookies["csrftoken"].value},
        ).status_code
        == 302
    )
    csrf = client.cookies["csrftoken"].value
    header = "event_id,isrc,service,territory,usage_type,units,revenue,currency,period_start,period_end\n"
    for kind in ("text/csv", "application/x-ndjson"):
        body = header if kind == "text/csv" else "\n"
        response = client.generic(
            "POST", "/api/v1/usage-events/bulk/", body.encode(), content_type=kind, HTTP_X_CSRFTOKEN=csrf
        )
        assert response.status_code == 200, (kind, response.content)
        assert response.json()["lines"] == 0


def test_a_file_too_big_to_verify_here_is_a_413(db: Any, settings: Any) -> None:
    settings.LEDGERLINE_VERIFY_MAX_BYTES = 1000
    big = APIClient().post("/api/v1/verify", {"file": SimpleUploadedFile("big.wav", b"x" * 1001)}, format="multipart")
    assert big.status_code == 413
    assert "ledgerline_verify" in big.json()["error"]["message"]
    small = APIClient().post(
        "/api/v1/verify", {"file": SimpleUploadedFile("small.bin", b"x" * 1000)}, format="multipart"
    )
    assert small.status_code == 201
    portal = Client().post("/verify/", {"file": SimpleUploadedFile("big.wav", b"x" * 1001)})
    assert portal.status_code == 413 and b"ledgerline_verify" in portal.content


def test_a_usage_report_past_the_upload_limit_is_a_413(team: Team, settings: Any) -> None:
    settings.LEDGERLINE_MAX_UPLOAD_BYTES = 100
    response = team.owner.client.generic("POST", "/api/v1/usage-events/bulk/", b"x" * 101, content_type="text/csv")
    assert response.status_code == 413
