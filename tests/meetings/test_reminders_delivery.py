"""Reminders are delivered once and never lost: SMTP outages, dead sweeps,
parallel sweeps in separate processes, and a real Celery worker.

Mail goes through a real SMTP server (aiosmtpd) here, not only the outbox.
"""

import asyncio
import email
import email.policy
import os
import re
import signal
import subprocess
import sys
from collections import Counter
from datetime import datetime, timedelta
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller
from celery.contrib.testing.worker import start_worker
from django.conf import settings as django_settings
from django.core import mail
from django.db import connection
from django.utils import timezone
from icalendar import Calendar

from agencies.models import Role
from gwangju_hub.celery import app as celery_app
from meetings import reminders
from meetings.models import MeetingKind, ReminderDelivery, ReminderNotice
from meetings.reminders import SweepResult
from meetings.tasks import send_due_reminders
from tests.factories import AgencyFactory, UserFactory
from tests.meetings.conftest import SmtpCollector, free_port, smtp_settings

SEOUL = ZoneInfo("Asia/Seoul")
T = datetime(2027, 2, 18, 14, 0, tzinfo=SEOUL)
DAY = timedelta(days=1)
MINUTE = timedelta(minutes=1)
TITLE = "제1차 부기관장 회의"


@pytest.fixture
def clock(time_machine):
    time_machine.move_to(T - 30 * DAY, tick=False)

    def move_to(moment):
        time_machine.move_to(moment, tick=False)

    return move_to


@pytest.fixture
def meeting(clock, make_meeting, agency_a):
    """The vice-heads' meeting at T; agency A is invited."""
    return make_meeting(starts_at=T, title=TITLE, invited=[agency_a])


def _sweep_at(clock, moment) -> SweepResult:
    clock(moment)
    return reminders.sweep()


# --- SMTP failures ---------------------------------------------------------------------


@pytest.mark.django_db
def test_smtp_down_then_up_is_retried_with_backoff_and_delivered_once(
    settings, clock, meeting, victor
):
    port = free_port()
    smtp_settings(settings, port)  # nothing listens there yet

    assert _sweep_at(clock, T - 7 * DAY) == SweepResult(planned=1, failed=1)
    delivery = ReminderDelivery.objects.get()
    assert delivery.sent_at is None
    assert delivery.attempts == 1
    assert "ConnectionRefusedError" in delivery.last_error
    assert delivery.claimed_until is None
    assert delivery.next_attempt_at == T - 7 * DAY + 2 * MINUTE
    assert not ReminderNotice.objects.exists()

    # Before the backoff ends nothing is tried; then it fails again, backing off longer.
    assert _sweep_at(clock, T - 7 * DAY + MINUTE) == SweepResult()
    assert _sweep_at(clock, T - 7 * DAY + 2 * MINUTE) == SweepResult(failed=1)
    delivery.refresh_from_db()
    assert (delivery.attempts, delivery.next_attempt_at) == (2, T - 7 * DAY + 6 * MINUTE)

    handler = SmtpCollector()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        assert _sweep_at(clock, T - 7 * DAY + 5 * MINUTE) == SweepResult()
        assert _sweep_at(clock, T - 7 * DAY + 6 * MINUTE) == SweepResult(sent=1)
        for moment in (T - 7 * DAY + 11 * MINUTE, T - 6 * DAY, T - 2 * DAY):
            assert _sweep_at(clock, moment) == SweepResult()
    finally:
        controller.stop()

    [envelope] = handler.envelopes
    assert envelope.rcpt_tos == [victor.email]
    delivery.refresh_from_db()
    assert delivery.sent_at == T - 7 * DAY + 6 * MINUTE
    assert delivery.attempts == 3
    assert ReminderNotice.objects.get().delivery == delivery


@pytest.mark.django_db
def test_the_mail_through_smtp_has_a_korean_subject_and_the_invitation(
    smtp_server, clock, meeting, victor
):
    assert _sweep_at(clock, T - 7 * DAY).sent == 1

    [envelope] = smtp_server.envelopes
    message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
    subject = " ".join(str(message["Subject"]).split())
    assert subject.startswith("[광주 허브] ")
    assert subject.endswith(f"{TITLE} (D-7)")
    body = message.get_body(preferencelist=("plain",))
    assert body.get_content_charset() == "utf-8"
    assert "광주광역시청 3층 중회의실" in body.get_content()
    [invitation] = [
        p for p in message.iter_attachments() if p.get_content_type() == "text/calendar"
    ]
    assert invitation.get_param("method") == "REQUEST"
    [event] = Calendar.from_ical(invitation.get_payload(decode=True)).walk("VEVENT")
    assert event.decoded("DTSTART") == T


@pytest.mark.django_db
def test_an_address_the_server_refuses_fails_alone(smtp_server, clock, meeting, victor, minji):
    smtp_server.handler.refused = {victor.email}

    assert _sweep_at(clock, T - 7 * DAY) == SweepResult(planned=2, sent=1, failed=1)

    assert [envelope.rcpt_tos for envelope in smtp_server.envelopes] == [[minji.email]]
    refused = ReminderDelivery.objects.get(recipient=victor)
    assert refused.sent_at is None
    assert "SMTPRecipientsRefused" in refused.last_error


# --- a sweep that died, or ran out of time -------------------------------------------------


@pytest.mark.django_db
def test_a_claim_left_by_a_killed_sweep_is_taken_over_once_its_lease_expires(
    clock, meeting, mailoutbox, victor
):
    clock(T - 7 * DAY)
    reminders.plan_reminders(timezone.now())
    # A sweep claimed the row, then its worker was killed before the mail went out.
    ReminderDelivery.objects.update(claimed_until=T - 7 * DAY + reminders.OUTBOX.lease, attempts=1)

    assert _sweep_at(clock, T - 7 * DAY + 5 * MINUTE) == SweepResult()
    assert _sweep_at(clock, T - 7 * DAY + 10 * MINUTE - timedelta(seconds=1)) == SweepResult()
    assert mailoutbox == []

    assert _sweep_at(clock, T - 7 * DAY + 10 * MINUTE) == SweepResult(sent=1)
    assert _sweep_at(clock, T - 7 * DAY + 30 * MINUTE) == SweepResult()
    assert [message.to for message in mailoutbox] == [[victor.email]]
    assert ReminderDelivery.objects.get().attempts == 2


@pytest.mark.django_db
def test_a_sweep_stops_before_its_lease_could_run_out_and_gives_the_rest_back(
    monkeypatch, settings, clock, meeting, mailoutbox, victor, minji
):
    settings.EMAIL_TIMEOUT = 5
    # Shorter than the margin kept for one slow SMTP exchange: nothing may be sent.
    monkeypatch.setattr(reminders.OUTBOX, "lease", timedelta(seconds=10))

    assert _sweep_at(clock, T - 7 * DAY) == SweepResult(planned=2, skipped=2)

    assert mailoutbox == []
    assert list(ReminderDelivery.objects.values_list("attempts", "claimed_until")) == [
        (0, None),
        (0, None),
    ]
    monkeypatch.undo()
    assert _sweep_at(clock, T - 7 * DAY + MINUTE) == SweepResult(sent=2)


# --- parallel sweeps in separate processes -------------------------------------------------


def _counts(output: str) -> dict[str, int]:
    """The numbers ``send_due_reminders`` printed."""
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
def test_two_sweeps_in_parallel_processes_send_each_reminder_exactly_once(
    smtp_server, make_meeting, minji
):
    agencies = [AgencyFactory() for _ in range(19)]
    vice_heads = [UserFactory(agency=agency, role=Role.VICE_HEAD) for agency in agencies]
    meeting = make_meeting(starts_at=timezone.now() + 6 * DAY, invited=agencies)
    expected = sorted(user.email for user in [*vice_heads, minji])
    smtp_server.handler.delay = 0.2  # slow enough for the two sweeps to overlap

    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "EMAIL_URL": f"smtp://127.0.0.1:{smtp_server.port}",
        "DEBUG": "1",
    }
    command = [sys.executable, "manage.py", "send_due_reminders", "--batch-size", "2"]
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
    deliveries = ReminderDelivery.objects.filter(meeting=meeting)
    assert deliveries.count() == len(expected)
    assert set(deliveries.values_list("attempts", flat=True)) == {1}
    assert not deliveries.filter(sent_at=None).exists()


# --- a real Celery worker ---------------------------------------------------------------


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
def test_a_real_worker_runs_the_sweep_task_through_the_broker(
    celery_worker, mailoutbox, make_meeting, hana, minji, agency_a
):
    make_meeting(starts_at=timezone.now() + 6 * DAY, kind=MeetingKind.HEADS, invited=[agency_a])

    counts = send_due_reminders.delay().get(timeout=20)

    assert counts == {"planned": 2, "sent": 2, "failed": 0, "skipped": 0}
    # The worker is another thread: locmem appends to the process-wide outbox.
    assert sorted(message.to[0] for message in mail.outbox) == sorted([hana.email, minji.email])
    assert send_due_reminders.delay().get(timeout=20)["sent"] == 0
    assert len(mail.outbox) == 2


# --- Message-ID: a resent reminder is recognisably the same message ---------------------


def _message_id(envelope) -> str:
    parsed = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
    # A long header may be folded onto a second line; the id is the same.
    return str(parsed["Message-ID"]).strip()


class _RefuseFirstData(SmtpCollector):
    """Answers the first message's DATA with a permanent error, accepts the rest."""

    def __init__(self) -> None:
        super().__init__()
        self.seen = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        self.seen.append(envelope)
        if len(self.seen) == 1:
            return "554 5.6.0 Try again later"
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


@pytest.mark.django_db
def test_each_row_has_its_own_message_id_and_keeps_it_when_retried(
    settings, clock, meeting, victor, minji
):
    handler = _RefuseFirstData()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    smtp_settings(settings, controller.port)
    settings.DEFAULT_FROM_EMAIL = "Gwangju Hub <noreply@hub.gwangju.example>"
    try:
        first = _sweep_at(clock, T - 7 * DAY)
        retried = _sweep_at(clock, T - 7 * DAY + 2 * MINUTE)  # after the backoff
    finally:
        controller.stop()

    assert (first.sent, first.failed, retried.sent) == (1, 1, 1)
    refused, *accepted = handler.seen
    assert len(accepted) == 2
    rows = {
        row.recipient.email: row for row in ReminderDelivery.objects.select_related("recipient")
    }
    for envelope in handler.seen:
        [address] = envelope.rcpt_tos
        uuid = rows[address].message_id.hex
        assert _message_id(envelope) == f"<reminder.{uuid}@hub.gwangju.example>"
    # The refused attempt and its retry are one message; the two people got two.
    assert _message_id(refused) in {_message_id(envelope) for envelope in accepted}
    assert len({_message_id(envelope) for envelope in accepted}) == 2


class _AcceptThenKillTheSender(SmtpCollector):
    """Accepts a message and kills the sweep that sent it before it can mark the row sent.

    The sending process is stopped (SIGSTOP) while the server answers "250",
    so it cannot read the answer, then killed (SIGKILL): the SMTP server has
    the mail, the database says it was never sent. That is the one window in
    which a reminder can go out twice.
    """

    def __init__(self) -> None:
        super().__init__()
        self.victim: int | None = None

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        self.envelopes.append(envelope)
        if self.victim is not None:
            pid, self.victim = self.victim, None
            os.kill(pid, signal.SIGSTOP)
            asyncio.get_running_loop().call_later(0.5, os.kill, pid, signal.SIGKILL)
        return "250 Message accepted for delivery"


@pytest.mark.django_db(transaction=True)  # the sweep in another process must see the rows
def test_the_resend_after_a_sweep_died_past_smtp_carries_the_same_message_id(
    settings, time_machine, make_meeting, victor, agency_a
):
    make_meeting(starts_at=timezone.now() + 6 * DAY, title=TITLE, invited=[agency_a])
    handler = _AcceptThenKillTheSender()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    smtp_settings(settings, controller.port)
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "EMAIL_URL": f"smtp://127.0.0.1:{controller.port}",
        "DEBUG": "1",
    }
    try:
        sweep = subprocess.Popen(
            [sys.executable, "manage.py", "send_due_reminders"],
            cwd=django_settings.BASE_DIR,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        handler.victim = sweep.pid
        output = sweep.communicate(timeout=120)
        assert sweep.returncode == -signal.SIGKILL, output

        row = ReminderDelivery.objects.get()
        assert len(handler.envelopes) == 1
        assert (row.sent_at, row.attempts) == (None, 1)
        assert row.claimed_until is not None
        # Nothing is resent while the dead sweep's lease lasts...
        assert reminders.sweep() == SweepResult()
        # ...and once it has run out, the next sweep sends the row again.
        time_machine.move_to(row.claimed_until, tick=False)
        assert reminders.sweep() == SweepResult(sent=1)
        assert reminders.sweep() == SweepResult()
    finally:
        controller.stop()

    first, resent = handler.envelopes
    assert first.rcpt_tos == resent.rcpt_tos == [victor.email]
    assert _message_id(first) == _message_id(resent) == reminders.OUTBOX.message_id(row)
    assert _message_id(first).startswith(f"<reminder.{row.message_id.hex}@")
    row.refresh_from_db()
    assert row.sent_at is not None and row.attempts == 2
