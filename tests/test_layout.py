"""platform/ is a source root, never a package: the standard library's `platform` (which
`uuid`, and so Django, import) must stay reachable from every entry point."""

import os
import shutil
import signal
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STDLIB = Path(sysconfig.get_paths()["stdlib"]).resolve()
PROBE = "import uuid, platform; print(platform.system(), platform.__file__)"


def _is_stdlib(path: str) -> bool:
    return Path(path).resolve().is_relative_to(STDLIB)


def test_there_is_no_package_called_platform() -> None:
    assert not (ROOT / "platform" / "__init__.py").exists()


def test_it_works_from_the_repo_root() -> None:
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    system, path = out.split()
    assert system == "Linux" and _is_stdlib(path)


def test_it_works_in_manage_py() -> None:
    out = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", PROBE], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    system, path = out.splitlines()[-1].split()  # Django's shell may first list its auto-imports
    assert system == "Linux" and _is_stdlib(path)


def test_it_works_in_pytest() -> None:
    import platform

    import ledgerline

    assert platform.system() == "Linux" and _is_stdlib(platform.__file__)
    assert Path(ledgerline.__file__).parent == ROOT / "platform" / "ledgerline"


@pytest.mark.slow
def test_it_works_in_a_celery_worker(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "LEDGERLINE_VAR_DIR": str(tmp_path),
        "CELERY_BROKER_URL": "filesystem://",
        # as `make run` and the Dockerfile set it: the Django project, and generation/ and ledgerline_verify/
        "PYTHONPATH": f"{ROOT / 'platform'}:{ROOT}",
    }
    celery = shutil.which("celery", path=str(Path(sys.executable).parent))
    assert celery
    worker = subprocess.Popen(
        [celery, "-A", "ledgerline", "worker", "--pool=solo", "--loglevel=WARNING"],
        cwd=ROOT / "platform",
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        script = (
            "from ledgerline.tasks import health; "
            "r = health.delay().get(timeout=60); print(r['system'], r['platform_module'])"
        )
        out = subprocess.run(
            [sys.executable, "-c", f"import django; django.setup(); {script}"],
            cwd=ROOT,
            env={**env, "DJANGO_SETTINGS_MODULE": "ledgerline.settings"},
            capture_output=True,
            text=True,
            timeout=90,
        )
        assert out.returncode == 0, out.stderr
        system, path = out.stdout.split()
        assert system == "Linux" and _is_stdlib(path)
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
