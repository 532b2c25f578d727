"""Register a folder of local files into a dataset, as uploads would be (all or none)."""

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from ledgerline.accounts.models import WRITE_ROLES
from ledgerline.datasets.models import Dataset
from ledgerline.datasets.services import dataset_files_import
from ledgerline.errors import LedgerlineError

SUFFIXES = {".mid", ".midi", ".wav", ".flac", ".mp3"}


class Command(BaseCommand):
    help = "Add every MIDI, WAV, FLAC and MP3 file under FOLDER to a dataset, paths kept relative to FOLDER."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("folder", type=Path)
        parser.add_argument("--dataset", required=True, help="dataset id")
        parser.add_argument("--user", required=True, help="username of a member who may write to the dataset")

    def handle(self, *args: Any, folder: Path, dataset: str, user: str, **options: Any) -> None:
        target = Dataset.objects.filter(pk=dataset).select_related("organisation").first()
        member = get_user_model().objects.filter(username=user).first()
        if target is None or member is None:
            raise CommandError("No such dataset or user.")
        if not member.memberships.filter(organisation=target.organisation, role__in=WRITE_ROLES).exists():
            raise CommandError(f"{user} may not add files to {target.organisation.name}'s datasets.")
        paths = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)
        if not paths:
            raise CommandError(f"No MIDI, WAV, FLAC or MP3 files under {folder}.")
        try:
            added = dataset_files_import(
                dataset=target, paths=[(str(p.relative_to(folder)), p) for p in paths], added_by=member
            )
        except LedgerlineError as exc:
            raise CommandError(exc.message) from None
        total = sum(f.blob.size for f in added)
        self.stdout.write(self.style.SUCCESS(f"Added {len(added)} files ({total} bytes) to {target.name}."))
