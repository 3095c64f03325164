"""One deadline-reminder sweep by hand: what Celery beat runs every few minutes."""

from core.outbox import SweepCommand
from issues import deadlines


class Command(SweepCommand):
    help = (
        "Plan the reply-deadline and due-date reminders whose working day has come, then "
        "send the due ones (each at most once, retrying failed ones after a backoff). Safe "
        "to run at any time and in several processes at once."
    )
    noun = "deadline reminders"
    counts = ("planned", "sent", "failed", "skipped", "deferred")

    def sweep(self, *, limit: int, batch_size: int) -> deadlines.DeadlineSweepResult:
        return deadlines.sweep(limit=limit, batch_size=batch_size)
