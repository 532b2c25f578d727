"""A train/validation/test split that does not leak a melody across sides.

Bach harmonised many hymn tunes more than once, under different texts and titles, so a
file-random split puts the same melody in training and test and flatters every model. Here
pieces are grouped by their melody (the top line, as transposition-invariant intervals) and whole
groups are assigned to a side, in an order fixed by a hash of the group so the split is the same
on every machine and every run.
"""

from __future__ import annotations

import difflib
import hashlib
import itertools
from collections import defaultdict
from collections.abc import Mapping, Sequence

import numpy as np
from symusic.core import ScoreTick

SIDES = ("train", "validation", "test")
SHINGLE = 6  # intervals; two tunes that share no 6-interval run are not compared at all
# difflib ratio of the interval sequences. On the chorales, known shared tunes score 0.74-1.0
# and 99% of random pairs below 0.64; 0.7 finds 193 melody groups in 331 chorales.
SAME_MELODY = 0.7


def melody_intervals(score: ScoreTick) -> np.ndarray:
    """Intervals of the top line, repeated notes joined.

    The top line is the highest pitch *sounding* at each onset, not the highest starting there:
    while the soprano holds a note, the moving inner voices below it are not the melody.
    """
    notes = [(note.time, note.end, note.pitch) for track in score.tracks if not track.is_drum for note in track.notes]
    if not notes:
        return np.zeros(0, dtype=np.int64)
    starts, ends, pitches = (np.asarray(column) for column in zip(*notes, strict=True))
    onsets = np.unique(starts)
    sounding = (starts[None, :] <= onsets[:, None]) & (ends[None, :] > onsets[:, None])
    line = np.where(sounding, pitches[None, :], -1).max(axis=1)
    line = line[np.concatenate([[True], np.diff(line) != 0])]
    return np.diff(line).astype(np.int64)


def melody_groups(melodies: Mapping[str, np.ndarray]) -> dict[str, str]:
    """Map each piece to its group: the first name (sorted) among pieces sharing its melody."""
    parent = {name: name for name in melodies}

    def root(name: str) -> str:
        while parent[name] != name:
            parent[name] = parent[parent[name]]
            name = parent[name]
        return name

    for a, b in _candidate_pairs(melodies):
        ratio = difflib.SequenceMatcher(None, melodies[a].tolist(), melodies[b].tolist(), autojunk=False).ratio()
        if ratio >= SAME_MELODY:
            first, second = sorted((root(a), root(b)))
            parent[second] = first
    return {name: root(name) for name in melodies}


def _candidate_pairs(melodies: Mapping[str, np.ndarray]) -> set[tuple[str, str]]:
    holders: dict[bytes, set[str]] = defaultdict(set)
    for name, intervals in melodies.items():
        codes = (np.clip(intervals, -127, 127) + 128).astype(np.uint8).tobytes()
        for start in range(len(codes) - SHINGLE + 1):
            holders[codes[start : start + SHINGLE]].add(name)
    pairs: set[tuple[str, str]] = set()
    for names in holders.values():
        pairs.update(itertools.combinations(sorted(names), 2))
    return pairs


def split_assign(
    groups: Mapping[str, str], *, fractions: Sequence[float] = (0.8, 0.1, 0.1), seed: int = 0
) -> dict[str, str]:
    """Map each piece to "train", "validation" or "test", whole groups at a time.

    Groups are taken in the order of a hash of their name and the seed, filling test, then
    validation, to their share of pieces; the rest train. Adding a piece moves few others.
    """
    members: dict[str, list[str]] = defaultdict(list)
    for name, group in groups.items():
        members[group].append(name)
    order = sorted(members, key=lambda group: hashlib.sha256(f"{seed}:{group}".encode()).hexdigest())
    total, assigned = len(groups), {}
    quota = {"test": fractions[2] * total, "validation": fractions[1] * total}
    filled = {"test": 0, "validation": 0}
    for group in order:
        side = next((s for s in ("test", "validation") if filled[s] < quota[s]), "train")
        filled[side] = filled.get(side, 0) + len(members[group])
        for name in members[group]:
            assigned[name] = side
    return assigned
