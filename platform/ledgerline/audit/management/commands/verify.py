"""python manage.py verify FILE: the platform's verdict on a track, recorded like the API's."""

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ledgerline.audit import reports, services
from ledgerline.errors import LedgerlineError
from ledgerline_verify.checks import Subject
from ledgerline_verify.report import EXIT, text_report


class Command(BaseCommand):
    help = "Verify a track (a file, --token, --hash or --manifest); exit 0 verified, 1 failed, 3 unknown."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", nargs="?", type=Path)
        parser.add_argument("--token", type=int)
        parser.add_argument("--hash")
        parser.add_argument("--manifest", type=Path)
        parser.add_argument("--regenerate", action="store_true", help="re-run the model here and compare")
        parser.add_argument("--json", action="store_true")
        parser.add_argument("--report", type=Path, help="also write the report (.html or .pdf)")
        parser.add_argument("--index", action="store_true", help="fingerprint every confirmed work, then stop")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["index"]:
            self.stdout.write(f"indexed {services.works_fingerprint_index()} works")
            return
        file, manifest = options["file"], options["manifest"]
        if not (file or options["token"] or options["hash"] or manifest):
            raise CommandError("Name a FILE, or give --token, --hash or --manifest.")
        try:
            subject = Subject(
                data=file.read_bytes() if file else None,
                token_id=options["token"],
                content_sha256=options["hash"],
                manifest=manifest.read_bytes() if manifest else None,
                name=file.name if file else "",
            )
            kind = "file" if file else "token" if options["token"] else "hash" if options["hash"] else "manifest"
            verification = services.verification_create(subject=subject, kind=kind, user=None)
            if options["regenerate"]:
                verification = services.verification_regenerate(verification=verification)
        except (OSError, LedgerlineError) as exc:
            raise CommandError(str(exc)) from None
        organisations = [verification.organisation_id] if verification.organisation_id else []
        view = services.verification_view(verification, member_of=organisations)
        self.stdout.write(json.dumps(view, indent=2, default=str) if options["json"] else text_report(view))
        if options["report"]:
            self._report(options["report"], view)
        if EXIT[verification.verdict]:
            raise SystemExit(EXIT[verification.verdict])

    def _report(self, path: Path, view: dict[str, Any]) -> None:
        from django.template.loader import render_to_string

        if path.suffix == ".pdf":
            path.write_bytes(reports.report_pdf(view))
        else:
            path.write_text(render_to_string("audit/report.html", {"report": view}))
