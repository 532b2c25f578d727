"""An upload must be exactly what its container says: every chunk accounted for, sizes that agree
with the file, nothing after the last chunk or frame. Each refused file is a real one made by the
fixtures and then tampered with, as someone hiding a zip in it would."""

import io
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile
from django.core.files.uploadedfile import SimpleUploadedFile

from ledgerline.datasets import samples
from ledgerline.datasets.models import Blob, DatasetFile
from ledgerline.provenance.models import AuditEntry
from tests.conftest import dataset_create


def a_zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("payload.txt", "not music " * 50)
    return out.getvalue()


ZIP = a_zip()


def riff_resized(wav: bytes) -> bytes:
    """The WAV with its RIFF size made to agree with its length again."""
    return wav[:4] + struct.pack("<I", len(wav) - 8) + wav[8:]


def chunk(kind: bytes, body: bytes, *, big_endian: bool = False) -> bytes:
    size = struct.pack(">I" if big_endian else "<I", len(body))
    return kind + size + body + (b"\x00" if len(body) % 2 and not big_endian else b"")


def short_wav(media: Path) -> bytes:
    """An 18,044-byte WAV: the first 18,000 bytes of tone.wav's samples under their own header."""
    return samples.pcm16_wav_header(18000) + (media / "tone.wav").read_bytes()[44 : 44 + 18000]


def midi_tracks(midi: bytes) -> int:
    return int(struct.unpack(">H", midi[10:12])[0])


def without_last_end_of_track(midi: bytes) -> bytes:
    at = midi.rfind(b"MTrk")
    size = struct.unpack(">I", midi[at + 4 : at + 8])[0]
    assert midi.endswith(b"\xff\x2f\x00")
    return midi[: at + 4] + struct.pack(">I", size - 4) + midi[at + 8 : -4]


Tamper = Callable[[Path], bytes]
REFUSED: list[tuple[str, Tamper, str]] = [
    (
        "take.wav",
        lambda m: (m / "tone.wav").read_bytes()[:4] + struct.pack("<I", 100) + (m / "tone.wav").read_bytes()[8:] + ZIP,
        f"the RIFF header says the file is 108 bytes but it holds {529244 + len(ZIP):,}: "
        f"{529244 + len(ZIP) - 108:,} bytes follow the end of the RIFF chunk",
    ),
    (
        "take.wav",
        lambda m: (m / "tone.wav").read_bytes() + ZIP,
        f"the RIFF header says the file is 529,244 bytes but it holds {529244 + len(ZIP):,}: "
        f"{len(ZIP):,} bytes follow the end of the RIFF chunk",
    ),
    (
        "take.wav",
        lambda m: short_wav(m)[:40] + struct.pack("<I", 0x7FFFFFF0) + short_wav(m)[44:],
        "the 'data' chunk at byte 36 claims 2,147,483,632 bytes but only 18,000 follow it",
    ),
    (
        "take.wav",
        lambda m: riff_resized((m / "tone.wav").read_bytes() + chunk(b"ZIPC", ZIP)),
        "an unknown chunk 'ZIPC' at byte 529,244",
    ),
    (
        "take.wav",
        lambda m: riff_resized(
            (m / "tone.wav").read_bytes()[:40] + struct.pack("<I", 529199) + (m / "tone.wav").read_bytes()[44:-1]
        ),
        "the 'data' chunk holds 529,199 bytes, not a whole number of 4-byte frames",
    ),
    (
        "take.wav",
        lambda m: (
            (m / "tone.wav").read_bytes()[:12]
            + (m / "tone.wav").read_bytes()[36:]
            + (m / "tone.wav").read_bytes()[12:36]
        ),
        "the 'data' chunk at byte 12 comes before any 'fmt ' chunk",
    ),
    (
        "take.mid",
        lambda m: (
            (m / "melody.mid").read_bytes()[:14]
            + chunk(b"ZIPC", ZIP, big_endian=True)
            + (m / "melody.mid").read_bytes()[14:]
        ),
        "an unknown chunk 'ZIPC' at byte 14: a MIDI file holds only an MThd chunk and then MTrk chunks",
    ),
    ("take.mid", lambda m: (m / "melody.mid").read_bytes() + ZIP, "an unknown chunk 'PK\\x03\\x04' at byte"),
    ("take.mid", lambda m: (m / "melody.mid").read_bytes() + b"\x00" * 5, "5 bytes follow the last chunk"),
    (
        "take.mid",
        lambda m: (m / "melody.mid").read_bytes()[:10] + struct.pack(">H", 1) + (m / "melody.mid").read_bytes()[12:],
        "the header announces 1 track but the file holds 2",
    ),
    ("take.mid", lambda m: without_last_end_of_track((m / "melody.mid").read_bytes()), "track 2 (at byte"),
    (
        "take.flac",
        lambda m: (m / "tone.flac").read_bytes() + ZIP,
        "the file does not end where its last audio frame does",
    ),
    ("take.mp3", lambda m: (m / "tone.mp3").read_bytes() + ZIP, f"{len(ZIP):,} bytes at byte"),
]


def upload_bytes(team: Any, name: str, data: bytes, dataset_id: str | None = None) -> Any:
    dataset_id = dataset_id or dataset_create(team)
    return team.owner.client.post(
        f"/api/v1/datasets/{dataset_id}/files/", {"file": SimpleUploadedFile(name, data)}, format="multipart"
    )


@pytest.mark.parametrize(("name", "tamper", "message"), REFUSED, ids=[f"{n}:{m[:40]}" for n, _, m in REFUSED])
def test_a_file_that_is_not_what_its_container_says_is_refused_and_nothing_is_kept(
    team: Any, media_dir: Path, settings: Any, name: str, tamper: Tamper, message: str
) -> None:
    dataset_id = dataset_create(team)
    before_entries = AuditEntry.objects.count()
    response = upload_bytes(team, name, tamper(media_dir), dataset_id)
    assert response.status_code == 400, response.json()
    error = response.json()["error"]
    assert error["code"] == "invalid_file"
    assert error["message"].startswith(f"Nothing was added. {name}: not a valid "), error["message"]
    assert message in error["message"], error["message"]
    assert list(error["fields"]) == [name]
    assert DatasetFile.objects.count() == 0 and Blob.objects.count() == 0
    root = Path(settings.LEDGERLINE_BLOB_DIR)
    assert not root.exists() or not any(p.is_file() for p in root.rglob("*"))
    assert AuditEntry.objects.count() == before_entries


def with_list_chunk(media: Path) -> bytes:
    """tone.wav with a LIST/INFO chunk of odd size (17 bytes, then its pad byte) after the samples."""
    info = chunk(b"LIST", b"INFO" + b"INAM" + struct.pack("<I", 5) + b"Tone\x00")
    assert len(info) == 8 + 17 + 1
    return riff_resized((media / "tone.wav").read_bytes() + info)


def written(fmt: str, subtype: str, channels: int, frames: int) -> Callable[[Path], bytes]:
    """Audio as libsndfile writes it: the chunks real tools put in a WAV."""

    def make(_media: Path) -> bytes:
        out = io.BytesIO()
        t = np.arange(frames) / 44100
        tone = np.repeat((0.3 * np.sin(2 * np.pi * 440 * t))[:, None], channels, axis=1)
        soundfile.write(out, tone, 44100, format=fmt, subtype=subtype)
        return out.getvalue()

    return make


def id3v2_tag(title: bytes) -> bytes:
    frame = b"TIT2" + struct.pack(">IH", len(title) + 1, 0) + b"\x00" + title
    size = len(frame) + 64  # and 64 bytes of padding, as taggers leave room to grow
    syncsafe = bytes((size >> shift) & 0x7F for shift in (21, 14, 7, 0))
    return b"ID3\x03\x00\x00" + syncsafe + frame + bytes(64)


ACCEPTED: list[tuple[str, Tamper]] = [
    ("list.wav", with_list_chunk),
    ("float.wav", written("WAV", "FLOAT", 2, 44100)),  # carries fact and PEAK chunks
    ("odd.wav", written("WAV", "PCM_U8", 1, 44101)),  # an odd-sized data chunk and its pad byte
    ("surround.wav", written("WAVEX", "PCM_24", 6, 44100)),
    ("long.wav", written("RF64", "PCM_16", 2, 44100)),
    ("id3v2.mp3", lambda m: id3v2_tag(b"Tone") + (m / "tone.mp3").read_bytes()),
    ("tagged.mp3", lambda m: (m / "tone.mp3").read_bytes() + b"TAG" + b"Tone".ljust(125, b"\x00")),
    ("tagged.flac", lambda m: (m / "tone.flac").read_bytes() + b"TAG" + b"Tone".ljust(125, b"\x00")),
]


@pytest.mark.parametrize(("name", "make"), ACCEPTED, ids=[n for n, _ in ACCEPTED])
def test_files_with_the_chunks_and_tags_real_tools_write_are_accepted(
    team: Any, media_dir: Path, name: str, make: Tamper
) -> None:
    response = upload_bytes(team, name, make(media_dir))
    assert response.status_code == 201, response.json()


# C2PA credentials for the tone, as a work's say what made it (also signed in tests/works/test_timestamp.py).
TONE_CREDENTIALS = {
    "claim_generator_info": [{"name": "ledgerline-tests", "version": "1"}],
    "title": "tone",
    "format": "audio/wav",
    "assertions": [
        {
            "label": "c2pa.actions.v2",
            "data": {
                "actions": [
                    {
                        "action": "c2pa.created",
                        "digitalSourceType": "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia",
                    }
                ]
            },
        }
    ],
}


def test_a_wav_ledgerline_signed_with_c2pa_credentials_is_accepted(team: Any, media_dir: Path) -> None:
    from ledgerline.provenance.services import signing_key_active
    from ledgerline.works.credentials import wav_sign

    signed = wav_sign(
        (media_dir / "tone.wav").read_bytes(),
        definition=TONE_CREDENTIALS,
        signing_key=signing_key_active(organisation=team.organisation),
    )
    assert b"C2PA" in signed[529244:529248]
    response = upload_bytes(team, "signed.wav", signed)
    assert response.status_code == 201, response.json()


def test_an_rf64_file_with_bytes_after_its_chunks_is_refused(team: Any, media_dir: Path) -> None:
    rf64 = written("RF64", "PCM_16", 2, 44100)(media_dir)
    response = upload_bytes(team, "long.wav", rf64 + ZIP)
    assert response.status_code == 400
    assert f"{len(ZIP):,} bytes follow the end of the RIFF chunk" in response.json()["error"]["message"]
