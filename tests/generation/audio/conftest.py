"""A small designed set and a sound model trained on it once per session."""

from pathlib import Path

import pytest

from generation.audio.dataset import SoundSet, synth_set
from generation.audio.model import VAEConfig
from generation.audio.synth import lab_synths
from generation.audio.train import AudioCheckpoint, TrainConfig, train


@pytest.fixture(scope="session")
def lab_set() -> SoundSet:
    return synth_set(lab_synths(per_group=3))


@pytest.fixture(scope="session")
def lab_folder(tmp_path_factory: pytest.TempPathFactory, lab_set: SoundSet) -> Path:
    folder = tmp_path_factory.mktemp("sounds")
    lab_set.save(folder)
    return folder


@pytest.fixture(scope="session")
def sound_model(tmp_path_factory: pytest.TempPathFactory, lab_set: SoundSet) -> AudioCheckpoint:
    out = tmp_path_factory.mktemp("vae")
    return train(
        lab_set, out, model=VAEConfig(kind="spectral", channels=64), config=TrainConfig(epochs=2, batch_size=6)
    )
