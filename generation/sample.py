"""Sampling from a checkpoint, reproducibly.

    python -m generation.sample CHECKPOINT --count 4 --seed 7 --out var/generation/samples

The same checkpoint, seed and parameters give byte-identical MIDI on the same platform, run
after run: that is what lets an auditor regenerate a work. On CPU this holds as it is (same torch
build, same CPU). On CUDA, sampling turns on torch's deterministic algorithms and needs
CUBLAS_WORKSPACE_CONFIG=:4096:8 (set here when absent); CUDA and CPU outputs differ from each
other, so a work records the device it was made on.

The LSTM steps its (h, c) state and the Transformer its key/value cache, one token at a time.
On CPU, stepping `nn.LSTM` through oneDNN costs a primitive set-up on every call: measured
(bench/sampling.py, 3 x 256, the same loop either way) 2.4x slower at batch 1 and 1.24x slower
at batch 64 than torch's own kernels, so sampling steps with oneDNN off.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_model

from generation.checkpoint import WEIGHTS, Checkpoint, CheckpointError
from generation.cli import options_add
from generation.constraints import allowed_mask, allowed_summary
from generation.files import file_sha256
from generation.midi import InvalidMidi, midi_bytes, midi_read, sha256_hex
from generation.model import Model, ModelConfig, State, model_build
from generation.tokenizers import ChoraleTokenizer, Tokenizer

os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
MAX_BEAMS = 16
STEP_WITH_ONEDNN = False  # torch's default is on; stepping is faster off (see above)


@dataclass(frozen=True)
class SampleParams:
    length: int = 512  # tokens to generate after the primer; a piece may end sooner with EOS
    temperature: float = 1.0  # < 1 sharper and safer, > 1 more surprising
    top_k: int = 0  # keep the k likeliest tokens; 0 keeps all
    top_p: float = 1.0  # keep the smallest set holding this much probability; 1.0 keeps all
    seed: int = 0  # with the rest, decides every token
    count: int = 1  # pieces sampled together, as one batch
    beams: int = 0  # 0 samples token by token; n > 0 searches n beams (see beam_generate)
    style: str | None = None  # one of the checkpoint's styles (composer, genre, mode); None: the first
    primer: str | None = None  # a MIDI file whose tokens start every piece


@dataclass(frozen=True)
class Output:
    index: int  # position in the batch: (checkpoint, params, index) names one piece
    tokens: list[int]  # as generated, primer included, BOS and EOS excluded
    midi: bytes
    sha256: str  # of `midi`
    originality: dict[str, float | int] | None  # against the training pieces (generation.metrics)
    provenance: dict[str, Any]  # what regenerating it takes: weights, parameters, device, torch, threads


class SampleError(ValueError):
    """The parameters cannot be used with this checkpoint."""


def model_load(checkpoint: Checkpoint, device: torch.device | str = "cpu") -> Model:
    model = model_build(ModelConfig(**checkpoint.config["model"]))
    load_model(model, str(checkpoint.folder / WEIGHTS), device=str(device))
    return model.to(device).eval()


def sample(checkpoint: Checkpoint, params: SampleParams, *, device: str = "cpu") -> list[Output]:
    params_check(params)
    tokenizer = checkpoint.tokenizer()
    model = model_load(checkpoint, device)
    style = _style(checkpoint, params, device)
    primer = _primer(tokenizer, params)
    if model.config.kind == "transformer" and len(primer) >= model.config.block_size:
        raise SampleError(
            f"the primer has {len(primer)} tokens; this model reads at most {model.config.block_size - 1}"
        )
    allowed = checkpoint.config.get("allowed")
    mask = allowed_mask(allowed, model.config.vocab_size, device)
    with _deterministic(torch.device(device)):
        generator = torch.Generator(device).manual_seed(params.seed)
        search = beam_generate if params.beams else generate
        rows = search(model, tokenizer, primer, params, style=style, generator=generator, mask=mask)
    index = checkpoint.originality_index()
    provenance = {
        "weights_sha256": checkpoint.weights_sha256(),
        "params": asdict(params),
        "constraint": allowed_summary(allowed, tokenizer),
        "device": str(device),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "primer_sha256": file_sha256(Path(params.primer)) if params.primer else None,
    }
    outputs = []
    for i, tokens in enumerate(rows):
        score = tokenizer.decode(tokens)
        data = midi_bytes(score)
        report = index.report(score) if index is not None and score.note_num() else None
        outputs.append(Output(i, tokens, data, sha256_hex(data), report, {**provenance, "index": i}))
    return outputs


@torch.no_grad()
def generate(
    model: Model,
    tokenizer: Tokenizer,
    primer: list[int],
    params: SampleParams,
    *,
    style: torch.Tensor | None,
    generator: torch.Generator,
    mask: torch.Tensor | None = None,
    use_state: bool = True,
) -> list[list[int]]:
    """Token rows (primer first, no BOS or EOS). ``mask`` (constraints.allowed_mask) bars the
    tokens the training data never had at a position. `use_state=False` is the plain loop that
    re-reads the whole context every step: the benchmark's baseline, same result."""
    device = next(model.parameters()).device
    rows = torch.tensor([[tokenizer.bos, *primer]] * params.count, device=device)
    banned = torch.tensor([tokenizer.pad, tokenizer.bos], device=device)
    finished = torch.zeros(params.count, dtype=torch.bool, device=device)
    logits, state = model(rows, style)
    for _ in range(params.length):
        scores = _scores(logits[:, -1], params, banned, _row(mask, rows.size(1) - 1))
        token = torch.multinomial(torch.softmax(_filtered(scores, params), -1), 1, generator=generator)[:, 0]
        token = torch.where(finished, torch.full_like(token, tokenizer.pad), token)
        rows = torch.cat([rows, token[:, None]], 1)
        finished |= token == tokenizer.eos
        if bool(finished.all()):
            break
        logits, state = _next(model, rows, token, style, state, use_state)
    return [_trim(row, tokenizer) for row in rows.tolist()]


def _next(
    model: Model, rows: torch.Tensor, token: torch.Tensor, style: torch.Tensor | None, state: State, use_state: bool
) -> tuple[torch.Tensor, State]:
    if use_state:
        with nullcontext() if STEP_WITH_ONEDNN else _onednn_off():
            return model(token[:, None], style, state)
    window = rows[:, -model.config.block_size :] if model.config.kind == "transformer" else rows
    return model(window, style)


@torch.no_grad()
def beam_generate(
    model: Model,
    tokenizer: Tokenizer,
    primer: list[int],
    params: SampleParams,
    *,
    style: torch.Tensor | None,
    generator: torch.Generator,
    mask: torch.Tensor | None = None,
) -> list[list[int]]:
    """Beam search over sampled candidates, one piece at a time. Each of the `beams` hypotheses
    draws `beams` next tokens without replacement from its distribution (Gumbel top-k after
    temperature, top-k and top-p, so the seed chooses among good continuations and pieces of
    different seeds differ), and the `beams` candidates with the highest total log-probability
    go on. A hypothesis that ends (EOS) leaves the beam; the piece is the finished or unfinished
    hypothesis with the highest mean log-probability per generated token."""
    pieces = []
    for i in range(params.count):
        one = style[i : i + 1] if style is not None else None
        pieces.append(_trim(_beam_one(model, tokenizer, primer, params, one, generator, mask)[1], tokenizer))
    return pieces


@torch.no_grad()
def _beam_one(
    model: Model,
    tokenizer: Tokenizer,
    primer: list[int],
    params: SampleParams,
    style: torch.Tensor | None,
    generator: torch.Generator,
    mask: torch.Tensor | None,
) -> tuple[float, list[int]]:
    """The best hypothesis: its mean log-probability per generated token, and its row (BOS first)."""
    device = next(model.parameters()).device
    rows = torch.tensor([[tokenizer.bos, *primer]], device=device)
    banned = torch.tensor([tokenizer.pad, tokenizer.bos], device=device)
    totals = torch.zeros(1, device=device)
    logits, state = model(rows, style)
    done: list[tuple[float, list[int]]] = []
    for _ in range(params.length):
        scores = _scores(logits[:, -1], params, banned, _row(mask, rows.size(1) - 1))
        log_probs = torch.log_softmax(scores, -1)
        noise = -torch.log(-torch.log(torch.rand(scores.shape, generator=generator, device=device).clamp_min(1e-20)))
        width = min(params.beams, scores.size(-1))
        drawn = torch.topk(_filtered(scores, params) + noise, width, -1).indices  # per hypothesis, no repeats
        candidates = (totals[:, None] + log_probs.gather(1, drawn)).flatten()
        kept = torch.argsort(candidates, descending=True, stable=True)[: params.beams]
        kept = kept[torch.isfinite(candidates[kept])]
        parents, tokens, totals = kept // width, drawn.flatten()[kept], candidates[kept]
        rows = torch.cat([rows[parents], tokens[:, None]], 1)
        ended = tokens == tokenizer.eos
        generated = rows.size(1) - 1 - len(primer)
        done += [(float(totals[i]) / generated, rows[i].tolist()) for i in ended.nonzero().flatten().tolist()]
        alive = ~ended
        if not bool(alive.any()) or len(done) >= params.beams:
            break
        rows, totals, parents, tokens = rows[alive], totals[alive], parents[alive], tokens[alive]
        styles = style.expand(len(rows)) if style is not None else None
        logits, state = _next(model, rows, tokens, styles, _reorder(model, state, parents), use_state=True)
    if not done:  # none ended within the length: the unfinished hypotheses compete
        generated = max(rows.size(1) - 1 - len(primer), 1)
        done = [(float(totals[i]) / generated, rows[i].tolist()) for i in range(len(rows))]
    best = max(range(len(done)), key=lambda i: (done[i][0], -i))
    return done[best]


def _reorder(model: Model, state: State, parents: torch.Tensor) -> State:
    """The state of each kept hypothesis' parent: the LSTM's (h, c), the Transformer's cache."""
    if model.config.kind == "lstm":
        return tuple(part[:, parents] for part in state)
    pasts, start = state
    return [(key[parents], value[parents]) for key, value in pasts], start


def _row(mask: torch.Tensor | None, position: int) -> torch.Tensor | None:
    """The mask for the token at ``position`` (after BOS) of a piece."""
    return None if mask is None else mask[position % mask.size(0)]


def _scores(
    logits: torch.Tensor, params: SampleParams, banned: torch.Tensor, allowed: torch.Tensor | None
) -> torch.Tensor:
    """Logits after temperature, with specials and disallowed tokens at -inf."""
    logits = logits.float() / params.temperature
    logits[:, banned] = float("-inf")
    return logits if allowed is None else logits + allowed


def _filtered(logits: torch.Tensor, params: SampleParams) -> torch.Tensor:
    if params.top_k:
        kth = torch.topk(logits, min(params.top_k, logits.size(-1))).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if params.top_p < 1.0:
        ordered, order = torch.sort(logits, descending=True)
        cumulative = torch.softmax(ordered, -1).cumsum(-1)
        drop = cumulative - torch.softmax(ordered, -1) >= params.top_p  # keeps the token that crosses p
        logits = logits.scatter(-1, order, ordered.masked_fill(drop, float("-inf")))
    return logits


def _trim(row: list[int], tokenizer: Tokenizer) -> list[int]:
    body = row[1:]
    if tokenizer.eos in body:
        body = body[: body.index(tokenizer.eos)]
    return body


def params_check(params: SampleParams) -> None:
    if params.temperature <= 0:
        raise SampleError("temperature must be above 0")
    if not 0 < params.top_p <= 1:
        raise SampleError("top_p must be in (0, 1]")
    if params.top_k < 0 or params.length < 1 or params.count < 1:
        raise SampleError("top_k must be 0 or more, length and count 1 or more")
    if not 0 <= params.beams <= MAX_BEAMS:
        raise SampleError(f"beams must be between 0 (sampling) and {MAX_BEAMS}")
    if not 0 <= params.seed < 2**63:
        raise SampleError("seed must be between 0 and 2**63 - 1")


def _style(checkpoint: Checkpoint, params: SampleParams, device: str) -> torch.Tensor | None:
    styles: list[str] = checkpoint.config["styles"]
    if params.style is not None and params.style not in styles:
        raise SampleError(f"unknown style {params.style!r}; this model knows {', '.join(map(repr, styles))}")
    if checkpoint.config["model"]["num_styles"] <= 1:
        if params.style is not None and len(styles) > 1:
            raise SampleError("this model was trained without style conditioning; leave the style out")
        return None
    chosen = styles.index(params.style) if params.style is not None else 0
    return torch.full((params.count,), chosen, dtype=torch.long, device=device)


def _primer(tokenizer: Tokenizer, params: SampleParams) -> list[int]:
    if params.primer is None:
        return []
    path = Path(params.primer)
    if not path.is_file():
        raise SampleError(f"the primer {path} does not exist")
    ids = tokenizer.encode(midi_read(path)).tolist()
    if isinstance(tokenizer, ChoraleTokenizer):
        ids = ids[: len(ids) // ChoraleTokenizer.VOICES * ChoraleTokenizer.VOICES]
    return [int(i) for i in ids]


@contextmanager
def _onednn_off() -> Iterator[None]:
    before = torch.backends.mkldnn.enabled
    torch.backends.mkldnn.enabled = False  # type: ignore[assignment]
    try:
        yield
    finally:
        torch.backends.mkldnn.enabled = before


@contextmanager
def _deterministic(device: torch.device) -> Iterator[None]:
    if device.type != "cuda":
        yield
        return
    before = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m generation.sample", description=__doc__.split("\n")[0])
    parser.add_argument("checkpoint", help="a checkpoint folder (a run's checkpoint/)")
    parser.add_argument("--out", default="var/generation/samples", help="folder for the MIDI and token files")
    parser.add_argument("--device", default="cpu", help="cpu (reproducible anywhere alike) or cuda")
    options_add(parser, SampleParams())
    args = vars(parser.parse_args(argv))
    folder, out, device = Path(args.pop("checkpoint")), Path(args.pop("out")), args.pop("device")
    try:
        outputs = sample(Checkpoint.open(folder), SampleParams(**args), device=device)
    except (SampleError, CheckpointError, InvalidMidi) as error:
        raise SystemExit(f"error: {error}") from error
    out.mkdir(parents=True, exist_ok=True)
    for output in outputs:
        stem = out / f"{output.provenance['weights_sha256'][:12]}-{args['seed']}-{output.index}"
        stem.with_suffix(".mid").write_bytes(output.midi)
        stem.with_suffix(".json").write_text(json.dumps(_describe(output), indent=1) + "\n")
        print(f"{stem.with_suffix('.mid')}  sha256 {output.sha256}")


def _describe(output: Output) -> dict[str, Any]:
    return {
        "sha256": output.sha256,
        "provenance": output.provenance,
        "originality": output.originality,
        "tokens": np.asarray(output.tokens).tolist(),
    }


if __name__ == "__main__":
    main()
