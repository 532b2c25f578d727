"""The CUDA path: mixed-precision training and deterministic sampling. Runs where a GPU is."""

from dataclasses import replace
from pathlib import Path

import pytest
import torch

from generation.data import Prepared
from generation.sample import SampleParams, sample
from generation.train import TrainConfig, tiny_config, train

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.mark.parametrize("kind", ["lstm", "transformer"])
def test_it_trains_resumes_and_samples_reproducibly_on_cuda(prepared: Prepared, tmp_path: Path, kind: str) -> None:
    config = replace(tiny_config(TrainConfig(data=str(prepared.folder), out=str(tmp_path), device="cuda")))
    config = replace(config, model=replace(config.model, kind=kind), max_steps=60, eval_every=20)
    train(replace(config, max_steps=40))
    checkpoint = train(config)  # resumed on the GPU: its random state and loss scale come back
    assert checkpoint.config["metrics"]["device"] == "cuda"
    assert checkpoint.config["metrics"]["val_nll"] < 4.0
    params = SampleParams(length=200, count=4, seed=5)
    first, second = (sample(checkpoint, params, device="cuda") for _ in range(2))
    assert [o.sha256 for o in first] == [o.sha256 for o in second]
    assert first[0].provenance["device"] == "cuda"
