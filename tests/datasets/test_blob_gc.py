import os
import time
from io import StringIO
from pathlib import Path
from typing import Any

from django.core.management import call_command

from ledgerline.datasets.blobs import blob_adopt, blob_path
from ledgerline.provenance.hashing import sha256_bytes


def _age(path: Path, seconds: int) -> None:
    old = time.time() - seconds
    os.utime(path, (old, old))


def test_gc_removes_old_unreferenced_files_only(upload: Any, settings: Any, tmp_path: Path) -> None:
    _, response = upload("melody.mid")
    kept = blob_path(response.json()[0]["sha256"])
    orphan_bytes, fresh_bytes = b"rolled back", b"still committing"
    for data in (orphan_bytes, fresh_bytes):
        (tmp_path / "t").write_bytes(data)
        blob_adopt(tmp_path / "t", sha256_bytes(data))
    orphan, fresh = blob_path(sha256_bytes(orphan_bytes)), blob_path(sha256_bytes(fresh_bytes))
    _age(orphan, 7200)
    _age(kept, 7200)
    out = StringIO()
    call_command("blobs", "gc", stdout=out)
    assert "removed 1 unreferenced files" in out.getvalue()
    assert kept.exists() and fresh.exists() and not orphan.exists()


def test_adopting_across_volumes_never_exposes_a_partial_blob(settings: Any, tmp_path: Path, monkeypatch: Any) -> None:
    real_replace = os.replace
    calls: list[str] = []

    def cross_device_once(src: Any, dst: Any) -> None:
        if not calls:
            calls.append(str(src))
            raise OSError(18, "Invalid cross-device link")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", cross_device_once)
    (tmp_path / "upload").write_bytes(b"x" * 100_000)
    final = blob_adopt(tmp_path / "upload", sha256_bytes(b"x" * 100_000))
    assert final.read_bytes() == b"x" * 100_000
    assert not (tmp_path / "upload").exists()
    assert [p.name for p in final.parent.iterdir()] == [final.name]
