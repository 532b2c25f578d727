"""Load a small demo organisation: three members, a dataset of melodies, a dataset of the Bach
chorales, and the chain of custody run once: the prebuilt chorale Transformer
(generation/prebuilt/demo-chorales, rebuilt byte for byte by `make demo-model`) adopted by a
training run on that dataset, signed, pinned and anchored, and three works generated and minted."""

import calendar
import random
import tempfile
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from generation.chorales import LICENCE, chorales_export
from ledgerline.accounts import services as accounts
from ledgerline.accounts.models import Organisation, Role
from ledgerline.datasets import samples
from ledgerline.datasets import services as datasets
from ledgerline.datasets.blobs import blob_stage
from ledgerline.datasets.models import DatasetVersion, RightsHolder
from ledgerline.ledger.client import Ledger
from ledgerline.ledger.services import value_send, works_contract
from ledgerline.ledger.splits import split_distribute, split_recipients, split_withdrawable
from ledgerline.pipeline.drive import works_advance, works_generate
from ledgerline.pipeline.requests import generation_request
from ledgerline.provenance.hashing import sha256_file
from ledgerline.royalties.models import Isrc, UsageEvent
from ledgerline.royalties.services import registrant_set
from ledgerline.royalties.usage import usage_import
from ledgerline.royalties.usage_dsr import dsr_write, lines_dsr
from ledgerline.training.models import ModelArtifact, TrainingRun
from ledgerline.training.services import training_run_create, training_run_finish
from ledgerline.works.models import Generation, Work, WorkStatus

DEMO_MODEL = "demo-chorales"
# anvil's well-known test accounts 1 and 2 (mnemonic "test test ... junk"): their keys are public,
# so they stand for the demo's payees on a local chain only; Ledgerline holds no key of theirs.
DEMO_WALLETS = {
    "Demo Label": "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
    "Demo Composer": "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
}
# A month's streams per work: service, territory, currency and revenue per stream.
DEMO_SERVICES = (
    ("Spotify", "GB", "GBP", 0.0031),
    ("Spotify", "DE", "EUR", 0.0034),
    ("Apple Music", "US", "USD", 0.0071),
    ("Deezer", "FR", "EUR", 0.0029),
)
DEMO_RESALE = 2 * 10**17  # wei: a resale of 0.2 ETH, whose 5% royalty is 0.01 ETH


def _distinct(paths: list[Path]) -> list[Path]:
    """One file per content: music21 holds a few chorales twice under two names (bwv69.6 and
    bwv69.6-a), and a dataset holds a content once."""
    seen: dict[str, Path] = {}
    for path in paths:
        seen.setdefault(sha256_file(path), path)
    return list(seen.values())


class Command(BaseCommand):
    help = "Create the demo organisation (idempotent)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--password", default="ledgerline-demo")
        parser.add_argument("--no-pipeline", action="store_true", help="skip training and minting")

    def handle(self, *args: Any, **options: Any) -> None:
        if Organisation.objects.filter(slug="demo-label").exists():
            self.stdout.write("Demo organisation already loaded.")
        else:
            # Every strictly four-part chorale, which the demo model trained on; exported before
            # the load's transaction and kept under var/ (music21's parsing is the slow part).
            folder = settings.VAR_DIR / "cache" / "chorales"
            chorales_export(folder)
            self._load(options["password"], _distinct(sorted(folder.glob("*.mid"))))
        if not options["no_pipeline"]:
            self._pipeline(Organisation.objects.get(slug="demo-label"))

    @transaction.atomic
    def _load(self, password: str, chorale_files: list[Path]) -> None:
        users = {}
        for name in ("demo-admin", "demo-artist", "demo-auditor"):
            users[name] = get_user_model().objects.filter(username=name).first() or accounts.user_create(
                username=name, password=password
            )
        organisation = accounts.organisation_create(name="Demo Label", slug="demo-label", admin=users["demo-admin"])
        accounts.membership_add(
            organisation=organisation, user=users["demo-artist"], role=Role.ARTIST, added_by=users["demo-admin"]
        )
        accounts.membership_add(
            organisation=organisation, user=users["demo-auditor"], role=Role.AUDITOR, added_by=users["demo-admin"]
        )
        dataset = datasets.dataset_create(
            organisation=organisation,
            name="Demo melodies",
            description="Short generated melodies.",
            licence=datasets.Licence(spdx="CC-BY-4.0"),
            consent={
                "cawg.ai_training": {"use": "allowed"},
                "cawg.ai_generative_training": {"use": "allowed"},
                "cawg.data_mining": {"use": "notAllowed"},
            },
            rights=[
                datasets.RightsShareInput(name="Demo Composer", share=datasets.Decimal("0.7")),
                datasets.RightsShareInput(name="Demo Label", share=datasets.Decimal("0.3")),
            ],
            created_by=users["demo-artist"],
        )
        with tempfile.TemporaryDirectory() as tmp:
            staged = []
            for i in range(6):
                path = samples.melody_midi(Path(tmp) / f"melody-{i:02d}.mid", seed=i)
                with open(path, "rb") as f:
                    temp_path, sha256, size = blob_stage(f)
                staged.append(datasets.StagedFile(name=path.name, temp_path=temp_path, sha256=sha256, size=size))
            datasets.dataset_files_add(dataset=dataset, files=staged, added_by=users["demo-artist"])
        version = datasets.dataset_version_create(dataset=dataset, created_by=users["demo-artist"], note="demo")
        # A registrant code (ZZ: no country) gives each released work its ISRC, which usage names.
        registrant_set(organisation=organisation, updated_by=users["demo-admin"], country="ZZ", code="LLD")
        # The label and its composer registered wallets; the label's own holder entry has none.
        accounts.organisation_wallet_set(
            organisation=organisation, wallet=DEMO_WALLETS["Demo Label"], updated_by=users["demo-admin"]
        )
        composer = RightsHolder.objects.get(organisation=organisation, name="Demo Composer")
        datasets.holder_wallet_set(
            holder=composer, wallet=DEMO_WALLETS["Demo Composer"], updated_by=users["demo-admin"]
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo loaded: sign in as demo-admin, demo-artist or demo-auditor with password {password!r}.\n"
                f"Dataset 'Demo melodies' v{version.number}, Merkle root {version.merkle_root}"
            )
        )

        chorales = datasets.dataset_create(
            organisation=organisation,
            name="Bach chorales",
            description=LICENCE["name"],
            licence=datasets.Licence(spdx=LICENCE["spdx"], terms=LICENCE["composition"]),
            consent={"cawg.ai_training": {"use": "allowed"}, "cawg.ai_generative_training": {"use": "allowed"}},
            rights=[],
            created_by=users["demo-artist"],
        )
        paths = [(path.name, path) for path in chorale_files]
        datasets.dataset_files_import(dataset=chorales, paths=paths, added_by=users["demo-artist"])
        datasets.dataset_version_create(dataset=chorales, created_by=users["demo-artist"], note="demo")

    def _pipeline(self, organisation: Organisation) -> None:
        """Train, generate and mint in this process (the worker, if running, finds it done)."""
        if Work.objects.filter(organisation=organisation, status=WorkStatus.CONFIRMED).exists():
            return
        artist = get_user_model().objects.get(username="demo-artist")
        version = DatasetVersion.objects.filter(
            dataset__organisation=organisation, dataset__name="Bach chorales"
        ).first()
        if version is None:
            return
        run = TrainingRun.objects.filter(organisation=organisation).first() or training_run_create(
            organisation=organisation,
            name="Demo chorale model",
            dataset_versions=[version],
            created_by=artist,
            config={"model": "transformer", "tokenizer": "chorale", "prebuilt": DEMO_MODEL},
        )
        self.stdout.write(f"Adopting the prebuilt demo model {DEMO_MODEL}...")
        training_run_finish(run_id=str(run.pk))
        model = ModelArtifact.objects.get(run=run)
        generation = Generation.objects.filter(organisation=organisation).first() or generation_request(
            organisation=organisation,
            title="Demo chorale",
            model=model,
            count=3,
            seed=1,
            created_by=artist,
            parameters={"length": 256, "temperature": 0.9},
        )
        works_generate(generation=generation)
        counts = works_advance(works=generation.works.all())
        self.stdout.write(
            self.style.SUCCESS(f"Demo model {model.blob.sha256[:12]} (pinned {model.cid}); works: {counts}")
        )
        self._split_payment(organisation)
        self._usage_month(organisation)

    def _usage_month(self, organisation: Organisation) -> None:
        """A month of streams and downloads of the demo's works, as a DSP reports them: a DDEX
        DSR file (this month, so the royalties page shows it at once), through the importer any
        report goes through."""
        if UsageEvent.objects.filter(organisation=organisation).exists():
            return
        released = Isrc.objects.filter(work__organisation=organisation).order_by("code")
        isrcs = list(released.values_list("code", flat=True))
        if not isrcs:
            return
        today = timezone.now().date()
        start = today.replace(day=1)
        end = today.replace(day=calendar.monthrange(today.year, today.month)[1])
        rng = random.Random(7)
        lines = []
        for isrc in isrcs:
            for service, territory, currency, rate in DEMO_SERVICES:
                streams = rng.randrange(200, 5000)
                lines.append(
                    {
                        "isrc": isrc,
                        "service": service,
                        "territory": territory,
                        "usage_type": "OnDemandStream",
                        "units": streams,
                        "revenue": f"{streams * rate:.6f}",
                        "currency": currency,
                    }
                )
        with tempfile.TemporaryFile() as report:
            dsr_write(
                report,
                message_id=f"DEMO-{start:%Y%m}",
                sender="PADPIDA2026DEMO",
                sender_name="Demo Streams",
                period_start=start.isoformat(),
                period_end=end.isoformat(),
                lines=lines,
            )
            report.seek(0)
            chunks = iter(lambda: report.read(1 << 20), b"")
            result = usage_import(
                organisation=organisation,
                lines=lines_dsr(chunks),
                reported_by=get_user_model().objects.get(username="demo-admin"),
            )
        self.stdout.write(
            f"Usage of {start:%B %Y} loaded from a DDEX DSR file: {result.accepted} lines accepted, "
            f"{result.rejected_count} refused."
        )

    def _split_payment(self, organisation: Organisation) -> None:
        """Pay the resale royalty of a 0.2 ETH resale of the first work (from the platform's
        account, as a marketplace would) to its ERC-2981 receiver, the split contract of its
        payees, and distribute it: each payee then has its part to withdraw."""
        work = Work.objects.filter(organisation=organisation, token__isnull=False).order_by("token__token_id").first()
        if work is None or work.token is None:
            return
        ledger = Ledger.connect()
        receiver, royalty = works_contract(ledger=ledger).functions.royaltyInfo(work.token.token_id, DEMO_RESALE).call()
        if receiver == ledger.account.address:
            self.stdout.write("No payee of the demo's works has a wallet: their royalties stay with the platform.")
            return
        value_send(ledger=ledger, to=receiver, value=royalty)
        split_distribute(ledger=ledger, split=receiver)
        self.stdout.write(
            f"Paid {royalty / 10**18} ETH of royalty on token {work.token.token_id} to its split {receiver}:"
        )
        for address in split_recipients(ledger=ledger, split=receiver):
            owed = split_withdrawable(ledger=ledger, split=receiver, account=address)
            self.stdout.write(f"  {address} may withdraw {owed / 10**18} ETH")
