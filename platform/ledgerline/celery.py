"""The Celery app. Broker and queues come from settings (CELERY_*)."""

import os
from typing import Any

from celery import Celery
from celery.signals import task_prerun, worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ledgerline.settings")

app = Celery("ledgerline")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
def _worker_init(**_: Any) -> None:
    from ledgerline.stack import process_harden  # Django's settings are loaded by now

    process_harden()


@task_prerun.connect
def _task_prerun(**_: Any) -> None:
    # A task's imports (py-evm's for the ledger) may have raised the limit again since.
    from ledgerline.stack import recursion_clamp

    recursion_clamp()
