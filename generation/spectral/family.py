"""The spectrogram family: a tag-conditioned diffusion model over log-mel windows of a run's
recordings (generation.spectral), generating WAV from a prompt of its tags, with variations of a
recording and morphs between prompts. Its models can be continued by runs of the same shape (new
tags are added to the vocabulary). torch loads only where a model trains or generates."""

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from generation.family import CHECKPOINT, Made, Request, Setting, SettingError, Trained, TrainJob

SETTINGS = (
    Setting("max_steps", int, 1, 200_000, label="Steps"),
    Setting("batch_size", int, 1, 256, label="Batch size"),
    Setting("lr", float, 1e-6, 1.0, label="Learning rate"),
    Setting("seed", int, 0, 2**31 - 1, label="Seed"),
    Setting("max_minutes", float, 0.1, 10_000, label="Minutes at most"),
    Setting("eval_every", int, 1, 10_000, label="Validate every (steps)"),
    Setting("channels", int, 16, 512, label="Width (channels of the first level)"),
)
NUMBERS = {
    "steps": (int, 1, 200),
    "guidance": (float, 0, 20),
    "seconds": (float, 0.5, 60),
    "strength": (float, 0.01, 1),
    "ratio": (float, 0, 1),
    "morph_seed": (int, 0, 2**31 - 1),
}


@dataclass(frozen=True)
class Spectral:
    name: str = "spectrogram"
    label: str = "Spectrogram diffusion (audio, from prompts)"
    settings: tuple[Setting, ...] = SETTINGS
    parameters: tuple[str, ...] = ("prompt", "morph", *NUMBERS, "variation")
    files: Mapping[str, str] = field(default_factory=lambda: {"variation": "audio/*"})
    originality: bool = False
    shape: tuple[str, ...] | None = ("channels",)
    held_out: str = "v-prediction error on held-out recordings"
    design: bool = False

    def train(self, job: TrainJob) -> Trained:
        """The run's audio files with the tags the manifest gives them; a continued model keeps
        its tags and learns the new ones."""
        from generation.audio.dataset import AudioError
        from generation.spectral.model import SpectralConfig
        from generation.spectral.train import SpectralCheckpoint, TrainConfig, train
        from generation.spectral.windows import manifest_recordings

        config = job.config
        try:
            recordings = manifest_recordings(job.data, json.loads(job.manifest.read_bytes())["files"])
        except AudioError as exc:
            raise ValueError(str(exc)) from None
        if not recordings.vocabulary:
            raise ValueError("none of the run's recordings has tags: a prompt needs tags to name")
        training = TrainConfig(
            **{k: config[k] for k in ("batch_size", "lr", "seed", "max_minutes", "eval_every") if k in config},
            **({"steps": config["max_steps"]} if "max_steps" in config else {}),
        )
        model = SpectralConfig(**({"channels": config["channels"]} if "channels" in config else {}))
        base = SpectralCheckpoint(job.base) if job.base is not None else None

        def progress(point: dict[str, Any]) -> None:
            job.progress({k: point[k] for k in ("step", "train_loss", "held_out")}, point)

        checkpoint = train(
            recordings, job.folder / CHECKPOINT, model=model, config=training, base=base, progress=progress
        )
        document = checkpoint.config
        return Trained(
            checkpoint=checkpoint.folder,
            metrics={**document["metrics"], "vocabulary": document["model"]["vocabulary"]},
            code_version=str(document.get("code", {}).get("commit") or "")[:100],
            usage={f["path"]: f["windows"] for f in document["files"]},
        )

    def load(self, folder: Path) -> Any:
        import torch

        from generation.spectral.sample import SpectralModel
        from generation.spectral.train import SpectralCheckpoint

        return SpectralModel(SpectralCheckpoint(folder), device="cuda" if torch.cuda.is_available() else "cpu")

    def parameters_clean(self, parameters: Mapping[str, Any], *, metrics: Mapping[str, Any]) -> dict[str, Any]:
        """A prompt of the model's tags (a word outside them is named, with the list), a morph
        to a second prompt, the sampler's numbers, a variation's source and strength."""
        from generation.spectral.tags import PromptError, prompt_tags

        vocabulary = list(metrics.get("vocabulary", []))
        clean: dict[str, Any] = {}
        for name in ("prompt", "morph"):
            if name in parameters:
                value = parameters[name]
                if not isinstance(value, str) or len(value) > 500:
                    raise SettingError(f"{name} must be text of up to 500 characters", name=name)
                try:
                    prompt_tags(value, vocabulary)
                except PromptError as exc:
                    raise SettingError(f"{name}: {exc}", name=name) from None
                clean[name] = value.strip()
        for name, (kind, low, high) in NUMBERS.items():
            if name in parameters:
                value = parameters[name]
                if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
                    raise SettingError(f"{name} must be a number from {low:g} to {high:g}", name=name)
                if kind is int and value != int(value):
                    raise SettingError(f"{name} must be a whole number", name=name)
                clean[name] = kind(value)
        if "strength" in clean and "variation" not in parameters:
            raise SettingError("strength applies to a variation: name its source in variation", name="strength")
        if "ratio" in clean and "morph" not in clean and "morph_seed" not in clean:
            raise SettingError("ratio is a point between prompt and morph (or seed and morph_seed)", name="ratio")
        return clean

    def generate(self, model: Any, request: Request) -> Made:
        """The piece the parameters describe, with the work's seed; a variation reads its
        source from the file the platform hands over (checked against its SHA-256 there)."""
        from generation.spectral.sample import Ask
        from generation.spectral.spectrogram import audio_decode, image

        parameters = dict(request.parameters)
        source, source_sha256 = None, None
        if "variation" in parameters:
            source_sha256 = parameters.pop("variation")
            path = request.file(source_sha256)
            source = image(audio_decode(path.read_bytes(), filename=path.name))
        ask = Ask(**{k: v for k, v in parameters.items() if k in Ask.__dataclass_fields__}, seed=request.seed)
        piece = model.piece(ask, source=source, source_sha256=source_sha256)
        return Made({"wav": piece.wav}, {}, piece.provenance)

    def source_share(self, parameters: Mapping[str, Any]) -> float:
        """A variation is its source's in the measure it stays near it: 1 - strength."""
        return 1.0 - float(parameters.get("strength", 0.5)) if "variation" in parameters else 0.0
