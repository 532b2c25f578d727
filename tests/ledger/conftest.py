"""Both chain backends: the embedded py-evm chain under a temporary folder, and a real
anvil node (npm @foundry-rs/anvil, installed by `make test`) on a loopback port."""

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests
from eth_account import Account

from tests.daemons import free_port, wait_until_up

ROOT = Path(__file__).resolve().parents[2]
ANVIL = ROOT / "contracts" / "node_modules" / ".bin" / "anvil"
PASSPHRASE = "chain test passphrase"


@contextmanager
def anvil(*, state: Path | None = None, port: int | None = None) -> Iterator[str]:
    """A real anvil node; with ``state``, its chain is loaded from and saved to that file."""
    assert ANVIL.exists(), "anvil is missing: run `make test` (it installs contracts/node_modules)"
    port = port or free_port()
    args = [str(ANVIL), "--host", "127.0.0.1", "--port", str(port), "--silent"]
    if state is not None:
        args += ["--state", str(state)]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(
            process,
            lambda: requests.post(
                url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}, timeout=1
            ),
            what="anvil",
            timeout=30,
            retry_on=requests.ConnectionError,
            interval=0.1,
        )
        yield url
    finally:
        process.send_signal(signal.SIGINT)  # lets anvil write its --state file
        process.wait(timeout=30)


def keyfile_for_new_account(path: Path) -> str:
    """An Ethereum keystore file for a new account; returns its address."""
    account = Account.create()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(Account.encrypt(account.key, PASSPHRASE)))
    return str(account.address)


def fund(url: str, address: str) -> None:
    requests.post(
        url, json={"jsonrpc": "2.0", "id": 1, "method": "anvil_setBalance", "params": [address, hex(10**22)]}, timeout=5
    ).raise_for_status()


def chain_env(backend: str, root: Path, url: str = "") -> dict[str, str]:
    """The environment (for settings or a subprocess) that points Ledgerline at a backend."""
    env = {
        "CHAIN_STATE_DIR": str(root / "chain"),
        "CHAIN_ACCOUNT_KEYFILE": str(root / "keys" / "chain.json"),
        "CHAIN_ACCOUNT_PASSPHRASE": PASSPHRASE,
        "CHAIN_RPC_URL": url if backend == "anvil" else "",
    }
    return env


@pytest.fixture(params=["embedded", "anvil"])
def chain(request: pytest.FixtureRequest, settings: Any, tmp_path: Path) -> Iterator[dict[str, str]]:
    """Settings pointing at a fresh chain of each backend; yields its environment."""
    with anvil() if request.param == "anvil" else _nothing() as url:
        env = chain_env(request.param, tmp_path, url)
        if request.param == "anvil":
            fund(url, keyfile_for_new_account(Path(env["CHAIN_ACCOUNT_KEYFILE"])))
        for name, value in env.items():
            setattr(settings, name, Path(value) if name in ("CHAIN_STATE_DIR", "CHAIN_ACCOUNT_KEYFILE") else value)
        yield {**env, "backend": request.param}


@contextmanager
def _nothing() -> Iterator[str]:
    yield ""


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`python manage.py ...` in its own process, as the site or a worker would run it."""
    full = {**os.environ, **env}
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args], env=full, capture_output=True, text=True, timeout=120
    )
