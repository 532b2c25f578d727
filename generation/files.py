"""Files written whole or not at all: a killed process leaves the old file or none, never half."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any


def write_atomic(path: Path, write: Callable[[IO[bytes]], object]) -> None:
    partial = path.with_name(path.name + ".part")
    with partial.open("wb") as stream:
        write(stream)
    os.chmod(partial, 0o644)
    os.replace(partial, path)


def json_write(path: Path, document: dict[str, Any]) -> None:
    text = json.dumps(document, indent=1, ensure_ascii=False, sort_keys=True) + "\n"
    write_atomic(path, lambda stream: stream.write(text.encode()))


def file_sha256(path: Path) -> str:
    with path.open("rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()
