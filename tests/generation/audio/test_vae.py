"""The thesis' network and the improved one: shapes, training, continuing from a checkpoint."""

from pathlib import Path

import numpy as np
import pytest
import torch

from generation.audio.dataset import SoundSet
from generation.audio.model import BaselineVAE, VAEConfig, kl_divergence, mrstft_loss, vae_build
from generation.audio.train import AudioCheckpoint, EpochReport, TrainConfig, TrainingError, train


def test_the_baseline_is_the_thesis_network() -> None:
    model = vae_build(VAEConfig(kind="baseline"))
    assert isinstance(model, BaselineVAE)
    x = torch.zeros(2, 16000)
    shapes = []
    for layer in model.encoder:
        x = layer(x if x.dim() != 2 or shapes else x.unsqueeze(1))
        if isinstance(layer, torch.nn.Conv1d):
            shapes.append(tuple(x.shape[1:]))
            assert layer.kernel_size == (66,) and layer.stride == (4,)
    assert shapes == [(64, 4000), (128, 1000), (256, 250)]
    assert model.encoder[-2].out_features == 256
    assert model.mean.out_features == 128
    assert isinstance(model.decoder[-1], torch.nn.Tanh)


@pytest.mark.parametrize("kind", ["baseline", "spectral", "ddsp"])
def test_both_models_map_a_second_of_audio_to_128_numbers_and_back(kind: str) -> None:
    model = vae_build(VAEConfig(kind=kind)).eval()
    audio = torch.rand(3, 16000) - 0.5
    decoded, mean, logvar = model(audio, sample=False)
    assert decoded.shape == (3, 16000) and mean.shape == logvar.shape == (3, 128)
    assert decoded.abs().max() <= 1


def test_the_mrstft_loss_is_zero_for_equal_sounds_and_grows_with_noise() -> None:
    t = torch.arange(16000) / 16000
    tone = 0.5 * torch.sin(2 * torch.pi * 440 * t).unsqueeze(0)
    noise = torch.randn(1, 16000, generator=torch.Generator().manual_seed(0))
    assert float(mrstft_loss(tone, tone)) == 0
    assert float(mrstft_loss(tone + 0.001 * noise, tone)) < float(mrstft_loss(tone + 0.05 * noise, tone))
    assert float(kl_divergence(torch.zeros(2, 128), torch.zeros(2, 128))) == 0


@pytest.mark.parametrize("kind", ["baseline", "spectral"])  # ddsp: tests/generation/audio/test_ddsp.py
def test_a_short_training_lowers_the_loss_and_reports_every_epoch(kind: str, lab_set: SoundSet, tmp_path: Path) -> None:
    reports: list[EpochReport] = []
    model = VAEConfig(kind=kind, channels=64)
    checkpoint = train(
        lab_set, tmp_path, model=model, config=TrainConfig(epochs=6, batch_size=4, lr=1e-3), progress=reports.append
    )
    assert [r.epoch for r in reports] == [1, 2, 3, 4, 5, 6]
    assert reports[-1].reconstruction < reports[0].reconstruction
    assert reports[-1].mrstft < reports[0].mrstft
    assert reports[0].original.shape == reports[0].reconstructed.shape == (16000,)
    assert np.array_equal(reports[0].original, lab_set.audio[reports[0].clip])
    config = checkpoint.config
    assert config["sounds"]["audio_sha256"] == lab_set.audio_sha256()
    assert [h["epoch"] for h in config["history"]] == [1, 2, 3, 4, 5, 6]
    assert config["weights_sha256"] == checkpoint.weights_sha256()


def test_training_can_continue_from_a_pretrained_model(
    lab_set: SoundSet, sound_model: AudioCheckpoint, tmp_path: Path
) -> None:
    fresh: list[EpochReport] = []
    continued: list[EpochReport] = []
    model = sound_model.model_config()
    config = TrainConfig(epochs=1, batch_size=6)
    train(lab_set, tmp_path / "fresh", model=model, config=config, progress=fresh.append)
    out = train(
        lab_set, tmp_path / "continued", model=model, config=config, pretrained=sound_model, progress=continued.append
    )
    assert continued[0].mrstft < fresh[0].mrstft
    assert out.config["pretrained"]["weights_sha256"] == sound_model.weights_sha256()


def test_a_continued_run_cannot_overwrite_the_checkpoint_it_continues(
    lab_set: SoundSet, sound_model: AudioCheckpoint
) -> None:
    with pytest.raises(TrainingError, match="another folder"):
        train(lab_set, sound_model.folder, model=sound_model.model_config(), pretrained=sound_model)


def test_continuing_from_a_model_of_another_shape_is_refused(
    lab_set: SoundSet, sound_model: AudioCheckpoint, tmp_path: Path
) -> None:
    with pytest.raises(TrainingError, match="the pretrained model is"):
        train(lab_set, tmp_path, model=VAEConfig(kind="baseline"), pretrained=sound_model)


def test_training_needs_sounds_and_sane_settings(tmp_path: Path, lab_set: SoundSet) -> None:
    with pytest.raises(TrainingError, match="empty"):
        train(SoundSet(), tmp_path)
    with pytest.raises(TrainingError, match="learning rate"):
        train(lab_set, tmp_path, config=TrainConfig(lr=0))


def test_training_stops_once_the_target_loss_is_reached(
    lab_set: SoundSet, sound_model: AudioCheckpoint, tmp_path: Path
) -> None:
    reports: list[EpochReport] = []
    target = 100.0  # any trained model is under this
    train(
        lab_set,
        tmp_path,
        model=sound_model.model_config(),
        config=TrainConfig(epochs=5, target_mrstft=target),
        progress=reports.append,
    )
    assert len(reports) == 1


def test_training_twice_gives_the_same_weights(lab_set: SoundSet, tmp_path: Path) -> None:
    model, config = VAEConfig(kind="spectral", channels=32), TrainConfig(epochs=1, batch_size=4, seed=5)
    first = train(lab_set, tmp_path / "a", model=model, config=config)
    second = train(lab_set, tmp_path / "b", model=model, config=config)
    assert first.weights_sha256() == second.weights_sha256()
