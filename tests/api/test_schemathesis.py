"""Schemathesis, with all its default checks, against the API's own schema on a live server
holding the demo's data (schemathesis.toml names what the schema cannot say). A bounded number of
examples: the full run is the README's command."""

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.daemons import ledgerline_env, ledgerline_served

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
SCHEMATHESIS = Path(PYTHON).with_name("schemathesis")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        bool(os.environ.get("DATABASE_URL")), reason="its server runs on SQLite: the SQLite pass runs it"
    ),
]


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    # Thousands of requests in a minute: the rate limits are the abuse tests' to check.
    return ledgerline_env(
        tmp_path_factory.mktemp("schemathesis-var"),
        SIGNING_KEY_PASSPHRASE="schemathesis test passphrase",
        LEDGERLINE_VERIFY_RATE_ANON="100000/min",
        LEDGERLINE_VERIFY_RATE_USER="100000/min",
        LEDGERLINE_TOKEN_CREATE_RATE="100000/hour",
    )


def manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    return done.stdout


@pytest.fixture(scope="module")
def server(env: dict[str, str]) -> Iterator[str]:
    manage(env, "migrate", "--noinput")
    manage(env, "demo")
    with ledgerline_served(env, "--only", "web") as (url, _, _):
        yield url


def demo_admin_token(env: dict[str, str]) -> str:
    script = (
        "from ledgerline.accounts.models import Membership\n"
        "from ledgerline.accounts.services import api_token_create\n"
        "membership = Membership.objects.get(user__username='demo-admin', organisation__slug='demo-label')\n"
        "print(api_token_create(membership=membership, name='schemathesis')[1])\n"
    )
    return manage(env, "shell", "-c", script).strip().splitlines()[-1]


def test_the_api_keeps_to_its_schema_under_schemathesis(server: str, env: dict[str, str]) -> None:
    token = demo_admin_token(env)
    done = subprocess.run(
        [
            str(SCHEMATHESIS),
            "--no-color",
            "run",
            f"{server}/api/schema/",
            "--url",
            server,
            "-H",
            f"Authorization: Bearer {token}",
            "--max-examples",
            "5",
            "--seed",
            "1",
            "--workers",
            "1",
            "--continue-on-failure",
        ],
        cwd=ROOT,
        env={**os.environ, "SCHEMATHESIS_HOOKS": "tests.api.schemathesis_hooks", "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-20_000:] + done.stderr[-5_000:]
    generated, passed = map(int, re.search(r"(\d+) generated, (\d+) passed", done.stdout).groups())  # type: ignore[union-attr]
    assert generated == passed > 1000  # every operation was reached, every case passed
