"""The rest of the sound-design flow in the browser: a sound model trained on synthesised sounds,
its loss curve, two sounds picked on its latent map and a slider, and the interpolated work
made at 44.1 kHz, minted and playable."""

from typing import Any

import pytest
from playwright.sync_api import Page

from ledgerline.datasets import samples
from tests.conftest import Team, dataset_create
from tests.pipeline.conftest import upload_files
from tests.portal.conftest import shot, sign_in


@pytest.mark.django_db(transaction=True)
def test_train_a_sound_model_and_interpolate_on_its_latent_map(
    team: Team, embedded: None, live_server: Any, page: Page, tmp_path: Any
) -> None:
    page.set_default_timeout(180_000)
    dataset = dataset_create(team, name="Tones")
    sign_in(page, live_server, "owner")
    page.goto(f"{live_server.url}/datasets/{dataset}/sounds/")
    for group, kind, freq in (("low", "additive", "110"), ("high", "fm", "880")):
        page.select_option("#kind", kind)
        page.fill("#group", group)
        page.locator("#freq").fill(freq)
        with page.expect_navigation():
            page.click("#synth-add")
    page.goto(f"{live_server.url}/datasets/{dataset}/")
    with page.expect_navigation():
        page.click("#freeze-button")

    page.click("text=Training")
    page.fill("#run-name", "Tone model")
    page.select_option("#run-model", "audio")
    page.fill("#run-steps", "2")
    page.fill("#run-batch", "2")
    with page.expect_navigation():
        page.click("#run-start")
    page.wait_for_selector("#run-status:text('succeeded')")
    page.wait_for_selector("#run-step:text('epoch 2 of 2')")  # the page's next poll of the run
    assert page.locator("#train-loss").get_attribute("points")
    assert page.locator("#listen figure").count() == 2  # each training sound beside its reconstruction
    assert page.locator("#listen .overlay polyline").count() == 4 and page.locator("#listen audio").count() == 4
    sounds = page.locator("#latent-map .sound")
    assert sounds.count() == 2
    sounds.nth(0).click()
    sounds.nth(1).click()
    page.locator("#ratio").fill("0.25")
    shot(page, "latent-map")
    with page.expect_navigation():
        page.click("#interpolate")
    assert page.locator("table tbody tr .badge.confirmed").count() == 1
    page.locator("table tbody tr a").first.click()
    rate = page.evaluate("""async () => {
        const data = await (await fetch(document.querySelector("audio").src)).arrayBuffer();
        return new DataView(data).getUint32(24, true);  // the WAV header's sample rate
    }""")
    assert rate == 44100

    # Continue the model (pretrained) on another dataset, its settings set with sliders.
    voices = dataset_create(team, name="Voices")
    upload_files(team.owner.client, voices, [samples.tone_audio(tmp_path / "mid.wav", seconds=2.0, frequency=440)])
    team.owner.client.post(f"/api/v1/datasets/{voices}/versions/", {}, format="json")
    page.click("text=Training")
    page.fill("#run-name", "Tone model, continued")
    page.select_option("#run-versions", label="Voices v1 (1 files)")
    page.select_option("#run-base", index=1)
    assert page.locator("#run-model").is_disabled() and page.input_value("#run-model") == "audio"
    assert page.locator("#run-shape").is_hidden()  # the pretrained model's shape is kept
    page.locator("#run-steps").fill("3")
    page.locator("#run-lr").fill("-2.5")
    assert page.inner_text("#run-steps-out") == "3" and page.inner_text("#run-lr-out") == "0.0032"
    shot(page, "continue-pretrained")
    with page.expect_navigation():
        page.click("#run-start")
    page.wait_for_selector("#run-status:text('succeeded')")
    page.wait_for_selector("#run-step:text('epoch 3 of 3')")  # the page's next poll of the run
    assert "Tone model" in page.inner_text("#run-base") and page.inner_text("#run-inherited") == "Tones v1"
