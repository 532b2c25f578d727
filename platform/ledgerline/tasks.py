"""Tasks every worker serves, whatever its queue."""

import platform
import sys
from typing import Any

from celery import shared_task


@shared_task(name="ledgerline.health")
def health() -> dict[str, Any]:
    """What a worker runs on: a liveness check for deployments, and proof that Python's
    standard-library `platform` module is the one imported (the README's layout)."""
    return {"system": platform.system(), "python": sys.version.split()[0], "platform_module": platform.__file__}
