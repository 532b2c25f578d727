"""Reads of works and generations, and the sources a work was made from."""

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from django.db.models import Prefetch, QuerySet

from ledgerline.datasets.models import DatasetFile
from ledgerline.training.config import family_of
from ledgerline.works.models import Generation, Work, WorkStatus


def work_list(*, organisation_ids: list) -> QuerySet[Work]:
    return (
        Work.objects.filter(organisation_id__in=organisation_ids)
        .select_related("organisation", "model__blob", "token")
        .prefetch_related("outputs__blob")
    )


def generation_list(*, organisation_ids: list) -> QuerySet[Generation]:
    works = (
        Work.objects.select_related("organisation", "model__blob", "token")
        .prefetch_related("outputs__blob")
        .order_by("index")
    )
    return (
        Generation.objects.filter(organisation_id__in=organisation_ids)
        .select_related("organisation")
        .prefetch_related(Prefetch("works", queryset=works))
    )


def generation_progress(generation: Generation) -> dict[str, int]:
    counts = {status: 0 for status in WorkStatus.values}
    for status in generation.works.values_list("status", flat=True):
        counts[status] += 1
    return counts


@dataclass(frozen=True)
class Source:
    """Material a work was made from: another work of its organisation or one of its recordings,
    named by a file parameter (a variation's source), and the part of the work that is its."""

    parameter: str
    sha256: str
    share: Fraction
    work: Work | None = None
    file: DatasetFile | None = None


def work_sources(work: Work) -> list[Source]:
    """The sources the work's parameters name, with the part its family gives them (none where
    that part is 0: a primer prompts, it is not material)."""
    family = family_of(work.model.run.config)
    share = Fraction(family.source_share(work.parameters)).limit_denominator(10**6)
    if share <= 0:
        return []
    sources = []
    for name in sorted(family.files):
        sha256 = work.parameters.get(name)
        if not isinstance(sha256, str):
            continue
        made = source_work(organisation_id=work.organisation_id, sha256=sha256, before=work)
        if made is not None:
            sources.append(Source(name, sha256, share, work=made))
            continue
        file = (
            DatasetFile.objects.filter(dataset__organisation_id=work.organisation_id, blob__sha256=sha256)
            .select_related("dataset", "blob")
            .order_by("created_at")
            .first()
        )
        sources.append(Source(name, sha256, share, file=file))
    return sources


def source_work(*, organisation_id: Any, sha256: str, before: Work | None = None) -> Work | None:
    """The organisation's signed work whose released WAV has this SHA-256 (not ``before`` itself)."""
    works = Work.objects.filter(organisation_id=organisation_id, content_sha256=sha256).exclude(manifest={})
    if before is not None:
        works = works.exclude(pk=before.pk)
    return works.select_related("token").order_by("created_at").first()
