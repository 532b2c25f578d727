"""The IPFS node from the command line: add, list pins, unpin, collect garbage, export CAR."""

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from ledgerline.errors import LedgerlineError
from ledgerline.storage.client import EmbeddedIpfs, ipfs_connect
from ledgerline_verify.unixfs import CID


class Command(BaseCommand):
    help = "add PATH | pins | unpin CID | gc | car CID FILE"

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("action", choices=["add", "pins", "unpin", "gc", "car"])
        parser.add_argument("values", nargs="*")

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        values: list[str] = options["values"]
        try:
            ipfs = ipfs_connect()
            if action == "add":
                for value in values:
                    self.stdout.write(f"{ipfs.add_path(Path(value)).cid} {value}")
            elif action == "pins":
                for pin in ipfs.pins():
                    self.stdout.write(pin)
            elif action == "unpin":
                for value in values:
                    ipfs.unpin(CID.parse(value))
            elif action == "gc":
                if not isinstance(ipfs, EmbeddedIpfs):
                    raise CommandError("gc is for the embedded node; a Kubo node collects its own garbage.")
                self.stdout.write(f"removed {ipfs.gc()} blocks")
            elif action == "car":
                if len(values) != 2:
                    raise CommandError("car needs a CID and an output file")
                with open(values[1], "wb") as out:
                    ipfs.export_car(CID.parse(values[0]), out)
        except (LedgerlineError, ValueError, OSError) as exc:
            raise CommandError(getattr(exc, "message", str(exc))) from None
