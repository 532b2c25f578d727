"""Sound VAEs on a 60-clip lab set: the thesis' network (baseline) and the improved one (spectral),
trained side by side for the same CPU budget in the same run.

For each model it prints:
  minutes   until the reconstructions' multi-resolution STFT loss falls below --threshold
            (3.0: clearly nearer the clips than silence is, which scores 4.0 on this set);
            the references in the table (silence, a one-semitone pitch error) are measured here
  final     that loss at the end of the budget. MR-STFT is the spectral model's own objective, so
            the baseline's own (the squared error of the samples, summed per clip) is printed
            beside it: the baseline is not judged only by the other model's yardstick
  pitch     pYIN f0 of each reconstruction against its original's, over the clips voiced in
            both, of the pitched groups (not the band-passed noise): the median error in cents and
            the share within 50 cents (a quarter tone), and the reconstructions' median f0: when
            every reconstruction has the same f0, that is a buzz of the decoder, not their pitch
  decode    the decoder's real-time factor: seconds of compute per second of audio (< 1 is
            faster than real time), batch 16 at 16 kHz, before the upsampling to 44.1 kHz
and the ratio spectral / baseline of the time to threshold and of the decoder's speed. With
--pretrained, a third row continues that checkpoint (the spectral model pre-trained by
`make audio-pretrained`) on the set for the same budget.

    .venv/bin/python bench/audio_vae.py [--minutes 8] [--threshold 3.0] [--threads 2] [--pretrained DIR]
"""

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from tempfile import TemporaryDirectory

import numpy as np
import scipy.signal
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from generation.audio.dataset import SoundSet, synth_set
from generation.audio.features import f0_pyin
from generation.audio.model import VAE, VAEConfig, mrstft_loss
from generation.audio.synth import lab_synths
from generation.audio.train import AudioCheckpoint, EpochReport, TrainConfig, train


def references(audio: torch.Tensor) -> dict[str, float]:
    semitone = scipy.signal.resample(audio.numpy(), int(16000 / 2 ** (1 / 12)), axis=1)[:, :16000]
    shifted = torch.nn.functional.pad(torch.from_numpy(semitone.astype(np.float32)), (0, 16000 - semitone.shape[1]))
    return {
        "silence": float(mrstft_loss(torch.zeros_like(audio), audio)),
        "a semitone off": float(mrstft_loss(shifted, audio)),
    }


def pitch_error(original: np.ndarray, reconstructed: np.ndarray) -> tuple[float, float, int, float]:
    a, b = np.nanmedian(f0_pyin(original), axis=1), np.nanmedian(f0_pyin(reconstructed), axis=1)
    both = np.isfinite(a) & np.isfinite(b)
    cents = np.abs(1200 * np.log2(b[both] / a[both]))
    if not both.any():
        return float("nan"), 0.0, 0, float("nan")
    # the reconstructions' own median f0: one value for all of them means a buzz, not their pitches
    return float(np.median(cents)), float((cents < 50).mean()), int(both.sum()), float(np.median(b[both]))


@torch.no_grad()
def decoder_rtf(vae: VAE, runs: int = 10) -> float:
    z = torch.randn(16, vae.config.latent, generator=torch.Generator().manual_seed(0))
    vae.decode(z)
    best = min(_timed(lambda: vae.decode(z)) for _ in range(runs))
    return best / 16  # 16 one-second sounds


def _timed(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def run(
    kind: str, sounds: SoundSet, minutes: float, threshold: float, out: Path, pretrained: AudioCheckpoint | None = None
) -> dict[str, float | None]:
    curve: list[tuple[float, float]] = []
    started = time.monotonic()

    def record(report: EpochReport) -> None:
        curve.append((time.monotonic() - started, report.mrstft))
        print(
            f"  {kind:8} epoch {report.epoch:3}  {curve[-1][0] / 60:5.1f} min  MR-STFT {report.mrstft:.3f}", flush=True
        )

    config = TrainConfig(epochs=100_000, batch_size=16, lr=1e-3, max_minutes=minutes)
    model = pretrained.model_config() if pretrained is not None else VAEConfig(kind=kind)
    checkpoint = train(sounds, out / kind, model=model, config=config, pretrained=pretrained, progress=record)
    vae = checkpoint.load()
    with torch.no_grad():
        audio = torch.from_numpy(sounds.audio)
        reconstructed = torch.cat([vae(part, sample=False)[0] for part in audio.split(16)]).numpy()
    reached = next((seconds / 60 for seconds, loss in curve if loss < threshold), None)
    squared = float(((reconstructed - sounds.audio) ** 2).sum(axis=1).mean())
    pitched = [i for i, clip in enumerate(sounds.clips) if clip.source["synth"]["kind"] != "subtractive"]
    cents, within, voiced, heard = pitch_error(sounds.audio[pitched], reconstructed[pitched])
    return {
        "minutes": reached,
        "final": curve[-1][1],
        "squared": squared,
        "epochs": len(curve),
        "cents": cents,
        "within": within,
        "voiced": voiced,
        "heard": heard,
        "rtf": decoder_rtf(vae),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=8.0, help="training budget per model")
    parser.add_argument("--threshold", type=float, default=3.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--models", default="baseline,spectral", help="the fresh models to train, comma-separated")
    parser.add_argument(
        "--pretrained", type=Path, help="also continue this checkpoint (make audio-pretrained) on the set"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    sounds = synth_set(lab_synths(seed=0))
    refs = references(torch.from_numpy(sounds.audio))
    print(f"{len(sounds)} clips in {', '.join(sounds.groups)}; {args.minutes} min each on {args.threads} threads")
    with TemporaryDirectory() as folder:
        results = {
            kind: run(kind, sounds, args.minutes, args.threshold, Path(folder))
            for kind in args.models.split(",")
            if kind
        }
        if args.pretrained:
            checkpoint = AudioCheckpoint(args.pretrained)
            results["pretrained"] = run("pretrained", sounds, args.minutes, args.threshold, Path(folder), checkpoint)
    shown = ", ".join(f"{k} {v:.2f}" for k, v in refs.items())
    print(f"\nMR-STFT references on this set: {shown}; threshold {args.threshold}")
    energy = float((sounds.audio**2).sum(axis=1).mean())
    print(f"squared-error reference: silence {energy:.1f} (the clips' energy)")
    columns = ("minutes to threshold", "final MR-STFT", "squared error", "epochs", "pitch error", "within 50 c")
    widths = (21, 14, 14, 7, 12, 12)
    print(f"{'model':10} " + " ".join(f"{c:>{w}}" for c, w in zip(columns, widths, strict=True)) + "  decoder RTF")
    for kind, r in results.items():
        reached = f"{r['minutes']:.1f}" if r["minutes"] is not None else f"not in {args.minutes:g}"
        print(
            f"{kind:10} {reached:>21} {r['final']:>14.3f} {r['squared']:>14.1f} {r['epochs']:>7} {r['cents']:>10.0f} c "
            f"{r['within']:>11.0%} {r['rtf']:>12.4f}   ({r['voiced']} clips voiced in both; "
            f"reconstructions' median f0 {r['heard']:.1f} Hz)"
        )
    if "baseline" not in results or "spectral" not in results:
        return
    base, better = results["baseline"], results["spectral"]
    missed = [kind for kind in ("baseline", "spectral") if results[kind]["minutes"] is None]
    if missed:
        print(
            f"time to threshold, spectral / baseline: {' and '.join(missed)} did not reach it in {args.minutes:g} min"
        )
    else:
        print(f"time to threshold, spectral / baseline: {better['minutes'] / base['minutes']:.2f}")  # type: ignore[operator]
    print(f"decoder speed, spectral / baseline: {base['rtf'] / better['rtf']:.2f}x")  # type: ignore[operator]


if __name__ == "__main__":
    main()
