"""The compiled contracts committed under contracts/build (made by `make contracts`)."""

import json
from functools import cache
from pathlib import Path
from typing import Any

BUILD = Path(__file__).resolve().parents[3] / "contracts" / "build"


@cache
def artifact(name: str) -> dict[str, Any]:
    """ABI, bytecode and compiler details of a contract; see contracts/compile.js."""
    data: dict[str, Any] = json.loads((BUILD / f"{name}.json").read_text())
    return data
