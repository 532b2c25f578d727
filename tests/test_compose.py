"""docker-compose.yml runs hosts that share no disk: no volume between the app's containers, so
`--scale` works and any of them may move to another machine; GPU workers hold no secret."""

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
APP = ("web", "worker", "gpu-worker")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    binary = shutil.which("docker-compose")
    assert binary, "docker-compose is missing: apt-get install docker-compose (.ci/run installs it)"
    out = subprocess.run([binary, "-f", "docker-compose.yml", "config"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return dict(yaml.safe_load(out.stdout))


def test_the_site_and_each_kind_of_worker_run(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert "gunicorn" in services["web"]["command"] and "ledgerline.wsgi" in services["web"]["command"]
    assert "--queues default" in services["worker"]["command"]
    assert "--queues gpu" in services["gpu-worker"]["command"]
    assert {"postgres", "redis", "chain", "ipfs"} <= set(services)


def test_the_app_containers_share_no_volume(compose: dict[str, Any]) -> None:
    for name in APP:
        service = compose["services"][name]
        assert not service.get("volumes"), f"{name} mounts {service['volumes']}"
        assert service["environment"]["IPFS_API_URL"], name  # files travel through the IPFS node instead


def test_only_the_site_and_default_workers_hold_the_signing_secrets(compose: dict[str, Any]) -> None:
    gpu = compose["services"]["gpu-worker"]
    assert not gpu.get("secrets")
    assert not {k for k in gpu["environment"] if k.startswith(("SIGNING_KEY", "CHAIN_ACCOUNT", "SECRET_KEY"))}
    for name in ("web", "worker"):
        assert "SIGNING_KEY_PASSPHRASE_FILE" in compose["services"][name]["environment"]


def test_the_ipfs_node_is_private(compose: dict[str, Any]) -> None:
    ipfs = compose["services"]["ipfs"]
    assert not ipfs.get("ports")  # neither its API nor its swarm is published
    assert ipfs["environment"]["LIBP2P_FORCE_PNET"] == "1" and ipfs["environment"]["IPFS_SWARM_KEY_FILE"]
