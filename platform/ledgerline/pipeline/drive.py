"""The works' steps driven across apps: generation with the model's family, then check, sign (with
the licence terms and royalty split of royalties), pin, mint, confirm (then fingerprinted by
audit) and, once released, an ISRC. Safe to run at any time, twice, or in two workers."""

import logging
from functools import partial
from typing import Any

from django.utils import timezone

from ledgerline.audit.services import work_fingerprint_index
from ledgerline.errors import Busy, LedgerlineError, Unavailable
from ledgerline.leases.services import LeaseLost, lease_seconds, leased
from ledgerline.ledger.client import ChainUnavailable
from ledgerline.royalties.services import isrc_assign, licence_data, licence_require
from ledgerline.royalties.splits import work_split
from ledgerline.storage.client import IpfsUnavailable
from ledgerline.training.checkpoints import model_load
from ledgerline.works.minting import works_mint
from ledgerline.works.models import Generation, Work, WorkStatus
from ledgerline.works.steps import work_check, work_confirm, work_generate, work_pin, work_sign
from ledgerline.works.transitions import advance
from ledgerline_verify.fingerprint import Unreadable

logger = logging.getLogger(__name__)


def works_generate(*, generation: Generation) -> int:
    """Generate every work of ``generation`` still waiting; returns how many were made."""
    with leased(f"generation:{generation.pk}") as lease:  # Busy while another worker has it
        pending = list(generation.works.filter(status=WorkStatus.REQUESTED).order_by("index"))
        if not pending:
            return 0
        try:
            model = model_load(generation.model)
        except (ChainUnavailable, IpfsUnavailable):
            raise
        except LedgerlineError as exc:
            for work in pending:
                advance(work, WorkStatus.REQUESTED, WorkStatus.FAILED, error=exc.message, audit={"reason": exc.message})
            return 0
        for work in pending:
            if lease.lost.is_set():  # taken over: the new holder makes the rest (each work's status moves once)
                raise LeaseLost(f"the lease on generation {generation.pk} was taken over")
            _guarded(work, partial(work_generate, model=model))
        return len(pending)


def _guarded(work: Work, step: Any, *, fail: bool = True) -> None:
    """Run one work's step; a fault of that work alone (not a node that is down, which the task
    retries) ends it as failed with the reason, or, ``fail=False``, is recorded and left for the
    next run, so one bad work never holds up the others."""
    try:
        step(work=work)
    except Unavailable:  # a node that is down, or a lease another holds: the task retries
        raise
    except (LedgerlineError, ValueError, OSError) as exc:
        reason = exc.message if isinstance(exc, LedgerlineError) else f"{type(exc).__name__}: {exc}"
        logger.warning("work %s, %s: %s", work.pk, getattr(step, "__name__", "generate"), reason)
        if fail:
            advance(work, work.status, WorkStatus.FAILED, error=reason[:2000], audit={"reason": reason[:2000]})
        else:
            Work.objects.filter(pk=work.pk).update(error=reason[:2000], updated_at=timezone.now())


def _claimed(work: Work, status: str, step: Any, *, fail: bool = True) -> int:
    """``step`` for ``work`` unless another worker is at it (workers advancing one generation at
    once share out its works); then the seconds until that worker's lease would lapse, else 0."""
    try:
        with leased(f"work:{work.pk}"):
            work.refresh_from_db(fields=["status"])
            if work.status == status:  # not moved on by another worker meanwhile
                _guarded(work, step, fail=fail)
    except Busy as exc:
        return exc.retry_after
    return 0


def works_advance(*, works: Any = None) -> dict[str, int]:
    """Take every active work past `generated` as far as it goes: check, sign, pin, mint in
    batches, confirm. Safe to run at any time, twice, or in two workers; returns the counts."""
    works = works if works is not None else Work.objects.all()
    works = works.select_related("organisation", "model__blob", "model__run", "token")
    waits: list[int] = []
    for status, step in (
        (WorkStatus.GENERATED, work_check),
        (WorkStatus.CHECKED, _work_sign),
        (WorkStatus.SIGNED, work_pin),
    ):
        for work in works.filter(status=status).order_by("created_at", "index"):
            waits.append(_claimed(work, status, step))
    if works.filter(status=WorkStatus.PINNED).exists():
        # One minter at a time across workers: a batch takes seconds, so the next waits its turn.
        with leased("works:mint", wait=lease_seconds()):
            works_mint(works=list(works.filter(status=WorkStatus.PINNED).order_by("created_at", "index")))
    for work in works.filter(status=WorkStatus.MINTED).order_by("created_at", "index"):
        waits.append(_claimed(work, WorkStatus.MINTED, _work_confirm, fail=False))
    # Released: each gets the next ISRC of its organisation's registrant code, once there is one.
    for work in works.filter(status=WorkStatus.CONFIRMED, isrc__isnull=True, organisation__registrant__isnull=False):
        _guarded(work, isrc_assign, fail=False)
    if any(waits):  # a task comes back for them: done by then, or left by a worker that died
        raise Busy(f"{sum(map(bool, waits))} works are being advanced by other workers.", retry_after=max(waits))
    counts: dict[str, int] = {}
    for status in works.values_list("status", flat=True):
        counts[status] = counts.get(status, 0) + 1
    return counts


def _work_sign(*, work: Work) -> None:
    """checked -> signed, with the licence checked again (the data's terms may have changed since
    the request), the terms it was checked against, and the work's royalty split."""
    run = work.model.run
    licence_require(run=run, parameters=work.parameters)
    work_sign(work=work, terms=licence_data(run=run), royalties=work_split(work))


def _work_confirm(*, work: Work) -> None:
    """minted -> confirmed, then the work indexed so that copies of it (re-encoded, trimmed,
    transposed) are found."""
    work_confirm(work=work)
    try:
        work_fingerprint_index(work=work)
    except Unreadable as exc:  # the work stays confirmed; `manage.py verify --index` tries again
        logger.warning("work %s could not be fingerprinted: %s", work.pk, exc)
