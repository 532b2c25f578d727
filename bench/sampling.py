"""Sampling speed: the library's stepping loops against the plainest PyTorch loop, same weights.

Generates --tokens tokens (512) and prints events (tokens) per second, best of --runs, for:
  lstm         batch 1 and 64: stepping the (h, c) state as generation.sample does (oneDNN off),
               against the plainest loop, which re-reads the whole sequence every step, and
               against the same stepping loop with torch's default (oneDNN on)
  transformer  batch 1 and 64: stepping the key/value cache, against re-reading the whole
               context (no cache)
"vs plain" is the ratio to the re-reading loop, "vs default" (LSTM) to torch's default stepping;
> 1 means faster. Every loop is checked to pick the same tokens (greedy decoding) as the plain
one, so no speed-up is bought with a different result. The random-weight Transformer gets a
1,024-token context so that all 512 tokens stay inside it for both loops.

    .venv/bin/python bench/sampling.py [--tokens 512] [--runs 2] [--batches 1,64] [--checkpoint DIR ...]
"""

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from generation import sample
from generation.checkpoint import Checkpoint
from generation.model import Model, ModelConfig, model_build
from generation.sample import SampleParams, model_load
from generation.tokenizers import TokenizerConfig, tokenizer_build

TOKENIZER = tokenizer_build(TokenizerConfig(kind="chorale"))
PLAIN = "plain (re-read all)"
DEFAULT = "state, oneDNN on"
Loop = Callable[[], list[list[int]]]


def best_of(runs: int, work: Loop) -> tuple[float, list[list[int]]]:
    times, result = [], []
    for _ in range(runs):
        start = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - start)
    return min(times), result


def loop(model: Model, batch: int, tokens: int, *, use_state: bool, onednn: bool = False) -> Loop:
    """generate() itself; `onednn` steps with torch's default oneDNN LSTM instead."""
    # top_k=1: the same tokens for every loop, and the same amount of work
    params = SampleParams(length=tokens, count=batch, top_k=1)

    def run() -> list[list[int]]:
        generator = torch.Generator().manual_seed(0)
        sample.STEP_WITH_ONEDNN = onednn
        try:
            return sample.generate(model, TOKENIZER, [], params, style=None, generator=generator, use_state=use_state)
        finally:
            sample.STEP_WITH_ONEDNN = False

    return run


def models(checkpoints: list[str]) -> dict[str, Model]:
    if checkpoints:
        loaded = [model_load(Checkpoint.open(path)) for path in checkpoints]
        return {m.config.kind: m for m in loaded}
    torch.manual_seed(0)
    vocab = TOKENIZER.vocab_size
    transformer = ModelConfig(kind="transformer", vocab_size=vocab, n_layers=4, block_size=1024, max_distance=1024)
    return {
        "lstm": model_build(ModelConfig(kind="lstm", vocab_size=vocab)).eval(),
        "transformer": model_build(transformer).eval(),
    }


def report(kind: str, batch: int, tokens: int, runs: int, cases: list[tuple[str, Loop]]) -> None:
    rates: dict[str, float] = {}
    plain_rows = None
    for name, work in cases:
        seconds, rows = best_of(runs, work)
        rates[name] = batch * tokens / seconds
        plain_rows = rows if plain_rows is None else plain_rows
        default = f"{rates[name] / rates[DEFAULT]:>12.2f}" if DEFAULT in rates else f"{'':>12}"
        line = f"{kind:<12}{batch:>6}{name:>22}{rates[name]:>12,.0f}{rates[name] / rates[PLAIN]:>10.2f}{default}"
        print(f"{line}  {rows == plain_rows}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=int, default=512)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--batches", default="1,64")
    parser.add_argument("--models", default="lstm,transformer")
    parser.add_argument("--checkpoint", action="append", default=[], help="trained weights (default: random)")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.tokens} tokens, best of {args.runs}")
    print(f"{'model':<12}{'batch':>6}{'loop':>22}{'events/s':>12}{'vs plain':>10}{'vs default':>12}  same tokens")
    for kind, model in models(args.checkpoint).items():
        if kind not in args.models.split(","):
            continue
        for batch in (int(b) for b in args.batches.split(",")):
            cases = [(PLAIN, loop(model, batch, args.tokens, use_state=False))]
            if kind == "lstm":
                cases.append((DEFAULT, loop(model, batch, args.tokens, use_state=True, onednn=True)))
            cases.append(("state" if kind == "lstm" else "kv cache", loop(model, batch, args.tokens, use_state=True)))
            report(kind, batch, args.tokens, args.runs, cases)


if __name__ == "__main__":
    main()
