"""Audio to log-mel spectrogram images and back.

Audio is mixed to mono and resampled (soxr, very high quality) to 22,050 Hz. An image is 64 mel
bands (0 to 11,025 Hz) by frames of 512 samples (23 ms), in decibels relative to full scale
mapped from [-80 dB, 0 dB] to [-1, 1]: a full-scale sine's band reads about 0 dB, silence -1.
A window, the model's unit, is 128 frames (2.97 s).

Back to audio: the mel magnitudes are spread over the STFT's bins by the filterbank's
pseudo-inverse (clipped at zero), the phase is reconstructed by fast Griffin-Lim (librosa,
momentum 0.99, starting from zero phase, so the same image gives the same samples), and the
result is resampled to 44.1 kHz. A piece longer than a window is reconstructed whole, so the
joins between its windows have one phase and no click.
"""

from __future__ import annotations

import io
from functools import cache

import librosa
import numpy as np
import soundfile
import soxr

from generation.audio.dataset import audio_read

RATE = 22_050  # the model's sample rate
OUTPUT_RATE = 44_100
N_FFT = 2048
HOP = 512
MELS = 64
FRAMES = 128  # one window
FLOOR_DB = -80.0
GRIFFIN_LIM_ITERATIONS = 48


def audio_decode(data: bytes, *, filename: str) -> np.ndarray:
    """Mono float32 at RATE, or an AudioError that says why not."""
    decoded, rate = audio_read(data, filename=filename)
    mono = decoded.mean(axis=1)
    resampled = soxr.resample(mono, rate, RATE, quality="VHQ") if rate != RATE else mono
    return np.asarray(resampled, dtype=np.float32)


@cache
def _filters() -> tuple[np.ndarray, np.ndarray]:
    bank = librosa.filters.mel(sr=RATE, n_fft=N_FFT, n_mels=MELS, fmin=0.0, fmax=RATE / 2, norm=None)
    bank = bank / np.maximum(bank.sum(axis=1, keepdims=True), 1e-8)  # each band averages its bins
    return bank.astype(np.float32), np.linalg.pinv(bank).astype(np.float32)


def _window_sum() -> float:
    return float(np.hanning(N_FFT + 1)[:-1].sum())


def image(audio: np.ndarray) -> np.ndarray:
    """MELS x frames in [-1, 1]; a frame per HOP samples (centred)."""
    spectrum = np.abs(librosa.stft(audio, n_fft=N_FFT, hop_length=HOP, window="hann", center=True))
    magnitude = _filters()[0] @ (spectrum * (2.0 / _window_sum()))  # a full-scale sine: about 1
    db = 20.0 * np.log10(np.maximum(magnitude, 1e-6))
    return np.clip(1.0 - 2.0 * db / FLOOR_DB, -1.0, 1.0).astype(np.float32)


def frames_of(seconds: float) -> int:
    return int(np.ceil(seconds * RATE / HOP))


def audio_of(picture: np.ndarray, *, seconds: float | None = None) -> np.ndarray:
    """An image back to audio at OUTPUT_RATE, trimmed to ``seconds`` if given, with 10 ms fades."""
    length = round(seconds * RATE) if seconds is not None else None
    if length is not None:  # the frames a centred STFT of that many samples has
        need = 1 + length // HOP
        picture = np.pad(picture[:, :need], ((0, 0), (0, max(0, need - picture.shape[1]))), constant_values=-1.0)
    db = (picture.astype(np.float64) + 1.0) / 2.0 * -FLOOR_DB + FLOOR_DB
    magnitude = np.where(picture > -1.0 + 1e-4, 10.0 ** (db / 20.0), 0.0)
    linear = np.maximum(_filters()[1].astype(np.float64) @ magnitude, 0.0) * (_window_sum() / 2.0)
    audio = librosa.griffinlim(
        linear,
        n_iter=GRIFFIN_LIM_ITERATIONS,
        hop_length=HOP,
        n_fft=N_FFT,
        window="hann",
        init=None,
        momentum=0.99,
        length=length,
    )
    out = soxr.resample(audio, RATE, OUTPUT_RATE, quality="VHQ")
    if seconds is not None:
        wanted = round(seconds * OUTPUT_RATE)
        out = np.pad(out[:wanted], (0, max(0, wanted - len(out))))
    fade = min(len(out) // 2, int(0.01 * OUTPUT_RATE))
    if fade:
        ramp = 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, fade))
        out[:fade] *= ramp
        out[len(out) - fade :] *= ramp[::-1]
    return np.asarray(out, dtype=np.float32)


def wav_bytes(audio: np.ndarray) -> bytes:
    """Mono 24-bit PCM at OUTPUT_RATE, peak-normalised to -1 dBFS (silence stays silent)."""
    peak = float(np.max(np.abs(audio))) if len(audio) else 0.0
    scaled = audio * (10 ** (-1 / 20) / peak) if peak > 1e-6 else audio
    buffer = io.BytesIO()
    soundfile.write(buffer, np.clip(scaled, -1.0, 1.0), OUTPUT_RATE, subtype="PCM_24", format="WAV")
    return buffer.getvalue()
