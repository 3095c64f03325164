"""Celery tasks of the issues app: thin doors to its services."""

from dataclasses import asdict

from celery import shared_task


# No autoretry: the sweep is idempotent and beat runs it again within a
# minute, which is the retry; a failed mail is retried through its row.
@shared_task(name="issues.deliver_notifications")
def deliver_notifications(*_legacy_args) -> dict[str, int]:
    """Send the notification e-mails that are owed (beat: every minute; services
    kick it after a change that notifies someone).

    Returns the sweep's counts: sent, failed, skipped, deferred. Messages
    queued by the previous version carry an event id, which the sweep does
    not need: it sends whatever is owed.
    """
    from . import notifications

    return asdict(notifications.deliver_due())


# No autoretry, like the meeting reminders: beat runs the sweep again in a few
# minutes, and a failed mail is retried through its row.
@shared_task(name="issues.send_deadline_reminders")
def send_deadline_reminders() -> dict[str, int]:
    """Plan and send the reply-deadline and due-date reminders that are due
    (beat runs it every few minutes).

    Returns the sweep's counts: planned, sent, failed, skipped, deferred.
    """
    from . import deadlines

    return asdict(deadlines.sweep())
