"""python -m generation.audio design|train|generate|plot  (each with --help)"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from generation.audio import train as training
from generation.audio.dataset import AudioError, SoundSet, file_import, synth_set
from generation.audio.generate import OUTPUT_RATES, GenerationError, Sound, SoundModel
from generation.audio.synth import Synth, SynthError, lab_synths, random_synths
from generation.audio.train import AudioCheckpoint, TrainingError
from generation.files import json_write, write_atomic

COMMANDS = ("design", "train", "generate", "plot")


def design(argv: Sequence[str]) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m generation.audio design",
        description="Add sounds to a sound set (created if missing): synthesised from JSON descriptions, "
        "imported from audio files, a random set for pre-training, or the four-group lab set.",
    )
    parser.add_argument("out", type=Path, help="the sound set folder")
    parser.add_argument("--synth", type=Path, action="append", default=[], help="a JSON list of synthesis descriptions")
    parser.add_argument(
        "--import", dest="files", type=Path, nargs="+", default=[], help="audio files to cut into clips"
    )
    parser.add_argument("--group", default="recorded", help="the group of imported clips")
    parser.add_argument("--random", type=int, default=0, help="this many random synthesised sounds (groups by kind)")
    parser.add_argument("--lab", action="store_true", help="the 60-clip, four-group lab set")
    parser.add_argument("--seed", type=int, default=0, help="for --random and --lab")
    args = parser.parse_args(argv)
    sounds = SoundSet.load(args.out) if (args.out / "clips.json").exists() else SoundSet()
    for path in args.synth:
        specs = [Synth.from_dict(item) for item in json.loads(path.read_text())]
        sounds = sounds.extend(synth_set(specs))
    for path in args.files:
        sounds = sounds.extend(file_import(path.read_bytes(), filename=path.name, group=args.group))
    if args.random:
        sounds = sounds.extend(synth_set(random_synths(args.random, seed=args.seed)))
    if args.lab:
        sounds = sounds.extend(synth_set(lab_synths(seed=args.seed)))
    sounds.save(args.out)
    print(f"{args.out}: {len(sounds)} clips in groups {', '.join(sounds.groups)}")


def generate(argv: Sequence[str]) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m generation.audio generate",
        description="Decode new sounds: between two sounds (--between A B --ratio R), along a path through "
        "several (--path A B C --steps N), or from the prior (--prior N --seed S). Writes 24-bit WAV and a "
        "JSON record of each sound's provenance.",
    )
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--sounds", type=Path, help="the sound set the named sounds are in")
    parser.add_argument("--out", type=Path, required=True, help="folder for the WAV files")
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--between", nargs=2, metavar="NAME", help="two clip names")
    mode.add_argument("--path", nargs="+", metavar="NAME", help="two or more clip names")
    mode.add_argument("--prior", type=int, metavar="COUNT", help="random sounds")
    parser.add_argument("--ratio", type=float, default=0.5, help="0 is the first sound, 1 the second")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rate", type=int, default=44_100, choices=OUTPUT_RATES)
    args = parser.parse_args(argv)
    model = SoundModel(AudioCheckpoint(args.checkpoint))
    if args.prior is not None:
        made = model.prior(args.prior, seed=args.seed, rate=args.rate)
    else:
        if args.sounds is None:
            raise GenerationError("--between and --path need --sounds, the set the clips are in")
        sounds = SoundSet.load(args.sounds)
        if args.between:
            made = [model.interpolate(sounds, args.between, args.ratio, rate=args.rate)]
        else:
            made = model.path(sounds, args.path, args.steps, rate=args.rate)
    _write(made, args.out)


def _write(made: Sequence[Sound], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for n, sound in enumerate(made):
        path = out / f"sound{n}.wav"
        wav = sound.wav
        write_atomic(path, lambda stream: stream.write(wav))  # noqa: B023 (called at once)
        json_write(
            path.with_suffix(".json"), {"sha256": sound.sha256, "rate": sound.rate, "provenance": sound.provenance}
        )
        print(f"{path}  sha256 {sound.sha256}")


def plot(argv: Sequence[str]) -> None:
    from generation.audio.views import figures, views

    parser = argparse.ArgumentParser(
        prog="python -m generation.audio plot",
        description="The views of a sound set (f0, histogram, centroid, envelopegram, PCA) as PNG, the table as "
        "CSV and everything as views.json.",
    )
    parser.add_argument("sounds", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--groups", help="only these groups, comma-separated")
    args = parser.parse_args(argv)
    sounds = SoundSet.load(args.sounds)
    if args.groups:
        sounds = sounds.filter(groups=args.groups.split(","))
    if len(sounds) == 0:
        raise AudioError("no clips to plot")
    document = views(sounds)
    written = figures(document, args.out)
    json_write(args.out / "views.json", document)
    print("\n".join(str(p) for p in [*written, args.out / "views.json"]))


def main(argv: Sequence[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in COMMANDS:
        sys.exit(f"usage: python -m generation.audio {{{'|'.join(COMMANDS)}}} --help")
    command, rest = argv[0], argv[1:]
    run = {"design": design, "train": training.main, "generate": generate, "plot": plot}[command]
    try:
        run(rest)
    except (AudioError, SynthError, TrainingError, GenerationError, OSError, ValueError) as error:
        sys.exit(f"{command}: {error}")


if __name__ == "__main__":
    main()
