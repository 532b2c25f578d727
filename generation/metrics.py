"""How good, how typical and how original a generated piece is.

Three families of measures, all on symusic Scores (drum tracks are ignored wherever a pitch is read):

- `musical_metrics`: four of muspy's single-piece measures (pitch-class entropy in bits, scale
  consistency, polyphony, empty-beat rate); NaN where a piece has no notes.
- `set_overlap`: the set comparison of Yang & Lerch (2018, "On the evaluation of generative models
  in music"). Per feature, the distances within the reference set and between the generated and
  reference sets are smoothed with a Gaussian KDE; the closer the two densities (overlap near 1,
  divergence near 0), the more the generated pieces look like reference pieces.
- `NoteIndex`: originality against the training data. Pieces become interval sequences (so a
  transposed copy is still a copy); a suffix array over the training pieces finds the longest run
  of intervals a piece shares verbatim with one training piece, and how many of its melodic
  16-grams it copies.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TypeAlias

import muspy
import numpy as np
from numpy.typing import NDArray
from scipy import stats
from scipy.spatial.distance import cdist, pdist
from symusic.core import ScoreQuarter, ScoreSecond, ScoreTick, TrackTick

from generation.files import write_atomic

# `symusic.Score` is a factory object, not a class, so type checkers refuse it as an annotation.
Score: TypeAlias = ScoreTick | ScoreQuarter | ScoreSecond
FloatArray: TypeAlias = NDArray[np.float64]
IntArray: TypeAlias = NDArray[np.int64]

METRIC_RESOLUTION = 24  # ticks per beat for muspy; a finer grid only makes its piano roll bigger
MUSPY_METRICS: dict[str, Callable[[muspy.Music], float]] = {
    "pitch_class_entropy": muspy.pitch_class_entropy,
    "scale_consistency": muspy.scale_consistency,
    "polyphony": muspy.polyphony,
    "empty_beat_rate": muspy.empty_beat_rate,
}
PITCH_CLASSES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
KDE_GRID = 2048
DENSITY_FLOOR = 1e-12  # relative to the peak, so the KL divergence stays finite
GRAM = 16
INDEX_FORMAT = 1


# --- notes -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Notes:
    """A piece's pitched notes, all tracks merged, ordered by (onset, pitch); onsets in beats."""

    onset: FloatArray
    pitch: IntArray


def notes_of(score: Score) -> Notes:
    ticks = score if isinstance(score, ScoreTick) else score.resample(score.tpq)
    arrays = [track.notes.numpy() for track in ticks.tracks if not track.is_drum and len(track.notes)]
    if not arrays:
        return Notes(np.zeros(0), np.zeros(0, np.int64))
    time = np.concatenate([a["time"] for a in arrays]).astype(np.int64)
    pitch = np.concatenate([a["pitch"] for a in arrays]).astype(np.int64)
    order = np.lexsort((pitch, time))
    return Notes(time[order] / ticks.tpq, pitch[order])


def melody(notes: Notes) -> IntArray:
    """The skyline: the highest pitch among the notes starting at each onset (all tracks merged)."""
    last_at_onset = np.append(notes.onset[1:] != notes.onset[:-1], True)
    return notes.pitch[last_at_onset] if len(notes.pitch) else notes.pitch


def all_pitches(notes: Notes) -> IntArray:
    """Every pitch in (onset, pitch) order, a note doubled in two tracks counted once."""
    if not len(notes.pitch):
        return notes.pitch
    new = np.append(True, (notes.onset[1:] != notes.onset[:-1]) | (notes.pitch[1:] != notes.pitch[:-1]))
    return notes.pitch[new]


# --- single-piece metrics ----------------------------------------------------------------------


def musical_metrics(score: Score) -> dict[str, float]:
    """muspy's pitch_class_entropy (bits), scale_consistency, polyphony and empty_beat_rate."""
    music = to_muspy(score)
    if not any(track.notes for track in music.tracks):  # muspy's polyphony and empty-beat rate crash here
        return dict.fromkeys(MUSPY_METRICS, math.nan)
    return {name: float(metric(music)) for name, metric in MUSPY_METRICS.items()}


def to_muspy(score: Score) -> muspy.Music:
    """Built directly from the note arrays, at `METRIC_RESOLUTION` ticks per beat."""
    coarse = score.resample(METRIC_RESOLUTION, min_dur=1)
    return muspy.Music(resolution=METRIC_RESOLUTION, tracks=[_muspy_track(track) for track in coarse.tracks])


def _muspy_track(track: TrackTick) -> muspy.Track:
    notes = track.notes.numpy()
    columns = [notes[key].astype(np.int64).tolist() for key in ("time", "pitch", "duration", "velocity")]
    rows = [muspy.Note(time=t, pitch=p, duration=d, velocity=v) for t, p, d, v in zip(*columns, strict=True)]
    return muspy.Track(program=track.program, is_drum=track.is_drum, notes=rows)


# --- set comparison (Yang & Lerch 2018) --------------------------------------------------------


def pitch_class_histogram(notes: Notes) -> FloatArray:
    """12 bins summing to 1; NaN for a piece without notes."""
    counts = np.bincount(notes.pitch % 12, minlength=12).astype(np.float64)
    return counts / counts.sum() if counts.sum() else np.full(12, math.nan)


def mean_inter_onset_interval(notes: Notes) -> FloatArray:
    """Mean gap between successive distinct onsets, in beats (quarter notes); NaN below two onsets."""
    onsets = np.unique(notes.onset)
    return np.array([np.diff(onsets).mean() if len(onsets) > 1 else math.nan])


def pitch_range(notes: Notes) -> FloatArray:
    """Highest minus lowest pitch, in semitones; NaN for a piece without notes."""
    return np.array([float(np.ptp(notes.pitch)) if len(notes.pitch) else math.nan])


FEATURES: dict[str, tuple[Callable[[Notes], FloatArray], tuple[str, ...]]] = {
    "pitch_class_histogram": (pitch_class_histogram, PITCH_CLASSES),
    "mean_ioi_beats": (mean_inter_onset_interval, ("",)),
    "pitch_range": (pitch_range, ("",)),
}


def set_overlap(generated: Sequence[Score], reference: Sequence[Score]) -> dict[str, dict[str, float]]:
    """Per feature: `overlap` (area shared by the KDEs of the reference set's intra-set distances
    and the generated x reference inter-set distances; 1 is indistinguishable), `kl` (KL(intra ||
    inter) in nats), `intra_mean`, `inter_mean`, the feature's mean per set (`generated_mean`,
    `reference_mean`; per pitch class for the histogram, e.g. `reference_mean_C#`) and how many
    pieces had the feature (`n_generated`, `n_reference`). NaN where there are no distances to use.
    """
    generated_notes = [notes_of(score) for score in generated]
    reference_notes = [notes_of(score) for score in reference]
    return {
        name: _compare(_feature_matrix(generated_notes, feature), _feature_matrix(reference_notes, feature), labels)
        for name, (feature, labels) in FEATURES.items()
    }


def _feature_matrix(pieces: Sequence[Notes], feature: Callable[[Notes], FloatArray]) -> FloatArray:
    """One row per piece that has the feature (pieces where it is undefined are left out)."""
    rows = [feature(notes) for notes in pieces]
    matrix = np.array(rows) if rows else np.zeros((0, 1))
    return matrix[np.isfinite(matrix).all(axis=1)]


def _compare(generated: FloatArray, reference: FloatArray, labels: tuple[str, ...]) -> dict[str, float]:
    intra = pdist(reference) if len(reference) > 1 else np.zeros(0)
    inter = cdist(generated, reference).ravel() if len(generated) and len(reference) else np.zeros(0)
    overlap, kl = density_comparison(intra, inter)
    result = {"overlap": overlap, "kl": kl, "intra_mean": _mean(intra), "inter_mean": _mean(inter)}
    for prefix, matrix in (("generated_mean", generated), ("reference_mean", reference)):
        means = matrix.mean(axis=0) if len(matrix) else np.full(len(labels), math.nan)
        result |= {f"{prefix}_{label}".rstrip("_"): float(value) for label, value in zip(labels, means, strict=True)}
    return result | {"n_generated": float(len(generated)), "n_reference": float(len(reference))}


def density_comparison(intra: FloatArray, inter: FloatArray) -> tuple[float, float]:
    """(overlapping area, KL(intra || inter)) of the two samples' Gaussian KDEs, on a shared grid."""
    if not len(intra) or not len(inter):
        return math.nan, math.nan
    pooled = np.concatenate([intra, inter])
    floor = 1e-2 * max(float(np.ptp(pooled)), 1e-6)  # the narrowest kernel, for samples without spread
    (p, p_width), (q, q_width) = _density(intra, floor), _density(inter, floor)
    margin = 4 * max(p_width, q_width)
    grid = np.linspace(pooled.min() - margin, pooled.max() + margin, KDE_GRID)
    p_grid, q_grid = p(grid), q(grid)
    overlap = float(np.trapezoid(np.minimum(p_grid, q_grid), grid))
    kl = float(stats.entropy(p_grid, np.maximum(q_grid, DENSITY_FLOOR * q_grid.max())))
    return min(overlap, 1.0), kl


def _density(sample: FloatArray, floor: float) -> tuple[Callable[[FloatArray], FloatArray], float]:
    """A Gaussian KDE (Scott's rule) and its kernel width; one kernel of width `floor` for a sample
    with no spread, where scipy's KDE would fail on a singular covariance."""
    if len(sample) > 1 and np.std(sample) > floor:
        kde = stats.gaussian_kde(sample)
        return kde, float(np.sqrt(kde.covariance[0, 0]))
    centre = float(np.mean(sample))
    return (lambda x: stats.norm.pdf(x, loc=centre, scale=floor)), floor


def _mean(values: FloatArray) -> float:
    return float(np.mean(values)) if len(values) else math.nan


# --- originality -------------------------------------------------------------------------------


def interval_bytes(pitches: IntArray) -> bytes:
    """Successive pitch differences as bytes 1..255 (interval + 128); 0 is left for separators."""
    return (np.clip(np.diff(pitches), -127, 127) + 128).astype(np.uint8).tobytes()


def suffix_array(text: bytes) -> NDArray[np.int32]:
    """Start positions of `text`'s suffixes in lexicographic order (prefix doubling, O(n log² n))."""
    n = len(text)
    rank = np.frombuffer(text, np.uint8).astype(np.int64) + 1  # 0 stands for "past the end"
    order = np.argsort(rank, kind="stable")
    step = 1
    while n and step < n:
        following = np.zeros(n, np.int64)
        following[: n - step] = rank[step:]
        order = np.lexsort((following, rank))
        changed = (np.diff(rank[order]) != 0) | (np.diff(following[order]) != 0)
        rank = np.empty(n, np.int64)
        rank[order] = np.concatenate(([1], 1 + np.cumsum(changed)))
        if rank[order[-1]] == n:  # every suffix told apart
            break
        step *= 2
    return order.astype(np.int32)


class Corpus:
    """Training pieces' byte strings joined by separators, searchable through a suffix array.

    A query never contains the separator, so no match can run from one piece into the next.
    """

    def __init__(self, text: bytes, suffixes: Sequence[int]) -> None:
        self.text = text
        self.suffixes = list(suffixes)

    @classmethod
    def of(cls, pieces: Sequence[bytes]) -> Corpus:
        text = b"\x00".join(pieces)
        return cls(text, suffix_array(text).tolist())

    def contains(self, needle: bytes) -> bool:
        size = len(needle)
        at = bisect_left(self.suffixes, needle, key=lambda start: self.text[start : start + size])
        return at < len(self.suffixes) and self.text[self.suffixes[at] : self.suffixes[at] + size] == needle

    def longest_run(self, query: bytes) -> int:
        """Longest substring of `query` found in the corpus (two pointers: ≤ 2·len(query) look-ups)."""
        best = start = 0
        for end in range(1, len(query) + 1):
            while start < end and not self.contains(query[start:end]):
                start += 1
            best = max(best, end - start)
        return best


class NoteIndex:
    """The training set's melodies (skylines) and note sequences as intervals, for originality reports."""

    def __init__(self, melodies: Corpus, notes: Corpus, pieces: int) -> None:
        self.melodies = melodies
        self.notes = notes
        self.pieces = pieces

    @classmethod
    def build(cls, scores: Sequence[Score]) -> NoteIndex:
        sequences = [_sequences(score) for score in scores]
        melodies = Corpus.of([melody_bytes for melody_bytes, _ in sequences])
        return cls(melodies, Corpus.of([note_bytes for _, note_bytes in sequences]), len(sequences))

    def save(self, path: Path) -> None:
        # Through a file object (np.savez would append ".npz" to a bare name), whole or not at all.
        write_atomic(path, self._write)

    def _write(self, file: IO[bytes]) -> None:
        np.savez_compressed(
            file,
            format=np.array([INDEX_FORMAT]),
            pieces=np.array([self.pieces]),
            melodies=np.frombuffer(self.melodies.text, np.uint8),
            melodies_suffixes=np.array(self.melodies.suffixes, np.int32),
            notes=np.frombuffer(self.notes.text, np.uint8),
            notes_suffixes=np.array(self.notes.suffixes, np.int32),
        )

    @classmethod
    def load(cls, path: Path) -> NoteIndex:
        with np.load(path, allow_pickle=False) as arrays:
            if int(arrays["format"][0]) != INDEX_FORMAT:
                raise ValueError(f"{path} holds a note index in format {int(arrays['format'][0])}, not {INDEX_FORMAT}")
            melodies, notes = (
                Corpus(arrays[name].tobytes(), arrays[f"{name}_suffixes"].tolist()) for name in ("melodies", "notes")
            )
            return cls(melodies, notes, int(arrays["pieces"][0]))

    def report(self, score: Score) -> dict[str, float | int]:
        """Longest runs of intervals shared verbatim with one training piece, and the share of the
        melody's interval 16-grams found in the training melodies (0.0 for a melody too short)."""
        melody_bytes, note_bytes = _sequences(score)
        grams = [melody_bytes[i : i + GRAM] for i in range(len(melody_bytes) - GRAM + 1)]
        return {
            "longest_melody_run": self.melodies.longest_run(melody_bytes),
            "longest_note_run": self.notes.longest_run(note_bytes),
            "verbatim_16gram_rate": sum(map(self.melodies.contains, grams)) / len(grams) if grams else 0.0,
            "melody_intervals": len(melody_bytes),
            "note_intervals": len(note_bytes),
        }


def _sequences(score: Score) -> tuple[bytes, bytes]:
    notes = notes_of(score)
    return interval_bytes(melody(notes)), interval_bytes(all_pitches(notes))


def originality_summary(index: NoteIndex, scores: Sequence[Score]) -> dict[str, float]:
    """Mean and max of each report value over `scores`, and the share of pieces copying any 16-gram."""
    reports = [index.report(score) for score in scores]
    summary = {"pieces": float(len(reports))}
    for key in ("longest_melody_run", "longest_note_run", "verbatim_16gram_rate"):
        values = np.array([report[key] for report in reports], np.float64)
        summary[f"mean_{key}"] = _mean(values)
        summary[f"max_{key}"] = float(values.max()) if len(values) else math.nan
    rates = np.array([report["verbatim_16gram_rate"] for report in reports], np.float64)
    summary["share_copying_a_16gram"] = _mean((rates > 0).astype(np.float64))
    return summary
