"""Pictures drawn on the server as SVG data: a work's waveform, its piano roll and its spectrogram.
No script is needed to see them, and a page of works costs one read of each file."""

import io
import itertools
from dataclasses import dataclass

import mido
import numpy as np
import soundfile

WIDTH = 800  # the SVG's view-box width; it scales to the page


@dataclass(frozen=True)
class Note:
    x: float
    y: float
    width: float
    pitch: int


def waveform(wav: bytes, *, columns: int = WIDTH) -> list[tuple[float, float]]:
    """Per column, the lowest and highest sample (-1..1) of the mono mix."""
    samples, _ = soundfile.read(io.BytesIO(wav), dtype="float32", always_2d=True)
    mono = samples.mean(axis=1)
    if mono.size == 0:
        return []
    edges = np.linspace(0, mono.size, columns + 1).astype(int)
    return [(float(mono[a:b].min()), float(mono[a:b].max())) for a, b in itertools.pairwise(edges) if b > a]


def piano_roll(midi: bytes) -> tuple[list[Note], int, int]:
    """The notes laid out on a WIDTH-wide grid (x, width by time; y by pitch, high at the top),
    and the lowest and highest pitch."""
    song = mido.MidiFile(file=io.BytesIO(midi))
    started: dict[tuple[int, int], int] = {}
    spans: list[tuple[int, int, int]] = []
    for track in song.tracks:
        tick = 0
        for message in track:
            tick += message.time
            if message.type not in ("note_on", "note_off"):
                continue
            key = (message.channel, message.note)
            if message.type == "note_on" and message.velocity > 0:
                started[key] = tick
            elif key in started:
                spans.append((started.pop(key), tick, message.note))
    if not spans:
        return [], 0, 0
    end = max(stop for _, stop, _ in spans) or 1
    low, high = min(p for *_, p in spans), max(p for *_, p in spans)
    scale = WIDTH / end
    notes = [
        Note(start * scale, float(high - pitch), max((stop - start) * scale, 1.0), pitch)
        for start, stop, pitch in spans
    ]
    return notes, low, high


SPECTROGRAM_COLUMNS = 200
SPECTROGRAM_ROWS = 32
SPECTROGRAM_MAX_SECONDS = 600  # a longer work is not drawn: the page would wait on its analysis


def spectrogram(wav: bytes) -> list[tuple[int, int, float]]:
    """The log-mel picture the spectrogram models draw (generation.spectral), pooled to at most
    SPECTROGRAM_COLUMNS x SPECTROGRAM_ROWS cells: (column, row from the top, level 0..1)."""
    from generation.audio.dataset import AudioError
    from generation.spectral.spectrogram import audio_decode, image

    try:
        if soundfile.info(io.BytesIO(wav)).duration > SPECTROGRAM_MAX_SECONDS:
            return []
        picture = (image(audio_decode(wav, filename="work.wav")) + 1) / 2
    except (AudioError, soundfile.LibsndfileError, RuntimeError):
        return []
    rows = np.array_split(np.arange(picture.shape[0]), SPECTROGRAM_ROWS)
    columns = np.array_split(np.arange(picture.shape[1]), min(SPECTROGRAM_COLUMNS, picture.shape[1]))
    cells = []
    for y, band in enumerate(reversed(rows)):  # high frequencies at the top
        for x, frames in enumerate(columns):
            level = float(picture[np.ix_(band, frames)].mean())
            if level > 0.05:
                cells.append((x, y, round(level, 2)))
    return cells
