"""Uploading files to a dataset: hashes, formats, storage once by content, refusals."""

import subprocess
from pathlib import Path
from typing import Any

import mido
import pytest

from ledgerline.datasets.blobs import blob_path
from ledgerline.datasets.models import Blob, DatasetFile
from ledgerline.provenance.models import AuditEntry
from tests.conftest import dataset_create


def sha256sum(path: Path) -> str:
    return subprocess.run(["sha256sum", str(path)], check=True, capture_output=True, text=True).stdout.split()[0]


def stored_files(settings: Any) -> list[Path]:
    root = Path(settings.LEDGERLINE_BLOB_DIR)
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def temp_files(settings: Any) -> set[Path]:
    return set(Path(settings.FILE_UPLOAD_TEMP_DIR).iterdir())


def expected_duration(path: Path) -> float:
    """The duration as another library reads it: mido for MIDI, the samples written for audio."""
    if path.suffix == ".mid":
        return float(mido.MidiFile(str(path)).length)
    return {"tone.wav": 3.0, "tone.flac": 2.0, "tone.mp3": 2.0}[path.name]


@pytest.mark.parametrize(
    ("name", "media_type"),
    [("melody.mid", "audio/midi"), ("tone.wav", "audio/wav"), ("tone.flac", "audio/flac"), ("tone.mp3", "audio/mpeg")],
)
def test_it_records_hash_size_type_and_duration(upload: Any, media_dir: Path, name: str, media_type: str) -> None:
    _, response = upload(name)
    assert response.status_code == 201, response.json()
    [file] = response.json()
    assert file["sha256"] == sha256sum(media_dir / name)
    assert file["size"] == (media_dir / name).stat().st_size
    assert file["media_type"] == media_type
    # MP3 encoders pad the start and end by a frame or so.
    assert file["duration_seconds"] == pytest.approx(expected_duration(media_dir / name), abs=0.06)
    assert blob_path(file["sha256"]).read_bytes() == (media_dir / name).read_bytes()


def test_files_inherit_the_datasets_licence_and_consent(upload: Any) -> None:
    _, response = upload("melody.mid")
    [file] = response.json()
    assert file["licence_spdx"] == "CC-BY-4.0"
    assert file["consent"] == {"cawg.ai_training": {"use": "allowed"}}


def test_a_file_can_carry_its_own_licence_consent_and_rights(upload: Any) -> None:
    _, response = upload(
        "melody.mid",
        licence_spdx="MIT",
        consent='{"ai_generative_training": {"use": "constrained", "constraint_info": "only for this label"}}',
        rights_holders='[{"name": "J. S. Bach", "share": "0.75"}, {"name": "Editor", "share": "0.25"}]',
    )
    assert response.status_code == 201, response.json()
    [file] = response.json()
    assert file["licence_spdx"] == "MIT"
    assert file["consent"]["cawg.ai_generative_training"]["constraint_info"] == "only for this label"
    assert {r["name"]: r["share"] for r in file["rights_holders"]} == {
        "J. S. Bach": "0.75000000",
        "Editor": "0.25000000",
    }


def test_the_same_content_is_stored_once(team: Any, upload: Any, settings: Any) -> None:
    upload("tone.wav")
    _, response = upload("tone.wav")  # into a second dataset
    assert response.status_code == 201
    assert Blob.objects.count() == 1
    assert DatasetFile.objects.count() == 2
    assert len(stored_files(settings)) == 1


def test_the_same_content_twice_in_one_dataset_is_refused(upload: Any) -> None:
    dataset_id, _ = upload("tone.wav")
    _, response = upload("tone.wav", dataset_id=dataset_id, path="copy.wav")
    assert response.status_code == 409
    assert "same content as 'tone.wav'" in response.json()["error"]["message"]


def test_several_files_in_one_request(upload: Any) -> None:
    _, response = upload("melody.mid", "other.mid", "tone.flac")
    assert response.status_code == 201
    assert sorted(f["path"] for f in response.json()) == ["melody.mid", "other.mid", "tone.flac"]


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("truncated.mid", "truncated"),
        ("header-only.mid", "contains no notes"),
        ("garbage.mid", "not a valid MIDI file"),
        ("truncated.wav", "truncated"),
        ("truncated.flac", "not a valid FLAC file"),
        ("notes.txt", "not a MIDI, WAV, FLAC or MP3 file"),
        ("empty.wav", "not a MIDI, WAV, FLAC or MP3 file"),
    ],
)
def test_a_bad_file_is_refused_by_name_and_reason_and_nothing_is_kept(
    team: Any, upload: Any, name: str, reason: str, settings: Any
) -> None:
    dataset_id = dataset_create(team)
    before_entries, before_temp = AuditEntry.objects.count(), temp_files(settings)
    _, response = upload("melody.mid", name, dataset_id=dataset_id)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_file"
    assert name in error["message"] and reason in error["message"]
    assert list(error["fields"]) == [name]
    assert DatasetFile.objects.count() == 0 and Blob.objects.count() == 0
    assert stored_files(settings) == []
    assert AuditEntry.objects.count() == before_entries
    assert temp_files(settings) <= before_temp


def _multipart(boundary: str, filename: str, content: bytes) -> bytes:
    return (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
            f"Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )


@pytest.mark.parametrize("cut", [0.3, 0.999])
def test_a_truncated_upload_is_refused_and_nothing_is_kept(
    team: Any, upload: Any, media_dir: Path, settings: Any, cut: float
) -> None:
    dataset_id, _ = upload("melody.mid")
    before_temp = temp_files(settings)
    body = _multipart("XyZ", "tone.wav", (media_dir / "tone.wav").read_bytes())
    response = team.owner.client.generic(
        "POST",
        f"/api/v1/datasets/{dataset_id}/files/",
        body[: int(len(body) * cut)],
        content_type="multipart/form-data; boundary=XyZ",
    )
    assert response.status_code == 400
    assert "cut short" in response.json()["error"]["message"]
    assert DatasetFile.objects.count() == 1
    assert temp_files(settings) <= before_temp


def test_a_complete_hand_made_multipart_body_is_accepted(team: Any, upload: Any, media_dir: Path) -> None:
    dataset_id, _ = upload("melody.mid")
    body = _multipart("XyZ", "tone.wav", (media_dir / "tone.wav").read_bytes())
    response = team.owner.client.generic(
        "POST", f"/api/v1/datasets/{dataset_id}/files/", body, content_type="multipart/form-data; boundary=XyZ"
    )
    assert response.status_code == 201, response.json()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"path": "../escape.mid"}, "not a usable file path"),
        ({"licence_spdx": "Not-A-Licence-1.0"}, "not an SPDX licence expression"),
        ({"consent": "{not json"}, "must be JSON"),
        ({"consent": '{"ai_training": {"use": "maybe"}}'}, "'use' must be one of"),
        ({"rights_holders": '[{"name": "A", "share": "0.5"}, {"name": "B", "share": "0.4"}]'}, "add up to exactly 1"),
    ],
)
def test_bad_metadata_is_refused_with_a_clear_message(
    upload: Any, fields: dict[str, str], message: str, settings: Any
) -> None:
    _, response = upload("melody.mid", **fields)
    assert response.status_code == 400
    assert message in response.json()["error"]["message"]
    assert DatasetFile.objects.count() == 0 and stored_files(settings) == []


def test_a_path_already_in_the_dataset_is_refused(upload: Any) -> None:
    dataset_id, _ = upload("melody.mid")
    _, response = upload("other.mid", dataset_id=dataset_id, path="melody.mid")
    assert response.status_code == 409
    assert "already in this dataset" in response.json()["error"]["message"]


def test_an_upload_without_files_is_refused(team: Any, upload: Any) -> None:
    dataset_id, _ = upload("melody.mid")
    response = team.owner.client.post(f"/api/v1/datasets/{dataset_id}/files/", {"path": "x.mid"}, format="multipart")
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"file": ["Attach one or more files as multipart 'file' parts."]}


def test_a_file_over_the_size_limit_is_refused(upload: Any, settings: Any) -> None:
    settings.LEDGERLINE_MAX_UPLOAD_BYTES = 1000
    _, response = upload("tone.wav")
    assert response.status_code == 413
    assert "larger than the 1000 bytes allowed" in response.json()["error"]["message"]
    assert DatasetFile.objects.count() == 0


def test_the_content_can_be_downloaded_by_members_only(team: Any, upload: Any, media_dir: Path) -> None:
    _, response = upload("tone.wav")
    sha = response.json()[0]["sha256"]
    download = team.auditor.client.get(f"/api/v1/blobs/{sha}")
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == (media_dir / "tone.wav").read_bytes()
    assert team.outsider.client.get(f"/api/v1/blobs/{sha}").status_code == 404


def assert_nothing_kept(settings: Any, before_entries: int, before_temp: set[Path]) -> None:
    assert DatasetFile.objects.count() == 0 and Blob.objects.count() == 0
    assert stored_files(settings) == []
    assert AuditEntry.objects.count() == before_entries
    assert temp_files(settings) <= before_temp


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"path": "line\nbreak.mid"}, "not a usable file path"),
        ({"licence_spdx": "MIT AND " * 30 + "MIT"}, "at most 200 characters"),
        ({"consent": '{"data_mining": {"use": "constrained", "constraint_info": "a\\u0000b"}}'}, "NUL"),
        ({"rights_holders": '[{"share": "1"}]'}, "rights_holders"),
    ],
)
def test_hostile_metadata_is_a_400_and_leaves_nothing(
    team: Any, upload: Any, settings: Any, fields: dict[str, str], message: str
) -> None:
    dataset_id = dataset_create(team)
    before_entries, before_temp = AuditEntry.objects.count(), temp_files(settings)
    _, response = upload("melody.mid", dataset_id=dataset_id, **fields)
    assert response.status_code == 400, response.content
    assert message in response.json()["error"]["message"]
    assert_nothing_kept(settings, before_entries, before_temp)


def test_an_oversized_upload_leaves_nothing(team: Any, upload: Any, settings: Any) -> None:
    dataset_id = dataset_create(team)
    before_entries, before_temp = AuditEntry.objects.count(), temp_files(settings)
    settings.LEDGERLINE_MAX_UPLOAD_BYTES = 1000
    _, response = upload("melody.mid", "tone.wav", dataset_id=dataset_id)
    assert response.status_code == 413
    assert_nothing_kept(settings, before_entries, before_temp)


def test_a_huge_midi_file_is_refused_without_reading_it(upload: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from ledgerline.datasets import media

    monkeypatch.setattr(media, "MAX_MIDI_BYTES", 100)
    monkeypatch.setattr(Path, "read_bytes", lambda self: pytest.fail("the MIDI file was read"))
    _, response = upload("melody.mid")
    assert response.status_code == 400
    assert "a MIDI file over 0 MiB is not accepted" in response.json()["error"]["message"]


def test_too_many_files_in_one_request_is_a_json_400(upload: Any, settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 2
    _, response = upload("melody.mid", "other.mid", "tone.wav")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"
    assert DatasetFile.objects.count() == 0
