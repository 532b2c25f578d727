"""Train a sound VAE on a sound set, new or continuing from a checkpoint (the pretrained model).

The user picks epochs, batch size and learning rate (the thesis' sliders). After every epoch a
callback receives the losses and one clip with its reconstruction, for the worker to forward and
the portal to draw and play. The checkpoint is a folder:

    model.safetensors   the weights
    config.json         the model and training config, the sound set's hash and clip hashes, the
                        checkpoint it continued from, the loss history, code and library versions
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from generation.audio.dataset import SoundSet
from generation.audio.model import DDSPVAE, VAE, Measured, VAEConfig, kl_divergence, mrstft_loss, vae_build
from generation.checkpoint import code_version, weights_write
from generation.cli import options_add
from generation.files import file_sha256, json_write

WEIGHTS = "model.safetensors"
CONFIG = "config.json"
# The final KL weight of each kind: the thesis' loss for the baseline; the spectral models weigh
# theirs against an MR-STFT loss of about 1-3. The DDSP model's timbre dimensions carry less than
# its pitch and loudness (read, not learned), and at 1e-3 the KL narrowed them to one timbre.
KL_WEIGHTS = {"baseline": 1.0, "spectral": 1e-3, "ddsp": 1e-4}
# The learning rate's factor per step, down to LR_FLOOR x the rate: the DDSP model's levels settle
# (after about 1,000 steps at the floor) instead of wandering about 0.1 MR-STFT around their best.
LR_DECAYS = {"baseline": 1.0, "spectral": 1.0, "ddsp": 0.998}
LR_FLOOR = 0.1
GRAD_CLIP = 1.0  # an outlier batch moves the weights no further than a typical one
CONTROL_WEIGHT = 4.0  # ddsp: its f0 (octaves) and loudness errors beside MR-STFT (1/4 semitone off costs 0.08)
EVAL_CLIPS = 64  # the clips every epoch's reconstruction loss is measured on (all, in a small set)


class TrainingError(ValueError):
    """A training request that cannot run, with the reason."""


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 100  # passes over the set (the thesis' slider)
    batch_size: int = 16  # clips per step (the thesis' slider)
    lr: float = 1e-3  # Adam's learning rate (the thesis' slider)
    kl_weight: float | None = None  # final KL weight; None: KL_WEIGHTS of the model's kind
    lr_decay: float | None = None  # the learning rate's factor per step (to LR_FLOOR x lr); None: LR_DECAYS of the kind
    kl_warmup: int = 300  # steps over which the KL weight rises linearly from 0 (the thesis' warm_up_iters);
    # a run that continues a checkpoint warms up again: it reconstructs the new sounds first
    seed: int = 0  # initial weights, batch order and the reparameterisation noise
    max_minutes: float | None = None  # stop after the epoch that passes this much time
    target_mrstft: float | None = None  # stop after the epoch whose reconstructions reach this MR-STFT loss
    threads: int = 0  # torch CPU threads; 0 keeps torch's default

    def check(self) -> None:
        if self.epochs < 1 or self.batch_size < 1 or not self.lr > 0:
            raise TrainingError("epochs and batch size must be at least 1 and the learning rate above 0")
        if self.threads < 0 or self.kl_warmup < 0 or (self.kl_weight is not None and self.kl_weight < 0):
            raise TrainingError("threads, KL warm-up and KL weight cannot be negative")
        if self.lr_decay is not None and not 0 < self.lr_decay <= 1:
            raise TrainingError("the learning rate's decay per step must be above 0 and at most 1")


@dataclass(frozen=True)
class EpochReport:
    epoch: int
    steps: int
    seconds: float
    loss: float  # the training objective, averaged over the epoch's steps
    reconstruction: (
        float  # its reconstruction part (squared error for baseline, MR-STFT (+ f0 error for ddsp) otherwise)
    )
    kl: float
    mrstft: float  # multi-resolution STFT loss of the mean reconstructions of the evaluation clips
    clip: int  # the clip shown: index in the set
    original: np.ndarray
    reconstructed: np.ndarray

    def summary(self) -> dict[str, Any]:
        """The report without the audio, for logs and the loss curve."""
        return {k: v for k, v in asdict(self).items() if k not in ("original", "reconstructed")}


Progress = Callable[[EpochReport], None]


@dataclass(frozen=True)
class AudioCheckpoint:
    folder: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "folder", Path(self.folder))  # a str is welcome too

    @property
    def config(self) -> dict[str, Any]:
        try:
            return dict(json.loads((self.folder / CONFIG).read_text()))
        except (OSError, ValueError) as error:
            raise TrainingError(f"{self.folder} is not a sound model: {error}") from None

    def model_config(self) -> VAEConfig:
        try:
            return VAEConfig(**self.config["model"])
        except (KeyError, TypeError) as error:
            raise TrainingError(f"{self.folder / CONFIG} does not describe a model: {error!r}") from None

    def weights_sha256(self) -> str:
        return file_sha256(self.folder / WEIGHTS)

    def load(self) -> VAE:
        """The model, after checking its weights against the hash its config records."""
        config = self.model_config()
        try:
            digest = self.weights_sha256()
        except OSError as error:
            raise TrainingError(f"{self.folder} has no weights: {error}") from None
        if digest != self.config.get("weights_sha256"):
            raise TrainingError(f"{self.folder / WEIGHTS} does not match the hash in {CONFIG}: changed or damaged")
        try:
            model = vae_build(config)
            model.load_state_dict(load_file(self.folder / WEIGHTS))
        except (SafetensorError, KeyError, ValueError, RuntimeError) as error:
            raise TrainingError(f"{self.folder} is not a usable sound model: {error}") from None
        return model.eval()


def train(
    sounds: SoundSet,
    out: Path,
    *,
    model: VAEConfig | None = None,
    config: TrainConfig | None = None,
    pretrained: AudioCheckpoint | None = None,
    progress: Progress | None = None,
) -> AudioCheckpoint:
    model, config = model or VAEConfig(), config or TrainConfig()
    config.check()
    if len(sounds) == 0:
        raise TrainingError("the sound set is empty: design or import some sounds first")
    if pretrained is not None and pretrained.model_config() != model:
        raise TrainingError(f"the pretrained model is {pretrained.model_config()}, not {model}")
    if pretrained is not None and out.resolve() == pretrained.folder.resolve():
        raise TrainingError("write the new checkpoint to another folder than the one it continues")
    if config.threads:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    vae = pretrained.load().train() if pretrained is not None else vae_build(model)
    origin = None
    if pretrained is not None:  # recorded before training; load() has checked the weights against this hash
        recorded = pretrained.config
        origin = {"weights_sha256": recorded["weights_sha256"], **recorded["sounds"]}
    loop = _Loop(vae, sounds, config)
    history = []
    started = time.monotonic()
    for epoch in range(1, config.epochs + 1):
        report = loop.epoch(epoch)
        history.append(report.summary())
        if progress is not None:
            progress(report)
        if config.max_minutes is not None and time.monotonic() - started > config.max_minutes * 60:
            break
        if config.target_mrstft is not None and report.mrstft < config.target_mrstft:
            break
    return _save(vae, out, sounds=sounds, config=config, pretrained=origin, history=history)


class _Loop:
    def __init__(self, vae: VAE, sounds: SoundSet, config: TrainConfig):
        self.vae, self.config = vae, config
        self.audio = torch.from_numpy(np.ascontiguousarray(sounds.audio, dtype=np.float32))
        self.optimizer = torch.optim.Adam(vae.parameters(), lr=config.lr)
        self.generator = torch.Generator().manual_seed(config.seed)
        self.kl_weight = config.kl_weight if config.kl_weight is not None else KL_WEIGHTS[vae.config.kind]
        self.lr_decay = config.lr_decay if config.lr_decay is not None else LR_DECAYS[vae.config.kind]
        self.evaluation = torch.randperm(len(sounds), generator=self.generator)[:EVAL_CLIPS]
        self.step = 0
        # ddsp: each clip's f0, voicing, loudness and timbre levels per frame, measured once: the latent reads
        # them and the decoder is supervised by them at every step
        self.measured: list[torch.Tensor] | None = None
        if isinstance(vae, DDSPVAE):
            parts = [vae.measure(part) for part in self.audio.split(256)]
            self.measured = [torch.cat(column) for column in zip(*parts, strict=True)]

    def epoch(self, epoch: int) -> EpochReport:
        started = time.monotonic()
        self.vae.train()
        totals = np.zeros(3)
        order = torch.randperm(len(self.audio), generator=self.generator)
        batches = order.split(self.config.batch_size)
        for rows in batches:
            totals += self._step(rows)
        mrstft, shown, reconstructed = self._evaluate(epoch)
        loss, reconstruction, kl = totals / len(batches)
        return EpochReport(
            epoch=epoch,
            steps=self.step,
            seconds=time.monotonic() - started,
            loss=float(loss),
            reconstruction=float(reconstruction),
            kl=float(kl),
            mrstft=mrstft,
            clip=shown,
            original=self.audio[shown].numpy().copy(),
            reconstructed=reconstructed,
        )

    def _step(self, rows: torch.Tensor) -> np.ndarray:
        batch, measures = self.audio[rows], self._measures(rows)
        noise = torch.randn((len(batch), self.vae.config.latent), generator=self.generator)
        mean, logvar = self._encode(batch, measures)
        z = mean + noise * torch.exp(0.5 * logvar)
        decoded = self.vae.decode(z)
        reconstruction = reconstruction_loss(self.vae, decoded, batch)
        if measures is not None and isinstance(self.vae, DDSPVAE):
            reconstruction = reconstruction + CONTROL_WEIGHT * self.vae.control_loss(z, measures)
        kl = kl_divergence(mean, logvar)
        weight = self.kl_weight * min(1.0, self.step / max(self.config.kl_warmup, 1))
        loss = reconstruction + weight * kl
        if not torch.isfinite(loss):
            raise TrainingError(f"the loss is {loss.item()} at step {self.step + 1}: lower the learning rate")
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.vae.parameters(), GRAD_CLIP)
        for group in self.optimizer.param_groups:
            group["lr"] = self.config.lr * max(self.lr_decay**self.step, LR_FLOOR)
        self.optimizer.step()
        self.step += 1
        return np.array([loss.item(), reconstruction.item(), kl.item()])

    def _measures(self, rows: torch.Tensor) -> Measured | None:
        """ddsp: these clips' f0, voicing, loudness and timbre levels, taken at the start; None for the others."""
        if self.measured is None:
            return None
        f0, voiced, loudness, partials, bands = (column[rows] for column in self.measured)
        return f0, voiced, loudness, partials, bands

    def _encode(self, batch: torch.Tensor, measures: Measured | None) -> tuple[torch.Tensor, torch.Tensor]:
        """The clips' latent mean and log-variance (ddsp: from their measures, not measured again)."""
        if measures is not None and isinstance(self.vae, DDSPVAE):
            return self.vae.encode(batch, measures)
        return self.vae.encode(batch)

    @torch.no_grad()
    def _evaluate(self, epoch: int) -> tuple[float, int, np.ndarray]:
        self.vae.eval()
        clips = self.audio[self.evaluation]
        parts = self.evaluation.split(16)
        decoded = torch.cat([self.vae.decode(self._encode(self.audio[r], self._measures(r))[0]) for r in parts])
        shown = int(self.evaluation[(epoch - 1) % len(self.evaluation)])
        position = int((self.evaluation == shown).nonzero()[0, 0])
        return float(mrstft_loss(decoded, clips)), shown, decoded[position].numpy().copy()


def reconstruction_loss(vae: VAE, decoded: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The thesis' squared error of the samples for the baseline; the MR-STFT loss for the others
    (ddsp adds its f0 error in `_Loop._step`)."""
    if vae.config.kind == "baseline":
        return (decoded - target).pow(2).sum(dim=1).mean()
    return mrstft_loss(decoded, target)


def _save(
    vae: VAE,
    out: Path,
    *,
    sounds: SoundSet,
    config: TrainConfig,
    pretrained: dict[str, Any] | None,
    history: list[dict[str, Any]],
) -> AudioCheckpoint:
    out.mkdir(parents=True, exist_ok=True)
    weights_write(vae, out / WEIGHTS)
    clip_hashes = hashlib.sha256("".join(clip.sha256 for clip in sounds.clips).encode()).hexdigest()
    json_write(
        out / CONFIG,
        {
            "model": vae.config.to_dict(),
            "training": asdict(config),
            "sounds": {
                "clips": len(sounds),
                "groups": sounds.groups,
                "audio_sha256": sounds.audio_sha256(),
                "clip_sha256s_sha256": clip_hashes,
            },
            "pretrained": pretrained,
            "history": history,
            "weights_sha256": file_sha256(out / WEIGHTS),
            "code": code_version(),
            "torch_threads": torch.get_num_threads(),
        },
    )
    return AudioCheckpoint(out)


def arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m generation.audio train", description=__doc__.split("\n\n")[0])
    parser.add_argument("sounds", type=Path, help="a sound set folder (from `design`)")
    parser.add_argument("--out", type=Path, required=True, help="the checkpoint folder to write")
    parser.add_argument("--pretrained", type=Path, help="continue from this checkpoint (same model config)")
    parser.add_argument("--groups", help="train on these groups only, comma-separated")
    options_add(parser, TrainConfig())
    options_add(parser, VAEConfig(), prefix="model.")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = arguments(argv)
    options = vars(args)
    config = TrainConfig(**{k: options[k] for k in asdict(TrainConfig())})
    model = VAEConfig(**{k: options["model." + k] for k in asdict(VAEConfig())})
    sounds = SoundSet.load(args.sounds)
    if args.groups:
        sounds = sounds.filter(groups=args.groups.split(","))
    pretrained = AudioCheckpoint(args.pretrained) if args.pretrained else None
    if pretrained is not None:
        model = pretrained.model_config()

    def show(report: EpochReport) -> None:
        print(
            json.dumps({k: round(v, 5) if isinstance(v, float) else v for k, v in report.summary().items()}), flush=True
        )

    checkpoint = train(sounds, args.out, model=model, config=config, pretrained=pretrained, progress=show)
    print(f"checkpoint: {checkpoint.folder} (weights sha256 {checkpoint.weights_sha256()})")
