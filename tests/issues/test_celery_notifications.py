"""A comment's e-mail reaches its recipient through the broker and a real Celery worker:
the notification is written with the comment, the kick after commit wakes the
worker, and the worker's sweep sends the mail."""

import time

import pytest
from celery.contrib.testing.worker import start_worker
from django.core import mail
from django.db import transaction

from gwangju_hub.celery import app as celery_app
from issues import notifications, services
from issues.models import Notification
from issues.tasks import deliver_notifications

pytestmark = pytest.mark.usefixtures("mail_everything_at_once")


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
def test_a_comment_is_mailed_by_the_worker_after_commit(
    celery_worker, mailoutbox, alice, minji, agency_a
):
    issue = services.issue_create(
        actor=alice, title="도시철도 2호선 공정 점검", lead_agency=agency_a
    )

    with transaction.atomic():
        services.comment_create(issue=issue, actor=minji, body="주간 보고 부탁드립니다.")
        # Written with the comment, so the bell has it whatever the broker does;
        # the mail waits for the commit.
        notification = Notification.objects.get()
        assert notification.recipient == alice
        assert notification.email_due_at is not None
        time.sleep(0.5)
        assert mail.outbox == []

    # The worker is another thread: the locmem backend appends to the
    # process-wide django.core.mail.outbox, which mailoutbox is.
    assert _wait_for(lambda: len(mail.outbox) >= 1), "the worker delivered nothing in 15 s"
    time.sleep(0.5)  # a duplicate delivery would show up by now

    assert [message.to for message in mail.outbox] == [[alice.email]]
    assert "주간 보고 부탁드립니다." in mail.outbox[0].body
    assert mail.outbox[0].extra_headers["Message-ID"] == notifications.OUTBOX.message_id(
        notification
    )
    notification.refresh_from_db()
    assert notification.event.comment.body == "주간 보고 부탁드립니다."
    assert notification.emailed_at is not None
    assert notification.read_at is None


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_the_task_is_a_sweep_and_accepts_messages_of_the_previous_version(
    monkeypatch, celery_worker, mailoutbox, alice, bob, agency_a, agency_b
):
    # Nothing kicks the sweep here: as if the broker had been down.
    monkeypatch.setattr("core.broker.enqueue", lambda task, *args: False)
    services.issue_create(
        actor=alice, title="협조 요청", lead_agency=agency_a, cooperating_agencies=[agency_b]
    )
    monkeypatch.undo()

    # A message queued by the previous version carried an event id.
    counts = deliver_notifications.delay(987654).get(timeout=20)

    assert set(counts) == {"sent", "failed", "skipped", "deferred"}
    # (A sweep left in the test broker's queue by an earlier test may have sent it first.)
    assert _wait_for(lambda: len(mail.outbox) >= 1)
    assert deliver_notifications.delay().get(timeout=20)["sent"] == 0
    assert [message.to for message in mail.outbox] == [[bob.email]]
