"""Recording withdrawals of training consent on chain."""

from celery import shared_task

from ledgerline.datasets import services
from ledgerline.datasets.models import DatasetFile
from ledgerline.queue import RETRYING


@shared_task(name="ledgerline.datasets.consent_withdrawal", **RETRYING)
def consent_withdrawal_publish_task(file_id: str) -> int:
    return services.consent_withdrawal_publish(file=DatasetFile.objects.select_related("blob").get(pk=file_id))
