"""Datasets in the browser: files uploaded with a progress bar and tags, a bad file refused with its
reason, a version frozen with its Merkle root; auditors read; outsiders get a 404."""

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import Team, dataset_create
from tests.portal.conftest import shot, sign_in


@pytest.mark.django_db(transaction=True)
def test_a_member_uploads_files_and_freezes_a_version(
    team: Team, media_dir: Path, live_server: Any, page: Page
) -> None:
    dataset = dataset_create(team, name="Field recordings")
    sign_in(page, live_server, "owner")
    page.click("text=Datasets")
    page.click("text=Field recordings")
    page.set_input_files("#files", [str(media_dir / "melody.mid"), str(media_dir / "tone.wav")])
    page.fill("#upload-tags", "Organ, chorale")
    page.click("#upload-button")
    expect(page.locator("#upload-status")).to_have_text("Done: 2 added.")  # the table refreshed
    assert page.locator("#files-table tr[data-sha256]").count() == 2
    assert "allowed" in page.inner_text("#files-table")
    assert page.locator("#files-table td.tags").all_inner_texts() == ["chorale, organ"] * 2

    page.set_input_files("#files", [str(media_dir / "truncated.wav")])
    page.click("#upload-button")
    expect(page.locator("#upload-status")).to_have_text("Done: 0 added, 1 not added.")
    assert "truncated.wav" in page.inner_text("#upload-error")
    assert page.locator("#files-table tr[data-sha256]").count() == 2  # nothing of the bad request kept

    with page.expect_navigation():
        page.click("#freeze-button")
    root = page.locator("#versions tbody tr code").inner_text()
    assert len(root) == 64 and page.locator("#versions tbody tr").count() == 1
    shot(page, "dataset")
    assert page.locator("a", has_text="Croissant").count() == 1
    proof = page.locator("#files-table a", has_text="v1").first.get_attribute("href")
    assert proof and "/api/v1/dataset-versions/" in proof and dataset


@pytest.mark.django_db(transaction=True)
def test_auditors_read_and_outsiders_see_nothing(team: Team, live_server: Any, page: Page) -> None:
    dataset = dataset_create(team, name="Private stems")
    sign_in(page, live_server, "auditor")
    page.goto(f"{live_server.url}/datasets/{dataset}/")
    assert page.locator("h1").inner_text() == "Private stems" and page.locator("#upload-form").count() == 0
    page.context.clear_cookies()
    sign_in(page, live_server, "outsider")
    response = page.goto(f"{live_server.url}/datasets/{dataset}/")
    assert response is not None and response.status == 404
