from django.db.models import Prefetch, QuerySet

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
