"""Spectrogram diffusion through the pipeline: tagged recordings uploaded, a small model trained by
the same run machinery, works generated from a prompt of its tags and as a variation of one of
the organisation's recordings, each signed, credentialed, pinned, minted and regenerated."""

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from ledgerline.datasets import samples
from ledgerline.provenance.models import SigningKey
from ledgerline.works.credentials import credentials_read
from ledgerline.works.models import Work
from tests.conftest import dataset_create
from tests.pipeline.conftest import ipfs_bytes, trained_run, upload_files, work_links_check

SMALL = {"model": "spectrogram", "max_steps": 6, "eval_every": 3, "channels": 16, "batch_size": 2}


@pytest.mark.django_db
def test_prompted_and_varied_recordings_are_minted_with_their_lineage(
    team: Any, embedded: None, tmp_path: Path, django_capture_on_commit_callbacks: Any
) -> None:
    client, capture = team.owner.client, django_capture_on_commit_callbacks
    dataset = dataset_create(team, name="Takes")
    low = samples.tone_audio(tmp_path / "low.wav", seconds=4.0, frequency=110)
    high = samples.tone_audio(tmp_path / "high.flac", seconds=4.0, frequency=1760)
    upload_files(client, dataset, [low], tags="organ, low")
    upload_files(client, dataset, [high], tags="flute high", caption="a high take")
    version = client.post(f"/api/v1/datasets/{dataset}/versions/", {}, format="json").json()
    run = trained_run(client, capture, [version["id"]], SMALL, name="prompts")
    assert run["metrics"]["vocabulary"] == ["flute", "high", "low", "organ"]
    assert run["progress"]["step"] == 6 and "held_out" in run["progress"]
    model = run["artifacts"][0]
    key = SigningKey.objects.get(key_id=model["key_id"])

    def generation(parameters: dict[str, Any]) -> Any:
        return client.post(
            "/api/v1/generations/", {"title": "Take", "model": model["id"], "parameters": parameters}, format="json"
        )

    unknown = generation({"prompt": "organ banjo"})
    message = unknown.json()["error"]["message"]
    assert unknown.status_code == 400 and "'banjo'" in message and "flute, high, low, organ" in message
    missing = generation({"variation": "ab" * 32}).json()["error"]["message"]
    assert "a recording in one of the organisation's datasets or of one of its works" in missing
    assert generation({"prompt": "organ", "strength": 0.5}).status_code == 400  # a strength without a source

    with capture(execute=True):
        created = generation({"prompt": "organ low", "steps": 3, "seconds": 4.0, "guidance": 2.0})
    assert created.status_code == 201, created.json()
    [work] = client.get(f"/api/v1/generations/{created.json()['id']}/").json()["works"]
    work_links_check(work, model, [version], key.public_key_pem, midi=False)
    provenance = json.loads(ipfs_bytes(work["cid"], "manifest.json"))["manifest"]["generation"]["provenance"]
    assert provenance["tags"] == ["low", "organ"] and provenance["rate"] == 44_100
    assert provenance["request"]["seconds"] == 4.0 and len(provenance["sampler"]["windows"]) == 2

    # A variation of a recording the model never heard, whose rights holder then owns most of it.
    voices = dataset_create(team, name="Voices", rights_holders=[{"name": "Voice Owner", "share": "1"}])
    [voice] = upload_files(client, voices, [samples.tone_audio(tmp_path / "voice.wav", seconds=3.0, frequency=330)])
    with capture(execute=True):
        varied = generation({"prompt": "flute", "variation": voice["sha256"], "strength": 0.25, "steps": 3})
    assert varied.status_code == 201, varied.json()
    [second] = client.get(f"/api/v1/generations/{varied.json()['id']}/").json()["works"]
    work_links_check(second, model, [version], key.public_key_pem, midi=False)
    manifest = json.loads(ipfs_bytes(second["cid"], "manifest.json"))["manifest"]
    assert manifest["generation"]["provenance"]["variation"] == {"sha256": voice["sha256"], "strength": 0.25}
    assert manifest["sources"] == [
        {
            "kind": "recording",
            "parameter": "variation",
            "sha256": voice["sha256"],
            "path": "voice.wav",
            "dataset_versions": [],
        }
    ]
    shares = {p["name"]: Decimal(p["share"]) for p in manifest["royalties"]["payees"]}
    assert shares["Voice Owner"] == Decimal("0.75") and sum(shares.values()) == 1

    # A variation of the first work: its lineage and split include that work.
    with capture(execute=True):
        again = generation({"prompt": "organ", "variation": work["content_sha256"], "strength": 0.5, "steps": 3})
    assert again.status_code == 201, again.json()
    [third] = client.get(f"/api/v1/generations/{again.json()['id']}/").json()["works"]
    work_links_check(third, model, [version], key.public_key_pem, midi=False)
    manifest = json.loads(ipfs_bytes(third["cid"], "manifest.json"))["manifest"]
    [source] = manifest["sources"]
    assert source["kind"] == "work" and source["work"] == work["id"] and source["cid"] == work["cid"]
    assert manifest["royalties"]["sources"][0]["share"] == "0.5"
    parents = [
        i
        for i in credentials_read(ipfs_bytes(third["cid"], "work.wav"))["manifest"]["ingredients"]
        if i["relationship"] == "parentOf"
    ]
    assert [p["instance_id"] for p in parents] == [f"sha256:{work['content_sha256']}"]

    # An auditor's regeneration draws the same bytes again.
    auditor = team.auditor.client
    token = Work.objects.get(pk=second["id"]).token
    assert token is not None
    with capture(execute=True):
        report = auditor.post("/api/v1/verify", {"token_id": token.token_id, "regenerate": True}, format="json")
    done = auditor.get(report.json()["links"]["self"]).json()
    assert done["verdict"] == "verified" and done["regeneration"]["status"] == "pass", json.dumps(done)[:4000]


@pytest.mark.django_db
def test_a_continued_spectrogram_model_learns_new_tags_and_keeps_its_lineage(
    team: Any, embedded: None, tmp_path: Path, django_capture_on_commit_callbacks: Any
) -> None:
    client, capture = team.owner.client, django_capture_on_commit_callbacks
    first = dataset_create(team, name="Organs")
    upload_files(client, first, [samples.tone_audio(tmp_path / "low.wav", seconds=3.0, frequency=110)], tags="organ")
    pretraining = client.post(f"/api/v1/datasets/{first}/versions/", {}, format="json").json()
    base = trained_run(client, capture, [pretraining["id"]], SMALL, name="base")
    [base_model] = base["artifacts"]

    second = dataset_create(team, name="Flutes")
    upload_files(client, second, [samples.tone_audio(tmp_path / "high.wav", seconds=3.0, frequency=1760)], tags="flute")
    own = client.post(f"/api/v1/datasets/{second}/versions/", {}, format="json").json()
    body = {"name": "x", "config": {**SMALL, "channels": 32}, "dataset_versions": [own["id"]]}
    refused = client.post("/api/v1/training-runs/", {**body, "base_model": base_model["id"]}, format="json")
    assert refused.status_code == 400 and "channels must be 16" in refused.json()["error"]["message"]

    continued = trained_run(client, capture, [own["id"]], SMALL, name="continued", base_model=base_model["id"])
    assert continued["metrics"]["vocabulary"] == ["flute", "organ"]
    assert [v["merkle_root"] for v in continued["inherited_dataset_versions"]] == [pretraining["merkle_root"]]
    [model] = continued["artifacts"]
    with capture(execute=True):
        created = client.post(
            "/api/v1/generations/",
            {"title": "Both", "model": model["id"], "parameters": {"prompt": "organ flute", "steps": 2}},
            format="json",
        )
    [work] = client.get(f"/api/v1/generations/{created.json()['id']}/").json()["works"]
    manifest = json.loads(ipfs_bytes(work["cid"], "manifest.json"))["manifest"]
    assert {d["merkle_root"] for d in manifest["datasets"]} == {pretraining["merkle_root"], own["merkle_root"]}
