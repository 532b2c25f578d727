"""Roles shape the pages: an admin adds members and rotates the signing key; an artist sees the
members and keys but no forms; an outsider gets a 404."""

from typing import Any

import pytest
from playwright.sync_api import Page

from ledgerline.accounts import services as accounts
from ledgerline.provenance.services import signing_key_active
from tests.conftest import Team
from tests.portal.conftest import shot, sign_in


@pytest.mark.django_db(transaction=True)
def test_an_admin_adds_a_member_and_rotates_the_key(team: Team, live_server: Any, page: Page) -> None:
    accounts.user_create(username="newcomer", password="a long test password")
    first = signing_key_active(organisation=team.organisation)
    sign_in(page, live_server, "owner")
    page.click("text=Acme Records")
    page.fill("#username", "nobody")
    with page.expect_navigation():
        page.click("#member-add")
    assert "no account 'nobody'" in page.inner_text(".error")
    page.fill("#username", "newcomer")
    page.select_option("#role", "auditor")
    with page.expect_navigation():
        page.click("#member-add")
    assert "newcomer" in page.inner_text("#members") and "auditor" in page.inner_text("#members")

    page.on("dialog", lambda dialog: dialog.accept())
    with page.expect_navigation():
        page.click("#rotate")
    keys = page.locator("#keys tbody tr")
    assert keys.count() == 2 and first.key_id in page.inner_text("#keys")
    assert page.locator("#keys .badge", has_text="active").count() == 1
    shot(page, "organisation")


@pytest.mark.django_db(transaction=True)
def test_artists_see_no_admin_forms_and_outsiders_nothing(team: Team, live_server: Any, page: Page) -> None:
    sign_in(page, live_server, "teammate")
    page.goto(f"{live_server.url}/organisations/acme-records/")
    assert page.locator("#members").count() == 1
    assert page.locator("#member-form").count() == page.locator("#rotate").count() == 0
    response = page.request.post(
        f"{live_server.url}/organisations/acme-records/", form={"username": "outsider", "role": "admin"}
    )
    assert response.status == 403  # CSRF or role: no member is added either way
    page.context.clear_cookies()
    sign_in(page, live_server, "outsider")
    response = page.goto(f"{live_server.url}/organisations/acme-records/")
    assert response is not None and response.status == 404
