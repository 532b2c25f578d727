"""Regeneration runs on the `gpu` queue: it samples the model again."""

from celery import shared_task

from ledgerline.audit import services
from ledgerline.audit.models import Verification
from ledgerline.queue import RETRYING


@shared_task(name="ledgerline.audit.regenerate", **RETRYING)
def regenerate_task(verification_id: str) -> str:
    verification = Verification.objects.select_related("work__model__run").get(pk=verification_id)
    return services.verification_regenerate(verification=verification).regeneration["status"]
