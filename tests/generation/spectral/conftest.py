"""Tagged recordings synthesised here (low organ-like and high flute-like tones, and a noisy
drum), and a small spectrogram model trained on them once per session."""

import hashlib
import io

import numpy as np
import pytest
import soundfile

from generation.spectral.model import SpectralConfig
from generation.spectral.train import SpectralCheckpoint, TrainConfig, train
from generation.spectral.windows import Recordings, recording

RATE = 44_100


def take(frequency: float, *, seconds: float = 4.0, noise: float = 0.0, seed: int = 0) -> bytes:
    """A stereo WAV of a harmonic tone (or, with noise, a noisy one) that swells and decays."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    tone = sum(np.sin(2 * np.pi * frequency * k * t) / k for k in range(1, 6)) if frequency else 0 * t
    signal = (tone + noise * rng.normal(size=len(t))) * np.minimum(1, t * 20) * np.exp(-t / seconds)
    buffer = io.BytesIO()
    soundfile.write(buffer, np.stack([signal, signal], axis=1).astype(np.float32) * 0.3, RATE, format="WAV")
    return buffer.getvalue()


TAKES = {
    "organ/low.wav": (take(110), ["organ", "low"]),
    "organ/lower.wav": (take(82, seed=1), ["organ", "low"]),
    "flute/high.wav": (take(1760, seed=2), ["flute", "high"]),
    "drums/noise.wav": (take(0, noise=1.0, seed=3), ["drums"]),
}


@pytest.fixture(scope="session")
def recordings() -> Recordings:
    return Recordings(
        [
            recording(data, path=path, sha256=hashlib.sha256(data).hexdigest(), tags=tags)
            for path, (data, tags) in TAKES.items()
        ]
    )


@pytest.fixture(scope="session")
def spectral_model(tmp_path_factory: pytest.TempPathFactory, recordings: Recordings) -> SpectralCheckpoint:
    out = tmp_path_factory.mktemp("spectral") / "checkpoint"
    return train(
        recordings, out, model=SpectralConfig(channels=16), config=TrainConfig(steps=8, batch_size=2, eval_every=4)
    )
