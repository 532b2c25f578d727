"""Load a small demo organisation: three members, a dataset of melodies, a dataset of the Bach
chorales, and the chain of custody run once: the prebuilt chorale Transformer
(generation/prebuilt/demo-chorales, rebuilt byte for byte by `make demo-model`) adopted by a
training run on that dataset, signed, pinned and anchored, and three works generated and minted."""

import tempfile
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from generation.chorales import LICENCE, chorales_export
from ledgerline.accounts import services as accounts
from ledgerline.accounts.models import Organisation, Role
from ledgerline.datasets import samples
from ledgerline.datasets import services as datasets
from ledgerline.datasets.blobs import blob_stage
from ledgerline.datasets.models import DatasetVersion
from ledgerline.pipeline.drive import works_advance, works_generate
from ledgerline.pipeline.requests import generation_request
from ledgerline.provenance.hashing import sha256_file
from ledgerline.training.models import ModelArtifact, TrainingRun
from ledgerline.training.services import training_run_create, training_run_finish
from ledgerline.works.models import Generation, Work, WorkStatus

DEMO_MODEL = "demo-chorales"


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
