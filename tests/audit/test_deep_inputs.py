"""Deeply nested structures inside files handed to the site: refused or read, never a crash.

py-evm and py_ecc raise Python's recursion limit to 100,000 on import, so a parser that recurses
in C (or Rust) once per level can run the stack out before anything stops it, and the process
dies with no answer. The public `/verify` reads the C2PA credentials of any WAV, FLAC or MP3 it
is given (c2pa-python over c2pa-rs, then Python's json on the store c2pa-rs writes out); MIDI nests
nothing, but a score is read event by event, so it is checked for what that costs. The
dangerous reads run in a subprocess, with the limit raised by importing eth first, so a crash
fails the test instead of killing pytest.
"""

import io
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from rest_framework.test import APIClient

from ledgerline_verify import fingerprint
from ledgerline_verify.credentials import NoCredentials, credentials_read
from tests.audit import c2pa_files

ROOT = Path(__file__).resolve().parents[2]
DEEP = 100_000


@pytest.fixture(scope="module")
def signed() -> bytes:
    return c2pa_files.signed_wav()


def _read_in_subprocess(path: Path) -> subprocess.CompletedProcess[str]:
    script = (
        "import sys, eth, py_ecc\n"  # as the site imports them: the limit goes to 100,000
        "assert sys.getrecursionlimit() >= 100_000\n"
        "from ledgerline_verify.credentials import NoCredentials, credentials_read\n"
        "try:\n"
        "    print(credentials_read(open(sys.argv[1], 'rb').read(), 'audio/wav')['state'])\n"
        "except NoCredentials as exc:\n"
        "    print('NoCredentials', exc)\n"
    )
    return subprocess.run(
        [sys.executable, "-c", script, str(path)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def test_an_honest_signed_wav_is_read(signed: bytes) -> None:
    credentials = credentials_read(signed, "audio/wav")
    assert credentials["state"] == "Valid"
    assert credentials["manifest"]["claim_generator_info"][0]["name"] == "probe"


@pytest.mark.parametrize(
    "box_type, content",
    [
        (b"cbor", b"\x81" * 200 + b"\x00"),
        (b"json", b"[" * 200 + b"]" * 200),
    ],
    ids=["cbor", "json"],
)
def test_credentials_with_an_assertion_too_deep_to_decode_are_unreadable(
    signed: bytes, box_type: bytes, content: bytes
) -> None:
    # c2pa-rs stops decoding at 128 levels and leaves the active manifest out of the store it
    # writes: that is credentials we cannot read, not an error of ours.
    with pytest.raises(NoCredentials, match="active manifest"):
        credentials_read(c2pa_files.with_probe_assertion(signed, box_type, content), "audio/wav")


def test_a_wav_whose_credentials_cannot_be_decoded_gets_a_verdict(db: Any, signed: bytes) -> None:
    wav = c2pa_files.with_probe_assertion(signed, b"cbor", b"\x81" * 200 + b"\x00")
    response = APIClient().post("/api/v1/verify", {"file": _named(wav)}, format="multipart")
    assert response.status_code == 201, response.content[:500]
    assert response.json()["verdict"] != "verified"


@pytest.mark.parametrize(
    "build, reason",
    [
        (lambda wav: c2pa_files.with_nested_superboxes(wav, DEEP), "JUMB box nesting depth exceeds"),
        (lambda wav: c2pa_files.with_probe_assertion(wav, b"cbor", b"\x81" * DEEP + b"\x00"), "active manifest"),
        (lambda wav: c2pa_files.with_probe_assertion(wav, b"cbor", b"\xa1\x00" * DEEP + b"\x00"), "active manifest"),
        (lambda wav: c2pa_files.with_probe_assertion(wav, b"json", b"[" * DEEP + b"]" * DEEP), "active manifest"),
        (lambda wav: c2pa_files.with_claim(wav, b"\x81" * DEEP + b"\x00"), "CBOR nesting depth"),
    ],
    ids=["superboxes", "cbor-arrays", "cbor-maps", "json", "claim"],
)
def test_credentials_nested_100000_deep_are_refused_without_a_crash(
    signed: bytes, tmp_path: Path, build: Any, reason: str
) -> None:
    path = tmp_path / "deep.wav"
    path.write_bytes(build(signed))
    result = _read_in_subprocess(path)
    assert result.returncode == 0, f"the reader died ({result.returncode}): {result.stderr[-2000:]}"
    assert result.stdout.startswith("NoCredentials") and reason in result.stdout, result.stdout + result.stderr[-2000:]


def test_credentials_deeper_than_the_json_bound_are_unreadable(signed: bytes) -> None:
    # c2pa-rs decodes an assertion up to 128 levels; the store it writes is then read with the
    # bound every JSON from outside meets (64 levels), not with the Reader's unbounded json.loads.
    wav = c2pa_files.with_probe_assertion(signed, b"cbor", b"\x81" * 100 + b"\x00")
    with pytest.raises(NoCredentials, match="deeper than 64 levels"):
        credentials_read(wav, "audio/wav")


def _named(data: bytes) -> io.BytesIO:
    upload = io.BytesIO(data)
    upload.name = "deep.wav"
    return upload


def _score(events: bytes) -> bytes:
    track = events + b"\x00\xff\x2f\x00"
    return b"MThd" + struct.pack(">IHHH", 6, 0, 1, 96) + b"MTrk" + struct.pack(">I", len(track)) + track


def test_a_huge_score_is_not_compared_note_by_note() -> None:
    # A million notes in 3 MB (running status): mido took 13 s and 475 MB of one web worker to
    # read it, for anyone who hands it to the public verification endpoint.
    score = _score(b"\x00\x90\x40\x40" + b"\x00\x40\x40" * 1_000_000)
    with pytest.raises(fingerprint.Unreadable, match="not compared by its notes"):
        fingerprint.note_grams(score)


def test_hostile_midi_structures_are_refused_or_read_without_a_crash(tmp_path: Path) -> None:
    # MIDI nests nothing, and both readers (symusic in C++ for uploads, mido for comparing
    # scores) read events in loops: these are refused or read, at the site's recursion limit.
    cases = {
        "tracks": b"MThd"
        + struct.pack(">IHHH", 6, 1, 65535, 96)
        + (b"MTrk" + struct.pack(">I", 12) + b"\x00\x90\x40\x40\x00\x80\x40\x00\x00\xff\x2f\x00") * 65535,
        "sysex": _score(b"\x00\xf0\x8f\xff\xff\x7f" + b"\x00" * 100),
        "meta": _score(b"\x00\xff\x01\x8f\xff\xff\x7f" + b"a" * 100),
        "varint": _score(b"\x80" * 100_000 + b"\x00\x90\x40\x40"),
        "running-status": _score(b"\x00\x40\x40" * 1000),
    }
    for name, data in cases.items():
        (tmp_path / f"{name}.mid").write_bytes(data)
    script = (
        "import sys, pathlib, eth, py_ecc, symusic\n"
        "from ledgerline_verify import fingerprint\n"
        "for path in sorted(pathlib.Path(sys.argv[1]).glob('*.mid')):\n"
        "    data = path.read_bytes()\n"
        "    for read in (symusic.Score.from_midi, fingerprint.note_grams):\n"
        "        try:\n"
        "            read(data)\n"
        "        except (RuntimeError, ValueError):\n"
        "            pass\n"
        "    print(path.stem)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, f"a reader died ({result.returncode}): {result.stderr[-2000:]}"
    assert sorted(result.stdout.split()) == sorted(cases)
