"""Real chorales, prepared and trained on once per session: the tests share a tiny model."""

from dataclasses import replace
from pathlib import Path

import pytest

from generation.checkpoint import Checkpoint
from generation.chorales import chorales_export
from generation.data import PrepareConfig, Prepared, prepare
from generation.tokenizers import TokenizerConfig
from generation.train import TrainConfig, tiny_config, train

# The Passion chorale's melody harmonised six times, a tune shared by two titles
# ("Nun ruhen alle Wälder", "O Welt, sieh hier dein Leben"), and others.
SAME_MELODY = ("bwv244.15", "bwv244.44", "bwv244.54", "bwv244.62", "bwv270", "bwv271")
CHORALES = (
    *SAME_MELODY,
    "bwv392",
    "bwv393",
    "bwv395",
    "bwv253",
    "bwv414",
    "bwv269",
    "bwv347",
    "bwv11.6",
    "bwv108.6",
    "bwv10.7",
    "bwv101.7",
    "bwv102.7",
    "bwv103.6",
    "bwv104.6",
)


@pytest.fixture(scope="session")
def chorale_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("chorales")
    chorales_export(folder, names=CHORALES)
    return folder


@pytest.fixture(scope="session")
def prepared(chorale_folder: Path, tmp_path_factory: pytest.TempPathFactory) -> Prepared:
    out = tmp_path_factory.mktemp("prepared")
    return prepare(PrepareConfig(source=str(chorale_folder), out=str(out), tokenizer=TokenizerConfig(kind="chorale")))


@pytest.fixture(scope="session")
def tiny_run(prepared: Prepared, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("run")
    config = replace(tiny_config(TrainConfig(data=str(prepared.folder), out=str(out))), max_steps=150)
    train(config)
    return out


@pytest.fixture(scope="session")
def checkpoint(tiny_run: Path) -> Checkpoint:
    return Checkpoint.open(tiny_run / "checkpoint")
