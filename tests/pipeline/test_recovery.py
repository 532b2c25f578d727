"""Faults of one work or one run, not of a node: they end that work or run with the reason and
hold up nothing else; and consent withdrawn while a run waits in the queue still counts."""

import json
from pathlib import Path
from typing import Any

import pytest

from ledgerline.celery import app
from ledgerline.datasets.blobs import blob_path
from ledgerline.datasets.models import DatasetFile
from ledgerline.pipeline import drive
from ledgerline.training.checkpoints import run_folder
from ledgerline.training.models import RunStatus, TrainingRun
from ledgerline.training.services import training_run_execute
from ledgerline.works.models import WorkStatus
from tests.conftest import dataset_create
from tests.daemons import free_port
from tests.pipeline.conftest import TINY, forget_connections, upload_files
from tests.pipeline.test_faults import _generated_works


@pytest.mark.django_db
def test_a_work_whose_audio_is_lost_fails_alone(
    team: Any, chorale_files: list[Path], embedded: None, django_capture_on_commit_callbacks: Any
) -> None:
    generation = _generated_works(team, chorale_files, django_capture_on_commit_callbacks)
    lost = generation.works.get(index=1)
    path = blob_path(lost.outputs.get(kind="wav").blob.sha256)
    path.unlink()
    assert drive.works_advance() == {WorkStatus.CONFIRMED: 2, WorkStatus.FAILED: 1}
    lost.refresh_from_db()
    assert lost.status == WorkStatus.FAILED and "is not stored on this host" in lost.error and lost.token is None


@pytest.mark.parametrize("policy", ["exclude", "refuse"])
@pytest.mark.django_db
def test_consent_withdrawn_while_the_run_is_queued_counts(
    team: Any, chorale_files: list[Path], embedded: None, policy: str
) -> None:
    client = team.owner.client
    dataset = dataset_create(team)
    upload_files(client, dataset, chorale_files[:6])
    version = client.post(f"/api/v1/datasets/{dataset}/versions/", {}, format="json").json()
    run = client.post(
        "/api/v1/training-runs/",
        {
            "name": "tiny",
            "config": {**TINY, "max_steps": 20},
            "dataset_versions": [version["id"]],
            "consent_policy": policy,
        },
        format="json",
    ).json()
    assert run["excluded"] == [] and run["status"] == "queued"
    withdrawn = DatasetFile.objects.get(path=chorale_files[0].name)
    withdrawn.consent = {"cawg.ai_training": {"use": "notAllowed"}}  # as a withdrawal records it
    withdrawn.save()
    if policy == "refuse":
        assert training_run_execute(run_id=run["id"]).status == RunStatus.FAILED
        failed = TrainingRun.objects.get(pk=run["id"])
        assert "consent changed" in failed.error and chorale_files[0].name in failed.error
        assert not failed.artifacts.exists()
        return
    training_run_execute(run_id=run["id"])
    done = TrainingRun.objects.get(pk=run["id"])
    assert done.status == RunStatus.SUCCEEDED and [e["path"] for e in done.excluded] == [chorale_files[0].name]
    manifest = json.loads((run_folder(done) / "manifest.json").read_text())
    trained = {Path(f["path"]).name for f in manifest["files"]}
    assert chorale_files[0].name not in trained and len(trained) == 5


@pytest.mark.django_db
def test_a_broker_that_is_down_loses_no_run(
    team: Any, chorale_files: list[Path], django_capture_on_commit_callbacks: Any
) -> None:
    """The run is recorded and answered; a worker's start-up sweep queues it later."""
    client = team.owner.client
    dataset = dataset_create(team)
    upload_files(client, dataset, chorale_files[:2])
    version = client.post(f"/api/v1/datasets/{dataset}/versions/", {}, format="json").json()
    previous = app.conf.broker_url, app.conf.task_always_eager
    app.conf.update(broker_url=f"redis://127.0.0.1:{free_port()}/0", task_always_eager=False)
    forget_connections()
    try:
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                "/api/v1/training-runs/",
                {"name": "r", "config": TINY, "dataset_versions": [version["id"]]},
                format="json",
            )
    finally:
        app.conf.update(broker_url=previous[0], task_always_eager=previous[1])
        forget_connections()
    assert response.status_code == 201
    assert TrainingRun.objects.get(pk=response.json()["id"]).status == RunStatus.QUEUED
