"""Secrets at rest: the embedded passphrase is refused for a public host, key files are
encrypted under 600,000 PBKDF2 rounds (older ones are brought up to them), the files holding
secrets are this user's alone, and cookies go over HTTPS only behind TLS."""

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import keys as asn1_keys
from asn1crypto import pem as asn1_pem
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ledgerline.accounts.models import Organisation
from ledgerline.env import public_hosts
from ledgerline.provenance import keys, services
from ledgerline.provenance.models import SigningKey
from ledgerline.provenance.selectors import signed_manifest_verify

ROOT = Path(__file__).resolve().parents[1]


def _env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    """A fresh var dir, and none of this process's Django or passphrase settings."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(
            ("DJANGO_", "DATABASE_URL", "SIGNING_KEY", "ALLOWED_HOSTS", "DEBUG", "SECURE_", "SITE_URL")
        )
    }
    env |= {"LEDGERLINE_VAR_DIR": str(tmp_path / "var"), "PYTHONPATH": f"{ROOT / 'platform'}{os.pathsep}{ROOT}"}
    return env | overrides


def _manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        umask=0o022,
        timeout=300,
    )


def _rounds(pem: bytes) -> tuple[str, str, str, int, int]:
    """KDF, its hash, cipher, key length and rounds, read from the PEM's PKCS#8 envelope."""
    _, _, der = asn1_pem.unarmor(pem)
    algorithm = asn1_keys.EncryptedPrivateKeyInfo.load(der)["encryption_algorithm"]
    return (
        algorithm.kdf,
        algorithm.kdf_hmac,
        algorithm.encryption_cipher,
        algorithm.key_length,
        algorithm.kdf_iterations,
    )


# --- the embedded passphrase and a public host ---


@pytest.mark.parametrize(
    ("hosts", "public"),
    [
        (["127.0.0.1", "localhost", "testserver"], []),
        (["::1", "[::1]", "127.0.0.2", "app.localhost", "ledgerline.test", "site.example", ".x.invalid"], []),
        (["ledgerline.example.org", "localhost"], ["ledgerline.example.org"]),
        (["*"], ["*"]),
        ([".example.com"], [".example.com"]),
        (["10.0.0.5", "0.0.0.0"], ["10.0.0.5", "0.0.0.0"]),
    ],
)
def test_only_loopback_and_reserved_test_names_count_as_local(hosts: list[str], public: list[str]) -> None:
    assert public_hosts(hosts) == public


@pytest.mark.parametrize(
    "start",
    [
        ["manage.py", "check"],
        ["-c", "import ledgerline.wsgi"],
        ["-m", "celery", "--workdir", "platform", "-A", "ledgerline", "worker", "--pool=solo", "--queues", "none"],
    ],
    ids=["manage.py", "gunicorn", "celery"],
)
def test_a_public_host_with_the_embedded_passphrase_does_not_start(tmp_path: Path, start: list[str]) -> None:
    env = _env(tmp_path, DEBUG="0", ALLOWED_HOSTS="ledgerline.example.org")
    refused = subprocess.run([sys.executable, *start], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert refused.returncode != 0
    assert "SIGNING_KEY_PASSPHRASE_FILE" in refused.stderr and "ledgerline.example.org" in refused.stderr
    if start[0] != "-m":  # a worker that starts runs until stopped
        started = subprocess.run(
            [sys.executable, *start],
            cwd=ROOT,
            env=env | {"SIGNING_KEY_PASSPHRASE": "a secret"},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert started.returncode == 0, started.stderr


# --- key files: 600,000 PBKDF2 rounds ---


@pytest.fixture
def default_rounds(settings: Any) -> None:
    """The rounds outside the tests, not tests/conftest.py's quick ones."""
    del settings.SIGNING_KEY_KDF_ROUNDS


@pytest.fixture
def organisation(team: Any) -> Organisation:
    return team.organisation


def _old_key(organisation: Organisation, settings: Any) -> tuple[SigningKey, Path]:
    """A key as the code before 600,000 rounds wrote it (BestAvailableEncryption: 2,048)."""
    private_key = ec.generate_private_key(ec.SECP256R1())
    key_id = keys.key_id_of(private_key.public_key())
    path = Path(settings.SIGNING_KEYS_DIR) / (key_id.removeprefix("sha256:") + ".pem")
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.write_bytes(
        private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(settings.SIGNING_KEY_PASSPHRASE.encode()),
        )
    )
    path.chmod(0o600)
    assert _rounds(path.read_bytes())[-1] == 2048
    row = SigningKey.objects.create(
        organisation=organisation,
        key_id=key_id,
        algorithm=keys.ALGORITHM,
        public_key_pem=keys.public_pem(private_key.public_key()),
    )
    return row, path


def test_a_new_key_file_takes_600000_pbkdf2_rounds(
    organisation: Organisation, settings: Any, default_rounds: None
) -> None:
    key = services.signing_key_active(organisation=organisation)
    pem = (Path(settings.SIGNING_KEYS_DIR) / (key.key_id.removeprefix("sha256:") + ".pem")).read_bytes()
    kdf, prf, cipher, key_length, rounds = _rounds(pem)
    assert (kdf, prf, cipher, key_length) == ("pbkdf2", "sha256", "aes", 32)
    assert rounds >= 600_000
    loaded = serialization.load_pem_private_key(pem, password=settings.SIGNING_KEY_PASSPHRASE.encode())
    assert keys.key_id_of(loaded.public_key()) == key.key_id  # type: ignore[arg-type]


def test_an_old_key_still_signs_and_its_file_is_encrypted_again(
    organisation: Organisation, settings: Any, default_rounds: None
) -> None:
    old, path = _old_key(organisation, settings)
    signed = services.manifest_sign(organisation=organisation, manifest={"n": 1})
    assert signed["signature"]["key_id"] == old.key_id
    assert signed_manifest_verify(signed=signed, public_key_pem=old.public_key_pem)
    assert _rounds(path.read_bytes())[-1] >= 600_000
    assert path.stat().st_mode & 0o077 == 0
    keys._decrypted.cache_clear()
    reloaded = keys.KeyStore.default().load(old.key_id)
    assert keys.public_pem(reloaded.public_key()) == old.public_key_pem


def test_an_old_key_on_a_read_only_mount_still_signs(
    organisation: Organisation, settings: Any, default_rounds: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    old, path = _old_key(organisation, settings)

    def read_only(*args: Any, **kwargs: Any) -> Any:  # root writes through any mode: the fault is made here
        raise PermissionError(30, "Read-only file system")

    monkeypatch.setattr(keys.tempfile, "mkstemp", read_only)
    signed = services.manifest_sign(organisation=organisation, manifest={"n": 1})
    assert signed_manifest_verify(signed=signed, public_key_pem=old.public_key_pem)
    assert _rounds(path.read_bytes())[-1] == 2048  # left as it was, to be encrypted again where it can be


def test_rotating_away_from_an_old_key_encrypts_its_file_again(
    organisation: Organisation, settings: Any, default_rounds: None
) -> None:
    old, path = _old_key(organisation, settings)
    new = services.signing_key_rotate(organisation=organisation, actor=None)
    assert new.key_id != old.key_id
    assert _rounds(path.read_bytes())[-1] >= 600_000
    keys._decrypted.cache_clear()
    assert keys.public_pem(keys.KeyStore.default().load(old.key_id).public_key()) == old.public_key_pem


def test_a_batch_of_signatures_decrypts_the_key_once(
    organisation: Organisation, monkeypatch: pytest.MonkeyPatch, default_rounds: None
) -> None:
    calls = []
    decrypt = serialization.load_pem_private_key

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return decrypt(*args, **kwargs)

    monkeypatch.setattr(keys.serialization, "load_pem_private_key", counted)
    for n in range(10):
        services.manifest_sign(organisation=organisation, manifest={"n": n})
    assert len(calls) == 1


# --- files: this user's alone ---


@pytest.mark.parametrize("var", ["fresh", "left open by an older version"])
def test_the_database_keys_and_chain_state_are_this_users_alone(tmp_path: Path, var: str) -> None:
    if var != "fresh":
        (tmp_path / "var").mkdir(mode=0o755)
        (tmp_path / "var").chmod(0o755)
        (tmp_path / "var" / "ledgerline.sqlite3").touch(mode=0o644)
        (tmp_path / "var" / "ledgerline.sqlite3").chmod(0o644)
    env = _env(tmp_path, SIGNING_KEY_PASSPHRASE="", DATABASE_URL="")
    script = (
        "import json, os\n"
        "from pathlib import Path\n"
        "from django.conf import settings\n"
        "from django.db import connection\n"
        "from ledgerline.ledger.client import account_load, web3_connect\n"
        "from ledgerline.provenance.keys import KeyStore\n"
        "with connection.cursor() as cursor:\n"
        "    cursor.execute('CREATE TABLE t (x)')\n"
        "    cursor.execute('INSERT INTO t VALUES (1)')\n"
        "    KeyStore.default().generate()\n"
        "    web3_connect(account_load()).eth.block_number\n"
        "    found = {str(p.relative_to(settings.VAR_DIR)): os.stat(p).st_mode for p in settings.VAR_DIR.rglob('*')}\n"
        "    found['.'] = os.stat(settings.VAR_DIR).st_mode\n"
        "print(json.dumps(found))\n"
    )
    done = _manage(env, "shell", "-c", script)
    assert done.returncode == 0, done.stderr
    modes = json.loads(done.stdout.strip().splitlines()[-1])
    secret = [
        name
        for name in modes
        if name in {".", "keys", "chain"} or name.startswith(("ledgerline.sqlite3", "keys/", "chain/"))
    ]
    assert {"ledgerline.sqlite3-wal", "keys/.passphrase", "keys/chain-account.json", "chain/chain.sqlite3-wal"} <= set(
        secret
    )
    assert {name: oct(modes[name]) for name in secret if modes[name] & 0o077} == {}


# --- cookies behind TLS ---


def _cookies(tmp_path: Path, **env: str) -> dict[str, Any]:
    script = (
        "import json\n"
        "from django.test import Client\n"
        "response = Client().get('/login/', headers={'X-Forwarded-Proto': 'https'})\n"
        "cookie = response.cookies['csrftoken']\n"
        "print(json.dumps({'status': response.status_code, 'secure': bool(cookie['secure']),\n"
        "                  'https': response.wsgi_request.is_secure(),\n"
        "                  'hsts': response.get('Strict-Transport-Security')}))\n"
    )
    done = _manage(_env(tmp_path, SIGNING_KEY_PASSPHRASE="x", ALLOWED_HOSTS="testserver", **env), "shell", "-c", script)
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_behind_tls_cookies_go_over_https_only(tmp_path: Path) -> None:
    behind_tls = _cookies(
        tmp_path,
        SITE_URL="https://ledgerline.example.org",
        SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto",
        SECURE_HSTS_SECONDS="3600",
    )
    assert behind_tls == {"status": 200, "secure": True, "https": True, "hsts": "max-age=3600"}
    # Without TLS configured, the forwarded header is the client's to write and is not believed.
    assert _cookies(tmp_path) == {"status": 200, "secure": False, "https": False, "hsts": None}
