"""Regeneration on request, the reports an auditor saves, `manage.py verify`, the public
endpoint's limits, and bad input."""

import io
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from pypdf import PdfReader
from rest_framework.test import APIClient

from ledgerline.api.audit import AnonVerifyThrottle
from ledgerline.audit.models import Verification
from tests.audit.conftest import Released
from tests.audit.test_tampering import flip_audio_byte
from tests.daemons import free_port
from tests.pipeline.conftest import ipfs_bytes


@pytest.mark.django_db
def test_regeneration_makes_the_same_bytes(released: Released, django_capture_on_commit_callbacks: Any) -> None:
    work = released.works[0]
    with django_capture_on_commit_callbacks(execute=True):  # the gpu task runs here, eagerly
        report = released.verify(released.team.auditor.client, token_id=work["token"]["token_id"], regenerate=True)
    assert report["regeneration"] == {"status": "queued"}
    done = released.team.auditor.client.get(report["links"]["self"]).json()
    assert done["regeneration"]["status"] == "pass", done["regeneration"]
    check = next(c for c in done["checks"] if c["link"] == "regeneration")
    # The render, its score, and the render marked again with the work's watermark: the released sound.
    assert set(check["details"]["compared"]) == {"midi", "wav", "marked"} and done["verdict"] == "verified"
    assert all(c["made"] == c["signed"] for c in check["details"]["compared"].values())


@pytest.mark.django_db
def test_regeneration_is_for_the_works_organisation(released: Released) -> None:
    token = released.works[0]["token"]["token_id"]
    for client in (APIClient(), released.team.outsider.client):
        response = client.post("/api/v1/verify", {"token_id": token, "regenerate": True}, format="json")
        assert response.status_code == 403
        assert "members of the work's organisation" in response.json()["error"]["message"]
    assert not Verification.objects.exists()


@pytest.mark.django_db
def test_the_report_saves_as_html_and_pdf(released: Released) -> None:
    report = released.verify(released.team.auditor.client, token_id=released.works[1]["token"]["token_id"])
    html = released.team.auditor.client.get(report["links"]["html"])
    assert html.status_code == 200 and html["Content-Type"].startswith("text/html")
    page = html.content.decode()
    assert "verified" in page and "Lineage" in page and released.works[1]["content_sha256"] in page
    public = APIClient().get(report["links"]["html"]).content.decode()
    assert "Lineage" not in public and "verified" in public
    pdf = APIClient().get(report["links"]["pdf"])
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "Verdict: verified" in text and "signature" in text and "ledgerline_verify" in text


@pytest.mark.django_db
def test_manage_py_verify_prints_the_verdict_and_exits_with_it(released: Released, tmp_path: Path) -> None:
    audio = ipfs_bytes(released.works[0]["cid"], "work.wav")
    (tmp_path / "work.wav").write_bytes(audio)
    out = io.StringIO()
    call_command("verify", str(tmp_path / "work.wav"), "--report", str(tmp_path / "report.pdf"), stdout=out)
    assert out.getvalue().startswith("VERIFIED:") and "ok   signature" in out.getvalue()
    assert (tmp_path / "report.pdf").read_bytes().startswith(b"%PDF")
    (tmp_path / "changed.wav").write_bytes(flip_audio_byte(audio))
    with pytest.raises(SystemExit) as exited:
        call_command("verify", str(tmp_path / "changed.wav"), stdout=io.StringIO())
    assert exited.value.code == 1


@pytest.mark.django_db
def test_the_public_endpoint_is_rate_limited(released: Released, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(AnonVerifyThrottle, "THROTTLE_RATES", {"verify_anon": "2/min", "verify_user": "100/min"})
    cache.clear()
    token = released.works[0]["token"]["token_id"]
    public = APIClient()
    for _ in range(2):
        assert public.post("/api/v1/verify", {"token_id": token}, format="json").status_code == 201
    refused = public.post("/api/v1/verify", {"token_id": token}, format="json")
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    # An account is counted on its own.
    assert released.team.auditor.client.post("/api/v1/verify", {"token_id": token}, format="json").status_code == 201
    cache.clear()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "Hand in one of"),
        ({"content_sha256": "abc"}, "64 hexadecimal digits"),
        ({"token_id": 0}, "token_id"),
        ({"token_id": 1, "content_sha256": "ab" * 32}, "Hand in one of"),
    ],
)
def test_bad_requests_are_refused_with_why(team: Any, body: dict[str, Any], message: str) -> None:
    response = APIClient().post("/api/v1/verify", body, format="json")
    assert response.status_code == 400 and message in response.json()["error"]["message"]
    assert not Verification.objects.exists()


@pytest.mark.django_db
def test_an_ipfs_node_that_is_down_is_a_503_and_records_nothing(released: Released, settings: Any) -> None:
    settings.IPFS_API_URL = f"http://127.0.0.1:{free_port()}"
    response = APIClient().post(
        "/api/v1/verify", {"file": SimpleUploadedFile("x.wav", b"RIFF....WAVE")}, format="multipart"
    )
    assert response.status_code == 503 and "does not answer" in response.json()["error"]["message"]
    assert not Verification.objects.exists()
