from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand

from ledgerline.datasets.resumable import uploads_expire
from ledgerline.datasets.services import blob_gc


class Command(BaseCommand):
    help = (
        "`blobs gc`: delete stored files no record refers to (left by rolled-back writes), and resumable "
        "uploads past their expiry with their bytes."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("action", choices=["gc"])
        parser.add_argument("--grace", type=int, default=3600, help="spare files younger than this many seconds")

    def handle(self, *args: Any, grace: int, **options: Any) -> None:
        expired = uploads_expire(orphans=True)
        removed = blob_gc(older_than_seconds=grace)
        self.stdout.write(f"removed {len(removed)} unreferenced files and {expired} expired uploads")
