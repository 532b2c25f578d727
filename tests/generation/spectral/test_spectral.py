"""The spectrogram diffusion family's library: pictures of recordings and back, tags and prompts,
training that resumes and continues, and sampling that is the same for the same request."""

import io
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from generation.audio.dataset import AudioError
from generation.spectral.model import SpectralConfig
from generation.spectral.sample import Ask, SpectralModel
from generation.spectral.spectrogram import FRAMES, MELS, OUTPUT_RATE, RATE, audio_decode, audio_of, image
from generation.spectral.tags import PromptError, prompt_tags, tags_clean
from generation.spectral.train import RESUME, SpectralCheckpoint, TrainConfig, train
from generation.spectral.windows import Recordings
from tests.generation.spectral.conftest import TAKES, take


@pytest.fixture(scope="module")
def model(spectral_model: SpectralCheckpoint) -> SpectralModel:
    return SpectralModel(spectral_model)


def test_a_tone_lands_in_its_band_and_comes_back_as_audio() -> None:
    audio = audio_decode(take(440), filename="a.wav")
    picture = image(audio)
    assert picture.shape[0] == MELS and picture.min() >= -1 and picture.max() <= 1
    loudest = int(np.argmax(picture[:, 40:60].mean(axis=1)))
    assert loudest == int(np.argmax(image(audio_decode(take(440), filename="a.wav"))[:, 50]))
    assert loudest < int(np.argmax(image(audio_decode(take(1760), filename="b.wav"))[:, 40:60].mean(axis=1)))
    back = audio_of(picture, seconds=4.0)
    assert len(back) == 4 * OUTPUT_RATE
    import soxr

    again = image(np.asarray(soxr.resample(back, OUTPUT_RATE, RATE), dtype=np.float32))
    loud = picture > -0.5  # above -60 dB
    assert np.abs(again[loud] - picture[loud]).mean() * 40 < 4.0  # decibels, after Griffin-Lim


@pytest.mark.parametrize(("data", "says"), [(b"", "is empty"), (b"RIFF" + bytes(40), "could not be read as audio")])
def test_audio_it_cannot_read_is_named(data: bytes, says: str) -> None:
    with pytest.raises(AudioError, match=says):
        audio_decode(data, filename="x.wav")


def test_tags_are_words_and_prompts_use_the_models_words() -> None:
    assert tags_clean("Organ, chorale organ") == ["chorale", "organ"]
    with pytest.raises(ValueError, match="is not a tag"):
        tags_clean(["organ!"])
    assert prompt_tags("Organ;  LOW", ["low", "organ"]) == ["low", "organ"]
    with pytest.raises(PromptError, match="no tag 'banjo'; its tags are low, organ"):
        prompt_tags("organ banjo", ["low", "organ"])


def test_the_checkpoint_names_its_files_tags_and_windows(spectral_model: SpectralCheckpoint) -> None:
    config = spectral_model.config
    assert config["model"]["vocabulary"] == ["drums", "flute", "high", "low", "organ"]
    assert {f["path"]: f["tags"] for f in config["files"]} == {p: sorted(t) for p, (_, t) in TAKES.items()}
    assert all(f["windows"] >= 1 and len(f["sha256"]) == 64 for f in config["files"])
    assert [p["step"] for p in config["history"]] == [4, 8]


def test_training_resumes_where_it_stopped(recordings: Recordings, tmp_path: Path) -> None:
    out = tmp_path / "checkpoint"
    config = TrainConfig(steps=4, batch_size=2, eval_every=2)
    train(recordings, out, model=SpectralConfig(channels=16), config=config)
    assert (tmp_path / RESUME).is_file()
    resumed = train(recordings, out, model=SpectralConfig(channels=16), config=replace(config, steps=6))
    assert [p["step"] for p in resumed.config["history"]] == [2, 4, 6]


def test_a_continued_model_keeps_its_tags_and_learns_new_ones(
    spectral_model: SpectralCheckpoint, recordings: Recordings, tmp_path: Path
) -> None:
    base = spectral_model.load()
    piano = replace(recordings.items[0], tags=["piano"])
    config = TrainConfig(steps=1, batch_size=2, eval_every=1, lr=1e-12)
    continued = train(
        Recordings([piano]), tmp_path / "checkpoint", model=SpectralConfig(), config=config, base=spectral_model
    )
    assert continued.config["base"] == {"weights_sha256": spectral_model.config["weights_sha256"]}
    net = continued.load()
    assert net.config.vocabulary == ["drums", "flute", "high", "low", "organ", "piano"]
    assert net.config.channels == 16  # the base's shape
    old = base.config.vocabulary
    for row, name in enumerate(net.config.vocabulary):
        if name in old:
            assert torch.allclose(net.tags[row], base.tags[old.index(name)], atol=1e-6)


def test_the_same_request_gives_the_same_bytes(model: SpectralModel) -> None:
    ask = Ask(prompt="organ low", seed=3, steps=3, seconds=2.0)
    first, second = model.piece(ask), model.piece(ask)
    assert first.wav == second.wav
    assert model.piece(replace(ask, seed=4)).wav != first.wav
    audio, rate = soundfile.read(io.BytesIO(first.wav))
    assert rate == 44_100 and len(audio) == 2 * 44_100 and 0.85 < np.abs(audio).max() <= 0.9
    assert first.provenance["tags"] == ["low", "organ"] and first.provenance["model"]["kind"] == "spectral-diffusion"


def test_a_longer_piece_continues_its_first_window(model: SpectralModel) -> None:
    ask = Ask(prompt="flute", seed=1, steps=3, seconds=FRAMES * 512 / RATE)
    one, _, _ = model.picture(ask)
    long, seconds, starts = model.picture(replace(ask, seconds=7.0))
    assert seconds == 7.0 and starts[0] == 0 and len(starts) == 3
    assert np.array_equal(long[:, :FRAMES], one)  # later windows take the earlier ones as given
    assert starts[1] < FRAMES  # and overlap them: the second begins inside the first


def test_a_morph_runs_from_one_prompt_to_the_other(model: SpectralModel) -> None:
    ask = Ask(prompt="organ", seed=2, steps=3, seconds=2.0)
    organ, flute = model.picture(ask)[0], model.picture(replace(ask, prompt="flute"))[0]
    assert np.array_equal(model.picture(replace(ask, morph="flute", ratio=0.0))[0], organ)
    assert np.array_equal(model.picture(replace(ask, morph="flute", ratio=1.0))[0], flute)
    halfway = model.picture(replace(ask, morph="flute", ratio=0.5))[0]
    assert not np.array_equal(halfway, organ) and not np.array_equal(halfway, flute)
    travelled = model.picture(replace(ask, morph="flute", morph_seed=9, seconds=6.0))
    assert len(travelled[2]) == 3


def test_a_variation_stays_near_its_source_at_low_strength(model: SpectralModel) -> None:
    source = image(audio_decode(take(110), filename="s.wav"))
    ask = Ask(prompt="organ", seed=5, steps=10)
    near = model.piece(replace(ask, strength=0.1), source=source, source_sha256="s" * 64)
    far = model.picture(replace(ask, strength=1.0), source=source)[0]
    width = near.picture.shape[1]
    assert width == source.shape[1]  # a variation keeps its source's length
    assert np.abs(near.picture - source[:, :width]).mean() < np.abs(far - source[:, :width]).mean()
    assert near.provenance["variation"] == {"sha256": "s" * 64, "strength": 0.1}


def test_a_bad_request_is_named(model: SpectralModel) -> None:
    with pytest.raises(PromptError, match="its tags are drums, flute, high, low, organ"):
        model.piece(Ask(prompt="banjo"))
    with pytest.raises(ValueError, match="duration"):
        model.piece(Ask(seconds=600.0))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_it_trains_and_samples_on_cuda(recordings: Recordings, tmp_path: Path) -> None:
    config = TrainConfig(steps=4, batch_size=4, eval_every=2, device="cuda")
    checkpoint = train(recordings, tmp_path / "checkpoint", model=SpectralConfig(channels=32), config=config)
    assert json.loads((checkpoint.folder / "config.json").read_text())["training"]["device"] == "cuda"
    model = SpectralModel(checkpoint, device="cuda")
    ask = Ask(prompt="organ", seed=1, steps=4, seconds=4.0)
    assert model.piece(ask).wav == model.piece(ask).wav
