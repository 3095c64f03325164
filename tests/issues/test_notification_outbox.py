"""Notification e-mails are an outbox: sent once, never lost, never to the wrong person.

SMTP outages, a sweep killed before or after the server accepted a mail,
a sweep running out of lease, parallel sweeps in separate processes, and
recipients who may no longer read the issue by the time the mail goes out.
Mail goes through a real SMTP server (aiosmtpd) here, not only the outbox.
"""

import email
import email.policy
import logging
import os
import re
import subprocess
import sys
from collections import Counter
from datetime import datetime, timedelta
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller
from django.conf import settings as django_settings
from django.core.management import call_command
from django.db import connection
from django.urls import reverse

from issues import notifications, services
from issues.models import Cooperation, Event, EventKind, Issue, Notification
from issues.notifications import SweepResult
from tests.factories import AgencyFactory, UserFactory
from tests.issues.conftest import SmtpCollector, free_port, smtp_settings

pytestmark = pytest.mark.usefixtures("mail_everything_at_once")

SEOUL = ZoneInfo("Asia/Seoul")
T = datetime(2027, 3, 2, 9, 0, tzinfo=SEOUL)
MINUTE = timedelta(minutes=1)
TITLE = "도시철도 2호선 공정 점검"


@pytest.fixture
def clock(time_machine):
    time_machine.move_to(T, tick=False)

    def move_to(moment):
        time_machine.move_to(moment, tick=False)

    return move_to


def _sweep_at(clock, moment, **options) -> SweepResult:
    clock(moment)
    return notifications.deliver_due(**options)


def _request(alice, agency_a, *agencies, **fields) -> Issue:
    """Alice files an issue asking ``agencies`` to cooperate: their people are notified."""
    return services.issue_create(
        actor=alice,
        title=TITLE,
        lead_agency=agency_a,
        cooperating_agencies=list(agencies),
        **fields,
    )


def _message_ids(envelopes) -> list[str]:
    return [
        email.message_from_bytes(e.original_content, policy=email.policy.default)[
            "Message-ID"
        ].strip()
        for e in envelopes
    ]


# --- SMTP failures ---------------------------------------------------------------------


@pytest.mark.django_db
def test_smtp_down_then_up_is_retried_with_backoff_and_delivered_once(
    settings, clock, alice, bob, agency_a, agency_b
):
    port = free_port()
    smtp_settings(settings, port)  # nothing listens there yet
    _request(alice, agency_a, agency_b)

    assert _sweep_at(clock, T) == SweepResult(failed=1)
    row = Notification.objects.get()
    assert row.emailed_at is None
    assert row.attempts == 1
    assert "ConnectionRefusedError" in row.last_error
    assert row.claimed_until is None
    assert row.next_attempt_at == T + 2 * MINUTE

    # Before the backoff ends nothing is tried; then it fails again, backing off longer.
    assert _sweep_at(clock, T + MINUTE) == SweepResult()
    assert _sweep_at(clock, T + 2 * MINUTE) == SweepResult(failed=1)
    row.refresh_from_db()
    assert (row.attempts, row.next_attempt_at) == (2, T + 6 * MINUTE)

    handler = SmtpCollector()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        assert _sweep_at(clock, T + 5 * MINUTE) == SweepResult()
        assert _sweep_at(clock, T + 6 * MINUTE) == SweepResult(sent=1)
        for moment in (T + 7 * MINUTE, T + 2 * 60 * MINUTE, T + 48 * 60 * MINUTE):
            assert _sweep_at(clock, moment) == SweepResult()
    finally:
        controller.stop()

    [envelope] = handler.envelopes
    assert envelope.rcpt_tos == [bob.email]
    assert _message_ids(handler.envelopes) == [notifications.OUTBOX.message_id(row)]
    row.refresh_from_db()
    assert row.emailed_at == T + 6 * MINUTE
    assert row.attempts == 3


@pytest.mark.django_db
def test_backoff_doubles_up_to_an_hour(settings, clock, alice, bob, agency_a, agency_b):
    smtp_settings(settings, free_port())  # down for good
    _request(alice, agency_a, agency_b)
    waits = []
    moment = T
    for _ in range(8):
        assert _sweep_at(clock, moment) == SweepResult(failed=1)
        row = Notification.objects.get()
        waits.append(row.next_attempt_at - moment)
        moment = row.next_attempt_at

    assert [wait // MINUTE for wait in waits] == [2, 4, 8, 16, 32, 60, 60, 60]


@pytest.mark.django_db
def test_an_unreachable_smtp_server_stops_the_sweep_at_the_first_failure(
    settings, clock, alice, agency_a
):
    smtp_settings(settings, free_port())
    agency = AgencyFactory()
    people = [UserFactory(agency=agency) for _ in range(5)]
    _request(alice, agency_a, agency)

    assert _sweep_at(clock, T, batch_size=2) == SweepResult(failed=2)

    # The first batch is failed with the server's error; the rest was not even claimed.
    rows = Notification.objects.order_by("recipient_id")
    assert [row.attempts for row in rows] == [1, 1, 0, 0, 0]
    assert all("ConnectionRefusedError" in row.last_error for row in rows[:2])
    assert len(people) == rows.count()


@pytest.mark.django_db
def test_an_address_the_server_refuses_fails_alone(
    smtp_server, clock, alice, bob, agency_a, agency_b
):
    bora = UserFactory(username="bora", agency=agency_b)
    smtp_server.handler.refused = {bob.email}
    _request(alice, agency_a, agency_b)

    assert _sweep_at(clock, T) == SweepResult(sent=1, failed=1)

    assert [envelope.rcpt_tos for envelope in smtp_server.envelopes] == [[bora.email]]
    refused = Notification.objects.get(recipient=bob)
    assert refused.emailed_at is None
    assert "SMTPRecipientsRefused" in refused.last_error


# --- a sweep that died, or ran out of time -------------------------------------------------


class Killed(BaseException):
    """The process died here (kill -9, OOM, a lost database connection): nothing
    after this line ran, and nothing catches it."""


@pytest.mark.django_db
def test_a_crash_after_the_server_accepted_resends_the_same_message(
    monkeypatch, smtp_server, clock, alice, bob, agency_a, agency_b
):
    _request(alice, agency_a, agency_b)
    row = Notification.objects.get()

    def killed(notification):
        raise Killed

    monkeypatch.setattr(notifications.OUTBOX, "mark_sent", killed)
    with pytest.raises(Killed):
        _sweep_at(clock, T)
    monkeypatch.undo()

    assert len(smtp_server.envelopes) == 1  # accepted, but never marked sent
    row.refresh_from_db()
    assert (row.emailed_at, row.claimed_until) == (None, T + notifications.OUTBOX.lease)

    # Another sweep leaves it alone while the lease runs, then sends it again...
    assert _sweep_at(clock, T + 5 * MINUTE) == SweepResult()
    assert _sweep_at(clock, T + notifications.OUTBOX.lease) == SweepResult(sent=1)
    assert _sweep_at(clock, T + notifications.OUTBOX.lease + MINUTE) == SweepResult()

    # ...as the same message: mail clients show it once.
    assert [e.rcpt_tos for e in smtp_server.envelopes] == [[bob.email], [bob.email]]
    first, second = _message_ids(smtp_server.envelopes)
    assert first == second == notifications.OUTBOX.message_id(row)
    row.refresh_from_db()
    assert row.emailed_at == T + notifications.OUTBOX.lease
    assert row.attempts == 2


@pytest.mark.django_db
def test_a_claim_left_by_a_killed_sweep_is_taken_over_once_its_lease_expires(
    clock, mailoutbox, alice, bob, agency_a, agency_b
):
    _request(alice, agency_a, agency_b)
    # A sweep claimed the row, then its worker was killed before the mail went out.
    Notification.objects.update(claimed_until=T + notifications.OUTBOX.lease, attempts=1)

    assert _sweep_at(clock, T + 5 * MINUTE) == SweepResult()
    assert _sweep_at(clock, T + notifications.OUTBOX.lease - timedelta(seconds=1)) == SweepResult()
    assert mailoutbox == []

    assert _sweep_at(clock, T + notifications.OUTBOX.lease) == SweepResult(sent=1)
    assert _sweep_at(clock, T + 30 * MINUTE) == SweepResult()
    assert [message.to for message in mailoutbox] == [[bob.email]]
    assert Notification.objects.get().attempts == 2


@pytest.mark.django_db
def test_a_sweep_stops_before_its_lease_could_run_out_and_gives_the_rest_back(
    monkeypatch, settings, clock, mailoutbox, alice, bob, agency_a, agency_b
):
    UserFactory(username="bora", agency=agency_b)
    settings.EMAIL_TIMEOUT = 5
    # Shorter than the margin kept for one slow SMTP exchange: nothing may be sent.
    monkeypatch.setattr(notifications.OUTBOX, "lease", timedelta(seconds=10))
    _request(alice, agency_a, agency_b)

    assert _sweep_at(clock, T) == SweepResult(deferred=2)

    assert mailoutbox == []
    assert list(Notification.objects.values_list("attempts", "claimed_until")) == [
        (0, None),
        (0, None),
    ]
    monkeypatch.undo()
    assert _sweep_at(clock, T + MINUTE) == SweepResult(sent=2)


# --- never to someone who may no longer read it --------------------------------------------


@pytest.mark.django_db
def test_an_issue_restricted_after_the_notification_is_never_mailed_to_outsiders(
    clock, mailoutbox, alice, hana, bob, agency_a, agency_b
):
    issue = _request(alice, agency_a, agency_b)
    services.comment_create(issue=issue, actor=bob, body="나기관 의견입니다.")  # a participant
    issue.refresh_from_db()
    # Agency B steps back; the issue is public, so bob still reads it and hears of it.
    services.issue_update(
        issue=issue, actor=alice, expected_version=issue.version, cooperating_agencies=[]
    )
    assert _sweep_at(clock, T).sent > 0
    mailoutbox.clear()
    services.comment_create(issue=issue, actor=alice, body="예산 조율 중입니다.")
    told = Notification.objects.get(recipient=bob, event__kind=EventKind.COMMENT, read_at=None)
    assert told.event.comment.body == "예산 조율 중입니다."

    # Restricted before the sweep: bob may no longer read it.
    issue.refresh_from_db()
    services.issue_update(
        issue=issue, actor=alice, expected_version=issue.version, visibility="restricted"
    )
    result = _sweep_at(clock, T + MINUTE)

    assert result == SweepResult(sent=1, skipped=1)
    assert [message.to for message in mailoutbox] == [[hana.email]]
    told.refresh_from_db()
    assert told.emailed_at is None
    assert told.email_skipped_at == T + MINUTE
    assert told.last_error == "skipped: recipient may no longer read the issue"
    # Made public again later: the mail is not sent late.
    issue.refresh_from_db()
    services.issue_update(
        issue=issue, actor=alice, expected_version=issue.version, visibility="all"
    )
    assert _sweep_at(clock, T + 2 * 60 * MINUTE) == SweepResult()


@pytest.mark.django_db
def test_the_bell_hides_a_notification_of_an_issue_restricted_since(
    client, clock, alice, bob, agency_a, agency_b
):
    issue = _request(alice, agency_a, agency_b, visibility="restricted")
    client.force_login(bob)
    assert TITLE in client.get(reverse("notifications:list")).content.decode()

    Cooperation.objects.filter(issue=issue).delete()  # B no longer involved

    assert TITLE not in client.get(reverse("notifications:list")).content.decode()
    assert _sweep_at(clock, T) == SweepResult(skipped=1)


@pytest.mark.django_db
def test_a_recipient_deactivated_or_without_an_address_by_then_is_not_mailed(
    clock, mailoutbox, caplog, alice, bob, agency_a, agency_b
):
    bora = UserFactory(username="bora", agency=agency_b)
    _request(alice, agency_a, agency_b)
    bob.is_active = False
    bob.save(update_fields=["is_active"])
    bora.email = ""
    bora.save(update_fields=["email"])

    with caplog.at_level(logging.INFO, logger="issues.notifications"):
        assert _sweep_at(clock, T) == SweepResult(skipped=2)

    assert mailoutbox == []
    assert sorted(Notification.objects.values_list("last_error", flat=True)) == [
        "skipped: recipient deactivated",
        "skipped: recipient has no e-mail address",
    ]
    # Logged by the app that owns the outbox (core.outbox names it after the
    # module), so an operator can filter the sweep's lines.
    skips = [r.getMessage() for r in caplog.records if r.name == "issues.notifications"]
    assert len(skips) == 2
    assert all(m.startswith("notification ") and " not mailed: " in m for m in skips)


# --- the Message-ID ---------------------------------------------------------------------


@pytest.mark.django_db
def test_each_notification_has_its_own_message_id_which_never_changes(
    settings, alice, bob, agency_a, agency_b
):
    settings.DEFAULT_FROM_EMAIL = "광주 허브 <noreply@hub.gwangju.example>"
    UserFactory(username="bora", agency=agency_b)
    _request(alice, agency_a, agency_b)

    first, second = Notification.objects.all()
    ids = [notifications.OUTBOX.message_id(row) for row in (first, second)]

    assert ids[0] != ids[1]
    for row, message_id in zip((first, second), ids, strict=True):
        assert re.fullmatch(r"<notification\.[0-9a-f]{32}@hub\.gwangju\.example>", message_id)
        assert notifications.OUTBOX.message_id(Notification.objects.get(pk=row.pk)) == message_id


# --- parallel sweeps in separate processes -------------------------------------------------


def _counts(output: str) -> dict[str, int]:
    """The numbers ``deliver_notifications`` printed."""
    return {name: int(number) for name, number in re.findall(r"(\w+) (\d+)", output)}


def _database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    password = f":{quote(db['PASSWORD'], safe='')}" if db["PASSWORD"] else ""
    return (
        f"postgres://{quote(db['USER'], safe='')}{password}"
        f"@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    )


@pytest.mark.django_db(transaction=True)  # the other processes must see committed rows
def test_two_sweeps_in_parallel_processes_send_each_mail_exactly_once(smtp_server, alice, agency_a):
    agency = AgencyFactory()
    people = [UserFactory(agency=agency) for _ in range(20)]
    _request(alice, agency_a, agency)
    expected = sorted(user.email for user in people)
    smtp_server.handler.delay = 0.2  # slow enough for the two sweeps to overlap

    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "EMAIL_URL": f"smtp://127.0.0.1:{smtp_server.port}",
        "DEBUG": "1",
    }
    command = [sys.executable, "manage.py", "deliver_notifications", "--batch-size", "2"]
    sweeps = [
        subprocess.Popen(
            command,
            cwd=django_settings.BASE_DIR,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [sweep.communicate(timeout=120) for sweep in sweeps]

    assert [sweep.returncode for sweep in sweeps] == [0, 0], outputs
    counts = [_counts(out) for out, _ in outputs]
    assert sum(count["sent"] for count in counts) == len(expected)
    assert sum(count["failed"] for count in counts) == 0
    # Both really sent some: the race was real, and still nobody got two mails.
    assert all(count["sent"] > 0 for count in counts), counts
    received = Counter(address for e in smtp_server.envelopes for address in e.rcpt_tos)
    assert sorted(received) == expected
    assert set(received.values()) == {1}
    rows = Notification.objects.all()
    assert set(rows.values_list("attempts", flat=True)) == {1}
    assert not rows.filter(emailed_at=None).exists()


# --- by hand ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_command_runs_one_sweep_and_prints_what_it_did(
    capsys, settings, clock, mailoutbox, alice, bob, agency_a, agency_b
):
    _request(alice, agency_a, agency_b)

    call_command("deliver_notifications")
    assert capsys.readouterr().out.strip() == (
        "sent 1, failed 0, skipped 0, deferred 0; still owed 0"
    )
    assert [message.to for message in mailoutbox] == [[bob.email]]

    smtp_settings(settings, free_port())
    services.comment_create(issue=Issue.objects.get(), actor=bob, body="확인했습니다.")
    call_command("deliver_notifications")
    assert capsys.readouterr().out.strip() == (
        "sent 0, failed 1, skipped 0, deferred 0; still owed 1"
    )


@pytest.mark.django_db
def test_the_command_refuses_a_limit_below_one():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("deliver_notifications", "--limit", "0")


@pytest.mark.django_db
def test_a_limit_leaves_the_rest_for_the_next_sweep(clock, mailoutbox, alice, agency_a):
    agency = AgencyFactory()
    for _ in range(5):
        UserFactory(agency=agency)
    _request(alice, agency_a, agency)

    assert _sweep_at(clock, T, limit=3, batch_size=2) == SweepResult(sent=3)
    assert notifications.owed_count() == 2
    assert _sweep_at(clock, T + MINUTE) == SweepResult(sent=2)
    assert len(mailoutbox) == 5


# --- the same answer twice -----------------------------------------------------------------


@pytest.mark.django_db
def test_giving_the_same_cooperation_answer_twice_changes_nothing(
    clock, alice, hana, bob, agency_a, agency_b
):
    issue = _request(alice, agency_a, agency_b)
    cooperation = Cooperation.objects.get(issue=issue)
    services.cooperation_answer(cooperation=cooperation, actor=bob, status="accepted", note="가능")
    issue.refresh_from_db()
    before = (issue.version, issue.updated_at)
    events = Event.objects.count()
    told = Notification.objects.count()

    clock(T + MINUTE)
    again = services.cooperation_answer(
        cooperation=cooperation, actor=bob, status="accepted", note=" 가능 "
    )

    assert again.answered_at == T  # the first answer stands
    issue.refresh_from_db()
    assert (issue.version, issue.updated_at) == before
    assert Event.objects.count() == events
    assert Notification.objects.count() == told

    # A different note is a new answer.
    services.cooperation_answer(
        cooperation=cooperation, actor=bob, status="accepted", note="9월부터 가능"
    )
    assert Event.objects.count() == events + 1
    assert Notification.objects.count() == told + 2  # alice and hana
