"""The symbolic families, LSTM and Transformer: the run's MIDI files tokenized and split by piece,
a model trained on the training side with validation NLL as its held-out figure, and pieces
sampled as MIDI for the platform to render. torch loads only where a model trains or generates."""

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from generation.family import CHECKPOINT, Made, Request, Setting, SettingError, Trained, TrainJob
from generation.prebuilt import adopt, prebuilt_names

SAMPLING = ("length", "temperature", "top_k", "top_p", "beams", "style")
MAX_LENGTH = 4096  # tokens per work
MODEL_SETTINGS = ("d_model", "n_layers")
NOT_TRAINING = (*MODEL_SETTINGS, "tokenizer", "tiny", "prebuilt")  # the rest are fields of generation.train.TrainConfig
SETTINGS = (
    Setting("tokenizer", str, choices=("remi", "tsd", "chorale"), default="remi", label="Tokenizer"),
    Setting("tiny", bool, default=False, label="Tiny (a small model, for trying things)"),
    Setting("max_steps", int, 1, 200_000, label="Steps"),
    Setting("batch_size", int, 1, 512, label="Batch size"),
    Setting("seq_len", int, 16, 4096, label="Sequence length"),
    Setting("lr", float, 1e-6, 1.0, label="Learning rate"),
    Setting("eval_every", int, 1, 100_000, label="Validate every (steps)"),
    Setting("seed", int, 0, 2**31 - 1, label="Seed"),
    Setting("max_minutes", float, 0.1, 10_000, label="Minutes at most"),
    Setting("d_model", int, 8, 2048, label="Model width"),
    Setting("n_layers", int, 1, 24, label="Layers"),
)


def symbolic_settings(kind: str) -> tuple[Setting, ...]:
    """SETTINGS, and the prebuilt models of this kind a run may adopt instead of training."""
    names = prebuilt_names(kind)
    label = "Prebuilt model (committed with the record that rebuilds it; adopted, not trained)"
    return (*SETTINGS, Setting("prebuilt", str, choices=names, label=label)) if names else SETTINGS


@dataclass(frozen=True)
class Symbolic:
    name: str  # the model kind of generation.model: lstm or transformer
    label: str
    settings: tuple[Setting, ...] = SETTINGS
    parameters: tuple[str, ...] = (*SAMPLING, "primer")
    files: Mapping[str, str] = field(default_factory=lambda: {"primer": "audio/midi"})
    originality: bool = True
    shape: tuple[str, ...] | None = None
    held_out: str = "validation NLL"
    design: bool = False

    def train(self, job: TrainJob) -> Trained:
        from generation.data import PrepareConfig, prepare, training_tokens
        from generation.model import ModelConfig
        from generation.tokenizers import TokenizerConfig
        from generation.train import TrainConfig, tiny_config, train

        config = job.config
        if config.get("prebuilt"):
            return adopt(config["prebuilt"], job, kind=self.name)
        prepared = job.folder / "prepared"
        if not (prepared / "data.json").is_file():
            prepare_config = PrepareConfig(
                source=str(job.data),
                out=str(prepared),
                manifest=str(job.manifest),
                tokenizer=TokenizerConfig(kind=config["tokenizer"]),
            )
            prepare(replace(prepare_config, transpositions=(0,)) if config["tiny"] else prepare_config)
        train_config = TrainConfig(
            data=str(prepared), out=str((job.folder / CHECKPOINT).parent), model=ModelConfig(kind=self.name)
        )
        if config["tiny"]:
            train_config = tiny_config(train_config)
        train_config = replace(
            train_config,
            model=replace(train_config.model, **{k: config[k] for k in MODEL_SETTINGS if k in config}),
            **{s.name: config[s.name] for s in SETTINGS if s.name in config and s.name not in NOT_TRAINING},
        )
        total = config.get("max_steps")

        def progress(record: dict[str, Any]) -> None:
            point = {k: record[k] for k in ("step", "train_loss", "val_nll", "val_ppl")}
            job.progress(point, {**point, "max_steps": total})

        checkpoint = train(train_config, progress=progress)
        return Trained(
            checkpoint=checkpoint.folder,
            metrics=checkpoint.config.get("metrics", {"history": checkpoint.config.get("history", [])}),
            code_version=str(checkpoint.config.get("code", {}).get("commit") or "")[:100],
            usage=training_tokens(prepared, key="name"),
        )

    def load(self, folder: Path) -> Any:
        from generation.checkpoint import Checkpoint

        return Checkpoint.open(folder)

    def parameters_clean(self, parameters: Mapping[str, Any], *, metrics: Mapping[str, Any]) -> dict[str, Any]:
        from generation.sample import SampleError, SampleParams, params_check

        sampling = {k: parameters[k] for k in SAMPLING if k in parameters}
        wrong: list[str] = [k for k in ("length", "top_k", "beams") if k in sampling and not _integer(sampling[k])]
        wrong += [k for k in ("temperature", "top_p") if k in sampling and not _number(sampling[k])]
        if wrong or not isinstance(sampling.get("style", ""), str):
            name = wrong[0] if wrong else "style"
            raise SettingError(f"{name} has the wrong type", name=name)
        try:
            params_check(SampleParams(**sampling))
            if sampling.get("length", 1) > MAX_LENGTH:
                raise ValueError(f"length must be a whole number of tokens up to {MAX_LENGTH}")
        except (TypeError, ValueError, SampleError) as exc:
            raise SettingError(str(exc), name=str(exc)) from None
        if "primer" in parameters:
            sampling["primer"] = parameters["primer"]
        return sampling

    def generate(self, model: Any, request: Request) -> Made:
        import torch

        from generation.sample import SampleParams, sample

        sampling = {k: request.parameters[k] for k in SAMPLING if k in request.parameters}
        if "primer" in request.parameters:
            sampling["primer"] = str(request.file(request.parameters["primer"]))
        device = "cuda" if torch.cuda.is_available() else "cpu"
        output = sample(model, SampleParams(seed=request.seed, count=1, **sampling), device=device)[0]
        return Made({"midi": output.midi}, output.originality or {}, dict(output.provenance))

    def source_share(self, parameters: Mapping[str, Any]) -> float:
        return 0.0  # a primer starts the piece; the model writes it


def _integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
