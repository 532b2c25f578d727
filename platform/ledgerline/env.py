"""Settings from the environment, in the manner of healthchecks' small helpers.

A secret may be given directly (``X``) or as a path to a file holding it (``X_FILE``),
which is how Docker and Kubernetes secrets arrive.
"""

import ipaddress
import os
from pathlib import Path


def envstr(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def envbool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"{name} must be a boolean (1/0, true/false), got {value!r}")


def envint(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {value!r}") from None


def envlist(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def envsecret(name: str, default: str = "") -> str:
    """``name`` itself, or the stripped contents of the file ``name_FILE`` points at."""
    path = os.environ.get(f"{name}_FILE")
    if path:
        return Path(path).read_text().strip()
    return os.environ.get(name, default)


# Names that only ever reach this machine or a test client: loopback, localhost and the names
# RFC 6761 keeps for testing and documentation, which never resolve on the internet.
_LOCAL_NAMES = {"localhost", "testserver", "::1"}
_LOCAL_SUFFIXES = (".localhost", ".test", ".example", ".invalid")


def public_hosts(hosts: list[str]) -> list[str]:
    """The entries of ALLOWED_HOSTS that name a host others can reach (a wildcard does)."""
    return [host for host in hosts if not _is_local(host)]


def _is_local(host: str) -> bool:
    name = host.strip().lower().removeprefix(".").removeprefix("[").removesuffix("]").removesuffix(".")
    if name in _LOCAL_NAMES or name.endswith(_LOCAL_SUFFIXES):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False
