"""One notification e-mail sweep by hand: what Celery beat runs every minute."""

from django.core.management.base import BaseCommand, CommandError

from issues import notifications


class Command(BaseCommand):
    help = (
        "Send the notification e-mails that are owed (each at most once, retrying "
        "failed ones after a backoff), and say how many are still owed. Safe to run "
        "at any time and in several processes at once."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--limit",
            type=int,
            default=notifications.DEFAULT_LIMIT,
            help="Send at most this many e-mails in this sweep (the rest wait for the next).",
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=notifications.DEFAULT_BATCH_SIZE,
            help="Claim this many e-mails at a time.",
        )

    def handle(self, *args, limit: int, batch_size: int, **options) -> None:
        if limit < 1 or batch_size < 1:
            raise CommandError("--limit and --batch-size must be at least 1.")
        result = notifications.deliver_due(limit=limit, batch_size=batch_size)
        self.stdout.write(
            f"sent {result.sent}, failed {result.failed}, skipped {result.skipped}, "
            f"deferred {result.deferred}; still owed {notifications.owed_count()}"
        )
