"""Load a small demo organisation: three members, a dataset of MIDI files, a version."""

import tempfile
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from ledgerline.accounts import services as accounts
from ledgerline.accounts.models import Organisation, Role
from ledgerline.datasets import samples
from ledgerline.datasets import services as datasets
from ledgerline.datasets.blobs import blob_stage


class Command(BaseCommand):
    help = "Create the demo organisation (idempotent)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--password", default="ledgerline-demo")

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        if Organisation.objects.filter(slug="demo-label").exists():
            self.stdout.write("Demo organisation already loaded.")
            return
        password = options["password"]
        users = {}
        for name in ("demo-admin", "demo-artist", "demo-auditor"):
            users[name] = get_user_model().objects.filter(username=name).first() or accounts.user_create(
                username=name, password=password)
        organisation = accounts.organisation_create(name="Demo Label", slug="demo-label", admin=users["demo-admin"])
        accounts.membership_add(organisation=organisation, user=users["demo-artist"], role=Role.ARTIST,
                                added_by=users["demo-admin"])
        accounts.membership_add(organisation=organisation, user=users["demo-auditor"], role=Role.AUDITOR,
                                added_by=users["demo-admin"])
        dataset = datasets.dataset_create(
            organisation=organisation, name="Demo melodies", description="Short generated melodies.",
            licence=datasets.Licence(spdx="CC-BY-4.0"),
            consent={"cawg.ai_training": {"use": "allowed"}, "cawg.ai_generative_training": {"use": "allowed"},
                     "cawg.data_mining": {"use": "notAllowed"}},
            rights=[datasets.RightsShareInput(name="Demo Composer", share=datasets.Decimal("0.7")),
                    datasets.RightsShareInput(name="Demo Label", share=datasets.Decimal("0.3"))],
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
        self.stdout.write(self.style.SUCCESS(
            f"Demo loaded: sign in as demo-admin, demo-artist or demo-auditor with password {password!r}.\n"
            f"Dataset 'Demo melodies' v{version.number}, Merkle root {version.merkle_root}"))
