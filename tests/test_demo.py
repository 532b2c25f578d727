from io import StringIO
from pathlib import Path
from typing import Any

from django.core.management import call_command

from ledgerline.datasets.models import DatasetFile, DatasetVersion
from ledgerline.ledger.client import Ledger
from ledgerline.ledger.services import works_contract
from ledgerline.provenance.services import audit_verify
from ledgerline.works.models import Work, WorkStatus
from tests.ledger.conftest import chain_env


def test_the_demo_loads_once_mints_its_works_once_and_its_log_verifies(db: Any, settings: Any, tmp_path: Path) -> None:
    for name, value in chain_env("embedded", tmp_path).items():
        setattr(settings, name, Path(value) if name in ("CHAIN_STATE_DIR", "CHAIN_ACCOUNT_KEYFILE") else value)
    settings.LEDGERLINE_RUNS_DIR = tmp_path / "runs"
    out = StringIO()
    call_command("demo", stdout=out)
    call_command("demo", stdout=out)
    assert "already loaded" in out.getvalue()
    assert (
        DatasetVersion.objects.count() == 2 and DatasetFile.objects.filter(dataset__name="Bach chorales").count() >= 12
    )
    assert list(Work.objects.values_list("status", flat=True)) == [WorkStatus.CONFIRMED] * 3
    assert works_contract(ledger=Ledger.connect()).functions.totalMinted().call() == 3
    assert audit_verify().ok


def test_a_demo_user_can_sign_in(db: Any, client: Any) -> None:
    call_command("demo", "--no-pipeline", stdout=StringIO())
    assert client.login(username="demo-artist", password="ledgerline-demo")
    assert b"Demo melodies" in client.get("/").content
