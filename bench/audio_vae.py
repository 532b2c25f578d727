"""Sound VAEs on a 60-clip lab set: the thesis' network (baseline), the spectral model and the
DDSP model (ddsp, the default), trained side by side for the same CPU budget in the same run.

For each model it prints:
  minutes   until the reconstructions' multi-resolution STFT loss falls below --threshold
            (3.0: clearly nearer the clips than silence is, which scores 4.0 on this set);
            the references in the table (silence, a one-semitone pitch error) are measured here
  final     that loss at the end of the budget. MR-STFT is the spectral models' own objective, so
            the baseline's own (the squared error of the samples, summed per clip) is printed
            beside it: the baseline is not judged only by the other model's yardstick
  pitch     pYIN f0 of each reconstruction against its original's, over the clips voiced in
            both, of the pitched groups (not the band-passed noise): the median error in cents and
            the share within 50 cents (a quarter tone), and the reconstructions' median f0: when
            every reconstruction has the same f0, that is a buzz of the decoder, not their pitch
  held out  the same figures (MR-STFT, median cents, within 50 c) on a second lab set drawn with
            another seed, which no model trained on
  glide     pairs of pitched training clips a fifth or more apart, interpolated in the latent at
            ratios 0.25, 0.5 and 0.75: pYIN f0 of each decoded sound against the geometric
            interpolation f0a^(1-r) f0b^r of the originals' (median cents, share within 50 c)
  decode    the decoder's real-time factor: seconds of compute per second of audio (< 1 is
            faster than real time), batch 16 at 16 kHz, before the upsampling to 44.1 kHz
and the ratios spectral / baseline and ddsp / baseline of the time to threshold, the final
MR-STFT and the decoder's speed. With
--pretrained, another row continues that checkpoint (`make audio-pretrained`) on the set for the
same budget.

    .venv/bin/python bench/audio_vae.py [--minutes 8] [--threshold 3.0] [--threads 2] [--seed 0] [--pretrained DIR]
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


def median_f0(audio: np.ndarray) -> np.ndarray:
    """pYIN's median f0 of each clip; NaN where no frame is voiced."""
    f0 = f0_pyin(audio)
    return np.array([np.nanmedian(row) if np.isfinite(row).any() else np.nan for row in f0])


def pitch_error(original: np.ndarray, reconstructed: np.ndarray) -> tuple[float, float, int, float]:
    a, b = median_f0(original), median_f0(reconstructed)
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


def pitched(sounds: SoundSet) -> list[int]:
    return [i for i, clip in enumerate(sounds.clips) if clip.source["synth"]["kind"] != "subtractive"]


@torch.no_grad()
def reconstruct(vae: VAE, audio: np.ndarray) -> np.ndarray:
    return torch.cat([vae(part, sample=False)[0] for part in torch.from_numpy(audio).split(16)]).numpy()


@torch.no_grad()
def glide(vae: VAE, sounds: SoundSet, pairs: int = 10) -> tuple[float, float, int]:
    """Median cents from the geometric interpolation of two clips' f0, and the share within 50."""
    rows = pitched(sounds)
    f0 = median_f0(sounds.audio[rows])
    rng = np.random.default_rng(0)
    chosen: list[tuple[int, int]] = []
    while len(chosen) < pairs:
        a, b = (int(i) for i in rng.choice(len(rows), 2, replace=False))
        if np.isfinite(f0[a]) and np.isfinite(f0[b]) and abs(np.log2(f0[b] / f0[a])) >= 7 / 12:
            chosen.append((a, b))
    mean = vae.encode(torch.from_numpy(sounds.audio[rows]))[0]
    ratios = (0.25, 0.5, 0.75)
    z = torch.stack([(1 - r) * mean[a] + r * mean[b] for a, b in chosen for r in ratios])
    heard = median_f0(torch.cat([vae.decode(part) for part in z.split(16)]).numpy())
    expected = np.array([f0[a] ** (1 - r) * f0[b] ** r for a, b in chosen for r in ratios])
    found = np.isfinite(heard)
    cents = np.abs(1200 * np.log2(heard[found] / expected[found]))
    return (
        (float(np.median(cents)) if found.any() else float("nan")),
        float((cents < 50).sum() / len(expected)),
        len(expected),
    )


def run(
    kind: str,
    sounds: SoundSet,
    held_out: SoundSet,
    minutes: float,
    threshold: float,
    out: Path,
    pretrained: AudioCheckpoint | None = None,
    seed: int = 0,
) -> dict[str, float | None]:
    curve: list[tuple[float, float]] = []
    started = time.monotonic()

    def record(report: EpochReport) -> None:
        curve.append((time.monotonic() - started, report.mrstft))
        print(
            f"  {kind:8} epoch {report.epoch:3}  {curve[-1][0] / 60:5.1f} min  MR-STFT {report.mrstft:.3f}", flush=True
        )

    config = TrainConfig(epochs=100_000, batch_size=16, lr=1e-3, max_minutes=minutes, seed=seed)
    model = pretrained.model_config() if pretrained is not None else VAEConfig(kind=kind)
    checkpoint = train(sounds, out / kind, model=model, config=config, pretrained=pretrained, progress=record)
    vae = checkpoint.load()
    reconstructed = reconstruct(vae, sounds.audio)
    reached = next((seconds / 60 for seconds, loss in curve if loss < threshold), None)
    squared = float(((reconstructed - sounds.audio) ** 2).sum(axis=1).mean())
    rows = pitched(sounds)
    cents, within, voiced, heard = pitch_error(sounds.audio[rows], reconstructed[rows])
    unseen = reconstruct(vae, held_out.audio)
    unseen_rows = pitched(held_out)
    unseen_cents, unseen_within, _, _ = pitch_error(held_out.audio[unseen_rows], unseen[unseen_rows])
    glide_cents, glide_within, glides = glide(vae, sounds)
    return {
        "held_out_mrstft": float(mrstft_loss(torch.from_numpy(unseen), torch.from_numpy(held_out.audio))),
        "held_out_cents": unseen_cents,
        "held_out_within": unseen_within,
        "glide_cents": glide_cents,
        "glide_within": glide_within,
        "glides": glides,
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
    parser.add_argument("--seed", type=int, default=0, help="the models' initial weights, batch order and noise")
    parser.add_argument("--models", default="baseline,spectral,ddsp", help="the fresh models to train, comma-separated")
    parser.add_argument(
        "--pretrained", type=Path, help="also continue this checkpoint (make audio-pretrained) on the set"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    sounds = synth_set(lab_synths(seed=0))
    held_out = synth_set(lab_synths(seed=1))  # the same four groups, other pitches and seeds
    refs = references(torch.from_numpy(sounds.audio))
    print(f"{len(sounds)} clips in {', '.join(sounds.groups)}; {args.minutes} min each on {args.threads} threads")
    with TemporaryDirectory() as folder:
        results = {
            kind: run(kind, sounds, held_out, args.minutes, args.threshold, Path(folder), seed=args.seed)
            for kind in args.models.split(",")
            if kind
        }
        if args.pretrained:
            checkpoint = AudioCheckpoint(args.pretrained)
            results["pretrained"] = run(
                "pretrained", sounds, held_out, args.minutes, args.threshold, Path(folder), checkpoint, args.seed
            )
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
    print(
        f"\n{'model':10} {'held-out MR-STFT':>17} {'pitch error':>12} {'within 50 c':>12}"
        "   glide: pitch error, within 50 c"
    )
    for kind, r in results.items():
        print(
            f"{kind:10} {r['held_out_mrstft']:>17.3f} {r['held_out_cents']:>10.0f} c {r['held_out_within']:>11.0%}"
            f"   {r['glide_cents']:>6.0f} c {r['glide_within']:>6.0%} of {r['glides']}"
        )
    if "baseline" not in results:
        return
    base = results["baseline"]
    for kind in (k for k in ("spectral", "ddsp") if k in results):
        better = results[kind]
        if base["minutes"] is None or better["minutes"] is None:
            missed = " and ".join(k for k in ("baseline", kind) if results[k]["minutes"] is None)
            print(f"time to threshold, {kind} / baseline: {missed} did not reach it in {args.minutes:g} min")
        else:
            print(f"time to threshold, {kind} / baseline: {better['minutes'] / base['minutes']:.2f}")
        print(f"MR-STFT at the end, {kind} / baseline: {better['final'] / base['final']:.2f}")  # type: ignore[operator]
        print(f"decoder speed, {kind} / baseline: {base['rtf'] / better['rtf']:.2f}x")  # type: ignore[operator]


if __name__ == "__main__":
    main()
