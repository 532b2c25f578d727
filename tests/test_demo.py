from io import StringIO
from typing import Any

from django.core.management import call_command

from ledgerline.datasets.models import DatasetFile, DatasetVersion
from ledgerline.provenance.services import audit_verify


def test_the_demo_loads_once_and_its_log_verifies(db: Any, settings: Any) -> None:
    out = StringIO()
    call_command("demo", stdout=out)
    call_command("demo", stdout=out)
    assert "already loaded" in out.getvalue()
    assert DatasetFile.objects.count() == 6 and DatasetVersion.objects.count() == 1
    assert audit_verify().ok


def test_a_demo_user_can_sign_in(db: Any, client: Any) -> None:
    call_command("demo", stdout=StringIO())
    assert client.login(username="demo-artist", password="ledgerline-demo")
    assert b"Demo melodies" in client.get("/").content
