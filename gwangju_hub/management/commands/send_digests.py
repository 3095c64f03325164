"""The daily digest by hand: what Celery beat runs every 15 minutes."""

from datetime import date

from django.core.management.base import CommandError

from core.outbox import SweepCommand
from core.workdays import is_working_day
from gwangju_hub import digest


class Command(SweepCommand):
    help = (
        "Plan the daily digest (업무 요약) of a working day once, at or after 08:30 "
        "Asia/Seoul, then send the owed digests. --date catches up a day missed in an "
        "outage; running it again for a day sends nothing more."
    )
    noun = "digests"
    counts = ("planned", "sent", "failed", "skipped", "deferred")

    def add_arguments(self, parser) -> None:
        super().add_arguments(parser)
        parser.set_defaults(limit=digest.SEND_LIMIT)  # the whole day's digests in one run
        parser.add_argument(
            "--date",
            type=self._date,
            default=None,
            help="The day whose digest to send, YYYY-MM-DD (default: today in Asia/Seoul).",
        )

    @staticmethod
    def _date(value: str) -> date:
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise CommandError(f"--date must be a date as YYYY-MM-DD, not {value!r}.") from None

    def handle(self, *args, date: date | None = None, **options) -> None:
        self.day = date or digest.today()
        if not is_working_day(self.day):
            self.stdout.write(f"{self.day} is not a working day: no digest is sent.")
        super().handle(*args, **options)

    def sweep(self, *, limit: int, batch_size: int):
        planned, result = digest.run(self.day, limit=limit, batch_size=batch_size)
        result.planned = planned
        return result
