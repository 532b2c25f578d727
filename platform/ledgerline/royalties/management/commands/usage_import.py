"""Import a usage report file (CSV, JSON lines or a DDEX DSR flat file) for an organisation, as
the bulk API would: refused whole if a line is bad, unless --skip-invalid."""

from argparse import ArgumentParser
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from ledgerline.accounts.models import Organisation
from ledgerline.royalties import usage
from ledgerline.royalties.usage_dsr import lines_dsr

READERS = {
    "csv": usage.lines_csv,
    "jsonl": lambda chunks: usage.lines_jsonl(usage.bytes_lines(chunks)),
    "dsr": lines_dsr,
}
SUFFIXES = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".tsv": "dsr", ".txt": "dsr"}


class Command(BaseCommand):
    help = "Import FILE's usage lines for an organisation; exits 1 if the file is refused."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--organisation", required=True, help="the organisation's slug")
        parser.add_argument("--format", choices=sorted(READERS), help="default: by the file's suffix (.tsv: dsr)")
        parser.add_argument("--skip-invalid", action="store_true", help="import the valid lines, report the others")

    def handle(self, *args: Any, file: Path, organisation: str, skip_invalid: bool, **options: Any) -> None:
        target = Organisation.objects.filter(slug=organisation).first()
        if target is None:
            raise CommandError(f"There is no organisation {organisation!r}.")
        kind = options.get("format") or SUFFIXES.get(file.suffix.lower())
        if kind is None:
            raise CommandError(f"Say which format {file.name} is: --format csv, jsonl or dsr.")
        try:
            with file.open("rb") as body:
                result = usage.usage_import(
                    organisation=target, lines=READERS[kind](_chunks(body)), reported_by=None, skip_invalid=skip_invalid
                )
        except OSError as exc:
            raise CommandError(f"{file} cannot be read: {exc.strerror}") from None
        for rejected in result.rejected:
            self.stderr.write(f"line {rejected['line']}: {rejected['reason']}")
        if result.rejected_count > len(result.rejected):
            self.stderr.write(f"... and {result.rejected_count - len(result.rejected)} more")
        summary = (
            f"{result.lines} lines: {result.accepted} accepted, {result.duplicates} duplicates, "
            f"{result.rejected_count} rejected"
        )
        if result.refused and not skip_invalid:
            raise CommandError(f"{summary}; nothing was imported.")
        self.stdout.write(self.style.SUCCESS(summary + "."))


def _chunks(body: Any) -> Iterator[bytes]:
    while chunk := body.read(1 << 20):
        yield chunk
