from pathlib import Path

import pytest

from ledgerline.env import envbool, envint, envsecret


def test_a_secret_can_come_from_a_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "secret").write_text("from-file\n")
    monkeypatch.setenv("THING", "direct")
    assert envsecret("THING") == "direct"
    monkeypatch.setenv("THING_FILE", str(tmp_path / "secret"))
    assert envsecret("THING") == "from-file"


def test_a_bad_boolean_or_integer_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLAG", "maybe")
    with pytest.raises(ValueError, match="FLAG must be a boolean"):
        envbool("FLAG", False)
    monkeypatch.setenv("COUNT", "ten")
    with pytest.raises(ValueError, match="COUNT must be an integer"):
        envint("COUNT", 1)
    monkeypatch.setenv("FLAG", "off")
    assert envbool("FLAG", True) is False


def test_the_example_env_file_lists_every_setting_read() -> None:
    root = Path(__file__).resolve().parents[1]
    settings_source = (root / "platform" / "ledgerline" / "settings.py").read_text()
    example = (root / ".env.example").read_text()
    import re

    names = set(re.findall(r'env(?:str|bool|int|list|secret)\("([A-Z_]+)"', settings_source))
    names |= {"DATABASE_URL"}
    missing = sorted(n for n in names if f"\n{n}=" not in "\n" + example)
    assert not missing, f".env.example lacks {missing}"


def test_an_empty_database_url_means_the_sqlite_default(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "DATABASE_URL": "", "LEDGERLINE_VAR_DIR": str(tmp_path)}
    out = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "shell",
            "-c",
            "from django.conf import settings; print(settings.DATABASES['default']['NAME'])",
        ],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.strip().splitlines()[-1] == str(tmp_path / "ledgerline.sqlite3")
