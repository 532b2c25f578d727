"""Training data recognised: a file handed to /verify that is a file of a registered dataset
version comes back with that version, its inclusion proof checked and what the chain says of the
root; its owner's members see everything, the public what the owner has published."""

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from rest_framework.test import APIClient

from ledgerline.datasets import samples
from ledgerline.provenance.hashing import sha256_bytes
from tests.audit.conftest import Released
from tests.conftest import dataset_create
from tests.pipeline.conftest import upload_files


@pytest.mark.django_db
def test_a_file_trained_on_is_recognised_with_its_proof(released: Released) -> None:
    chorale = released.files[0]
    data = chorale.read_bytes()
    public = released.verify(file=SimpleUploadedFile(chorale.name, data))
    assert public["verdict"] == "unknown"  # not a work: no token holds it
    assert "registered training data" in public["summary"] and chorale.name not in public["summary"]
    [found] = public["training_data"]
    version = released.versions[0]
    assert found["proof_verified"] and found["merkle_root"] == version["merkle_root"]
    assert found["anchored_at"] and found["consent_withdrawn_at"] is None  # a model trained on it was published
    assert found["stated"] == {
        "dataset": "Chorales",
        "version": version["number"],
        "licence": "CC-BY-4.0",
        "consent": {"cawg.ai_training": {"use": "allowed"}},
    }
    assert found["full"] is False and found["sha256"] == sha256_bytes(data)
    report = APIClient().get(public["links"]["html"]).content.decode()
    assert "Training data" in report and version["merkle_root"] in report and "proof checks" in report
    page = Client().get(f"/verify/{public['id']}/").content.decode()  # the portal's page of the verdict
    assert 'class="card training-data"' in page and "Chorales v" in page and version["merkle_root"] in page

    member = released.verify(released.team.auditor.client, file=SimpleUploadedFile(chorale.name, data))
    [full] = member["training_data"]
    assert full["full"] is True and full["path"] == chorale.name and full["proof"]["leaf_index"] == full["leaf_index"]

    # Another organisation freezes the same files: the same root, anchored, but not its own
    # publication: the public learns nothing of it beyond the root.
    other = released.team.outsider.client
    body = {"name": "Copied chorales", "licence_spdx": "CC0-1.0", "consent": {"cawg.ai_training": "allowed"}}
    copied = other.post("/api/v1/datasets/", body, format="json").json()["id"]
    upload_files(other, copied, released.files)
    assert (
        other.post(f"/api/v1/datasets/{copied}/versions/", {}, format="json").json()["merkle_root"]
        == (version["merkle_root"])
    )
    public = released.verify(file=SimpleUploadedFile(chorale.name, data))
    ours, theirs = public["training_data"]
    assert ours["stated"]["dataset"] == "Chorales" and theirs["anchored_at"] == ours["anchored_at"]
    assert "stated" not in theirs and "path" not in theirs and "Copied chorales" not in str(public)


@pytest.mark.django_db
def test_a_version_not_published_shows_the_public_only_that_it_is_registered(
    released: Released, tmp_path: Path
) -> None:
    team = released.team
    dataset = dataset_create(team, name="Unreleased demos")
    demo = samples.melody_midi(tmp_path / "secret-demo-take-3.mid", seed=41)
    upload_files(team.owner.client, dataset, [demo])
    version = team.owner.client.post(f"/api/v1/datasets/{dataset}/versions/", {}, format="json").json()
    public = released.verify(file=SimpleUploadedFile("x.mid", demo.read_bytes()))
    [found] = public["training_data"]
    assert found == {
        "kind": "training_data",
        "sha256": sha256_bytes(demo.read_bytes()),
        "proof_verified": True,
        "merkle_root": version["merkle_root"],
        "anchored_at": None,
        "full": False,
    }
    assert "secret-demo" not in str(public)
    outsider = released.verify(team.outsider.client, file=SimpleUploadedFile("x.mid", demo.read_bytes()))
    assert "secret-demo" not in str(outsider)
    member = released.verify(team.teammate.client, file=SimpleUploadedFile("x.mid", demo.read_bytes()))
    assert member["training_data"][0]["path"] == "secret-demo-take-3.mid"
    assert member["training_data"][0]["stated"]["dataset"] == "Unreleased demos"


def test_the_auditors_check_of_a_proof_file() -> None:
    """`ledgerline_verify.training_data` alone: a file in a tree of three, another file handed
    the same proof, a proof pointing at another leaf, and a proof that is not one."""
    from ledgerline.datasets.selectors import version_leaf
    from ledgerline.provenance.merkle import inclusion_proof, merkle_root
    from ledgerline_verify.training_data import training_data

    files = {name: f"{name} bytes".encode() for name in ("a.mid", "b.mid", "c.mid")}
    leaves = [version_leaf(path=n, sha256=sha256_bytes(d), size=len(d)) for n, d in files.items()]
    root = merkle_root(leaves)
    proof = inclusion_proof(leaves, 1)
    handed = {
        "merkle_root": root.hex(),
        "tree_size": 3,
        "leaf_index": 1,
        "leaf": leaves[1].decode(),
        "audit_path": [node.hex() for node in proof.audit_path],
        "dataset": "Demo",
    }
    found = training_data(files["b.mid"], handed, chain=None)
    assert found["proof_verified"] and found["path"] == "b.mid" and found["stated"] == {"dataset": "Demo"}
    assert "anchored_at" not in found  # no chain asked
    other = training_data(files["a.mid"], handed, chain=None)
    assert not other["proof_verified"] and "The proof is of another file" in other["reason"]
    moved = training_data(files["b.mid"], {**handed, "leaf_index": 2}, chain=None)
    assert not moved["proof_verified"] and "does not lead" in moved["reason"]
    broken = training_data(files["b.mid"], {**handed, "audit_path": ["zz"]}, chain=None)
    assert not broken["proof_verified"] and "not a Ledgerline inclusion proof" in broken["reason"]
