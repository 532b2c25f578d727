"""The sound-design path of [5] through the pipeline: audio uploaded, a small VAE trained by
the same run machinery, works made by interpolating between two of its sounds, each one
signed, credentialed, pinned and minted like a symbolic work."""

import json
from pathlib import Path
from typing import Any

import pytest

from ledgerline.datasets import samples
from ledgerline.provenance.models import SigningKey
from ledgerline.training.models import TrainingRun
from ledgerline.training.services import run_folder
from ledgerline.works.credentials import credentials_read
from tests.conftest import dataset_create
from tests.pipeline.conftest import ipfs_bytes, model_signing_verify, upload_files, work_links_check

SMALL = {"model": "audio", "epochs": 2, "latent": 8, "channels": 32, "batch_size": 4}


@pytest.mark.django_db
def test_interpolated_sounds_are_minted_with_their_lineage(
    team: Any, embedded: None, tmp_path: Path, django_capture_on_commit_callbacks: Any
) -> None:
    client = team.owner.client
    low = samples.tone_audio(tmp_path / "low.wav", seconds=3.0, frequency=220)
    high = samples.tone_audio(tmp_path / "high.wav", seconds=3.0, frequency=880)
    dataset = dataset_create(team, name="Tones")
    upload_files(client, dataset, [low, high])
    version = client.post(f"/api/v1/datasets/{dataset}/versions/", {}, format="json").json()
    with django_capture_on_commit_callbacks(execute=True):
        run = client.post(
            "/api/v1/training-runs/",
            {"name": "sounds", "config": SMALL, "dataset_versions": [version["id"]]},
            format="json",
        ).json()
    run = client.get(f"/api/v1/training-runs/{run['id']}/").json()
    assert run["status"] == "succeeded", run["error"]
    assert {"low0", "high0"} <= set(run["metrics"]["clips"]) and run["progress"]["epoch"] == 2
    model = run["artifacts"][0]
    key = SigningKey.objects.get(key_id=model["key_id"])
    folder = run_folder(TrainingRun.objects.get(pk=run["id"])) / "train" / "checkpoint"
    assert model_signing_verify(folder, key.public_key_pem, tmp_path).returncode == 0

    refused = client.post(
        "/api/v1/generations/",
        {"title": "x", "model": model["id"], "parameters": {"between": ["low0", "nowhere"]}},
        format="json",
    )
    assert refused.status_code == 400 and "no sound 'nowhere'" in refused.json()["error"]["message"]
    with django_capture_on_commit_callbacks(execute=True):
        created = client.post(
            "/api/v1/generations/",
            {
                "title": "Glide",
                "model": model["id"],
                "count": 3,
                "parameters": {"between": ["low0", "high0"], "rate": 48000},
            },
            format="json",
        )
    assert created.status_code == 201, created.json()
    generation = client.get(f"/api/v1/generations/{created.json()['id']}/").json()
    assert generation["progress"]["confirmed"] == 3, generation["progress"]
    ratios = []
    for work in generation["works"]:
        work_links_check(work, model, [version], key.public_key_pem, midi=False)
        manifest = json.loads(ipfs_bytes(work["cid"], "manifest.json"))["manifest"]
        provenance = manifest["generation"]["provenance"]
        assert provenance["kind"] == "interpolation" and provenance["rate"] == 48000
        assert [i["name"] for i in provenance["inputs"]] == ["low0", "high0"]
        ratios.append(provenance["ratio"])
        assert credentials_read(ipfs_bytes(work["cid"], "work.wav"))["state"] == "Valid"
    assert ratios == [0.0, 0.5, 1.0]

