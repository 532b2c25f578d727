"""Dataset versions: a frozen file set, its Merkle root, proofs anyone can check, Croissant."""

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ledgerline.datasets.selectors import version_leaf
from ledgerline.provenance.merkle import InclusionProof, merkle_root, verify_inclusion
from tests.datasets.test_upload import sha256sum


def freeze(team: Any, dataset_id: str) -> dict[str, Any]:
    response = team.owner.client.post(f"/api/v1/datasets/{dataset_id}/versions/", {"note": "v"}, format="json")
    assert response.status_code == 201, response.json()
    return dict(response.json())


def test_a_version_commits_to_its_files_by_path_order(team: Any, upload: Any, media_dir: Path) -> None:
    dataset_id, _ = upload("tone.wav", "melody.mid", "other.mid")
    version = freeze(team, dataset_id)
    assert version["number"] == 1 and version["file_count"] == 3
    # Recompute the root from the files alone, as an outsider would.
    leaves = [
        version_leaf(path=name, sha256=sha256sum(media_dir / name), size=(media_dir / name).stat().st_size)
        for name in sorted(["tone.wav", "melody.mid", "other.mid"], key=str.encode)
    ]
    assert version["merkle_root"] == merkle_root(leaves).hex()


def test_a_files_proof_verifies_against_the_root(team: Any, upload: Any, media_dir: Path) -> None:
    dataset_id, _ = upload("tone.wav", "melody.mid", "other.mid", "tone.flac")
    version = freeze(team, dataset_id)
    response = team.auditor.client.get(f"/api/v1/dataset-versions/{version['id']}/proof/", {"path": "other.mid"})
    assert response.status_code == 200
    proof = response.json()
    leaf = version_leaf(
        path="other.mid", sha256=sha256sum(media_dir / "other.mid"), size=(media_dir / "other.mid").stat().st_size
    )
    assert proof["leaf"].encode() == leaf
    checked = InclusionProof(proof["leaf_index"], proof["tree_size"], [bytes.fromhex(h) for h in proof["audit_path"]])
    root = bytes.fromhex(version["merkle_root"])
    assert verify_inclusion(leaf, checked, root)
    changed = version_leaf(path="other.mid", sha256="0" * 64, size=(media_dir / "other.mid").stat().st_size)
    assert not verify_inclusion(changed, checked, root)


def test_a_proof_can_be_asked_for_by_hash(team: Any, upload: Any, media_dir: Path) -> None:
    dataset_id, _ = upload("tone.wav", "melody.mid")
    version = freeze(team, dataset_id)
    response = team.owner.client.get(
        f"/api/v1/dataset-versions/{version['id']}/proof/", {"sha256": sha256sum(media_dir / "tone.wav")}
    )
    assert response.json()["leaf_index"] == 1  # "melody.mid" < "tone.wav"


def test_a_proof_for_a_file_not_in_the_version_is_a_clear_404(team: Any, upload: Any) -> None:
    dataset_id, _ = upload("tone.wav")
    version = freeze(team, dataset_id)
    response = team.owner.client.get(f"/api/v1/dataset-versions/{version['id']}/proof/", {"path": "nope.mid"})
    assert response.status_code == 404
    assert "No file 'nope.mid' in version 1" in response.json()["error"]["message"]


def test_a_version_is_frozen_when_files_change_later(team: Any, upload: Any) -> None:
    dataset_id, added = upload("tone.wav", "melody.mid")
    first = freeze(team, dataset_id)
    file_id = next(f["id"] for f in added.json() if f["path"] == "melody.mid")
    assert team.owner.client.delete(f"/api/v1/dataset-files/{file_id}/").status_code == 204
    upload("other.mid", dataset_id=dataset_id)
    second = freeze(team, dataset_id)
    assert second["number"] == 2 and second["merkle_root"] != first["merkle_root"]
    detail = team.owner.client.get(f"/api/v1/dataset-versions/{first['id']}/").json()
    assert [e["path"] for e in detail["entries"]] == ["melody.mid", "tone.wav"]
    proof = team.owner.client.get(f"/api/v1/dataset-versions/{first['id']}/proof/", {"path": "melody.mid"})
    assert proof.status_code == 200


def test_an_empty_dataset_cannot_be_frozen(team: Any) -> None:
    from tests.conftest import dataset_create

    dataset_id = dataset_create(team)
    response = team.owner.client.post(f"/api/v1/datasets/{dataset_id}/versions/", {}, format="json")
    assert response.status_code == 409
    assert "no files yet" in response.json()["error"]["message"]


def test_croissant_export_lists_every_file_with_its_sha256(team: Any, upload: Any, media_dir: Path) -> None:
    dataset_id, _ = upload("tone.wav", "melody.mid")
    version = freeze(team, dataset_id)
    doc = team.owner.client.get(f"/api/v1/dataset-versions/{version['id']}/croissant/").json()
    assert doc["@type"] == "sc:Dataset"
    assert doc["conformsTo"] == "http://mlcommons.org/croissant/1.0"
    assert doc["license"] == "https://spdx.org/licenses/CC-BY-4.0.html"
    assert {f["name"]: f["sha256"] for f in doc["distribution"]} == {
        "melody.mid": sha256sum(media_dir / "melody.mid"),
        "tone.wav": sha256sum(media_dir / "tone.wav"),
    }
    assert "ai_training: allowed" in doc["rai:dataUseCases"]
    assert doc["identifier"] == f"merkle-sha256:{version['merkle_root']}"


def test_croissant_records_load_in_mlcroissant_and_links_name_the_host_asked(
    team: Any, upload: Any, media_dir: Path, settings: Any
) -> None:
    import mlcroissant

    dataset_id, _ = upload("tone.wav", "melody.mid", tags="organ chorale")
    version = freeze(team, dataset_id)
    url = f"/api/v1/dataset-versions/{version['id']}/croissant/"
    settings.ALLOWED_HOSTS = ["labels.example.org", "testserver"]
    doc = team.owner.client.get(url, HTTP_HOST="labels.example.org").json()
    assert doc["url"].startswith("http://labels.example.org/api/v1/dataset-versions/")
    assert {f["contentUrl"].split("/api/")[0] for f in doc["distribution"]} == {"http://labels.example.org"}
    records = list(mlcroissant.Dataset(jsonld=doc).records("files"))
    assert sorted((r["files/file"], r["files/sha256"], r["files/tags"]) for r in records) == [
        ("melody.mid", sha256sum(media_dir / "melody.mid"), "chorale organ"),
        ("tone.wav", sha256sum(media_dir / "tone.wav"), "chorale organ"),
    ]
    assert {(r["files/licence"], r["files/consent"]) for r in records} == {("CC-BY-4.0", "allowed")}
    settings.SITE_URL, settings.SITE_URL_SET = "https://ledgerline.example.com", True
    assert team.owner.client.get(url).json()["url"].startswith("https://ledgerline.example.com/api/v1/")


@pytest.mark.slow
def test_croissant_export_passes_mlcommons_validator_without_warnings(team: Any, upload: Any, tmp_path: Path) -> None:
    dataset_id, _ = upload("tone.wav", "melody.mid")
    version = freeze(team, dataset_id)
    doc = team.owner.client.get(f"/api/v1/dataset-versions/{version['id']}/croissant/").json()
    path = tmp_path / "croissant.json"
    path.write_text(json.dumps(doc))
    validator = Path(sys.executable).parent / "mlcroissant"
    result = subprocess.run(
        [str(validator), "validate", "--jsonld", str(path)], capture_output=True, text=True, timeout=300
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Done." in output
    assert "warning" not in output.lower(), output


def test_a_version_keeps_the_terms_it_was_frozen_with(team: Any, upload: Any) -> None:
    dataset_id, _ = upload("melody.mid")
    team.owner.client.patch(
        f"/api/v1/datasets/{dataset_id}/", {"rights_holders": [{"name": "Composer", "share": "1"}]}, format="json"
    )
    version = freeze(team, dataset_id)
    team.owner.client.patch(
        f"/api/v1/datasets/{dataset_id}/",
        {
            "licence_spdx": "MIT",
            "consent": {"ai_training": "notAllowed"},
            "rights_holders": [{"name": "Someone else", "share": "1"}],
        },
        format="json",
    )
    doc = team.owner.client.get(f"/api/v1/dataset-versions/{version['id']}/croissant/").json()
    assert doc["license"] == "https://spdx.org/licenses/CC-BY-4.0.html"
    assert "ai_training: allowed" in doc["rai:dataUseCases"]
    assert [h["name"] for h in doc["copyrightHolder"]] == ["Composer"]
    assert team.owner.client.get(f"/api/v1/datasets/{dataset_id}/").json()["licence_spdx"] == "MIT"


def test_a_removed_files_bytes_stay_reachable_through_its_version(team: Any, upload: Any, media_dir: Path) -> None:
    dataset_id, added = upload("melody.mid", "other.mid")
    freeze(team, dataset_id)
    file = next(f for f in added.json() if f["path"] == "melody.mid")
    team.owner.client.delete(f"/api/v1/dataset-files/{file['id']}/")
    download = team.auditor.client.get(f"/api/v1/blobs/{file['sha256']}")
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == (media_dir / "melody.mid").read_bytes()
    assert team.outsider.client.get(f"/api/v1/blobs/{file['sha256']}").status_code == 404


def test_patching_rights_holders_validates_them_whole(team: Any, upload: Any) -> None:
    dataset_id, _ = upload("melody.mid")
    url = f"/api/v1/datasets/{dataset_id}/"
    missing = team.owner.client.patch(url, {"rights_holders": [{"name": "A"}]}, format="json")
    assert missing.status_code == 400
    assert "share" in str(missing.json()["error"]["fields"])
    ok = team.owner.client.patch(url, {"rights_holders": [{"name": "A", "share": "1"}]}, format="json")
    assert ok.status_code == 200
    assert ok.json()["rights_holders"] == [{"name": "A", "identifier": "", "share": "1.00000000"}]
