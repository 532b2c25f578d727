"""Leases in the database: one worker at a time per run or generation across hosts, a dead
worker's lease expiring, and a fencing token so that a writer that lost its lease (paused past its
expiry, cut off from the database) cannot record a result over its successor's.

Times are the database's clock (``Now()``), so hosts whose clocks disagree still agree on expiry.
"""

import logging
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import DateTimeField, ExpressionWrapper, F, Q
from django.db.models.functions import Now

from ledgerline.errors import Busy
from ledgerline.leases.models import Lease

logger = logging.getLogger(__name__)


class LeaseLost(Exception):
    """This worker's lease expired and was taken over: it must not record its result."""


@dataclass
class Held:
    key: str
    holder: str
    token: int
    seconds: int
    lost: threading.Event = field(default_factory=threading.Event)


def _expiry(seconds: int) -> ExpressionWrapper:
    return ExpressionWrapper(Now() + timedelta(seconds=seconds), output_field=DateTimeField())


def lease_seconds() -> int:
    return int(settings.LEDGERLINE_LEASE_SECONDS)


def lease_take(key: str, *, seconds: int | None = None) -> Held | None:
    """The lease on ``key`` for ``seconds``, or None while another holder's has not expired."""
    seconds = seconds or lease_seconds()
    holder = uuid.uuid4().hex
    taken = Lease.objects.filter(Q(key=key) & Q(expires_at__lte=Now())).update(
        holder=holder, token=F("token") + 1, expires_at=_expiry(seconds)
    )
    if not taken:
        try:
            with transaction.atomic():
                Lease.objects.create(key=key, holder=holder, token=1, expires_at=_expiry(seconds))
        except IntegrityError:  # held, or taken by another this very moment
            return None
    token = Lease.objects.filter(key=key, holder=holder).values_list("token", flat=True).first()
    return None if token is None else Held(key=key, holder=holder, token=token, seconds=seconds)


def lease_renew(lease: Held) -> bool:
    """Push the expiry on; False (and ``lease.lost`` set) once another has taken it over."""
    renewed = Lease.objects.filter(key=lease.key, holder=lease.holder, token=lease.token).update(
        expires_at=_expiry(lease.seconds)
    )
    if not renewed:
        lease.lost.set()
    return bool(renewed)


def lease_release(lease: Held) -> None:
    """Let the next taker have it at once (only if it is still this holder's)."""
    Lease.objects.filter(key=lease.key, holder=lease.holder, token=lease.token).update(expires_at=Now())


def lease_retry_after(key: str) -> int:
    """Seconds until the lease on ``key`` expires (at least 1)."""
    row = Lease.objects.filter(key=key).annotate(now=Now()).values("expires_at", "now").first()
    return max(1, int((row["expires_at"] - row["now"]).total_seconds()) + 1) if row else 1


@contextmanager
def leased(key: str, *, wait: float = 0) -> Iterator[Held]:
    """Hold the lease on ``key`` for the block, renewed by a heartbeat thread; Busy if another
    holder has it (for ``wait`` seconds: a short job's next holder waits its turn rather than
    coming back when the lease would lapse). The block checks ``fenced`` before each write that
    records a result."""
    deadline = time.monotonic() + wait
    while (lease := lease_take(key)) is None and time.monotonic() < deadline:
        time.sleep(0.2)
    if lease is None:
        wait = lease_retry_after(key)
        raise Busy(f"{key} is being worked on elsewhere; retry in {wait} s.", retry_after=wait)
    if connection.in_atomic_block:  # taken inside a transaction no other connection sees yet:
        try:  # nothing to renew it for (and a heartbeat's update would wait on that transaction)
            yield lease
        finally:
            lease_release(lease)
        return
    stop = threading.Event()
    beat = threading.Thread(target=_heartbeat, args=(lease, stop), name=f"lease {key}", daemon=True)
    beat.start()
    try:
        yield lease
    finally:
        stop.set()
        beat.join(timeout=lease.seconds)
        if not lease.lost.is_set():
            lease_release(lease)


def _heartbeat(lease: Held, stop: threading.Event) -> None:
    try:
        while not stop.wait(lease.seconds / 3):
            try:
                if not lease_renew(lease):
                    logger.warning("lease %s lost: another worker took it over", lease.key)
                    return
            except Exception as exc:  # the database away for a moment: the next beat connects again
                logger.warning("lease %s not renewed: %s", lease.key, exc)
                connection.close()
    finally:
        connection.close()  # this thread's own connection


@contextmanager
def fenced(lease: Held) -> Iterator[None]:
    """A transaction in which ``lease`` is still this worker's: its row is renewed (and, on
    PostgreSQL, locked) first, so a taker waits for the commit, and LeaseLost is raised, with
    nothing written, if the token has moved on."""
    with transaction.atomic():
        if lease.lost.is_set() or not lease_renew(lease):
            raise LeaseLost(f"the lease on {lease.key} was taken over; this result is not recorded")
        yield
