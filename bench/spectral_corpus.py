"""A tagged set of recordings made from real music, for the spectrogram diffusion model
(bench/spectral.py): pieces of music21's corpora rendered through the General MIDI soundfont
(the platform's renderer, TinySoundFont with TimGM6mb) with an instrument and tempo chosen per
collection, each file tagged by instrument and collection. No recordings can be downloaded here.

    .venv/bin/python bench/spectral_corpus.py OUT [--pieces 30] [--seconds 24]

OUT gets one WAV per piece under <class>/ and, last, `tags.json`: {path: {"tags": [...], "caption"}}
(with it there, the set is reused as it is). A collection may hold fewer pieces than asked: the
string quartets of music21's core corpus give 26.
Pieces are taken in the corpus' order, so a class's files are the same on every run; the piece's
tempo is drawn from the class's range with a seed made from its path.
"""

import argparse
import hashlib
import io
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mido

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "platform"))
from ledgerline.works.render import midi_render


@dataclass(frozen=True)
class Collection:
    tags: tuple[str, ...]  # instrument first, then the collection
    corpus: tuple[str, ...]  # music21 corpus folders (core corpus)
    programs: tuple[int, ...]  # General MIDI program per part (the last repeats)
    tempo: tuple[int, int]  # quarter notes per minute, the range a piece's tempo is drawn from
    skip: int = 0  # pieces skipped first: a second instrument on one collection takes other pieces


COLLECTIONS = {
    "organ-chorale": Collection(("organ", "chorale"), ("bach",), (19,), (60, 84)),
    "piano-chorale": Collection(("piano", "chorale"), ("bach",), (0,), (66, 92), skip=200),
    "choir-mass": Collection(("choir", "mass"), ("palestrina",), (52,), (70, 96)),
    "flute-folk": Collection(("flute", "folk"), ("essenFolksong",), (73,), (90, 126)),
    "fiddle-folk": Collection(("fiddle", "folk"), ("ryansMammoth",), (110,), (100, 140)),
    "strings-quartet": Collection(
        ("strings", "quartet"), ("haydn", "mozart", "beethoven"), (40, 40, 41, 42), (80, 120)
    ),
}


def scores(collection: Collection) -> Iterator[tuple[str, Any]]:
    """(name, music21 score) in corpus order; an opus (a file of many tunes) gives each tune."""
    from music21 import corpus, stream

    seen = 0
    for folder in collection.corpus:
        for path in sorted(p for p in corpus.getCorePaths() if folder in Path(p).parts):
            try:
                parsed = corpus.parse(path)
            except Exception:  # a few corpus files do not parse in this music21
                continue
            pieces = list(parsed.scores) if isinstance(parsed, stream.Opus) else [parsed]
            for n, score in enumerate(pieces):
                if not score.flatten().notes:
                    continue
                seen += 1
                if seen > collection.skip:
                    yield f"{Path(path).parent.name}-{Path(path).stem}-{n}", score


def piece_midi(score: Any, collection: Collection, *, seed: str, seconds: float) -> bytes:
    """The score as MIDI with the collection's programs, one tempo, and nothing after `seconds`."""
    from music21 import midi

    data = midi.translate.streamToMidiFile(score).writestr()
    song = mido.MidiFile(file=io.BytesIO(data))
    low, high = collection.tempo
    bpm = low + int(hashlib.sha256(seed.encode()).hexdigest(), 16) % (high - low + 1)
    limit = int(seconds * bpm / 60 * song.ticks_per_beat)
    part = 0
    for n, track in enumerate(song.tracks):
        events, now = [], 0
        for message in track:
            now += message.time
            if message.type in ("set_tempo", "program_change") or (now > limit and message.type == "note_on"):
                continue
            events.append((now, message))
        if any(m.type == "note_on" for _, m in events):
            program = collection.programs[min(part, len(collection.programs) - 1)]
            channels = sorted({m.channel for _, m in events if hasattr(m, "channel")}) or [0]
            events[:0] = [(0, mido.Message("program_change", channel=c, program=program)) for c in channels]
            part += 1
        if n == 0:
            events.insert(0, (0, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm))))
        track.clear()
        last = 0
        for at, message in events:
            track.append(message.copy(time=at - last))
            last = at
    out = io.BytesIO()
    song.save(file=out)
    return out.getvalue()


def build(out: Path, *, pieces: int, seconds: float) -> dict[str, dict[str, Any]]:
    """The set under ``out`` (reused where it is complete), and its tags."""
    index = out / "tags.json"
    if index.is_file():  # written last: the set is complete (a collection may hold fewer pieces)
        return dict(json.loads(index.read_text()))
    tags = {}
    for name, collection in COLLECTIONS.items():
        (out / name).mkdir(parents=True, exist_ok=True)
        made = 0
        for piece, score in scores(collection):
            path = f"{name}/{piece}.wav"
            if not (out / path).is_file():
                try:
                    midi = piece_midi(score, collection, seed=path, seconds=seconds)
                except Exception as exc:  # music21 cannot write a few pieces as MIDI
                    print(f"{path}: skipped ({exc})", file=sys.stderr)
                    continue
                (out / path).write_bytes(midi_render(midi))
            caption = f"{' '.join(collection.tags)}: {piece} from music21's corpus"
            tags[path] = {"tags": list(collection.tags), "caption": caption}
            made += 1
            print(f"{path}", file=sys.stderr)
            if made == pieces:
                break
    index.write_text(json.dumps(tags, indent=1, sort_keys=True))
    return tags


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--pieces", type=int, default=30, help="pieces per collection")
    parser.add_argument("--seconds", type=float, default=24.0, help="at most this much of each piece")
    arguments = parser.parse_args()
    tags = build(arguments.out, pieces=arguments.pieces, seconds=arguments.seconds)
    print(f"{len(tags)} files in {arguments.out}")


if __name__ == "__main__":
    main()
