"""What a file is, and whether it parses: MIDI through symusic, audio through libsndfile.

The type comes from the bytes, never from the name. Checks are cheap for large audio
(header, structure, and a read at both ends) so registering gigabytes costs little more
than hashing them.
"""

import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import soundfile
import symusic

from ledgerline.errors import InvalidFile

MIDI, WAV, FLAC, MP3 = "audio/midi", "audio/wav", "audio/flac", "audio/mpeg"
# MIDI is parsed in memory. Real pieces are kilobytes (the largest in the Lakh set are
# about 1 MB); anything far beyond is not a piece of music.
MAX_MIDI_BYTES = 32 * 1024 * 1024
MEDIA_TYPES = (MIDI, WAV, FLAC, MP3)


@dataclass(frozen=True)
class MediaInfo:
    media_type: str
    duration_seconds: float
    details: dict[str, Any] = field(default_factory=dict)


def sniff(head: bytes) -> str | None:
    if head.startswith(b"MThd"):
        return MIDI
    if head[:4] in (b"RIFF", b"RF64") and head[8:12] == b"WAVE":
        return WAV
    if head.startswith(b"fLaC"):
        return FLAC
    if head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return MP3
    return None


def inspect(path: Path, name: str) -> MediaInfo:
    """Type, duration and details of a media file; InvalidFile naming ``name`` if it is not one."""
    with open(path, "rb") as f:
        head = f.read(12)
    media_type = sniff(head)
    if media_type is None:
        raise InvalidFile(f"{name}: not a MIDI, WAV, FLAC or MP3 file (its first bytes are not any of them).")
    if media_type == MIDI:
        return _inspect_midi(path, name)
    return _inspect_audio(path, name, media_type)


def _midi_structure_problem(data: bytes) -> str | None:
    """Check the chunk layout: a header of length 6, then as many complete chunks as it says."""
    if len(data) < 14:
        return "the header is incomplete"
    length, _format, ntracks, _division = struct.unpack(">IHHH", data[4:14])
    if length != 6:
        return f"the header chunk has length {length}, not 6"
    offset, tracks = 8 + length, 0
    while offset < len(data):
        if offset + 8 > len(data):
            return "the file ends inside a chunk header (truncated)"
        kind, size = data[offset:offset + 4], struct.unpack(">I", data[offset + 4:offset + 8])[0]
        if offset + 8 + size > len(data):
            return f"a {kind.decode('latin-1')!r} chunk claims {size} bytes but the file ends first (truncated)"
        tracks += kind == b"MTrk"
        offset += 8 + size
    if tracks < ntracks:
        return f"the header announces {ntracks} tracks but the file holds {tracks} (truncated)"
    return None


def _inspect_midi(path: Path, name: str) -> MediaInfo:
    if path.stat().st_size > MAX_MIDI_BYTES:
        raise InvalidFile(f"{name}: a MIDI file over {MAX_MIDI_BYTES // 2**20} MiB is not accepted.")
    data = path.read_bytes()
    problem = _midi_structure_problem(data)
    if problem:
        raise InvalidFile(f"{name}: not a valid MIDI file: {problem}.")
    try:
        score: Any = symusic.Score.from_midi(data)  # its stubs lack most of Score's methods
    except (RuntimeError, ValueError) as exc:
        raise InvalidFile(f"{name}: not a valid MIDI file: {exc}.") from None
    notes = score.note_num()
    if notes == 0:
        raise InvalidFile(f"{name}: the MIDI file parses but contains no notes.")
    return MediaInfo(
        MIDI,
        float(score.to("second").end()),
        {"tracks": len(score.tracks), "notes": notes, "ticks_per_quarter": score.ticks_per_quarter},
    )


def _wav_truncation(path: Path) -> str | None:
    with open(path, "rb") as f:
        head = f.read(8)
    if head[:4] != b"RIFF":
        return None  # RF64 keeps its sizes elsewhere; libsndfile checks it
    declared = struct.unpack("<I", head[4:8])[0] + 8
    actual = path.stat().st_size
    if declared > actual:
        return f"its header says {declared} bytes but the file has {actual} (truncated)"
    return None


def _inspect_audio(path: Path, name: str, media_type: str) -> MediaInfo:
    kind = media_type.split("/")[1].upper()
    if media_type == WAV and (problem := _wav_truncation(path)):
        raise InvalidFile(f"{name}: not a valid WAV file: {problem}.")
    try:
        with soundfile.SoundFile(str(path)) as sf:
            frames, rate, channels = sf.frames, sf.samplerate, sf.channels
            if frames <= 0 or rate <= 0:
                raise InvalidFile(f"{name}: the {kind} file holds no audio.")
            # Decode a block at each end: a body cut short or corrupt fails here.
            sf.read(min(frames, 4096), dtype="float32")
            if frames > 4096:
                sf.seek(frames - 4096)
                tail = sf.read(4096, dtype="float32")
                if len(tail) < 4096:
                    raise InvalidFile(f"{name}: the {kind} file ends before its last frame (truncated).")
            subtype = sf.subtype
    except soundfile.LibsndfileError as exc:
        raise InvalidFile(f"{name}: not a valid {kind} file: {exc.error_string}.") from None
    except (RuntimeError, ValueError) as exc:
        raise InvalidFile(f"{name}: not a valid {kind} file: {exc}.") from None
    return MediaInfo(
        media_type,
        frames / rate,
        {"sample_rate": rate, "channels": channels, "frames": frames, "subtype": subtype},
    )
