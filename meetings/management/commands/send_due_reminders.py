"""One reminder sweep by hand: what Celery beat runs every few minutes."""

from django.core.management.base import BaseCommand, CommandError

from meetings import reminders


class Command(BaseCommand):
    help = (
        "Plan the meeting and report reminders that have become due, then send the due "
        "ones (each at most once, retrying failed ones after a backoff). Safe to run at "
        "any time and in several processes at once."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--limit",
            type=int,
            default=reminders.DEFAULT_LIMIT,
            help="Send at most this many reminders in this sweep (the rest wait for the next).",
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=reminders.DEFAULT_BATCH_SIZE,
            help="Claim this many reminders at a time.",
        )

    def handle(self, *args, limit: int, batch_size: int, **options) -> None:
        if limit < 1 or batch_size < 1:
            raise CommandError("--limit and --batch-size must be at least 1.")
        result = reminders.sweep(limit=limit, batch_size=batch_size)
        self.stdout.write(
            f"planned {result.planned}, sent {result.sent}, "
            f"failed {result.failed}, skipped {result.skipped}"
        )
