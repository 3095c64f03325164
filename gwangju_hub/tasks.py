"""Celery tasks of the top floor: thin doors to what joins the apps."""

from dataclasses import asdict

from celery import shared_task


# No autoretry: the run is idempotent and beat runs it again in 15 minutes,
# which is the retry; a failed mail is retried through its row.
@shared_task(name="gwangju_hub.send_digests")
def send_digests() -> dict[str, int]:
    """Plan today's digests once it is 08:30 on a working day, then send the owed ones."""
    from . import digest

    planned, result = digest.run()
    return {"planned": planned, **asdict(result)}
