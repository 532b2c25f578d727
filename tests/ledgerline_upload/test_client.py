"""ledgerline-upload, the label's catalog uploader: its state file and chunk reader alone, then against a
live site: a folder uploaded in parallel, a refused file reported, a SIGKILLed run resumed, and a rerun
that sends nothing."""

import base64
import hashlib
import io
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ledgerline.datasets.models import DatasetFile, Upload
from ledgerline.datasets.samples import pcm16_wav_header
from ledgerline_upload.__main__ import main, media_paths
from ledgerline_upload.chunks import ChunkReader, chunk_checksum
from ledgerline_upload.state import Entry, StateFile, entry_key
from tests.conftest import Team, dataset_create

ROOT = Path(__file__).resolve().parents[2]
MiB = 1024 * 1024


def test_the_state_file_survives_a_new_process_and_a_changed_file_starts_afresh(tmp_path: Path) -> None:
    path = tmp_path / "cache" / "state.json"
    key = entry_key("http://site/", "d1", "a/b.wav", 10, 123)
    StateFile(path).put(key, Entry(url="http://site/api/v1/uploads/x/", sent=5))
    again = StateFile(path)
    assert again.get(key) == Entry(url="http://site/api/v1/uploads/x/", sent=5)
    assert again.get(entry_key("http://site", "d1", "a/b.wav", 10, 124)) == Entry()
    assert again.get(entry_key("http://site", "d2", "a/b.wav", 10, 123)) == Entry()
    assert [p.name for p in path.parent.iterdir()] == ["state.json"]


def test_a_chunk_is_read_from_its_offset_to_its_end_and_checksummed(tmp_path: Path) -> None:
    data = os.urandom(3 * MiB + 17)
    source = io.BytesIO(data)
    reader = ChunkReader(source, MiB + 5, 2 * MiB)
    blocks = iter(lambda: reader.read(64 * 1024), b"")
    assert b"".join(blocks) == data[MiB + 5 : 3 * MiB + 5]
    assert reader.read() == b""
    digest = base64.b64encode(hashlib.sha256(data[7:1007]).digest()).decode()
    assert chunk_checksum(source, 7, 1000) == f"sha256 {digest}"


def test_only_media_files_are_found_with_their_paths(tmp_path: Path) -> None:
    for name in ("a.WAV", "x/b.mid", "x/y/c.flac", "d.mp3", "notes.txt", ".hidden/e.wav"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    assert media_paths(tmp_path) == ["a.WAV", "d.mp3", "x/b.mid", "x/y/c.flac"]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(MiB):
            digest.update(block)
    return digest.hexdigest()


def _stored(dataset_id: str) -> dict[str, str]:
    return {f.path: f.blob.sha256 for f in DatasetFile.objects.select_related("blob").filter(dataset_id=dataset_id)}


@pytest.mark.django_db(transaction=True)
def test_a_folder_is_uploaded_a_refused_file_is_reported_and_a_rerun_sends_nothing(
    team: Team, live_server: Any, media_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dataset_id = dataset_create(team)
    folder = tmp_path / "catalog"
    (folder / "midi").mkdir(parents=True)
    shutil.copy(media_dir / "tone.wav", folder / "tone.wav")
    shutil.copy(media_dir / "melody.mid", folder / "midi" / "melody.mid")
    shutil.copy(media_dir / "tone.flac", folder / "midi" / "tone.flac")
    (folder / "broken.wav").write_bytes(b"not a wave at all" * 100)
    args = [str(folder), "--dataset", dataset_id, "--token", team.owner.token, "--url", live_server.url]
    args += ["--state", str(tmp_path / "state.json"), "--jobs", "3", "--chunk-mib", "1"]

    assert main(args) == 1
    out = capsys.readouterr().out
    assert _stored(dataset_id) == {p: _sha256(folder / p) for p in ("tone.wav", "midi/melody.mid", "midi/tone.flac")}
    assert "files added: 3, already there: 0, not added: 1" in out
    refused = [line for line in out.splitlines() if line.startswith("broken.wav: refused: ")]
    assert refused and len(refused[0]) > len("broken.wav: refused: ") + 10, out

    (folder / "broken.wav").unlink()
    assert main(args) == 0
    assert "files added: 0, already there: 3, not added: 0\nbytes sent: 0," in capsys.readouterr().out
    assert Upload.objects.filter(state="complete").count() == 3


def _big_wav(path: Path, mib: int) -> None:
    t = np.arange(MiB // 4) / 44100
    block = (np.sin(2 * np.pi * 440 * t) * 8000).astype("<i2").repeat(2).tobytes()
    with path.open("wb") as f:
        f.write(pcm16_wav_header(mib * MiB))
        for _ in range(mib):
            f.write(block)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_killed_upload_resumes_and_resends_at_most_a_chunk(team: Team, live_server: Any, tmp_path: Path) -> None:
    dataset_id = dataset_create(team)
    folder = tmp_path / "catalog"
    folder.mkdir()
    wav = folder / "long.wav"
    _big_wav(wav, 200)
    size, chunk = wav.stat().st_size, 8 * MiB
    command = [sys.executable, "-m", "ledgerline_upload", str(folder), "--dataset", dataset_id]
    command += ["--token", team.owner.token, "--url", live_server.url, "--state", str(tmp_path / "s.json")]
    command += ["--chunk-mib", "8"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    first = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while (upload := Upload.objects.first()) is None or upload.offset < 0.3 * size:
        assert first.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.wait()
    assert Upload.objects.get().offset < size

    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "long.wav: resuming at " in again.stdout
    assert _stored(dataset_id) == {"long.wav": _sha256(wav)}
    resent = int(again.stdout.split("bytes resent: ")[1].split()[0])
    assert resent <= chunk + 0.05 * size, again.stdout
