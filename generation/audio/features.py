"""Features per clip, computed for a whole set at once: the FFT magnitude in dB, f0 by pYIN (mean
and track), the spectral centroid (mean and track) and the RMS envelope.

Frames follow the thesis and librosa's defaults (2048-sample frames, hop 512, centred with zero
padding): the centroid and RMS are computed here with NumPy over the whole set in one pass, and
agree with `librosa.feature.spectral_centroid` and `librosa.feature.rms` (tested); f0 is librosa's
pYIN itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from generation.audio.synth import SAMPLE_RATE, Audio

FRAME, HOP = 2048, 512
F0_MIN, F0_MAX = 32.7, 2093.0  # C1-C7, the thesis' pYIN range (it used 30-2093 Hz)
AMIN = 1e-5  # librosa's floor for dB

Array = NDArray[np.float64]


@dataclass(frozen=True)
class Features:
    spectrum_db: Array  # clips x 1025: mean FFT magnitude over the frames, in dB
    f0: Array  # clips: mean f0 of the voiced frames in Hz (NaN where none is voiced: noise)
    f0_track: Array  # clips x frames, NaN where unvoiced
    centroid: Array  # clips: spectral centroid in Hz, frames weighted by their magnitude (silence counts 0)
    centroid_track: Array  # clips x frames
    rms: Array  # clips x frames: the RMS envelope

    @property
    def frequencies(self) -> Array:
        return np.fft.rfftfreq(FRAME, 1 / SAMPLE_RATE).astype(np.float64)

    @property
    def times(self) -> Array:
        return np.arange(self.rms.shape[1]) * HOP / SAMPLE_RATE


def frames(audio: Audio) -> Array:
    """clips x frames x FRAME, centred: the signal padded with FRAME/2 zeros at each end."""
    padded = np.pad(np.asarray(audio, dtype=np.float64), ((0, 0), (FRAME // 2, FRAME // 2)))
    return np.lib.stride_tricks.sliding_window_view(padded, FRAME, axis=1)[:, ::HOP]


def magnitudes(audio: Audio) -> Array:
    """clips x frames x bins: |FFT| of Hann-windowed frames."""
    window = np.hanning(FRAME + 1)[:-1]  # periodic, as scipy's and librosa's
    return np.abs(np.fft.rfft(frames(audio) * window, axis=2))


def spectral_centroid(magnitude: Array) -> Array:
    weights = magnitude.sum(axis=2)
    weighted = magnitude @ np.fft.rfftfreq(FRAME, 1 / SAMPLE_RATE)
    return np.divide(weighted, weights, out=np.zeros_like(weighted), where=weights > 0)


def rms_envelope(audio: Audio) -> Array:
    return np.sqrt(np.mean(frames(audio) ** 2, axis=2))


def to_db(amplitude: Array) -> Array:
    return 20 * np.log10(np.maximum(amplitude, AMIN))


def f0_pyin(audio: Audio) -> Array:
    """clips x frames, NaN where pYIN finds no pitch."""
    import librosa  # imported here: it loads numba, a second or two that the rest does not need

    f0, _, _ = librosa.pyin(
        np.asarray(audio, dtype=np.float64),
        fmin=F0_MIN,
        fmax=F0_MAX,
        sr=SAMPLE_RATE,
        frame_length=FRAME,
        hop_length=HOP,
    )
    return np.asarray(f0, dtype=np.float64)


def features(audio: Audio) -> Features:
    magnitude = magnitudes(audio)
    centroid = spectral_centroid(magnitude)
    weight = magnitude.sum(axis=2)
    total = weight.sum(axis=1)
    mean_centroid = np.divide((centroid * weight).sum(axis=1), total, out=np.zeros(len(total)), where=total > 0)
    f0 = f0_pyin(audio)
    voiced = np.isfinite(f0)
    mean_f0 = np.divide(
        np.where(voiced, f0, 0).sum(axis=1), voiced.sum(axis=1), out=np.full(len(f0), np.nan), where=voiced.any(axis=1)
    )
    return Features(
        spectrum_db=to_db(magnitude.mean(axis=1)),
        f0=mean_f0,
        f0_track=f0,
        centroid=mean_centroid,
        centroid_track=centroid,
        rms=rms_envelope(audio),
    )
