"""Meeting and report reminders (meetings.reminders): who, when, what, and how often.

The clock is frozen with time-machine and moved through a meeting's life;
``reminders.sweep()`` is what the Celery task and the command run. Delivery
under failure (SMTP down, a dead worker, parallel sweeps, a real worker) is
in test_reminders_delivery.py.
"""

import email
import email.policy
import io
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar

from agencies.models import Agency, Role
from issues.models import Visibility
from meetings import reminders
from meetings.models import (
    AgendaItem,
    AgendaItemStatus,
    Meeting,
    MeetingKind,
    MeetingStatus,
    PerformanceReport,
    PerformanceReportStatus,
    ReminderDelivery,
    ReminderNotice,
    ReminderPurpose,
)
from meetings.reminders import SweepResult
from meetings.tasks import send_due_reminders
from tests.factories import IssueFactory, UserFactory

pytestmark = pytest.mark.django_db

SEOUL = ZoneInfo("Asia/Seoul")
SITE_URL = "https://hub.gwangju.example"
# The meeting of most tests: Thursday 18 February 2027, 14:00 in Seoul.
T = datetime(2027, 2, 18, 14, 0, tzinfo=SEOUL)
DAY = timedelta(days=1)
MINUTE = timedelta(minutes=1)
TITLE = "제1차 부기관장 회의"
# How a reminder names the time left when one day is left (Korean is the default).
TOMORROW = "내일"
# The December briefing and its report deadline (14 days before).
BRIEFING = datetime(2027, 12, 15, 10, 0, tzinfo=SEOUL)
DEADLINE = BRIEFING - 14 * DAY


@pytest.fixture(autouse=True)
def _site_url(settings):
    settings.SITE_URL = SITE_URL


@pytest.fixture
def clock(time_machine):
    """``clock(moment)``: stop time at ``moment``; the start is a month before T."""
    time_machine.move_to(T - 30 * DAY, tick=False)

    def move_to(moment):
        time_machine.move_to(moment, tick=False)

    return move_to


@pytest.fixture
def sweep_at(clock):
    def sweep(moment):
        clock(moment)
        return reminders.sweep()

    return sweep


@pytest.fixture
def meeting(clock, make_meeting, agency_a, agency_b):
    """The vice-heads' meeting at T, agencies A and B invited."""
    return make_meeting(starts_at=T, title=TITLE, invited=[agency_a, agency_b])


def _received(outbox) -> list[tuple[str, str]]:
    """(username part of the address, the subject's time left or notice kind) per mail.

    A reminder's subject ends with the time left in brackets: "(D-7)", "(내일)".
    """
    received = []
    for message in outbox:
        [address] = message.to
        subject = message.subject
        if subject.endswith(")"):
            tag = subject.rsplit("(", 1)[-1].removesuffix(")")
        else:
            tag = subject.split("]")[1].strip()
        received.append((address.split("@")[0], tag))
    return sorted(received)


def _recipients(outbox) -> set[str]:
    return {address.split("@")[0] for message in outbox for address in message.to}


# --- the life of a meeting ---------------------------------------------------------


def test_nothing_is_planned_or_sent_before_seven_days_ahead(
    sweep_at, mailoutbox, meeting, victor, jiho, minji
):
    for moment in (T - 30 * DAY, T - 8 * DAY, T - 7 * DAY - MINUTE):
        assert sweep_at(moment) == SweepResult()

    assert mailoutbox == []
    assert not ReminderDelivery.objects.exists()


def test_each_recipient_is_reminded_once_seven_days_and_once_one_day_ahead(
    sweep_at, mailoutbox, meeting, victor, jiho, minji
):
    sent_by = {}
    for moment in (
        T - 7 * DAY,
        T - 7 * DAY + 5 * MINUTE,
        T - 7 * DAY + timedelta(hours=3),
        T - 5 * DAY,
        T - 2 * DAY,
        T - DAY - MINUTE,
        T - DAY,
        T - DAY + 5 * MINUTE,
        T - timedelta(hours=3),
        T - MINUTE,
        T + MINUTE,
        T + 2 * DAY,
    ):
        sweep_at(moment)
        sent_by[moment] = len(mailoutbox)

    assert sent_by[T - 7 * DAY] == 3
    assert sent_by[T - DAY - MINUTE] == 3
    assert sent_by[T - DAY] == 6
    assert _received(mailoutbox) == sorted(
        (name, tag) for name in ("victor", "jiho", "minji") for tag in ("D-7", TOMORROW)
    )
    assert ReminderDelivery.objects.count() == 6
    assert not ReminderDelivery.objects.filter(sent_at=None).exists()
    assert set(ReminderDelivery.objects.values_list("attempts", flat=True)) == {1}


def test_a_late_first_sweep_still_sends_the_seven_day_reminder_labelled_with_the_time_left(
    sweep_at, mailoutbox, meeting, victor, minji
):
    result = sweep_at(T - 3 * DAY)

    assert (result.planned, result.sent) == (2, 2)
    assert _received(mailoutbox) == [("minji", "D-3"), ("victor", "D-3")]
    delivery = ReminderDelivery.objects.get(recipient=victor)
    assert delivery.due_at == T - 7 * DAY
    assert delivery.sent_at == T - 3 * DAY

    sweep_at(T - 3 * DAY + 5 * MINUTE)
    sweep_at(T - DAY)

    assert _received(mailoutbox) == sorted(
        [("minji", "D-3"), ("victor", "D-3"), ("minji", TOMORROW), ("victor", TOMORROW)]
    )


def test_after_a_long_outage_only_the_latest_missed_reminder_goes_out(
    sweep_at, mailoutbox, meeting, victor
):
    sweep_at(T - timedelta(hours=2))
    sweep_at(T - timedelta(hours=1))

    assert _received(mailoutbox) == [("victor", "오늘")]
    assert list(ReminderDelivery.objects.values_list("offset", flat=True)) == [DAY]


def test_a_past_meeting_sends_nothing(sweep_at, clock, mailoutbox, meeting, victor, minji):
    assert sweep_at(T + MINUTE) == SweepResult()
    assert not ReminderDelivery.objects.exists()

    # Planned while ahead, but never sent before it began (e.g. SMTP was down).
    clock(T - DAY)
    reminders.plan_reminders(timezone.now())
    assert ReminderDelivery.objects.count() == 2  # the "1 day" step, for victor and minji

    assert sweep_at(T + MINUTE) == SweepResult()
    assert mailoutbox == []


def _cancel(meeting: Meeting) -> None:
    """What services.meeting_cancel does to the row (it then plans the notices)."""
    now = timezone.now()
    Meeting.objects.filter(pk=meeting.pk).update(
        status=MeetingStatus.CANCELLED, cancelled_at=now, updated_at=now
    )
    meeting.refresh_from_db()


def test_a_cancelled_meeting_sends_nothing_more_and_notifies_those_already_reminded(
    sweep_at, clock, mailoutbox, meeting, victor, minji, agency_b
):
    sweep_at(T - 7 * DAY)
    assert _recipients(mailoutbox) == {"victor", "minji"}
    # Jiho becomes agency B's vice-head after the seven-day reminder went out.
    UserFactory(username="jiho", agency=agency_b, role=Role.VICE_HEAD)

    clock(T - 6 * DAY)
    _cancel(meeting)
    assert reminders.plan_cancellation_notices(meeting, timezone.now()) == 2
    assert reminders.plan_cancellation_notices(meeting, timezone.now()) == 0
    mailoutbox.clear()
    for moment in (T - 6 * DAY, T - 6 * DAY + 5 * MINUTE, T - DAY, T - timedelta(hours=1)):
        sweep_at(moment)

    assert sorted(message.to[0] for message in mailoutbox) == [minji.email, victor.email]
    assert all(TITLE in message.subject for message in mailoutbox)
    assert set(
        ReminderDelivery.objects.filter(sent_at__gte=T - 6 * DAY).values_list("purpose", flat=True)
    ) == {ReminderPurpose.CANCELLATION}
    assert not ReminderDelivery.objects.filter(recipient__username="jiho").exists()
    assert not ReminderDelivery.objects.filter(offset=DAY).exists()


def test_the_sweep_itself_notifies_people_reminded_of_a_meeting_cancelled_since(
    sweep_at, clock, mailoutbox, meeting, victor, minji
):
    sweep_at(T - 7 * DAY)
    clock(T - 5 * DAY)
    _cancel(meeting)  # e.g. a reminder was still being sent while it was cancelled
    mailoutbox.clear()

    result = sweep_at(T - 5 * DAY + 5 * MINUTE)

    assert (result.planned, result.sent) == (2, 2)
    assert _recipients(mailoutbox) == {"victor", "minji"}
    assert set(
        ReminderDelivery.objects.filter(sent_at__isnull=False).values_list("purpose", flat=True)
    ) == {ReminderPurpose.MEETING, ReminderPurpose.CANCELLATION}


def test_a_cancelled_meeting_that_nobody_was_reminded_of_sends_nothing(
    sweep_at, clock, mailoutbox, meeting, victor, minji
):
    clock(T - 10 * DAY)
    _cancel(meeting)

    assert reminders.plan_cancellation_notices(meeting, timezone.now()) == 0
    for moment in (T - 7 * DAY, T - DAY):
        assert sweep_at(moment) == SweepResult()
    assert mailoutbox == []


# --- who is reminded ---------------------------------------------------------------


@pytest.fixture
def everyone(alice, bob, carol, hana, victor, hyejin, jiho, sora, minji, agency_c):
    """Every role at agencies A, B and C, a vice-head of C, and an inactive Mayor's office user."""
    UserFactory(username="chul", agency=agency_c, role=Role.VICE_HEAD)
    UserFactory(username="retired", agency=minji.agency, role=Role.MAYOR_OFFICE, is_active=False)


@pytest.mark.parametrize(
    ("kind", "reminded"),
    [
        (MeetingKind.VICE_HEADS, {"victor", "jiho", "minji"}),
        (MeetingKind.HEADS, {"hana", "hyejin", "minji"}),
        (MeetingKind.PERFORMANCE_BRIEFING, {"hana", "hyejin", "minji"}),
        (MeetingKind.OTHER, {"hana", "victor", "hyejin", "jiho", "minji"}),
    ],
)
def test_who_is_reminded_depends_on_the_kind_of_meeting(
    sweep_at, make_meeting, mailoutbox, everyone, agency_a, agency_b, kind, reminded
):
    make_meeting(starts_at=T, kind=kind, invited=[agency_a, agency_b])

    sweep_at(T - 7 * DAY)

    assert _recipients(mailoutbox) == reminded
    assert {
        delivery.recipient.username
        for delivery in ReminderDelivery.objects.filter(purpose=ReminderPurpose.MEETING)
    } == reminded


def test_the_mayors_office_is_reminded_even_when_the_city_is_not_invited(
    sweep_at, make_meeting, mailoutbox, minji, hana, agency_a
):
    make_meeting(starts_at=T, kind=MeetingKind.HEADS, invited=[agency_a])

    sweep_at(T - 7 * DAY)

    assert _recipients(mailoutbox) == {"hana", "minji"}


def test_inactive_people_and_organizations_are_not_reminded(
    sweep_at, make_meeting, mailoutbox, victor, jiho, minji, agency_a, agency_b
):
    victor.is_active = False
    victor.save(update_fields=["is_active"])
    Agency.objects.filter(pk=agency_b.pk).update(is_active=False)
    make_meeting(starts_at=T, invited=[agency_a, agency_b])

    sweep_at(T - 7 * DAY)

    assert _recipients(mailoutbox) == {"minji"}


def test_someone_deactivated_after_planning_is_not_mailed(
    clock, sweep_at, mailoutbox, meeting, victor, jiho, minji
):
    clock(T - 7 * DAY)
    reminders.plan_reminders(timezone.now())
    jiho.is_active = False
    jiho.save(update_fields=["is_active"])

    result = reminders.send_due(timezone.now())

    assert result.sent == 2
    assert _recipients(mailoutbox) == {"victor", "minji"}
    assert ReminderDelivery.objects.get(recipient=jiho).sent_at is None


def test_the_owners_of_issues_on_the_agenda_are_reminded(
    sweep_at, meeting, mailoutbox, alice, bob, carol, victor, minji, agency_a, agency_c
):
    proposed = IssueFactory(lead_agency=agency_a, created_by=alice, assignee=bob)
    removed = IssueFactory(lead_agency=agency_c, created_by=carol)
    for order, (issue, status) in enumerate(
        [(proposed, AgendaItemStatus.PROPOSED), (removed, AgendaItemStatus.REMOVED)], start=1
    ):
        AgendaItem.objects.create(
            meeting=meeting,
            order=order,
            issue=issue,
            title=issue.title,
            presenting_agency=issue.lead_agency,
            status=status,
        )

    sweep_at(T - 7 * DAY)

    assert _recipients(mailoutbox) == {"alice", "bob", "victor", "minji"}


def test_an_owner_who_may_no_longer_read_the_issue_is_not_reminded(
    sweep_at, meeting, mailoutbox, alice, victor, minji, agency_a, agency_c
):
    issue = IssueFactory(lead_agency=agency_a, created_by=alice, visibility=Visibility.RESTRICTED)
    AgendaItem.objects.create(
        meeting=meeting, issue=issue, title=issue.title, presenting_agency=agency_a
    )
    alice.agency = agency_c  # she moved to agency C, which is not involved
    alice.save(update_fields=["agency"])

    sweep_at(T - 7 * DAY)

    assert _recipients(mailoutbox) == {"victor", "minji"}


# --- performance report reminders -------------------------------------------------


@pytest.fixture
def briefing(clock, make_meeting, agency_a, agency_b, agency_c):
    clock(BRIEFING - 60 * DAY)
    return make_meeting(
        starts_at=BRIEFING,
        kind=MeetingKind.PERFORMANCE_BRIEFING,
        title="2027년 성과보고회",
        invited=[agency_a, agency_b, agency_c],
    )


def _report(agency, status=PerformanceReportStatus.SUBMITTED):
    return PerformanceReport.objects.create(agency=agency, year=2027, summary="요약", status=status)


REPORT_SWEEPS = (
    DEADLINE - 8 * DAY,
    DEADLINE - 7 * DAY,
    DEADLINE - 7 * DAY + 5 * MINUTE,
    DEADLINE - 5 * DAY,
    DEADLINE - 3 * DAY,
    DEADLINE - DAY,
    DEADLINE - timedelta(hours=1),
    DEADLINE + MINUTE,
    DEADLINE + 3 * DAY,
)


def test_only_heads_of_organizations_without_a_submitted_report_are_reminded(
    sweep_at, briefing, mailoutbox, everyone, agency_a, agency_c
):
    _report(agency_a)  # submitted
    _report(agency_c, PerformanceReportStatus.DRAFT)  # a draft is not submitted

    for moment in REPORT_SWEEPS:
        sweep_at(moment)

    assert sorted(
        (d.recipient.username, d.offset.days)
        for d in ReminderDelivery.objects.filter(purpose=ReminderPurpose.REPORT_DEADLINE)
    ) == [("hyejin", 1), ("hyejin", 3), ("hyejin", 7), ("sora", 1), ("sora", 3), ("sora", 7)]
    assert sorted(m.to[0] for m in mailoutbox) == sorted(
        [f"{name}@example.go.kr" for name in ("hyejin", "sora") for _ in range(3)]
    )
    assert not ReminderDelivery.objects.filter(sent_at=None).exists()


def test_submitting_between_sweeps_stops_further_report_reminders(
    sweep_at, briefing, mailoutbox, hyejin, sora, agency_b
):
    sweep_at(DEADLINE - 7 * DAY)
    assert _recipients(mailoutbox) == {"hyejin", "sora"}

    _report(agency_b)
    for moment in REPORT_SWEEPS[2:]:
        sweep_at(moment)

    assert sorted(m.to[0].split("@")[0] for m in mailoutbox) == [
        "hyejin",
        "sora",
        "sora",
        "sora",
    ]


def test_a_report_submitted_after_planning_but_before_sending_gets_no_reminder(
    clock, briefing, mailoutbox, hyejin, sora, agency_b
):
    clock(DEADLINE - 7 * DAY)
    assert reminders.plan_reminders(timezone.now()) == 2
    _report(agency_b)

    result = reminders.send_due(timezone.now())

    assert result.sent == 1
    assert _recipients(mailoutbox) == {"sora"}


def test_no_report_reminder_once_the_deadline_passed(sweep_at, briefing, mailoutbox, hyejin, sora):
    sweep_at(DEADLINE + MINUTE)

    assert mailoutbox == []
    assert not ReminderDelivery.objects.exists()


def test_a_briefing_also_reminds_of_itself(sweep_at, briefing, mailoutbox, hana, minji):
    sweep_at(BRIEFING - 7 * DAY)

    assert _recipients(mailoutbox) == {"hana", "minji"}
    assert {d.purpose for d in ReminderDelivery.objects.filter(sent_at__isnull=False)} == {
        ReminderPurpose.MEETING
    }


# --- late planning: only the latest step still due, labelled with the time left ----------


def _subjects_of(outbox, user) -> list[str]:
    return [message.subject for message in outbox if message.to == [user.email]]


@pytest.fixture
def people(victor, jiho, minji):
    """The vice-heads' meeting audience: victor reads English, jiho and minji Korean."""
    _set_language(victor, "en")
    return (victor, jiho, minji)


def test_a_meeting_set_up_23_hours_ahead_sends_each_person_one_mail_labelled_tomorrow(
    sweep_at, clock, make_meeting, mailoutbox, people, agency_a, agency_b
):
    victor, jiho, minji = people
    clock(T - timedelta(hours=23))  # Wednesday 15:00 for Thursday 14:00
    make_meeting(starts_at=T, title=TITLE, invited=[agency_a, agency_b])

    result = sweep_at(T - timedelta(hours=23))
    for moment in (T - timedelta(hours=22), T - timedelta(hours=3), T - MINUTE):
        assert sweep_at(moment) == SweepResult()

    assert (result.planned, result.sent) == (3, 3)
    assert _subjects_of(mailoutbox, victor) == [
        f"[Gwangju Hub] Meeting reminder: {TITLE} (tomorrow)"
    ]
    [victor_mail] = [m for m in mailoutbox if m.to == [victor.email]]
    assert "A reminder of the meeting below (tomorrow)." in victor_mail.body
    for korean in (jiho, minji):
        [subject] = _subjects_of(mailoutbox, korean)
        assert subject == f"[광주 허브] 회의 안내: {TITLE} (내일)"
    [jiho_mail] = [m for m in mailoutbox if m.to == [jiho.email]]
    assert "아래 회의를 미리 알려 드립니다(내일)." in jiho_mail.body
    assert "D-7" not in jiho_mail.body
    # Only the "1 day" step was planned; the "7 days" one, already past, never will be.
    assert set(ReminderDelivery.objects.values_list("offset", flat=True)) == {DAY}


def test_a_meeting_set_up_3_days_ahead_sends_one_mail_labelled_d3_then_the_day_before(
    sweep_at, clock, make_meeting, mailoutbox, people, agency_a, agency_b
):
    victor, jiho, minji = people
    clock(T - 3 * DAY)
    make_meeting(starts_at=T, title=TITLE, invited=[agency_a, agency_b])

    sweep_at(T - 3 * DAY)
    sweep_at(T - 3 * DAY + 5 * MINUTE)

    assert _subjects_of(mailoutbox, victor) == [f"[Gwangju Hub] Meeting reminder: {TITLE} (D-3)"]
    assert _subjects_of(mailoutbox, jiho) == [f"[광주 허브] 회의 안내: {TITLE} (D-3)"]
    assert len(mailoutbox) == 3

    for moment in (T - 2 * DAY, T - DAY - MINUTE, T - DAY, T - DAY + 5 * MINUTE, T - MINUTE):
        sweep_at(moment)

    assert _subjects_of(mailoutbox, victor) == [
        f"[Gwangju Hub] Meeting reminder: {TITLE} (D-3)",
        f"[Gwangju Hub] Meeting reminder: {TITLE} (tomorrow)",
    ]
    for korean in (jiho, minji):
        assert _subjects_of(mailoutbox, korean) == [
            f"[광주 허브] 회의 안내: {TITLE} (D-3)",
            f"[광주 허브] 회의 안내: {TITLE} (내일)",
        ]
    assert len(mailoutbox) == 6


def test_a_meeting_set_up_10_days_ahead_is_reminded_seven_days_and_one_day_before(
    sweep_at, clock, make_meeting, mailoutbox, people, agency_a, agency_b
):
    victor, jiho, minji = people
    clock(T - 10 * DAY)
    make_meeting(starts_at=T, title=TITLE, invited=[agency_a, agency_b])
    sent_by = {}
    for moment in (
        T - 10 * DAY,
        T - 7 * DAY - MINUTE,
        T - 7 * DAY,
        T - 3 * DAY,
        T - DAY - MINUTE,
        T - DAY,
        T - MINUTE,
    ):
        sweep_at(moment)
        sent_by[moment] = len(mailoutbox)

    assert sent_by[T - 7 * DAY - MINUTE] == 0
    assert sent_by[T - 7 * DAY] == sent_by[T - DAY - MINUTE] == 3
    assert sent_by[T - DAY] == sent_by[T - MINUTE] == 6
    assert _subjects_of(mailoutbox, victor) == [
        f"[Gwangju Hub] Meeting reminder: {TITLE} (D-7)",
        f"[Gwangju Hub] Meeting reminder: {TITLE} (tomorrow)",
    ]
    assert _subjects_of(mailoutbox, minji) == [
        f"[광주 허브] 회의 안내: {TITLE} (D-7)",
        f"[광주 허브] 회의 안내: {TITLE} (내일)",
    ]


def test_a_meeting_set_up_the_same_day_is_labelled_today(
    sweep_at, clock, make_meeting, mailoutbox, people, agency_a
):
    victor, _, minji = people
    clock(T - timedelta(hours=5))  # Thursday 09:00 for 14:00
    make_meeting(starts_at=T, title=TITLE, invited=[agency_a])

    sweep_at(T - timedelta(hours=5))

    assert _subjects_of(mailoutbox, victor) == [f"[Gwangju Hub] Meeting reminder: {TITLE} (today)"]
    assert _subjects_of(mailoutbox, minji) == [f"[광주 허브] 회의 안내: {TITLE} (오늘)"]


def test_a_meeting_moved_to_tomorrow_sends_one_reminder_for_its_new_time(
    sweep_at, clock, mailoutbox, meeting, victor, minji
):
    sweep_at(T - 7 * DAY)
    assert _received(mailoutbox) == [("minji", "D-7"), ("victor", "D-7")]
    mailoutbox.clear()

    # On Monday at 10:00 it is moved forward to Tuesday 06:00, 20 hours ahead.
    clock(T - 3 * DAY - timedelta(hours=4))
    new_time = T - 2 * DAY - timedelta(hours=8)
    Meeting.objects.filter(pk=meeting.pk).update(
        starts_at=new_time, ends_at=new_time + timedelta(hours=2), updated_at=timezone.now()
    )
    sweep_at(T - 3 * DAY - timedelta(hours=4))
    for moment in (T - 3 * DAY, new_time - MINUTE, T - DAY):
        sweep_at(moment)

    assert _received(mailoutbox) == [("minji", TOMORROW), ("victor", TOMORROW)]


def test_an_earlier_step_still_unsent_when_the_next_is_due_is_never_sent(
    sweep_at, settings, mailoutbox, meeting, victor, minji
):
    # The SMTP server is down from the seven-day reminder until the day before.
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", 9
    for moment in (T - 7 * DAY, T - 5 * DAY, T - 2 * DAY):
        assert sweep_at(moment).sent == 0
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"

    result = sweep_at(T - DAY)
    sweep_at(T - timedelta(hours=2))

    assert result.sent == 2
    assert _received(mailoutbox) == [("minji", TOMORROW), ("victor", TOMORROW)]
    # The seven-day rows stay unsent: superseded, never claimed again.
    seven_days = ReminderDelivery.objects.filter(offset=7 * DAY)
    assert seven_days.count() == 2
    assert not seven_days.filter(sent_at__isnull=False).exists()


def test_two_sweeps_at_the_same_late_moment_still_send_one_mail_each(
    clock, make_meeting, mailoutbox, victor, minji, agency_a
):
    clock(T - timedelta(hours=23))
    make_meeting(starts_at=T, title=TITLE, invited=[agency_a])

    first, second = reminders.sweep(), reminders.sweep()

    assert (first.sent, second.sent) == (2, 0)
    assert sorted(m.to[0] for m in mailoutbox) == sorted([victor.email, minji.email])


def test_report_reminders_planned_late_send_only_the_latest_step_with_the_days_left(
    sweep_at, clock, make_meeting, mailoutbox, hana, hyejin, agency_a, agency_b
):
    _set_language(hyejin, "en")
    clock(DEADLINE - 2 * DAY)  # both the 7- and the 3-day steps have passed
    make_meeting(
        starts_at=BRIEFING,
        kind=MeetingKind.PERFORMANCE_BRIEFING,
        title="2027년 성과보고회",
        invited=[agency_a, agency_b],
    )

    sweep_at(DEADLINE - 2 * DAY)
    sweep_at(DEADLINE - 2 * DAY + 5 * MINUTE)
    reports = [m for m in mailoutbox if "2027" in m.subject and "성과보고회" not in m.subject]

    assert [m.subject for m in reports if m.to == [hyejin.email]] == [
        "[Gwangju Hub] Performance report 2027 due: Dec. 1, 2027 (D-2)"
    ]
    assert [m.subject for m in reports if m.to == [hana.email]] == [
        "[광주 허브] 2027년 성과보고서 제출 기한: 2027년 12월 1일 (D-2)"
    ]
    planned = ReminderDelivery.objects.filter(purpose=ReminderPurpose.REPORT_DEADLINE)
    assert set(planned.values_list("offset", flat=True)) == {3 * DAY}

    mailoutbox.clear()
    sweep_at(DEADLINE - DAY)
    sweep_at(DEADLINE - timedelta(hours=1))

    assert sorted(m.subject for m in mailoutbox if m.to == [hyejin.email]) == [
        "[Gwangju Hub] Performance report 2027 due: Dec. 1, 2027 (tomorrow)"
    ]


def test_the_bell_shows_the_time_left_when_a_late_reminder_was_sent(
    sweep_at, client, mailoutbox, meeting, victor
):
    sweep_at(T - 3 * DAY)
    client.force_login(victor)

    page = client.get(reverse("notifications:list"), headers={"accept-language": "en"})
    page = page.content.decode()

    assert "D-3" in page
    assert "D-7" not in page


# --- the e-mail ------------------------------------------------------------------------


@pytest.fixture
def agenda(meeting, alice, bob, agency_a, agency_b):
    """Two accepted items (in order 2, 1) and one still proposed."""
    first = IssueFactory(lead_agency=agency_b, created_by=bob, title="버스 노선 개편 협의")
    second = IssueFactory(lead_agency=agency_a, created_by=alice, title="AI 민원 분석 공동 추진")
    proposed = IssueFactory(lead_agency=agency_a, created_by=alice, title="아직 제안된 안건")
    AgendaItem.objects.create(
        meeting=meeting,
        order=2,
        issue=second,
        title=second.title,
        presenting_agency=agency_a,
        status=AgendaItemStatus.ACCEPTED,
    )
    AgendaItem.objects.create(
        meeting=meeting,
        order=1,
        issue=first,
        title=first.title,
        presenting_agency=agency_b,
        status=AgendaItemStatus.ACCEPTED,
    )
    AgendaItem.objects.create(
        meeting=meeting,
        order=3,
        issue=proposed,
        title=proposed.title,
        presenting_agency=agency_a,
    )
    return meeting


def _mail_to(outbox, user):
    [message] = [m for m in outbox if m.to == [user.email]]
    return message


def _set_language(user, language):
    user.preferred_language = language
    user.save(update_fields=["preferred_language"])


def test_the_mail_is_in_english_for_those_who_prefer_it(sweep_at, agenda, mailoutbox, victor):
    _set_language(victor, "en")

    sweep_at(T - 7 * DAY)

    message = _mail_to(mailoutbox, victor)
    assert message.subject == f"[Gwangju Hub] Meeting reminder: {TITLE} (D-7)"
    body = message.body
    assert "When: Feb. 18, 2027 (Thu) 14:00–16:00 (KST)" in body
    assert "Where: 광주광역시청 3층 중회의실" in body
    assert "Chair: 행정부시장\n\nAgenda:\n" in body
    assert "  1. 버스 노선 개편 협의 — Agency B\n  2. AI 민원 분석 공동 추진 — Agency A\n" in body
    assert "아직 제안된 안건" not in body
    assert f"Open the meeting page: {SITE_URL}/meetings/{agenda.pk}/" in body


def test_the_mail_is_in_korean_by_default(sweep_at, agenda, mailoutbox, victor):
    sweep_at(T - 7 * DAY)

    message = _mail_to(mailoutbox, victor)
    assert message.subject.startswith("[광주 허브] ")
    assert message.subject.endswith(f": {TITLE} (D-7)")
    body = message.body
    assert body.startswith(f"{victor.display_name} 님, 안녕하세요.")
    assert "2027년 2월 18일 (목요일) 14:00–16:00 (KST)" in body
    assert "1. 버스 노선 개편 협의 — 광주나기관" in body
    assert f"{SITE_URL}/meetings/{agenda.pk}/" in body


def test_the_korean_mail_has_no_english_words(sweep_at, agenda, mailoutbox, victor):
    sweep_at(T - 7 * DAY)

    message = _mail_to(mailoutbox, victor)
    assert message.subject == f"[광주 허브] 회의 안내: {TITLE} (D-7)"
    for english in ("Meeting reminder", "When", "Where", "Chair", "Agenda", "Open the meeting"):
        assert english not in message.body


def test_an_issue_the_recipient_may_not_read_is_left_out_of_the_agenda(
    sweep_at,
    make_meeting,
    mailoutbox,
    alice,
    hana,
    hyejin,
    sora,
    minji,
    agency_a,
    agency_b,
    agency_c,
):
    _set_language(sora, "en")
    meeting = make_meeting(
        starts_at=T, kind=MeetingKind.HEADS, invited=[agency_a, agency_b, agency_c]
    )
    secret = IssueFactory(
        lead_agency=agency_a,
        created_by=alice,
        title="비공개 예산 협의",
        visibility=Visibility.RESTRICTED,
    )
    AgendaItem.objects.create(
        meeting=meeting,
        issue=secret,
        title=secret.title,
        presenting_agency=agency_a,
        status=AgendaItemStatus.ACCEPTED,
    )

    sweep_at(T - 7 * DAY)

    assert "비공개 예산 협의" in _mail_to(mailoutbox, hana).body
    assert "비공개 예산 협의" in _mail_to(mailoutbox, minji).body
    outsider = _mail_to(mailoutbox, sora).body
    assert "비공개 예산 협의" not in outsider
    assert "The agenda is not final yet." in outsider


def _invitation(message) -> tuple[str, bytes]:
    parsed = email.message_from_bytes(message.message().as_bytes(), policy=email.policy.default)
    [part] = [p for p in parsed.iter_attachments() if p.get_content_type() == "text/calendar"]
    return part, part.get_payload(decode=True)


def test_the_mail_carries_a_calendar_invitation_in_seoul_time(
    sweep_at, meeting, mailoutbox, victor
):
    sweep_at(T - 7 * DAY)

    part, raw = _invitation(_mail_to(mailoutbox, victor))
    assert part.get_filename() == "meeting.ics"
    assert part.get_param("method") == "REQUEST"
    calendar = Calendar.from_ical(raw)
    assert str(calendar["METHOD"]) == "REQUEST"
    [event] = calendar.walk("VEVENT")
    assert str(event["UID"]) == f"meeting-{meeting.pk}@gwangju-hub"
    start = event.decoded("DTSTART")
    assert start == T
    assert str(start.tzinfo) == "Asia/Seoul"
    assert event.decoded("DTEND") == T + timedelta(hours=2)
    assert str(event["SUMMARY"]) == TITLE
    assert str(event["LOCATION"]) == "광주광역시청 3층 중회의실"
    assert str(event["ATTENDEE"]) == f"mailto:{victor.email}"
    assert b"DTSTART;TZID=Asia/Seoul:20270218T140000" in raw
    assert [tz["TZID"] for tz in calendar.walk("VTIMEZONE")] == ["Asia/Seoul"]


def test_the_cancellation_notice_withdraws_the_invitation(
    sweep_at, clock, meeting, mailoutbox, victor
):
    sweep_at(T - 7 * DAY)
    _, request = _invitation(_mail_to(mailoutbox, victor))
    clock(T - 3 * DAY)
    _cancel(meeting)
    reminders.plan_cancellation_notices(meeting, timezone.now())
    mailoutbox.clear()
    _set_language(victor, "en")

    sweep_at(T - 3 * DAY + MINUTE)

    message = _mail_to(mailoutbox, victor)
    assert message.subject == f"[Gwangju Hub] Meeting cancelled: {TITLE}"
    assert "has been cancelled" in message.body
    _, cancel = _invitation(message)
    [before] = Calendar.from_ical(request).walk("VEVENT")
    [after] = Calendar.from_ical(cancel).walk("VEVENT")
    assert str(Calendar.from_ical(cancel)["METHOD"]) == "CANCEL"
    assert str(after["STATUS"]) == "CANCELLED"
    assert str(after["UID"]) == str(before["UID"])
    assert after.decoded("SEQUENCE") > before.decoded("SEQUENCE")


def test_the_report_reminder_names_the_deadline_and_links_the_report(
    sweep_at, briefing, mailoutbox, hyejin
):
    _set_language(hyejin, "en")

    sweep_at(DEADLINE - 3 * DAY)

    # The first sweep comes late: only the latest step due (3 days) goes out.
    [message] = mailoutbox
    assert message.subject == "[Gwangju Hub] Performance report 2027 due: Dec. 1, 2027 (D-3)"
    assert "The 2027 performance report of Agency B has not been submitted yet." in message.body
    assert "Deadline: Dec. 1, 2027 (Wed) 10:00 (KST)" in message.body
    assert f"{SITE_URL}/performance/2027/agency-b/" in message.body
    assert message.attachments == []


def test_titles_are_not_html_escaped(sweep_at, make_meeting, mailoutbox, victor, agency_a):
    make_meeting(starts_at=T, title='R&D <혁신> "회의"', invited=[agency_a])

    sweep_at(T - 7 * DAY)

    message = _mail_to(mailoutbox, victor)
    assert 'R&D <혁신> "회의"' in message.subject
    assert 'R&D <혁신> "회의"' in message.body


def test_each_sent_reminder_gets_one_in_app_notice(sweep_at, meeting, mailoutbox, victor, minji):
    sweep_at(T - 7 * DAY)
    sweep_at(T - DAY)

    notices = ReminderNotice.objects.filter(recipient=victor)
    assert notices.count() == 2
    assert {n.delivery.offset for n in notices} == {7 * DAY, DAY}
    assert all(n.read_at is None for n in notices)


def test_someone_without_an_email_address_gets_the_in_app_notice_only(
    sweep_at, meeting, mailoutbox, victor
):
    victor.email = ""
    victor.save(update_fields=["email"])

    result = sweep_at(T - 7 * DAY)

    assert result.sent == 1
    assert mailoutbox == []
    assert ReminderNotice.objects.get().recipient == victor


# --- the task, the command, and the cost of a sweep -------------------------------------


def test_the_command_runs_one_sweep_and_prints_the_counts(clock, meeting, mailoutbox, victor):
    clock(T - 7 * DAY)

    out = io.StringIO()

    call_command("send_due_reminders", stdout=out)

    assert out.getvalue().strip() == "planned 1, sent 1, failed 0, skipped 0"
    assert len(mailoutbox) == 1


def test_the_task_runs_the_sweep_and_returns_its_counts(clock, meeting, mailoutbox, victor):
    clock(T - 7 * DAY)

    assert send_due_reminders() == {"sent": 1, "failed": 0, "skipped": 0, "planned": 1}


def test_a_limit_leaves_the_rest_for_the_next_sweep(
    clock, meeting, mailoutbox, victor, jiho, minji
):
    clock(T - 7 * DAY)

    first = reminders.sweep(limit=2, batch_size=1)
    second = reminders.sweep(limit=2, batch_size=1)

    assert (first.sent, second.sent) == (2, 1)
    assert len(mailoutbox) == 3


def _queries_of_sweep(moment, clock) -> tuple[int, SweepResult]:
    clock(moment)
    with CaptureQueriesContext(connection) as queries:
        result = reminders.sweep()
    # Savepoints are the test's transaction showing through (BEGIN/COMMIT in production).
    statements = [q["sql"] for q in queries]
    return len([sql for sql in statements if "SAVEPOINT" not in sql]), result


@pytest.mark.parametrize("meetings", [2, 6])
def test_the_queries_of_a_sweep_do_not_grow_with_the_number_of_meetings(
    clock,
    make_meeting,
    mailoutbox,
    victor,
    jiho,
    minji,
    alice,
    agency_a,
    agency_b,
    meetings,
    request,
):
    for number in range(meetings):
        meeting = make_meeting(starts_at=T + number * MINUTE, invited=[agency_a, agency_b])
        issue = IssueFactory(lead_agency=agency_a, created_by=alice)
        AgendaItem.objects.create(
            meeting=meeting,
            issue=issue,
            title=issue.title,
            presenting_agency=agency_a,
            status=AgendaItemStatus.ACCEPTED,
        )

    sending, result = _queries_of_sweep(T - 7 * DAY + 10 * MINUTE, clock)
    idle, nothing = _queries_of_sweep(T - 7 * DAY + 15 * MINUTE, clock)

    assert result.sent == 4 * meetings  # victor, jiho, minji and alice, per meeting
    assert nothing == SweepResult()
    # Planning and claiming cost the same for 2 or 6 meetings; each mail sent
    # costs two more (marking it sent, the in-app notice).
    assert idle == 8
    assert sending - 2 * result.sent == 13


# --- a meeting that moves ---------------------------------------------------------------


def test_a_postponed_meeting_is_reminded_of_again_for_its_new_time(
    sweep_at, mailoutbox, meeting, victor
):
    sweep_at(T - 7 * DAY)
    sweep_at(T - DAY + MINUTE)  # both reminders for the original time went out
    assert sorted(tag for who, tag in _received(mailoutbox) if who == victor.username) == [
        "D-7",
        TOMORROW,
    ]
    new_time = T + 30 * DAY
    type(meeting).objects.filter(pk=meeting.pk).update(
        starts_at=new_time, ends_at=new_time + DAY / 12
    )
    mailoutbox.clear()

    sweep_at(new_time - 7 * DAY)
    sweep_at(new_time - DAY)
    sweep_at(new_time - DAY + MINUTE)

    assert sorted(tag for who, tag in _received(mailoutbox) if who == victor.username) == [
        "D-7",
        TOMORROW,
    ]


def test_reminders_planned_for_the_old_time_are_not_sent_after_a_move(
    sweep_at, clock, mailoutbox, meeting, victor, settings
):
    # Planned at T-7d, but the SMTP server is down so nothing is sent yet.
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", 9
    sweep_at(T - 7 * DAY)
    assert ReminderDelivery.objects.filter(sent_at__isnull=True).exists()
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    new_time = T + 30 * DAY
    type(meeting).objects.filter(pk=meeting.pk).update(
        starts_at=new_time, ends_at=new_time + DAY / 12
    )

    sweep_at(T - 6 * DAY)  # after the backoff; the old rows are no longer worth sending

    assert mailoutbox == []


def test_an_organization_uninvited_after_planning_gets_no_reminder(
    sweep_at, clock, mailoutbox, meeting, victor, minji, agency_a, settings
):
    # Planned at T-7d while agency A was invited; the mail could not go out yet.
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", 9
    sweep_at(T - 7 * DAY)
    assert ReminderDelivery.objects.filter(recipient=victor, sent_at__isnull=True).exists()
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    meeting.invited_agencies.remove(agency_a)

    sweep_at(T - 6 * DAY)

    assert victor.username not in _recipients(mailoutbox)
    assert minji.username in _recipients(mailoutbox)  # the Mayor's office still hears of it


# --- the recipient's choice (/accounts/settings/, issue 9) --------------------------------


@pytest.mark.parametrize("choice", ["digest", "bell"])
def test_someone_who_wants_meeting_reminders_only_in_the_bell_gets_no_mail_but_the_notice(
    sweep_at, mailoutbox, meeting, victor, minji, choice
):
    victor.notice_settings = {"meeting_reminder": choice}
    victor.save(update_fields=["notice_settings"])

    sweep_at(T - 7 * DAY)

    assert _recipients(mailoutbox) == {"minji"}
    assert ReminderNotice.objects.filter(recipient=victor).count() == 1
    assert not ReminderDelivery.objects.filter(recipient=victor, sent_at=None).exists()


def test_the_deadline_choice_does_not_silence_meeting_reminders(
    sweep_at, mailoutbox, meeting, victor, minji
):
    victor.notice_settings = {"deadline_reminder": "bell"}
    victor.save(update_fields=["notice_settings"])

    sweep_at(T - 7 * DAY)

    assert "victor" in _recipients(mailoutbox)
