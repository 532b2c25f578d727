"""Tokenizers: miditok's REMI or TSD for any MIDI, and the four-voice chorale encoding.

Every tokenizer turns a symusic Score into one flat array of ids and back, and describes itself
as JSON so a checkpoint can rebuild it exactly. BOS and EOS are not part of `encode`'s output;
the data and the models add them (see `generation.data`).

The chorale encoding is the one the literature's chorale benchmarks use: at every 16th-note step,
the sounding pitch (or a rest) of soprano, alto, tenor and bass, interleaved S A T B. It cannot
tell a held note from a repeated one; `decode` joins equal successive pitches into one note.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import miditok
import numpy as np
from symusic.core import NoteTick, ScoreTick, TempoTick, TrackTick

from generation.midi import InvalidMidi


@dataclass(frozen=True)
class TokenizerConfig:
    kind: str = "remi"  # "remi" or "tsd" (miditok, any MIDI) or "chorale" (four voices, 16ths)
    num_velocities: int = 8  # miditok: dynamics matter less than pitch and time; 8 keeps the vocab small
    use_rests: bool = True  # miditok: without rests, silences collapse and timing drifts on decode
    steps_per_quarter: int = 4  # chorale: 16th-note grid, as in the benchmark
    program: int = 19  # chorale: General MIDI church organ when decoded and rendered
    tempo_qpm: float = 80.0  # chorale: the grid carries no tempo, so decoding sets one


class Tokenizer(Protocol):
    config: TokenizerConfig
    vocab_size: int
    pad: int
    bos: int
    eos: int

    def encode(self, score: ScoreTick) -> np.ndarray: ...
    def decode(self, ids: np.ndarray | list[int]) -> ScoreTick: ...
    def to_dict(self) -> dict[str, Any]: ...


class MiditokTokenizer:
    """REMI or TSD over all tracks in one stream (Program tokens name the instrument)."""

    def __init__(self, config: TokenizerConfig, params: dict[str, Any] | None = None) -> None:
        self.config = config
        classes = {"remi": miditok.REMI, "tsd": miditok.TSD}
        if config.kind not in classes:
            raise ValueError(f"unknown tokenizer kind {config.kind!r}; use remi, tsd or chorale")
        if params is None:
            settings = miditok.TokenizerConfig(
                num_velocities=config.num_velocities,
                use_rests=config.use_rests,
                use_programs=True,
                one_token_stream_for_programs=True,
                use_tempos=True,
                use_time_signatures=True,
            )
            self._tok = classes[config.kind](settings)
        else:
            self._tok = _miditok_from_params(classes[config.kind], params)
        self.vocab_size = int(self._tok.vocab_size)
        self.pad = int(self._tok.pad_token_id)
        self.bos = int(self._tok["BOS_None"])
        self.eos = int(self._tok["EOS_None"])

    def encode(self, score: ScoreTick) -> np.ndarray:
        return np.asarray(self._tok(score).ids, dtype=np.int32)

    def decode(self, ids: np.ndarray | list[int]) -> ScoreTick:
        specials = {self.pad, self.bos, self.eos}
        kept = [int(i) for i in ids if int(i) not in specials]
        return self._tok.decode(kept)

    def to_dict(self) -> dict[str, Any]:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "tokenizer.json"
            self._tok.save(path)
            params = json.loads(path.read_text())
        return {"config": asdict(self.config), "miditok": params}


def _miditok_from_params(cls: Any, params: dict[str, Any]) -> Any:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "tokenizer.json"
        path.write_text(json.dumps(params))
        return cls(params=path)


class ChoraleTokenizer:
    """Soprano, alto, tenor and bass pitch at every 16th step, interleaved."""

    VOICES = 4
    PAD, BOS, EOS, REST = 0, 1, 2, 3
    FIRST_PITCH = 4

    def __init__(self, config: TokenizerConfig) -> None:
        self.config = config
        self.vocab_size = self.FIRST_PITCH + 128
        self.pad, self.bos, self.eos = self.PAD, self.BOS, self.EOS

    def encode(self, score: ScoreTick) -> np.ndarray:
        voices = _four_voices(score)
        step = score.ticks_per_quarter / self.config.steps_per_quarter
        length = max(round(note.end / step) for voice in voices for note in voice.notes)
        grid = np.full((length, self.VOICES), self.REST, dtype=np.int32)
        for column, voice in enumerate(voices):
            for note in voice.notes:  # sorted by time: a later note overwrites an overlap
                start, end = round(note.time / step), round(note.end / step)
                grid[start:end, column] = self.FIRST_PITCH + note.pitch
        return grid.reshape(-1)

    def decode(self, ids: np.ndarray | list[int]) -> ScoreTick:
        values = np.asarray([i for i in ids if int(i) >= self.REST], dtype=np.int64)
        frames = values[: len(values) // self.VOICES * self.VOICES].reshape(-1, self.VOICES)
        tpq = 480
        step = tpq // self.config.steps_per_quarter
        score = ScoreTick(tpq)
        score.tempos.append(TempoTick(0, qpm=self.config.tempo_qpm))
        for column, name in enumerate(("Soprano", "Alto", "Tenor", "Bass")):
            track = TrackTick(name, self.config.program, False)
            for start, end, token in _runs(frames[:, column]):
                if token != self.REST:
                    track.notes.append(NoteTick(start * step, (end - start) * step, token - self.FIRST_PITCH, 80))
            score.tracks.append(track)
        return score

    def to_dict(self) -> dict[str, Any]:
        return {"config": asdict(self.config)}


def _four_voices(score: ScoreTick) -> list[TrackTick]:
    voices = [track for track in score.tracks if len(track.notes) > 0]
    if len(voices) != ChoraleTokenizer.VOICES:
        raise InvalidMidi(f"the chorale encoding needs exactly four voices; this file has {len(voices)}")
    # Highest first: soprano, alto, tenor, bass, whatever order the tracks were written in.
    return sorted(voices, key=lambda track: -float(np.mean([note.pitch for note in track.notes])))


def _runs(column: np.ndarray) -> list[tuple[int, int, int]]:
    """(start, end, value) of each run of equal values."""
    if len(column) == 0:
        return []
    edges = np.flatnonzero(np.diff(column)) + 1
    starts = np.concatenate([[0], edges])
    ends = np.concatenate([edges, [len(column)]])
    return [(int(s), int(e), int(column[s])) for s, e in zip(starts, ends, strict=True)]


def frame_period(tokenizer: Tokenizer) -> int:
    """Tokens per time step: the chorale encoding's four voices; one for the event encodings."""
    return ChoraleTokenizer.VOICES if isinstance(tokenizer, ChoraleTokenizer) else 1


def tokenizer_build(config: TokenizerConfig) -> Tokenizer:
    if config.kind == "chorale":
        return ChoraleTokenizer(config)
    return MiditokTokenizer(config)


def tokenizer_from_dict(data: dict[str, Any]) -> Tokenizer:
    config = TokenizerConfig(**data["config"])
    if config.kind == "chorale":
        return ChoraleTokenizer(config)
    return MiditokTokenizer(config, params=data["miditok"])
