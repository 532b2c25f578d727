"""CID computation against plain SHA-256 over the same bytes.

Writes a file (1 GiB by default), then times, best of three, over the page-cached file:
  sha256        hashlib.file_digest: the hashing alone, the physical limit
  cid v1        the UnixFS importer computing the CIDv1 (raw leaves), storing nothing
  cid v0        the same with dag-pb leaves (each chunk wrapped, so hashed bytes grow a little)
  store v1      the embedded node adding the file (every block written to a blockstore)
and prints MiB/s and the ratio to sha256 (1.0 = as fast as hashing the bytes).

    .venv/bin/python bench/cid_throughput.py [--gib 1.0] [--dir /tmp]
"""

import argparse
import hashlib
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "platform"))
from ledgerline.storage.blockstore import Blockstore
from ledgerline_verify.unixfs import file_add

MiB = 1024 * 1024


def best_of(runs: int, work: Callable[[], object]) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gib", type=float, default=1.0)
    parser.add_argument("--dir", default=None)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ledgerline-cid-", dir=args.dir))
    try:
        path, size = work / "data.bin", int(args.gib * 1024 * MiB)
        block = random.Random(1).randbytes(MiB)
        with open(path, "wb") as f:
            for i in range(size // MiB):
                f.write(block[i % 251 :] + block[: i % 251])

        def sha256() -> None:
            with open(path, "rb") as f:
                hashlib.file_digest(f, "sha256")

        def cid(version: int) -> Callable[[], object]:
            def run() -> object:
                with open(path, "rb") as f:
                    return file_add(f, lambda c, b: None, version=version)

            return run

        def store() -> None:
            shutil.rmtree(work / "blocks", ignore_errors=True)
            with open(path, "rb") as f:
                file_add(f, Blockstore(work / "blocks").put, version=1)

        sha256()  # page cache
        rows = [
            ("sha256", best_of(3, sha256)),
            ("cid v1", best_of(3, cid(1))),
            ("cid v0", best_of(3, cid(0))),
            ("store v1", best_of(3, store)),
        ]
        base = rows[0][1]
        print(f"{size / MiB:.0f} MiB   CIDv1 {cid(1)().cid}")  # type: ignore[attr-defined]
        print(f"\n{'what':<10} {'best s':>8} {'MiB/s':>8} {'ratio to sha256':>16}")
        for name, seconds in rows:
            print(f"{name:<10} {seconds:>8.2f} {size / MiB / seconds:>8.0f} {base / seconds:>16.2f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
