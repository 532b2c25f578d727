"""Publishing the organisations' signing keys on chain (after a rotation; minting does it too)."""

from celery import shared_task

from ledgerline.accounts.models import Organisation
from ledgerline.ledger import services
from ledgerline.queue import RETRYING


# Named for where it was first defined (provenance.tasks): a message already queued under that name
# still finds it.
@shared_task(name="ledgerline.provenance.keys_publish", **RETRYING)
def signing_keys_publish_task(organisation_id: str) -> int:
    return services.signing_keys_publish(organisation=Organisation.objects.get(pk=organisation_id))
