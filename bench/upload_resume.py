"""ledgerline-upload killed halfway through a large file and run again: what resuming costs.

Makes a valid 2 GiB WAV, starts the site as `make run` does (tools/serve.py --only web: gunicorn,
on SQLite in a folder of its own), runs `python -m ledgerline_upload` on it, SIGKILLs the client
once the server holds half the file, runs it again, and prints the bytes sent in all, the
fraction sent twice (resuming must resend under 5%), the throughput, and whether the stored
blob's SHA-256 is `sha256sum`'s.

    .venv/bin/python bench/upload_resume.py [--gib 2.0] [--chunk-mib 64] [--dir /tmp]
"""

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "platform"), str(ROOT)]
MiB = 1024 * 1024


def make_wav(path: Path, size: int) -> None:
    """A stereo 16-bit 44.1 kHz WAV of a 440 Hz tone, written 1 MiB at a time."""
    import numpy as np

    from ledgerline.datasets.samples import pcm16_wav_header

    t = np.arange(MiB // 4) / 44100
    block = (np.sin(2 * np.pi * 440 * t) * 8000).astype("<i2").repeat(2).tobytes()
    with path.open("wb") as f:
        f.write(pcm16_wav_header(size // MiB * MiB))
        for _ in range(size // MiB):
            f.write(block)


def sent_figures(output: str) -> tuple[int, int]:
    """The bytes sent and resent, from the client's summary."""
    match = re.search(r"bytes sent: (\d+), bytes resent: (\d+)", output)
    if not match:
        raise SystemExit(f"no summary in the client's output:\n{output}")
    return int(match[1]), int(match[2])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gib", type=float, default=2.0)
    parser.add_argument("--chunk-mib", type=int, default=64)
    parser.add_argument("--dir", default=None, help="where to make the file (default: the system temp folder)")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="ledgerline-upload-bench-", dir=args.dir))
    from tests.daemons import ledgerline_env, ledgerline_served

    env = ledgerline_env(work / "var")
    os.environ.update(LEDGERLINE_VAR_DIR=env["LEDGERLINE_VAR_DIR"], DJANGO_SETTINGS_MODULE="ledgerline.settings")
    os.environ.pop("DATABASE_URL", None)
    import django

    django.setup()
    from django.core.management import call_command

    from ledgerline.accounts import services as accounts
    from ledgerline.accounts.models import Membership
    from ledgerline.datasets import services as datasets
    from ledgerline.datasets.models import DatasetFile, Upload

    call_command("migrate", verbosity=0)
    user = accounts.user_create(username="bench", password="bench password 123")
    organisation = accounts.organisation_create(name="Bench", admin=user)
    _, token = accounts.api_token_create(membership=Membership.objects.get(user=user), name="bench")
    dataset = datasets.dataset_create(
        organisation=organisation,
        name="catalog",
        licence=datasets.Licence("MIT"),
        consent={},
        rights=[],
        created_by=user,
    )
    folder = work / "catalog"
    folder.mkdir()
    wav = folder / "long.wav"
    make_wav(wav, int(args.gib * 1024 * MiB))
    size = wav.stat().st_size
    expected = subprocess.run(["sha256sum", str(wav)], capture_output=True, text=True, check=True).stdout.split()[0]

    with ledgerline_served(env, "--only", "web") as (url, _, _):
        command = [sys.executable, "-m", "ledgerline_upload", str(folder), "--dataset", str(dataset.pk)]
        command += ["--token", token, "--url", url, "--state", str(work / "state.json")]
        command += ["--chunk-mib", str(args.chunk_mib)]
        client_env = {**os.environ, "PYTHONPATH": str(ROOT)}
        start = time.perf_counter()
        first = subprocess.Popen(command, env=client_env, stdout=subprocess.DEVNULL)
        while (upload := Upload.objects.first()) is None or upload.offset < size // 2:
            if first.poll() is not None:
                raise SystemExit("the client ended before half the file was sent")
            time.sleep(0.05)
        first.send_signal(signal.SIGKILL)
        first.wait()
        killed_at = Upload.objects.get().offset
        again = subprocess.run(command, env=client_env, capture_output=True, text=True)
        elapsed = time.perf_counter() - start
        if again.returncode:
            raise SystemExit(f"the resumed run failed:\n{again.stdout}{again.stderr}")
    sent_again, resent = sent_figures(again.stdout)
    total = killed_at + resent + sent_again  # at most: the chunk in flight at the kill counted in both runs
    stored = DatasetFile.objects.select_related("blob").get(dataset=dataset).blob.sha256
    print(f"file: {size / MiB:.0f} MiB, chunks of {args.chunk_mib} MiB; killed with {killed_at / MiB:.0f} MiB stored")
    print(
        f"bytes sent in all (at most): {total} ({total / size:.3f} of the file); resent: {resent} ({resent / size:.2%})"
    )
    print(f"throughput: {size / MiB / elapsed:.0f} MiB/s over {elapsed:.1f} s (both runs, kill and restart included)")
    print(f"stored SHA-256 equals sha256sum's: {stored == expected} ({stored})")
    if resent >= 0.05 * size or stored != expected:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
