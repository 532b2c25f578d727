"""The portal in a real browser: Playwright driving the Chromium of Debian's `chromium` package
(Playwright's own browser download is not used), against the site served by pytest-django's
live server. Screenshots go to test-artifacts/screenshots/, which CI keeps."""

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# Playwright's sync API runs an event loop in this thread; the tests' own ORM calls are plain
# synchronous code all the same.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright

from tests.audit.conftest import released  # noqa: F401 (a fixture)
from tests.pipeline.conftest import chorale_files, embedded  # noqa: F401 (fixtures)

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
PASSWORD = "a long test password"  # tests/conftest.py's members


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    assert CHROMIUM.exists(), f"{CHROMIUM} is missing: `apt-get install chromium` (.ci/run installs it)"
    with sync_playwright() as playwright:
        # The fake media stream: a microphone that plays a beeping tone, granted without asking.
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"],
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser page. The test fails if the site's Content-Security-Policy refused anything on
    it (an inline script, an on* attribute, a style attribute): Chromium says so on the console."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, permissions=["microphone"])
    refused: list[str] = []

    def note(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            refused.append(f"{message.page.url if message.page else '?'}: {message.text}")

    context.on("console", note)
    yield context.new_page()
    context.close()
    assert not refused, "\n".join(["The Content-Security-Policy refused:", *refused])


def sign_in(page: Page, server: Any, username: str) -> None:
    page.goto(f"{server.url}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{server.url}/")


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
