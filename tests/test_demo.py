import io
from decimal import Decimal
from io import StringIO
from pathlib import Path
from typing import Any

import numpy as np
import soundfile
from django.core.management import call_command
from django.utils import timezone

from generation.prebuilt import record_read
from ledgerline.accounts.models import Organisation
from ledgerline.datasets.models import DatasetFile, DatasetVersion
from ledgerline.ledger.client import Ledger
from ledgerline.ledger.services import works_contract
from ledgerline.ledger.splits import split_recipients, split_withdrawable
from ledgerline.pipeline.management.commands.demo import DEMO_RESALE, DEMO_WALLETS
from ledgerline.provenance.services import audit_verify
from ledgerline.royalties.models import Isrc, UsageEvent
from ledgerline.royalties.statements import period_parse, statements_compute
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
    _the_first_works_split_holds_a_test_royalty()
    _a_month_of_usage_gives_statements()
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


def _a_month_of_usage_gives_statements() -> None:
    """The demo's DSR month: every work has its ISRC and four lines of usage this month, and the
    royalties page's statements pay out exactly what was reported, per currency."""
    organisation = Organisation.objects.get(slug="demo-label")
    assert Isrc.objects.filter(work__organisation=organisation).count() == 3
    events = UsageEvent.objects.filter(organisation=organisation)
    assert events.count() == 12 and {e.event_id.split(":")[0] for e in events} == {"PADPIDA2026DEMO"}
    period = period_parse(timezone.now().strftime("%Y-%m"))
    found = statements_compute(organisation_id=organisation.pk, period=period)
    assert set(found) == {"platform", f"organisation:{organisation.pk}"}
    for currency in ("EUR", "GBP", "USD"):
        reported = sum(e.revenue_micros for e in events if e.currency == currency)
        paid = sum(s.totals[currency] for s in found.values())
        assert paid == (Decimal(reported) / 10**6).quantize(Decimal("0.01"))


def _the_first_works_split_holds_a_test_royalty() -> None:
    """The label registered a wallet, so its works' royalty goes to a split of the label's wallet
    (0.95: the chorales are public domain, so the data's part is the label's too) and the
    platform's account (0.05); the demo paid 0.01 ETH there, ready to withdraw."""
    ledger = Ledger.connect()
    first = Work.objects.exclude(token=None).order_by("token__token_id").first()
    assert first is not None and first.token is not None
    split, royalty = works_contract(ledger=ledger).functions.royaltyInfo(first.token.token_id, DEMO_RESALE).call()
    assert royalty == 10**16 and ledger.w3.eth.get_balance(split) == royalty
    recipients = split_recipients(ledger=ledger, split=split)
    assert recipients == {DEMO_WALLETS["Demo Label"]: 95 * 10**10, ledger.account.address: 5 * 10**10}
    owed = {a: split_withdrawable(ledger=ledger, split=split, account=a) for a in recipients}
    assert owed == {DEMO_WALLETS["Demo Label"]: 95 * 10**14, ledger.account.address: 5 * 10**14}


def test_a_demo_user_can_sign_in(db: Any, client: Any) -> None:
    call_command("demo", "--no-pipeline", stdout=StringIO())
    assert client.login(username="demo-artist", password="ledgerline-demo")
    assert b"Demo melodies" in client.get("/").content
