from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from ledgerline.provenance.services import audit_verify


class Command(BaseCommand):
    help = "Check the audit log's hash chain: `auditlog verify` names the first edited or missing entry."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("action", choices=["verify"])

    def handle(self, *args: Any, **options: Any) -> None:
        result = audit_verify()
        if not result.ok:
            raise CommandError(f"audit log is broken: {result.problem}")
        self.stdout.write(f"audit log intact: {result.checked} entries")
