"""Concurrent writers on a real PostgreSQL: the audit chain stays one unbroken line, and
the same file raced into one dataset is added once."""

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.db import connection, connections

from ledgerline.accounts.models import Organisation
from ledgerline.datasets import services as datasets
from ledgerline.datasets.blobs import blob_stage
from ledgerline.datasets.models import DatasetFile
from ledgerline.errors import Conflict
from ledgerline.provenance.models import AuditEntry
from ledgerline.provenance.services import audit_append, audit_verify

pytestmark = pytest.mark.postgres


@pytest.fixture(autouse=True)
def _needs_postgres() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("concurrency is tested on PostgreSQL (DATABASE_URL); SQLite serialises writers anyway")


def run_together(count: int, work: Callable[[int], Any]) -> list[Any]:
    barrier, results = threading.Barrier(count), [None] * count

    def target(i: int) -> None:
        try:
            barrier.wait()
            results[i] = work(i)
        except Exception as exc:
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=target, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_concurrent_appends_keep_one_chain(transactional_db: Any, team: Any) -> None:
    organisation = Organisation.objects.get(slug="acme-records")
    before = AuditEntry.objects.count()
    results = run_together(
        16,
        lambda i: audit_append(
            organisation=organisation, actor=None, action="test.append", obj=organisation, data={"i": i}
        ),
    )
    assert not [r for r in results if isinstance(r, Exception)]
    assert AuditEntry.objects.count() == before + 16
    assert list(AuditEntry.objects.values_list("seq", flat=True)) == list(range(1, before + 17))
    assert audit_verify().ok


def test_the_same_file_raced_into_a_dataset_is_added_once(transactional_db: Any, team: Any, media_dir: Path) -> None:
    organisation = Organisation.objects.get(slug="acme-records")
    dataset = datasets.dataset_create(
        organisation=organisation,
        name="race",
        licence=datasets.Licence("MIT"),
        consent={},
        rights=[],
        created_by=team.owner.user,
    )

    def add(i: int) -> Any:
        with open(media_dir / "melody.mid", "rb") as f:
            temp, sha, size = blob_stage(f)
        return datasets.dataset_files_add(
            dataset=dataset, added_by=team.owner.user, files=[datasets.StagedFile(f"copy-{i}.mid", temp, sha, size)]
        )

    results = run_together(6, add)
    assert sum(isinstance(r, list) for r in results) == 1
    assert all(isinstance(r, Conflict) for r in results if not isinstance(r, list))
    assert DatasetFile.objects.filter(dataset=dataset).count() == 1
    assert audit_verify().ok
