from celery import shared_task


@shared_task(name="agencies.heartbeat")
def heartbeat() -> int:
    """Touch the database from a worker; returns the number of active organizations.

    Beat runs it regularly so a stalled worker shows in its log, and the
    end-to-end Celery test sends it through the real broker.
    """
    from .models import Agency

    return Agency.objects.active().count()
