"""Leases in the database: of two workers racing for one run, exactly one gets it, every time;
a dead worker's lease expires; a worker whose lease was taken over cannot record its result."""

import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from ledgerline.errors import Busy
from ledgerline.leases.models import Lease
from ledgerline.leases.services import LeaseLost, fenced, lease_take, leased
from ledgerline.training.models import RunStatus, TrainingRun


def _race(key: str) -> list[bool]:
    """Two workers (threads, each with its own database connection) take ``key`` at once."""
    start = threading.Barrier(2)
    won: list[bool] = []

    def worker() -> None:
        try:
            start.wait()
            won.append(lease_take(key, seconds=60) is not None)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return won


@pytest.mark.django_db(transaction=True)
def test_two_workers_race_for_one_run_fifty_times_and_one_wins_each_time() -> None:
    for round_ in range(50):
        won = _race(f"training-run:race-{round_}")  # a new run each round: first taking included
        assert sorted(won) == [False, True], f"round {round_}: {won}"
    for round_ in range(50):
        key = f"training-run:dead-{round_}"  # its worker died: the lease it held has lapsed
        Lease.objects.create(key=key, holder="dead", token=7, expires_at=timezone.now() - timedelta(seconds=1))
        won = _race(key)
        assert sorted(won) == [False, True], f"round {round_} after expiry: {won}"
        assert Lease.objects.get(key=key).token == 8


@pytest.mark.django_db(transaction=True)
def test_a_held_lease_is_busy_until_it_expires() -> None:
    first = lease_take("generation:one", seconds=2)
    assert first is not None
    with pytest.raises(Busy, match="retry in"), leased("generation:one"):
        pass
    time.sleep(2.1)
    with leased("generation:one") as second:
        assert second.token == first.token + 1


@pytest.mark.django_db(transaction=True)
def test_a_worker_whose_lease_expired_cannot_record_its_result(team: Any) -> None:
    run = TrainingRun.objects.create(organisation=team.organisation, name="raced", config={})
    late = lease_take(f"training-run:{run.pk}", seconds=1)
    assert late is not None
    time.sleep(1.1)  # paused past its expiry (a long GC, a lost network)...
    taker = lease_take(f"training-run:{run.pk}")
    assert taker is not None and taker.token == late.token + 1  # ...and another worker took the run over
    with fenced(taker):
        TrainingRun.objects.filter(pk=run.pk).update(metrics={"by": "taker"}, status=RunStatus.RUNNING)
    with pytest.raises(LeaseLost), fenced(late):
        TrainingRun.objects.filter(pk=run.pk).update(metrics={"by": "late"}, status=RunStatus.FAILED)
    run.refresh_from_db()
    assert run.metrics == {"by": "taker"} and run.status == RunStatus.RUNNING
