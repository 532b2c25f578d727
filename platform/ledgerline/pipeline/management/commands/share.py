"""`manage.py share`: once, when a deployment moves from one shared var/ folder to hosts that share
only the services, on the host that holds that folder (README, "Workers on other hosts")."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from ledgerline.datasets.services import blobs_share
from ledgerline.provenance.keys import KeyStore
from ledgerline.storage.shared import store_shared


class Command(BaseCommand):
    help = "Send the files this host stores (datasets, outputs, keys, certificates) to the IPFS node for other hosts."

    def handle(self, *args: Any, **options: Any) -> None:
        if not store_shared():
            raise CommandError(
                "IPFS_API_URL is not set: with the embedded node, every process shares this var/ already."
            )
        files, keys = blobs_share(), KeyStore.default().share_all()
        self.stdout.write(f"shared {files} stored files and {keys} keys and certificates")
