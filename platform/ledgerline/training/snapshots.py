"""A folder of a run (its resume point, its trained checkpoint) recorded file by file, by SHA-256
and, when hosts share no disk, by the CID every host fetches it by: what a fresh worker on
another host restores before it resumes the run, or publishes it."""

import shutil
from pathlib import Path
from typing import Any

from ledgerline.errors import LedgerlineError
from ledgerline.provenance.hashing import sha256_file
from ledgerline.storage.shared import content_fetch, content_put, store_shared

Files = dict[str, dict[str, Any]]  # {path under the folder: {sha256, size, cid}}


def folder_record(folder: Path, *, previous: Files | None = None) -> Files:
    """Every file under ``folder`` by its SHA-256 and size, and sent to the IPFS node when hosts
    share it (a file unchanged since ``previous`` keeps its CID and is not sent again)."""
    files: Files = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".fetch-")):
        name = path.relative_to(folder).as_posix()
        sha256 = sha256_file(path)
        before = (previous or {}).get(name, {})
        if before.get("sha256") == sha256:
            files[name] = before
            continue
        cid = content_put(path, name=path.name) if store_shared() else ""
        files[name] = {"sha256": sha256, "size": path.stat().st_size, "cid": cid}
    return files


def folder_restore(folder: Path, files: Files, *, exact: bool) -> None:
    """``folder`` made to hold ``files``: each one here already is kept, the others fetched by CID
    and checked on arrival; ``exact``: files it does not name are deleted (a stale resume point of
    this host must not mix with a newer one from another)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, entry in files.items():
        target = folder / name
        if target.is_file() and sha256_file(target) == entry["sha256"]:
            continue
        if not entry.get("cid"):
            raise LedgerlineError(f"{name} of {folder.name} is not on this host, and no host shared it.")
        target.unlink(missing_ok=True)
        content_fetch(cid=entry["cid"], sha256=entry["sha256"], target=target, mode=0o644)
    if exact:
        for path in sorted(folder.rglob("*"), reverse=True):
            name = path.relative_to(folder).as_posix()
            if path.is_file() and name not in files:
                path.unlink()
            elif path.is_dir() and not any(path.iterdir()):
                shutil.rmtree(path)
