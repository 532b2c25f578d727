"""The views of a sound set that the thesis' users relied on, as data (JSON-ready, for the portal's
plots) and as PNG figures (for the command line): the table, f0 by group, the histogram of groups,
the spectral centroid, the envelopegram (mean RMS envelope per group) and a 2-D PCA of the spectra.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any

import numpy as np

from generation.audio.dataset import SoundSet
from generation.audio.features import Features, features
from generation.files import write_atomic


def pca_2d(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rows projected on their first two principal axes, and the share of variance each
    explains. Each axis' sign is fixed (its largest loading positive), so a map does not flip
    between runs."""
    centred = np.asarray(rows, dtype=np.float64) - np.mean(rows, axis=0)
    if len(centred) < 2:
        return np.zeros((len(centred), 2)), np.zeros(2)
    _, singular, axes = np.linalg.svd(centred, full_matrices=False)
    axes = axes[:2] * np.sign(axes[:2][np.arange(min(2, len(axes))), np.abs(axes[:2]).argmax(axis=1)])[:, None]
    points = centred @ axes.T
    variance = singular**2
    explained = variance[:2] / variance.sum() if variance.sum() > 0 else np.zeros(2)
    if points.shape[1] < 2:  # one-dimensional rows: one axis only
        points, explained = np.pad(points, ((0, 0), (0, 1))), np.pad(explained, (0, 1))
    return points, explained


def pca_map(sounds: SoundSet, rows: np.ndarray) -> dict[str, Any]:
    """Each clip placed on the rows' two principal axes, named and grouped, for a scatter plot."""
    points, explained = pca_2d(rows)
    return {
        "points": [
            {"name": c.name, "group": c.group, "x": float(x), "y": float(y)}
            for c, (x, y) in zip(sounds.clips, points, strict=True)
        ],
        "explained_variance": [float(v) for v in explained],
    }


def _number(value: float) -> float | None:
    return None if not math.isfinite(value) else round(float(value), 3)


def views(sounds: SoundSet, feats: Features | None = None) -> dict[str, Any]:
    feats = feats if feats is not None else features(sounds.audio)
    groups = sounds.groups
    member = {g: [i for i, c in enumerate(sounds.clips) if c.group == g] for g in groups}
    table = [
        {
            "name": clip.name,
            "group": clip.group,
            "source": clip.source["kind"],
            "sha256": clip.sha256,
            "f0": _number(feats.f0[i]),
            "centroid": _number(feats.centroid[i]),
            "peak_rms": _number(feats.rms[i].max()),
        }
        for i, clip in enumerate(sounds.clips)
    ]
    return {
        "table": table,
        "f0": {g: [{"name": sounds.clips[i].name, "f0": _number(feats.f0[i])} for i in member[g]] for g in groups},
        "histogram": {g: len(member[g]) for g in groups},
        "centroid": {
            g: [{"name": sounds.clips[i].name, "centroid": _number(feats.centroid[i])} for i in member[g]]
            for g in groups
        },
        "envelopegram": {
            "times": [round(float(t), 4) for t in feats.times],
            "groups": {g: [round(float(v), 5) for v in feats.rms[member[g]].mean(axis=0)] for g in groups},
        },
        "pca": pca_map(sounds, feats.spectrum_db),
    }


def table_csv(document: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(
        out, fieldnames=["name", "group", "source", "sha256", "f0", "centroid", "peak_rms"], lineterminator="\n"
    )
    writer.writeheader()
    writer.writerows(document["table"])
    return out.getvalue()


def figures(document: dict[str, Any], folder: Path) -> list[Path]:
    """One PNG per view (and the table as CSV); returns the files written."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    written = []

    def save(fig: Any, name: str) -> None:
        fig.tight_layout()
        write_atomic(folder / name, lambda stream: fig.savefig(stream, dpi=100, format="png"))
        plt.close(fig)
        written.append(folder / name)

    groups = list(document["histogram"])
    for key, label in (("f0", "f0 (Hz)"), ("centroid", "spectral centroid (Hz)")):
        fig, ax = plt.subplots(figsize=(7, 4))
        for n, group in enumerate(groups):
            values = [p[key] for p in document[key][group] if p[key] is not None]
            ax.scatter(np.full(len(values), n) + np.linspace(-0.2, 0.2, len(values)), values, label=group, s=18)
        ax.set_xticks(range(len(groups)), groups)
        ax.set_ylabel(label)
        if key == "f0":
            ax.set_yscale("log")
        save(fig, f"{key}.png")
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.bar(groups, [document["histogram"][g] for g in groups])
    ax.set_ylabel("clips")
    save(fig, "histogram.png")
    fig, ax = plt.subplots(figsize=(7, 4))
    for group, curve in document["envelopegram"]["groups"].items():
        ax.plot(document["envelopegram"]["times"], curve, label=group)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("mean RMS")
    ax.legend()
    save(fig, "envelopegram.png")
    fig, ax = plt.subplots(figsize=(6, 6))
    for group in groups:
        xy = np.array([[p["x"], p["y"]] for p in document["pca"]["points"] if p["group"] == group])
        ax.scatter(xy[:, 0], xy[:, 1], label=group, s=18)
    pc1, pc2 = document["pca"]["explained_variance"]
    ax.set_xlabel(f"PC1 ({pc1:.0%})")
    ax.set_ylabel(f"PC2 ({pc2:.0%})")
    ax.legend()
    save(fig, "pca.png")
    text = table_csv(document).encode()
    write_atomic(folder / "table.csv", lambda stream: stream.write(text))
    written.append(folder / "table.csv")
    return written
