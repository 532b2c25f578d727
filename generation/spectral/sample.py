"""Pieces from a trained spectrogram diffusion model: a prompt, a seed, and DDIM.

A piece longer than one window is drawn window by window; each new window starts with the last
32 frames (0.74 s) of the one before as known content (outpainting by replacement: at every step
those frames are set to the known picture noised to the step's level), so the windows continue
one another and the piece is turned into audio whole. Guidance mixes the prompted and the
unprompted prediction: unprompted + guidance x (prompted - unprompted).

A morph goes from the prompt to a second one (and/or from the seed's noise to a second seed's,
slerped) across the piece's windows, or stands at one point between them (``ratio``). A
variation starts from a recording's picture noised to ``strength`` (0: the recording itself, 1:
a new piece) and keeps its length unless a duration is asked.

The same checkpoint and request give the same WAV bytes on the same machine, library versions
and thread count; the provenance records them.
"""

from __future__ import annotations

import hashlib
import platform
from dataclasses import asdict, dataclass
from importlib.metadata import version
from typing import Any

import numpy as np
import torch

from generation.spectral.model import TagDiffusion, sampling_schedule
from generation.spectral.spectrogram import (
    FRAMES,
    GRIFFIN_LIM_ITERATIONS,
    HOP,
    MELS,
    OUTPUT_RATE,
    RATE,
    audio_of,
    frames_of,
    wav_bytes,
)
from generation.spectral.tags import prompt_tags
from generation.spectral.train import SpectralCheckpoint

OVERLAP = 32  # frames each window shares with the one before
MAX_SECONDS = 60.0
MAX_STEPS = 200


class SampleError(ValueError):
    """A request the model cannot meet, with the reason."""


@dataclass(frozen=True)
class Ask:
    prompt: str = ""
    seed: int = 0
    steps: int = 25
    guidance: float = 3.0
    seconds: float | None = None  # default: 5 s, or the variation source's length
    morph: str | None = None  # a second prompt
    morph_seed: int | None = None
    ratio: float | None = None  # one point of the morph; None: the piece travels it
    strength: float = 0.5  # a variation's: how far from its source


@dataclass(frozen=True)
class Piece:
    wav: bytes
    picture: np.ndarray  # MELS x frames, what was turned into audio
    provenance: dict[str, Any]


class SpectralModel:
    def __init__(self, checkpoint: SpectralCheckpoint, device: str = "cpu"):
        self.checkpoint = checkpoint
        self.device = device
        self.net: TagDiffusion = checkpoint.load(device)
        self.weights_sha256: str = checkpoint.config["weights_sha256"]

    @property
    def vocabulary(self) -> list[str]:
        return list(self.net.config.vocabulary)

    def check(self, ask: Ask) -> None:
        """A SampleError (or the model's PromptError) for a request it cannot meet."""
        prompt_tags(ask.prompt, self.vocabulary)
        if ask.morph is not None:
            prompt_tags(ask.morph, self.vocabulary)
        if not 1 <= ask.steps <= MAX_STEPS:
            raise SampleError(f"steps must be from 1 to {MAX_STEPS}")
        if not 0 <= ask.guidance <= 20:
            raise SampleError("guidance must be from 0 to 20")
        if ask.seconds is not None and not 0.5 <= ask.seconds <= MAX_SECONDS:
            raise SampleError(f"the duration must be from 0.5 to {MAX_SECONDS:g} seconds")
        if ask.ratio is not None and not 0 <= ask.ratio <= 1:
            raise SampleError("ratio must be from 0 to 1")
        if not 0 < ask.strength <= 1:
            raise SampleError("strength must be more than 0 and at most 1")

    def piece(self, ask: Ask, *, source: np.ndarray | None = None, source_sha256: str | None = None) -> Piece:
        """The piece ``ask`` describes; with ``source`` (a picture), a variation of it."""
        picture, seconds, starts = self.picture(ask, source=source)
        wav = wav_bytes(audio_of(picture, seconds=seconds))
        request = {k: v for k, v in asdict(ask).items() if v is not None}
        if source is None:
            request.pop("strength")
        provenance = {
            "model": {"weights_sha256": self.weights_sha256, "kind": "spectral-diffusion"},
            "request": {**request, "seconds": seconds},
            "tags": prompt_tags(ask.prompt, self.vocabulary),
            **({"variation": {"sha256": source_sha256, "strength": ask.strength}} if source is not None else {}),
            "sampler": {"name": "DDIM", "eta": 0, "timestep_spacing": "trailing", "windows": starts},
            "phase": {"name": "Griffin-Lim (fast)", "iterations": GRIFFIN_LIM_ITERATIONS, "momentum": 0.99},
            "rate": OUTPUT_RATE,
            "sha256": hashlib.sha256(wav).hexdigest(),
            "libraries": {name: version(name) for name in ("torch", "diffusers", "numpy", "librosa", "soxr")},
            "machine": platform.machine(),
            "threads": torch.get_num_threads(),
        }
        return Piece(wav, picture, provenance)

    @torch.no_grad()
    def picture(self, ask: Ask, *, source: np.ndarray | None = None) -> tuple[np.ndarray, float, list[int]]:
        """(the piece's picture, its seconds, the frames its windows start at)."""
        self.check(ask)
        seconds = ask.seconds or (min(MAX_SECONDS, source.shape[1] * HOP / RATE) if source is not None else 5.0)
        frames = max(FRAMES, frames_of(seconds))
        starts = sorted({*range(0, frames - FRAMES, FRAMES - OVERLAP), frames - FRAMES})
        picture = np.full((MELS, frames), -1.0, dtype=np.float32)
        first, second = self._embedding(ask.prompt), self._embedding(ask.morph or ask.prompt)
        empty = self._embedding("")
        for k, start in enumerate(starts):
            at = ask.ratio if ask.ratio is not None else (k / (len(starts) - 1) if len(starts) > 1 else 0.0)
            noise = _noise(ask.seed, k)
            if ask.morph_seed is not None:
                noise = _slerp(noise, _noise(ask.morph_seed, k), at)
            known = min(OVERLAP, starts[k - 1] + FRAMES - start) if k else 0
            init = None
            if source is not None:
                init = np.full((MELS, FRAMES), -1.0, dtype=np.float32)
                part = source[:, start : start + FRAMES]
                init[:, : part.shape[1]] = part
            condition = torch.lerp(first, second, at)
            window = self._window(noise, condition, empty, ask, known=picture[:, start : start + known], init=init)
            picture[:, start + known : start + FRAMES] = window[:, known:]
        return picture, seconds, starts

    def _embedding(self, prompt: str) -> torch.Tensor:
        tags = prompt_tags(prompt, self.vocabulary)
        return self.net.embed(self.net.multi_hot([tags]).to(self.device))

    def _window(
        self,
        noise: torch.Tensor,
        condition: torch.Tensor,
        empty: torch.Tensor,
        ask: Ask,
        *,
        known: np.ndarray,
        init: np.ndarray | None,
    ) -> np.ndarray:
        schedule = sampling_schedule()
        schedule.set_timesteps(ask.steps)
        timesteps = schedule.timesteps
        if init is not None:
            timesteps = timesteps[ask.steps - max(1, round(ask.steps * ask.strength)) :]
            x = schedule.add_noise(torch.from_numpy(init)[None, None], noise, timesteps[:1])
        else:
            x = noise.clone()
        width = known.shape[1]
        fixed = torch.from_numpy(np.ascontiguousarray(known))[None, None]
        conditions = torch.cat([condition, empty])
        for t in timesteps:
            if width:
                x[..., :width] = schedule.add_noise(fixed, noise[..., :width], t.reshape(1))
            both = torch.cat([x, x]).to(self.device)
            v = self.net(both, torch.full((2,), int(t), device=self.device), conditions).cpu()
            v = v[1:] + ask.guidance * (v[:1] - v[1:])
            x = schedule.step(v, t, x).prev_sample
        if width:
            x[..., :width] = fixed
        return x[0, 0].clamp(-1, 1).numpy()


def _noise(seed: int, window: int) -> torch.Tensor:
    """The noise a window starts from: its own stream, derived from the seed (any size) and its place."""
    derived = int.from_bytes(hashlib.sha256(f"{seed}:{window}".encode()).digest()[:8], "big") >> 1
    generator = torch.Generator().manual_seed(derived)
    return torch.randn((1, 1, MELS, FRAMES), generator=generator)


def _slerp(a: torch.Tensor, b: torch.Tensor, at: float) -> torch.Tensor:
    """Spherical interpolation: noise between two seeds keeps a Gaussian's norm."""
    cosine = float((a * b).sum() / (a.norm() * b.norm()))
    angle = float(np.arccos(np.clip(cosine, -1.0, 1.0)))
    if angle < 1e-4:
        return torch.lerp(a, b, at)
    return (np.sin((1 - at) * angle) * a + np.sin(at * angle) * b) / np.sin(angle)
