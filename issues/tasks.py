from celery import shared_task


@shared_task(
    name="issues.deliver_notifications",
    autoretry_for=(Exception,),
    retry_backoff=30,
    retry_backoff_max=15 * 60,
    max_retries=8,
)
def deliver_notifications(event_id: int) -> int:
    """Notify the people an issue event concerns (queued after commit)."""
    from . import notifications

    return notifications.deliver(event_id)
