"""Uploaded and recorded audio becomes one-second 16 kHz clips that remember where they came from."""

import hashlib
import io
from pathlib import Path

import numpy as np
import pytest
import soundfile

from generation.audio.dataset import AudioError, SoundSet, file_import, synth_set
from generation.audio.features import f0_pyin
from generation.audio.synth import SAMPLE_RATE, Synth


def tone_file(
    rate: int, seconds: float, *, freq: float = 440.0, channels: int = 1, format: str = "WAV", subtype: str = "PCM_24"
) -> bytes:
    t = np.arange(int(rate * seconds)) / rate
    tone = 0.5 * np.sin(2 * np.pi * freq * t)
    buffer = io.BytesIO()
    soundfile.write(buffer, np.stack([tone] * channels, axis=1), rate, format=format, subtype=subtype)
    return buffer.getvalue()


@pytest.mark.parametrize("rate", [44_100, 48_000])
def test_a_recording_at_a_studio_rate_becomes_16_khz_one_second_clips(rate: int) -> None:
    data = tone_file(rate, 2.5)
    sounds = file_import(data, filename="tone.wav", group="voice")
    assert sounds.audio.shape == (3, SAMPLE_RATE)
    assert [c.name for c in sounds.clips] == ["voice0", "voice1", "voice2"]
    assert all(c.group == "voice" for c in sounds.clips)
    f0 = f0_pyin(sounds.audio[:2])
    assert np.nanmedian(f0) == pytest.approx(440.0, rel=0.01)
    middle = sounds.audio[1, 4000:12000]
    assert np.sqrt(np.mean(middle**2)) == pytest.approx(0.5 / np.sqrt(2), rel=0.01)  # the level is kept


@pytest.mark.parametrize("rate", [44_100, 48_000])
def test_each_clip_keeps_its_file_hash_and_offset(rate: int) -> None:
    data = tone_file(rate, 2.5)
    sounds = file_import(data, filename="tone.wav", group="voice")
    sources = [c.source for c in sounds.clips]
    assert {s["sha256"] for s in sources} == {hashlib.sha256(data).hexdigest()}
    assert [s["offset_seconds"] for s in sources] == [0.0, 1.0, 2.0]
    assert {(s["filename"], s["sample_rate"], s["channels"]) for s in sources} == {("tone.wav", rate, 1)}


def test_the_last_window_is_zero_padded_and_every_window_fades_in_and_out() -> None:
    sounds = file_import(tone_file(48_000, 1.5), filename="tone.wav", group="g")
    last = sounds.audio[1]
    assert np.all(last[SAMPLE_RATE // 2 + 10 :] == 0)
    assert abs(last[SAMPLE_RATE // 2 - 1]) < 0.01  # faded out where the sound ends
    first = sounds.audio[0]
    assert abs(first[0]) < 1e-6 and abs(first[-1]) < 0.01
    assert np.abs(first[1000:2000]).max() == pytest.approx(0.5, rel=0.01)


def test_a_stereo_flac_is_mixed_to_mono() -> None:
    sounds = file_import(
        tone_file(44_100, 1.0, channels=2, format="FLAC", subtype="PCM_16"), filename="x.flac", group="g"
    )
    assert sounds.audio.shape == (1, SAMPLE_RATE)
    assert sounds.clips[0].source["channels"] == 2
    assert np.abs(sounds.audio[0, 1000:15000]).max() == pytest.approx(0.5, rel=0.01)


def test_an_mp3_is_imported() -> None:
    data = tone_file(44_100, 1.2, format="MP3", subtype="MPEG_LAYER_III")
    sounds = file_import(data, filename="x.mp3", group="g")
    assert np.nanmedian(f0_pyin(sounds.audio[:1])) == pytest.approx(440.0, rel=0.01)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"this is not audio at all" * 10, "could not be read as audio"),
        (tone_file(44_100, 1.0)[:30], "could not be read as audio"),
    ],
    ids=["empty", "text", "truncated-header"],
)
def test_a_file_that_is_not_audio_is_refused_with_the_reason(data: bytes, message: str) -> None:
    with pytest.raises(AudioError, match=message):
        file_import(data, filename="upload.wav", group="g")


def test_a_set_saves_loads_and_refuses_a_changed_audio_file(tmp_path: Path) -> None:
    sounds = synth_set([Synth(kind="am", group="a"), Synth(kind="fm", group="b")])
    sounds.save(tmp_path)
    loaded = SoundSet.load(tmp_path)
    assert np.array_equal(loaded.audio, sounds.audio)
    assert loaded.clips == sounds.clips
    (path,) = tmp_path.glob("audio-*.npy")
    audio = np.load(path)
    audio[0, 100] += 0.5
    np.save(path, audio)
    with pytest.raises(AudioError, match="does not match the hash"):
        SoundSet.load(tmp_path)


def test_saving_again_replaces_the_audio_and_leaves_one_file(tmp_path: Path) -> None:
    first = synth_set([Synth(kind="am", group="a")])
    first.save(tmp_path)
    both = first.extend(synth_set([Synth(kind="fm", group="b")]))
    both.save(tmp_path)
    assert len(list(tmp_path.glob("audio-*.npy"))) == 1
    assert len(SoundSet.load(tmp_path)) == 2


def test_adding_sounds_keeps_names_unique_and_filters_by_group() -> None:
    first = synth_set([Synth(kind="am", group="a"), Synth(kind="am", group="a")])
    both = first.extend(synth_set([Synth(kind="fm", group="a"), Synth(kind="fm", group="b")]))
    assert [c.name for c in both.clips] == ["a0", "a1", "a2", "b0"]
    assert both.filter(groups=["b"]).clips == [both.clips[3]]
    assert both.clips[2].source["synth"]["kind"] == "fm"
