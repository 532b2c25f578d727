"""Spectrogram diffusion on recordings of real music (bench/spectral_corpus.py: music21's corpora
rendered through the General MIDI soundfont, six instrument + collection classes, tagged so),
trained for a CPU budget and judged against its held-out files, in one run:

  conditioning  a small CNN trained on the training windows' classes labels windows generated for
                each class's prompt ("organ chorale", ...): the share labelled with the prompted
                class, beside the same CNN on the held-out real windows (the ceiling) and chance
  closeness     Frechet distance in that CNN's 16-d embedding, per class, averaged: generated vs
                held-out windows of the class, beside held-out vs training windows (the floor) and
                generations for another class's prompt vs the held-out ones (the ceiling)
  memorisation  each window's L2 distance to its nearest training window (every 8 frames of every
                training file): generated windows against held-out real windows (median); a
                model that copied would sit nearer than real unseen music does
  speed         training steps reached and minutes taken; seconds to generate 5 s of audio with the
                default sampler (25 DDIM steps, guidance 3, Griffin-Lim) and its real-time ratio

    .venv/bin/python bench/spectral.py [--minutes 30] [--per-class 20] [--threads 2] [--out DIR]
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import scipy.linalg
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from spectral_corpus import COLLECTIONS, build

from generation.files import file_sha256
from generation.spectral.model import SpectralConfig
from generation.spectral.sample import Ask, SpectralModel
from generation.spectral.spectrogram import FRAMES, frames_of
from generation.spectral.train import SpectralCheckpoint, TrainConfig, train
from generation.spectral.windows import Recordings, recording

ROOT = Path(__file__).resolve().parents[1]


class Classifier(nn.Module):
    def __init__(self, classes: int):
        super().__init__()
        layers: list[nn.Module] = []
        for a, b in ((1, 16), (16, 32), (32, 64), (64, 64)):
            layers += [nn.Conv2d(a, b, 3, padding=1), nn.BatchNorm2d(b), nn.ReLU(), nn.MaxPool2d(2)]
        self.features = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 16))
        self.head = nn.Sequential(nn.ReLU(), nn.Linear(16, classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def class_of(tags: list[str]) -> int:
    names = ["-".join(sorted(c.tags)) for c in COLLECTIONS.values()]
    return names.index("-".join(sorted(tags)))


def windows_all(recordings: Recordings, stride: int) -> tuple[np.ndarray, np.ndarray]:
    pictures, labels = [], []
    for item in recordings.items:
        for start in item.starts[::stride]:
            pictures.append(item.picture[:, int(start) : int(start) + FRAMES])
            labels.append(class_of(item.tags))
    return np.stack(pictures), np.array(labels)


def classifier_train(training: Recordings, steps: int = 600) -> Classifier:
    torch.manual_seed(0)
    net = Classifier(len(COLLECTIONS))
    optimiser = torch.optim.AdamW(net.parameters(), lr=2e-3)
    rng = np.random.default_rng(0)
    for _ in range(steps):
        pictures, tags = training.draw(64, rng)
        x = torch.from_numpy(pictures)[:, None] + torch.from_numpy(rng.uniform(-0.1, 0.1, (64, 1, 1, 1))).float()
        loss = nn.functional.cross_entropy(net(x), torch.tensor([class_of(t) for t in tags]))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return net.eval()


@torch.no_grad()
def classify(net: Classifier, pictures: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(predicted classes, 16-d embeddings)."""
    x = torch.from_numpy(np.ascontiguousarray(pictures))[:, None]
    embedding = torch.cat([net.features(part) for part in x.split(64)])
    return net.head(embedding).argmax(dim=1).numpy(), embedding.numpy()


def frechet(a: np.ndarray, b: np.ndarray) -> float:
    mean = np.sum((a.mean(0) - b.mean(0)) ** 2)
    ca, cb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = scipy.linalg.sqrtm(ca @ cb)
    return float(mean + np.trace(ca + cb - 2 * np.real(root)))


def nearest(pictures: np.ndarray, bank: torch.Tensor) -> np.ndarray:
    x = torch.from_numpy(pictures.reshape(len(pictures), -1))
    out = []
    for part in x.split(32):
        distances = torch.cdist(part, bank)
        out.append(distances.min(dim=1).values)
    return torch.cat(out).numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=30.0, help="training budget (wall clock)")
    parser.add_argument("--per-class", type=int, default=20, help="windows generated per class")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--corpus", type=Path, default=ROOT / "var/cache/spectral-corpus")
    parser.add_argument("--out", type=Path, default=ROOT / "var/bench/spectral")
    parser.add_argument("--pieces", type=int, default=30, help="pieces per class in the corpus")
    arguments = parser.parse_args()
    torch.set_num_threads(arguments.threads)

    tags = build(arguments.corpus, pieces=arguments.pieces, seconds=24.0)
    items = []
    for path, described in sorted(tags.items()):
        file = arguments.corpus / path
        items.append(recording(file.read_bytes(), path=path, sha256=file_sha256(file), tags=described["tags"]))
    training, held = Recordings(items).split()
    print(f"corpus: {len(items)} files, {len(training.items)} training, {len(held.items)} held out")

    started = time.monotonic()
    classifier = classifier_train(training)
    held_pictures, held_labels = windows_all(held, stride=FRAMES // 2)
    train_pictures, train_labels = windows_all(training, stride=FRAMES // 2)
    held_predicted, held_embedding = classify(classifier, held_pictures)
    _, train_embedding = classify(classifier, train_pictures)
    print(
        f"classifier: {time.monotonic() - started:.0f} s, "
        f"held-out accuracy {np.mean(held_predicted == held_labels):.3f}"
    )

    out = arguments.out / "checkpoint"
    if (out.parent / "resume.pt").exists():
        (out.parent / "resume.pt").unlink()
    curve: list[tuple[float, dict]] = []
    started = time.monotonic()
    train(
        Recordings(items),
        out,
        model=SpectralConfig(),
        config=TrainConfig(steps=100_000, max_minutes=arguments.minutes),
        progress=lambda point: curve.append((time.monotonic() - started, point)),
    )
    minutes = (time.monotonic() - started) / 60
    steps = curve[-1][1]["step"]
    print(f"diffusion: {steps} steps in {minutes:.1f} min; held-out v-error {curve[-1][1]['held_out']:.4f}")
    for seconds, point in curve[:: max(1, len(curve) // 8)]:
        print(
            f"  {seconds / 60:5.1f} min  step {point['step']:6d}  "
            f"train {point['train_loss']:.4f}  held out {point['held_out']:.4f}"
        )

    model = SpectralModel(SpectralCheckpoint(out))
    prompts = [" ".join(c.tags) for c in COLLECTIONS.values()]
    generated, prompted = [], []
    started = time.monotonic()
    for label, prompt in enumerate(prompts):
        for seed in range(arguments.per_class):
            piece = model.piece(Ask(prompt=prompt, seed=seed, seconds=FRAMES / frames_of(1.0)))
            generated.append(piece.picture[:, :FRAMES])
            prompted.append(label)
    generating = time.monotonic() - started
    pictures, labels = np.stack(generated), np.array(prompted)
    predicted, embedding = classify(classifier, pictures)
    accuracy = float(np.mean(predicted == labels))
    ceiling = float(np.mean(held_predicted == held_labels))
    print(f"generated {len(pictures)} windows in {generating:.0f} s")
    print("\nconditioning (share labelled with the prompted class)")
    print(
        f"  generated   {accuracy:.3f}   bar 0.80   "
        f"ceiling (held-out real) {ceiling:.3f}   chance {1 / len(prompts):.3f}"
    )
    for label, prompt in enumerate(prompts):
        rows = labels == label
        print(
            f"    {prompt:16s} {np.mean(predicted[rows] == label):.2f}   "
            f"real {np.mean(held_predicted[held_labels == label] == label):.2f}"
        )

    floor, close, wrong = [], [], []
    for label in range(len(prompts)):
        held_c = held_embedding[held_labels == label]
        floor.append(frechet(held_c, train_embedding[train_labels == label]))
        close.append(frechet(embedding[labels == label], held_c))
        wrong.append(frechet(embedding[labels == (label + 1) % len(prompts)], held_c))
    print("\ncloseness (Frechet distance in the classifier's embedding, mean over classes)")
    print(f"  generated vs held out {np.mean(close):.2f}   floor (held out vs training) {np.mean(floor):.2f}")
    print(f"  ceiling (another class's generations vs held out) {np.mean(wrong):.2f}")
    print(f"  ratio generated / ceiling {np.mean(close) / np.mean(wrong):.2f}")

    bank_pictures, _ = windows_all(training, stride=8)
    bank = torch.from_numpy(bank_pictures.reshape(len(bank_pictures), -1))
    generated_near = nearest(pictures, bank)
    held_near = nearest(held_pictures, bank)
    print("\nmemorisation (L2 distance to the nearest training window, median)")
    print(
        f"  generated {np.median(generated_near):.1f}   held-out real {np.median(held_near):.1f}   "
        f"ratio {np.median(generated_near) / np.median(held_near):.2f} (below 1: nearer than unseen music)"
    )
    print(f"  generated windows nearer than the nearest held-out one: {np.mean(generated_near < held_near.min()):.3f}")

    times = []
    for seed in range(3):
        started = time.monotonic()
        model.piece(Ask(prompt=prompts[0], seed=seed, seconds=5.0))
        times.append(time.monotonic() - started)
    print("\nspeed")
    print(f"  training: {steps} steps in {minutes:.1f} min ({minutes * 60 / steps:.2f} s a step, batch 16)")
    print(f"  5 s of audio: {np.median(times):.2f} s (median of 3; bar 10 s), {np.median(times) / 5:.2f} x real time")


if __name__ == "__main__":
    main()
