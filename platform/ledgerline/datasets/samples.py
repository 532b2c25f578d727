"""Small, valid media files made from a seed: for the demo, the tests and the benchmarks.

They are real files (parsed by the same libraries as any upload), made here because the
machines that run Ledgerline's tests reach no outside data.
"""

import random
import struct
from pathlib import Path

import mido
import numpy as np
import soundfile

SCALE = [0, 2, 4, 5, 7, 9, 11]


def melody_midi(path: Path, *, seed: int, bars: int = 8) -> Path:
    """A one-track melody in a major key with a bass line, 120 bpm, 480 ticks per quarter."""
    rng = random.Random(seed)
    tonic = 60 + rng.randrange(-5, 7)
    midi = mido.MidiFile(ticks_per_beat=480)
    melody, bass = mido.MidiTrack(), mido.MidiTrack()
    midi.tracks.extend([melody, bass])
    melody.append(mido.MetaMessage("track_name", name="melody", time=0))
    degree = 0
    for _ in range(bars * 4):
        degree = max(-3, min(9, degree + rng.choice([-2, -1, -1, 1, 1, 2, 0])))
        pitch = tonic + 12 * (degree // 7) + SCALE[degree % 7]
        length = rng.choice([240, 480, 480, 960])
        melody.append(mido.Message("note_on", note=pitch, velocity=rng.randrange(60, 100), time=0))
        melody.append(mido.Message("note_off", note=pitch, velocity=0, time=length))
    for bar in range(bars):
        root = tonic - 24 + SCALE[[0, 3, 4, 0][bar % 4]]
        bass.append(mido.Message("note_on", channel=1, note=root, velocity=70, time=0))
        bass.append(mido.Message("note_off", channel=1, note=root, velocity=0, time=1920))
    midi.save(str(path))
    return path


def pcm16_wav_header(data_bytes: int, *, sample_rate: int = 44100, channels: int = 2) -> bytes:
    """The 44-byte header of a 16-bit PCM WAV whose samples (``data_bytes`` of them) follow."""
    return (
        b"RIFF"
        + struct.pack("<I", 36 + data_bytes)
        + b"WAVEfmt "
        + struct.pack("<IHHIIHH", 16, 1, channels, sample_rate, sample_rate * channels * 2, channels * 2, 16)
        + b"data"
        + struct.pack("<I", data_bytes)
    )


def tone_audio(
    path: Path,
    *,
    seconds: float,
    frequency: float = 440.0,
    sample_rate: int = 44100,
    channels: int = 2,
    seed: int = 0,
    fmt: str | None = None,
) -> Path:
    """A decaying harmonic tone with a little noise, written as WAV, FLAC or MP3 by extension."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    signal = sum(np.sin(2 * np.pi * frequency * k * t) / k for k in range(1, 5))
    signal = 0.3 * signal * np.exp(-t % 2.0) + 0.01 * rng.standard_normal(t.size)
    data = np.repeat(signal[:, None], channels, axis=1).astype(np.float32)
    soundfile.write(str(path), data, sample_rate, format=fmt)
    return path
