import pytest
from celery.contrib.testing.worker import start_worker

from agencies.models import Agency
from agencies.tasks import heartbeat
from gwangju_hub.celery import app as celery_app


@pytest.fixture
def celery_worker():
    # A real worker thread consuming from the configured broker (Redis in CI,
    # the filesystem transport on the embedded default).
    with start_worker(
        celery_app, perform_ping_check=False, pool="solo", shutdown_timeout=10
    ) as worker:
        yield worker


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)  # the worker thread must see committed rows
def test_a_real_worker_runs_a_task_through_the_broker(celery_worker, agency_a, agency_b):
    Agency.objects.filter(pk=agency_b.pk).update(is_active=False)

    result = heartbeat.delay()

    assert result.get(timeout=20) == 1


def test_beat_schedule_entries_name_registered_tasks():
    celery_app.loader.import_default_modules()
    for name, entry in celery_app.conf.beat_schedule.items():
        assert entry["task"] in celery_app.tasks, name
