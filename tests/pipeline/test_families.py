"""A model family is a plug-in: a family the platform has never seen, added to the registry alone,
is configured, trained, published, generated with, minted and regenerated through the same API as
the symbolic and sound families, and its settings and parameters are checked by what it declares."""

import io
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile
from django.test import Client
from safetensors.numpy import load_file, save_file

from generation import families
from generation.family import CHECKPOINT, Made, Request, Setting, SettingError, Trained, TrainJob
from ledgerline.works.models import Work
from tests.conftest import dataset_create
from tests.pipeline.conftest import trained_run, upload_files

RATE = 8000


@dataclass(frozen=True)
class Drone:
    """A family of one learnt number: the mean level of its training files' bytes, sounded as a
    drone at a pitch a generation chooses."""

    name: str = "drone"
    label: str = "Drone (a test family)"
    settings: tuple[Setting, ...] = (Setting("gain", float, 0.01, 1.0, default=0.5, label="Gain"),)
    parameters: tuple[str, ...] = ("pitch",)
    files: Mapping[str, str] = field(default_factory=dict)
    originality: bool = False
    shape: tuple[str, ...] | None = None
    held_out: str = "nothing held out"
    design: bool = False

    def train(self, job: TrainJob) -> Trained:
        files = json.loads(job.manifest.read_bytes())["files"]
        levels = [np.frombuffer((job.data / f["path"]).read_bytes(), dtype=np.uint8).mean() for f in files]
        job.progress({"step": 1, "train_loss": 0.0}, {"step": 1, "train_loss": 0.0})
        out = job.folder / CHECKPOINT
        out.mkdir(parents=True, exist_ok=True)
        level = np.array([float(np.mean(levels)) / 255 * job.config["gain"]], dtype=np.float32)
        save_file({"level": level}, str(out / "model.safetensors"))
        (out / "config.json").write_text(json.dumps({"family": self.name, "gain": job.config["gain"]}))
        return Trained(out, {"history": []}, "test", {f["path"]: 1 for f in files})

    def load(self, folder: Path) -> Any:
        return float(load_file(str(folder / "model.safetensors"))["level"][0])

    def parameters_clean(self, parameters: Mapping[str, Any], *, metrics: Mapping[str, Any]) -> dict[str, Any]:
        pitch = parameters.get("pitch", 220)
        if isinstance(pitch, bool) or not isinstance(pitch, int) or not 20 <= pitch <= 2000:
            raise SettingError("pitch must be a whole number of hertz from 20 to 2000", name="pitch")
        return {"pitch": pitch}

    def generate(self, model: Any, request: Request) -> Made:
        t = np.arange(RATE) / RATE
        noise = np.random.default_rng(request.seed).normal(0, 0.01, RATE)
        audio = model * np.sin(2 * np.pi * request.parameters["pitch"] * t) + noise
        buffer = io.BytesIO()
        soundfile.write(buffer, audio.astype(np.float32), RATE, subtype="PCM_16", format="WAV")
        return Made({"wav": buffer.getvalue()}, {}, {"family": self.name, "seed": request.seed})

    def source_share(self, parameters: Mapping[str, Any]) -> float:
        return 0.0


@pytest.fixture
def drone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(families.FAMILIES, "drone", Drone())


@pytest.mark.django_db
def test_a_new_family_goes_through_the_platform_by_the_registry_alone(
    team: Any,
    embedded: None,
    drone: None,
    tmp_path: Path,
    django_capture_on_commit_callbacks: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = team.owner.client
    take = tmp_path / "take.wav"
    soundfile.write(take, np.sin(np.arange(RATE) / 10).astype(np.float32), RATE, subtype="PCM_16")
    dataset = dataset_create(team, name="Drones")
    upload_files(client, dataset, [take])
    version = client.post(f"/api/v1/datasets/{dataset}/versions/", {}, format="json").json()

    def refused(config: dict[str, Any]) -> str:
        body = {"name": "x", "config": config, "dataset_versions": [version["id"]]}
        response = client.post("/api/v1/training-runs/", body, format="json")
        assert response.status_code == 400, response.json()
        return str(response.json()["error"]["message"])

    # Its settings are checked by what it declares, and other families' settings refused.
    assert "gain must be a number from 0.01 to 1" in refused({"model": "drone", "gain": 3})
    assert "max_steps does not apply to a drone model" in refused({"model": "drone", "max_steps": 5})
    assert "model must be one of lstm, transformer, audio, spectrogram, drone" in refused({"model": "harp"})

    run = trained_run(client, django_capture_on_commit_callbacks, [version["id"]], {"model": "drone", "gain": 0.8})
    assert run["config"] == {"model": "drone", "gain": 0.8} and run["metrics"]["training_tokens"]
    model = run["artifacts"][0]
    assert model["anchored_at"] and model["cid"] and model["key_id"]

    bad = client.post(
        "/api/v1/generations/", {"title": "x", "model": model["id"], "parameters": {"pitch": 5}}, format="json"
    )
    assert bad.status_code == 400 and "pitch must be a whole number" in bad.json()["error"]["message"]
    other = client.post(
        "/api/v1/generations/", {"title": "x", "model": model["id"], "parameters": {"temperature": 1.0}}, format="json"
    )
    assert other.status_code == 400 and "'temperature' does not apply" in other.json()["error"]["message"]
    with django_capture_on_commit_callbacks(execute=True):
        created = client.post(
            "/api/v1/generations/",
            {"title": "Drone", "model": model["id"], "count": 2, "parameters": {"pitch": 330}},
            format="json",
        )
    assert created.status_code == 201, created.json()
    generation = client.get(f"/api/v1/generations/{created.json()['id']}/").json()
    assert generation["progress"]["confirmed"] == 2, generation["progress"]

    # An auditor's regeneration runs the family again and gets the same bytes; the verdict holds.
    work = Work.objects.filter(generation_id=created.json()["id"]).order_by("index").first()
    assert work is not None and work.token is not None
    assert work.manifest["manifest"]["generation"]["provenance"] == {"family": "drone", "seed": work.seed}
    auditor = team.auditor.client
    with django_capture_on_commit_callbacks(execute=True):
        report = auditor.post("/api/v1/verify", {"token_id": work.token.token_id, "regenerate": True}, format="json")
    assert report.status_code == 201, report.json()
    done = auditor.get(report.json()["links"]["self"]).json()
    assert done["verdict"] == "verified" and done["regeneration"]["status"] == "pass", done["regeneration"]

    # The portal offers it by its label and describes its run by what it declares.
    portal = Client()
    portal.force_login(team.owner.user)
    page = portal.get(f"/training-runs/{run['id']}/")
    assert page.status_code == 200 and b"nothing held out" in page.content
    assert b'data-settings="gain ">Drone (a test family)' in portal.get("/training-runs/").content
    assert b"gen-originality" not in page.content  # no originality report, so no limit to set

    # Taken out of the registry, its runs and models are named as such, not a server error.
    monkeypatch.delitem(families.FAMILIES, "drone")
    gone = client.post(
        "/api/v1/generations/", {"title": "x", "model": model["id"], "parameters": {"pitch": 330}}, format="json"
    )
    assert gone.status_code == 400 and "family 'drone' is not installed" in gone.json()["error"]["message"]
    page = portal.get(f"/training-runs/{run['id']}/")
    assert page.status_code == 200 and b"family &#x27;drone&#x27; is not installed" in page.content
