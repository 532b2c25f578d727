import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from generation.checkpoint import Checkpoint
from generation.data import Prepared
from generation.midi import midi_read
from generation.sample import SampleParams, model_load, sample
from generation.train import TrainConfig, sequence_nll, tiny_config, train


def _log(run: Path) -> list[dict[str, float]]:
    return [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]


def test_a_tiny_run_lowers_the_validation_loss(tiny_run: Path) -> None:
    log = _log(tiny_run)
    assert len(log) == 3
    assert min(r["val_nll"] for r in log) < log[0]["val_nll"] - 0.3


def test_the_checkpoint_says_where_it_came_from(checkpoint: Checkpoint, prepared: Prepared) -> None:
    config = checkpoint.config
    assert config["model"]["kind"] == "lstm"
    assert config["model"]["lag"] == 4  # it reads each voice's previous 16th beside the last token
    assert config["tokenizer"] == prepared.meta["tokenizer"]
    assert config["data"]["pieces"] == prepared.meta["pieces"]  # names, SHA-256, sides, groups
    assert len(config["code"]["source_sha256"]) == 64
    assert config["training"]["lr"] == 3e-3
    assert (checkpoint.folder / "originality.npz").is_file()


def test_a_loaded_checkpoint_scores_what_it_recorded(checkpoint: Checkpoint, prepared: Prepared) -> None:
    model = model_load(checkpoint)
    total, count = sequence_nll(
        model, prepared.sequences("validation", augmented=False), prepared.tokenizer, device=torch.device("cpu")
    )
    assert total / count == pytest.approx(checkpoint.config["metrics"]["val_nll"], rel=1e-6)


def _config(prepared: Prepared, out: Path, steps: int) -> TrainConfig:
    config = TrainConfig(data=str(prepared.folder), out=str(out), device="cpu")
    return replace(tiny_config(config), max_steps=steps, eval_every=20)


def test_a_resumed_run_ends_where_an_uninterrupted_one_does(prepared: Prepared, tmp_path: Path) -> None:
    straight = train(_config(prepared, tmp_path / "straight", 60))
    train(_config(prepared, tmp_path / "resumed", 40))
    resumed = train(_config(prepared, tmp_path / "resumed", 60))
    assert resumed.weights_sha256() == straight.weights_sha256()
    assert [r["val_nll"] for r in _log(tmp_path / "resumed")] == [r["val_nll"] for r in _log(tmp_path / "straight")]


def test_a_run_folder_moved_to_another_host_resumes_there(prepared: Prepared, tmp_path: Path) -> None:
    straight = train(_config(prepared, tmp_path / "straight", 60))
    train(_config(prepared, tmp_path / "here", 40))
    shutil.copytree(tmp_path / "here", tmp_path / "there")  # its resume point, fetched by another host
    shutil.copytree(prepared.folder, tmp_path / "data-there")
    moved = train(replace(_config(prepared, tmp_path / "there", 60), data=str(tmp_path / "data-there")))
    assert moved.weights_sha256() == straight.weights_sha256()


def test_it_refuses_to_resume_a_run_with_another_configuration(prepared: Prepared, tmp_path: Path) -> None:
    train(_config(prepared, tmp_path, 20))
    with pytest.raises(ValueError, match="another configuration"):
        train(replace(_config(prepared, tmp_path, 40), lr=1e-2))


def test_it_reports_progress_as_it_goes(prepared: Prepared, tmp_path: Path) -> None:
    seen: list[dict[str, float]] = []
    train(_config(prepared, tmp_path, 40), progress=seen.append)
    assert [r["step"] for r in seen] == [20, 40]
    assert all(r["val_ppl"] > 1 for r in seen)


def test_the_transformer_learns_and_samples_past_its_context(prepared: Prepared, tmp_path: Path) -> None:
    config = _config(prepared, tmp_path, 80)
    checkpoint = train(replace(config, model=replace(config.model, kind="transformer")))
    log = _log(tmp_path)
    assert checkpoint.config["model"]["kind"] == "transformer"
    assert checkpoint.config["model"]["block_size"] == config.seq_len == 128
    assert min(r["val_nll"] for r in log) < log[0]["val_nll"] - 0.2
    # 300 tokens through a 128-token sliding cache; tied weights survive the safetensors round trip.
    params = SampleParams(length=300, count=2, seed=3)
    first, second = sample(checkpoint, params), sample(checkpoint, params)
    assert [o.sha256 for o in first] == [o.sha256 for o in second]
    assert max(len(o.tokens) for o in first) > 128
    assert midi_read(first[0].midi).note_num() > 0
