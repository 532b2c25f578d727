"""A spectrogram model in the browser: tagged recordings uploaded, a run trained from the form,
a prompt typed from its tags, a morph set with a slider, the work minted, playable and drawn as a
spectrogram, and variations of it asked for from its page."""

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from ledgerline.datasets import samples
from ledgerline.works.models import Generation
from tests.conftest import Team, dataset_create
from tests.portal.conftest import shot, sign_in


@pytest.mark.django_db(transaction=True)
def test_train_from_tagged_recordings_and_generate_from_a_prompt(
    team: Team, embedded: None, live_server: Any, page: Page, tmp_path: Any
) -> None:
    page.set_default_timeout(180_000)
    dataset = dataset_create(team, name="Takes")
    low = samples.tone_audio(tmp_path / "low.wav", seconds=3.0, frequency=110)
    high = samples.tone_audio(tmp_path / "high.wav", seconds=3.0, frequency=1760)
    sign_in(page, live_server, "owner")
    page.goto(f"{live_server.url}/datasets/{dataset}/")
    for take, tags in ((low, "organ low"), (high, "flute, high")):
        page.set_input_files("#files", [str(take)])
        page.fill("#upload-tags", tags)
        page.click("#upload-button")
        expect(page.locator("#upload-status")).to_have_text("Done: 1 added.")
    with page.expect_navigation():
        page.click("#freeze-button")

    page.click("text=Training")
    page.fill("#run-name", "Prompt model")
    page.select_option("#run-model", "spectrogram")
    page.locator("#run-steps").fill("4")
    page.locator("#run-batch").fill("2")
    with page.expect_navigation():
        page.click("#run-start")
    page.wait_for_selector("#run-status:text('succeeded')")
    page.wait_for_selector("#run-step:text('step 4 of 4')")
    page.wait_for_selector("#gen-tags")
    assert page.locator("#gen-tags .tag").all_inner_texts() == ["flute", "high", "low", "organ"]
    page.click("#gen-tags .tag[data-tag=organ]")
    page.click("#gen-tags .tag[data-tag=low]")
    assert page.input_value("#gen-prompt") == "organ low"
    page.fill("#gen-morph", "flute")
    page.locator("#gen-ratio").fill("0.25")
    page.fill("#gen-count", "1")
    page.fill("#gen-seconds", "3")
    page.fill("#gen-steps", "2")
    shot(page, "spectral-prompt")
    with page.expect_navigation():
        page.click("#generate")
    parameters = Generation.objects.get().parameters
    assert {k: parameters[k] for k in ("prompt", "morph", "ratio", "seconds", "steps")} == {
        "prompt": "organ low",
        "morph": "flute",
        "ratio": 0.25,
        "seconds": 3.0,
        "steps": 2,
    }
    page.wait_for_selector("table tbody tr .badge.confirmed")
    page.locator("table tbody tr a").first.click()
    rate = page.evaluate("""async () => {
        const data = await (await fetch(document.querySelector("audio").src)).arrayBuffer();
        return new DataView(data).getUint32(24, true);  // the WAV header's sample rate
    }""")
    assert rate == 44100
    assert page.locator("#spectrogram rect").count() > 100

    # Variations of what you hear: the work is their source.
    work = Generation.objects.get().works.get()
    page.fill("#vary-prompt", "flute")
    page.locator("#vary-strength").fill("0.3")
    page.fill("#vary-count", "1")
    with page.expect_navigation():
        page.click("#vary")
    varied = Generation.objects.exclude(pk=work.generation_id).get()
    assert varied.parameters["variation"] == work.content_sha256 and varied.parameters["strength"] == 0.3
    page.wait_for_selector("table tbody tr:nth-child(2) .badge.confirmed")
    assert page.locator("table tbody tr .badge.confirmed").count() == 2

    # A word the model does not know is refused on the page, with the words it knows.
    page.goto(f"{live_server.url}/training-runs/{varied.works.get().model.run_id}/")
    page.fill("#gen-prompt", "banjo")
    page.click("#generate")
    page.wait_for_selector("#gen-error:not([hidden])")
    assert "'banjo'" in page.inner_text("#gen-error") and "flute, high, low, organ" in page.inner_text("#gen-error")
