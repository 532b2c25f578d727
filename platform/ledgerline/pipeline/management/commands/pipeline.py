"""Drive the pipeline by hand: what the workers do, in this process.

python manage.py pipeline advance     # check, sign, pin, mint and confirm every active work
python manage.py pipeline train RUN   # train (or finish publishing) one run
python manage.py pipeline generate G  # generate the works of one generation still requested
python manage.py pipeline sweep       # queue everything unfinished for the workers
python manage.py pipeline status      # works per status, runs per status
"""

import json
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Count

from ledgerline.errors import LedgerlineError
from ledgerline.pipeline import drive
from ledgerline.pipeline.tasks import sweep
from ledgerline.queue import busy_wait
from ledgerline.training.models import TrainingRun
from ledgerline.training.services import training_run_finish
from ledgerline.works.models import Generation, Work


class Command(BaseCommand):
    help = "Run the pipeline's steps in this process, or queue them for the workers."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("action", choices=["advance", "train", "generate", "sweep", "status"])
        parser.add_argument("id", nargs="?", help="the run (train) or generation (generate)")

    def handle(self, *args: Any, action: str, id: str | None = None, **options: Any) -> None:
        try:
            if action == "advance":
                result: Any = self._advance()
            elif action == "train":
                result = {"status": training_run_finish(run_id=self._required(id)).status}
            elif action == "generate":
                result = {"generated": drive.works_generate(generation=Generation.objects.get(pk=self._required(id)))}
            elif action == "sweep":
                result = sweep.delay().id
            else:
                result = {
                    "works": dict(Work.objects.values_list("status").annotate(n=Count("id"))),
                    "runs": dict(TrainingRun.objects.values_list("status").annotate(n=Count("id"))),
                }
        except LedgerlineError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(json.dumps(result, default=str))

    def _advance(self) -> dict[str, int]:
        """Every work as far as it goes, waiting for works another worker holds, or held when it
        died, until its lease lapses."""
        return busy_wait(
            drive.works_advance, waiting=lambda busy: self.stderr.write(f"{busy.message} Waiting {busy.retry_after} s.")
        )

    def _required(self, value: str | None) -> str:
        if not value:
            raise CommandError("give the id of the run or generation")
        return value
