import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from generation.data import DataError, PrepareConfig, Prepared, prepare
from generation.midi import sha256_hex
from generation.tokenizers import TokenizerConfig


def test_it_augments_the_training_side_only(prepared: Prepared) -> None:
    shifts = prepared._arrays["transpose"]
    sides = prepared._arrays["side"]
    assert set(shifts[sides == 0]) == {-2, -1, 0, 1, 2}
    assert set(shifts[sides != 0]) == {0}
    assert len(prepared.sequences("train")) == 5 * len(prepared.sequences("train", augmented=False))


def test_it_records_every_files_hash_and_side(prepared: Prepared, chorale_folder: Path) -> None:
    pieces = {p["name"]: p for p in prepared.meta["pieces"]}
    data = (chorale_folder / "bwv269.mid").read_bytes()
    assert pieces["bwv269.mid"]["sha256"] == sha256_hex(data)
    assert {p["side"] for p in pieces.values()} == {"train", "validation", "test"}


def test_a_transposed_piece_is_the_original_shifted(prepared: Prepared) -> None:
    arrays = prepared._arrays
    rows = np.flatnonzero((arrays["piece"] == arrays["piece"][0]) & np.isin(arrays["transpose"], [0, 2]))
    original, up = (arrays["tokens"][arrays["offsets"][r] : arrays["offsets"][r + 1]] for r in rows)
    pitched = original >= 4  # the chorale encoding: ids from 4 are pitches, below are rests and specials
    np.testing.assert_array_equal(up[pitched], original[pitched] + 2)


def test_a_memorised_training_piece_shows_as_copied(prepared: Prepared) -> None:
    # Samples reach the originality check through the tokenizer's decode; so does the index.
    tokens, _ = prepared.sequences("train", augmented=False)[0]
    copy = prepared.tokenizer.decode(tokens)
    report = prepared.originality_index().report(copy.shift_pitch(3))
    assert report["longest_melody_run"] == report["melody_intervals"] > 16
    assert report["verbatim_16gram_rate"] == 1.0


def test_it_skips_a_damaged_file_and_says_why(chorale_folder: Path, tmp_path: Path) -> None:
    source = tmp_path / "source"
    shutil.copytree(chorale_folder, source)
    (source / "broken.mid").write_bytes((source / "bwv269.mid").read_bytes()[:300])
    prepared = prepare(
        PrepareConfig(source=str(source), out=str(tmp_path / "out"), tokenizer=TokenizerConfig(kind="chorale"))
    )
    [skipped] = prepared.meta["skipped"]
    assert skipped["name"] == "broken.mid"
    assert skipped["reason"].startswith("broken.mid is damaged or truncated: Invalid chunk length")
    assert len(prepared.meta["pieces"]) == len(list(chorale_folder.glob("*.mid")))


def test_it_refuses_a_file_that_does_not_match_the_manifest(chorale_folder: Path, tmp_path: Path) -> None:
    files = [{"path": p.name, "sha256": sha256_hex(p.read_bytes())} for p in sorted(chorale_folder.glob("*.mid"))]
    files[0]["sha256"] = "0" * 64
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"dataset_roots": ["ab" * 32], "files": files}))
    config = PrepareConfig(source=str(chorale_folder), out=str(tmp_path / "out"), manifest=str(manifest))
    with pytest.raises(DataError, match=f"{files[0]['path']} does not match its SHA-256"):
        prepare(config)
    assert not (tmp_path / "out" / "data.json").exists()


def test_it_records_the_dataset_roots_of_a_manifest(chorale_folder: Path, tmp_path: Path) -> None:
    files = [{"path": p.name, "sha256": sha256_hex(p.read_bytes())} for p in sorted(chorale_folder.glob("*.mid"))]
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"dataset_roots": ["ab" * 32], "licence": "CC-BY-4.0", "files": files[:6]}))
    config = PrepareConfig(
        source=str(chorale_folder),
        out=str(tmp_path / "out"),
        manifest=str(manifest),
        tokenizer=TokenizerConfig(kind="remi"),
    )
    prepared = prepare(config)
    assert prepared.meta["dataset_roots"] == ["ab" * 32]
    assert len(prepared.meta["pieces"]) == 6  # only the version's files, not everything in the folder


def test_it_refuses_a_split_that_would_leave_a_side_empty(chorale_folder: Path, tmp_path: Path) -> None:
    source = tmp_path / "two"
    source.mkdir()
    for name in ("bwv269.mid", "bwv347.mid"):
        shutil.copy(chorale_folder / name, source / name)
    with pytest.raises(DataError, match="2 pieces in 2 melody groups leave the train side empty"):
        prepare(PrepareConfig(source=str(source), out=str(tmp_path / "out")))


def test_it_notices_tokens_changed_after_preparing(prepared: Prepared, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(prepared.folder, copy)
    with (copy / "tokens.npz").open("ab") as stream:
        stream.write(b"\0")
    with pytest.raises(DataError, match="changed after it was prepared"):
        Prepared(copy)


def test_it_refuses_a_folder_with_no_music(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not music")
    with pytest.raises(DataError, match="no usable MIDI files"):
        prepare(PrepareConfig(source=str(tmp_path), out=str(tmp_path / "out")))
