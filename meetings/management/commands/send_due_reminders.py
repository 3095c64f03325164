"""One reminder sweep by hand: what Celery beat runs every few minutes."""

from core.outbox import SweepCommand
from meetings import reminders


class Command(SweepCommand):
    help = (
        "Plan the meeting and report reminders that have become due, then send the due "
        "ones (each at most once, retrying failed ones after a backoff). Safe to run at "
        "any time and in several processes at once."
    )
    noun = "reminders"
    counts = ("planned", "sent", "failed", "skipped")

    def sweep(self, *, limit: int, batch_size: int) -> reminders.SweepResult:
        return reminders.sweep(limit=limit, batch_size=batch_size)
