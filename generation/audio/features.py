"""Features per clip, computed for a whole set at once: the FFT magnitude in dB, f0 by pYIN (mean
and track), the spectral centroid (mean and track) and the RMS envelope.

Frames follow the thesis and librosa's defaults (2048-sample frames, hop 512, centred with zero
padding): the centroid and RMS are computed here with NumPy over the whole set in one pass, and
agree with `librosa.feature.spectral_centroid` and `librosa.feature.rms` (tested); f0 is librosa's
pYIN itself. YIN (`yin`, `f0_yin`), batched on torch, reads and supervises the DDSP model's f0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from generation.audio.synth import SAMPLE_RATE, Audio

if TYPE_CHECKING:
    import torch

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


def f0_yin(audio: Audio, **options: Any) -> tuple[Array, Array]:
    """YIN (de Cheveigné and Kawahara, 2002) on frames centred on each hop (the sound VAE's decoder
    frames): f0 in Hz and whether the frame is voiced (a clear period, and not silence), both
    clips x frames. Batched on torch (`yin`): the pre-training set's 8,720 clips in a minute or
    two, where pYIN takes most of a second per clip. The DDSP model reads and is supervised by
    it; pYIN measures the result."""
    import torch

    f0, voiced = yin(torch.as_tensor(np.asarray(audio, dtype=np.float32)), **options)
    return f0.cpu().numpy().astype(np.float64), voiced.cpu().numpy()


def yin(
    signal: torch.Tensor, *, hop: int = 128, frame: int = 1024, threshold: float = 0.15, batch: int = 256
) -> tuple[torch.Tensor, torch.Tensor]:
    """f0_yin on a tensor of clips (any device), returning tensors."""
    import torch

    lag_max, lag_min = int(np.ceil(SAMPLE_RATE / F0_MIN)), int(np.floor(SAMPLE_RATE / F0_MAX))
    span = frame + lag_max
    f0s, voiced = [], []
    for part in signal.split(batch):
        padded = torch.nn.functional.pad(part[:, None], (span // 2 - hop // 2, span), mode="reflect")[:, 0]
        frames = padded.unfold(1, span, hop)[:, : part.shape[1] // hop]  # clips x frames x span
        size = 1 << (2 * span - 1).bit_length()
        head = torch.fft.rfft(frames[..., :frame], size)
        whole = torch.fft.rfft(frames, size)
        cross = torch.fft.irfft(head.conj() * whole, size)[..., : lag_max + 1]  # sum x_j x_{j+lag}, j < frame
        energy = torch.cumsum(torch.nn.functional.pad(frames**2, (1, 0)), dim=-1)
        lagged = energy[..., frame : frame + lag_max + 1] - energy[..., : lag_max + 1]  # sum x_{j+lag}^2
        difference = (energy[..., frame : frame + 1] + lagged - 2 * cross).clamp_min(0)
        lags = torch.arange(lag_max + 1, dtype=difference.dtype, device=difference.device)
        running = torch.cumsum(difference[..., 1:], dim=-1).clamp_min(1e-12)
        normalised = torch.cat([torch.ones_like(difference[..., :1]), difference[..., 1:] * lags[1:] / running], -1)
        search = normalised[..., lag_min : lag_max + 1]
        # The first dip below the threshold (its local minimum), else the deepest one.
        dips = (
            (search[..., 1:-1] < search[..., :-2])
            & (search[..., 1:-1] <= search[..., 2:])
            & (search[..., 1:-1] < threshold)
        )
        first = torch.where(dips.any(-1), dips.float().argmax(-1) + 1, search.argmin(-1))
        first = first.clamp(1, search.shape[-1] - 2)
        left, centre, right = (search.gather(-1, (first + k)[..., None])[..., 0] for k in (-1, 0, 1))
        shift = (
            0.5
            * (left - right)
            / (left - 2 * centre + right).where((left - 2 * centre + right).abs() > 1e-9, torch.ones_like(centre))
        )
        period = (first + lag_min).to(difference.dtype) + shift.clamp(-1, 1)
        loud = frames[..., :frame].pow(2).mean(-1).sqrt() > 1e-3
        f0s.append(SAMPLE_RATE / period)
        voiced.append((centre < 2 * threshold) & loud)
    return torch.cat(f0s), torch.cat(voiced)
