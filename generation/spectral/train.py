"""Train the tag-conditioned spectrogram diffusion model, new or continuing a checkpoint.

Each step draws a batch of windows at random offsets of the training files, drops the tags of
one window in ten (so the model also learns the unconditioned picture that guidance pushes
away from), noises them at uniform timesteps, and regresses the v-prediction. The learning rate
warms up over 100 steps, then follows a cosine to a tenth; an exponential moving average of the
weights (0.999) is what is saved and sampled. The held-out figure is the v-prediction error of the
held-out files' windows at fixed timesteps and noise, so it is comparable between evaluations.

The checkpoint is a folder:

    model.safetensors   the averaged weights
    config.json         the model config (with its tag vocabulary), the training config, every
                        file's path, SHA-256, tags and windows, the held-out files, the loss history,
                        the model it continued, code and library versions

Training resumes from ``resume.pt`` beside that folder (weights, average, optimiser, step).
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from generation.checkpoint import code_version, weights_write
from generation.files import file_sha256, json_write
from generation.spectral.model import SpectralConfig, TagDiffusion, training_schedule
from generation.spectral.windows import Recordings

WEIGHTS = "model.safetensors"
CONFIG = "config.json"
RESUME = "resume.pt"
WARMUP = 100
HELD_OUT_SEED = 1234


class TrainingError(ValueError):
    """A training request or checkpoint that cannot be used, with the reason."""


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 3000  # optimiser steps in all (a resumed run counts those it already took)
    batch_size: int = 16  # windows per step
    lr: float = 5e-4  # peak learning rate (AdamW)
    seed: int = 0
    max_minutes: float | None = None  # stop at the first evaluation past this wall-clock budget
    eval_every: int = 100  # steps between held-out evaluations, reports and resume points
    ema: float = 0.999  # the weights' moving average's decay
    device: str = "cpu"


Progress = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class SpectralCheckpoint:
    folder: Path

    @property
    def config(self) -> dict[str, Any]:
        path = self.folder / CONFIG
        if not path.is_file() or not (self.folder / WEIGHTS).is_file():
            raise TrainingError(f"{self.folder} is not a spectrogram model checkpoint")
        return dict(json.loads(path.read_text()))

    def model_config(self) -> SpectralConfig:
        return SpectralConfig.from_dict(self.config["model"])

    def load(self, device: str = "cpu") -> TagDiffusion:
        config = self.config
        if file_sha256(self.folder / WEIGHTS) != config["weights_sha256"]:
            raise TrainingError(f"{self.folder / WEIGHTS} does not match the SHA-256 its config records")
        net = TagDiffusion(SpectralConfig.from_dict(config["model"]))
        try:
            net.load_state_dict(load_file(str(self.folder / WEIGHTS)))
        except (SafetensorError, RuntimeError) as exc:
            raise TrainingError(f"the weights do not fit the model config: {exc}") from None
        return net.to(device).eval()


def train(
    recordings: Recordings,
    out: Path,
    *,
    model: SpectralConfig,
    config: TrainConfig,
    base: SpectralCheckpoint | None = None,
    progress: Progress | None = None,
) -> SpectralCheckpoint:
    if config.steps < 1 or config.batch_size < 1:
        raise TrainingError("training takes at least one step of at least one window")
    if base is not None:
        model = base.model_config()  # a continued model keeps its shape and its tags
    model = replace(model, vocabulary=sorted({*recordings.vocabulary, *model.vocabulary}))
    torch.manual_seed(config.seed)
    net = TagDiffusion(model)
    if base is not None:
        _continue(net, base)
    net.to(config.device)
    average = copy.deepcopy(net).eval().requires_grad_(False)
    optimiser = torch.optim.AdamW(net.parameters(), lr=config.lr, weight_decay=0.01)
    step, history = 0, []
    resume = out.parent / RESUME
    if resume.is_file():
        state = torch.load(resume, map_location=config.device, weights_only=True)
        net.load_state_dict(state["net"])
        average.load_state_dict(state["average"])
        optimiser.load_state_dict(state["optimiser"])
        step, history = int(state["step"]), json.loads(state["history"])
    training, held = recordings.split()
    loop = _Loop(net, average, optimiser, training, held if held.items else training, config)
    started = time.monotonic()
    while step < config.steps:
        losses = [loop.step(step + n) for n in range(min(config.eval_every, config.steps - step))]
        step += len(losses)
        point = {"step": step, "train_loss": float(np.mean(losses)), "held_out": loop.held_out()}
        history.append(point)
        out.parent.mkdir(parents=True, exist_ok=True)
        state = {
            "net": net.state_dict(),
            "average": average.state_dict(),
            "optimiser": optimiser.state_dict(),
            "step": step,
            "history": json.dumps(history),
        }
        torch.save(state, resume.with_suffix(".part"))
        resume.with_suffix(".part").replace(resume)
        if progress is not None:
            progress({**point, "max_steps": config.steps})
        if config.max_minutes is not None and time.monotonic() - started > config.max_minutes * 60:
            break
    return _save(out, average, model, config, recordings, held, history, base)


class _Loop:
    def __init__(
        self,
        net: TagDiffusion,
        average: TagDiffusion,
        optimiser: torch.optim.Optimizer,
        training: Recordings,
        held: Recordings,
        config: TrainConfig,
    ):
        self.net, self.average, self.optimiser, self.training, self.config = net, average, optimiser, training, config
        self.schedule = training_schedule()
        self.held_pictures, self.held_tags = held.fixed()

    def step(self, step: int) -> float:
        config, device = self.config, self.config.device
        generator = torch.Generator().manual_seed(config.seed * 1_000_003 + step)
        pictures, tags = self.training.draw(config.batch_size, np.random.default_rng([config.seed, step]))
        clean = torch.from_numpy(pictures)[:, None]
        hot = self.net.multi_hot(tags)
        hot[torch.rand(len(tags), generator=generator) < self.net.config.drop] = 0.0
        noise = torch.randn(clean.shape, generator=generator)
        t = torch.randint(0, self.schedule.config.num_train_timesteps, (len(tags),), generator=generator)
        noisy = self.schedule.add_noise(clean, noise, t)
        target = self.schedule.get_velocity(clean, noise, t)
        self.net.train()
        predicted = self.net(noisy.to(device), t.to(device), self.net.embed(hot.to(device)))
        loss = torch.nn.functional.mse_loss(predicted, target.to(device))
        for group in self.optimiser.param_groups:
            group["lr"] = config.lr * _lr_factor(step, config.steps)
        self.optimiser.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.net.parameters(), 1.0)
        self.optimiser.step()
        decay = min(config.ema, (1 + step) / (10 + step))
        with torch.no_grad():
            for kept, current in zip(self.average.parameters(), self.net.parameters(), strict=True):
                kept.lerp_(current, 1 - decay)
        return loss.item()

    @torch.no_grad()
    def held_out(self) -> float:
        """The average's v-prediction error on the held-out windows, timesteps spread evenly."""
        generator = torch.Generator().manual_seed(HELD_OUT_SEED)
        clean = torch.from_numpy(self.held_pictures)[:, None]
        noise = torch.randn(clean.shape, generator=generator)
        steps = self.schedule.config.num_train_timesteps
        t = torch.linspace(0, steps - 1, len(clean)).long()
        noisy = self.schedule.add_noise(clean, noise, t)
        target = self.schedule.get_velocity(clean, noise, t)
        device, errors = self.config.device, []
        for part in range(0, len(clean), 32):
            rows = slice(part, part + 32)
            hot = self.average.multi_hot(self.held_tags[rows]).to(device)
            predicted = self.average(noisy[rows].to(device), t[rows].to(device), self.average.embed(hot))
            errors.append(((predicted.cpu() - target[rows]) ** 2).mean(dim=(1, 2, 3)))
        return float(torch.cat(errors).mean())


def _lr_factor(step: int, steps: int) -> float:
    if step < WARMUP:
        return (step + 1) / WARMUP
    return 0.1 + 0.45 * (1 + math.cos(math.pi * min(1.0, step / max(1, steps))))


def _continue(net: TagDiffusion, base: SpectralCheckpoint) -> None:
    """The base model's weights; its tags keep their vectors, new tags start small and random."""
    previous = base.load()
    state = previous.state_dict()
    old = {t: i for i, t in enumerate(previous.config.vocabulary)}
    tags = net.tags.detach().clone()
    for row, name in enumerate(net.config.vocabulary):
        if name in old:
            tags[row] = state["tags"][old[name]]
    state["tags"] = tags
    net.load_state_dict(state)


def _save(
    out: Path,
    average: TagDiffusion,
    model: SpectralConfig,
    config: TrainConfig,
    recordings: Recordings,
    held: Recordings,
    history: list[dict[str, Any]],
    base: SpectralCheckpoint | None,
) -> SpectralCheckpoint:
    out.mkdir(parents=True, exist_ok=True)
    weights_write(average.cpu(), out / WEIGHTS)
    files = sorted(recordings.items, key=lambda r: r.path)
    document = {
        "kind": "spectral-diffusion",
        "model": model.to_dict(),
        "training": {**asdict(config), "device": "cpu" if config.device == "cpu" else "cuda"},
        "files": [r.to_dict() for r in files],
        "files_sha256": hashlib.sha256("".join(r.sha256 for r in files).encode()).hexdigest(),
        "held_out": sorted(r.path for r in held.items),
        "history": history,
        "metrics": {"history": history, "steps": history[-1]["step"], "held_out": history[-1]["held_out"]},
        "base": None if base is None else {"weights_sha256": base.config["weights_sha256"]},
        "weights_sha256": file_sha256(out / WEIGHTS),
        "code": code_version(),
    }
    json_write(out / CONFIG, document)
    return SpectralCheckpoint(out)
