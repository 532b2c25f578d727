"""A dataset file's tags and caption: given on upload, bulk import or later, frozen into versions
and covered by the Merkle leaf, so a prompt's words are part of the data's provenance."""

import json
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from ledgerline.datasets.models import DatasetFile
from ledgerline.datasets.selectors import version_leaf
from ledgerline.provenance.merkle import merkle_root
from tests.conftest import dataset_create
from tests.datasets.test_upload import sha256sum
from tests.datasets.test_versions import freeze


def test_it_keeps_the_tags_and_caption_given_on_upload(team: Any, upload: Any) -> None:
    _, response = upload("tone.wav", "tone.flac", tags="Organ, chorale  organ", caption="Bach on the organ")
    assert response.status_code == 201, response.json()
    for file in response.json():
        assert file["tags"] == ["chorale", "organ"] and file["caption"] == "Bach on the organ"


def test_it_takes_tags_as_a_json_list(team: Any, upload: Any) -> None:
    _, response = upload("tone.wav", tags='["piano", "ragtime"]')
    assert response.json()[0]["tags"] == ["piano", "ragtime"]


@pytest.mark.parametrize(
    ("tags", "says"),
    [("organ, <script>", "is not a tag"), (" ".join(f"t{n}" for n in range(17)), "at most 16"), ("x" * 40, "is not")],
)
def test_it_refuses_bad_tags_and_adds_nothing(team: Any, upload: Any, tags: str, says: str) -> None:
    _, response = upload("tone.wav", tags=tags)
    assert response.status_code == 400 and says in json.dumps(response.json())
    assert not DatasetFile.objects.exists()


def test_a_caption_is_one_line(team: Any, upload: Any) -> None:
    _, response = upload("tone.wav", caption="two\nlines")
    assert response.status_code == 400 and "caption" in json.dumps(response.json())


def test_the_merkle_leaf_covers_tags_and_caption(team: Any, upload: Any, media_dir: Path) -> None:
    dataset_id, _ = upload("tone.wav", tags="organ chorale", caption="a tone")
    upload("melody.mid", dataset_id=dataset_id)
    version = freeze(team, dataset_id)
    leaves = [
        version_leaf(
            path="melody.mid",
            sha256=sha256sum(media_dir / "melody.mid"),
            size=(media_dir / "melody.mid").stat().st_size,
        ),
        version_leaf(
            path="tone.wav",
            sha256=sha256sum(media_dir / "tone.wav"),
            size=(media_dir / "tone.wav").stat().st_size,
            tags=["chorale", "organ"],
            caption="a tone",
        ),
    ]
    assert version["merkle_root"] == merkle_root(leaves).hex()
    proof = team.auditor.client.get(f"/api/v1/dataset-versions/{version['id']}/proof/", {"path": "tone.wav"}).json()
    assert json.loads(proof["leaf"])["tags"] == ["chorale", "organ"]
    assert "tags" not in json.loads(leaves[0])  # a file without words keeps the leaf it always had
    detail = team.auditor.client.get(f"/api/v1/dataset-versions/{version['id']}/").json()
    assert [e["tags"] for e in detail["entries"]] == [[], ["chorale", "organ"]]


def test_retagging_changes_the_next_version_not_the_frozen_one(team: Any, upload: Any) -> None:
    dataset_id, response = upload("tone.wav", tags="organ")
    file_id = response.json()[0]["id"]
    first = freeze(team, dataset_id)
    changed = team.owner.client.patch(f"/api/v1/dataset-files/{file_id}/", {"tags": ["flute", "folk"]}, format="json")
    assert changed.status_code == 200 and changed.json()["tags"] == ["flute", "folk"]
    assert changed.json()["caption"] == ""
    second = freeze(team, dataset_id)
    assert second["merkle_root"] != first["merkle_root"]
    kept = team.owner.client.get(f"/api/v1/dataset-versions/{first['id']}/").json()
    assert kept["entries"][0]["tags"] == ["organ"] and kept["merkle_root"] == first["merkle_root"]


def test_only_the_organisations_writers_retag(team: Any, upload: Any) -> None:
    _, response = upload("tone.wav", tags="organ")
    url = f"/api/v1/dataset-files/{response.json()[0]['id']}/"
    assert team.auditor.client.patch(url, {"tags": "flute"}, format="json").status_code == 403
    assert team.outsider.client.patch(url, {"tags": "flute"}, format="json").status_code == 404
    bad = team.owner.client.patch(url, {"tags": {"a": 1}}, format="json")
    assert bad.status_code == 400 and "tags" in bad.json()["error"]["message"]
    assert DatasetFile.objects.get().tags == ["organ"]


def test_bulk_import_reads_tags_and_captions(team: Any, media_dir: Path, tmp_path: Path) -> None:
    dataset_id = dataset_create(team)
    folder = tmp_path / "catalog"
    (folder / "organ").mkdir(parents=True)
    (folder / "organ" / "take.wav").write_bytes((media_dir / "tone.wav").read_bytes())
    (folder / "song.flac").write_bytes((media_dir / "tone.flac").read_bytes())
    descriptions = tmp_path / "tags.json"
    descriptions.write_text(json.dumps({"organ/take.wav": {"tags": ["organ", "chorale"], "caption": "take one"}}))
    call_command(
        "dataset_import", str(folder), dataset=dataset_id, user="owner", tags="label-x", descriptions=descriptions
    )
    files = {f.path: f for f in DatasetFile.objects.all()}
    assert files["organ/take.wav"].tags == ["chorale", "label-x", "organ"]
    assert files["organ/take.wav"].caption == "take one"
    assert files["song.flac"].tags == ["label-x"]


def test_bulk_import_names_a_description_of_no_file(team: Any, media_dir: Path, tmp_path: Path) -> None:
    dataset_id = dataset_create(team)
    folder = tmp_path / "catalog"
    folder.mkdir()
    (folder / "take.wav").write_bytes((media_dir / "tone.wav").read_bytes())
    descriptions = tmp_path / "tags.json"
    descriptions.write_text(json.dumps({"missing.wav": {"tags": ["organ"]}}))
    with pytest.raises(CommandError, match=r"missing\.wav"):
        call_command("dataset_import", str(folder), dataset=dataset_id, user="owner", descriptions=descriptions)
    assert not DatasetFile.objects.exists()
