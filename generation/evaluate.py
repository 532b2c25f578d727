"""Evaluation: test likelihood against n-gram baselines, musical metrics and originality.

    python -m generation.evaluate --data var/generation/data/chorales \\
        --checkpoint var/generation/runs/lstm/checkpoint --checkpoint var/generation/runs/transformer/checkpoint

Every model is scored on the same test tokens: each test piece from BOS, its tokens and EOS,
in NLL per token (nats) and perplexity. The Kneser-Ney n-grams are fitted on the same training
tokens the models saw (transpositions included). Generated pieces are compared with the held-out
human pieces, decoded through the same tokenizer so both pass through the same quantisation.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from symusic.core import ScoreTick

from generation.checkpoint import Checkpoint
from generation.data import Prepared, data_check
from generation.metrics import musical_metrics, originality_summary, set_overlap
from generation.ngram import KneserNey
from generation.sample import SampleParams, model_load, sample
from generation.train import sequence_nll


@dataclass(frozen=True)
class EvaluateConfig:
    data: str = "var/generation/data/chorales"
    checkpoints: tuple[str, ...] = ()
    ngram_orders: tuple[int, ...] = (3, 4, 5, 6)
    samples: int = 32  # generated pieces per model for the musical metrics and originality
    sample: SampleParams = field(default_factory=lambda: SampleParams(length=1024, seed=0))
    device: str = "cpu"


def evaluate(config: EvaluateConfig) -> dict[str, Any]:
    data = Prepared(Path(config.data))
    test = data.sequences("test", augmented=False)
    train = data.sequences("train")
    human = [data.tokenizer.decode(tokens) for tokens, _ in test]
    index = data.originality_index()
    report: dict[str, Any] = {
        "data": {"folder": config.data, "test_pieces": len(test), "train_sequences": len(train)},
        "likelihood": {},
        "music": {"held-out": _music(human)},
        "originality": {"held-out": originality_summary(index, human)},
        "overlap": {},
    }
    for order in config.ngram_orders:
        started = time.monotonic()
        model = KneserNey(order, data.tokenizer.vocab_size, bos=data.tokenizer.bos, eos=data.tokenizer.eos)
        total, count = model.fit([tokens for tokens, _ in train]).nll([tokens for tokens, _ in test])
        report["likelihood"][f"{order}-gram"] = _likelihood(total, count, time.monotonic() - started)
    for path in config.checkpoints:
        _evaluate_model(report, Checkpoint.open(path), data, human, config)
    return report


def _evaluate_model(
    report: dict[str, Any], checkpoint: Checkpoint, data: Prepared, human: list[ScoreTick], config: EvaluateConfig
) -> None:
    data_check(checkpoint, data)
    name = f"{checkpoint.config['model']['kind']} ({checkpoint.folder})"
    model = model_load(checkpoint, config.device)
    started = time.monotonic()
    total, count = sequence_nll(
        model, data.sequences("test", augmented=False), data.tokenizer, device=torch.device(config.device)
    )
    entry = _likelihood(total, count, time.monotonic() - started)
    entry["train_seconds"] = checkpoint.config["metrics"].get("seconds")
    entry["train_steps"] = checkpoint.config["metrics"].get("steps")
    report["likelihood"][name] = entry
    generated = [data.tokenizer.decode(tokens) for tokens in _generate(checkpoint, data, config)]
    generated = [score for score in generated if score.note_num() > 0]
    report["music"][name] = _music(generated)
    report["originality"][name] = originality_summary(data.originality_index(), generated)
    report["overlap"][name] = set_overlap(generated, human)


def _generate(checkpoint: Checkpoint, data: Prepared, config: EvaluateConfig) -> list[list[int]]:
    """config.samples pieces; a conditioned model's styles in the test side's proportions."""
    if checkpoint.config["model"]["num_styles"] <= 1:
        params = replace(config.sample, count=config.samples)
        return [output.tokens for output in sample(checkpoint, params, device=config.device)]
    styles = Counter(data.styles[style] for _, style in data.sequences("test", augmented=False))
    pieces: list[list[int]] = []
    for style, count in styles.items():
        share = round(config.samples * count / sum(styles.values()))
        if share:
            params = replace(config.sample, count=share, style=style)
            pieces += [output.tokens for output in sample(checkpoint, params, device=config.device)]
    return pieces


def _likelihood(total: float, count: int, seconds: float) -> dict[str, Any]:
    nll = total / count
    return {"nll": nll, "ppl": math.exp(nll), "tokens": count, "seconds": round(seconds, 2)}


def _music(scores: Sequence[ScoreTick]) -> dict[str, float]:
    rows = [musical_metrics(score) for score in scores]
    return {key: float(np.nanmean([row[key] for row in rows])) for key in rows[0]} if rows else {}


def report_markdown(report: dict[str, Any]) -> str:
    lines = ["| model | test NLL (nats/token) | perplexity | train time (s) |", "|---|---|---|---|"]
    for name, entry in report["likelihood"].items():
        lines.append(f"| {name} | {entry['nll']:.3f} | {entry['ppl']:.2f} | {entry.get('train_seconds') or ''} |")
    lines += ["", "| pieces | " + " | ".join(next(iter(report["music"].values()))) + " |"]
    lines.append("|---" * (1 + len(next(iter(report["music"].values())))) + "|")
    for name, values in report["music"].items():
        lines.append(f"| {name} | " + " | ".join(f"{v:.3f}" for v in values.values()) + " |")
    lines += ["", "| pieces | longest melody run (mean / max) | 16-gram copy rate |", "|---|---|---|"]
    for name, values in report["originality"].items():
        lines.append(
            f"| {name} | {values['mean_longest_melody_run']:.1f} / {values['max_longest_melody_run']:.0f} "
            f"| {values['mean_verbatim_16gram_rate']:.3f} |"
        )
    lines += ["", "| model | feature | overlap with held-out | KL |", "|---|---|---|---|"]
    for name, features in report["overlap"].items():
        for feature, values in features.items():
            lines.append(f"| {name} | {feature} | {values['overlap']:.3f} | {values['kl']:.3f} |")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m generation.evaluate", description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=EvaluateConfig.data, help="a prepared folder (its test side is scored)")
    parser.add_argument("--checkpoint", action="append", default=[], help="a checkpoint folder; repeat for more")
    parser.add_argument("--ngram", default="3,4,5,6", help="Kneser-Ney orders for the baselines")
    parser.add_argument("--samples", type=int, default=32, help="pieces generated per model")
    parser.add_argument("--length", type=int, default=1024, help="tokens per generated piece")
    parser.add_argument("--out", help="write the report as JSON here (and Markdown beside it)")
    args = parser.parse_args(argv)
    config = EvaluateConfig(
        data=args.data,
        checkpoints=tuple(args.checkpoint),
        ngram_orders=tuple(int(n) for n in args.ngram.split(",") if n),
        samples=args.samples,
        sample=SampleParams(length=args.length, seed=0),
    )
    try:
        report = evaluate(config)
    except ValueError as error:  # DataError, CheckpointError, SampleError
        raise SystemExit(f"error: {error}") from error
    markdown = report_markdown(report)
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=1, default=float) + "\n")
        Path(args.out).with_suffix(".md").write_text(markdown)
    print(markdown)


if __name__ == "__main__":
    main()
