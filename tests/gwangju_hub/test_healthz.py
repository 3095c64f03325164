"""/healthz: 200 when everything answers and the outbox moves, 503 naming what is down or late,
always within 3 s."""

import time

import pytest

from core import health


@pytest.mark.django_db
def test_it_answers_ok_when_database_and_broker_are_up(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    body = response.json()
    assert (body["database"], body["broker"], body["outbox"]) == ("ok", "ok", "ok")
    assert body["outbox_backlog"]["due"] == 0
    assert "errors" not in body


@pytest.fixture
def broker_at(settings):
    """Point the broker check at another address (a real server or a dead port)."""

    def point(url: str) -> None:
        settings.CELERY_BROKER_URL = url
        health._redis_client.cache_clear()

    yield point
    health._redis_client.cache_clear()


@pytest.mark.django_db
def test_it_answers_503_naming_the_broker_when_the_broker_refuses(client, broker_at):
    broker_at("redis://127.0.0.1:9/0")  # nothing listens on port 9: a real refused connection

    response = client.get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["database"] == "ok"
    assert body["broker"] == "down"
    assert "broker" in body["errors"]


@pytest.mark.django_db
def test_it_answers_503_within_3_seconds_when_redis_hangs(client, broker_at, throwaway_redis):
    broker_at(throwaway_redis.url)
    assert client.get("/healthz").status_code == 200  # the pooled connection is now open

    throwaway_redis.hang()  # SIGSTOP: the socket stays open, nothing ever answers
    started = time.monotonic()
    response = client.get("/healthz")
    elapsed = time.monotonic() - started

    assert response.status_code == 503
    assert response.json()["broker"] == "down"
    assert elapsed < 3.0

    throwaway_redis.resume()
    assert client.get("/healthz").status_code == 200  # and it recovers by itself


@pytest.mark.django_db
def test_a_hung_redis_does_not_slow_later_probes_beyond_the_deadline(
    client, broker_at, throwaway_redis
):
    broker_at(throwaway_redis.url)
    throwaway_redis.hang()

    started = time.monotonic()
    statuses = [client.get("/healthz").status_code for _ in range(3)]

    assert statuses == [503, 503, 503]
    assert time.monotonic() - started < 3 * 3.0


@pytest.mark.django_db
def test_the_embedded_broker_is_checked_by_its_folder(client, settings, tmp_path):
    settings.CELERY_BROKER_URL = "filesystem://"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"data_folder_in": str(tmp_path / "missing")}

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["broker"] == "down"


@pytest.mark.django_db
def test_it_is_never_redirected_to_https(client, settings):
    settings.SECURE_SSL_REDIRECT = True

    assert client.get("/healthz").status_code == 200
    assert client.get("/accounts/login/").status_code == 301


# --- the outbox -------------------------------------------------------------------


@pytest.fixture
def owed_mail(alice, bob, agency_a, agency_b):
    """One notification e-mail owed to Bob (a cooperation request), due now."""
    from issues import services
    from issues.models import Notification

    services.issue_create(
        actor=alice, title="협조 요청", lead_agency=agency_a, cooperating_agencies=[agency_b]
    )
    return Notification.objects.get(recipient=bob)


@pytest.mark.django_db
def test_a_fresh_backlog_is_not_late(client, owed_mail):
    body = client.get("/healthz").json()

    assert body["outbox"] == "ok"
    assert body["outbox_backlog"]["due"] == 1


@pytest.mark.django_db
def test_it_answers_503_late_naming_count_and_age_when_mail_has_waited_too_long(
    client, settings, owed_mail, mailoutbox
):
    import datetime

    import time_machine

    from issues import notifications

    settings.OUTBOX_LATE_MINUTES = 15
    later = owed_mail.email_due_at + datetime.timedelta(minutes=20)

    with time_machine.travel(later, tick=False):
        response = client.get("/healthz")
        body = response.json()
        assert response.status_code == 503
        assert body["outbox"] == "late"
        assert body["outbox_backlog"]["due"] == 1
        assert body["outbox_backlog"]["oldest_age_seconds"] == 20 * 60
        assert body["errors"]["outbox"] == "1 due, the oldest waiting 20 min"

        # The worker is back: once the backlog is delivered, all is well again.
        assert notifications.deliver_due().sent == 1
        assert client.get("/healthz").status_code == 200


@pytest.mark.django_db
def test_a_mail_backing_off_after_smtp_failures_still_counts_as_waiting(
    client, settings, owed_mail
):
    import datetime

    import time_machine

    from issues.models import Notification

    Notification.objects.filter(pk=owed_mail.pk).update(
        attempts=3, next_attempt_at=owed_mail.email_due_at + datetime.timedelta(hours=1)
    )

    with time_machine.travel(owed_mail.email_due_at + datetime.timedelta(minutes=16), tick=False):
        assert client.get("/healthz").json()["outbox"] == "late"


@pytest.mark.django_db
def test_a_late_meeting_reminder_makes_the_outbox_late(client, settings, minji, agency_a):
    import datetime

    import time_machine
    from django.utils import timezone

    from meetings.models import Meeting, ReminderDelivery

    now = timezone.now()
    meeting = Meeting.objects.create(
        kind="other",
        title="현안 점검 회의",
        starts_at=now + datetime.timedelta(days=2),
        ends_at=now + datetime.timedelta(days=2, hours=2),
    )
    meeting.invited_agencies.set([agency_a])
    ReminderDelivery.objects.create(
        meeting=meeting,
        purpose="meeting",
        recipient=minji,
        offset=datetime.timedelta(days=2),
        due_at=meeting.starts_at - datetime.timedelta(days=2),
        created_at=now,
    )

    with time_machine.travel(now + datetime.timedelta(minutes=16), tick=False):
        body = client.get("/healthz").json()

    assert body["outbox"] == "late"
    assert body["outbox_backlog"]["due"] == 1


@pytest.mark.django_db
def test_reminders_that_will_never_be_sent_do_not_count(client, minji, agency_a):
    """A cancelled meeting's reminder, or one for a moved meeting's old time, waits for nothing."""
    import datetime

    import time_machine
    from django.utils import timezone

    from meetings.models import Meeting, ReminderDelivery

    now = timezone.now()
    meeting = Meeting.objects.create(
        kind="other",
        title="취소된 회의",
        starts_at=now + datetime.timedelta(days=2),
        ends_at=now + datetime.timedelta(days=2, hours=2),
        status="cancelled",
    )
    ReminderDelivery.objects.create(
        meeting=meeting,
        purpose="meeting",
        recipient=minji,
        offset=datetime.timedelta(days=2),
        due_at=meeting.starts_at - datetime.timedelta(days=2),
        created_at=now,
    )

    with time_machine.travel(now + datetime.timedelta(hours=1), tick=False):
        body = client.get("/healthz").json()

    assert (body["outbox"], body["outbox_backlog"]["due"]) == ("ok", 0)


@pytest.mark.django_db
def test_a_failing_outbox_query_is_a_503_not_a_500(client, monkeypatch):
    from gwangju_hub import outbox

    def broken(now=None):
        raise RuntimeError("relation does not exist")

    monkeypatch.setattr(outbox, "backlogs", broken)  # stands in for an unmigrated database

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["outbox"] == "unknown"
    assert response.json()["errors"]["outbox"] == "RuntimeError"


# --- cheap to poll ----------------------------------------------------------------


@pytest.mark.django_db
def test_probes_reuse_one_pooled_broker_connection(client, settings):
    """Not a new Redis connection per probe: the check's client keeps its pool."""
    import redis

    if not settings.CELERY_BROKER_URL.startswith("redis"):
        pytest.skip(
            "the embedded default broker is a folder, not Redis: there is no connection to pool"
        )
    health._redis_client.cache_clear()
    client.get("/healthz")
    pool = health._redis_client(settings.CELERY_BROKER_URL).connection_pool
    for _ in range(5):
        assert client.get("/healthz").status_code == 200

    assert isinstance(pool, redis.ConnectionPool)
    assert health._redis_client(settings.CELERY_BROKER_URL).connection_pool is pool
    assert len(pool._available_connections) + len(pool._in_use_connections) == 1


@pytest.mark.django_db
def test_the_outbox_answer_is_reused_for_a_few_seconds(
    client, settings, monkeypatch, owed_mail, django_assert_max_num_queries
):
    """A probe polled every second does not ask every outbox table each time."""
    from gwangju_hub import views

    settings.OUTBOX_CHECK_SECONDS = 5
    clock = [1000.0]
    monkeypatch.setattr(views, "monotonic", lambda: clock[0])
    views._outbox_answer.clear()
    first = client.get("/healthz").json()

    with django_assert_max_num_queries(1):  # SELECT 1; the outbox answer is reused
        again = client.get("/healthz").json()
    clock[0] += 6
    owed_mail.delete()
    later = client.get("/healthz").json()
    views._outbox_answer.clear()

    assert first["outbox_backlog"]["due"] == again["outbox_backlog"]["due"] == 1
    assert later["outbox_backlog"]["due"] == 0  # asked again once the answer is old
