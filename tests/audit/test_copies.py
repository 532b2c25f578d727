"""A copy whose bytes changed (re-encoded, trimmed, resampled; a score transposed or re-timed)
no longer matches its hash, but is found by its fingerprint and reported as a match of that
kind, never as verified."""

import io
from typing import Any

import mido
import numpy as np
import pytest
import soundfile
import soxr
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.audit.conftest import Released
from tests.pipeline.conftest import ipfs_bytes


def _audio(wav: bytes) -> tuple[np.ndarray, int]:
    samples, rate = soundfile.read(io.BytesIO(wav), dtype="float32")
    return samples, rate


def _encode(samples: np.ndarray, rate: int, fmt: str) -> bytes:
    out = io.BytesIO()
    soundfile.write(out, samples, rate, format=fmt)
    return out.getvalue()


def transposed_and_retimed(midi: bytes, semitones: int, stretch: float) -> bytes:
    song = mido.MidiFile(file=io.BytesIO(midi))
    for track in song.tracks:
        for message in track:
            message.time = round(message.time * stretch)
            if message.type in ("note_on", "note_off"):
                message.note = min(127, message.note + semitones)
    out = io.BytesIO()
    song.save(file=out)
    return out.getvalue()


def _verify_file(released: Released, name: str, data: bytes) -> dict[str, Any]:
    return released.verify(file=SimpleUploadedFile(name, data))


@pytest.mark.django_db
def test_re_encoded_trimmed_and_resampled_copies_are_found_by_their_sound(released: Released) -> None:
    work, other = released.works
    samples, rate = _audio(ipfs_bytes(work["cid"], "work.wav"))
    third = len(samples) // 4
    copies = {
        "mp3": _encode(samples, rate, "MP3"),
        "flac": _encode(samples, rate, "FLAC"),
        "trimmed": _encode(samples[third:-third], rate, "WAV"),
        "48k": _encode(soxr.resample(samples, rate, 48000), 48000, "WAV"),
    }
    for name, data in copies.items():
        report = _verify_file(released, f"copy.{name}", data)
        assert report["verdict"] == "unknown", (name, report["summary"])
        match = report["match"]
        assert match["kind"] == "audio_fingerprint" and match["token_id"] == work["token"]["token_id"], name
        assert match["registered"]["verdict"] == "verified"
        assert "Not the registered bytes" in report["summary"] and "work" not in match  # no private ids
    trimmed = _verify_file(released, "copy.wav", copies["trimmed"])["match"]
    assert trimmed["offset_seconds"] == pytest.approx(third / rate, abs=0.1)
    assert other["token"]["token_id"] != work["token"]["token_id"]


@pytest.mark.django_db
def test_a_transposed_re_timed_score_is_found_by_its_notes(released: Released) -> None:
    work = released.works[1]
    copy = transposed_and_retimed(ipfs_bytes(work["cid"], "work.mid"), semitones=3, stretch=1.5)
    report = _verify_file(released, "copy.mid", copy)
    assert report["verdict"] == "unknown"
    assert report["match"]["kind"] == "note_content" and report["match"]["token_id"] == work["token"]["token_id"]
    assert "transposed or re-timed copy" in report["summary"]


@pytest.mark.django_db
def test_an_unrelated_sound_matches_nothing(released: Released) -> None:
    rate = 44100
    t = np.arange(rate * 6) / rate
    sweep = (0.3 * np.sin(2 * np.pi * (200 + 300 * t) * t)).astype(np.float32)
    report = _verify_file(released, "sweep.wav", _encode(sweep, rate, "WAV"))
    assert report["verdict"] == "unknown" and report["match"] is None
    assert "No token on the Ledgerline contract" in report["summary"]
    garbage = released.verify(file=SimpleUploadedFile("notes.txt", b"these are not music\n" * 10))
    assert garbage["verdict"] == "unknown" and garbage["match"] is None
