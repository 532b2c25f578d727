"""New sounds from a trained sound VAE: interpolation between sounds, paths through several, and
samples from the prior, delivered at 44.1 or 48 kHz as 24-bit WAV.

Sounds are encoded to their latent means (not a random draw), so a sound always lands on the same
point, and interpolating at ratio 0 or 1 gives exactly the endpoints' reconstructions. The model
makes 16 kHz; the upsampling is band-limited (soxr, very high quality), where the thesis
interpolated linearly between samples and so mirrored the spectrum above 8 kHz as audible images.

The same model, inputs, seed and ratio give byte-identical WAV on the same machine, library
versions and thread count; `Sound.provenance` records them.
"""

from __future__ import annotations

import hashlib
import io
import platform
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any

import numpy as np
import soundfile
import soxr
import torch

from generation.audio.dataset import SoundSet
from generation.audio.model import VAE
from generation.audio.synth import SAMPLE_RATE, Audio
from generation.audio.train import AudioCheckpoint
from generation.audio.views import pca_map

OUTPUT_RATES = (44_100, 48_000)


class GenerationError(ValueError):
    """A generation request that cannot be met, with the reason."""


@dataclass(frozen=True)
class Sound:
    audio: Audio  # at 16 kHz, as decoded
    wav: bytes  # upsampled, 24-bit PCM
    rate: int
    sha256: str  # of `wav`
    provenance: dict[str, Any]


class SoundModel:
    """A checkpoint loaded for generation."""

    def __init__(self, checkpoint: AudioCheckpoint):
        self.checkpoint = checkpoint
        self.vae: VAE = checkpoint.load()
        self.weights_sha256: str = checkpoint.config["weights_sha256"]  # load() checked the file against it

    @torch.no_grad()
    def encode(self, audio: Audio) -> np.ndarray:
        """Latent means, one row per clip."""
        batch = torch.from_numpy(np.ascontiguousarray(np.atleast_2d(audio), dtype=np.float32))
        return torch.cat([self.vae.encode(part)[0] for part in batch.split(16)]).numpy()

    @torch.no_grad()
    def decode(self, latents: np.ndarray) -> Audio:
        z = torch.from_numpy(np.ascontiguousarray(np.atleast_2d(latents), dtype=np.float32))
        return torch.cat([self.vae.decode(part) for part in z.split(16)]).numpy()

    def latent_map(self, sounds: SoundSet) -> dict[str, Any]:
        """The set's latent means projected on their two principal axes: the map the composer
        picks two sounds on."""
        return pca_map(sounds, self.encode(sounds.audio))

    def _provenance(self, **request: Any) -> dict[str, Any]:
        return {
            "model": {"weights_sha256": self.weights_sha256, "kind": self.vae.config.kind},
            **request,
            "libraries": {name: version(name) for name in ("torch", "numpy", "soxr", "soundfile")},
            "machine": platform.machine(),
            "threads": torch.get_num_threads(),
        }

    def interpolate(self, sounds: SoundSet, names: Sequence[str], ratio: float, *, rate: int = 44_100) -> Sound:
        """The point `ratio` of the way from the first sound to the second (0: the first)."""
        if len(names) != 2:
            raise GenerationError("interpolation takes exactly two sounds")
        if not 0 <= ratio <= 1:
            raise GenerationError(f"the ratio must be between 0 and 1, not {ratio}")
        latents = self.encode(sounds.audio[[sounds.index(n) for n in names]])
        z = (1 - ratio) * latents[0] + ratio * latents[1]
        return self._sound(z, rate, kind="interpolation", inputs=_inputs(sounds, names), ratio=ratio)

    def path(self, sounds: SoundSet, names: Sequence[str], steps: int, *, rate: int = 44_100) -> list[Sound]:
        """`steps` points evenly spaced along the polyline through the sounds' latents, first to last."""
        if len(names) < 2 or steps < 2:
            raise GenerationError("a path needs at least two sounds and two steps")
        latents = self.encode(sounds.audio[[sounds.index(n) for n in names]])
        lengths = np.linalg.norm(np.diff(latents, axis=0), axis=1)
        at = np.concatenate([[0], np.cumsum(lengths)])
        positions = np.linspace(0, at[-1], steps)
        points = np.stack([np.interp(positions, at, latents[:, d]) for d in range(latents.shape[1])], axis=1)
        inputs = _inputs(sounds, names)
        return [self._sound(z, rate, kind="path", inputs=inputs, step=i, steps=steps) for i, z in enumerate(points)]

    def prior(self, count: int, *, seed: int, rate: int = 44_100) -> list[Sound]:
        """Random sounds: latents drawn from N(0, I) with the seed."""
        if count < 1:
            raise GenerationError("ask for at least one sound")
        z = torch.randn((count, self.vae.config.latent), generator=torch.Generator().manual_seed(seed)).numpy()
        return [self._sound(row, rate, kind="prior", seed=seed, index=i) for i, row in enumerate(z)]

    def _sound(self, z: np.ndarray, rate: int, **request: Any) -> Sound:
        audio = self.decode(z)[0]
        wav = wav_bytes(upsample(audio, rate), rate)
        provenance = self._provenance(**request, rate=rate)
        return Sound(audio, wav, rate, hashlib.sha256(wav).hexdigest(), provenance)


def _inputs(sounds: SoundSet, names: Sequence[str]) -> list[dict[str, str]]:
    return [{"name": n, "sha256": sounds.clips[sounds.index(n)].sha256} for n in names]


def upsample(audio: Audio, rate: int) -> Audio:
    """16 kHz -> `rate`, band-limited: nothing above 8 kHz is invented."""
    if rate not in OUTPUT_RATES:
        raise GenerationError(f"output rate {rate} Hz is not offered; choose {' or '.join(map(str, OUTPUT_RATES))}")
    return np.asarray(
        soxr.resample(np.asarray(audio, dtype=np.float64), SAMPLE_RATE, rate, quality="VHQ"), dtype=np.float32
    )


def wav_bytes(audio: Audio, rate: int) -> bytes:
    """Mono 24-bit PCM WAV; samples beyond full scale are clipped rather than wrapped."""
    buffer = io.BytesIO()
    soundfile.write(buffer, np.clip(audio, -1.0, 1.0), rate, subtype="PCM_24", format="WAV")
    return buffer.getvalue()
