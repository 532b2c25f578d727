"""Models trained in this repository and committed with the record that rebuilds them.

    make demo-model                                     # rebuild generation/prebuilt/demo-chorales
    python -m generation.prebuilt check demo-chorales   # rebuild under var/ and compare the weights

A prebuilt folder is a checkpoint without its config: `model.safetensors`, `originality.npz`
and `record.json`, which holds the checkpoint's config as training wrote it (model, tokenizer,
training config, every training piece's SHA-256 and side, the loss history, the tokens sampling
may emit), its loss curve, the weights' SHA-256, the test NLL on the committed split, and each
training piece's token count. Training is deterministic on CPU with a fixed number of steps and threads,
so `build` makes the same weights byte for byte on the same torch and CPU.

A platform training run with {"prebuilt": name} adopts it (`adopt`) instead of training: the
run's files must include every piece the model was trained on, by SHA-256; its checkpoint is
the committed weights with the run's dataset roots and licence, so the model enters the chain
of custody (signature, pin, anchor) as any trained model does.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from generation.family import CHECKPOINT, Trained, TrainJob
from generation.files import file_sha256, json_write

FOLDER = Path(__file__).resolve().parent / "prebuilt"
RECORD = "record.json"
WEIGHTS, CONFIG, ORIGINALITY = "model.safetensors", "config.json", "originality.npz"  # generation.checkpoint's
THREADS = 2  # the intra-op threads of the build: another count sums in another order


class PrebuiltError(ValueError):
    """The prebuilt model cannot be built or adopted as asked."""


@dataclass(frozen=True)
class Build:
    kind: str  # the family (generation.model kind) the model belongs to
    tokenizer: str
    model: dict[str, Any] = field(default_factory=dict)  # generation.model.ModelConfig fields
    train: dict[str, Any] = field(default_factory=dict)  # generation.train.TrainConfig fields


PREBUILT: dict[str, Build] = {
    # The chorale benchmark's Transformer (3 x 256, relative attention, a 256-token context) for
    # 800 steps on the committed split: about 30 minutes on 2 cores.
    "demo-chorales": Build(
        "transformer",
        "chorale",
        model={"kind": "transformer", "n_layers": 3},
        train={"seq_len": 256, "max_steps": 800, "eval_every": 50},
    ),
}


def prebuilt_names(kind: str) -> tuple[str, ...]:
    return tuple(name for name, build in PREBUILT.items() if build.kind == kind)


def build(name: str, out: Path, *, work: Path = Path("var/generation/prebuilt")) -> dict[str, Any]:
    """Train ``name`` from scratch as its Build says and write its folder to ``out``."""
    import torch

    from generation.data import PrepareConfig, prepare
    from generation.model import ModelConfig
    from generation.train import TrainConfig, train

    spec = PREBUILT[name]
    data = prepare(PrepareConfig(out=str(work / "data")))  # the built-in chorales, the committed split
    torch.set_num_threads(THREADS)
    run = work / name
    shutil.rmtree(run, ignore_errors=True)
    config = TrainConfig(
        data=str(data.folder), out=str(run), device="cpu", model=ModelConfig(**spec.model), **spec.train
    )
    return folder_write(train(config), data, out)


def folder_write(checkpoint: Any, data: Any, out: Path) -> dict[str, Any]:
    """The prebuilt folder of a finished build: weights, originality index and record."""
    from generation.data import training_tokens

    log = checkpoint.folder.parent / "log.jsonl"  # the run's validations: the loss curve
    record = {
        **checkpoint.config,
        "history": [json.loads(line) for line in log.read_text().splitlines() if line.strip()],
        "weights_sha256": checkpoint.weights_sha256(),
        "test_nll": _test_nll(checkpoint.folder, data),
        "threads": THREADS,
        "tokens": training_tokens(data.folder, key="sha256"),
        "rebuild": "make demo-model",
    }
    out.mkdir(parents=True, exist_ok=True)
    for file in (WEIGHTS, ORIGINALITY):
        shutil.copyfile(checkpoint.folder / file, out / file)
    json_write(out / RECORD, record)
    return record


def _test_nll(folder: Path, data: Any) -> float:
    import torch

    from generation.checkpoint import Checkpoint
    from generation.sample import model_load
    from generation.train import sequence_nll

    model = model_load(Checkpoint.open(folder))
    total, count = sequence_nll(
        model, data.sequences("test", augmented=False), data.tokenizer, device=torch.device("cpu")
    )
    return total / count


def record_read(name: str) -> dict[str, Any]:
    if name not in PREBUILT:
        raise PrebuiltError(f"there is no prebuilt model {name!r}; there are {', '.join(PREBUILT)}")
    record: dict[str, Any] = json.loads((FOLDER / name / RECORD).read_text())
    return record


def adopt(name: str, job: TrainJob, *, kind: str) -> Trained:
    """The committed model as the run's checkpoint, if the run holds every piece it trained on."""
    record = record_read(name)
    spec = PREBUILT[name]
    if spec.kind != kind or job.config.get("tokenizer") != spec.tokenizer:
        raise PrebuiltError(f"the prebuilt {name} is a {spec.kind} with the {spec.tokenizer} tokenizer")
    weights = FOLDER / name / WEIGHTS
    if file_sha256(weights) != record["weights_sha256"]:
        raise PrebuiltError(f"{weights} does not match the SHA-256 its record names; rebuild it (make demo-model)")
    manifest = json.loads(job.manifest.read_text())
    paths = {entry["sha256"]: entry["path"] for entry in manifest["files"]}
    missing = [p["name"] for p in record["data"]["pieces"] if p["sha256"] not in paths]
    if missing:
        raise PrebuiltError(
            f"the run's files lack {len(missing)} of the {len(record['data']['pieces'])} pieces the prebuilt "
            f"{name} was trained on (first {missing[0]}); give it a dataset version that holds them"
        )
    folder = job.folder / CHECKPOINT
    folder.mkdir(parents=True, exist_ok=True)
    for file in (WEIGHTS, ORIGINALITY):
        shutil.copyfile(FOLDER / name / file, folder / file)
    config = {
        key: record[key] for key in ("model", "tokenizer", "styles", "training", "data", "code", "allowed", "metrics")
    }
    config["data"] = {
        **record["data"],
        "dataset_roots": manifest.get("dataset_roots", []),
        "licence": manifest.get("licence"),
    }
    config["metrics"] = {**record["metrics"], "test_nll": record["test_nll"], "test_ppl": math.exp(record["test_nll"])}
    config["prebuilt"] = {
        "name": name,
        "weights_sha256": record["weights_sha256"],
        "rebuild": record["rebuild"],
        "threads": record["threads"],
    }
    json_write(folder / CONFIG, config)
    steps = record["training"]["max_steps"]
    for point in record["history"]:  # the curve of the training it adopts, for the run's page
        shown = {key: point[key] for key in ("step", "train_loss", "val_nll", "val_ppl")}
        job.progress(shown, {**shown, "max_steps": steps})
    return Trained(
        checkpoint=folder,
        metrics=config["metrics"],
        code_version="",
        usage={paths[sha256]: count for sha256, count in record["tokens"].items() if count},
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m generation.prebuilt", description=__doc__.split("\n")[0])
    parser.add_argument("action", choices=["build", "check"], help="build: rewrite the folder; check: compare")
    parser.add_argument("name", choices=sorted(PREBUILT))
    args = parser.parse_args(argv)
    if args.action == "build":
        record = build(args.name, FOLDER / args.name)
    else:
        record = build(args.name, Path("var/generation/prebuilt/check") / args.name)
        committed = record_read(args.name)["weights_sha256"]
        same = record["weights_sha256"] == committed
        print(f"rebuilt weights {record['weights_sha256']} {'==' if same else '!='} committed {committed}")
        if not same:
            raise SystemExit(1)
    print(
        json.dumps({k: record[k] for k in ("weights_sha256", "test_nll")} | {"val_nll": record["metrics"]["val_nll"]})
    )


if __name__ == "__main__":
    main()
