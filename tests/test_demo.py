import io
from io import StringIO
from pathlib import Path
from typing import Any

import numpy as np
import soundfile
from django.core.management import call_command

from generation.prebuilt import record_read
from ledgerline.datasets.models import DatasetFile, DatasetVersion
from ledgerline.ledger.client import Ledger
from ledgerline.ledger.services import works_contract
from ledgerline.provenance.services import audit_verify
from ledgerline.training.models import ModelArtifact
from ledgerline.works.models import Work, WorkStatus
from ledgerline.works.transitions import output_bytes
from tests.ledger.conftest import chain_env


def test_the_demo_loads_once_mints_its_works_once_and_its_log_verifies(db: Any, settings: Any, tmp_path: Path) -> None:
    for name, value in chain_env("embedded", tmp_path).items():
        setattr(settings, name, Path(value) if name in ("CHAIN_STATE_DIR", "CHAIN_ACCOUNT_KEYFILE") else value)
    settings.LEDGERLINE_RUNS_DIR = tmp_path / "runs"
    out = StringIO()
    call_command("demo", stdout=out)
    call_command("demo", stdout=out)
    assert "already loaded" in out.getvalue()
    assert DatasetVersion.objects.count() == 2
    assert DatasetFile.objects.filter(dataset__name="Bach chorales").count() == 330  # each four-part chorale once
    assert list(Work.objects.values_list("status", flat=True)) == [WorkStatus.CONFIRMED] * 3
    assert works_contract(ledger=Ledger.connect()).functions.totalMinted().call() == 3
    assert audit_verify().ok
    # The works come from the committed demo model, adopted with its record's weights and test NLL.
    record = record_read("demo-chorales")
    model = ModelArtifact.objects.get()
    assert model.blob.sha256 == record["weights_sha256"] and model.run.metrics["test_nll"] <= 0.60
    assert len(model.run.progress["curve"]) == len(record["history"])  # its page draws the loss curve
    for work in Work.objects.all():
        assert work.model_id == model.pk
        assert work.provenance["renderer"]["name"] == "tinysoundfont"  # a General MIDI soundfont, not sines
        audio, rate = soundfile.read(io.BytesIO(output_bytes(work, "wav")), dtype="int16", always_2d=True)
        peak = int(np.abs(audio.astype(np.int32)).max())
        assert rate == 44100 and audio.shape[1] == 2 and 0.85 * 32767 < peak < 32767  # loud, never clipped


def test_a_demo_user_can_sign_in(db: Any, client: Any) -> None:
    call_command("demo", "--no-pipeline", stdout=StringIO())
    assert client.login(username="demo-artist", password="ledgerline-demo")
    assert b"Demo melodies" in client.get("/").content
