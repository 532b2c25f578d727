"""The audio watermark (ledgerline_verify.watermark) against issue [15]'s attacks, on works of real
music and of a sound model.

    .venv/bin/python bench/watermark.py [--works 100] [--generated 20] [--seconds 20] [--windows 10000] [--jobs 2]

Works: the first `seconds` of the rendered corpus pieces (bench/spectral_corpus.py: music21's
corpora through the platform's General MIDI renderer, six instruments; rendered first if missing),
taken evenly across the collections, and `generated` pieces of `seconds` from the spectrogram
diffusion model that bench/spectral.py trains (var/bench/spectral/checkpoint; left out, and said
so, where it is not there). Each work gets its own random mark.

Attacks: MP3 128 and 64 kbit/s, Ogg Vorbis (quality 3, about 112 kbit/s) and AAC 128 kbit/s
through ffmpeg; resampled to 16 kHz and back; 8-bit quantisation; gain +-10 dB (in float: no
clipping); white noise at 20 dB SNR; ffmpeg's low-pass at 4 kHz; the first and last 20% cut off;
a random 5-second excerpt; speed +-2% (resampled: tempo and pitch together); mixed with another
work of the set at -6 dB.

Per attack: the bit error rate of the coded bits before correction (at the alignment that fits
the mark best), the share of works whose mark decodes blind (its 32 check bits pass), the share
identified (decoded, or matched among all the works' marks, as both verifiers do with the marks
the chain announced), and the detection time against the audio's length.
False detections: detect() with every work's mark on `windows` unmarked 5-second windows (the
corpus renders and generated pieces before marking, white and brown noise at several levels,
silence), at normal speed, and on a share of them with the speed search too; beside the rates
the check bits and the matching threshold promise.
Inaudibility: SNR and log-spectral distance of each marked work against its unmarked render.
"""

import argparse
import io
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import soundfile
import soxr

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from ledgerline_verify import watermark  # noqa: E402

RATE = 44100
CORPUS = ROOT / "var" / "cache" / "spectral-corpus"
CHECKPOINT = ROOT / "var" / "bench" / "spectral" / "checkpoint"
WINDOW_SECONDS = 5.0


def ffmpeg(samples: np.ndarray, args: list[str], suffix: str) -> np.ndarray:
    """Encoded by ffmpeg with ``args`` and decoded back to float."""
    with tempfile.TemporaryDirectory() as folder:
        source, coded, back = (Path(folder) / name for name in ("in.wav", f"coded.{suffix}", "out.wav"))
        soundfile.write(source, samples, RATE, subtype="FLOAT")
        for command in (["-i", str(source), *args, str(coded)], ["-i", str(coded), "-c:a", "pcm_f32le", str(back)]):
            subprocess.run(["ffmpeg", "-v", "error", "-y", *command], check=True)
        decoded, rate = soundfile.read(back, always_2d=True)
    return decoded if rate == RATE else soxr.resample(decoded, rate, RATE)


def power(samples: np.ndarray) -> float:
    return float(np.mean(samples**2))


def attacks(marked: np.ndarray, other: np.ndarray, rng: np.random.Generator) -> dict[str, Callable[[], Any]]:
    """name -> a function giving (the attacked samples, the speed they play at)."""
    n = len(marked)
    start = int(rng.uniform(0, max(0, n - WINDOW_SECONDS * RATE)))
    mix = np.resize(other, marked.shape) * np.sqrt(power(marked) / max(power(other), 1e-20) * 10 ** (-6 / 10))
    noise = rng.normal(0, np.sqrt(power(marked) / 100), marked.shape)
    return {
        "none": lambda: (marked, 1.0),
        "mp3 128k": lambda: (ffmpeg(marked, ["-c:a", "libmp3lame", "-b:a", "128k"], "mp3"), 1.0),
        "mp3 64k": lambda: (ffmpeg(marked, ["-c:a", "libmp3lame", "-b:a", "64k"], "mp3"), 1.0),
        "ogg vorbis q3": lambda: (ffmpeg(marked, ["-c:a", "libvorbis", "-q:a", "3"], "ogg"), 1.0),
        "aac 128k": lambda: (ffmpeg(marked, ["-c:a", "aac", "-b:a", "128k"], "m4a"), 1.0),
        "resample 16 kHz": lambda: (soxr.resample(soxr.resample(marked, RATE, 16000), 16000, RATE), 1.0),
        "8-bit": lambda: (np.round(marked * 127) / 127, 1.0),
        "gain +10 dB": lambda: (marked * 10 ** (10 / 20), 1.0),
        "gain -10 dB": lambda: (marked * 10 ** (-10 / 20), 1.0),
        "noise 20 dB SNR": lambda: (marked + noise, 1.0),
        "low-pass 4 kHz": lambda: (ffmpeg(marked, ["-af", "lowpass=f=4000"], "wav"), 1.0),
        "cut 20% each end": lambda: (marked[n // 5 : n - n // 5], 1.0),
        "5 s excerpt": lambda: (marked[start : start + int(WINDOW_SECONDS * RATE)], 1.0),
        "speed +2%": lambda: (soxr.resample(marked, RATE * 1.02, RATE), 1.02),
        "speed -2%": lambda: (soxr.resample(marked, RATE * 0.98, RATE), 0.98),
        "mix -6 dB": lambda: (marked + mix, 1.0),
    }


def bit_errors(samples: np.ndarray, speed: float, mark: bytes) -> tuple[int, int]:
    """(coded bits read, of which wrong) at the alignment that fits the mark best, at ``speed``."""
    mono = watermark._mono(samples, RATE)
    if speed != 1.0:
        mono = soxr.resample(mono, watermark.RATE, watermark.RATE * speed)
    soft, _ = watermark._readings(mono)
    if not len(soft):
        return 0, 0
    code = 1.0 - 2.0 * watermark.encode(mark)
    best = soft[int(np.argmax(soft @ code))]
    read = best != 0
    return int(read.sum()), int((read & (best * code < 0)).sum())


def log_spectral_distance(clean: np.ndarray, marked: np.ndarray) -> float:
    """dB, over the frames and bins of the mono mix where the clean sound is not silent."""
    window = np.hanning(2048)

    def spectrum(samples: np.ndarray) -> np.ndarray:
        frames = np.lib.stride_tricks.sliding_window_view(samples.mean(axis=1), 2048)[::1024]
        return np.abs(np.fft.rfft(frames * window, axis=1)) ** 2

    a, b = spectrum(clean), spectrum(marked)
    audible = a > a.max() * 1e-8
    difference = 10 * np.log10(np.maximum(b, 1e-20) / np.maximum(a, 1e-20))
    return float(
        np.sqrt(np.mean(np.where(audible, difference**2, 0.0).sum(axis=1) / np.maximum(audible.sum(axis=1), 1)))
    )


def work_run(job: tuple[int, np.ndarray, np.ndarray, bytes, list[bytes]]) -> dict[str, Any]:
    index, clean, other, mark, marks = job
    rng = np.random.default_rng(index)
    started = time.perf_counter()
    marked = watermark.embed(clean, RATE, mark)
    embed_seconds = time.perf_counter() - started
    result: dict[str, Any] = {
        "snr": 10 * np.log10(power(clean) / max(power(marked - clean), 1e-30)),
        "lsd": log_spectral_distance(clean, marked),
        "embed": embed_seconds / (len(clean) / RATE),
        "attacks": {},
    }
    for name, attack in attacks(marked, other, rng).items():
        samples, speed = attack()
        read, wrong = bit_errors(samples, speed, mark)
        started = time.perf_counter()
        found = watermark.detect(samples, RATE, marks=marks)
        seconds = time.perf_counter() - started
        result["attacks"][name] = {
            "read": read,
            "wrong": wrong,
            "decoded": found is not None and found.method == "decoded" and found.payload == mark,
            "identified": found is not None and found.payload == mark,
            "wrong_mark": found is not None and found.payload != mark,
            "detect": seconds / (len(samples) / RATE),
        }
    return result


def false_run(job: tuple[np.ndarray, list[bytes], bool]) -> bool:
    window, marks, speeds = job
    return watermark.detect(window, RATE, marks=marks, speeds=speeds) is not None


def corpus_works(seconds: float, count: int) -> list[tuple[str, np.ndarray]]:
    if not (CORPUS / "tags.json").is_file():
        subprocess.run([sys.executable, str(ROOT / "bench" / "spectral_corpus.py"), str(CORPUS)], check=True)
    by_class = [sorted(folder.glob("*.wav")) for folder in sorted(p for p in CORPUS.iterdir() if p.is_dir())]
    chosen: list[Path] = []
    for rank in range(max(len(files) for files in by_class)):  # round robin over the collections
        chosen += [files[rank] for files in by_class if rank < len(files)]
    works = []
    for path in chosen:
        samples, rate = soundfile.read(path, always_2d=True)
        if rate == RATE and len(samples) >= seconds * RATE:
            works.append((f"{path.parent.name}/{path.stem}", samples[: int(seconds * RATE)]))
        if len(works) == count:
            break
    return works


def generated_works(seconds: float, count: int) -> list[tuple[str, np.ndarray]]:
    if count == 0 or not (CHECKPOINT / "config.json").is_file():
        print(f"no generated works: {CHECKPOINT} is not there (bench/spectral.py trains it)")
        return []
    sys.path.insert(0, str(ROOT / "bench"))
    from spectral_corpus import COLLECTIONS

    from generation.spectral.sample import Ask, SpectralModel
    from generation.spectral.train import SpectralCheckpoint

    model = SpectralModel(SpectralCheckpoint(CHECKPOINT))
    prompts = [" ".join(c.tags) for c in COLLECTIONS.values()]
    works = []
    for i in range(count):
        piece = model.piece(Ask(prompt=prompts[i % len(prompts)], seed=1000 + i, seconds=seconds))
        samples, rate = soundfile.read(io.BytesIO(piece.wav), always_2d=True)
        works.append(
            (
                f"generated/{prompts[i % len(prompts)]} {i}",
                samples if rate == RATE else soxr.resample(samples, rate, RATE),
            )
        )
    return works


def windows(sounds: list[np.ndarray], count: int, rng: np.random.Generator) -> list[np.ndarray]:
    """5-second unmarked windows: every 2.5 s of the sounds, then noise and silence up to ``count``."""
    size, found = int(WINDOW_SECONDS * RATE), []
    for sound in sounds:
        found += [sound[at : at + size] for at in range(0, len(sound) - size + 1, size // 2)]
    found = found[: count * 8 // 10]
    while len(found) < count:
        kind = len(found) % 4
        level = 10 ** (rng.uniform(-60, -6) / 20)
        if kind == 0:
            found.append(rng.normal(0, level, (size, 2)))
        elif kind == 1:
            brown = np.cumsum(rng.normal(0, 1, (size, 2)), axis=0)
            found.append(level * (brown - brown.mean(axis=0)) / np.abs(brown).max())
        elif kind == 2:
            found.append(np.zeros((size, 2)))
        else:
            found.append(rng.normal(0, 1e-5, (size, 2)))  # dither, near silence
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--works", type=int, default=100, help="corpus renders")
    parser.add_argument("--generated", type=int, default=20, help="pieces of the spectrogram model")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--windows", type=int, default=10_000)
    parser.add_argument("--speed-windows", type=int, default=200, help="of them, also with the speed search")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--no-attacks", action="store_true", help="only the false detections")
    args = parser.parse_args()
    rng = np.random.default_rng(15)
    works = corpus_works(args.seconds, args.works) + generated_works(args.seconds, args.generated)
    marks = [rng.bytes(8) for _ in works]
    print(f"{len(works)} works of {args.seconds:.0f} s; block {watermark.BLOCK_SECONDS:.2f} s; {watermark.PARAMETERS}")
    if not args.no_attacks:
        attacks_table(works, marks, args.jobs)
    false_detections(works, marks, args, rng)


def attacks_table(works: list[tuple[str, np.ndarray]], marks: list[bytes], processes: int) -> None:
    jobs = [(i, audio, works[(i + 1) % len(works)][1], marks[i], marks) for i, (_, audio) in enumerate(works)]
    started = time.perf_counter()
    with multiprocessing.Pool(processes) as pool:
        results = pool.map(work_run, jobs, chunksize=1)
    print(f"attacks done in {(time.perf_counter() - started) / 60:.1f} min ({processes} processes)\n")

    names = list(results[0]["attacks"])
    print(f"{'attack':<18} {'bit errors':>10} {'decoded':>8} {'identified':>10} {'wrong':>6} {'detect x RT':>12}  bar")
    for name in names:
        rows = [r["attacks"][name] for r in results]
        read, wrong = sum(r["read"] for r in rows), sum(r["wrong"] for r in rows)
        decoded = np.mean([r["decoded"] for r in rows])
        identified = np.mean([r["identified"] for r in rows])
        bar = 0.90 if name.startswith(("speed", "5 s", "mix")) else 0.99
        verdict = "meets" if identified >= bar else f"SHORT of {bar:.0%}"
        print(
            f"{name:<18} {wrong / max(read, 1):>10.3f} {decoded:>8.0%} {identified:>10.0%} "
            f"{sum(r['wrong_mark'] for r in rows):>6} {1 / np.median([r['detect'] for r in rows]):>11.0f}x  {verdict}"
        )
    snr = np.array([r["snr"] for r in results])
    lsd = np.array([r["lsd"] for r in results])
    embed = np.array([r["embed"] for r in results])
    print(
        f"\ninaudibility: SNR min {snr.min():.1f} dB, median {np.median(snr):.1f} dB "
        f"({(snr >= 35).mean():.0%} of works at 35 dB or more); log-spectral distance median "
        f"{np.median(lsd):.2f} dB, max {lsd.max():.2f} dB"
    )
    print(f"speed: embedding {1 / np.median(embed):.0f}x real time (slowest work {1 / embed.max():.0f}x)")
    for name, r in zip(works, results, strict=True):
        if r["snr"] < 35 or not all(a["identified"] for a in r["attacks"].values()):
            missed = [a for a, v in r["attacks"].items() if not v["identified"]]
            print(f"  {name[0]:<40} SNR {r['snr']:.1f} dB, LSD {r['lsd']:.2f} dB; missed after: {', '.join(missed)}")


def false_detections(
    works: list[tuple[str, np.ndarray]], marks: list[bytes], args: argparse.Namespace, rng: np.random.Generator
) -> None:
    unmarked = windows([audio for _, audio in works], args.windows, rng)
    started = time.perf_counter()
    with multiprocessing.Pool(args.jobs) as pool:
        hits = pool.map(false_run, [(w, marks, False) for w in unmarked], chunksize=16)
        searched = pool.map(false_run, [(w, marks, True) for w in unmarked[: args.speed_windows]], chunksize=4)
    alignments = watermark.CELL_FRAMES * watermark.PHASES * watermark.BLOCK_CELLS
    blind = alignments * 2.0**-watermark.CHECK_BITS
    print(
        f"\nfalse detections: {sum(hits)} of {len(unmarked)} unmarked {WINDOW_SECONDS:.0f}-second windows at normal "
        f"speed, {sum(searched)} of {len(searched)} with the speed search "
        f"({(time.perf_counter() - started) / 60:.1f} min)\n"
        f"  promised: blind, {alignments} alignments x 2^-{watermark.CHECK_BITS} = {blind:.1e} a window at normal "
        f"speed ({blind * (1 + len(watermark.SPEEDS)):.1e} with the speed search), and a false payload names a "
        f"token only if it is one of the {len(marks)} minted marks (x {len(marks)}/2^64); matched, below "
        f"{watermark.MAX_FALSE_ALARM:.0e} a window by the threshold"
    )


if __name__ == "__main__":
    main()
