"""The features and views agree with librosa and with what known signals must give."""

from pathlib import Path

import librosa
import numpy as np
import pytest

from generation.audio.dataset import SoundSet
from generation.audio.features import AMIN, features, magnitudes, rms_envelope, spectral_centroid
from generation.audio.synth import SAMPLE_RATE
from generation.audio.views import figures, pca_2d, views

t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
KNOWN = np.stack(
    [
        0.5 * np.sin(2 * np.pi * 440 * t),
        0.3 * np.sin(2 * np.pi * 1000 * t) + 0.3 * np.sin(2 * np.pi * 3000 * t),
        np.where(t < 0.5, 0.8, 0.1) * np.sin(2 * np.pi * 220 * t),
        np.random.default_rng(0).uniform(-0.5, 0.5, SAMPLE_RATE),
    ]
).astype(np.float32)


def test_the_spectral_centroid_agrees_with_librosa_and_the_known_frequencies() -> None:
    ours = spectral_centroid(magnitudes(KNOWN))
    theirs = librosa.feature.spectral_centroid(y=KNOWN, sr=SAMPLE_RATE)[:, 0]
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-3)
    assert np.median(ours[0]) == pytest.approx(440, rel=0.02)
    assert np.median(ours[1]) == pytest.approx(2000, rel=0.02)  # two equal partials: their mean


def test_the_rms_envelope_agrees_with_librosa_and_follows_the_level() -> None:
    ours = rms_envelope(KNOWN)
    np.testing.assert_allclose(ours, librosa.feature.rms(y=KNOWN)[:, 0], rtol=1e-5, atol=1e-7)
    assert ours[0, 10] == pytest.approx(0.5 / np.sqrt(2), rel=0.01)
    assert ours[2, 5] == pytest.approx(0.8 / np.sqrt(2), rel=0.01) and ours[2, 25] == pytest.approx(
        0.1 / np.sqrt(2), rel=0.01
    )


def test_the_spectrum_in_db_agrees_with_librosa_and_peaks_at_the_tone() -> None:
    feats = features(KNOWN)
    stft = np.abs(librosa.stft(KNOWN, n_fft=2048, hop_length=512)).mean(axis=2)
    np.testing.assert_allclose(
        feats.spectrum_db, librosa.amplitude_to_db(stft, ref=1.0, amin=AMIN, top_db=None), atol=1e-3
    )
    assert feats.frequencies[feats.spectrum_db[0].argmax()] == pytest.approx(440, abs=8)


def test_silence_does_not_pull_the_mean_centroid_down() -> None:
    fade = np.clip((0.5 - t) / 0.05, 0, 1)  # a tone that fades out by half a second, then silence
    half = (fade * 0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)
    feats = features(half[None])
    assert feats.centroid[0] == pytest.approx(1000, rel=0.05)  # window leakage lifts it a little
    assert feats.centroid_track[0].mean() < 700  # the plain mean of the frames would say this


def test_f0_is_found_for_tones_whatever_their_level() -> None:
    feats = features(KNOWN)
    assert feats.f0[0] == pytest.approx(440, rel=0.01)
    assert feats.f0[2] == pytest.approx(220, rel=0.01)
    assert np.nanmedian(feats.f0_track[2, 20:]) == pytest.approx(220, rel=0.01)  # the quiet half


def test_the_views_describe_each_group(lab_set: SoundSet) -> None:
    document = views(lab_set)
    assert document["histogram"] == {"bells": 3, "organ": 3, "tremolo": 3, "wind": 3}
    assert len(document["table"]) == 12
    assert set(document["envelopegram"]["groups"]) == set(document["histogram"])
    organ = [row for row in document["table"] if row["group"] == "organ"]
    specs = [c.source["synth"]["freq"] for c in lab_set.clips if c.group == "organ"]
    assert [row["f0"] for row in organ] == pytest.approx(specs, rel=0.01)
    wind = document["envelopegram"]["groups"]["wind"]  # the wind's 0.3 s attack: quiet at first
    assert wind[0] < 0.2 * max(wind)
    assert len(document["pca"]["points"]) == 12 and sum(document["pca"]["explained_variance"]) <= 1


def test_pca_finds_the_axis_the_points_spread_along() -> None:
    rng = np.random.default_rng(0)
    rows = np.outer(rng.normal(size=50), [3.0, 4.0, 0.0]) + rng.normal(scale=0.01, size=(50, 3))
    points, explained = pca_2d(rows)
    assert explained[0] > 0.99
    np.testing.assert_allclose(
        np.abs(points[:, 0]), np.abs(rows @ [0.6, 0.8, 0.0] - (rows @ [0.6, 0.8, 0.0]).mean()), atol=0.05
    )


def test_the_figures_are_written(lab_set: SoundSet, tmp_path: Path) -> None:
    written = figures(views(lab_set), tmp_path)
    names = {p.name for p in written}
    assert names == {"f0.png", "centroid.png", "histogram.png", "envelopegram.png", "pca.png", "table.csv"}
    for path in written:
        assert path.stat().st_size > 0
    assert (tmp_path / "pca.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "table.csv").read_text().splitlines()[0] == "name,group,source,sha256,f0,centroid,peak_rms"
