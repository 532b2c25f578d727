"""The sound-design page's work (ASCIML's workflow): a synthesised sound added to a dataset as a
16 kHz WAV, and the dataset's views (generation.audio.views) laid out as SVG coordinates."""

import hashlib
import io
import math
from pathlib import PurePosixPath
from typing import Any

import soundfile
from django.core.cache import cache

from ledgerline.datasets.blobs import blob_file, blob_stage
from ledgerline.datasets.models import Dataset
from ledgerline.datasets.services import StagedFile, dataset_files_add

PLOT = (400, 160)  # each plot's view box
AUDIO_TYPES = ("audio/wav", "audio/flac", "audio/mpeg")
VIEWS_KEPT = 24 * 3600  # seconds


def wav_bytes(samples: Any, rate: int = 16_000) -> bytes:
    wav = io.BytesIO()
    soundfile.write(wav, samples, rate, format="WAV", subtype="PCM_16")
    return wav.getvalue()


def group_of(path: str) -> str:
    """A clip's group: the file's folder (bells/fm-440.wav is a bell), else its name."""
    parts = PurePosixPath(path)
    return parts.parent.name or parts.stem


def synth_add(*, dataset: Dataset, description: dict[str, Any], added_by: Any) -> str:
    """Synthesise one sound (generation.audio.synth) and add it to the dataset; its path."""
    from generation.audio.synth import SAMPLE_RATE, Synth, synthesise

    spec = Synth.from_dict(description)  # SynthError names what is wrong
    audio = synthesise([spec])[0]
    wav = io.BytesIO()
    soundfile.write(wav, audio, SAMPLE_RATE, format="WAV", subtype="PCM_16")
    wav.seek(0)
    taken = set(dataset.files.values_list("path", flat=True))
    n = next(i for i in range(len(taken) + 1) if f"{spec.group}/{spec.kind}-{round(spec.freq)}hz-{i}.wav" not in taken)
    path = f"{spec.group}/{spec.kind}-{round(spec.freq)}hz-{n}.wav"
    temp_path, sha256, size = blob_stage(wav)
    dataset_files_add(
        dataset=dataset, files=[StagedFile(name=path, temp_path=temp_path, sha256=sha256, size=size)], added_by=added_by
    )
    return path


def dataset_views(dataset: Dataset, *, group: str = "") -> dict[str, Any] | None:
    """The views of the dataset's sounds (of one group, if named) as plot coordinates; None if it has none."""
    files = list(dataset.files.filter(media_type__in=AUDIO_TYPES).select_related("blob").order_by("path"))
    # pYIN takes a fifth of a second a clip: the views are kept until the files change.
    state = hashlib.sha256("".join(f"{f.path}\0{f.blob.sha256}\0" for f in files).encode()).hexdigest()
    key = f"sound-views:{dataset.pk}:{group}:{state}"
    cached = cache.get(key)
    if cached is not None:
        return dict(cached) if cached else None
    laid_out = _views(files, group=group)
    cache.set(key, laid_out or {}, timeout=VIEWS_KEPT)
    return laid_out


def _views(files: list[Any], *, group: str) -> dict[str, Any] | None:
    from generation.audio.dataset import AudioError, SoundSet, file_import
    from generation.audio.views import views

    sounds = SoundSet()
    for file in files:
        if group and group_of(file.path) != group:
            continue
        try:
            sounds = sounds.extend(
                file_import(blob_file(file.blob.sha256).read_bytes(), filename=file.path, group=group_of(file.path))
            )
        except AudioError:
            continue  # the upload checks refused what cannot be decoded; nothing else to show
    if not len(sounds):
        return None
    document = views(sounds)
    groups = sorted(document["histogram"])
    colour = {g: f"hsl({round(360 * i / len(groups))} 60% 42%)" for i, g in enumerate(groups)}
    return {
        "table": document["table"],
        "groups": [{"name": g, "colour": colour[g], "count": document["histogram"][g]} for g in groups],
        "f0": _scatter(document["table"], "f0", colour, log=True),
        "centroid": _scatter(document["table"], "centroid", colour, log=True),
        "histogram": _bars(document["histogram"], colour),
        "envelopegram": _lines(document["envelopegram"], colour),
        "pca": _points(document["pca"]["points"], colour),
    }


def _scale(values: list[float], size: float, *, log: bool = False, flip: bool = False) -> list[float]:
    mapped = [math.log(v) if log else v for v in values]
    low, high = min(mapped), max(mapped)
    span = (high - low) or 1.0
    placed = [8 + (size - 16) * (v - low) / span for v in mapped]
    return [size - p for p in placed] if flip else placed


def _scatter(table: list[dict[str, Any]], key: str, colour: dict[str, str], *, log: bool) -> list[dict[str, Any]]:
    rows = [r for r in table if r[key] is not None and r[key] > 0]
    if not rows:
        return []
    xs = _scale(list(range(len(rows))), PLOT[0]) if len(rows) > 1 else [PLOT[0] / 2]
    ys = _scale([r[key] for r in rows], PLOT[1], log=log, flip=True)
    return [
        {"x": x, "y": y, "colour": colour[r["group"]], "label": f"{r['name']}: {r[key]:.0f} Hz"}
        for x, y, r in zip(xs, ys, rows, strict=True)
    ]


def _bars(counts: dict[str, int], colour: dict[str, str]) -> list[dict[str, Any]]:
    width = PLOT[0] / max(len(counts), 1)
    top = max(counts.values(), default=1)
    bars = []
    for i, (group, n) in enumerate(sorted(counts.items())):
        height = (PLOT[1] - 20) * n / top
        bars.append(
            {
                "x": i * width + 4,
                "width": width - 8,
                "height": height,
                "y": PLOT[1] - 10 - height,
                "colour": colour[group],
                "label": f"{group}: {n}",
            }
        )
    return bars


def _lines(envelopegram: dict[str, Any], colour: dict[str, str]) -> list[dict[str, Any]]:
    times = envelopegram["times"]
    top = max((max(v) for v in envelopegram["groups"].values() if v), default=1) or 1
    lines = []
    for group, values in sorted(envelopegram["groups"].items()):
        points = " ".join(
            f"{PLOT[0] * t / (times[-1] or 1):.1f},{PLOT[1] - 8 - (PLOT[1] - 16) * v / top:.1f}"
            for t, v in zip(times, values, strict=True)
        )
        lines.append({"points": points, "colour": colour[group], "label": group})
    return lines


def _points(points: list[dict[str, Any]], colour: dict[str, str]) -> list[dict[str, Any]]:
    if not points:
        return []
    xs = _scale([p["x"] for p in points], PLOT[0]) if len(points) > 1 else [PLOT[0] / 2]
    ys = _scale([p["y"] for p in points], PLOT[1], flip=True) if len(points) > 1 else [PLOT[1] / 2]
    return [
        {"x": x, "y": y, "colour": colour[p["group"]], "label": p["name"]}
        for x, y, p in zip(xs, ys, points, strict=True)
    ]
