"""A checkpoint's weights file has the same bytes for the same weights in every process, tied
weights included (the demo model's rebuild check compares those bytes)."""

import subprocess
import sys
from pathlib import Path

WRITE = """
import sys, torch
from pathlib import Path
from generation.checkpoint import weights_write
from generation.model import ModelConfig, model_build
torch.manual_seed(0)
model = model_build(ModelConfig(kind="transformer", vocab_size=40, d_model=32, n_heads=2, n_layers=1, block_size=32))
weights_write(model, Path(sys.argv[1]))
"""


def test_tied_weights_are_written_with_the_same_bytes_in_every_process(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    files = [tmp_path / f"{seed}.safetensors" for seed in range(4)]
    for seed, path in enumerate(files):
        env = {"PYTHONHASHSEED": str(seed), "PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"}
        subprocess.run([sys.executable, "-c", WRITE, str(path)], check=True, env=env, cwd=root)
    assert len({path.read_bytes() for path in files}) == 1

    import torch
    from safetensors.torch import load_model

    from generation.model import ModelConfig, model_build

    model = model_build(
        ModelConfig(kind="transformer", vocab_size=40, d_model=32, n_heads=2, n_layers=1, block_size=32)
    )
    load_model(model, str(files[0]))
    tied = [
        p for n, p in model.named_parameters(remove_duplicate=False) if n.endswith(("head.weight", "embedding.weight"))
    ]
    assert len(tied) == 2 and tied[0].data_ptr() == tied[1].data_ptr()
    torch.manual_seed(0)
    fresh = model_build(
        ModelConfig(kind="transformer", vocab_size=40, d_model=32, n_heads=2, n_layers=1, block_size=32)
    )
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), fresh.state_dict().values(), strict=True))
