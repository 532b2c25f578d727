"""Sound design in the browser (ASCIML's workflow): a sound synthesised from parameters and an
envelope, a take recorded from the microphone (Chromium's fake media stream), and the dataset's
views, filtered by group."""

from typing import Any

import pytest
from playwright.sync_api import Page

from ledgerline.datasets.models import DatasetFile
from tests.conftest import Team, dataset_create
from tests.portal.conftest import shot, sign_in


@pytest.mark.django_db(transaction=True)
def test_synthesise_record_and_see_the_views(team: Team, live_server: Any, page: Page) -> None:
    page.set_default_timeout(60_000)  # pYIN's first call compiles with numba
    dataset = dataset_create(team, name="Sound lab")
    sign_in(page, live_server, "teammate")
    page.goto(f"{live_server.url}/datasets/{dataset}/sounds/")
    assert "No sounds yet" in page.inner_text("main")
    for kind, freq in (("fm", "440"), ("fm", "660")):
        page.select_option("#kind", kind)
        page.fill("#group", "bells")
        page.locator("#freq").fill(freq)
        with page.expect_navigation():
            page.click("#synth-add")
    assert page.locator("#clips tbody tr").count() == 2

    page.fill("#record-group", "voice")
    page.fill("#record-seconds", "2")
    with page.expect_navigation():
        page.click("#record")
    recorded = DatasetFile.objects.get(dataset_id=dataset, path__startswith="voice/")
    assert recorded.media_type == "audio/wav" and recorded.duration_seconds > 1.5
    assert page.locator("#clips tbody tr").count() >= 4  # the take is cut into one-second clips
    assert page.locator("#f0-plot circle").count() >= 2 and page.locator("#pca-plot circle").count() >= 4
    assert page.locator("#envelopegram polyline").count() == 2 and page.locator("#histogram rect").count() == 2
    shot(page, "sound-design")

    with page.expect_navigation():
        page.select_option("#group-filter", "bells")
    assert page.locator("#clips tbody tr").count() == 2
    assert set(page.locator("#clips tbody tr td:nth-child(2)").all_inner_texts()) == {"bells"}

    page.select_option("#kind", "am")
    page.locator("#freq").fill("1990")
    page.fill("#mod_freq", "7000")
    page.click("#synth-add")
    assert "sideband" in page.inner_text(".error")  # AM past Nyquist: refused with why, nothing added
    assert DatasetFile.objects.filter(dataset_id=dataset).count() == 3
