"""Portal pages with 1,000 works in the organisation, each timed against an empty Django view.

Makes an organisation with --works confirmed works (each with a 30-second WAV and a MIDI score
in the blob store, a token and a CID), a dataset of 50 files with a frozen version, and a
verification; then requests each page through Django's whole stack (middleware, session,
templates; the test client, no network), signed in as a member, once and then --rounds times, and
prints the median time of each and its ratio to the empty view's (1.0 = as fast), and the first
request's time (the sound views are computed then, and kept until the files change). The aim:
under 300 ms.

    .venv/bin/python bench/pages.py [--works 1000] [--rounds 20]
"""

import argparse
import io
import statistics
import sys
import tempfile
import time
import types
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "platform"), str(ROOT), str(ROOT / "bench")]

from django_fresh import django_fresh  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--works", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    django_fresh("ledgerline-pages-bench-")
    from django.conf import settings
    from django.http import HttpRequest, HttpResponse
    from django.test import Client
    from django.urls import clear_url_caches, include, path

    def empty(request: HttpRequest) -> HttpResponse:
        return HttpResponse("")

    urls = types.ModuleType("bench_urls")
    urls.urlpatterns = [path("bench-empty/", empty), path("", include("ledgerline.urls"))]  # type: ignore[attr-defined]
    sys.modules["bench_urls"] = urls
    settings.ROOT_URLCONF = "bench_urls"
    settings.ALLOWED_HOSTS = ["testserver"]
    clear_url_caches()
    user, pages = populate(args.works)
    client = Client()
    client.force_login(user)
    timings: dict[str, float] = {}
    firsts: dict[str, float] = {}
    for name, url in [("empty view (baseline)", "/bench-empty/"), *pages]:
        times = []
        start = time.perf_counter()
        client.get(url)  # the first request of a page (the sound views' pYIN runs then, and is kept)
        first = time.perf_counter() - start
        for _ in range(args.rounds):
            start = time.perf_counter()
            response = client.get(url)
            times.append(time.perf_counter() - start)
            assert response.status_code == 200, (url, response.status_code)
        timings[name] = statistics.median(times)
        firsts[name] = first
    baseline = timings["empty view (baseline)"]
    print(f"{args.works} works; median of {args.rounds} requests each")
    for name, taken in timings.items():
        mark = "" if taken < 0.3 else "  OVER 300 ms"
        print(
            f"{name:<28} {taken * 1000:8.1f} ms  ratio {taken / baseline:7.1f}x the empty view{mark}"
            f"   (first request {firsts[name] * 1000:.0f} ms)"
        )


def populate(count: int) -> tuple[Any, list[tuple[str, str]]]:
    """The organisation, its works, a dataset and a verification; the pages to time."""
    import numpy as np
    import soundfile

    from ledgerline.accounts import services as accounts
    from ledgerline.audit.models import Verification
    from ledgerline.datasets import samples
    from ledgerline.datasets import services as datasets
    from ledgerline.datasets.services import blob_store
    from ledgerline.ledger.models import Token
    from ledgerline.portal.sounds import synth_add
    from ledgerline.training.models import ModelArtifact, TrainingRun
    from ledgerline.works.models import Work, WorkOutput, WorkStatus
    from ledgerline_verify.checks import LINKS

    user = accounts.user_create(username="bench", password="a long bench password")
    organisation = accounts.organisation_create(name="Bench Records", admin=user)
    rate = 44100
    t = np.arange(rate * 30) / rate
    wav = io.BytesIO()
    soundfile.write(wav, (0.3 * np.sin(2 * np.pi * 220 * t) * np.exp(-t % 1)).astype(np.float32), rate, format="WAV")
    audio = blob_store(io.BytesIO(wav.getvalue()))
    with tempfile.TemporaryDirectory() as tmp:
        midi = blob_store(io.BytesIO(samples.melody_midi(Path(tmp) / "m.mid", seed=1).read_bytes()))
        dataset = datasets.dataset_create(
            organisation=organisation,
            name="Bench set",
            description="",
            licence=datasets.Licence(spdx="CC-BY-4.0"),
            consent={"cawg.ai_training": {"use": "allowed"}},
            rights=[],
            created_by=user,
        )
        paths = [(f"melody-{i:02d}.mid", samples.melody_midi(Path(tmp) / f"{i}.mid", seed=i)) for i in range(50)]
        datasets.dataset_files_import(dataset=dataset, paths=paths, added_by=user)
        datasets.dataset_version_create(dataset=dataset, created_by=user)
        sounds = datasets.dataset_create(
            organisation=organisation,
            name="Bench sounds",
            description="",
            licence=datasets.Licence(spdx="CC-BY-4.0"),
            consent={"cawg.ai_training": {"use": "allowed"}},
            rights=[],
            created_by=user,
        )
        for i in range(20):
            synth_add(
                dataset=sounds,
                description={"kind": "fm" if i % 2 else "additive", "group": f"g{i % 4}", "freq": 110 + 40 * i},
                added_by=user,
            )
    run = TrainingRun.objects.create(organisation=organisation, name="run", config={"model": "lstm"})
    model = ModelArtifact.objects.create(run=run, name="weights", blob=midi)
    works = []
    for i in range(count):
        content = f"{i:064x}"
        token = Token.objects.create(chain_id=1, contract="0x" + "ab" * 20, content_sha256=content, token_id=i + 1)
        works.append(
            Work(
                organisation=organisation,
                title=f"Work {i}",
                model=model,
                seed=i,
                token=token,
                status=WorkStatus.CONFIRMED,
                content_sha256=content,
                cid="bafy" + content[:20],
                originality={"longest_melody_run": 3},
                manifest={"manifest": {"n": i}},
            )
        )
    Work.objects.bulk_create(works)
    WorkOutput.objects.bulk_create(
        [
            WorkOutput(work=w, kind=k, blob=b, media_type=m)
            for w in works
            for k, b, m in (("audio", audio, "audio/wav"), ("midi", midi, "audio/midi"))
        ]
    )
    checks = [{"link": link, "status": "pass", "reason": "as the bench has it", "details": {}} for link in LINKS]
    verification = Verification.objects.create(
        organisation=organisation,
        work=works[0],
        subject_kind="file",
        verdict="verified",
        result={"verdict": "verified", "summary": "", "checks": checks, "subject": {}},
    )
    return user, [
        ("home", "/"),
        ("datasets", "/datasets/"),
        ("a dataset (50 files)", f"/datasets/{dataset.pk}/"),
        ("works (1,000 in the org)", "/works/"),
        ("a work (waveform, roll)", f"/works/{works[0].pk}/"),
        ("training runs", "/training-runs/"),
        ("a training run", f"/training-runs/{run.pk}/"),
        ("royalties", "/royalties/"),
        ("the organisation", f"/organisations/{organisation.slug}/"),
        ("sound views (20 clips)", f"/datasets/{sounds.pk}/sounds/"),
        ("verify", "/verify/"),
        ("a verification", f"/verify/{verification.pk}/"),
    ]


if __name__ == "__main__":
    main()
