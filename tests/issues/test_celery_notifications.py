"""A comment reaches its recipient through the broker and a real Celery worker."""

import time

import pytest
from celery.contrib.testing.worker import start_worker
from django.core import mail
from django.db import transaction

from gwangju_hub.celery import app as celery_app
from issues import services
from issues.models import Notification


@pytest.fixture
def celery_worker():
    # A real worker thread consuming from the configured broker (Redis in CI,
    # the filesystem transport on the embedded default).
    with start_worker(
        celery_app, perform_ping_check=False, pool="solo", shutdown_timeout=10
    ) as worker:
        yield worker


def _wait_for(condition, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)  # the worker thread must see committed rows
def test_a_comment_is_delivered_by_the_worker_after_commit(
    celery_worker, mailoutbox, alice, minji, agency_a
):
    issue = services.issue_create(
        actor=alice, title="도시철도 2호선 공정 점검", lead_agency=agency_a
    )

    with transaction.atomic():
        services.comment_create(issue=issue, actor=minji, body="주간 보고 부탁드립니다.")
        # Queued on commit, not before: nothing may be delivered yet.
        assert not Notification.objects.exists()

    # The worker is another thread: the locmem backend appends to the
    # process-wide django.core.mail.outbox, which mailoutbox is.
    assert _wait_for(lambda: len(mail.outbox) >= 1), "the worker delivered nothing in 15 s"
    time.sleep(0.5)  # a duplicate delivery would show up by now

    assert [message.to for message in mail.outbox] == [[alice.email]]
    assert "주간 보고 부탁드립니다." in mail.outbox[0].body
    notification = Notification.objects.get()
    assert notification.recipient == alice
    assert notification.event.comment.body == "주간 보고 부탁드립니다."
    assert notification.emailed_at is not None
    assert notification.read_at is None
