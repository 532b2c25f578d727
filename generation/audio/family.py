"""The sound family: the waveform VAE of generation.audio, trained on one-second clips of the
run's audio files and generating straight to WAV, between two of its training sounds or from
its prior. Its models can be continued by runs of the same shape. torch loads only where a
model trains or generates."""

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from generation.family import CHECKPOINT, Made, Request, Setting, SettingError, Trained, TrainJob

RATES = (44_100, 48_000)
SETTINGS = (
    Setting("epochs", int, 1, 100_000, label="Epochs"),
    Setting("batch_size", int, 1, 512, label="Batch size"),
    Setting("lr", float, 1e-6, 1.0, label="Learning rate"),
    Setting("seed", int, 0, 2**31 - 1, label="Seed"),
    Setting("max_minutes", float, 0.1, 10_000, label="Minutes at most"),
    Setting("latent", int, 32, 1024, label="Latent size"),  # the DDSP model reads 30 of them (DDSPVAE)
    Setting("channels", int, 8, 1024, label="Channels"),
)
MIDI = (".mid", ".midi")  # a dataset may mix scores in; the sound model trains on the audio


@dataclass(frozen=True)
class SoundDesign:
    """A sound model with the sounds it was trained on: what interpolation picks from."""

    model: Any  # generation.audio.generate.SoundModel
    sounds: Any  # generation.audio.dataset.SoundSet


@dataclass(frozen=True)
class Sound:
    name: str = "audio"
    label: str = "Sound VAE (audio)"
    settings: tuple[Setting, ...] = SETTINGS
    parameters: tuple[str, ...] = ("between", "ratio", "rate")
    files: Mapping[str, str] = field(default_factory=dict)
    originality: bool = False
    shape: tuple[str, ...] | None = ("latent", "channels")
    held_out: str = "multi-resolution STFT loss of the reconstructions"
    design: bool = True

    def train(self, job: TrainJob) -> Trained:
        """Each audio file cut into one-second clips named after its path (`take.wav` gives take0,
        take1, ...), saved beside the weights: the signed and pinned folder holds what generation
        interpolates between."""
        from generation.audio.dataset import AudioError, SoundSet, file_import
        from generation.audio.model import VAEConfig
        from generation.audio.train import AudioCheckpoint, TrainConfig, train

        sounds = SoundSet()
        for entry in json.loads(job.manifest.read_bytes())["files"]:
            path = job.data / entry["path"]
            if path.suffix.lower() in MIDI:
                continue
            try:
                sounds = sounds.extend(
                    file_import(path.read_bytes(), filename=entry["path"], group=Path(entry["path"]).stem)
                )
            except AudioError as exc:
                raise ValueError(str(exc)) from None
        if not len(sounds):
            raise ValueError("there are no audio files to train a sound model on")
        config = job.config
        model = VAEConfig(**{k: config[k] for k in ("latent", "channels") if k in config})
        training = TrainConfig(
            **{k: config[k] for k in ("epochs", "batch_size", "lr", "seed", "max_minutes") if k in config}
        )
        pretrained = None
        if job.base is not None:
            pretrained = AudioCheckpoint(job.base)
            model = pretrained.model_config()
        epochs = config.get("epochs")

        def progress(report: Any) -> None:
            summary = report.summary()
            job.progress(summary, {**summary, "max_epochs": epochs})

        out = job.folder / CHECKPOINT
        checkpoint = train(sounds, out, model=model, config=training, pretrained=pretrained, progress=progress)
        sounds.save(out)
        clips = json.loads((out / "clips.json").read_text())["clips"]
        usage: dict[str, int] = {}
        for clip in clips:
            usage[clip["source"]["filename"]] = usage.get(clip["source"]["filename"], 0) + 1
        metrics = checkpoint.config.get("metrics", {"history": checkpoint.config.get("history", [])})
        return Trained(
            checkpoint=out,
            metrics={**metrics, "clips": [clip["name"] for clip in clips]},  # what a generation may name
            code_version=str(checkpoint.config.get("code", {}).get("commit") or "")[:100],
            usage=usage,
        )

    def load(self, folder: Path) -> SoundDesign:
        from generation.audio.dataset import SoundSet
        from generation.audio.generate import SoundModel
        from generation.audio.train import AudioCheckpoint

        return SoundDesign(SoundModel(AudioCheckpoint(folder)), SoundSet.load(folder))

    def parameters_clean(self, parameters: Mapping[str, Any], *, metrics: Mapping[str, Any]) -> dict[str, Any]:
        """Two of the model's training sounds to interpolate between (`between`, with `ratio`) or
        none (it samples its prior), and the output `rate`."""
        clean: dict[str, Any] = {"rate": parameters.get("rate", 44_100)}
        if clean["rate"] not in RATES:
            raise SettingError(f"rate must be one of {', '.join(map(str, RATES))}", name="rate")
        if "between" in parameters:
            between, clips = parameters["between"], metrics.get("clips", [])
            if not isinstance(between, list) or len(between) != 2 or not all(isinstance(n, str) for n in between):
                raise SettingError("between names two of the model's sounds", name="between")
            unknown = [name for name in between if name not in clips]
            if unknown:
                raise SettingError(
                    f"the model has no sound {unknown[0]!r}; it knows {', '.join(clips[:20])}", name="between"
                )
            ratio = parameters.get("ratio", 0.5)
            if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not 0 <= ratio <= 1:
                raise SettingError("ratio must be from 0 to 1", name="ratio")
            clean.update(between=between, ratio=float(ratio))
        elif "ratio" in parameters:
            raise SettingError("a ratio needs two sounds in between", name="ratio")
        return clean

    def generate(self, model: SoundDesign, request: Request) -> Made:
        """Between two sounds (a generation of several spreads its works from the first to the
        second), or from the prior with the work's seed."""
        parameters = request.parameters
        if "between" in parameters:
            ratio = parameters["ratio"] if request.count == 1 else request.index / (request.count - 1)
            sound = model.model.interpolate(model.sounds, parameters["between"], ratio, rate=parameters["rate"])
        else:
            sound = model.model.prior(1, seed=request.seed, rate=parameters["rate"])[0]
        return Made({"wav": sound.wav}, {}, sound.provenance)

    def source_share(self, parameters: Mapping[str, Any]) -> float:
        return 0.0  # it names no files
