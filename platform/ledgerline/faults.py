"""Named crash points for the fault tests: `LEDGERLINE_FAULT=<name>` ends the process there,
as `kill -9` would, at the one moment a test needs (which no timing can hit reliably)."""

import os


def fault_point(name: str) -> None:
    if os.environ.get("LEDGERLINE_FAULT") == name:
        os._exit(137)
