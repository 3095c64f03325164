"""Create a year's regular meetings (``MEETING_SCHEDULE``); running it again creates nothing."""

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from meetings.scheduling import MAX_YEAR, MIN_YEAR, schedule_meetings


class Command(BaseCommand):
    help = (
        "Create the six bimonthly vice-heads' meetings and the December performance briefing "
        "of YEAR, dated by the MEETING_SCHEDULE setting and inviting every active public "
        "organization. Meetings already scheduled for YEAR are left as they are, even if "
        "they were moved or cancelled."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("year", type=int, metavar="YEAR", help="e.g. 2027")

    def handle(self, *args, year: int, **options) -> None:
        if not MIN_YEAR <= year <= MAX_YEAR:
            raise CommandError(f"YEAR must be between {MIN_YEAR} and {MAX_YEAR}, not {year}.")
        created, existing = schedule_meetings(year)
        rows = [(m, "created") for m in created] + [(m, "exists") for m in existing]
        for meeting, what in sorted(rows, key=lambda row: row[0].starts_at):
            starts_at = timezone.localtime(meeting.starts_at)
            self.stdout.write(f"  {what:<8} {starts_at:%Y-%m-%d %H:%M}  {meeting.title}")
        self.stdout.write(
            self.style.SUCCESS(
                f"Meetings of {year}: {len(created)} created, {len(existing)} already there."
            )
        )
