"""Reading and writing MIDI, with errors a person can act on.

symusic parses; everything in generation/ reads MIDI through `midi_read` so a truncated or
foreign file is refused the same way everywhere (an `InvalidMidi` naming the file and the fault).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from symusic.core import ScoreTick


class InvalidMidi(ValueError):
    """The bytes are not a usable MIDI file."""


def midi_read(source: bytes | Path, *, name: str | None = None) -> ScoreTick:
    data = source.read_bytes() if isinstance(source, Path) else source
    label = name or (source.name if isinstance(source, Path) else "this file")
    if not data.startswith(b"MThd"):
        raise InvalidMidi(f"{label} is not a MIDI file (it does not start with the MThd header)")
    try:
        score = ScoreTick.from_midi(data)
    except RuntimeError as error:
        # symusic words its faults for programmers ("MiniMidi: ... iostream error").
        reason = str(error).removeprefix("MiniMidi: ").removesuffix(": iostream error")
        raise InvalidMidi(f"{label} is damaged or truncated: {reason}") from error
    if score.note_num() == 0:
        raise InvalidMidi(f"{label} has no notes")
    return score


def midi_bytes(score: ScoreTick) -> bytes:
    return bytes(score.dumps_midi())


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
