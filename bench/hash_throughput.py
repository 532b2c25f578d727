"""Registering a dataset of real files, measured against `sha256sum` over the same files.

Makes a folder of real media (WAV, FLAC and MIDI; 1 GiB in all by default), starts the site as
`make run` does (tools/serve.py --only web: gunicorn, on SQLite in a folder of its own), then, in
rounds (after one more that only warms up), times each way of registering the same files, all
read from the page cache:
  sha256sum      the baseline: coreutils hashing every file
  hashlib        the ceiling: OpenSSL's SHA-256 (as Python's hashlib uses it) reading every file,
                 with nothing stored; where the CPU has SHA extensions it beats sha256sum
  import         `dataset_import`'s service: files copied into the staging area and hashed in one
                 pass, several at once, parse-checked, rows and audit entries written
  multipart      each file POSTed as multipart/form-data over loopback (the old path, the baseline)
  put            each file PUT as the raw request body (curl -T's way)
  tus            each file as a resumable upload (POST /api/v1/uploads/, then one PATCH of it all)
  ... x4         the same, four files at a time over four connections, as a label's client sends
                 them (ledgerline_upload --jobs 4; the portal sends three)
and prints each one's throughput and its ratio to sha256sum and to hashlib (1.0 = as fast).
Request bodies go from the files to the socket by sendfile(2): the client costs the server little.

    .venv/bin/python bench/hash_throughput.py [--gib 1.0] [--rounds 3] [--jobs 4] [--dir /tmp]
"""

import argparse
import base64
import hashlib
import http.client
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "platform"), str(ROOT)]
MiB = 1024 * 1024
Files = list[tuple[str, Path]]


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


def memory_recycle(scratch: Path, size: int) -> None:
    """Write ``size`` bytes to a file and delete it, so that the next files written land in page
    cache just freed. On a virtual machine whose host takes back memory the guest leaves free,
    writing into memory not used for a while runs at a few hundred MiB/s (the host backs each page
    as it is touched) and into memory just freed at several GiB/s: without this the table measures
    the host, not the paths."""
    block = bytes(MiB)
    with open(scratch, "wb") as f:
        for _ in range(size // MiB + 1):
            f.write(block)
    scratch.unlink()


class Site:
    """Requests to the served site over one kept-alive loopback connection, bodies sent from files."""

    def __init__(self, url: str, token: str) -> None:
        parts = urlsplit(url)
        self.connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port)
        self.token = token

    def request(
        self, method: str, path: str, headers: dict[str, str], body: tuple[bytes, Path | None, bytes] = (b"", None, b"")
    ) -> http.client.HTTPResponse:
        """Send ``body`` (bytes before a file, the file, bytes after it) and read the response."""
        before, file, after = body
        length = len(before) + (file.stat().st_size if file else 0) + len(after)
        self.connection.putrequest(method, path)
        for name, value in {"Authorization": f"Bearer {self.token}", "Content-Length": str(length), **headers}.items():
            self.connection.putheader(name, value)
        self.connection.endheaders()
        assert self.connection.sock is not None
        self.connection.sock.sendall(before)
        if file is not None:
            with open(file, "rb") as f:
                self.connection.sock.sendfile(f)
        self.connection.sock.sendall(after)
        response = self.connection.getresponse()
        response.read()
        return response


Sender = Callable[[Site, str, str, Path], None]


def send_multipart(site: Site, dataset: str, name: str, path: Path) -> None:
    boundary = "BenchBoundary"
    before = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="path"\r\n\r\n{name}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{path.name}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    )
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    body = (before.encode(), path, f"\r\n--{boundary}--\r\n".encode())
    response = site.request("POST", f"/api/v1/datasets/{dataset}/files/", headers, body)
    if response.status != 201:
        raise SystemExit(f"multipart upload of {name} failed: {response.status}")


def send_put(site: Site, dataset: str, name: str, path: Path) -> None:
    headers = {"Content-Type": "application/octet-stream"}
    response = site.request("PUT", f"/api/v1/datasets/{dataset}/files/{quote(name)}", headers, (b"", path, b""))
    if response.status != 201:
        raise SystemExit(f"PUT of {name} failed: {response.status}")


def send_tus(site: Site, dataset: str, name: str, path: Path) -> None:
    metadata = ",".join(
        f"{key} {base64.b64encode(value.encode()).decode()}"
        for key, value in (("dataset", dataset), ("filename", name))
    )
    headers = {"Tus-Resumable": "1.0.0", "Upload-Length": str(path.stat().st_size), "Upload-Metadata": metadata}
    created = site.request("POST", "/api/v1/uploads/", headers)
    if created.status != 201:
        raise SystemExit(f"tus creation for {name} failed: {created.status}")
    location = urlsplit(created.getheader("Location", "")).path
    headers = {"Tus-Resumable": "1.0.0", "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"}
    response = site.request("PATCH", location, headers, (b"", path, b""))
    if response.status != 204 or not response.getheader("Ledgerline-Dataset-File"):
        raise SystemExit(f"tus PATCH of {name} failed: {response.status}")


def send_parallel(url: str, token: str, send: Sender, dataset: str, names: list[tuple[str, Path]], jobs: int) -> None:
    """Every file, ``jobs`` at a time, each connection taking the next file when it is done."""
    queue = iter(names)
    lock = threading.Lock()

    def work() -> None:
        site = Site(url, token)
        try:
            while True:
                with lock:
                    item = next(queue, None)
                if item is None:
                    return
                send(site, dataset, *item)
        finally:
            site.connection.close()

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for future in [pool.submit(work) for _ in range(jobs)]:
            future.result()


def report(times: dict[str, list[float]], small: dict[str, list[float]], total: int, rounds: int) -> None:
    """The table; for the HTTP paths also the median request of a small (MIDI) file, a cost per
    request whatever its size, and how fast the rest of the bytes went without those requests."""
    base, ceiling = statistics.median(times["sha256sum"]), statistics.median(times["hashlib"])
    print(
        f"\n{'path':<13} {'median s':>9} {'MiB/s':>8} {'ratio to sha256sum':>19} {'to hashlib':>11}"
        f" {'ms per MIDI':>12} {'MiB/s of the rest':>18}"
        f"   (median of {rounds} rounds; load average {os.getloadavg()[0]:.2f})"
    )
    for label, values in times.items():
        median = statistics.median(values)
        line = (
            f"{label:<13} {median:>9.2f} {total / MiB / median:>8.0f} {base / median:>19.2f} {ceiling / median:>11.2f}"
        )
        if small.get(label):
            per_request = statistics.median(small[label])
            rest = median - sum(small[label]) / rounds
            line += f" {per_request * 1000:>12.1f} {total / MiB / rest:>18.0f}"
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gib", type=float, default=1.0, help="size of the dataset (default 1 GiB)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=4, help="connections of the parallel rows (default 4)")
    parser.add_argument("--dir", default=None, help="where to make the files (default: the system temp folder)")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="ledgerline-bench-", dir=args.dir))
    from tests.daemons import ledgerline_env, ledgerline_served

    env = ledgerline_env(work / "var")
    os.environ.update(LEDGERLINE_VAR_DIR=env["LEDGERLINE_VAR_DIR"], DJANGO_SETTINGS_MODULE="ledgerline.settings")
    os.environ.pop("DATABASE_URL", None)
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from ledgerline.accounts import services as accounts
    from ledgerline.accounts.models import Membership
    from ledgerline.datasets import services as datasets
    from ledgerline.datasets.models import DatasetFile

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
        senders: dict[str, Sender] = {"multipart": send_multipart, "put": send_put}
        if (ROOT / "platform/ledgerline/api/uploads.py").exists():
            senders["tus"] = send_tus
        else:
            print("tus: skipped, platform/ledgerline/api/uploads.py (the resumable endpoint) is not here yet")
        parallel = [f"{label} x{args.jobs}" for label in senders]
        times: dict[str, list[float]] = {label: [] for label in ("sha256sum", "hashlib", "import", *senders, *parallel)}
        small: dict[str, list[float]] = {label: [] for label in senders}  # each MIDI file's request

        def new_dataset(label: str) -> Any:
            """An empty store and dataset, and memory ready for the files the next path writes."""
            os.sync()  # what the path before wrote is on disk: the kernel does not throttle the next one
            shutil.rmtree(settings.LEDGERLINE_BLOB_DIR, ignore_errors=True)
            memory_recycle(work / "scratch", total)
            return datasets.dataset_create(
                organisation=organisation,
                name=label,
                licence=datasets.Licence("MIT"),
                consent={},
                rights=[],
                created_by=user,
            )

        with ledgerline_served(env, "--only", "web") as (url, _, _):
            site = Site(url, token)
            time_sha256sum(paths)  # warm the page cache for everyone alike
            for round_ in range(args.rounds + 1):
                times["sha256sum"].append(time_sha256sum(paths))
                times["hashlib"].append(time_hashlib(paths))

                dataset = new_dataset(f"import {round_}")
                start = time.perf_counter()
                datasets.dataset_files_import(dataset=dataset, paths=names, added_by=user)
                times["import"].append(time.perf_counter() - start)

                for label, send in senders.items():
                    dataset = new_dataset(f"{label} {round_}")
                    site.connection.close()  # idle past gunicorn's keep-alive: the next request opens a new one
                    start = time.perf_counter()
                    for name, path in names:
                        sent = time.perf_counter()
                        send(site, str(dataset.pk), name, path)
                        if path.suffix == ".mid":
                            small[label].append(time.perf_counter() - sent)
                    times[label].append(time.perf_counter() - start)
                    assert DatasetFile.objects.filter(dataset=dataset).count() == len(paths)

                    dataset = new_dataset(f"{label} x{args.jobs} {round_}")
                    start = time.perf_counter()
                    send_parallel(url, token, send, str(dataset.pk), names, args.jobs)
                    times[f"{label} x{args.jobs}"].append(time.perf_counter() - start)
                    assert DatasetFile.objects.filter(dataset=dataset).count() == len(paths)
        # The first round only warms up (the server's workers, the memory the store's files go to).
        midis = sum(p.suffix == ".mid" for p in paths)
        times = {label: values[1:] for label, values in times.items()}
        small = {label: values[midis:] for label, values in small.items()}
        report(times, small, total, args.rounds)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
