"""The built-in real corpus: the Bach chorales that ship with music21's wheel.

music21 holds 371 chorales (Riemenschneider numbering) as MusicXML; about 331 are strictly
four-part (soprano, alto, tenor, bass, one note at a time). `chorales_export` writes those as
MIDI files with a licence record beside them, so the rest of the library reads them like any
other dataset.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

LICENCE = {
    "name": "J. S. Bach, four-part chorales (music21 corpus)",
    "composition": "public domain (J. S. Bach, 1685-1750)",
    "encoding": (
        "MusicXML encodings distributed in the music21 corpus under music21's BSD-3-Clause licence; "
        "music21 notes that it does not own all corpus music, which was licensed to it or is free, "
        "'to the best of our knowledge' in the US"
    ),
    "spdx": "BSD-3-Clause",
    "source": "https://github.com/cuthbertLab/music21 (music21/corpus/bach)",
}


@dataclass(frozen=True)
class Chorale:
    name: str  # "bwv269": the corpus file, also the MIDI file's stem
    riemenschneider: int
    title: str  # the hymn, when music21's chorale list names it; shared titles share a melody


def chorale_list() -> list[Chorale]:
    from music21.corpus import chorales

    titles = {entry["bwv"]: entry["title"] for entry in chorales.ChoraleList().byBudapest.values()}
    iterator = chorales.Iterator(numberingSystem="riemenschneider", returnType="filename")
    found: dict[str, Chorale] = {}
    for number, path in enumerate(iterator, start=1):
        name = str(path).removeprefix("bach/")
        # Riemenschneider prints some chorales twice; one file is one piece.
        found.setdefault(name, Chorale(name, number, str(titles.get(_bwv_number(name), ""))))
    return list(found.values())


def _bwv_number(name: str) -> str | int:
    base = name.removeprefix("bwv").split(".")[0]
    return int(base) if base.isdigit() else base


def chorales_export(folder: Path, *, names: Sequence[str] | None = None, workers: int = 2) -> list[Chorale]:
    """Write every strictly four-part chorale (or those named) as `<name>.mid` into `folder`.

    Returns those written. Files already there are kept (music21 parsing is the slow part), so a
    second call is cheap.
    """
    folder.mkdir(parents=True, exist_ok=True)
    candidates = [c for c in chorale_list() if names is None or c.name in names]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        written = list(pool.map(_export_one, candidates, [folder] * len(candidates), chunksize=8))
    kept = [chorale for chorale, ok in zip(candidates, written, strict=True) if ok]
    (folder / "LICENCE.json").write_text(json.dumps(LICENCE, indent=2) + "\n")
    (folder / "chorales.json").write_text(
        json.dumps([chorale.__dict__ for chorale in kept], indent=2, ensure_ascii=False) + "\n"
    )
    return kept


def _export_one(chorale: Chorale, folder: Path) -> bool:
    target = folder / f"{chorale.name}.mid"
    if target.exists():
        return True
    from music21 import corpus, repeat

    score = corpus.parse(f"bach/{chorale.name}")
    if not _strictly_four_part(score):
        return False
    partial = target.with_suffix(".part")
    try:
        score.write("midi", fp=str(partial))
    except repeat.ExpanderException:
        # A few encodings carry repeat marks music21 cannot expand; keep the music as written.
        _drop_repeats(score)
        score.write("midi", fp=str(partial))
    partial.replace(target)  # never a half-written .mid if the export is interrupted
    return True


def _drop_repeats(score: object) -> None:
    from music21 import bar, repeat

    for mark in list(score.recurse().getElementsByClass([bar.Repeat, repeat.RepeatExpression])):  # type: ignore[attr-defined]
        mark.activeSite.remove(mark)


def _strictly_four_part(score: object) -> bool:
    from music21 import chord

    parts = list(score.parts)  # type: ignore[attr-defined]
    if len(parts) != 4:
        return False
    return not any(part.recurse().getElementsByClass(chord.Chord) for part in parts)
