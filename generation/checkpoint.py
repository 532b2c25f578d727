"""A checkpoint is a folder that says where it came from.

    model.safetensors   the weights (no pickle: loading a checkpoint runs no code)
    config.json         model arguments, tokenizer, training config, data split and file hashes,
                        dataset roots, code version, final metrics
    originality.npz     the training pieces' interval index, so every sample can be checked

This folder, and nothing else, is what the workers hash, sign (OpenSSF model-signing) and pin.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

from generation.files import file_sha256
from generation.metrics import NoteIndex
from generation.tokenizers import Tokenizer, tokenizer_from_dict

WEIGHTS = "model.safetensors"
CONFIG = "config.json"
ORIGINALITY = "originality.npz"


class CheckpointError(ValueError):
    """The folder is not a complete checkpoint."""


@dataclass(frozen=True)
class Checkpoint:
    folder: Path

    @classmethod
    def open(cls, folder: Path | str) -> Checkpoint:
        path = Path(folder)
        missing = [name for name in (WEIGHTS, CONFIG) if not (path / name).is_file()]
        if missing:
            raise CheckpointError(f"{path} is not a checkpoint: {', '.join(missing)} missing")
        return cls(path)

    @property
    def config(self) -> dict[str, Any]:
        return dict(json.loads((self.folder / CONFIG).read_text()))

    def tokenizer(self) -> Tokenizer:
        return tokenizer_from_dict(self.config["tokenizer"])

    def originality_index(self) -> NoteIndex | None:
        path = self.folder / ORIGINALITY
        return NoteIndex.load(path) if path.is_file() else None

    def weights_sha256(self) -> str:
        return file_sha256(self.folder / WEIGHTS)


def weights_write(model: torch.nn.Module, path: Path) -> None:
    """The same bytes for the same weights in every process. safetensors' save_model notes each
    tied weight it drops in the file's metadata, and writes the metadata in an order that changes
    from process to process (a rebuilt demo model differed from the committed one in that order
    alone); here a tied weight is saved once, under its first name (the one safetensors'
    load_model expects), and the metadata holds one entry."""
    partial = path.with_name(path.name + ".part")
    tensors: dict[str, torch.Tensor] = {}
    saved: set[tuple[int, int, tuple[int, ...]]] = set()
    for name, tensor in sorted(model.state_dict().items()):
        key = (tensor.untyped_storage().data_ptr(), tensor.storage_offset(), tuple(tensor.shape))
        if key not in saved:
            saved.add(key)
            tensors[name] = tensor.contiguous()
    save_file(tensors, str(partial), metadata={"format": "pt"})
    os.chmod(partial, 0o644)
    os.replace(partial, path)


def code_version() -> dict[str, Any]:
    """The commit and whether generation/ differed from it (when run from a git checkout), the
    library versions, and a hash of generation/'s source, which needs no git."""
    root = Path(__file__).parent
    digest = hashlib.sha256()
    for source in sorted(root.rglob("*.py")):
        digest.update(source.relative_to(root).as_posix().encode() + b"\0" + source.read_bytes() + b"\0")
    return {
        **_git(root),
        "source_sha256": digest.hexdigest(),
        "libraries": {name: _version(name) for name in LIBRARIES},
    }


LIBRARIES = ("torch", "numpy", "miditok", "symusic", "music21", "safetensors", "librosa", "soxr", "soundfile")


def _git(root: Path) -> dict[str, Any]:
    try:
        commit = _run(["git", "rev-parse", "HEAD"], root)
        changed = _run(["git", "status", "--porcelain", "--", "."], root)
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "uncommitted_changes": None}
    return {"commit": commit, "uncommitted_changes": bool(changed)}


def _run(command: list[str], cwd: Path) -> str:
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=True, timeout=10).stdout.strip()


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None
