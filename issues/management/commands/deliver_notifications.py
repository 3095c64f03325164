"""One notification e-mail sweep by hand: what Celery beat runs every minute."""

from core.outbox import SweepCommand
from issues import notifications


class Command(SweepCommand):
    help = (
        "Send the notification e-mails that are owed (each at most once, retrying "
        "failed ones after a backoff), and say how many are still owed. Safe to run "
        "at any time and in several processes at once."
    )
    noun = "e-mails"

    def sweep(self, *, limit: int, batch_size: int) -> notifications.SweepResult:
        return notifications.deliver_due(limit=limit, batch_size=batch_size)

    def report(self, result: notifications.SweepResult) -> str:
        return f"{super().report(result)}; still owed {notifications.owed_count()}"
