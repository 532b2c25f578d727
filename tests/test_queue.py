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


def test_gpu_workers_get_only_what_needs_no_secret() -> None:
    """Training and generation go to the gpu queue; whatever signs or sends a transaction (a
    trained model's publishing included) to default, where the secrets are (README)."""
    app.loader.import_default_modules()
    router = app.amqp.router
    queue = {name: router.route({}, name)["queue"].name for name in app.tasks if name.startswith("ledgerline.")}
    gpu = {name for name, q in queue.items() if q == "gpu"}
    assert gpu == {"ledgerline.training.run", "ledgerline.works.generate", "ledgerline.audit.regenerate"}
    assert queue["ledgerline.training.publish"] == "default"
