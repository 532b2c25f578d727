"""A pretrained sound model with its whole lineage on record: random sounds synthesised
(generation.audio's pre-training set, `make audio-pretrained`'s), added to a CC0 dataset of the
organisation, frozen, and the sound VAE trained on them as any run is. Runs that continue it
(`base_model`) carry that dataset in their lineage."""

import tempfile
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

import soundfile
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from ledgerline.accounts.models import WRITE_ROLES, Organisation
from ledgerline.datasets.models import Dataset
from ledgerline.datasets.services import Licence, dataset_create, dataset_files_import, dataset_version_create
from ledgerline.errors import LedgerlineError
from ledgerline.training.services import training_run_create


class Command(BaseCommand):
    help = "Synthesise a pre-training set into a CC0 dataset and queue a sound model trained on it."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--organisation", required=True, help="organisation slug")
        parser.add_argument("--user", required=True, help="username of a member who may create datasets and runs")
        parser.add_argument("--count", type=int, default=8720, help="random sounds (the thesis' 8,720)")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--epochs", type=int, default=2)
        parser.add_argument("--batch-size", type=int, default=16)
        parser.add_argument("--latent", type=int, help="latent dimensions (default: the model's)")
        parser.add_argument("--channels", type=int, help="convolution channels (default: the model's)")

    def handle(self, *args: Any, organisation: str, user: str, count: int, seed: int, **options: Any) -> None:
        from generation.audio.synth import SAMPLE_RATE, random_synths, synthesise

        target = Organisation.objects.filter(slug=organisation).first()
        member = get_user_model().objects.filter(username=user).first()
        if target is None or member is None:
            raise CommandError("No such organisation or user.")
        if not member.memberships.filter(organisation=target, role__in=WRITE_ROLES).exists():
            raise CommandError(f"{user} may not create datasets or training runs in {target.name}.")
        if count < 1:
            raise CommandError("--count must be at least 1.")
        name = f"Pre-training sounds ({count} random, seed {seed})"
        existing = Dataset.objects.filter(organisation=target, name=name).first()
        if existing is not None:
            raise CommandError(
                f"{target.name} already has the dataset {name} ({existing.pk}): train on its version "
                "through the API or the portal, or pass another --seed or --count."
            )
        specs = random_synths(count, seed=seed)
        config = {
            "model": "audio",
            "epochs": options["epochs"],
            "batch_size": options["batch_size"],
            "seed": seed,
            **{k: options[k] for k in ("latent", "channels") if options[k] is not None},
        }
        with tempfile.TemporaryDirectory() as tmp:
            paths = []
            for start in range(0, count, 512):  # rendered a batch at a time, written as 16 kHz WAV
                for i, audio in enumerate(synthesise(specs[start : start + 512]), start):
                    spec = specs[i]
                    path = Path(tmp) / spec.group / f"{i:05d}-{spec.kind}-{round(spec.freq)}hz.wav"
                    path.parent.mkdir(exist_ok=True)
                    soundfile.write(path, audio, SAMPLE_RATE, subtype="PCM_16")
                    paths.append((str(path.relative_to(tmp)), path))
            try:
                with transaction.atomic():  # the dataset, its version and the run, or none of them
                    dataset = dataset_create(
                        organisation=target,
                        name=name,
                        description="Synthesised by generation.audio.synth.random_synths; no one's recordings.",
                        licence=Licence(spdx="CC0-1.0"),
                        consent={"cawg.ai_training": "allowed", "cawg.ai_generative_training": "allowed"},
                        rights=[],
                        created_by=member,
                    )
                    dataset_files_import(dataset=dataset, paths=paths, added_by=member)
                    version = dataset_version_create(dataset=dataset, created_by=member, note="pre-training set")
                    run = training_run_create(
                        organisation=target,
                        name=f"Pretrained sound model (seed {seed})",
                        config=config,
                        dataset_versions=[version],
                        created_by=member,
                    )
            except LedgerlineError as exc:
                raise CommandError(exc.message) from None
        self.stdout.write(
            self.style.SUCCESS(
                f"{dataset.name}: {count} files, version {version.number} ({version.merkle_root}). Training run "
                f"{run.pk} queued; continue its model with base_model once it has succeeded."
            )
        )
