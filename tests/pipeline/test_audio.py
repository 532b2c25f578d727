"""The sound-design path of [5] through the pipeline: audio uploaded, a small VAE trained by
the same run machinery, works made by interpolating between two of its sounds, each one
signed, credentialed, pinned and minted like a symbolic work."""

import json
from pathlib import Path
from typing import Any

import pytest

from ledgerline.datasets import samples
from ledgerline.provenance.models import SigningKey
from ledgerline.training.checkpoints import run_folder
from ledgerline.training.models import TrainingRun
from ledgerline.training.services import training_run_execute
from ledgerline.works.credentials import credentials_read
from tests.conftest import dataset_create
from tests.pipeline.conftest import ipfs_bytes, model_signing_verify, trained_run, upload_files, work_links_check

SMALL = {"model": "audio", "epochs": 2, "latent": 32, "channels": 32, "batch_size": 4}


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
    run = trained_run(client, django_capture_on_commit_callbacks, [version["id"]], SMALL, name="sounds")
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


@pytest.mark.django_db
def test_a_continued_sound_model_carries_the_lineage_of_the_model_it_continues(
    team: Any, embedded: None, tmp_path: Path, django_capture_on_commit_callbacks: Any
) -> None:
    from ledgerline.audit.services import platform_verifier
    from ledgerline.datasets.models import DatasetFile
    from ledgerline.provenance.canonical import canonical_json
    from ledgerline_verify import Subject
    from tests.conftest import model_record

    client, capture = team.owner.client, django_capture_on_commit_callbacks
    tones = dataset_create(team, name="Tones", rights_holders=[{"name": "Tone Maker", "share": "1"}])
    upload_files(
        client,
        tones,
        [samples.tone_audio(tmp_path / f"{n}.wav", seconds=3.0, frequency=f) for n, f in (("low", 220), ("high", 880))],
    )
    pretraining = client.post(f"/api/v1/datasets/{tones}/versions/", {}, format="json").json()
    base = trained_run(client, capture, [pretraining["id"]], SMALL, name="pretrained")
    [base_model] = base["artifacts"]

    voices = dataset_create(team, name="Voices", rights_holders=[{"name": "Voice Owner", "share": "1"}])
    upload_files(client, voices, [samples.tone_audio(tmp_path / "mid.wav", seconds=3.0, frequency=440)])
    own = client.post(f"/api/v1/datasets/{voices}/versions/", {}, format="json").json()

    # What cannot be continued is refused, naming why.
    def refused(status: int = 400, **fields: Any) -> str:
        body = {"name": "x", "config": SMALL, "dataset_versions": [own["id"]], "base_model": base_model["id"], **fields}
        response = client.post("/api/v1/training-runs/", body, format="json")
        assert response.status_code == status, response.json()
        return str(response.json()["error"]["message"])

    assert "latent must be 32" in refused(config={**SMALL, "latent": 48})
    assert "Only audio or spectrogram models can be continued" in refused(config={"model": "lstm", "tiny": True})
    foreign = model_record(team.outsider.user.memberships.get().organisation)
    assert "No such model" in refused(404, base_model=str(foreign.pk))

    continued = trained_run(client, capture, [own["id"]], SMALL, name="continued", base_model=base_model["id"])
    assert continued["base_model"]["sha256"] == base_model["sha256"]
    assert [v["merkle_root"] for v in continued["inherited_dataset_versions"]] == [pretraining["merkle_root"]]
    [model] = continued["artifacts"]
    folder = run_folder(TrainingRun.objects.get(pk=continued["id"])) / "train" / "checkpoint"
    signed_config = json.loads((folder / "config.json").read_text())
    assert signed_config["pretrained"]["weights_sha256"] == base_model["sha256"]  # inside the signed folder

    with capture(execute=True):
        created = client.post(
            "/api/v1/generations/",
            {"title": "Glide", "model": model["id"], "parameters": {"between": ["mid0", "mid2"]}},
            format="json",
        )
    assert created.status_code == 201, created.json()
    [work] = client.get(f"/api/v1/generations/{created.json()['id']}/").json()["works"]
    assert work["status"] == "confirmed", work["error"]
    signed = json.loads(ipfs_bytes(work["cid"], "manifest.json"))
    manifest = signed["manifest"]
    [pretrained] = manifest["model"]["bases"]
    assert pretrained["weights_sha256"] == base_model["sha256"]
    assert pretrained["merkle_roots"] == [pretraining["merkle_root"]]
    assert {d["merkle_root"]: d["inherited_from"] for d in manifest["datasets"]} == {
        own["merkle_root"]: None,
        pretraining["merkle_root"]: base_model["sha256"],
    }
    # Both datasets' holders are paid, by the clips each model trained on: 6 of the base's, 3 of its own.
    shares = {p["name"]: float(p["share"]) for p in manifest["royalties"]["payees"]}
    assert shares["Tone Maker"] == pytest.approx(2 * shares["Voice Owner"]) and shares["Voice Owner"] > 0
    ingredients = {
        i["instance_id"] for i in credentials_read(ipfs_bytes(work["cid"], "work.wav"))["manifest"]["ingredients"]
    }
    assert f"sha256:{base_model['sha256']}" in ingredients and f"merkle:{pretraining['merkle_root']}" in ingredients

    verifier = platform_verifier()
    verdict = verifier.verify(Subject(data=ipfs_bytes(work["cid"], "work.wav")))
    assert verdict.verdict == "verified", verdict.to_json()
    assert "continues 1 pretrained model" in verdict.check("model").reason

    # A manifest that hides the pretrained model (and its data) is caught by the signed checkpoint.
    hidden = json.loads(json.dumps(signed))
    hidden["manifest"]["model"]["bases"] = []
    hidden["manifest"]["datasets"] = [d for d in manifest["datasets"] if d["inherited_from"] is None]
    verdict = verifier.verify(Subject(manifest=canonical_json(hidden)))
    assert verdict.check("model").status == "fail"
    assert "missing from the lineage" in verdict.check("model").reason

    # Consent withdrawn for a file the pretrained model learnt from: it cannot be continued again,
    # neither by a new request nor by a run that was queued before the withdrawal.
    queued = client.post(
        "/api/v1/training-runs/",
        {"name": "queued", "config": SMALL, "dataset_versions": [own["id"]], "base_model": base_model["id"]},
        format="json",
    ).json()
    low = DatasetFile.objects.get(dataset_id=tones, path="low.wav")
    with capture(execute=True):
        withdrawn = client.put(
            f"/api/v1/dataset-files/{low.pk}/consent/", {"consent": {"cawg.ai_training": "notAllowed"}}, format="json"
        )
    assert withdrawn.status_code == 200, withdrawn.json()
    assert "was trained on low.wav" in refused()
    stale = training_run_execute(run_id=queued["id"])
    assert stale.status == "failed" and "the model it continues was trained on low.wav" in stale.error
    assert not stale.artifacts.exists()
    # And the continued model's work no longer verifies: the withdrawal is on chain for the inherited root.
    verdict = platform_verifier().verify(Subject(data=ipfs_bytes(work["cid"], "work.wav")))
    assert verdict.first_failure is not None and verdict.first_failure.link == "consent"
    assert low.blob.sha256 in verdict.first_failure.reason and "Tones v1" in verdict.first_failure.reason


@pytest.mark.django_db
def test_the_pretrained_model_is_trained_on_a_recorded_dataset_and_can_be_continued(
    team: Any, embedded: None, tmp_path: Path, django_capture_on_commit_callbacks: Any
) -> None:
    from django.core.management import CommandError, call_command

    from ledgerline.datasets.models import Dataset

    slug = team.organisation.slug
    with pytest.raises(CommandError, match="may not create"):
        call_command("pretrained", "--organisation", slug, "--user", "auditor", "--count", "8")
    with django_capture_on_commit_callbacks(execute=True):
        call_command(
            "pretrained",
            "--organisation",
            slug,
            "--user",
            "owner",
            "--count",
            "8",
            "--epochs",
            "1",
            "--batch-size",
            "4",
            "--latent",
            "32",
            "--channels",
            "32",
        )
    dataset = Dataset.objects.get(organisation=team.organisation)
    with pytest.raises(CommandError, match="already has the dataset"):
        call_command("pretrained", "--organisation", slug, "--user", "owner", "--count", "8")
    assert dataset.licence_spdx == "CC0-1.0" and dataset.files.count() == 8
    assert {Path(p).parent.name for p in dataset.files.values_list("path", flat=True)} == {
        "am",
        "fm",
        "additive",
        "subtractive",
    }
    pretrained = TrainingRun.objects.get(organisation=team.organisation)
    assert pretrained.status == "succeeded", pretrained.error
    assert sorted(pretrained.metrics["training_tokens"].values()) == [1] * 8  # one-second clips, one each

    client = team.owner.client
    tones = dataset_create(team, name="Tones", rights_holders=[{"name": "Tone Maker", "share": "1"}])
    upload_files(client, tones, [samples.tone_audio(tmp_path / "low.wav", seconds=2.0, frequency=220)])
    version = client.post(f"/api/v1/datasets/{tones}/versions/", {}, format="json").json()
    continued = trained_run(
        client,
        django_capture_on_commit_callbacks,
        [version["id"]],
        SMALL,
        name="fine-tuned",
        base_model=str(pretrained.artifacts.get().pk),
    )
    assert [v["dataset"] for v in continued["inherited_dataset_versions"]] == [str(dataset.pk)]
