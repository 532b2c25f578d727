"""What a file is, and whether it parses: MIDI through symusic, audio through libsndfile.

The type comes from the bytes, never from the name. A file must also be exactly what its
container says: every chunk registered and inside the sizes its headers give, nothing after the
last chunk or frame (a zip appended to a WAV still plays, so the libraries alone accept it).
Checks are cheap for large audio (chunk headers walked by seeks, and a read at both ends) so
registering gigabytes costs little more than hashing them.
"""

import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

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


def _label(kind: bytes) -> str:
    return repr(kind.decode("latin-1"))


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


def _midi_structure_problem(data: bytes) -> str | None:
    """An MThd chunk of length 6, then exactly the MTrk chunks it announces, each closed by End
    of Track, and nothing after them. Readers skip unknown chunks and trailing bytes, so those
    are where other files hide; symusic also reads a track that lacks its End of Track."""
    if len(data) < 14:
        return "the header is incomplete"
    length, _format, ntracks, _division = struct.unpack(">IHHH", data[4:14])
    if length != 6:
        return f"the header chunk has length {length}, not 6"
    offset, tracks = 8 + length, 0
    while offset < len(data):
        if offset + 8 > len(data):
            if tracks < ntracks:
                return "the file ends inside a chunk header (truncated)"
            return f"{len(data) - offset:,} bytes follow the last chunk, at byte {offset:,}"
        kind, size = data[offset : offset + 4], struct.unpack(">I", data[offset + 4 : offset + 8])[0]
        if kind != b"MTrk":
            return (
                f"an unknown chunk {_label(kind)} at byte {offset:,}: a MIDI file holds only an MThd chunk "
                "and then MTrk chunks"
            )
        end = offset + 8 + size
        if end > len(data):
            return f"the MTrk chunk at byte {offset:,} claims {size:,} bytes but the file ends first (truncated)"
        tracks += 1
        if not data[offset + 8 : end].endswith(b"\xff\x2f\x00"):
            return f"track {tracks} (at byte {offset:,}) does not end with an End of Track event"
        offset = end
    if tracks != ntracks:
        cut = " (truncated)" if tracks < ntracks else ""
        return f"the header announces {_count(ntracks, 'track')} but the file holds {tracks:,}{cut}"
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


# --- audio containers: every byte accounted for, read by seeks so large files cost little ---

# Top-level chunks a WAVE file may carry: those of the RIFF and Broadcast Wave specifications and
# of the tools that write WAVs (DAWs, taggers, C2PA). Readers skip a chunk they do not know, so an
# unknown one can carry anything, a zip included; it is refused, by name.
WAV_CHUNKS = frozenset(
    {
        b"fmt ",
        b"data",
        b"fact",  # the format, the samples, the sample count of compressed ones
        b"LIST",
        b"cue ",
        b"plst",
        b"smpl",
        b"inst",
        b"acid",
        b"DISP",  # tags, markers, loops, instrument
        b"bext",
        b"iXML",
        b"axml",
        b"cart",
        b"levl",
        b"mext",
        b"chna",
        b"dbmd",
        b"umid",  # EBU, AES, ADM
        b"PEAK",
        b"id3 ",
        b"ID3 ",
        b"_PMX",  # peak envelope (libsndfile writes it for floats), ID3, XMP
        b"JUNK",
        b"junk",
        b"PAD ",
        b"FLLR",  # padding, to align the samples
        b"minf",
        b"elm1",
        b"regn",  # Pro Tools
        b"C2PA",  # content credentials, as c2pa (and so Ledgerline's signed works) embeds them
    }
)
_WAV_CHUNK_NAMES = ", ".join(sorted(repr(kind.decode()) for kind in WAV_CHUNKS))
MAX_CHUNKS = 1000  # chunks or metadata blocks: real files carry a dozen; a million would only cost time
# Formats whose data is a whole number of frames of nBlockAlign bytes: PCM, IEEE float, A-law, µ-law.
_WHOLE_FRAMES = {1, 3, 6, 7}
_EXTENSIBLE = 0xFFFE


def _u32(data: bytes) -> int:
    return int.from_bytes(data[:4], "little")


def _wav_sizes(f: BinaryIO, head: bytes) -> tuple[int, int | None, int] | str:
    """(RIFF size, RF64 data size or None, offset of the first chunk to walk). RF64 keeps its sizes
    in a ds64 chunk, first, where the 32-bit fields say 0xFFFFFFFF."""
    if head[:4] == b"RIFF":
        return _u32(head[4:8]), None, 12
    ds64 = f.read(24)
    if len(ds64) < 24 or ds64[:4] != b"ds64" or _u32(ds64[4:8]) < 16:
        return "an RF64 file must begin with a ds64 chunk"
    size = _u32(ds64[4:8])
    return int.from_bytes(ds64[8:16], "little"), int.from_bytes(ds64[16:24], "little"), 20 + size + (size & 1)


def _wav_format(fmt: bytes) -> tuple[int, int]:
    """(format tag, nBlockAlign); for WAVE_FORMAT_EXTENSIBLE, the tag of its sub-format."""
    tag, block_align = int.from_bytes(fmt[0:2], "little"), int.from_bytes(fmt[12:14], "little")
    if tag == _EXTENSIBLE and len(fmt) >= 26:
        tag = int.from_bytes(fmt[24:26], "little")
    return tag, block_align


def _wav_problem(f: BinaryIO, size: int) -> str | None:
    """The RIFF size is the file's; each chunk registered and inside it; one 'fmt ' then one 'data'
    of whole frames; nothing after the last chunk."""
    sizes = _wav_sizes(f, f.read(12))
    if isinstance(sizes, str):
        return sizes
    riff_size, rf64_data_size, offset = sizes
    riff_end = 8 + riff_size
    if riff_end > size:
        return f"the RIFF header says the file is {riff_end:,} bytes but it holds {size:,} (truncated)"
    if size > riff_end + (riff_size & 1):  # a RIFF chunk of odd size is followed by its pad byte
        return (
            f"the RIFF header says the file is {riff_end:,} bytes but it holds {size:,}: "
            f"{size - riff_end:,} bytes follow the end of the RIFF chunk"
        )
    fmt: tuple[int, int] | None = None
    data = False
    for _ in range(MAX_CHUNKS):
        if offset >= riff_end:  # past it by one when the last chunk's pad byte is missing: harmless
            break
        if offset + 8 > riff_end:
            return f"{riff_end - offset} bytes at byte {offset:,} are too few for a chunk"
        f.seek(offset)
        header = f.read(8)
        kind, chunk_size = header[:4], _u32(header[4:])
        if kind == b"data" and rf64_data_size is not None and chunk_size == 0xFFFFFFFF:
            chunk_size = rf64_data_size
        if kind not in WAV_CHUNKS:
            return (
                f"an unknown chunk {_label(kind)} at byte {offset:,} (a WAV file may carry only "
                f"these chunks: {_WAV_CHUNK_NAMES})"
            )
        if offset + 8 + chunk_size > riff_end:
            return (
                f"the {_label(kind)} chunk at byte {offset:,} claims {chunk_size:,} bytes but only "
                f"{riff_end - offset - 8:,} follow it"
            )
        if kind == b"fmt ":
            if fmt is not None or data:
                return f"a second 'fmt ' chunk, or one after the 'data' chunk, at byte {offset:,}"
            if chunk_size < 16:
                return f"the 'fmt ' chunk at byte {offset:,} is {chunk_size} bytes, too short for a format"
            fmt = _wav_format(f.read(min(chunk_size, 40)))
        elif kind == b"data":
            if fmt is None:
                return f"the 'data' chunk at byte {offset:,} comes before any 'fmt ' chunk"
            if data:
                return f"a second 'data' chunk at byte {offset:,}"
            data = True
            tag, block_align = fmt
            if tag in _WHOLE_FRAMES and block_align and chunk_size % block_align:
                return f"the 'data' chunk holds {chunk_size:,} bytes, not a whole number of {block_align}-byte frames"
        offset += 8 + chunk_size + (chunk_size & 1)
    else:
        return f"more than {MAX_CHUNKS:,} chunks"
    if fmt is None or not data:
        return "it has no 'fmt ' chunk" if fmt is None else "it has no 'data' chunk"
    return None


def _crc_table(poly: int, bits: int) -> list[int]:
    top, mask, table = 1 << (bits - 1), (1 << bits) - 1, []
    for byte in range(256):
        crc = byte << (bits - 8)
        for _ in range(8):
            crc = ((crc << 1) ^ poly if crc & top else crc << 1) & mask
        table.append(crc)
    return table


_CRC8, _CRC16 = _crc_table(0x07, 8), _crc_table(0x8005, 16)  # FLAC's frame header and frame CRCs


def _crc8(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc = _CRC8[crc ^ byte]
    return crc


def _crc16(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc = ((crc << 8) & 0xFFFF) ^ _CRC16[(crc >> 8) ^ byte]
    return crc


def _coded_number(data: bytes, at: int) -> tuple[int, int]:
    """FLAC's UTF-8-like frame or sample number: (value, length in bytes)."""
    first = data[at]
    length = 8 - (first ^ 0xFF).bit_length()  # the count of leading one bits
    if length == 0:
        return first, 1
    if length == 1 or length > 7:
        raise ValueError("not a coded number")
    value = first & (0x7F >> length)
    for byte in data[at + 1 : at + length]:
        if byte & 0xC0 != 0x80:
            raise ValueError("not a coded number")
        value = value << 6 | byte & 0x3F
    return value, length


def _flac_frame_span(data: bytes, at: int, max_block: int) -> tuple[int, int]:
    """(first sample, block size) of the frame whose header starts at ``at``; ValueError or
    IndexError if no valid header (by its CRC-8) starts there."""
    block_code, rate_code = data[at + 2] >> 4, data[at + 2] & 0x0F
    if block_code == 0 or rate_code == 15 or data[at + 3] >> 4 > 10 or data[at + 3] & 1:
        raise ValueError("reserved values")
    number, length = _coded_number(data, at + 4)
    end = at + 4 + length
    if block_code in (6, 7):
        block = int.from_bytes(data[end : end + block_code - 5], "big") + 1
        end += block_code - 5
    else:
        block = 192 if block_code == 1 else 576 << (block_code - 2) if block_code < 6 else 256 << (block_code - 8)
    end += {12: 1, 13: 2, 14: 2}.get(rate_code, 0)
    if _crc8(data[at:end]) != data[end]:
        raise ValueError("header CRC")
    first = number if data[at + 1] & 1 else number * max_block  # variable or fixed block size
    return first, block


FLAC_LARGEST_FRAME = 65535 * 8 * 4 + 32  # 65,535 samples of 8 channels of 32 bits, verbatim, and a header


def _flac_ends_with_its_last_frame(tail: bytes, max_block: int, total: int) -> bool:
    """Whether ``tail`` ends exactly where the stream's last frame does: a frame header whose
    samples end the stream (when STREAMINFO knows their number) and whose CRC-16, over the
    bytes from it to the end, is the file's last two bytes."""
    at = len(tail)
    while (at := tail.rfind(b"\xff", 0, at)) >= 0:
        if len(tail) - at < 8 or tail[at + 1] not in (0xF8, 0xF9):
            continue
        try:
            first, block = _flac_frame_span(tail, at, max_block)
        except (ValueError, IndexError):
            continue
        if (total == 0 or first + block == total) and _crc16(tail[at:-2]) == int.from_bytes(tail[-2:], "big"):
            return True
    return False


def _flac_problem(f: BinaryIO, size: int) -> str | None:
    """Metadata blocks inside the file, then frames up to its end (or to an ID3v1 tag, which
    taggers append to FLAC files too). libFLAC skips bytes after the last frame as lost sync."""
    offset, streaminfo = 4, b""
    for _ in range(MAX_CHUNKS):
        f.seek(offset)
        header = f.read(4)
        if len(header) < 4:
            return "the file ends inside its metadata (truncated)"
        if header[0] & 0x7F == 0:
            streaminfo = f.read(34)
        offset += 4 + int.from_bytes(header[1:4], "big")
        if header[0] & 0x80:
            break
    else:
        return f"more than {MAX_CHUNKS:,} metadata blocks"
    if len(streaminfo) < 34:
        return "it has no STREAMINFO block"
    if offset >= size:
        return "the metadata blocks run to the end of the file: no audio follows (truncated)"
    max_block, max_frame = int.from_bytes(streaminfo[2:4], "big"), int.from_bytes(streaminfo[7:10], "big")
    total = int.from_bytes(streaminfo[13:18], "big") & (1 << 36) - 1
    end = size
    if size - 128 >= offset:
        f.seek(size - 128)
        end -= 128 if f.read(3) == b"TAG" else 0
    start = max(offset, end - (max_frame or FLAC_LARGEST_FRAME))
    f.seek(start)
    if not _flac_ends_with_its_last_frame(f.read(end - start), max_block, total):
        return "the file does not end where its last audio frame does: other bytes follow the audio, or it is cut short"
    return None


_MP3_BITRATES = {  # kbit/s by (MPEG-1, layer), index 1 to 14; 0 is free format, 15 is invalid
    (True, 1): (32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448),
    (True, 2): (32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),
    (True, 3): (32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    (False, 1): (32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256),
    (False, 2): (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
    (False, 3): (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_MP3_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}  # MPEG 1, 2, 2.5


def _mp3_frame_length(header: bytes) -> int | None:
    if len(header) < 4 or header[0] != 0xFF or header[1] & 0xE0 != 0xE0:
        return None
    version, layer = (header[1] >> 3) & 3, 4 - ((header[1] >> 1) & 3)
    bitrate_index, rate_index, padding = header[2] >> 4, (header[2] >> 2) & 3, (header[2] >> 1) & 1
    if version == 1 or layer == 4 or bitrate_index in (0, 15) or rate_index == 3:
        return None
    bitrate = _MP3_BITRATES[(version == 3, layer)][bitrate_index - 1] * 1000
    rate = _MP3_RATES[version][rate_index]
    if layer == 1:
        return (12 * bitrate // rate + padding) * 4
    return (72 if layer == 3 and version != 3 else 144) * bitrate // rate + padding


def _mp3_audio_span(f: BinaryIO, size: int) -> tuple[int, int] | str:
    """Where the frames lie: after the ID3v2 tags (and zero padding) at the start, before the
    APEv2, Lyrics3v2 and ID3v1 tags taggers put at the end."""
    start = 0
    while True:
        f.seek(start)
        tag = f.read(10)
        if tag[:3] != b"ID3" or len(tag) < 10:
            break
        length = sum((byte & 0x7F) << (7 * (3 - i)) for i, byte in enumerate(tag[6:10]))
        start += 10 + length + (10 if tag[5] & 0x10 else 0)  # the footer, when its flag says so
    if start > size:
        return "its ID3 tag runs past the end of the file (truncated)"
    f.seek(start)
    while (block := f.read(65536)) and not block.strip(b"\x00"):
        start += len(block)
    start += len(block) - len(block.lstrip(b"\x00"))
    end = size
    if end - 128 >= start and _read_at(f, end - 128, 3) == b"TAG":
        end -= 128
    if end - 15 >= start and _read_at(f, end - 9, 9) == b"LYRICS200":
        digits = _read_at(f, end - 15, 6)
        end -= int(digits) + 15 if digits.isdigit() and int(digits) + 15 <= end - start else 0
    if end - 32 >= start and _read_at(f, end - 32, 8) == b"APETAGEX":
        footer = _read_at(f, end - 32, 32)
        ape = _u32(footer[12:16]) + (32 if _u32(footer[20:24]) & 0x80000000 else 0)
        end -= ape if ape <= end - start else 0
    return start, end


def _read_at(f: BinaryIO, offset: int, n: int) -> bytes:
    f.seek(offset)
    return f.read(n)


def _mp3_problem(f: BinaryIO, size: int) -> str | None:
    """MPEG audio frames, one after another, from the first to the last byte of the audio."""
    span = _mp3_audio_span(f, size)
    if isinstance(span, str):
        return span
    offset, end = span
    first = offset
    while offset < end:
        f.seek(offset)
        header = f.read(4)
        length = _mp3_frame_length(header)
        if length is None:
            if offset == first and len(header) == 4 and header[0] == 0xFF and header[2] >> 4 == 0:
                return "free-format MPEG audio (frames that state no bitrate) is not accepted"
            break
        if offset + length > end:
            return f"the file ends inside the MPEG audio frame at byte {offset:,} (truncated)"
        offset += length
    if offset == first:
        return f"no MPEG audio frame begins where the audio should, at byte {offset:,}"
    if offset < end:
        return f"{end - offset:,} bytes at byte {offset:,}, after the last MPEG audio frame, are not audio"
    return None


_CONTAINER_PROBLEM = {WAV: _wav_problem, FLAC: _flac_problem, MP3: _mp3_problem}


def _container_problem(path: Path, media_type: str) -> str | None:
    # A large buffer: seeks within it (MP3's frame walk) cost no system call.
    with open(path, "rb", buffering=1024 * 1024) as f:
        return _CONTAINER_PROBLEM[media_type](f, path.stat().st_size)


def _inspect_audio(path: Path, name: str, media_type: str) -> MediaInfo:
    kind = media_type.split("/")[1].upper()
    if problem := _container_problem(path, media_type):
        raise InvalidFile(f"{name}: not a valid {kind} file: {problem}.")
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
