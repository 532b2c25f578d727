"""Fingerprints that survive what bytes do not: re-encoding, trimming and resampling for audio,
transposition and re-timing for MIDI. A copy found this way is reported as a match of that kind,
never as verified: only the minted bytes are.

Audio: spectral-peak landmarks (Wang, "An Industrial-Strength Audio Search Algorithm", 2003).
The sound is mixed to mono at 8 kHz; the peaks of its log spectrogram are paired with the peaks
that follow them shortly after, and each pair is hashed from the two frequencies and the time
between them. A copy shares many hashes with the original at one constant time offset; an
unrelated sound shares a few at scattered offsets.

MIDI: the notes in onset order (chords low to high), as the intervals between consecutive
pitches; a transposed or re-timed copy has the same intervals. Runs of NOTE_GRAM intervals are
hashed, and a copy shares most of them.
"""

import hashlib
import io
import itertools
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

import mido
import numpy as np
import soundfile
import soxr
from scipy.ndimage import maximum_filter

RATE = 8000
N_FFT = 1024
HOP = 256  # 32 ms a frame
PEAK_NEIGHBOURHOOD = (15, 11)  # bins x frames a peak must top
PEAKS_PER_SECOND = 30
FAN_OUT = 5  # pairs per anchor peak
TARGET_FRAMES = (1, 63)  # how far ahead a paired peak may be
NOTE_GRAM = 6
# A match needs this many landmarks at one offset, and this share of the copy's landmarks.
MIN_LANDMARKS, MIN_AUDIO_SCORE = 12, 0.05
MIN_NOTE_SCORE = 0.5
# mido makes a Python object of every event: 1M events (3 MB, running status) cost 13 s and
# 475 MB. A score is compared only up to this size: scores are tens of kilobytes (works a few),
# and a copy of one is no bigger; the public verification endpoint hands in whatever it is sent.
MAX_SCORE_BYTES = 2**20


class Unreadable(ValueError):
    """Not audio or MIDI that can be decoded."""


@dataclass(frozen=True)
class Match:
    key: str  # whatever the index was keyed by: a work id, a token id
    score: float  # share of the copy's landmarks (or note runs) that agree
    agreeing: int
    offset_seconds: float = 0.0


def audio_decode(data: bytes) -> np.ndarray:
    """Mono float32 at RATE from WAV, FLAC, MP3 or OGG bytes."""
    try:
        samples, rate = soundfile.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, TypeError) as exc:
        raise Unreadable(f"cannot decode the audio: {exc}") from None
    mono = samples.mean(axis=1)
    return np.asarray(soxr.resample(mono, rate, RATE) if rate != RATE else mono, dtype=np.float32)


def landmarks(samples: np.ndarray) -> list[tuple[int, int]]:
    """(hash, frame) for each pair of spectral peaks."""
    if len(samples) < N_FFT:
        return []
    frames = np.lib.stride_tricks.sliding_window_view(samples, N_FFT)[::HOP] * np.hanning(N_FFT)
    spectrum = np.log1p(np.abs(np.fft.rfft(frames, axis=1)).T * 100)  # bins x frames
    local = (spectrum == maximum_filter(spectrum, size=PEAK_NEIGHBOURHOOD)) & (spectrum > spectrum.mean())
    bins, times = np.nonzero(local)
    strength = spectrum[bins, times]
    keep = max(1, int(PEAKS_PER_SECOND * len(samples) / RATE))
    strongest = np.argsort(-strength, kind="stable")[:keep]
    peaks = sorted(zip(times[strongest].tolist(), bins[strongest].tolist(), strict=True))
    found = []
    for i, (t1, f1) in enumerate(peaks):
        paired = 0
        for t2, f2 in peaks[i + 1 :]:
            dt = t2 - t1
            if dt > TARGET_FRAMES[1]:
                break
            if dt < TARGET_FRAMES[0]:
                continue
            found.append(((f1 & 0x1FF) << 15 | (f2 & 0x1FF) << 6 | dt, t1))
            paired += 1
            if paired == FAN_OUT:
                break
    return found


def audio_landmarks(data: bytes) -> list[tuple[int, int]]:
    return landmarks(audio_decode(data))


def audio_match(query: list[tuple[int, int]], candidates: Iterable[tuple[str, int, int]]) -> Match | None:
    """The best match among ``candidates`` ((key, hash, frame) of indexed landmarks sharing a
    hash with the query), if it is good enough to be called a copy."""
    frames: dict[int, list[int]] = {}
    for value, frame in query:
        frames.setdefault(value, []).append(frame)
    offsets: Counter[tuple[str, int]] = Counter()
    for key, value, frame in candidates:
        for mine in frames.get(value, ()):
            offsets[(key, frame - mine)] += 1
    if not offsets or not query:
        return None
    (key, offset), agreeing = offsets.most_common(1)[0]
    score = agreeing / len(query)
    if agreeing < MIN_LANDMARKS or score < MIN_AUDIO_SCORE:
        return None
    return Match(key, round(score, 3), agreeing, round(offset * HOP / RATE, 2))


def midi_intervals(data: bytes) -> list[int]:
    """The intervals between consecutive notes, the notes in onset order (chords low to high)."""
    if len(data) > MAX_SCORE_BYTES:
        raise Unreadable(f"a MIDI file over {MAX_SCORE_BYTES // 2**20} MiB is not compared by its notes")
    try:
        song = mido.MidiFile(file=io.BytesIO(data))
    except (OSError, ValueError, EOFError, KeyError, IndexError) as exc:
        raise Unreadable(f"cannot read the MIDI file: {exc}") from None
    notes = []
    for track in song.tracks:
        tick = 0
        for message in track:
            tick += message.time
            if message.type == "note_on" and message.velocity > 0 and getattr(message, "channel", 0) != 9:
                notes.append((tick, message.note))
    pitches = [pitch for _, pitch in sorted(notes)]
    return [b - a for a, b in itertools.pairwise(pitches)]


def note_grams(data: bytes) -> set[int]:
    """A hash (63 bits) of each run of NOTE_GRAM intervals."""
    intervals = midi_intervals(data)
    grams = set()
    for start in range(len(intervals) - NOTE_GRAM + 1):
        run = bytes((i + 128) & 0xFF for i in intervals[start : start + NOTE_GRAM])
        grams.add(int.from_bytes(hashlib.sha256(run).digest()[:8], "big") >> 1)
    return grams


def note_match(query: set[int], candidates: Iterable[tuple[str, int]]) -> Match | None:
    """The indexed score sharing the most runs with ``query``, if it shares enough."""
    shared: Counter[str] = Counter(key for key, gram in candidates if gram in query)
    if not shared or not query:
        return None
    key, agreeing = shared.most_common(1)[0]
    score = agreeing / len(query)
    return Match(key, round(score, 3), agreeing) if score >= MIN_NOTE_SCORE else None
