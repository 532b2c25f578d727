import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from generation.checkpoint import Checkpoint
from generation.constraints import allowed_mask
from generation.data import PrepareConfig, Prepared, prepare
from generation.midi import midi_bytes, midi_read, sha256_hex
from generation.model import Model, ModelConfig, model_build
from generation.sample import SampleError, SampleParams, _beam_one, generate, model_load, sample
from generation.tokenizers import ChoraleTokenizer, TokenizerConfig
from generation.train import TrainConfig, tiny_config, train

ROOT = Path(__file__).resolve().parents[2]


def _sample_cli(checkpoint: Checkpoint, out: Path) -> dict[str, bytes]:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "generation.sample",
            str(checkpoint.folder),
            "--count",
            "3",
            "--seed",
            "11",
            "--length",
            "200",
            "--temperature",
            "1.1",
            "--top-p",
            "0.95",
            "--out",
            str(out),
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    return {path.name: path.read_bytes() for path in sorted(out.glob("*.mid"))}


def test_two_runs_give_byte_identical_midi(checkpoint: Checkpoint, tmp_path: Path) -> None:
    first = _sample_cli(checkpoint, tmp_path / "first")
    second = _sample_cli(checkpoint, tmp_path / "second")
    assert len(first) == 3
    assert first == second
    assert len(set(first.values())) == 3  # three different pieces, each reproduced


def test_another_seed_gives_other_music(checkpoint: Checkpoint) -> None:
    one = sample(checkpoint, SampleParams(length=120, seed=1))
    two = sample(checkpoint, SampleParams(length=120, seed=2))
    assert one[0].sha256 != two[0].sha256


def test_a_primer_starts_every_piece(checkpoint: Checkpoint, chorale_folder: Path, tmp_path: Path) -> None:
    tokenizer = checkpoint.tokenizer()
    opening = tokenizer.encode(midi_read(chorale_folder / "bwv269.mid"))[:64]
    primer = tmp_path / "primer.mid"
    primer.write_bytes(midi_bytes(tokenizer.decode(opening)))
    outputs = sample(checkpoint, SampleParams(length=64, count=2, primer=str(primer)))
    assert all(output.tokens[:64] == opening.tolist() for output in outputs)
    assert outputs[0].provenance["primer_sha256"] == sha256_hex(primer.read_bytes())
    assert outputs[0].tokens != outputs[1].tokens


def test_each_piece_is_valid_midi_with_an_originality_report(checkpoint: Checkpoint) -> None:
    for output in sample(checkpoint, SampleParams(length=160, count=2)):
        assert midi_read(output.midi).note_num() > 0
        assert output.originality is not None
        assert output.originality["longest_melody_run"] >= 0


def test_it_refuses_an_unknown_style_naming_the_known_ones(checkpoint: Checkpoint) -> None:
    with pytest.raises(SampleError, match="unknown style 'jazz'"):
        sample(checkpoint, SampleParams(style="jazz"))


@pytest.mark.parametrize("params", [SampleParams(temperature=0), SampleParams(top_p=0), SampleParams(count=0)])
def test_it_refuses_parameters_it_cannot_use(checkpoint: Checkpoint, params: SampleParams) -> None:
    with pytest.raises(SampleError):
        sample(checkpoint, params)


@pytest.mark.parametrize(("kind", "lag"), [("lstm", 0), ("lstm", 4), ("transformer", 0)])
def test_stepping_the_state_gives_the_logits_of_a_full_pass(kind: str, lag: int) -> None:
    torch.manual_seed(0)
    model = model_build(
        ModelConfig(
            kind=kind, vocab_size=50, d_model=32, n_layers=2, n_heads=2, block_size=64, max_distance=64, lag=lag
        )
    ).eval()
    tokens = torch.randint(0, 50, (3, 40))
    full, _ = model(tokens)
    state, steps = None, []
    for i in range(40):
        logits, state = model(tokens[:, i : i + 1], None, state)
        steps.append(logits)
    torch.testing.assert_close(torch.cat(steps, 1), full, atol=1e-5, rtol=1e-4)


def test_the_stateful_loop_samples_what_the_plain_loop_does(checkpoint: Checkpoint) -> None:
    model, tokenizer = model_load(checkpoint), checkpoint.tokenizer()
    params = SampleParams(length=80, count=2, top_k=1)
    rows = [
        generate(model, tokenizer, [], params, style=None, generator=torch.Generator().manual_seed(0), use_state=s)
        for s in (True, False)
    ]
    assert rows[0] == rows[1]


def test_a_style_conditioned_model_samples_the_style_asked_for(chorale_folder: Path, tmp_path: Path) -> None:
    paths = sorted(chorale_folder.glob("*.mid"))
    files = [
        {"path": p.name, "sha256": sha256_hex(p.read_bytes()), "style": "passion" if "244" in p.name else "other"}
        for p in paths
    ]
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"dataset_roots": [], "files": files}))
    prepared = prepare(
        PrepareConfig(
            source=str(chorale_folder),
            out=str(tmp_path / "data"),
            manifest=str(manifest),
            tokenizer=TokenizerConfig(kind="chorale"),
        )
    )
    config = replace(tiny_config(TrainConfig(data=str(prepared.folder), out=str(tmp_path / "run"))), max_steps=20)
    checkpoint = train(config)
    assert checkpoint.config["styles"] == ["other", "passion"]
    assert checkpoint.config["model"]["num_styles"] == 2
    model, tokenizer = model_load(checkpoint), checkpoint.tokenizer()
    opening = torch.tensor([[tokenizer.bos, *prepared.sequences("train")[0][0][:32].tolist()]])
    as_other, as_passion = (model(opening, torch.tensor([style]))[0] for style in (0, 1))
    assert (as_other - as_passion).abs().max() > 1e-3  # the style changes what the model predicts
    mask = allowed_mask(checkpoint.config["allowed"], tokenizer.vocab_size, "cpu")
    for index, style in enumerate(checkpoint.config["styles"]):
        params = SampleParams(length=60, style=style, seed=4)
        generator = torch.Generator().manual_seed(4)
        expected = generate(model, tokenizer, [], params, style=torch.tensor([index]), generator=generator, mask=mask)
        assert sample(checkpoint, params)[0].tokens == expected[0]


@pytest.mark.parametrize("kind", ["lstm", "transformer"])
def test_a_fresh_style_embedding_does_not_drown_the_tokens(kind: str) -> None:
    # A unit-variance style vector beside 0.02-scale token embeddings left a Transformer blind to
    # its input (stuck at the unigram loss): the tokens moved its outputs 50x less than the style.
    torch.manual_seed(0)
    model = model_build(ModelConfig(kind=kind, vocab_size=50, num_styles=2, d_model=32, n_layers=2, n_heads=2)).eval()
    tokens = torch.randint(0, 50, (8, 16))
    other_tokens = torch.randint(0, 50, (8, 16))
    styles, other_styles = torch.zeros(8, dtype=torch.long), torch.ones(8, dtype=torch.long)
    base = model(tokens, styles)[0]
    by_token = (model(other_tokens, styles)[0] - base).abs().mean()
    by_style = (model(tokens, other_styles)[0] - base).abs().mean()
    assert by_token > 0.2 * by_style


def test_no_sampled_pitch_leaves_its_voices_range_in_the_training_data(
    checkpoint: Checkpoint, prepared: Prepared
) -> None:
    training = np.concatenate([tokens.reshape(-1, 4) for tokens, _ in prepared.sequences("train")])
    pitched = training >= ChoraleTokenizer.FIRST_PITCH
    low = [int(training[pitched[:, v], v].min()) for v in range(4)]
    high = [int(training[pitched[:, v], v].max()) for v in range(4)]
    params = SampleParams(length=400, count=4, temperature=2.0, seed=3)  # hot: wild notes are likely
    outputs = sample(checkpoint, params)
    for output in outputs:
        frames = np.asarray(output.tokens[: len(output.tokens) // 4 * 4]).reshape(-1, 4)
        for voice in range(4):
            sung = frames[frames[:, voice] >= ChoraleTokenizer.FIRST_PITCH, voice]
            assert sung.size and low[voice] <= sung.min() and sung.max() <= high[voice]
    first = ChoraleTokenizer.FIRST_PITCH
    assert outputs[0].provenance["constraint"]["ranges"]["soprano"] == [low[0] - first, high[0] - first]
    # The same model sampled without the constraint sings outside those ranges.
    model, tokenizer = model_load(checkpoint), checkpoint.tokenizer()
    free = generate(model, tokenizer, [], params, style=None, generator=torch.Generator().manual_seed(3))
    frames = np.concatenate([np.asarray(row[: len(row) // 4 * 4]).reshape(-1, 4) for row in free])
    outside = [(frames[:, v] >= first) & ((frames[:, v] < low[v]) | (frames[:, v] > high[v])) for v in range(4)]
    assert any(o.any() for o in outside)


@torch.no_grad()
def _mean_log_prob(model: Model, row: list[int]) -> float:
    """Per token, as sampling sees it: PAD and BOS (0 and 1 in every tokenizer here) never drawn."""
    tokens = torch.tensor([row])
    logits, _ = model(tokens[:, :-1])
    logits[..., :2] = float("-inf")
    return float(torch.log_softmax(logits, -1).gather(2, tokens[:, 1:, None]).mean())


def test_beam_search_finds_likelier_pieces_than_sampling(checkpoint: Checkpoint) -> None:
    model, bos = model_load(checkpoint), checkpoint.tokenizer().bos
    sampled = sample(checkpoint, SampleParams(length=120, count=3, seed=5))
    searched = sample(checkpoint, SampleParams(length=120, count=3, seed=5, beams=4))
    assert searched[0].provenance["params"]["beams"] == 4
    assert [o.sha256 for o in searched] == [
        o.sha256 for o in sample(checkpoint, SampleParams(120, count=3, seed=5, beams=4))
    ]
    assert len({o.sha256 for o in searched}) == 3  # the seed still chooses: three different pieces
    likelihood = [
        np.mean([_mean_log_prob(model, [bos, *o.tokens]) for o in outputs]) for outputs in (sampled, searched)
    ]
    assert likelihood[1] > likelihood[0] + 0.05


@pytest.mark.parametrize(("kind", "lag"), [("lstm", 0), ("lstm", 4), ("transformer", 0)])
def test_beam_search_carries_each_hypothesis_state_with_it(kind: str, lag: int) -> None:
    """The score a beam reports, from states reordered step by step, is the full pass's."""
    torch.manual_seed(1)
    config = ModelConfig(
        kind=kind, vocab_size=40, d_model=32, n_layers=2, n_heads=2, block_size=64, max_distance=64, lag=lag
    )
    model = model_build(config).eval()
    tokenizer = ChoraleTokenizer(TokenizerConfig(kind="chorale"))
    tokenizer.vocab_size = 40
    params = SampleParams(length=40, beams=5)
    score, row = _beam_one(model, tokenizer, [], params, None, torch.Generator().manual_seed(0), None)
    assert tokenizer.eos not in row[1:-1] and (len(row) == 41 or row[-1] == tokenizer.eos)
    assert score == pytest.approx(_mean_log_prob(model, row), abs=1e-4)


def test_too_many_beams_are_refused(checkpoint: Checkpoint) -> None:
    with pytest.raises(SampleError, match="beams must be between 0"):
        sample(checkpoint, SampleParams(beams=17))
