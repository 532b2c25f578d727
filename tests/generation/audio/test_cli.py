"""The command line: design, plot, train and generate, as a composer would run them."""

import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile

from generation.audio.__main__ import COMMANDS, main
from generation.audio.dataset import SoundSet
from generation.audio.train import AudioCheckpoint


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_explains_itself(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit:
        main([command, "--help"])
    assert exit.value.code == 0
    assert f"python -m generation.audio {command}" in capsys.readouterr().out


def test_a_composer_designs_plots_trains_and_generates(tmp_path: Path) -> None:
    sounds = tmp_path / "set"
    specs = [{"kind": "fm", "group": "bells", "freq": f, "ratio": 2.0} for f in (220.0, 330.0)]
    specs += [{"kind": "additive", "group": "organ", "freq": f} for f in (110.0, 165.0)]
    (tmp_path / "synths.json").write_text(json.dumps(specs))
    t = np.arange(66_150) / 44_100
    soundfile.write(tmp_path / "take.wav", 0.4 * np.sin(2 * np.pi * 262 * t), 44_100, subtype="PCM_16")
    main(["design", str(sounds), "--synth", str(tmp_path / "synths.json")])
    main(["design", str(sounds), "--import", str(tmp_path / "take.wav"), "--group", "voice"])
    made = SoundSet.load(sounds)
    assert [c.name for c in made.clips] == ["bells0", "bells1", "organ0", "organ1", "voice0", "voice1"]

    main(["plot", str(sounds), "--out", str(tmp_path / "views")])
    views = json.loads((tmp_path / "views" / "views.json").read_text())
    assert views["histogram"] == {"bells": 2, "organ": 2, "voice": 2}
    assert (tmp_path / "views" / "envelopegram.png").exists()

    model = tmp_path / "model"
    main(["train", str(sounds), "--out", str(model), "--epochs", "2", "--batch-size", "3", "--model.channels", "32"])
    assert len(json.loads((model / "config.json").read_text())["history"]) == 2

    path = ["--path", "bells0", "organ1", "voice0", "--steps", "3"]
    main(["generate", str(model), "--sounds", str(sounds), *path, "--out", str(tmp_path / "new"), "--rate", "48000"])
    for n in range(3):
        wav = (tmp_path / "new" / f"sound{n}.wav").read_bytes()
        assert soundfile.info(io.BytesIO(wav)).samplerate == 48_000
        record = json.loads((tmp_path / "new" / f"sound{n}.json").read_text())
        assert record["provenance"]["step"] == n and record["provenance"]["kind"] == "path"


def test_mistakes_end_with_a_message_not_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text(json.dumps([{"kind": "granular"}]))
    with pytest.raises(SystemExit, match="design: unknown synthesis 'granular'"):
        main(["design", str(tmp_path / "set"), "--synth", str(tmp_path / "bad.json")])
    (tmp_path / "noise.wav").write_bytes(b"RIFF not really")
    with pytest.raises(SystemExit, match="could not be read as audio"):
        main(["design", str(tmp_path / "set"), "--import", str(tmp_path / "noise.wav")])
    with pytest.raises(SystemExit, match="is not a sound set"):
        main(["train", str(tmp_path / "nowhere"), "--out", str(tmp_path / "m")])
    assert not (tmp_path / "set").exists()


def test_a_damaged_model_is_refused_with_the_reason(sound_model: AudioCheckpoint, tmp_path: Path) -> None:
    copy = tmp_path / "model"
    shutil.copytree(sound_model.folder, copy)
    weights = copy / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(SystemExit, match="does not match the hash"):
        main(["generate", str(copy), "--prior", "1", "--out", str(tmp_path / "out")])
    (copy / "config.json").write_text("{}")
    with pytest.raises(SystemExit, match="does not describe a model"):
        main(["generate", str(copy), "--prior", "1", "--out", str(tmp_path / "out")])
