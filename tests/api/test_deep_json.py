"""A deeply nested document must be refused with a 400, never parsed into a crash.

py-evm and py_ecc raise Python's recursion limit to 100,000 when imported (the ledger imports
them), so before the bound a body of 100,000 brackets overflowed the C stack and killed the
process. tests/test_serve.py sends one to a running server; these check every way in."""

import io
import sys
from typing import Any

import eth  # noqa: F401  (raises the recursion limit, as the site's ledger import does)
import pytest
from rest_framework.test import APIClient

from ledgerline.stack import safe_recursion_limit
from ledgerline_verify import bounded_json

DEEP = "[" * 100_000 + "]" * 100_000


def test_a_deep_json_body_is_refused_with_a_reason(db: Any) -> None:
    response = APIClient().generic("POST", "/api/v1/verify", DEEP, content_type="application/json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "parse_error"
    assert "deeper than 64 levels" in error["message"]


def test_a_deep_json_body_is_refused_on_an_authenticated_endpoint(team: Any) -> None:
    body = '{"name": "x", "licence_spdx": "MIT", "consent": ' + "[" * 65 + "]" * 65 + "}"
    response = team.owner.client.generic("POST", "/api/v1/datasets/", body, content_type="application/json")
    assert response.status_code == 400
    assert "deeper than 64 levels" in response.json()["error"]["message"]


def test_a_document_at_the_bound_is_read(team: Any) -> None:
    body = '{"name": "x", "licence_spdx": "MIT", "licence_terms": "t", "consent": ' + "[" * 63 + "]" * 63 + "}"
    response = team.owner.client.generic("POST", "/api/v1/datasets/", body, content_type="application/json")
    # Read, and refused for what it says (consent must be an object), not for its shape.
    assert response.status_code == 400
    assert "deeper" not in response.json()["error"]["message"]


def test_brackets_inside_strings_do_not_count(team: Any) -> None:
    name = "[" * 500 + "{" * 500
    body = '{"name": "' + name + '", "licence_spdx": "MIT"}'
    response = team.owner.client.generic("POST", "/api/v1/datasets/", body, content_type="application/json")
    assert response.status_code == 400
    assert "deeper" not in response.json()["error"]["message"]
    assert bounded_json.loads('["\\"[[[", ' * 40 + "1" + "]" * 40) is not None


def test_a_json_body_over_the_size_limit_is_a_413(db: Any, settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = APIClient().generic(
        "POST", "/api/v1/verify", '{"manifest": "' + "x" * 2000 + '"}', content_type="application/json"
    )
    assert response.status_code == 413
    assert "over 1,000 bytes" in response.json()["error"]["message"]


def test_a_deep_json_field_in_a_multipart_upload_is_refused(team: Any, upload: Any) -> None:
    _, response = upload("melody.mid", rights_holders=DEEP)
    assert response.status_code == 400
    assert "deeper than 64 levels" in response.json()["error"]["message"]


def test_a_deep_line_in_a_usage_report_is_a_line_error(team: Any) -> None:
    body = (DEEP + "\n").encode()
    response = team.owner.client.generic(
        "POST", "/api/v1/usage-events/bulk/", body, content_type="application/x-ndjson"
    )
    assert response.status_code == 400
    assert "deeper than 64 levels" in str(response.json())


def test_a_deep_manifest_handed_to_verify_is_a_failed_verdict(db: Any) -> None:
    response = APIClient().post("/api/v1/verify", {"manifest": io.StringIO(DEEP)}, format="multipart")
    assert response.status_code in (201, 400)
    body = response.json()
    if response.status_code == 201:
        assert body["verdict"] != "verified"
        assert "deeper than 64 levels" in str(body)


@pytest.mark.parametrize("path", ["/api/v1/verify", "/api/v1/keys/"])
def test_the_recursion_limit_stays_within_the_stack_after_a_request(db: Any, path: str) -> None:
    sys.setrecursionlimit(100_000)  # as py_ecc leaves it on import
    APIClient().get(path)
    assert sys.getrecursionlimit() == safe_recursion_limit() < 10_000
