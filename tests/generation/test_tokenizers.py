from pathlib import Path

import numpy as np
import pytest

from generation.midi import InvalidMidi, midi_bytes, midi_read
from generation.tokenizers import TokenizerConfig, tokenizer_build, tokenizer_from_dict

KINDS = ("remi", "tsd", "chorale")
FILES = ("bwv10.7", "bwv244.15", "bwv269")


@pytest.mark.parametrize("name", FILES)
@pytest.mark.parametrize("kind", KINDS)
def test_it_round_trips_real_chorales(chorale_folder: Path, name: str, kind: str) -> None:
    tokenizer = tokenizer_build(TokenizerConfig(kind=kind))
    ids = tokenizer.encode(midi_read(chorale_folder / f"{name}.mid"))
    np.testing.assert_array_equal(ids, tokenizer.encode(tokenizer.decode(ids)))
    assert ids.max() < tokenizer.vocab_size


@pytest.mark.parametrize("name", FILES)
def test_the_chorale_encoding_survives_a_trip_through_midi_bytes(chorale_folder: Path, name: str) -> None:
    # REMI and TSD put the four voices on one track (the files give them all program 0), where
    # MIDI itself cannot keep two overlapping notes of the same pitch apart; four tracks can.
    tokenizer = tokenizer_build(TokenizerConfig(kind="chorale"))
    ids = tokenizer.encode(midi_read(chorale_folder / f"{name}.mid"))
    np.testing.assert_array_equal(ids, tokenizer.encode(midi_read(midi_bytes(tokenizer.decode(ids)))))


@pytest.mark.parametrize("kind", KINDS)
def test_it_rebuilds_the_same_tokenizer_from_its_description(chorale_folder: Path, kind: str) -> None:
    tokenizer = tokenizer_build(TokenizerConfig(kind=kind))
    rebuilt = tokenizer_from_dict(tokenizer.to_dict())
    score = midi_read(chorale_folder / "bwv269.mid")
    np.testing.assert_array_equal(tokenizer.encode(score), rebuilt.encode(score))
    assert (rebuilt.vocab_size, rebuilt.bos, rebuilt.eos) == (tokenizer.vocab_size, tokenizer.bos, tokenizer.eos)


def test_the_chorale_encoding_interleaves_four_voices_at_sixteenths(chorale_folder: Path) -> None:
    tokenizer = tokenizer_build(TokenizerConfig(kind="chorale"))
    score = midi_read(chorale_folder / "bwv269.mid")
    frames = tokenizer.encode(score).reshape(-1, 4) - 4
    sounding = frames[frames >= 0]
    assert len(frames) == round(score.end() / (score.ticks_per_quarter / 4))
    assert (frames[:, 0] >= frames[:, 3]).all()  # soprano above bass at every step
    assert sounding.min() >= 36 and sounding.max() <= 84


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[:200],  # truncated mid-track
        lambda data: b"",
        lambda data: b"RIFF" + data[4:],  # another format's header
        lambda data: data[:14],  # a header and nothing else
        lambda data: data[:22] + bytes([0xFF] * 40) + data[62:],  # garbage inside a track
    ],
    ids=["truncated", "empty", "wrong-header", "header-only", "garbage-in-track"],
)
def test_it_refuses_damaged_midi_with_a_reason(chorale_folder: Path, damage: object) -> None:
    data = (chorale_folder / "bwv269.mid").read_bytes()
    with pytest.raises(InvalidMidi, match=r"upload\.mid (is|has)"):
        midi_read(damage(data), name="upload.mid")  # type: ignore[operator]


def test_the_chorale_encoding_refuses_a_piece_without_four_voices(chorale_folder: Path) -> None:
    score = midi_read(chorale_folder / "bwv269.mid")
    score.tracks.pop()
    with pytest.raises(InvalidMidi, match="exactly four voices; this file has 3"):
        tokenizer_build(TokenizerConfig(kind="chorale")).encode(score)
