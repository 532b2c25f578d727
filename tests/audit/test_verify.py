"""A registered work verifies link by link, whatever is handed in: the file, its token id, its
content hash, its signed manifest, or its MIDI score."""

from typing import Any

import pytest

from ledgerline.provenance.canonical import canonical_json
from ledgerline.works.models import WorkOutput
from tests.audit.conftest import Released
from tests.pipeline.conftest import ipfs_bytes

LINKS = [
    "content",
    "token",
    "metadata",
    "manifest",
    "signature",
    "model",
    "datasets",
    "consent",
    "licence",
    "credentials",
    "originality",
]


def _statuses(report: dict[str, Any]) -> dict[str, str]:
    return {c["link"]: c["status"] for c in report["checks"]}


@pytest.mark.django_db
def test_a_released_work_verifies_by_file_token_hash_and_manifest(released: Released) -> None:
    work = released.works[0]
    audio = ipfs_bytes(work["cid"], "work.wav")
    by_file = released.verify(file=_upload("work.wav", audio))
    assert by_file["verdict"] == "verified", by_file["summary"]
    assert [c["link"] for c in by_file["checks"]] == LINKS  # the public sees no database link
    assert set(_statuses(by_file).values()) == {"pass"}
    assert by_file["subject"]["token_id"] == work["token"]["token_id"]
    assert by_file["full"] is False and "lineage" not in by_file and "manifest" not in by_file

    for body in (
        {"token_id": work["token"]["token_id"]},
        {"content_sha256": work["content_sha256"]},
        {"manifest": canonical_json(work["manifest"]).decode()},
    ):
        report = released.verify(**body)
        assert report["verdict"] == "verified", (body, report["summary"])
        assert report["subject"]["content_sha256"] == work["content_sha256"]


@pytest.mark.django_db
def test_members_see_the_lineage_and_the_database_link(released: Released) -> None:
    work = released.works[1]
    report = released.verify(released.team.auditor.client, token_id=work["token"]["token_id"])
    assert report["full"] is True and report["verdict"] == "verified"
    assert _statuses(report)["database"] == "pass"
    assert report["lineage"]["work"]["id"] == work["id"]
    assert report["lineage"]["datasets"][0]["merkle_root"] == released.versions[0]["merkle_root"]
    assert report["manifest"]["manifest"]["content_sha256"] == work["content_sha256"]
    outsider = released.verify(released.team.outsider.client, token_id=work["token"]["token_id"])
    assert outsider["full"] is False and "lineage" not in outsider
    again = released.team.outsider.client.get(report["links"]["self"]).json()
    assert again["verdict"] == "verified" and "lineage" not in again


@pytest.mark.django_db
def test_a_score_verifies_against_its_work(released: Released) -> None:
    work = released.works[0]
    midi = WorkOutput.objects.get(work_id=work["id"], kind="midi")
    score = ipfs_bytes(work["cid"], "work.mid")
    report = released.verify(file=_upload("work.mid", score))
    assert report["verdict"] == "verified", report["summary"]
    assert report["subject"]["token_id"] == work["token"]["token_id"] and midi.blob.sha256


def _upload(name: str, data: bytes) -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data)


@pytest.mark.django_db(transaction=True)
def test_the_verifier_reads_through_a_gateway(released: Released, live_server: Any) -> None:
    """`--gateway`: blocks fetched from Ledgerline's own /ipfs/<cid>?format=raw, each one checked."""
    from ledgerline.audit.services import platform_verifier
    from ledgerline_verify import Subject, Verifier
    from ledgerline_verify.ipfs import Ipfs, gateway_blocks

    work = released.works[0]
    engine = Verifier(chain=platform_verifier().chain, ipfs=Ipfs(gateway_blocks(live_server.url)))
    verdict = engine.verify(Subject(token_id=work["token"]["token_id"]))
    assert verdict.verdict == "verified", verdict.summary


@pytest.mark.django_db
def test_a_token_sees_only_its_own_organisations_lineage(released: Released) -> None:
    from ledgerline.accounts import services as accounts
    from ledgerline.accounts.models import Role

    outsider = released.team.outsider  # its token was issued for Other Label
    accounts.membership_add(organisation=released.team.organisation, user=outsider.user, role=Role.AUDITOR)
    report = released.verify(outsider.client, token_id=released.works[0]["token"]["token_id"])
    assert report["full"] is False and "lineage" not in report
