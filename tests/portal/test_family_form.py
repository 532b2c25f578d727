"""The run form offers a family by what it declares: a family the portal has never seen (the drone of
tests/pipeline/test_families.py) shows none of the other families' controls, its own setting as a
field with its bounds, and is trained from the form with what was typed there."""

from typing import Any

import numpy as np
import pytest
import soundfile
from playwright.sync_api import Page

from generation import families
from ledgerline.training.models import TrainingRun
from tests.conftest import Team, dataset_create
from tests.pipeline.conftest import upload_files
from tests.pipeline.test_families import RATE, Drone
from tests.portal.conftest import sign_in


@pytest.mark.django_db(transaction=True)
def test_a_plugged_in_family_is_trained_from_the_form(
    team: Team, embedded: None, live_server: Any, page: Page, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(families.FAMILIES, "drone", Drone())
    take = tmp_path / "take.wav"
    soundfile.write(take, np.sin(np.arange(RATE) / 10).astype(np.float32), RATE, subtype="PCM_16")
    client = team.owner.client
    dataset = dataset_create(team, name="Drones")
    upload_files(client, dataset, [take])
    assert client.post(f"/api/v1/datasets/{dataset}/versions/", {}, format="json").status_code == 201

    page.set_default_timeout(60_000)
    sign_in(page, live_server, "owner")
    page.goto(f"{live_server.url}/training-runs/")
    page.select_option("#run-model", "drone")
    for control in ("#run-steps", "#run-batch", "#run-lr", "#run-tiny"):
        assert not page.locator(control).is_visible(), control  # settings the drone does not have
    page.click("#run-more summary")
    gain = page.locator("#run-drone-gain")
    assert gain.is_visible() and (gain.get_attribute("min"), gain.get_attribute("max")) == ("0.01", "1")
    assert gain.get_attribute("placeholder") == "0.5"  # its default
    assert not page.locator("#run-lstm-seq_len").is_visible()  # another family's own setting
    page.fill("#run-name", "Drone from the form")
    gain.fill("0.3")
    with page.expect_navigation():
        page.click("#run-start")
    run = TrainingRun.objects.get(name="Drone from the form")
    assert run.config == {"model": "drone", "gain": 0.3}
    page.wait_for_selector("#run-status:text('succeeded')")
