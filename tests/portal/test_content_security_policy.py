"""The Content-Security-Policy: every portal page sends the strict policy, no portal template holds
what that policy refuses (the browser tests fail on a refusal too, see conftest.page), and the API
docs work under the relaxed policy of their own views."""

import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.urls import URLPattern
from playwright.sync_api import Page

from ledgerline.audit.models import Verification
from ledgerline.portal.urls import urlpatterns as portal_urls
from ledgerline.works.models import Work, WorkStatus
from tests.conftest import Team, dataset_create, model_record

TEMPLATES = Path(__file__).resolve().parents[2] / "platform" / "ledgerline" / "portal" / "templates"


def policy(response: Any) -> dict[str, list[str]]:
    header = response.headers.get("Content-Security-Policy", "")
    assert header, f"{response.request['PATH_INFO']} sent no Content-Security-Policy"
    return {name: sources for name, *sources in (part.split() for part in header.split(";") if part.strip())}


def _portal_urls(team: Team) -> list[str]:
    """A URL for every pattern of the portal, its parts taken from real records."""
    model = model_record(team.organisation)
    work = Work.objects.create(
        organisation=team.organisation, title="Take", model=model, seed=1, status=WorkStatus.HELD
    )
    verification = Verification.objects.create(subject_kind="file", verdict="unknown", result={"checks": []})
    parts = {
        "dataset_id": dataset_create(team),
        "run_id": model.run_id,
        "work_id": work.pk,
        "verification_id": verification.pk,
        "slug": team.organisation.slug,
    }
    urls = []
    for pattern in portal_urls:
        assert isinstance(pattern, URLPattern)
        names = re.findall(r"<(?:\w+:)?(\w+)>", str(pattern.pattern))
        path = str(pattern.pattern)
        for name in names:  # a KeyError here: a new part of a URL, add a record for it above
            path = re.sub(rf"<(?:\w+:)?{name}>", str(parts[name]), path)
        urls.append(f"/{path}")
    return urls


@pytest.mark.django_db
def test_every_portal_page_sends_the_strict_policy(team: Team, client: Any) -> None:
    client.force_login(team.owner.user)
    for url in _portal_urls(team):
        response = client.get(url)
        assert response.status_code in (200, 405), (url, response.status_code)  # 405: the POST-only ones
        sent = policy(response)
        assert sent["script-src"] == ["'self'"] and "'unsafe-inline'" not in sent["script-src"], url
        assert sent["style-src"] == ["'self'"], url
        assert sent["default-src"] == ["'self'"] and sent["object-src"] == ["'none'"], url
        assert sent["frame-ancestors"] == ["'none'"] and sent["form-action"] == ["'self'"], url


@pytest.mark.django_db
def test_errors_static_files_and_signed_out_pages_send_it_too(client: Any) -> None:
    for url in (
        "/login/",
        "/verify/",
        "/no-such-page/",
        f"/works/{uuid.uuid4()}/",
        "/static/portal/api.js",
        "/healthz",
    ):
        assert policy(client.get(url))["script-src"] == ["'self'"], url


def test_no_portal_template_has_an_inline_script_a_handler_or_a_style() -> None:
    found = []
    for template in sorted(TEMPLATES.rglob("*")):
        if not template.is_file():
            continue
        text = template.read_text()
        for attributes, body in re.findall(r"<script\b([^>]*)>(.*?)</script>", text, flags=re.S | re.I):
            if "src=" not in attributes or body.strip():
                found.append(f"{template.name}: an inline <script>")
        found += [f"{template.name}: {m}" for m in re.findall(r"<[^>]*?\s(on[a-z]+\s*=)", text, flags=re.I)]
        found += [f"{template.name}: {m}" for m in re.findall(r"<[^>]*?\s(style\s*=)", text, flags=re.I)]
        found += [f"{template.name}: a <style> element" for _ in re.findall(r"<style\b", text, flags=re.I)]
    assert not found, "The site's policy refuses these; move them to portal/static/portal/:\n" + "\n".join(found)


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/api/docs/", "/api/redoc/"])
def test_the_api_docs_load_their_scripts_from_the_site(client: Any, url: str) -> None:
    page = client.get(url)
    assert page.status_code == 200
    sent = policy(page)
    assert sent["script-src"] == ["'self'"]  # the docs' relaxation is for styles and pictures, not scripts
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", page.content.decode(), flags=re.S)
    assert scripts and all(not body.strip() for _, body in scripts)
    for attributes, _ in scripts:
        source = re.search(r'src="([^"]+)"', attributes)
        assert source and source.group(1).startswith("/"), attributes  # the site's own, not a CDN's
        script = client.get(source.group(1).replace("&amp;", "&"))
        assert script.status_code == 200 and "javascript" in script.headers["Content-Type"], source.group(1)


@pytest.mark.django_db(transaction=True)
def test_swagger_ui_renders_under_the_policy(live_server: Any, page: Page) -> None:
    page.goto(f"{live_server.url}/api/docs/")
    page.wait_for_selector(".swagger-ui .info .title:text('Ledgerline API')")
    page.wait_for_selector(".opblock-tag")  # the schema was fetched and drawn; a refusal fails in conftest.page
