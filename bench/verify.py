"""Verifying 5-minute WAV works, measured against `sha256sum` over the same files.

Loads the demo organisation (a tiny model trained on chorales, signed, pinned and anchored) in
a fresh var folder, registers --works works whose released audio is a 5-minute stereo 44.1 kHz
WAV (a synthetic take stands in for the model's short output; everything after generation is
the real pipeline: C2PA credentials, signed manifest, pinning, minting, confirmation), then
times, in rounds, over the same released files (read from the page cache):
  sha256sum   the baseline: coreutils hashing every file
  engine      ledgerline_verify's Verifier on each file (what `python -m ledgerline_verify` does,
              here on the embedded chain and blockstore): every link, regeneration not asked for;
              a fresh Verifier each round, so the model folder is fetched and verified once a round
  platform    the API's path: the engine, the database link, the lineage, the recorded verdict
and prints verifications per second and each one's time as a ratio to sha256sum's (1.0 = as fast).

    .venv/bin/python bench/verify.py [--works 8] [--minutes 5] [--rounds 3]
"""

import argparse
import io
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "platform"), str(ROOT), str(ROOT / "bench")]

from django_fresh import django_fresh  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--works", type=int, default=8)
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    work_dir = django_fresh("ledgerline-verify-bench-")
    from django.core.management import call_command

    start = time.perf_counter()
    call_command("demo", stdout=io.StringIO())
    files = register(work_dir / "takes", count=args.works, minutes=args.minutes)
    size = sum(f.stat().st_size for f in files)
    print(
        f"{len(files)} released works of {args.minutes:g} min ({size / len(files) / 2**20:.1f} MiB each), "
        f"set up in {time.perf_counter() - start:.0f} s"
    )

    from ledgerline.audit.services import platform_verifier, verification_create
    from ledgerline_verify import Subject

    def engine() -> None:
        verifier = platform_verifier()
        for path in files:
            verdict = verifier.verify(Subject(data=path.read_bytes()))
            assert verdict.verdict == "verified", verdict.summary

    def platform() -> None:
        for path in files:
            verification = verification_create(subject=Subject(data=path.read_bytes()), kind="file", user=None)
            assert verification.verdict == "verified", verification.result["summary"]

    def sha256sum() -> None:
        subprocess.run(["sha256sum", *map(str, files)], check=True, capture_output=True)

    times: dict[str, list[float]] = {"sha256sum": [], "engine": [], "platform": []}
    for _ in range(args.rounds):
        for name, run in (("sha256sum", sha256sum), ("engine", engine), ("platform", platform)):
            began = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - began)
    baseline = statistics.median(times["sha256sum"])
    for name, taken in times.items():
        median = statistics.median(taken)
        print(
            f"{name:<10} {median:7.2f} s  {len(files) / median:6.2f} files/s  {size / median / 2**20:7.1f} MiB/s  "
            f"ratio {median / baseline:5.1f}x sha256sum"
        )


def register(folder: Path, *, count: int, minutes: float) -> list[Path]:
    """``count`` works of the demo model with long synthetic takes, through the real pipeline
    from `generated` on; their released (credentialed) WAVs."""
    from hash_throughput import make_wav  # the same takes as the hashing bench

    from ledgerline.accounts.models import Organisation
    from ledgerline.datasets.blobs import blob_path
    from ledgerline.pipeline import drive
    from ledgerline.training.models import ModelArtifact
    from ledgerline.works import transitions
    from ledgerline.works.models import Work, WorkStatus

    organisation = Organisation.objects.get(slug="demo-label")
    model = ModelArtifact.objects.filter(run__organisation=organisation).first()
    assert model is not None, "the demo did not train its model"
    folder.mkdir(parents=True)
    works = []
    for i in range(count):
        take = folder / f"take-{i}.wav"
        make_wav(take, int(minutes * 60 * 44100 * 4), seed=i)
        work = Work.objects.create(
            organisation=organisation,
            title=f"Long take {i}",
            model=model,
            seed=1000 + i,
            parameters={"originality_max_run": 1000},
        )
        transitions.advance(
            work,
            WorkStatus.REQUESTED,
            WorkStatus.GENERATED,
            outputs={"wav": transitions.blob_put(take.read_bytes())},
            originality={"longest_melody_run": 0},
            provenance={"bench": "synthetic take"},
        )
        works.append(work)
    drive.works_advance(works=Work.objects.filter(pk__in=[w.pk for w in works]))
    released = []
    for work in Work.objects.filter(pk__in=[w.pk for w in works]):
        assert work.status == WorkStatus.CONFIRMED, (work.status, work.error)
        released.append(blob_path(work.outputs.get(kind="audio").blob.sha256))
    return released


if __name__ == "__main__":
    main()
