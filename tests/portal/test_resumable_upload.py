"""The dataset page's uploads over tus (tus-js-client in the browser): several files at once, each
with its own bar and outcome; an upload cut off by a reload resumes from the server's offset when
the same file is chosen again; a file that is not media is refused with the server's reason."""

import hashlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from playwright.sync_api import Page, expect

from ledgerline.datasets.samples import pcm16_wav_header
from tests.conftest import Team, dataset_create
from tests.portal.conftest import shot, sign_in

TUS = {"Tus-Resumable": "1.0.0"}


def _eventually(page: Page, check: Callable[[], Any], timeout_s: float = 20) -> Any:
    """The first truthy answer of check(), asked again every 50 ms: what the server says, as it changes."""
    deadline = time.monotonic() + timeout_s
    while not (answer := check()):
        assert time.monotonic() < deadline, "gave up waiting"
        page.wait_for_timeout(50)
    return answer


def _open(page: Page, server: Any, dataset: str) -> None:
    sign_in(page, server, "owner")
    page.goto(f"{server.url}/datasets/{dataset}/")


def _uploads(page: Page, server: Any) -> list[dict[str, Any]]:
    """The signed-in user's uploads, as the API lists them to this browser's session."""
    return list(page.request.get(f"{server.url}/api/v1/uploads/").json()["results"])


def _offset(page: Page, url: str) -> int:
    """How many bytes of the upload the server holds (HEAD, as a tus client asks)."""
    return int(page.request.head(url, headers=TUS).headers["upload-offset"])


@pytest.mark.django_db(transaction=True)
def test_two_files_go_up_at_once_each_with_its_outcome(
    team: Team, media_dir: Path, live_server: Any, page: Page
) -> None:
    dataset = dataset_create(team, name="Field recordings")
    _open(page, live_server, dataset)
    page.set_input_files("#files", [str(media_dir / "melody.mid"), str(media_dir / "tone.wav")])
    page.fill("#upload-tags", "Organ, chorale")
    page.click("#upload-button")

    expect(page.locator("#upload-files li[data-outcome=added]")).to_have_count(2)
    expect(page.locator("#upload-files li progress")).to_have_count(2)
    expect(page.locator("#upload-status")).to_have_text("Done: 2 added.")
    expect(page.locator("#files-table tr[data-sha256]")).to_have_count(2)
    expected = {hashlib.sha256((media_dir / name).read_bytes()).hexdigest() for name in ("melody.mid", "tone.wav")}
    shas = page.locator("#files-table tr[data-sha256]").evaluate_all("rows => rows.map(r => r.dataset.sha256)")
    assert set(shas) == expected
    assert page.locator("#files-table td.tags").all_inner_texts() == ["chorale, organ"] * 2
    assert page.locator("#progress").get_attribute("value") == "100"
    shot(page, "dataset-uploads")

    page.set_input_files("#files", [str(media_dir / "melody.mid")])
    page.click("#upload-button")  # a 409 is final here: refused at once, not sent again and again
    refused = page.locator("#upload-files li[data-outcome=refused] .error")
    expect(refused).to_have_text("refused: 'melody.mid' is already in this dataset.", timeout=3000)
    expect(page.locator("#files-table tr[data-sha256]")).to_have_count(2)


@pytest.mark.django_db(transaction=True)
def test_an_upload_cut_off_by_a_reload_resumes_where_the_server_stopped(
    team: Team, live_server: Any, page: Page, tmp_path: Path
) -> None:
    samples = np.random.default_rng(7).integers(-3000, 3000, size=20 * 1024 * 1024, dtype=np.int16).tobytes()
    big = tmp_path / "long-take.wav"
    big.write_bytes(pcm16_wav_header(len(samples)) + samples)  # 40 MiB of noise: a real, long WAV
    length = big.stat().st_size
    dataset = dataset_create(team, name="Long takes")
    _open(page, live_server, dataset)
    network = page.context.new_cdp_session(page)
    network.send("Network.enable")
    throttle = {"offline": False, "latency": 0, "downloadThroughput": -1}
    network.send("Network.emulateNetworkConditions", {**throttle, "uploadThroughput": 4 * 1024 * 1024})

    page.set_input_files("#files", [str(big)])
    page.click("#upload-button")
    upload = _eventually(page, lambda: _uploads(page, live_server))[0]
    url = f"{live_server.url}/api/v1/uploads/{upload['id']}/"
    _eventually(page, lambda: _offset(page, url) > length // 5)
    page.reload()

    network.send("Network.emulateNetworkConditions", {**throttle, "uploadThroughput": -1})
    notice = page.locator("#upload-interrupted")
    expect(notice).to_be_visible()
    expect(notice.locator("p")).to_have_text("1 upload was interrupted: choose the same files to resume them.")
    expect(notice.locator("li")).to_have_text(f"long-take.wav: {100 * _offset(page, url) // length}%")
    shot(page, "dataset-upload-interrupted")
    resumed_at = _offset(page, url)
    assert length // 5 < resumed_at < length

    page.set_input_files("#files", [str(big)])
    page.click("#upload-button")
    expect(page.locator("#upload-files li[data-outcome=added]")).to_have_count(1, timeout=20_000)
    expect(page.locator("#files-table tr[data-sha256]")).to_have_count(1)
    assert (
        page.locator("#files-table tr[data-sha256]").get_attribute("data-sha256")
        == hashlib.sha256(big.read_bytes()).hexdigest()
    )
    uploads = _uploads(page, live_server)
    assert [(u["id"], u["state"], u["offset"]) for u in uploads] == [(upload["id"], "complete", length)]
    assert page.evaluate("() => Object.keys(localStorage).filter(k => k.startsWith('tus::'))") == []
    page.reload()
    expect(page.locator("#upload-interrupted")).to_be_hidden()


@pytest.mark.django_db(transaction=True)
def test_a_file_that_is_not_media_is_refused_with_the_reason(team: Team, live_server: Any, page: Page) -> None:
    dataset = dataset_create(team, name="Field recordings")
    _open(page, live_server, dataset)
    noise = np.random.default_rng(3).bytes(64 * 1024)
    page.set_input_files("#files", files=[{"name": "noise.wav", "mimeType": "audio/wav", "buffer": noise}])
    page.click("#upload-button")

    refused = page.locator("#upload-files li[data-outcome=refused]")
    expect(refused).to_have_count(1)
    reason = _uploads(page, live_server)[0]["error"]
    assert reason
    expect(refused.locator(".error")).to_have_text(f"refused: {reason}")
    expect(page.locator("#upload-error")).to_have_text(f"noise.wav: {reason}")
    expect(page.locator("#upload-status")).to_have_text("Done: 0 added, 1 not added.")
    expect(page.locator("#files-table tr[data-sha256]")).to_have_count(0)
    assert page.evaluate("() => Object.keys(localStorage).filter(k => k.startsWith('tus::'))") == []
