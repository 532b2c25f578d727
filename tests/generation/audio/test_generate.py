"""New sounds: interpolation, paths, the prior, band-limited 24-bit output, byte for byte again."""

import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile

from generation.audio.dataset import SoundSet
from generation.audio.generate import GenerationError, SoundModel, upsample
from generation.audio.train import AudioCheckpoint

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def model(sound_model: AudioCheckpoint) -> SoundModel:
    return SoundModel(sound_model)


def test_interpolating_at_0_and_1_gives_the_endpoints_reconstructions(model: SoundModel, lab_set: SoundSet) -> None:
    a, b = "bells0", "wind1"
    ends = model.decode(model.encode(lab_set.audio[[lab_set.index(a), lab_set.index(b)]]))
    at_0 = model.interpolate(lab_set, [a, b], 0.0)
    at_1 = model.interpolate(lab_set, [a, b], 1.0)
    np.testing.assert_allclose(at_0.audio, ends[0], atol=1e-6)
    np.testing.assert_allclose(at_1.audio, ends[1], atol=1e-6)
    middle = model.interpolate(lab_set, [a, b], 0.5)
    assert not np.allclose(middle.audio, ends[0]) and not np.allclose(middle.audio, ends[1])


def test_a_path_runs_from_the_first_sound_to_the_last(model: SoundModel, lab_set: SoundSet) -> None:
    names = ["bells0", "organ1", "wind2"]
    sounds = model.path(lab_set, names, 5)
    ends = model.decode(model.encode(lab_set.audio[[lab_set.index(n) for n in names]]))
    assert len(sounds) == 5
    np.testing.assert_allclose(sounds[0].audio, ends[0], atol=1e-6)
    np.testing.assert_allclose(sounds[-1].audio, ends[2], atol=1e-6)
    assert sounds[2].provenance["inputs"] == [
        {"name": n, "sha256": lab_set.clips[lab_set.index(n)].sha256} for n in names
    ]


@pytest.mark.parametrize("rate", [44_100, 48_000])
def test_the_output_is_24_bit_wav_at_the_rate_asked(model: SoundModel, rate: int) -> None:
    (sound,) = model.prior(1, seed=3, rate=rate)
    info = soundfile.info(io.BytesIO(sound.wav))
    assert (info.samplerate, info.subtype, info.channels, info.frames) == (rate, "PCM_24", 1, rate)
    assert sound.provenance["model"]["weights_sha256"] == model.weights_sha256
    assert sound.provenance["seed"] == 3 and sound.provenance["rate"] == rate


def test_the_prior_gives_the_same_sounds_for_a_seed_and_others_for_another(model: SoundModel) -> None:
    first, again, other = model.prior(2, seed=7), model.prior(2, seed=7), model.prior(2, seed=8)
    assert [s.wav for s in first] == [s.wav for s in again]
    assert first[0].sha256 != first[1].sha256
    assert first[0].sha256 != other[0].sha256 and first[1].sha256 != other[1].sha256


def test_upsampling_is_band_limited_where_linear_interpolation_is_not() -> None:
    t = np.arange(16000) / 16000
    tone = (0.5 * np.sin(2 * np.pi * 7000 * t)).astype(np.float32)
    ours = upsample(tone, 48_000)
    linear = np.interp(np.arange(48_000) / 48_000, t, tone)
    spectrum = lambda x: np.abs(np.fft.rfft(x * np.hanning(len(x))))  # noqa: E731
    freqs = np.fft.rfftfreq(48_000, 1 / 48_000)
    image = (freqs > 8_500) & (freqs < 24_000)
    assert spectrum(ours)[image].max() < 1e-3 * spectrum(ours).max()  # images below -60 dB
    assert spectrum(linear)[image].max() > 1e-2 * spectrum(linear).max()  # the thesis' images at 9 kHz and up
    assert np.abs(ours[3000:-3000]).max() == pytest.approx(0.5, rel=0.01)


def test_bad_requests_are_refused_with_the_reason(model: SoundModel, lab_set: SoundSet) -> None:
    with pytest.raises(GenerationError, match="between 0 and 1"):
        model.interpolate(lab_set, ["bells0", "wind0"], 1.5)
    with pytest.raises(ValueError, match="no clip named 'drums0'"):
        model.interpolate(lab_set, ["bells0", "drums0"], 0.5)
    with pytest.raises(GenerationError, match="44100 or 48000"):
        model.prior(1, seed=0, rate=22_050)


def test_the_same_request_gives_byte_identical_wav_in_another_process(
    sound_model: AudioCheckpoint, lab_folder: Path, tmp_path: Path
) -> None:
    def run(out: Path) -> bytes:
        command = [
            sys.executable,
            "-m",
            "generation.audio",
            "generate",
            str(sound_model.folder),
            "--sounds",
            str(lab_folder),
        ]
        command += ["--between", "organ0", "tremolo2", "--ratio", "0.3", "--out", str(out)]
        subprocess.run(command, cwd=ROOT, check=True, capture_output=True, timeout=120)
        return (out / "sound0.wav").read_bytes()

    first, second = run(tmp_path / "a"), run(tmp_path / "b")
    assert first == second
    assert soundfile.info(io.BytesIO(first)).subtype == "PCM_24"


def test_the_latent_map_places_every_sound(model: SoundModel, lab_set: SoundSet) -> None:
    document = model.latent_map(lab_set)
    assert [p["name"] for p in document["points"]] == [c.name for c in lab_set.clips]
    assert 0 < sum(document["explained_variance"]) <= 1
    assert document == model.latent_map(lab_set)  # the same map every time
