"""Starting real servers (anvil, js-ipfs) on loopback for the tests that need them."""

import socket
import subprocess
import time
from collections.abc import Callable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_up(process: subprocess.Popen[bytes], probe: Callable[[], object], *, what: str, timeout: float,
                  retry_on: type[BaseException] | tuple[type[BaseException], ...], interval: float = 0.2) -> None:
    """Call ``probe`` until it succeeds; fail if ``process`` exits or ``timeout`` passes first."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            probe()
            return
        except retry_on:
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"{what} did not start") from None
            time.sleep(interval)
