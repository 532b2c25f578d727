"""Every task the platform queues by name (ledgerline.queue.enqueue) is one a worker has: a
misspelt name would fail only after the request's transaction had committed."""

import re
from pathlib import Path

from ledgerline.celery import app

PLATFORM = Path(__file__).resolve().parent.parent / "platform"
ENQUEUED = re.compile(r"""\benqueue\(\s*["']([\w.]+)["']""")


def test_every_queued_task_is_registered() -> None:
    names = {name for path in PLATFORM.rglob("*.py") for name in ENQUEUED.findall(path.read_text())}
    assert len(names) >= 5, names  # the pattern still finds the calls
    app.loader.import_default_modules()
    assert sorted(names - set(app.tasks)) == []
