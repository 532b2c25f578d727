"""Training: Adam with exponential decay, clipping, validation every N steps, early stopping.

    python -m generation.train --data var/generation/data/chorales --out var/generation/runs/lstm

The run folder holds `log.jsonl` (loss and perplexity as they go), `state.pt` (what a resumed
run needs: the latest weights, optimiser, schedule, step and random states) and `checkpoint/`
(the best weights so far with their provenance; see generation.checkpoint).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F
from tqdm import tqdm

from generation.checkpoint import CONFIG, ORIGINALITY, WEIGHTS, Checkpoint, code_version, weights_write
from generation.cli import options_add
from generation.constraints import allowed_record
from generation.data import DataError, Prepared
from generation.files import json_write, write_atomic
from generation.model import Model, ModelConfig, model_build
from generation.tokenizers import frame_period

Progress = Callable[[dict[str, Any]], None]


class TrainingError(ValueError):
    """The run cannot go on as configured."""


@dataclass(frozen=True)
class TrainConfig:
    data: str = "var/generation/data/chorales"  # a prepared folder (python -m generation.data)
    out: str = "var/generation/runs/lstm"  # the run folder; its checkpoint/ is the result
    model: ModelConfig = field(default_factory=ModelConfig)
    batch_size: int = 32
    seq_len: int = 256  # tokens per training window (the LSTM's truncated-BPTT length)
    lr: float = 1e-3  # the seeds' Adam learning rate
    lr_decay: float = 0.9998  # exponential decay per step: the rate halves about every 3,500 steps
    warmup_steps: int = 100  # linear warm-up first: a Transformer at full rate from step 0 stalls
    grad_clip: float = 1.0  # LSTMs explode now and then; clipping the norm keeps one batch from undoing many
    max_steps: int = 3000
    max_minutes: float | None = None  # a wall-clock budget, checked at each validation
    eval_every: int = 100  # steps between validations (and checkpoints)
    patience: int = 5  # validations without improvement before stopping early
    seed: int = 0
    device: str = "auto"  # "auto" takes CUDA when present
    amp: bool = True  # mixed precision (bfloat16, else float16 with loss scaling); CUDA only
    conditioned: bool = True  # learn a style embedding when the data has more than one style


def train(config: TrainConfig, *, progress: Progress | None = None) -> Checkpoint:
    """Train (or resume) and return the checkpoint with the best validation loss."""
    run = Path(config.out)
    run.mkdir(parents=True, exist_ok=True)
    data = Prepared(Path(config.data))
    config = _with_data(config, data)
    device = _device(config.device)
    torch.manual_seed(config.seed)
    model = model_build(config.model).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, partial(_rate, config))
    loop = _Loop(config, data, model, optimizer, schedule, device, progress)
    loop.resume_from(run / "state.pt")
    loop.run()
    return Checkpoint.open(run / "checkpoint")


def _rate(config: TrainConfig, step: int) -> float:
    """Multiplier of the base rate: linear warm-up, then exponential decay."""
    return min(1.0, (step + 1) / max(config.warmup_steps, 1)) * config.lr_decay**step


def _with_data(config: TrainConfig, data: Prepared) -> TrainConfig:
    styles = len(data.styles) if config.conditioned else 0
    model = replace(config.model, vocab_size=data.tokenizer.vocab_size, num_styles=styles)
    period = frame_period(data.tokenizer)
    if model.kind == "lstm" and not model.lag and period > 1:
        model = replace(model, lag=period)  # see generation.model.LSTMModel
    if model.kind == "transformer":
        # Its context is what it trained on: longer distances would meet untrained embeddings.
        model = replace(model, block_size=config.seq_len, max_distance=config.seq_len)
    return replace(config, model=model)


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


class _Loop:
    def __init__(
        self,
        config: TrainConfig,
        data: Prepared,
        model: Model,
        optimizer: torch.optim.Optimizer,
        schedule: torch.optim.lr_scheduler.LRScheduler,
        device: torch.device,
        progress: Progress | None,
    ) -> None:
        self.config, self.data, self.model, self.device = config, data, model, device
        self.optimizer, self.schedule, self.progress = optimizer, schedule, progress
        self.run_dir = Path(config.out)
        self.batches = Batches(data.sequences("train"), data.tokenizer, config.seq_len, config.batch_size)
        self.validation = data.sequences("validation", augmented=False)
        self.rng = np.random.default_rng(config.seed)
        self.step, self.best, self.stale, self.seconds = 0, math.inf, 0, 0.0
        self.scaler = torch.amp.GradScaler("cuda", enabled=self._float16())
        self.code = code_version()  # now, not at each save: the code that started the run
        self.allowed = allowed_record(data.sequences("train"), data.tokenizer)  # what sampling may emit

    def resume_from(self, path: Path) -> None:
        if not path.is_file():
            return
        state = torch.load(path, map_location="cpu", weights_only=True)
        same_data = state.get("tokens_sha256") in (None, self.data.meta["tokens_sha256"])
        if _resumable(state["config"]) != _resumable(asdict(self.config)) or not same_data:
            raise TrainingError(f"{path} belongs to a run with another configuration; use a new --out folder")
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.schedule.load_state_dict(state["schedule"])
        self.step, self.best, self.stale, self.seconds = state["step"], state["best"], state["stale"], state["seconds"]
        self.rng.bit_generator.state = state["numpy_rng"]
        torch.set_rng_state(state["torch_rng"])
        if self.device.type == "cuda":
            torch.cuda.set_rng_state_all(state["cuda_rng"])
            self.scaler.load_state_dict(state["scaler"])

    def run(self) -> None:
        started = time.monotonic() - self.seconds
        bar = tqdm(total=self.config.max_steps, initial=self.step, desc="train", disable=not sys.stderr.isatty())
        losses: list[float] = []
        while self.step < self.config.max_steps and self.stale < self.config.patience:
            losses.append(self._train_step())
            if not math.isfinite(losses[-1]):
                raise TrainingError(f"training diverged: the loss is {losses[-1]} at step {self.step + 1}; lower --lr")
            self.step += 1
            bar.update(1)
            if self.step % self.config.eval_every == 0 or self.step == self.config.max_steps:
                self.seconds = time.monotonic() - started
                record = self._validate(float(np.mean(losses)))
                losses = []
                bar.set_postfix(loss=f"{record['train_loss']:.3f}", val=f"{record['val_nll']:.3f}")
                if self.config.max_minutes is not None and self.seconds > 60 * self.config.max_minutes:
                    break
        bar.close()
        self._finish()

    def _train_step(self) -> float:
        self.model.train()
        inputs, targets, styles = (t.to(self.device) for t in self.batches.sample(self.rng))
        with self._autocast():
            logits, _ = self.model(inputs, styles if self.config.model.num_styles > 1 else None)
            loss = F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten(), ignore_index=self.batches.pad)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.unscale_(self.optimizer)
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.schedule.step()
        return float(loss.item())

    def _validate(self, train_loss: float) -> dict[str, Any]:
        total, count = sequence_nll(self.model, self.validation, self.data.tokenizer, device=self.device)
        val_nll = total / count
        record = {
            "step": self.step,
            "train_loss": train_loss,
            "train_ppl": math.exp(train_loss),
            "val_nll": val_nll,
            "val_ppl": math.exp(val_nll),
            "lr": self.schedule.get_last_lr()[0],
            "seconds": round(self.seconds, 2),
        }
        with (self.run_dir / "log.jsonl").open("a") as log:
            log.write(json.dumps(record) + "\n")
        if val_nll < self.best:
            self.best, self.stale = val_nll, 0
            self._save_checkpoint(record)
        else:
            self.stale += 1
        self._save_state()
        if self.progress is not None:
            self.progress(record)
        return record

    def _save_checkpoint(self, record: dict[str, Any]) -> None:
        folder = self.run_dir / "checkpoint"
        folder.mkdir(exist_ok=True)
        weights_write(self.model, folder / WEIGHTS)
        json_write(folder / CONFIG, self._provenance({"best": record}))
        originality = (self.data.folder / ORIGINALITY).read_bytes()
        write_atomic(folder / ORIGINALITY, lambda stream: stream.write(originality))

    def _provenance(self, metrics: dict[str, Any]) -> dict[str, Any]:
        meta = self.data.meta
        return {
            "model": asdict(self.config.model),
            "tokenizer": meta["tokenizer"],
            "styles": self.data.styles,
            "training": asdict(self.config),
            "data": {
                "prepare": meta["config"],
                "dataset_roots": meta["dataset_roots"],
                "licence": meta["licence"],
                "pieces": meta["pieces"],
            },
            "code": self.code,
            "allowed": self.allowed,
            "metrics": metrics,
        }

    def _save_state(self) -> None:
        state = {
            "config": asdict(self.config),
            "tokens_sha256": self.data.meta["tokens_sha256"],  # the data, wherever its folder is
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "schedule": self.schedule.state_dict(),
            "step": self.step,
            "best": self.best,
            "stale": self.stale,
            "seconds": self.seconds,
            "numpy_rng": self.rng.bit_generator.state,
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if self.device.type == "cuda" else [],
            "scaler": self.scaler.state_dict(),
        }
        write_atomic(self.run_dir / "state.pt", partial(torch.save, state))

    def _finish(self) -> None:
        folder = self.run_dir / "checkpoint"
        config = json.loads((folder / CONFIG).read_text())
        config["metrics"] = {
            **config["metrics"],
            "steps": self.step,
            "seconds": round(self.seconds, 2),
            "stopped_early": self.stale >= self.config.patience,
            "val_nll": self.best,
            "val_ppl": math.exp(self.best),
            "device": str(self.device),
        }
        json_write(folder / CONFIG, config)

    def _float16(self) -> bool:
        return self.device.type == "cuda" and self.config.amp and not torch.cuda.is_bf16_supported()

    def _autocast(self) -> AbstractContextManager[Any]:
        if self.device.type != "cuda" or not self.config.amp:
            return nullcontext()
        dtype = torch.float16 if self._float16() else torch.bfloat16
        return torch.autocast("cuda", dtype=dtype)


def _resumable(config: dict[str, Any]) -> dict[str, Any]:
    """What must match for a run to continue: everything but its budget and where its folders are
    (a run folder moved to another host resumes; the data is matched by its tokens' hash)."""
    budget = ("max_steps", "max_minutes", "patience", "device", "data", "out")
    return {k: v for k, v in config.items() if k not in budget}


def _framed(tokens: np.ndarray, tokenizer: Any) -> np.ndarray:
    """A piece as the models read it: BOS, its tokens, EOS."""
    return np.concatenate([[tokenizer.bos], tokens, [tokenizer.eos]])


class Batches:
    """Random training windows, each inside one piece, so every window has one style.

    A piece is picked with probability proportional to its length; it is framed as
    BOS tokens EOS, and a window shorter than seq_len is padded (padding is not scored).
    """

    def __init__(self, sequences: Sequence[tuple[np.ndarray, int]], tokenizer: Any, seq_len: int, batch_size: int):
        self.pad, self.seq_len, self.batch_size = tokenizer.pad, seq_len, batch_size
        framed = [_framed(tokens, tokenizer) for tokens, _ in sequences]
        self.lengths = np.asarray([len(f) for f in framed])
        self.offsets = np.concatenate([[0], np.cumsum(self.lengths)])
        self.stream = np.concatenate([*framed, np.full(seq_len + 1, self.pad)]).astype(np.int64)
        self.styles = np.asarray([style for _, style in sequences], dtype=np.int64)
        self.weights = self.lengths / self.lengths.sum()

    def sample(self, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        pieces = rng.choice(len(self.lengths), size=self.batch_size, p=self.weights)
        spare = np.maximum(self.lengths[pieces] - (self.seq_len + 1), 0)
        starts = self.offsets[pieces] + (rng.random(self.batch_size) * (spare + 1)).astype(np.int64)
        windows = self.stream[starts[:, None] + np.arange(self.seq_len + 1)]
        ends = (self.offsets[pieces + 1] - starts)[:, None]
        windows[np.arange(self.seq_len + 1)[None, :] >= ends] = self.pad  # nothing of the next piece
        batch = torch.from_numpy(windows)
        return batch[:, :-1], batch[:, 1:], torch.from_numpy(self.styles[pieces])


@torch.no_grad()
def sequence_nll(
    model: Model, sequences: Sequence[tuple[np.ndarray, int]], tokenizer: Any, *, device: torch.device, batch: int = 16
) -> tuple[float, int]:
    """Total NLL (nats) and the number of predicted tokens: each piece's tokens and its EOS, from BOS.

    The LSTM reads each piece whole. The Transformer reads windows of block_size; after the first,
    windows advance by half a block and score only their second half, so every token has at
    least half a block of context.
    """
    model.eval()
    conditioned = model.config.num_styles > 1
    order = sorted(range(len(sequences)), key=lambda i: len(sequences[i][0]))
    total, count = 0.0, 0
    for first in range(0, len(order), batch):
        chosen = [sequences[i] for i in order[first : first + batch]]
        framed = [_framed(tokens, tokenizer) for tokens, _ in chosen]
        width = max(len(f) for f in framed)
        padded = np.full((len(framed), width), tokenizer.pad, dtype=np.int64)
        for row, f in enumerate(framed):
            padded[row, : len(f)] = f
        tokens = torch.from_numpy(padded).to(device)
        styles = torch.tensor([style for _, style in chosen], device=device) if conditioned else None
        total += _windowed_nll(model, tokens, styles, tokenizer.pad)
        count += sum(len(f) - 1 for f in framed)
    return total, count


def _windowed_nll(model: Model, tokens: torch.Tensor, styles: torch.Tensor | None, pad: int) -> float:
    inputs, targets = tokens[:, :-1], tokens[:, 1:]
    block = model.config.block_size if model.config.kind == "transformer" else inputs.size(1)
    total, scored, start = 0.0, 0, 0
    while scored < inputs.size(1):
        end = min(start + block, inputs.size(1))
        logits, _ = model(inputs[:, start:end], styles)
        fresh = end - scored  # the last `fresh` positions of this window are not yet scored
        total += float(
            F.cross_entropy(
                logits[:, -fresh:].flatten(0, 1).float(),
                targets[:, scored:end].flatten(),
                ignore_index=pad,
                reduction="sum",
            )
        )
        scored, start = end, end - block // 2 if end - block // 2 > start else end
    return total


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m generation.train", description=__doc__.split("\n")[0])
    options_add(parser, TrainConfig(), skip={"model"})
    options_add(parser, ModelConfig(), prefix="model.", skip={"vocab_size", "num_styles"})
    parser.add_argument("--tiny", action="store_true", help="a model and budget small enough for tests and the demo")
    args = vars(parser.parse_args(argv))
    tiny = args.pop("tiny")
    model = ModelConfig(**{k.removeprefix("model."): v for k, v in args.items() if k.startswith("model.")})
    config = TrainConfig(model=model, **{k: v for k, v in args.items() if not k.startswith("model.")})
    if tiny:
        config = tiny_config(config)
    try:
        checkpoint = train(config)
    except (DataError, TrainingError) as error:
        raise SystemExit(f"error: {error}") from error
    print(json.dumps({"checkpoint": str(checkpoint.folder), **checkpoint.config["metrics"]}, indent=1))


def tiny_config(config: TrainConfig) -> TrainConfig:
    """Trains in well under two minutes on two CPU cores and still learns (tests and the demo)."""
    model = replace(config.model, d_model=64, n_layers=2, n_heads=2, block_size=128, max_distance=128)
    return replace(
        config, model=model, batch_size=16, seq_len=128, max_steps=300, eval_every=50, lr=3e-3, warmup_steps=20
    )


if __name__ == "__main__":
    main()
