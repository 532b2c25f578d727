"""Where a run's files live, and a published model's checkpoint: from this machine, or fetched
from IPFS by its CID, and used only once it verifies against its model-signing signature."""

import shutil
import tempfile
from pathlib import Path
from typing import Any

from django.conf import settings

from generation.family import CHECKPOINT
from ledgerline.errors import LedgerlineError
from ledgerline.provenance.models import SigningKey
from ledgerline.storage.client import ipfs_connect
from ledgerline.training.config import family_of
from ledgerline.training.models import ModelArtifact, TrainingRun
from ledgerline.training.signing import folder_verify
from ledgerline_verify.unixfs import CID


def run_folder(run: TrainingRun) -> Path:
    """The run's working folder: its data, what its family prepared, its checkpoint."""
    return Path(settings.LEDGERLINE_RUNS_DIR) / str(run.pk)


def checkpoint_folder(run: TrainingRun) -> Path:
    return run_folder(run) / CHECKPOINT


def model_folder(artifact: ModelArtifact) -> Path:
    """The model's checkpoint folder, from this machine or else fetched from IPFS by its CID,
    and used only if it verifies against its model-signing signature."""
    key = SigningKey.objects.filter(key_id=artifact.key_id).first()
    if key is None:
        raise LedgerlineError(f"The model {artifact.name} is not signed; it cannot be used to generate.")
    # The run's own folder, where this host trained it; it may hold another attempt's checkpoint
    # (a run taken over by another host), so it is used only if it verifies.
    trained = checkpoint_folder(artifact.run)
    if trained.is_dir() and not folder_verify(trained, public_key_pem=key.public_key_pem, bundle=artifact.signature):
        return trained
    folder = Path(settings.LEDGERLINE_RUNS_DIR) / "models" / artifact.blob.sha256
    problem = (
        folder_verify(folder, public_key_pem=key.public_key_pem, bundle=artifact.signature) if folder.is_dir() else "-"
    )
    if problem:  # not in this host's cache, or damaged there: fetched (again)
        shutil.rmtree(folder, ignore_errors=True)
        _fetch(artifact, folder)
        problem = folder_verify(folder, public_key_pem=key.public_key_pem, bundle=artifact.signature)
    if problem:
        raise LedgerlineError(f"The model {artifact.name} does not match its signature: {problem}")
    return folder


def _fetch(artifact: ModelArtifact, folder: Path) -> None:
    if not artifact.cid:
        raise LedgerlineError(f"The model {artifact.name} has no checkpoint here and none pinned.")
    ipfs = ipfs_connect()
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=folder.parent))
    for link in ipfs.listing(CID.parse(artifact.cid)) or []:
        (staging / link.name).write_bytes(b"".join(ipfs.read(link.cid)))
    try:
        staging.rename(folder)  # whole or not at all; a process that got there first wins
    except OSError:
        shutil.rmtree(staging)


def model_load(artifact: ModelArtifact) -> Any:
    """The verified checkpoint, opened by its family for generation."""
    return family_of(artifact.run.config).load(model_folder(artifact))
