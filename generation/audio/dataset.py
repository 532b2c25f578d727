"""A sound set: one-second 16 kHz clips, each with a group label and where it came from.

Clips come from synthesis (the source is the `Synth` description, which renders the same samples
again) or from an uploaded or recorded file (the source is the file's SHA-256, name, format, rate
and the clip's offset in it). Imported audio is mixed to mono, resampled to 16 kHz with a
band-limited resampler (soxr, very high quality), cut into one-second windows, and each window gets
10 ms raised-cosine fades so that a cut never clicks; the last window is zero-padded.

On disk a set is a folder:

    audio-<hash>.npy   float32, clips x 16000, named by the start of its SHA-256
    clips.json         one entry per clip (name, group, sha256 of its samples, source), and the
                       audio file's name and full SHA-256, checked on loading

Saving writes the audio under a new name first and then replaces clips.json, so an interrupted
save leaves the previous set whole.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soundfile
import soxr

from generation.audio.synth import CLIP_SAMPLES, SAMPLE_RATE, Audio, Synth, synthesise
from generation.files import file_sha256, json_write, write_atomic

CLIPS = "clips.json"
FADE_SECONDS = 0.01
MIN_TAIL_SECONDS = 0.1  # a last window shorter than this is dropped rather than padded to a second
FORMATS = "WAV, FLAC, AIFF, OGG (Vorbis, Opus) and MP3"


class AudioError(ValueError):
    """Audio that cannot be used, with the reason in words."""


@dataclass(frozen=True)
class Clip:
    name: str
    group: str
    sha256: str  # of the clip's float32 samples
    source: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "group": self.group, "sha256": self.sha256, "source": self.source}


@dataclass
class SoundSet:
    audio: Audio = field(default_factory=lambda: np.zeros((0, CLIP_SAMPLES), dtype=np.float32))
    clips: list[Clip] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.clips)

    @property
    def groups(self) -> list[str]:
        return sorted({clip.group for clip in self.clips})

    def index(self, name: str) -> int:
        for i, clip in enumerate(self.clips):
            if clip.name == name:
                return i
        raise AudioError(f"no clip named {name!r} in this set")

    def select(self, indices: Iterable[int]) -> SoundSet:
        rows = list(indices)
        return SoundSet(self.audio[rows], [self.clips[i] for i in rows])

    def filter(self, *, groups: Sequence[str] | None = None) -> SoundSet:
        return self.select(i for i, clip in enumerate(self.clips) if groups is None or clip.group in groups)

    def extend(self, other: SoundSet) -> SoundSet:
        """This set followed by `other`; a name already taken becomes the group's next free number."""
        taken = {clip.name for clip in self.clips}
        renamed = []
        for clip in other.clips:
            name, n = clip.name, 0
            while name in taken:
                name, n = f"{clip.group}{n}", n + 1
            taken.add(name)
            renamed.append(Clip(name, clip.group, clip.sha256, clip.source))
        return SoundSet(np.concatenate([self.audio, other.audio]), self.clips + renamed)

    def audio_sha256(self) -> str:
        return samples_sha256(self.audio)

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        staged = folder / "audio.npy.new"
        write_atomic(staged, lambda stream: np.save(stream, self.audio.astype("<f4"), allow_pickle=False))
        digest = file_sha256(staged)
        audio = folder / f"audio-{digest[:16]}.npy"
        staged.replace(audio)
        document = {"sample_rate": SAMPLE_RATE, "audio": audio.name, "audio_sha256": digest}
        json_write(folder / CLIPS, {**document, "clips": [c.to_dict() for c in self.clips]})
        for old in folder.glob("audio-*.npy"):
            if old != audio:
                old.unlink()

    @classmethod
    def load(cls, folder: Path) -> SoundSet:
        try:
            document = json.loads((folder / CLIPS).read_text())
            path = folder / Path(document["audio"]).name
            digest = file_sha256(path)
            clips = [Clip(c["name"], c["group"], c["sha256"], c["source"]) for c in document["clips"]]
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise AudioError(f"{folder} is not a sound set: {error!r}") from None
        if digest != document.get("audio_sha256"):
            raise AudioError(f"{path} does not match the hash in {CLIPS}: it was changed or damaged")
        audio = np.load(path, allow_pickle=False)
        if audio.shape != (len(clips), CLIP_SAMPLES):
            raise AudioError(f"{folder}: {audio.shape[0]} clips of audio for {len(clips)} descriptions")
        return cls(audio, clips)


def samples_sha256(samples: Audio) -> str:
    return hashlib.sha256(np.ascontiguousarray(samples, dtype="<f4").tobytes()).hexdigest()


def synth_set(specs: Sequence[Synth]) -> SoundSet:
    """Synthesised clips named by group and number (the thesis' track ids: bells0, bells1, ...)."""
    audio = synthesise(specs)
    counts: dict[str, int] = {}
    clips = []
    for spec, samples in zip(specs, audio, strict=True):
        n = counts[spec.group] = counts.get(spec.group, -1) + 1
        source = {"kind": "synth", "synth": spec.to_dict()}
        clips.append(Clip(f"{spec.group}{n}", spec.group, samples_sha256(samples), source))
    return SoundSet(audio, clips)


def audio_read(data: bytes, *, filename: str) -> tuple[np.ndarray, int]:
    """An audio file's samples (frames x channels, float32) and rate, or an AudioError that says
    why it cannot be used."""
    if not data:
        raise AudioError(f"{filename} is empty")
    try:
        decoded, rate = soundfile.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, TypeError) as error:
        raise AudioError(f"{filename} could not be read as audio ({error}); accepted formats: {FORMATS}") from None
    if decoded.shape[0] == 0:
        raise AudioError(f"{filename} holds no samples")
    if not np.isfinite(decoded).all():
        raise AudioError(f"{filename} holds samples that are not numbers")
    return decoded, int(rate)


def file_import(data: bytes, *, filename: str, group: str) -> SoundSet:
    """An uploaded or recorded file as one-second clips; refuses what it cannot decode, with why."""
    decoded, rate = audio_read(data, filename=filename)
    mono = decoded.mean(axis=1)
    resampled = soxr.resample(mono, rate, SAMPLE_RATE, quality="VHQ") if rate != SAMPLE_RATE else mono
    digest = hashlib.sha256(data).hexdigest()
    audio, clips = [], []
    for n, start in enumerate(range(0, len(resampled), CLIP_SAMPLES)):
        piece = resampled[start : start + CLIP_SAMPLES]
        if n > 0 and len(piece) < MIN_TAIL_SECONDS * SAMPLE_RATE:
            break
        window = _faded(piece)
        source = {
            "kind": "file",
            "filename": filename,
            "sha256": digest,
            "offset_seconds": start / SAMPLE_RATE,
            "sample_rate": int(rate),
            "channels": int(decoded.shape[1]),
        }
        audio.append(window)
        clips.append(Clip(f"{group}{n}", group, samples_sha256(window), source))
    return SoundSet(np.stack(audio), clips)


def _faded(piece: Audio) -> Audio:
    fade = int(FADE_SECONDS * SAMPLE_RATE)
    ramp = (0.5 - 0.5 * np.cos(np.pi * np.arange(fade) / fade)).astype(np.float32)
    window = np.zeros(CLIP_SAMPLES, dtype=np.float32)
    window[: len(piece)] = piece
    n = min(fade, len(piece) // 2)
    window[:n] *= ramp[:n]
    window[len(piece) - n : len(piece)] *= ramp[:n][::-1]
    return np.clip(window, -1.0, 1.0)
