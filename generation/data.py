"""The prepare step: MIDI files in, token arrays with a leak-free split out.

    python -m generation.data --source chorales --out var/generation/data/chorales

A source is the built-in chorales, or a folder of MIDI files (a Ledgerline dataset version as
exported by the workers, whose manifest lists each file's SHA-256 and the version's Merkle root).
The prepared folder holds everything a checkpoint needs to say where it came from:

    data.json         the config, the tokenizer, every piece (name, SHA-256, group, side, style),
                      the dataset roots, the licence, and files that were skipped with the reason
    tokens.npz        every tokenised piece; the training side also in each transposition
    originality.npz   the training pieces' interval index, for the originality check

A manifest (`--manifest`) is JSON: {"dataset_roots": [hex, ...], "licence": ..., "files":
[{"path": "relative/in/folder.mid", "sha256": hex, "style": optional, ...}]}. Only the files it
lists are read, and each must have its SHA-256: a changed file stops the step.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from symusic.core import ScoreTick

from generation import chorales
from generation.files import file_sha256, json_write, write_atomic
from generation.metrics import NoteIndex
from generation.midi import InvalidMidi, midi_read, sha256_hex
from generation.split import melody_groups, melody_intervals, split_assign
from generation.tokenizers import Tokenizer, TokenizerConfig, tokenizer_build, tokenizer_from_dict

CHORALE_SPLIT = Path(__file__).parent / "splits" / "chorales.json"
MIDI_SUFFIXES = (".mid", ".midi")
PITCH_RANGE = (21, 108)  # the piano's: a transposition that leaves it is not taken


class DataError(ValueError):
    """The source cannot be prepared (missing, tampered with, or empty)."""


@dataclass(frozen=True)
class PrepareConfig:
    source: str = "chorales"  # "chorales" (the built-in corpus) or a folder of MIDI files
    out: str = "var/generation/data/chorales"
    tokenizer: TokenizerConfig = field(default_factory=lambda: TokenizerConfig(kind="chorale"))
    transpositions: tuple[int, ...] = (-2, -1, 0, 1, 2)  # the seeds' x5 augmentation; training side only
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)  # train, validation, test, in pieces
    split_seed: int = 0  # changes which melody groups go to test and validation
    split_file: str | None = None  # follow a committed split (the chorale benchmark's) instead
    manifest: str | None = None  # a dataset version's export: roots and the SHA-256 each file must have
    limit: int | None = None  # only the first N pieces by name: for tests and the demo


@dataclass
class Piece:
    name: str
    sha256: str
    style: str
    score: ScoreTick


class Prepared:
    """A prepared folder, read back."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        if not (folder / "data.json").is_file():
            raise DataError(f"{folder} is not a prepared folder (run python -m generation.data)")
        self.meta: dict[str, Any] = json.loads((folder / "data.json").read_text())
        if file_sha256(folder / "tokens.npz") != self.meta["tokens_sha256"]:
            raise DataError(f"{folder / 'tokens.npz'} changed after it was prepared; prepare it again")
        self.tokenizer: Tokenizer = tokenizer_from_dict(self.meta["tokenizer"])
        self.styles: list[str] = self.meta["styles"]
        with np.load(folder / "tokens.npz") as arrays:
            self._arrays = {key: arrays[key] for key in arrays.files}

    def sequences(self, side: str, *, augmented: bool = True) -> list[tuple[np.ndarray, int]]:
        """(tokens, style id) of each piece on one side; `augmented=False` keeps untransposed ones."""
        a = self._arrays
        rows = np.flatnonzero((a["side"] == SIDE_CODES[side]) & (augmented | (a["transpose"] == 0)))
        return [(a["tokens"][a["offsets"][r] : a["offsets"][r + 1]], int(a["style"][r])) for r in rows]

    def originality_index(self) -> NoteIndex:
        return NoteIndex.load(self.folder / "originality.npz")


SIDE_CODES = {"train": 0, "validation": 1, "test": 2}


def training_tokens(folder: Path, *, key: str) -> dict[str, int]:
    """Tokens of each piece on the training side of a prepared folder, transpositions included,
    by the piece's ``key`` ("name" or "sha256"); pieces with none are left out."""
    pieces = json.loads((folder / "data.json").read_text())["pieces"]
    with np.load(folder / "tokens.npz") as arrays:
        train = arrays["side"] == SIDE_CODES["train"]
        totals = np.bincount(arrays["piece"][train], weights=np.diff(arrays["offsets"])[train], minlength=len(pieces))
    return {piece[key]: int(totals[i]) for i, piece in enumerate(pieces) if totals[i]}


def data_check(checkpoint: Any, data: Prepared) -> None:
    """Refuse to score or tune a checkpoint on data it was not made for: another tokenizer, or a
    held-out piece (by SHA-256) that the checkpoint trained on."""
    if checkpoint.config["tokenizer"] != data.meta["tokenizer"]:
        raise DataError(f"{checkpoint.folder} was trained with another tokenizer than {data.folder} uses")
    trained = {p["sha256"] for p in checkpoint.config["data"]["pieces"] if p["side"] == "train"}
    held_out = [p["name"] for p in data.meta["pieces"] if p["side"] != "train" and p["sha256"] in trained]
    if held_out:
        raise DataError(
            f"{checkpoint.folder} trained on {len(held_out)} of {data.folder}'s held-out pieces, e.g. {held_out[0]}"
        )


def prepare(config: PrepareConfig) -> Prepared:
    out = Path(config.out)
    tokenizer = tokenizer_build(config.tokenizer)
    pieces, skipped, provenance = _read_source(config, tokenizer)
    split_file = _split_file(config)
    sides = _sides(config, pieces, split_file)
    styles = sorted({piece.style for piece in pieces})
    rows = _tokenise(pieces, sides, styles, tokenizer, config.transpositions)
    out.mkdir(parents=True, exist_ok=True)
    write_atomic(out / "tokens.npz", lambda stream: np.savez(stream, allow_pickle=False, **rows))
    # Built from what the tokenizer keeps of each piece: samples pass through the same decode,
    # so a memorised training piece matches its entry note for note.
    kept = [tokenizer.decode(tokenizer.encode(p.score)) for p in pieces if sides[p.name][0] == "train"]
    NoteIndex.build(kept).save(out / "originality.npz")
    meta = {
        "config": asdict(config),
        "tokenizer": tokenizer.to_dict(),
        "styles": styles,
        "pieces": [
            {"name": p.name, "sha256": p.sha256, "style": p.style, "side": sides[p.name][0], "group": sides[p.name][1]}
            for p in pieces
        ],
        "skipped": skipped,
        "tokens_sha256": file_sha256(out / "tokens.npz"),
        "split": {
            "file": split_file.name if split_file else None,
            "sha256": file_sha256(split_file) if split_file else None,
            "method": "committed file" if split_file else "generation.split melody groups",
        },
        **provenance,
    }
    json_write(out / "data.json", meta)  # last: a folder without it was never finished
    return Prepared(out)


def _read_source(
    config: PrepareConfig, tokenizer: Tokenizer
) -> tuple[list[Piece], list[dict[str, str]], dict[str, Any]]:
    if config.source == "chorales":
        folder = Path(config.out) / "midi"
        chorales.chorales_export(folder)
        provenance: dict[str, Any] = {"licence": chorales.LICENCE, "dataset_roots": []}
        expected = None
    else:
        folder = Path(config.source)
        if not folder.is_dir():
            raise DataError(f"{folder} is not a folder of MIDI files")
        manifest = _manifest_read(Path(config.manifest)) if config.manifest else {}
        expected = _manifest_files(manifest) if manifest else None
        provenance = {"licence": manifest.get("licence"), "dataset_roots": manifest.get("dataset_roots", [])}
    paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() in MIDI_SUFFIXES)
    if expected is not None:
        paths = _check_manifest(folder, paths, expected)
    pieces, skipped = _read_files(
        folder, paths[: config.limit], expected, tokenizer, chorale=config.source == "chorales"
    )
    if not pieces:
        raise DataError(f"no usable MIDI files in {folder} ({len(skipped)} skipped)")
    return pieces, skipped, provenance


def _manifest_read(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise DataError(f"cannot read the manifest {path}: {error}") from error
    if not isinstance(document, dict):
        raise DataError(f"the manifest {path} is not a JSON object")
    return document


def _manifest_files(manifest: dict[str, Any]) -> dict[str, Any]:
    files = manifest.get("files")
    if not isinstance(files, list) or not all(isinstance(f, dict) and {"path", "sha256"} <= set(f) for f in files):
        raise DataError('the manifest needs "files": a list of {"path": ..., "sha256": ...}')
    return {entry["path"]: entry for entry in files}


def _check_manifest(folder: Path, paths: list[Path], expected: dict[str, Any]) -> list[Path]:
    found = {p.relative_to(folder).as_posix(): p for p in paths}
    missing = sorted(set(expected) - set(found))
    if missing:
        raise DataError(f"{len(missing)} files in the manifest are missing, first {missing[0]}")
    return [found[name] for name in sorted(expected) if name in found]


def _read_files(
    folder: Path, paths: Sequence[Path], expected: dict[str, Any] | None, tokenizer: Tokenizer, *, chorale: bool
) -> tuple[list[Piece], list[dict[str, str]]]:
    pieces, skipped = [], []
    for path in paths:
        name = path.relative_to(folder).as_posix()
        data = path.read_bytes()
        digest = sha256_hex(data)
        entry = expected.get(name, {}) if expected is not None else {}
        if entry and entry["sha256"] != digest:
            raise DataError(f"{name} does not match its SHA-256 in the manifest: refusing to train on it")
        try:
            score = midi_read(data, name=name)
            tokenizer.encode(score)  # a file the tokenizer cannot take is skipped here, not mid-way
        except InvalidMidi as error:
            skipped.append({"name": name, "reason": str(error)})
            continue
        style = entry.get("style") or (_mode(score) if chorale else _folder_style(name))
        pieces.append(Piece(name.removesuffix(path.suffix) if chorale else name, digest, style, score))
    return pieces, skipped


def _mode(score: ScoreTick) -> str:
    keys = score.key_signatures
    return ("minor" if keys[0].tonality else "major") if len(keys) else ""


def _folder_style(name: str) -> str:
    parts = name.split("/")
    return parts[0] if len(parts) > 1 else ""


def _split_file(config: PrepareConfig) -> Path | None:
    """The committed split to follow: the one named, else the chorale benchmark's for the chorales."""
    if config.split_file:
        return Path(config.split_file)
    if config.source == "chorales" and config.limit is None and CHORALE_SPLIT.exists():
        return CHORALE_SPLIT
    return None


def _sides(config: PrepareConfig, pieces: list[Piece], split_file: Path | None) -> dict[str, tuple[str, str]]:
    """Each piece's (side, melody group)."""
    if split_file:
        committed = json.loads(split_file.read_text())["pieces"]
        unknown = [p.name for p in pieces if p.name not in committed]
        if unknown:
            raise DataError(f"{len(unknown)} pieces are not in the split file {split_file}, first {unknown[0]}")
        return {p.name: (committed[p.name]["side"], committed[p.name]["group"]) for p in pieces}
    groups = melody_groups({p.name: melody_intervals(p.score) for p in pieces})
    assigned = split_assign(groups, fractions=config.fractions, seed=config.split_seed)
    empty = [side for side in SIDE_CODES if side not in assigned.values()]
    if empty:
        raise DataError(
            f"too few pieces to split: {len(pieces)} pieces in {len(set(groups.values()))} melody groups "
            f"leave the {' and '.join(empty)} side empty; add pieces with other melodies"
        )
    return {p.name: (assigned[p.name], groups[p.name]) for p in pieces}


def _tokenise(
    pieces: list[Piece],
    sides: dict[str, tuple[str, str]],
    styles: list[str],
    tokenizer: Tokenizer,
    transpositions: Sequence[int],
) -> dict[str, np.ndarray]:
    tokens, lengths, side, transpose, style, piece = [], [], [], [], [], []
    for index, p in enumerate(pieces):
        shifts = sorted({0, *transpositions}) if sides[p.name][0] == "train" else [0]
        for shift in shifts:
            if shift and not _in_range(p.score, shift):
                continue
            ids = tokenizer.encode(_transpose(p.score, shift) if shift else p.score)
            tokens.append(ids)
            lengths.append(len(ids))
            side.append(SIDE_CODES[sides[p.name][0]])
            transpose.append(shift)
            style.append(styles.index(p.style))
            piece.append(index)
    return {
        "tokens": np.concatenate(tokens).astype(np.int32),
        "offsets": np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
        "side": np.asarray(side, dtype=np.int8),
        "transpose": np.asarray(transpose, dtype=np.int8),
        "style": np.asarray(style, dtype=np.int16),
        "piece": np.asarray(piece, dtype=np.int32),
    }


def _in_range(score: ScoreTick, shift: int) -> bool:
    pitches = [note.pitch + shift for track in score.tracks if not track.is_drum for note in track.notes]
    return not pitches or (PITCH_RANGE[0] <= min(pitches) and max(pitches) <= PITCH_RANGE[1])


def _transpose(score: ScoreTick, shift: int) -> ScoreTick:
    """Shift every pitched track; drum tracks name instruments by pitch and stay as they are."""
    shifted = score.copy()
    for track in shifted.tracks:
        if not track.is_drum:
            track.shift_pitch(shift, inplace=True)
    return shifted


def split_write(prepared: Prepared, path: Path) -> None:
    pieces = {p["name"]: {"side": p["side"], "group": p["group"]} for p in prepared.meta["pieces"]}
    document = {
        "corpus": "music21's Bach chorales, strictly four-part",
        "method": "generation.split: melody groups (top-line intervals), groups assigned whole by hash order",
        "config": {key: prepared.meta["config"][key] for key in ("fractions", "split_seed")},
        "pieces": pieces,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=1) + "\n")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m generation.data", description=__doc__.split("\n")[0])
    parser.add_argument("--source", default="chorales", help="'chorales' or a folder of MIDI files")
    parser.add_argument("--out", default=PrepareConfig.out, help="the prepared folder to write")
    parser.add_argument("--tokenizer", default="chorale", choices=["chorale", "remi", "tsd"])
    parser.add_argument("--transpositions", default="-2,-1,0,1,2", help="semitone shifts of the training side")
    parser.add_argument("--split-seed", type=int, default=0)
    parser.add_argument("--split-file", help="a committed split to follow")
    parser.add_argument("--manifest", help="a dataset version's export: roots and file hashes to check")
    parser.add_argument("--limit", type=int, help="only the first N pieces (by name)")
    parser.add_argument("--write-split", metavar="PATH", help="write the split (side and melody group) as JSON")
    args = parser.parse_args(argv)
    config = PrepareConfig(
        source=args.source,
        out=args.out,
        tokenizer=TokenizerConfig(kind=args.tokenizer),
        transpositions=tuple(int(x) for x in args.transpositions.split(",") if x),
        split_seed=args.split_seed,
        split_file=args.split_file,
        manifest=args.manifest,
        limit=args.limit,
    )
    try:
        prepared = prepare(config)
    except DataError as error:
        raise SystemExit(f"error: {error}") from error
    if args.write_split:
        split_write(prepared, Path(args.write_split))
    counts = {side: len(prepared.sequences(side, augmented=False)) for side in SIDE_CODES}
    print(f"prepared {prepared.folder}: {counts}, {len(prepared.meta['skipped'])} skipped")


if __name__ == "__main__":
    main()
