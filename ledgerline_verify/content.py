"""The bytes handed in: their media type, and their SHA-256 (the content hash a work is minted under)."""

import hashlib

MEDIA = {"audio/wav": "WAV", "audio/flac": "FLAC", "audio/mpeg": "MP3", "audio/midi": "MIDI"}


def sniff(data: bytes) -> str | None:
    """The media type of the audio and MIDI files Ledgerline knows, from their first bytes."""
    if data[:4] == b"MThd":
        return "audio/midi"
    if data[:4] in (b"RIFF", b"RF64") and data[8:12] == b"WAVE":
        return "audio/wav"
    if data[:4] == b"fLaC":
        return "audio/flac"
    if data[:3] == b"ID3" or (len(data) > 1 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0):
        return "audio/mpeg"
    return None


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
