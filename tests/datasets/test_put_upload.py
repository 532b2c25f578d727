"""PUT /api/v1/datasets/<id>/files/<path>: a file whose bytes are the whole request body."""

import base64
import hashlib
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from ledgerline.datasets.models import DatasetFile
from tests.conftest import dataset_create
from tests.streams import StreamedBody


def stored_files(settings: Any) -> list[Path]:
    root = Path(settings.LEDGERLINE_BLOB_DIR)
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def put(client: Any, dataset_id: str, path: str, data: bytes, query: str = "", **extra: Any) -> Any:
    url = f"/api/v1/datasets/{dataset_id}/files/{path}{query}"
    return client.generic("PUT", url, data, content_type="application/octet-stream", **extra)


def test_it_stores_the_body_as_the_file(team: Any, media_dir: Path) -> None:
    dataset_id = dataset_create(team)
    data = (media_dir / "tone.wav").read_bytes()
    response = put(team.owner.client, dataset_id, "takes/take-1.wav", data, "?tags=organ,%20chorale&caption=first")
    assert response.status_code == 201, response.json()
    file = response.json()
    assert file["sha256"] == hashlib.sha256(data).hexdigest()
    assert (file["path"], file["size"], file["media_type"]) == ("takes/take-1.wav", len(data), "audio/wav")
    assert (file["tags"], file["caption"]) == (["chorale", "organ"], "first")
    listed = team.owner.client.get(f"/api/v1/datasets/{dataset_id}/files/").json()["results"]
    assert [f["path"] for f in listed] == ["takes/take-1.wav"]


def test_a_matching_content_digest_is_accepted_and_a_wrong_one_refused(
    team: Any, settings: Any, media_dir: Path
) -> None:
    dataset_id = dataset_create(team)
    data = (media_dir / "melody.mid").read_bytes()
    right = f"sha-256=:{base64.b64encode(hashlib.sha256(data).digest()).decode()}:"
    wrong = f"sha-256=:{base64.b64encode(hashlib.sha256(b'other').digest()).decode()}:"
    refused = put(team.owner.client, dataset_id, "melody.mid", data, HTTP_CONTENT_DIGEST=wrong)
    assert refused.status_code == 400
    assert "do not match Content-Digest" in refused.json()["error"]["message"]
    assert not DatasetFile.objects.exists() and not stored_files(settings)
    accepted = put(team.owner.client, dataset_id, "melody.mid", data, HTTP_CONTENT_DIGEST=right)
    assert accepted.status_code == 201, accepted.json()


def test_a_body_cut_short_keeps_nothing(team: Any, settings: Any, media_dir: Path) -> None:
    dataset_id = dataset_create(team)
    data = (media_dir / "tone.wav").read_bytes()
    response = put(
        team.owner.client,
        dataset_id,
        "take.wav",
        b"",
        CONTENT_LENGTH=str(len(data)),
        **{"wsgi.input": StreamedBody([data[: len(data) // 2]])},
    )
    assert response.status_code == 400
    assert "cut short" in response.json()["error"]["message"]
    assert not DatasetFile.objects.exists() and not stored_files(settings)


def test_a_file_over_the_limit_is_refused_unread(team: Any, settings: Any, media_dir: Path) -> None:
    settings.LEDGERLINE_MAX_UPLOAD_BYTES = 1000
    dataset_id = dataset_create(team)
    response = put(team.owner.client, dataset_id, "take.wav", (media_dir / "tone.wav").read_bytes())
    assert response.status_code == 413
    assert "1,000 bytes" in response.json()["error"]["message"]
    assert not stored_files(settings)


@pytest.mark.parametrize(("name", "reason"), [("notes.txt", "not a MIDI, WAV, FLAC or MP3"), ("truncated.wav", "")])
def test_a_file_that_is_not_media_is_refused_with_the_reason(
    team: Any, settings: Any, media_dir: Path, name: str, reason: str
) -> None:
    dataset_id = dataset_create(team)
    response = put(team.owner.client, dataset_id, name, (media_dir / name).read_bytes())
    assert response.status_code == 400
    message = response.json()["error"]["message"]
    assert message.startswith("Nothing was added.") and name in message and reason in message
    assert not DatasetFile.objects.exists() and not stored_files(settings)


def test_a_path_already_there_is_a_conflict(team: Any, media_dir: Path) -> None:
    dataset_id = dataset_create(team)
    assert put(team.owner.client, dataset_id, "a.mid", (media_dir / "melody.mid").read_bytes()).status_code == 201
    again = put(team.owner.client, dataset_id, "a.mid", (media_dir / "other.mid").read_bytes())
    assert again.status_code == 409
    assert "already in this dataset" in again.json()["error"]["message"]


def test_only_the_organisations_writers_put_files(team: Any, settings: Any, media_dir: Path) -> None:
    dataset_id = dataset_create(team)
    data = (media_dir / "melody.mid").read_bytes()
    assert put(team.outsider.client, dataset_id, "a.mid", data).status_code == 404
    assert put(team.auditor.client, dataset_id, "a.mid", data).status_code == 403
    assert not DatasetFile.objects.exists() and not stored_files(settings)
    assert put(team.teammate.client, dataset_id, "a.mid", data).status_code == 201


def test_a_body_without_content_length_is_refused(team: Any, media_dir: Path) -> None:
    dataset_id = dataset_create(team)
    response = put(team.owner.client, dataset_id, "a.mid", (media_dir / "melody.mid").read_bytes(), CONTENT_LENGTH="")
    assert response.status_code == 411
    assert "Content-Length" in response.json()["error"]["message"]


def test_a_session_needs_its_csrf_token(team: Any, media_dir: Path) -> None:
    dataset_id = dataset_create(team)
    client = Client(enforce_csrf_checks=True)
    client.force_login(team.owner.user)
    client.get("/login/")  # sets the csrftoken cookie, as any portal page does
    data = (media_dir / "melody.mid").read_bytes()
    refused = put(client, dataset_id, "a.mid", data)
    assert refused.status_code == 403 and "CSRF" in refused.json()["error"]["message"]
    assert not DatasetFile.objects.exists()
    accepted = put(client, dataset_id, "a.mid", data, HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value)
    assert accepted.status_code == 201, accepted.json()
