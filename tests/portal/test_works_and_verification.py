"""A member listens to a work and sees its token; anyone verifies a file by dropping it on the
verification page; an outsider cannot reach another organisation's pages."""

import base64
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.audit.conftest import Released
from tests.audit.test_tampering import flip_audio_byte
from tests.pipeline.conftest import ipfs_bytes
from tests.portal.conftest import shot, sign_in

DROP = """([name, b64]) => {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const files = new DataTransfer();
  files.items.add(new File([bytes], name, {type: "audio/wav"}));
  document.dispatchEvent(new DragEvent("drop", {dataTransfer: files, bubbles: true, cancelable: true}));
}"""


@pytest.mark.django_db(transaction=True)
def test_a_member_plays_a_work_and_sees_its_token(released: Released, live_server: Any, page: Page) -> None:
    work = released.works[0]
    sign_in(page, live_server, "teammate")
    page.click("text=Works")
    expect(page.locator("table tbody tr")).to_have_count(len(released.works))  # waits for the page to load
    page.click(f"a[href='/works/{work['id']}/']")
    assert f"#{work['token']['token_id']}" in page.inner_text("#token")
    assert page.locator("#piano-roll rect").count() > 10
    assert page.locator("#waveform polyline").count() == 1
    duration = page.evaluate("""() => new Promise((done, failed) => {
        const audio = document.querySelector("audio");
        audio.addEventListener("loadedmetadata", () => done(audio.duration));
        audio.addEventListener("error", () => failed(new Error("the audio did not load")));
        audio.load();
    })""")
    assert duration > 1  # the released WAV, streamed from the IPFS gateway
    shot(page, "work")
    with page.expect_navigation():
        page.click("#check-on-chain")
    assert page.inner_text("#verdict") == "verified"

    page.goto(f"{live_server.url}/works/")
    for box in page.locator("#batch-form input[type=checkbox]").all():
        box.check()
    with page.expect_navigation():
        page.click("#verify-selected")
    assert page.locator("#verified .badge.verified").count() == len(released.works)


@pytest.mark.django_db(transaction=True)
def test_anyone_verifies_a_dropped_file_link_by_link(released: Released, live_server: Any, page: Page) -> None:
    audio = ipfs_bytes(released.works[1]["cid"], "work.wav")
    page.goto(f"{live_server.url}/verify/")
    with page.expect_navigation():
        page.evaluate(DROP, ["work.wav", base64.b64encode(audio).decode()])
    assert page.inner_text("#verdict") == "verified"
    assert page.locator("#links tr[data-link] .badge.pass").count() == 11
    shot(page, "verified")

    page.goto(f"{live_server.url}/verify/")
    with page.expect_navigation():
        page.set_input_files(
            "#file", files=[{"name": "changed.wav", "mimeType": "audio/wav", "buffer": flip_audio_byte(audio)}]
        )
    assert page.inner_text("#verdict") == "failed"
    assert "changed after it was signed" in page.inner_text("#summary")
    assert page.locator("tr[data-link=content] .badge").inner_text() == "fail"
    token = released.works[1]["token"]["token_id"]  # ... and its sound still names the token it was
    assert f"carries the watermark of token #{token}" in page.inner_text("#watermark")
    report = page.locator("a", has_text="PDF").get_attribute("href")
    assert report and report.endswith("/report.pdf")
    shot(page, "failed")


@pytest.mark.django_db(transaction=True)
def test_an_outsider_cannot_reach_another_organisations_work(released: Released, live_server: Any, page: Page) -> None:
    sign_in(page, live_server, "outsider")
    response = page.goto(f"{live_server.url}/works/{released.works[0]['id']}/")
    assert response is not None and response.status == 404
    page.goto(f"{live_server.url}/works/")
    assert "No works yet" in page.inner_text("main")
    anonymous = page.context.browser.new_page() if page.context.browser else None
    assert anonymous is not None
    anonymous.goto(f"{live_server.url}/works/")
    assert anonymous.url.startswith(f"{live_server.url}/login/")
    anonymous.close()
