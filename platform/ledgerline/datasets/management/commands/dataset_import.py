"""Register a folder of local files into a dataset, as uploads would be (all or none)."""

import json
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from ledgerline.accounts.models import WRITE_ROLES
from ledgerline.datasets.models import Dataset
from ledgerline.datasets.services import Description, dataset_files_import, description_validate
from ledgerline.errors import LedgerlineError

SUFFIXES = {".mid", ".midi", ".wav", ".flac", ".mp3"}


class Command(BaseCommand):
    help = "Add every MIDI, WAV, FLAC and MP3 file under FOLDER to a dataset, paths kept relative to FOLDER."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("folder", type=Path)
        parser.add_argument("--dataset", required=True, help="dataset id")
        parser.add_argument("--user", required=True, help="username of a member who may write to the dataset")
        parser.add_argument("--tags", help="words for every file: 'organ, chorale'")
        parser.add_argument(
            "--descriptions",
            type=Path,
            help='JSON file: {"path under FOLDER": {"tags": [...], "caption": "..."}}; its tags add to --tags',
        )

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
        names = [str(p.relative_to(folder)) for p in paths]
        try:
            descriptions = _descriptions(names, options.get("tags"), options.get("descriptions"))
            added = dataset_files_import(
                dataset=target, paths=list(zip(names, paths, strict=True)), added_by=member, descriptions=descriptions
            )
        except LedgerlineError as exc:
            raise CommandError(exc.message) from None
        total = sum(f.blob.size for f in added)
        self.stdout.write(self.style.SUCCESS(f"Added {len(added)} files ({total} bytes) to {target.name}."))


def _descriptions(names: list[str], tags: str | None, path: Path | None) -> dict[str, Description]:
    """Each file's description: the common --tags, and its entry in the --descriptions file."""
    given: dict[str, Any] = {}
    if path is not None:
        try:
            given = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise CommandError(f"{path} is not a readable JSON file: {exc}") from None
        if not isinstance(given, dict) or not all(isinstance(v, dict) for v in given.values()):
            raise CommandError(f'{path} must map each path to {{"tags": [...], "caption": "..."}}')
        unknown = sorted(set(given) - set(names))
        if unknown:
            raise CommandError(f"{path} describes {unknown[0]!r}, which is not a file being imported")
    common = description_validate(tags=tags).tags
    out = {}
    for name in names:
        entry = given.get(name, {})
        out[name] = description_validate(
            tags=[*common, *description_validate(tags=entry.get("tags", [])).tags], caption=entry.get("caption", "")
        )
    return out
