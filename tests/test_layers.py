"""The layers hold: `lint-imports` keeps the contracts in pyproject.toml on the real tree, and it
fails when a lower app imports a higher one again (docs/ARCHITECTURE.md)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _lint_imports(*, config: Path, platform: Path) -> subprocess.CompletedProcess[str]:
    """lint-imports in a process of its own: it finds `ledgerline` under ``platform`` (the copy
    below, not the package this process has imported already), generation/ and ledgerline_verify/
    in the repo."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(platform), str(ROOT)])}
    return subprocess.run(
        [str(LINT_IMPORTS), str(config), "--no-cache"],
        cwd=config.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_code_keeps_its_layers() -> None:
    result = _lint_imports(config=ROOT / "pyproject.toml", platform=ROOT / "platform")
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_reintroduced_cycle_breaks_the_layers(tmp_path: Path) -> None:
    """datasets sits below works: datasets importing works is what the check is there to refuse."""
    shutil.copytree(
        ROOT / "platform" / "ledgerline",
        tmp_path / "platform" / "ledgerline",
        ignore=shutil.ignore_patterns("migrations", "static", "templates", "__pycache__"),
    )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    models = tmp_path / "platform" / "ledgerline" / "datasets" / "models.py"
    models.write_text(models.read_text() + "\nfrom ledgerline.works import models as _works  # noqa\n")

    result = _lint_imports(config=tmp_path / "pyproject.toml", platform=tmp_path / "platform")

    assert result.returncode != 0
    assert "ledgerline.datasets is not allowed to import ledgerline.works" in result.stdout
    assert "ledgerline.datasets.models -> ledgerline.works.models" in result.stdout
