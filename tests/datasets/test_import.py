"""manage.py dataset_import: many files staged at once, all added or none."""

from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from ledgerline.datasets.models import DatasetFile
from tests.conftest import dataset_create
from tests.datasets.test_upload import sha256sum


def stored_files(settings: Any) -> list[Path]:
    root = Path(settings.LEDGERLINE_BLOB_DIR)
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def catalog(media_dir: Path, folder: Path, *names: str) -> Path:
    folder.mkdir()
    for name in names:
        (folder / name).write_bytes((media_dir / name).read_bytes())
    return folder


def test_it_imports_every_file_with_its_hash(team: Any, media_dir: Path, tmp_path: Path) -> None:
    dataset_id = dataset_create(team)
    folder = catalog(media_dir, tmp_path / "catalog", "melody.mid", "other.mid", "tone.wav", "tone.flac", "tone.mp3")
    call_command("dataset_import", str(folder), dataset=dataset_id, user="owner")
    files = {f.path: f.blob.sha256 for f in DatasetFile.objects.select_related("blob")}
    assert files == {p.name: sha256sum(p) for p in folder.iterdir()}


def test_one_bad_file_refuses_them_all_and_leaves_nothing(
    team: Any, settings: Any, media_dir: Path, tmp_path: Path
) -> None:
    dataset_id = dataset_create(team)
    folder = catalog(media_dir, tmp_path / "catalog", "melody.mid", "tone.wav", "truncated.flac", "tone.mp3")
    with pytest.raises(CommandError, match=r"^Nothing was added\. truncated\.flac: "):
        call_command("dataset_import", str(folder), dataset=dataset_id, user="owner")
    assert not DatasetFile.objects.exists()
    assert not stored_files(settings)
