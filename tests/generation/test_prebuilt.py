"""The committed demo model: its weights are the ones its record names, it is good enough to
hear (test NLL on the committed split), and a run adopts it only with the data it trained on."""

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from generation import prebuilt
from generation.checkpoint import Checkpoint
from generation.family import TrainJob
from generation.files import file_sha256
from generation.prebuilt import FOLDER, PrebuiltError, adopt, record_read
from generation.sample import SampleParams, sample
from generation.tokenizers import ChoraleTokenizer

NAME = "demo-chorales"


def test_the_committed_weights_are_the_ones_the_record_names() -> None:
    record = record_read(NAME)
    assert file_sha256(FOLDER / NAME / "model.safetensors") == record["weights_sha256"]
    assert (FOLDER / NAME / "model.safetensors").stat().st_size <= 20 * 2**20
    assert record["model"]["kind"] == "transformer" and record["tokenizer"]["config"]["kind"] == "chorale"
    assert record["rebuild"] == "make demo-model" and record["threads"] == prebuilt.THREADS
    assert record["test_nll"] <= 0.60  # nats per token on the committed split's 34 held-out chorales
    assert record["training"]["max_steps"] == prebuilt.PREBUILT[NAME].train["max_steps"]


def _job(
    tmp_path: Path, pieces: list[dict[str, Any]], config: dict[str, Any] | None = None, curve: list[Any] | None = None
) -> TrainJob:
    files = [{"path": f"v1/{p['name']}.mid", "sha256": p["sha256"]} for p in pieces]
    manifest = tmp_path / "manifest.json"
    roots = [{"dataset_version": "v1", "merkle_root": "ab" * 32}]
    manifest.write_text(json.dumps({"dataset_roots": roots, "licence": "BSD-3-Clause", "files": files}))
    return TrainJob(
        folder=tmp_path / "run",
        data=tmp_path / "data",
        manifest=manifest,
        config=config or {"model": "transformer", "tokenizer": "chorale", "prebuilt": NAME},
        progress=lambda point, latest: (curve if curve is not None else []).append(point),
    )


def test_a_run_holding_its_training_data_adopts_it(tmp_path: Path) -> None:
    record = record_read(NAME)
    curve: list[dict[str, Any]] = []
    trained = adopt(NAME, _job(tmp_path, record["data"]["pieces"], curve=curve), kind="transformer")
    assert [p["step"] for p in curve] == list(range(50, 801, 50))  # the run's page draws the training's curve
    assert curve[-1]["val_nll"] == record["metrics"]["val_nll"]
    checkpoint = Checkpoint.open(trained.checkpoint)
    assert checkpoint.weights_sha256() == record["weights_sha256"]
    assert checkpoint.config["data"]["dataset_roots"][0]["merkle_root"] == "ab" * 32
    assert checkpoint.config["prebuilt"]["name"] == NAME and trained.metrics["test_nll"] == record["test_nll"]
    assert sum(trained.usage.values()) == sum(record["tokens"].values()) and all(
        path.startswith("v1/") for path in trained.usage
    )
    output = sample(checkpoint, SampleParams(length=256, seed=2, temperature=1.2))[0]
    frames = np.asarray(output.tokens[: len(output.tokens) // 4 * 4]).reshape(-1, 4)
    ranges = output.provenance["constraint"]["ranges"]
    for voice, name in enumerate(("soprano", "alto", "tenor", "bass")):
        sung = frames[frames[:, voice] >= ChoraleTokenizer.FIRST_PITCH, voice] - ChoraleTokenizer.FIRST_PITCH
        assert sung.size and ranges[name][0] <= sung.min() and sung.max() <= ranges[name][1]


def test_a_run_without_a_piece_it_trained_on_is_refused_naming_it(tmp_path: Path) -> None:
    pieces = record_read(NAME)["data"]["pieces"]
    with pytest.raises(PrebuiltError, match=f"lack 1 of the {len(pieces)} pieces .*first {pieces[3]['name']}"):
        adopt(NAME, _job(tmp_path, pieces[:3] + pieces[4:]), kind="transformer")


def test_it_is_refused_for_another_family_or_tokenizer(tmp_path: Path) -> None:
    pieces = record_read(NAME)["data"]["pieces"]
    with pytest.raises(PrebuiltError, match="is a transformer with the chorale tokenizer"):
        adopt(NAME, _job(tmp_path, pieces), kind="lstm")
    with pytest.raises(PrebuiltError, match="is a transformer with the chorale tokenizer"):
        adopt(NAME, _job(tmp_path, pieces, {"model": "transformer", "tokenizer": "remi"}), kind="transformer")


def test_weights_that_differ_from_the_record_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(FOLDER, tmp_path / "prebuilt")
    weights = tmp_path / "prebuilt" / NAME / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1
    weights.write_bytes(bytes(data))
    monkeypatch.setattr(prebuilt, "FOLDER", tmp_path / "prebuilt")
    with pytest.raises(PrebuiltError, match="does not match the SHA-256 its record names"):
        adopt(NAME, _job(tmp_path, record_read(NAME)["data"]["pieces"]), kind="transformer")
