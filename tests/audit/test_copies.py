"""A copy whose bytes changed (re-encoded, trimmed, resampled; a score transposed or re-timed)
no longer matches its hash, but is found by the watermark in its sound (which names its token
from the chain alone) or, failing that, by its fingerprint, and reported as a match of that
kind, never as verified."""

import io
from typing import Any

import mido
import numpy as np
import pytest
import soundfile
import soxr
from django.core.files.uploadedfile import SimpleUploadedFile

from ledgerline_verify import watermark
from ledgerline_verify.credentials import NoCredentials, credentials_read
from ledgerline_verify.verdict import Subject
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


def stripped_mp3_trimmed(wav: bytes, cut_seconds: float) -> bytes:
    """The released WAV's sound alone (its C2PA credentials gone with its bytes), as an MP3 with
    its first ``cut_seconds`` cut off."""
    samples, rate = _audio(wav)
    return _encode(samples[int(cut_seconds * rate) :], rate, "MP3")


@pytest.mark.django_db
def test_a_stripped_mp3_excerpt_names_its_token_through_its_watermark(released: Released, verifier: Any) -> None:
    work = released.works[0]
    token = work["token"]["token_id"]
    wav = ipfs_bytes(work["cid"], "work.wav")
    mp3 = stripped_mp3_trimmed(wav, 1.3)
    with pytest.raises(NoCredentials):
        credentials_read(mp3, "audio/mpeg")
    report = _verify_file(released, "copy.mp3", mp3)
    assert report["verdict"] == "unknown"  # its bytes were not minted
    match = report["match"]
    assert (match["kind"], match["token_id"]) == ("watermark", token), report["summary"]
    assert match["payload"] == work["manifest"]["manifest"]["watermark"]["payload"]
    assert 0 < match["bits_recovered"] <= match["code_bits"] and match["errors_corrected"] < match["bits_recovered"]
    assert match["false_alarm"] < 1e-6 and match["confidence"] == pytest.approx(1 - match["false_alarm"])
    assert match["registered"]["verdict"] == "verified" and "work" not in match  # no private ids
    assert f"a copy of token {token}: its sound carries that token's watermark" in report["summary"]
    # The independent verifier's own engine (no database) names the same token.
    found = verifier.verify(Subject(data=mp3, name="copy.mp3"))
    assert (found.verdict, found.match["kind"], found.match["token_id"]) == ("unknown", "watermark", token)
    # The released file itself: its credentials bind the watermark, which the chain announced for it.
    credentials = next(c for c in verifier.verify(Subject(data=wav)).checks if c.link == "credentials")
    assert credentials.status == "pass" and credentials.details["watermark"] == match["payload"]


@pytest.mark.django_db
def test_re_encoded_trimmed_and_resampled_copies_are_found_by_their_sound(
    released: Released, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where the watermark did not survive (or a work was signed before watermarks), the
    fingerprint index still finds the copy."""
    monkeypatch.setattr(watermark, "detect", lambda *args, **kwargs: None)
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
