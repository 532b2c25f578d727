"""Registering a dataset of real files, measured against `sha256sum` over the same files.

Makes a folder of real media (WAV, FLAC and MIDI; at least 1 GiB in all), then, in rounds,
times three things over the same files, all read from the page cache:
  sha256sum      the baseline: coreutils hashing every file
  hashlib        the ceiling: OpenSSL's SHA-256 (as Python's hashlib uses it) reading every file,
                 with nothing stored; where the CPU has SHA extensions it beats sha256sum
  import         `dataset_import`'s path: copy into the blob store hashing on the way,
                 parse-check, record rows, audit, freeze nothing
  upload         the HTTP path: each file POSTed as multipart through Django's full stack
                 (streamed, hashed while written to var/tmp, parse-checked, moved into the store)
and prints each one's throughput and its ratio to sha256sum and to hashlib (1.0 = as fast).

    .venv/bin/python bench/hash_throughput.py [--gib 1.0] [--rounds 3] [--dir /tmp]
"""

import argparse
import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "platform"), str(ROOT)]
MiB = 1024 * 1024


def make_wav(path: Path, size: int, seed: int) -> None:
    """A stereo 16-bit 44.1 kHz WAV of a slowly moving chord, written in 4 MiB blocks."""
    import numpy as np

    frames = size // 4
    from ledgerline.datasets.samples import pcm16_wav_header

    header = pcm16_wav_header(frames * 4)
    block_frames = MiB
    with open(path, "wb") as f:
        f.write(header)
        for start in range(0, frames, block_frames):
            t = (start + np.arange(min(block_frames, frames - start))) / 44100
            base = 110 * (1 + 0.37 * seed) * (1 + 0.02 * np.sin(2 * np.pi * 0.05 * t))
            wave = np.sum([np.sin(2 * np.pi * base * k * t) / k for k in (1, 1.25, 1.5, 2)], axis=0)
            f.write((wave * 6000).astype("<i2").repeat(2).tobytes())


def make_dataset(folder: Path, total: int) -> list[Path]:
    """100 MIDI melodies, 2 one-minute FLAC tones, and 8 WAV takes filling up to ``total`` bytes."""
    from ledgerline.datasets import samples

    for sub in ("midi", "flac", "wav"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    paths = [samples.melody_midi(folder / f"midi/melody-{i:03d}.mid", seed=i) for i in range(100)]
    paths += [
        samples.tone_audio(folder / f"flac/tone-{i}.flac", seconds=60, frequency=220 * (i + 1), seed=i)
        for i in range(2)
    ]
    per_wav = (total - sum(p.stat().st_size for p in paths)) // 8 + 4096
    for i in range(8):
        make_wav(folder / f"wav/take-{i}.wav", per_wav, seed=i)
        paths.append(folder / f"wav/take-{i}.wav")
    return paths


def time_sha256sum(paths: list[Path]) -> float:
    start = time.perf_counter()
    subprocess.run(["sha256sum", *map(str, paths)], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def time_hashlib(paths: list[Path]) -> float:
    start = time.perf_counter()
    for path in paths:
        with open(path, "rb") as f:
            hashlib.file_digest(f, "sha256")
    return time.perf_counter() - start


def file_chunks(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as f:
        while chunk := f.read(MiB):
            yield chunk


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gib", type=float, default=1.0, help="size of the dataset (default 1 GiB)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--dir", default=None, help="where to make the files (default: the system temp folder)")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="ledgerline-bench-", dir=args.dir))
    os.environ["LEDGERLINE_VAR_DIR"] = str(work / "var")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ledgerline.settings")
    os.environ.pop("DATABASE_URL", None)
    import django

    django.setup()
    from django.conf import settings
    from django.core.handlers.wsgi import WSGIHandler
    from django.core.management import call_command

    from ledgerline.accounts import services as accounts
    from ledgerline.accounts.models import Membership
    from ledgerline.datasets import services as datasets
    from ledgerline.datasets.models import DatasetFile
    from tests.streams import multipart_file, upload_environ

    try:
        call_command("migrate", verbosity=0)
        user = accounts.user_create(username="bench", password="bench password 123")
        organisation = accounts.organisation_create(name="Bench", admin=user)
        _, token = accounts.api_token_create(membership=Membership.objects.get(user=user), name="bench")
        paths = make_dataset(work / "files", int(args.gib * 1024 * MiB))
        total = sum(p.stat().st_size for p in paths)
        print(
            f"{len(paths)} files, {total / MiB:.0f} MiB: {sum(p.suffix == '.wav' for p in paths)} WAV, "
            f"{sum(p.suffix == '.flac' for p in paths)} FLAC, {sum(p.suffix == '.mid' for p in paths)} MIDI"
        )
        names = [(str(p.relative_to(work / "files")), p) for p in paths]
        handler = WSGIHandler()
        times: dict[str, list[float]] = {"sha256sum": [], "hashlib": [], "import": [], "upload": []}

        def new_dataset(label: str) -> Any:
            shutil.rmtree(settings.LEDGERLINE_BLOB_DIR, ignore_errors=True)
            return datasets.dataset_create(
                organisation=organisation,
                name=label,
                licence=datasets.Licence("MIT"),
                consent={},
                rights=[],
                created_by=user,
            )

        time_sha256sum(paths)  # warm the page cache for everyone alike
        for round_ in range(args.rounds):
            times["sha256sum"].append(time_sha256sum(paths))
            times["hashlib"].append(time_hashlib(paths))

            dataset = new_dataset(f"import {round_}")
            start = time.perf_counter()
            datasets.dataset_files_import(dataset=dataset, paths=names, added_by=user)
            times["import"].append(time.perf_counter() - start)

            dataset = new_dataset(f"upload {round_}")
            start = time.perf_counter()
            for name, path in names:
                body, length = multipart_file("BenchBoundary", path.name, file_chunks(path), path.stat().st_size)
                environ = upload_environ(
                    path=f"/api/v1/datasets/{dataset.pk}/files/",
                    body=body,
                    length=length,
                    boundary="BenchBoundary",
                    token=token,
                )
                status: list[str] = []
                response = handler(environ, lambda s, h, *_, status=status: status.append(s))
                b"".join(response)
                response.close()  # as a WSGI server does: removes the request's temporary files
                if not status[0].startswith("201"):
                    raise SystemExit(f"upload of {name} failed: {status[0]}")
            times["upload"].append(time.perf_counter() - start)
            assert DatasetFile.objects.filter(dataset=dataset).count() == len(paths)

        base, ceiling = statistics.median(times["sha256sum"]), statistics.median(times["hashlib"])
        print(
            f"\n{'path':<10} {'median s':>9} {'MiB/s':>8} {'ratio to sha256sum':>19} {'to hashlib':>11}"
            f"   (median of {args.rounds} rounds)"
        )
        for label, values in times.items():
            median = statistics.median(values)
            print(
                f"{label:<10} {median:>9.2f} {total / MiB / median:>8.0f} {base / median:>19.2f}"
                f" {ceiling / median:>11.2f}"
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
