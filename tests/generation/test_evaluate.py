import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from generation.adversarial import AdversarialConfig, finetune
from generation.checkpoint import Checkpoint
from generation.data import DataError, PrepareConfig, Prepared, prepare
from generation.evaluate import EvaluateConfig, evaluate, report_markdown
from generation.sample import SampleParams

ROOT = Path(__file__).resolve().parents[2]


def test_the_report_scores_models_and_ngrams_on_the_same_tokens(checkpoint: Checkpoint, prepared: Prepared) -> None:
    config = EvaluateConfig(
        data=str(prepared.folder),
        checkpoints=(str(checkpoint.folder),),
        ngram_orders=(3, 6),
        samples=3,
        sample=SampleParams(length=200),
    )
    report = evaluate(config)
    likelihood = report["likelihood"]
    assert {"3-gram", "6-gram"} <= set(likelihood)
    counts = {entry["tokens"] for entry in likelihood.values()}
    assert len(counts) == 1  # every model predicts the same test tokens
    assert all(math.isfinite(entry["nll"]) and entry["nll"] > 0 for entry in likelihood.values())
    assert likelihood["6-gram"]["nll"] < likelihood["3-gram"]["nll"]
    model = next(name for name in likelihood if name.startswith("lstm"))
    assert set(report["music"][model]) == {"pitch_class_entropy", "scale_consistency", "polyphony", "empty_beat_rate"}
    assert "mean_longest_melody_run" in report["originality"]["held-out"]
    assert "| 6-gram |" in report_markdown(report)


def test_adversarial_fine_tuning_records_what_it_started_from(
    checkpoint: Checkpoint, prepared: Prepared, tmp_path: Path
) -> None:
    config = AdversarialConfig(
        data=str(prepared.folder),
        out=str(tmp_path),
        steps=2,
        critic_steps=2,
        eval_every=1,
        prefix=8,
        length=8,
        batch_size=4,
    )
    tuned = finetune(checkpoint, config)
    assert tuned.config["adversarial"]["from_weights_sha256"] == checkpoint.weights_sha256()
    assert tuned.weights_sha256() != checkpoint.weights_sha256()
    assert tuned.config["adversarial"]["config"]["lam"] == 0.1
    assert math.isfinite(tuned.config["metrics"]["val_nll"])
    assert json.loads((tmp_path / "log.jsonl").read_text().splitlines()[0])["step"] == 1


def test_it_refuses_to_score_a_model_on_pieces_it_trained_on(
    checkpoint: Checkpoint, prepared: Prepared, chorale_folder: Path, tmp_path: Path
) -> None:
    other = prepare(PrepareConfig(source=str(chorale_folder), out=str(tmp_path), split_seed=1))
    with pytest.raises(DataError, match=r"trained on \d+ of .* held-out pieces"):
        evaluate(EvaluateConfig(data=str(other.folder), checkpoints=(str(checkpoint.folder),), ngram_orders=(3,)))


@pytest.mark.parametrize("module", ["data", "train", "sample", "evaluate", "adversarial"])
def test_each_command_explains_itself(module: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", f"generation.{module}", "--help"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.startswith("usage: python -m generation.")


def test_the_library_runs_without_django() -> None:
    code = (
        "import sys, generation.train, generation.sample, generation.evaluate, generation.adversarial, "
        "generation.audio.__main__, generation.audio.views; "
        "assert not any(m.startswith(('django', 'ledgerline')) for m in sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
