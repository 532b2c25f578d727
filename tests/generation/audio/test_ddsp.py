"""The DDSP decoder makes the pitch its latent holds, and glides between two pitches log-linearly;
YIN, which supervises that pitch in training, finds a tone's pitch and none in noise; the
analysis that supervises its timbre reads a tone's harmonics and noise floor."""

from pathlib import Path

import numpy as np
import pytest
import torch

from generation.audio.dataset import SoundSet
from generation.audio.features import f0_yin
from generation.audio.model import DDSPVAE, VAEConfig, vae_build
from generation.audio.train import EpochReport, TrainConfig, TrainingError, train

RATE = 16000


def _cents(a: float, b: float) -> float:
    return abs(1200 * np.log2(a / b))


def _heard(audio: torch.Tensor) -> list[float]:
    f0, voiced = f0_yin(audio.numpy())
    return [float(np.median(row[flags])) for row, flags in zip(f0, voiced, strict=True)]


def test_yin_finds_a_tones_pitch_and_none_in_noise_or_silence() -> None:
    t = np.arange(RATE) / RATE
    tone = 0.4 * np.sin(2 * np.pi * 196.0 * t) + 0.2 * np.sin(2 * np.pi * 392.0 * t)
    noise = np.random.default_rng(0).uniform(-0.5, 0.5, RATE)
    f0, voiced = f0_yin(np.stack([tone, noise, np.zeros(RATE)]).astype(np.float32))
    assert f0.shape == voiced.shape == (3, 125)
    assert voiced[0].all() and _cents(float(np.median(f0[0])), 196.0) < 5
    assert voiced[1].mean() < 0.1 and not voiced[2].any()


@torch.no_grad()
def test_the_analysis_reads_a_tones_harmonics_and_its_noise_floor() -> None:
    """The timbre targets: a sine of amplitude a reads a, a partial the tone lacks reads near
    nothing, and white noise of standard deviation s reads s in every band."""
    t = np.arange(RATE) / RATE
    noise = 0.01 * np.random.default_rng(0).standard_normal(RATE)
    tone = 0.4 * np.sin(2 * np.pi * 196.0 * t) + 0.2 * np.sin(2 * np.pi * 588.0 * t) + noise
    model = DDSPVAE(VAEConfig(kind="ddsp", channels=32))
    _, _, _, partials, bands = model.measure(torch.from_numpy(tone.astype(np.float32))[None])
    middle = partials[0, :, 10:-10].median(dim=1).values  # the edges see the padding
    assert middle[0] == pytest.approx(0.4, rel=0.05) and middle[2] == pytest.approx(0.2, rel=0.05)
    assert middle[1] < 0.02 and middle[3] < 0.02  # the missing 2nd and 4th: the noise alone
    assert bands[0, :, 10:-10].median() == pytest.approx(0.01, rel=0.2)


def _at(model: DDSPVAE, hertz: list[float]) -> torch.Tensor:
    """Latents whose pitch head says these frequencies, all frames alike (the head is linear), and
    a plain timbre: harmonics falling off, no noise (an untrained decoder's random one can hide
    its fundamental from YIN, which then hears an octave below)."""
    with torch.no_grad():
        model.heads.weight.zero_()
        model.heads.bias.copy_(torch.cat([-0.05 * torch.arange(model.HARMONICS), torch.full((model.BANDS,), -2.0)]))
        model.pitch.weight.zero_()
        model.pitch.weight[:, 0] = 1.0  # log2(f0 / 440) = z[0]
        model.pitch.bias.zero_()
    z = torch.zeros(len(hertz), model.config.latent)
    z[:, 0] = torch.log2(torch.tensor(hertz) / model.REFERENCE)
    return z


@torch.no_grad()
def test_the_decoder_sounds_at_the_pitch_its_latent_holds() -> None:
    torch.manual_seed(0)
    model = vae_build(VAEConfig(kind="ddsp", channels=64)).eval()
    assert isinstance(model, DDSPVAE)
    hertz = [110.0, 261.63, 523.25]
    z = _at(model, hertz)
    z[:, 1:] = torch.randn(3, model.config.latent - 1)  # whatever else the latent holds
    for heard, asked in zip(_heard(model.decode(z)), hertz, strict=True):
        assert _cents(heard, asked) < 10
    assert torch.equal(model.decode(z), model.decode(z))  # the same sound every time: fixed noise, no draw


@torch.no_grad()
def test_a_latent_between_two_sounds_has_the_geometric_mean_of_their_pitches() -> None:
    torch.manual_seed(1)
    model = vae_build(VAEConfig(kind="ddsp", channels=64)).eval()
    assert isinstance(model, DDSPVAE)
    low, high = _at(model, [150.0, 400.0])
    low[1:], high[1:] = torch.randn(2, model.config.latent - 1)
    ratios = (0.25, 0.5, 0.75)
    heard = _heard(model.decode(torch.stack([(1 - r) * low + r * high for r in ratios])))
    for r, f0 in zip(ratios, heard, strict=True):
        assert _cents(f0, 150.0 ** (1 - r) * 400.0**r) < 15


def test_a_short_training_lowers_its_loss_and_keeps_each_clips_pitch(lab_set: SoundSet, tmp_path: Path) -> None:
    reports: list[EpochReport] = []
    config = TrainConfig(epochs=8, batch_size=4, seed=0)
    model = VAEConfig(kind="ddsp", channels=32)
    checkpoint = train(lab_set, tmp_path, model=model, config=config, progress=reports.append)
    assert reports[-1].loss < reports[0].loss  # MR-STFT with the f0 and loudness the latent must hold
    vae = checkpoint.load()
    assert isinstance(vae, DDSPVAE)
    pitched = [i for i, clip in enumerate(lab_set.clips) if clip.source["synth"]["kind"] != "subtractive"]
    with torch.no_grad():
        reconstructed = vae(torch.from_numpy(lab_set.audio[pitched]), sample=False)[0]
    for original, heard in zip(_heard(torch.from_numpy(lab_set.audio[pitched])), _heard(reconstructed), strict=True):
        assert _cents(heard, original) < 50


def test_a_learning_rate_that_diverges_is_named(lab_set: SoundSet, tmp_path: Path) -> None:
    with pytest.raises(TrainingError, match="lower the learning rate"):
        train(lab_set, tmp_path, model=VAEConfig(kind="ddsp", channels=32), config=TrainConfig(epochs=3, lr=1e6))


def test_a_latent_too_small_for_the_ddsp_model_is_named() -> None:
    with pytest.raises(ValueError, match="needs a latent of more than 30"):
        vae_build(VAEConfig(kind="ddsp", latent=16))
