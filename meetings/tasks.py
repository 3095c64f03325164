"""Celery tasks of the meetings app: thin doors to its services."""

from dataclasses import asdict

from celery import shared_task


# No autoretry: the sweep is idempotent and beat runs it again in a few
# minutes, which is the retry; a failed mail is retried through its row.
@shared_task(name="meetings.send_due_reminders")
def send_due_reminders() -> dict[str, int]:
    """Plan and send the reminders that are due (beat runs it every few minutes).

    Returns the sweep's counts: planned, sent, failed, skipped.
    """
    from . import reminders

    return asdict(reminders.sweep())
