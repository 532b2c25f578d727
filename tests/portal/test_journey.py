"""The whole journey in the browser: a member signs in, creates a dataset and uploads chorales,
freezes a version, trains a tiny model and watches it finish, generates works, plays one and
sees its token, and verifies the file on the verification page. Tasks run eagerly, in the
live server's thread."""

import base64
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import Team
from tests.portal.conftest import shot, sign_in
from tests.portal.test_works_and_verification import DROP


@pytest.mark.django_db(transaction=True)
def test_sign_in_upload_train_generate_play_and_verify(
    team: Team, chorale_files: list[Path], embedded: None, live_server: Any, page: Page
) -> None:
    page.set_default_timeout(120_000)  # training and minting run inside the requests here
    sign_in(page, live_server, "owner")
    page.click("text=Datasets")
    page.fill("#dataset-name", "Chorales")
    with page.expect_navigation():
        page.click("#dataset-create")
    page.set_input_files("#files", [str(p) for p in chorale_files[:8]])
    page.click("#upload-button")
    expect(page.locator("#upload-status")).to_have_text("Done: 8 added.")
    assert page.locator("#files-table tr[data-sha256]").count() == 8
    with page.expect_navigation():
        page.click("#freeze-button")

    page.click("text=Training")
    page.fill("#run-name", "Tiny chorale model")
    page.fill("#run-steps", "40")
    with page.expect_navigation():
        page.click("#run-start")
    page.wait_for_selector("#run-status:text('succeeded')")
    page.wait_for_selector("#anchored:text('on chain')")
    # The loss curve is drawn once the reloaded page's first poll of the run has answered.
    # (A selector, not wait_for_function: the portal's CSP forbids the eval that polling needs.)
    page.wait_for_selector('#train-loss:not([points=""])', state="attached")
    shot(page, "training-run")

    page.fill("#gen-count", "2")
    page.fill("#gen-length", "96")
    page.fill("#gen-seed", "11")
    page.fill("#gen-originality", "1000")
    page.select_option("#gen-primer", index=1)  # the first chorale starts every piece
    with page.expect_navigation():
        page.click("#generate")
    assert page.locator("table tbody tr .badge.confirmed").count() == 2
    page.locator("table tbody tr a").first.click()
    page.wait_for_selector("#token:text('#')")
    duration = page.evaluate("""() => new Promise((done) => {
        const audio = document.querySelector("audio");
        audio.addEventListener("loadedmetadata", () => done(audio.duration));
        audio.load();
    })""")
    assert duration > 1
    audio_url = page.locator("audio").get_attribute("src")
    assert audio_url
    audio = page.request.get(f"{live_server.url}{audio_url}").body()
    shot(page, "journey-work")

    page.click("text=Verify a track")
    with page.expect_navigation():
        page.evaluate(DROP, ["work.wav", base64.b64encode(audio).decode()])
    assert page.inner_text("#verdict") == "verified", page.inner_text("#summary")
    shot(page, "journey-verified")
