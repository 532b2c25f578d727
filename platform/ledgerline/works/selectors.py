from django.db.models import QuerySet

from ledgerline.works.models import Work


def work_list(*, organisation_ids: list) -> QuerySet[Work]:
    return Work.objects.filter(organisation_id__in=organisation_ids).select_related(
        "organisation", "model__blob"
    ).prefetch_related("outputs__blob")
