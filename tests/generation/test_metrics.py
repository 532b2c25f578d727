"""Musical metrics, the Yang & Lerch set comparison and transposition-invariant originality reports."""

import math
import time
import zipfile
from collections.abc import Sequence
from pathlib import Path

import music21
import numpy as np
import pytest
import symusic

from generation.metrics import (
    NoteIndex,
    Score,
    musical_metrics,
    originality_summary,
    set_overlap,
)

CHORALES = ("bwv66.6", "bwv1.6", "bwv2.6", "bwv3.6", "bwv4.8", "bwv5.7", "bwv6.6", "bwv7.7")


def piece(pitches: Sequence[int], onsets: Sequence[float] | None = None, tpq: int = 480) -> Score:
    """One track; onsets in beats (one note a beat unless given)."""
    score = symusic.Score(tpq)
    track = symusic.Track()
    for index, pitch in enumerate(pitches):
        onset = index if onsets is None else onsets[index]
        track.notes.append(symusic.Note(round(onset * tpq), tpq // 2, int(pitch), 80))
    score.tracks.append(track)
    return score


def voices(*parts: Sequence[int]) -> Score:
    """Several one-note-a-beat tracks sounding together."""
    score = symusic.Score(480)
    for part in parts:
        score.tracks.extend(piece(part).tracks)
    return score


def random_piece(seed: int, notes: int = 200) -> Score:
    rng = np.random.default_rng(seed)
    onsets = np.cumsum(rng.choice([0.25, 0.75, 1.5, 3.0], notes))
    return piece(rng.integers(24, 108, notes).tolist(), onsets.tolist())


def random_walk(seed: int, notes: int) -> list[int]:
    steps = np.random.default_rng(seed).choice([-4, -3, -2, -1, 0, 1, 2, 3, 4], notes)
    return (60 + np.abs((np.cumsum(steps) + 24) % 48 - 24)).tolist()  # reflects within 60..84


@pytest.fixture(scope="module")
def chorales(tmp_path_factory: pytest.TempPathFactory) -> list[Score]:
    folder = tmp_path_factory.mktemp("chorales")
    scores = []
    for name in CHORALES:
        path = folder / f"{name}.mid"
        music21.corpus.parse(f"bach/{name}").write("midi", fp=str(path))
        scores.append(symusic.Score(path))
    return scores


@pytest.fixture(scope="module")
def index(chorales: list[Score]) -> NoteIndex:
    return NoteIndex.build(chorales[1:])


def test_it_finds_a_transposed_copy_of_a_training_piece_along_its_whole_length(
    index: NoteIndex, chorales: list[Score]
) -> None:
    report = index.report(chorales[3].shift_pitch(5))

    assert report["longest_melody_run"] == report["melody_intervals"] > 16
    assert report["longest_note_run"] == report["note_intervals"] > report["melody_intervals"]
    assert report["verbatim_16gram_rate"] == 1.0


def test_it_finds_only_short_runs_in_an_unrelated_random_piece(index: NoteIndex) -> None:
    report = index.report(random_piece(seed=1))

    assert report["longest_melody_run"] < 5
    assert report["longest_note_run"] < 5
    assert report["verbatim_16gram_rate"] == 0.0


def test_it_never_lets_a_match_span_two_training_pieces() -> None:
    first, second = [60, 62, 64, 65, 67, 69], [50, 49, 47, 45, 43, 42]
    both_intervals = [*first, *(first[-1] + np.cumsum(np.diff(second))).tolist()]  # first's, then second's intervals

    apart = NoteIndex.build([piece(first), piece(second)]).report(piece(both_intervals))
    together = NoteIndex.build([piece(both_intervals)]).report(piece(both_intervals))

    assert apart["longest_melody_run"] == apart["longest_note_run"] == 5
    assert together["longest_melody_run"] == together["longest_note_run"] == 10


def test_it_finds_the_same_longest_run_as_a_brute_force_search() -> None:
    rng = np.random.default_rng(7)
    training = [rng.integers(60, 64, rng.integers(0, 40)).tolist() for _ in range(12)]
    index = NoteIndex.build([piece(pitches) for pitches in training])
    for _ in range(30):
        query = rng.integers(60, 64, rng.integers(0, 40)).tolist()
        assert index.report(piece(query))["longest_melody_run"] == brute_force_run(query, training)


def brute_force_run(query: list[int], training: list[list[int]]) -> int:
    """Longest run of the query's intervals found in one training piece, by trying every substring."""
    intervals = np.diff(query).tolist()
    texts = [str(np.diff(pitches).tolist())[1:-1] for pitches in training]
    runs = [
        end - start
        for start in range(len(intervals))
        for end in range(start + 1, len(intervals) + 1)
        if any(f", {str(intervals[start:end])[1:-1]}," in f", {text}," for text in texts)
    ]
    return max(runs, default=0)


def test_it_follows_the_top_voice_as_the_melody() -> None:
    tune = [72, 74, 76, 77, 79, 77, 76, 74, 72, 71, 72, 74, 76, 74, 72, 71, 72, 74, 76, 77]
    index = NoteIndex.build([voices(tune, [48 + i % 3 for i in range(20)])])

    report = index.report(voices(tune, [55 - i % 5 for i in range(20)]))

    assert report["longest_melody_run"] == 19
    assert report["verbatim_16gram_rate"] == 1.0
    assert report["longest_note_run"] < 19


def test_it_reads_back_a_saved_index_that_reports_the_same(
    index: NoteIndex, chorales: list[Score], tmp_path: Path
) -> None:
    path = tmp_path / "training.index"
    index.save(path)
    loaded = NoteIndex.load(path)

    assert zipfile.is_zipfile(path)  # an .npz, whatever the file is called
    assert loaded.pieces == index.pieces == len(CHORALES) - 1
    for score in (chorales[0], chorales[2].shift_pitch(-3), random_piece(seed=2)):
        assert loaded.report(score) == index.report(score)


def test_it_reports_in_well_under_a_second_on_a_training_sized_index() -> None:
    training = [piece(random_walk(seed, 1000)) for seed in range(350)]
    index = NoteIndex.build(training)

    started = time.perf_counter()
    copied = index.report(training[100].shift_pitch(-7))
    unrelated = index.report(piece(random_walk(9999, 1000)))
    elapsed = time.perf_counter() - started

    assert elapsed < 0.5
    assert copied["longest_melody_run"] == 999
    assert unrelated["longest_melody_run"] < 999


def test_it_summarises_originality_over_a_set(index: NoteIndex, chorales: list[Score]) -> None:
    copies = originality_summary(index, [chorales[1], chorales[2].shift_pitch(2)])
    fresh = originality_summary(index, [chorales[0], random_piece(seed=3)])
    nothing = originality_summary(index, [])

    assert copies["mean_verbatim_16gram_rate"] == copies["share_copying_a_16gram"] == 1.0
    assert fresh["max_longest_melody_run"] < copies["mean_longest_melody_run"]
    assert fresh["pieces"] == 2.0
    assert nothing["pieces"] == 0.0 and math.isnan(nothing["mean_longest_note_run"])


def test_it_gives_sensible_musical_metrics_for_a_real_chorale(chorales: list[Score]) -> None:
    metrics = musical_metrics(chorales[0])

    assert 0.9 < metrics["scale_consistency"] <= 1.0
    assert 2.0 < metrics["pitch_class_entropy"] < 3.6
    assert 3.0 < metrics["polyphony"] <= 4.0
    assert metrics["empty_beat_rate"] == 0.0


def test_it_rates_a_set_closer_to_itself_than_to_random_pieces(chorales: list[Score]) -> None:
    itself = set_overlap(chorales, chorales)
    random = set_overlap([random_piece(seed) for seed in range(8)], chorales)

    for feature in ("pitch_class_histogram", "mean_ioi_beats", "pitch_range"):
        assert itself[feature]["overlap"] > random[feature]["overlap"], feature
        assert itself[feature]["kl"] < random[feature]["kl"], feature
    assert 0.0 <= random["pitch_range"]["overlap"] <= itself["pitch_range"]["overlap"] <= 1.0
    assert itself["pitch_range"]["generated_mean"] == itself["pitch_range"]["reference_mean"]
    assert itself["pitch_class_histogram"]["generated_mean_F#"] == itself["pitch_class_histogram"]["reference_mean_F#"]


def test_it_measures_inter_onset_intervals_in_beats_whatever_the_resolution() -> None:
    eighths = [piece([60] * 8, [i / 2 for i in range(8)], tpq=tpq) for tpq in (96, 480)]

    result = set_overlap(eighths, eighths)["mean_ioi_beats"]

    assert result["generated_mean"] == result["reference_mean"] == 0.5


def test_it_compares_sets_without_spread_without_crashing() -> None:
    same = [piece([60, 64, 67, 72])] * 3

    result = set_overlap(same, same)

    for feature in result.values():
        assert feature["overlap"] == pytest.approx(1.0, abs=1e-3)
        assert feature["kl"] == pytest.approx(0.0, abs=1e-6)


def test_it_returns_nan_rather_than_crashing_on_an_empty_score(index: NoteIndex) -> None:
    empty, silent_track = symusic.Score(480), symusic.Score(480)
    silent_track.tracks.append(symusic.Track())

    for score in (empty, silent_track):
        assert all(math.isnan(value) for value in musical_metrics(score).values())
        assert index.report(score) == {
            "longest_melody_run": 0,
            "longest_note_run": 0,
            "verbatim_16gram_rate": 0.0,
            "melody_intervals": 0,
            "note_intervals": 0,
        }
    overlap = set_overlap([empty], [silent_track, piece([60])])
    assert math.isnan(overlap["pitch_range"]["overlap"]) and overlap["pitch_range"]["n_reference"] == 1.0
    assert NoteIndex.build([]).report(piece([60, 62]))["longest_melody_run"] == 0
