"""A run's recordings as spectrogram images, with the tags of the file each came from.

Every audio file of the manifest is decoded and turned into one image (spectrogram.image);
training draws windows of FRAMES frames at random offsets from them, so a window inherits its
file's tags and hash. Files are split by the first hex digit of their SHA-256's hash with a
salt: one in eight is held out for the validation loss (none when a run has fewer than
five files). Silent stretches (every band below -70 dB) are not drawn.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from generation.audio.dataset import AudioError
from generation.audio.family import MIDI
from generation.spectral.spectrogram import FRAMES, HOP, RATE, audio_decode, image
from generation.spectral.tags import tags_clean

SILENT = -0.75  # an image value: -70 dB


@dataclass(frozen=True)
class Recording:
    path: str  # as the manifest names it
    sha256: str
    tags: list[str]
    caption: str
    picture: np.ndarray  # MELS x frames
    starts: np.ndarray  # the offsets a window may start at (not silent)

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "sha256": self.sha256,
            "tags": self.tags,
            "caption": self.caption,
            "seconds": round(self.picture.shape[1] * HOP / RATE, 3),
            "windows": self.windows,
        }

    @property
    def windows(self) -> int:
        """Whole windows in it: what its rights holders' share of the training is weighed by."""
        return max(1, self.picture.shape[1] // FRAMES)


@dataclass
class Recordings:
    items: list[Recording] = field(default_factory=list)

    @property
    def vocabulary(self) -> list[str]:
        return sorted({t for r in self.items for t in r.tags})

    def split(self) -> tuple[Recordings, Recordings]:
        """(training, held out): held out files are those whose salted hash starts with 0 or 1
        of 16 hex digits, where there are five files or more."""
        if len(self.items) < 5:
            return self, Recordings()
        out = [hashlib.sha256(b"held-out:" + r.sha256.encode()).hexdigest()[0] in "01" for r in self.items]
        if not any(out) or all(out):
            return self, Recordings()
        return (
            Recordings([r for r, o in zip(self.items, out, strict=True) if not o]),
            Recordings([r for r, o in zip(self.items, out, strict=True) if o]),
        )

    def draw(self, count: int, generator: np.random.Generator) -> tuple[np.ndarray, list[list[str]]]:
        """``count`` windows at random (files weighed by their length), and their tags."""
        weights = np.array([len(r.starts) for r in self.items], dtype=np.float64)
        which = generator.choice(len(self.items), size=count, p=weights / weights.sum())
        pictures, tags = [], []
        for n in which:
            item = self.items[n]
            start = int(item.starts[generator.integers(len(item.starts))])
            pictures.append(item.picture[:, start : start + FRAMES])
            tags.append(item.tags)
        return np.stack(pictures), tags

    def fixed(self, per_file: int = 4) -> tuple[np.ndarray, list[list[str]]]:
        """Up to ``per_file`` evenly spaced windows of each file: the same ones every time."""
        pictures, tags = [], []
        for item in self.items:
            for start in item.starts[np.linspace(0, len(item.starts) - 1, per_file).astype(int)]:
                pictures.append(item.picture[:, int(start) : int(start) + FRAMES])
                tags.append(item.tags)
        return np.stack(pictures), tags


def recording(data: bytes, *, path: str, sha256: str, tags: list[str], caption: str = "") -> Recording:
    picture = image(audio_decode(data, filename=path))
    if picture.shape[1] < FRAMES:  # a short file: padded with silence to one window
        picture = np.pad(picture, ((0, 0), (0, FRAMES - picture.shape[1])), constant_values=-1.0)
    loud = picture.max(axis=0) > SILENT
    loud_windows = np.convolve(loud, np.ones(FRAMES), mode="valid") > FRAMES // 4
    starts = np.flatnonzero(loud_windows)
    if not len(starts):
        raise AudioError(f"{path} is silent (below -70 dB throughout)")
    return Recording(path, sha256, tags_clean(tags), caption, picture, starts)


def manifest_recordings(data: Path, files: list[dict[str, Any]]) -> Recordings:
    """The manifest's audio files (MIDI skipped), each with the tags the manifest gives it."""
    items = []
    for entry in files:
        if Path(entry["path"]).suffix.lower() in MIDI:
            continue
        raw = (data / entry["path"]).read_bytes()
        if hashlib.sha256(raw).hexdigest() != entry["sha256"]:
            raise AudioError(f"{entry['path']} does not match its SHA-256")
        items.append(
            recording(
                raw,
                path=entry["path"],
                sha256=entry["sha256"],
                tags=entry.get("tags", []),
                caption=entry.get("caption", ""),
            )
        )
    if not items:
        raise AudioError("there are no audio files to train a spectrogram model on")
    return Recordings(items)
