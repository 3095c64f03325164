"""Reminders of reply deadlines and due dates (issues.deadlines), step by step.

The clock is frozen with time-machine and moved through a request's life. The
request is made on Thursday 12 February 2026 in Seoul; with the 설날 holidays
(16–18 February) its default deadline is Tuesday 24 February, so:

* 2 working days before: Friday 20 February (09:00, DEADLINE_REMINDER_HOUR);
* on the day: Tuesday 24 February;
* 3 working days after, the vice-head: Friday 27 February;
* 7 working days after, the head: Friday 6 March (2 March is the substitute
  holiday for 3·1절, which fell on a Sunday).
"""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from agencies.models import Delivery, NoticeKind, Role
from issues import deadlines, services
from issues.models import (
    Cooperation,
    DeadlineReminder,
    DeadlineStep,
    Event,
    EventKind,
    Issue,
    Notification,
)
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

SEOUL = ZoneInfo("Asia/Seoul")
START = datetime(2026, 2, 12, 10, 0, tzinfo=SEOUL)
REPLY_BY = date(2026, 2, 24)


def at(day: date, hour: int = 9, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=SEOUL)


@pytest.fixture(autouse=True)
def _site_url(settings):
    settings.SITE_URL = "https://hub.gwangju.example"
    settings.DEADLINE_REMINDER_HOUR = 9


@pytest.fixture
def sweep_at(time_machine, mailoutbox):
    """``sweep_at(moment)``: stop time there, sweep, and return who was mailed."""
    time_machine.move_to(START, tick=False)

    def sweep(moment):
        time_machine.move_to(moment, tick=False)
        mailoutbox.clear()
        deadlines.sweep()
        return sorted(message.to[0].split("@")[0] for message in mailoutbox)

    return sweep


@pytest.fixture
def bora(agency_b):
    return UserFactory(username="bora", agency=agency_b, role=Role.STAFF)


@pytest.fixture
def bob_vice(agency_b):
    return UserFactory(username="bob-vice", agency=agency_b, role=Role.VICE_HEAD)


@pytest.fixture
def bob_head(agency_b):
    return UserFactory(username="bob-head", agency=agency_b, role=Role.HEAD)


@pytest.fixture
def agency_b_people(bob, bora, bob_vice, bob_head):
    return [bob, bora, bob_vice, bob_head]


@pytest.fixture
def request_to_b(sweep_at, alice, agency_b_people):
    """Alice's issue asking agency B to cooperate, made at START (open to all)."""
    issue = services.issue_create(
        actor=alice,
        title="도시철도 환승 협의",
        lead_agency=alice.agency,
        cooperating_agencies=[agency_b_people[0].agency],
    )
    cooperation = issue.cooperations.get()
    assert cooperation.reply_by == REPLY_BY
    return cooperation


def _escalations(issue) -> list[dict]:
    return [
        event.changes[0]
        for event in Event.objects.filter(issue=issue, kind=EventKind.ESCALATED).order_by("pk")
    ]


# --- the cooperation chain ---------------------------------------------------------


def test_each_step_of_the_reply_chain_on_its_working_day(
    sweep_at, request_to_b, mailoutbox, bob_vice, bob_head
):
    issue = request_to_b.issue
    # Nothing before the "2 working days before" step, nor before office hours.
    assert sweep_at(at(date(2026, 2, 19), 17)) == []
    assert sweep_at(at(date(2026, 2, 20), 8, 59)) == []

    # Nobody in charge: the agency's staff, not its vice-head or head.
    assert sweep_at(at(date(2026, 2, 20))) == ["bob", "bora"]
    assert "(D-2)" in mailoutbox[0].subject
    assert sweep_at(at(date(2026, 2, 23))) == []
    assert sweep_at(at(date(2026, 2, 24))) == ["bob", "bora"]
    assert "(오늘)" in mailoutbox[0].subject
    assert sweep_at(at(date(2026, 2, 26))) == []
    assert _escalations(issue) == []

    assert sweep_at(at(date(2026, 2, 27))) == ["bob-vice"]
    assert "협조 회신 기한 경과" in mailoutbox[0].subject
    assert "3 근무일 경과" in mailoutbox[0].subject
    assert [e["step"] for e in _escalations(issue)] == ["vice_head"]

    # 2 March is a substitute holiday: the head hears on the 7th working day.
    assert sweep_at(at(date(2026, 3, 2))) == []
    assert sweep_at(at(date(2026, 3, 5))) == []
    assert sweep_at(at(date(2026, 3, 6))) == ["bob-head"]
    assert [e["step"] for e in _escalations(issue)] == ["vice_head", "head"]
    # The chain has ended.
    assert sweep_at(at(date(2026, 3, 20))) == []


def test_an_escalation_is_on_the_timeline_and_in_the_bell(
    client, sweep_at, request_to_b, alice, bob_vice
):
    sweep_at(at(date(2026, 2, 27)))

    [event] = Event.objects.filter(kind=EventKind.ESCALATED)
    assert event.actor is None
    assert event.agency_id == request_to_b.agency_id
    assert event.changes[0]["deadline"] == "2026-02-24"
    assert Notification.objects.get(event=event).recipient == bob_vice
    # Everyone involved sees it on the issue page, the lead agency included.
    client.force_login(alice)
    page = client.get(request_to_b.issue.get_absolute_url()).content.decode()
    assert "기한 경과로 부기관장에게 알림" in page


def test_someone_who_chose_the_digest_for_deadlines_gets_no_mail_but_the_escalation_in_the_bell(
    sweep_at, request_to_b, bob, bora, bob_vice
):
    bora.notice_settings = {NoticeKind.DEADLINE_REMINDER: Delivery.DIGEST}
    bora.save()
    bob_vice.notice_settings = {NoticeKind.DEADLINE_REMINDER: Delivery.BELL}
    bob_vice.save()

    assert sweep_at(at(date(2026, 2, 20))) == ["bob"]
    assert sweep_at(at(date(2026, 2, 27))) == []
    [event] = Event.objects.filter(kind=EventKind.ESCALATED)
    assert Notification.objects.get(event=event).recipient == bob_vice


def test_the_person_in_charge_alone_is_reminded(sweep_at, request_to_b, bora):
    Cooperation.objects.filter(pk=request_to_b.pk).update(assignee=bora)

    assert sweep_at(at(date(2026, 2, 20))) == ["bora"]
    assert sweep_at(at(date(2026, 2, 24))) == ["bora"]


def test_a_person_in_charge_who_left_the_agency_is_replaced_by_its_staff(
    sweep_at, request_to_b, bora, agency_c
):
    Cooperation.objects.filter(pk=request_to_b.pk).update(assignee=bora)
    bora.agency = agency_c
    bora.save()

    assert sweep_at(at(date(2026, 2, 20))) == ["bob"]


def test_an_answer_stops_the_chain(sweep_at, request_to_b, bob):
    assert sweep_at(at(date(2026, 2, 20))) == ["bob", "bora"]

    services.cooperation_answer(cooperation=request_to_b, actor=bob, status="accepted")

    for day in (date(2026, 2, 24), date(2026, 2, 27), date(2026, 3, 6)):
        assert sweep_at(at(day)) == []
    assert _escalations(request_to_b.issue) == []


def test_an_answer_after_planning_stops_a_row_not_yet_sent(
    sweep_at, request_to_b, bob, time_machine
):
    time_machine.move_to(at(date(2026, 2, 24)), tick=False)
    assert deadlines.plan(at(date(2026, 2, 24))) == 2
    services.cooperation_answer(cooperation=request_to_b, actor=bob, status="declined")

    assert sweep_at(at(date(2026, 2, 24), 9, 5)) == []
    assert DeadlineReminder.objects.filter(sent_at__isnull=False).count() == 0


def test_a_moved_deadline_starts_the_chain_again(sweep_at, request_to_b, bob):
    assert sweep_at(at(date(2026, 2, 20))) == ["bob", "bora"]
    services.cooperation_update(
        cooperation=request_to_b,
        actor=bob,
        assignee=bob,
        reply_by=date(2026, 3, 10),
        expected_assignee_id=None,
        expected_reply_by=REPLY_BY,
    )

    assert sweep_at(at(date(2026, 2, 24))) == []  # the old day
    assert sweep_at(at(date(2026, 2, 27))) == []
    assert sweep_at(at(date(2026, 3, 6))) == ["bob"]  # 2 working days before 10 March
    assert sweep_at(at(date(2026, 3, 10))) == ["bob"]


def test_a_late_request_gets_only_its_latest_step(sweep_at, request_to_b, time_machine):
    # A request whose deadline is set already 3 working days behind (imported,
    # say): not "before", "on the day" and "vice-head" at once, only the last.
    Cooperation.objects.filter(pk=request_to_b.pk).update(reply_by=date(2026, 2, 20))
    assert sweep_at(at(date(2026, 2, 25))) == ["bob-vice"]


def test_a_resolved_issue_stops_both_chains(sweep_at, request_to_b, alice):
    issue = request_to_b.issue
    services.issue_change_status(issue=issue, actor=alice, expected_version=1, status="resolved")

    assert sweep_at(at(date(2026, 2, 20))) == []
    assert sweep_at(at(date(2026, 2, 27))) == []


# --- who is never told ---------------------------------------------------------------


def test_inactive_people_are_not_reminded(sweep_at, request_to_b, bob, bob_vice):
    bob.is_active = False
    bob.save()
    assert sweep_at(at(date(2026, 2, 20))) == ["bora"]

    bob_vice.is_active = False
    bob_vice.save()
    assert sweep_at(at(date(2026, 2, 27))) == []
    assert _escalations(request_to_b.issue) == []


def test_someone_deactivated_after_planning_is_not_mailed(sweep_at, request_to_b, bob):
    time_machine_moment = at(date(2026, 2, 20))
    deadlines.plan(time_machine_moment)
    bob.is_active = False
    bob.save()

    assert sweep_at(at(date(2026, 2, 20), 9, 5)) == ["bora"]


def test_never_about_an_issue_the_recipient_cannot_read(
    sweep_at, alice, agency_b_people, bora, agency_c
):
    issue = services.issue_create(
        actor=alice,
        title="비공개 예산 협의",
        lead_agency=alice.agency,
        cooperating_agencies=[bora.agency],
        visibility="restricted",
    )
    cooperation = issue.cooperations.get()
    Cooperation.objects.filter(pk=cooperation.pk).update(assignee=bora)
    deadlines.plan(at(date(2026, 2, 20)))
    # Bora moves to agency C, which may not read the restricted issue.
    bora.agency = agency_c
    bora.save()

    # Not Bora (the step was planned for her; the next goes to whoever is in charge then).
    assert sweep_at(at(date(2026, 2, 20), 9, 5)) == []
    # And the rules themselves are asked at send time, whatever planned the row.
    row = DeadlineReminder.objects.get(recipient=bora)
    row.refresh_from_db()
    assert deadlines.OUTBOX.withheld_because(row) == "recipient may not read the issue"


def test_a_row_withheld_at_send_time_is_skipped_for_good(sweep_at, request_to_b, bob, monkeypatch):
    Issue.objects.filter(pk=request_to_b.issue_id).update(visibility="restricted")
    monkeypatch.setattr(deadlines.rules, "can_view", lambda user, issue: user.pk != bob.pk)

    assert sweep_at(at(date(2026, 2, 20))) == ["bora"]
    row = DeadlineReminder.objects.get(recipient=bob)
    assert row.skipped_at is not None and row.sent_at is None
    monkeypatch.undo()
    assert sweep_at(at(date(2026, 2, 20), 10)) == []


# --- exactly once ----------------------------------------------------------------------


def test_two_sweeps_at_the_same_moment_send_each_reminder_once(sweep_at, request_to_b):
    assert sweep_at(at(date(2026, 2, 20))) == ["bob", "bora"]
    assert sweep_at(at(date(2026, 2, 20))) == []
    assert sweep_at(at(date(2026, 2, 20), 15)) == []
    assert deadlines.plan(at(date(2026, 2, 20), 16)) == 0
    assert DeadlineReminder.objects.count() == 2


def test_a_failed_mail_is_retried_by_a_later_sweep(sweep_at, request_to_b, monkeypatch):
    from django.core.mail.backends.locmem import EmailBackend

    def refuse(self, messages):
        raise OSError("mail server down")

    monkeypatch.setattr(EmailBackend, "send_messages", refuse)
    assert sweep_at(at(date(2026, 2, 20))) == []
    assert DeadlineReminder.objects.filter(attempts=1, sent_at=None).count() == 2
    monkeypatch.undo()

    assert sweep_at(at(date(2026, 2, 20), 9, 30)) == ["bob", "bora"]


def test_an_unsent_earlier_step_is_superseded_by_a_later_one(sweep_at, request_to_b, monkeypatch):
    from django.core.mail.backends.locmem import EmailBackend

    monkeypatch.setattr(EmailBackend, "send_messages", lambda self, messages: 1 / 0)
    sweep_at(at(date(2026, 2, 20)))  # the "before" rows fail
    monkeypatch.undo()

    # The mail server is back on the day: one reminder each, the day's.
    assert sweep_at(at(date(2026, 2, 24))) == ["bob", "bora"]
    sent = DeadlineReminder.objects.filter(sent_at__isnull=False)
    assert {row.step for row in sent} == {DeadlineStep.ON_THE_DAY}


# --- the due-date chain ------------------------------------------------------------------


@pytest.fixture
def due_issue(sweep_at, alice, bob, victor, hana):
    """Alice's issue due Tuesday 24 February 2026, Alice its assignee."""
    return services.issue_create(
        actor=alice,
        title="시민 안전 점검 보고",
        lead_agency=alice.agency,
        due_date=REPLY_BY,
        assignee=alice,
    )


def test_each_step_of_the_due_date_chain(sweep_at, due_issue, mailoutbox):
    # 3 working days before 24 February: Thursday 19th (16–18 are 설날).
    assert sweep_at(at(date(2026, 2, 18))) == []
    assert sweep_at(at(date(2026, 2, 19))) == ["alice"]
    assert "(D-3)" in mailoutbox[0].subject
    assert sweep_at(at(date(2026, 2, 24))) == ["alice"]
    # Overdue: once a week, to the assignee.
    assert sweep_at(at(date(2026, 2, 25))) == []
    assert sweep_at(at(date(2026, 3, 3))) == ["alice"]
    assert "현안 기한 경과" in mailoutbox[0].subject
    assert sweep_at(at(date(2026, 3, 4))) == []
    # Two weeks: the weekly reminder, and the lead agency's vice-head.
    assert sweep_at(at(date(2026, 3, 10))) == ["alice", "victor"]
    assert [e["step"] for e in _escalations(due_issue)] == ["vice_head"]
    assert sweep_at(at(date(2026, 3, 17))) == ["alice"]
    assert sweep_at(at(date(2026, 3, 24))) == ["alice"]
    assert [e["step"] for e in _escalations(due_issue)] == ["vice_head"]


def test_an_issue_nobody_is_assigned_reminds_the_lead_agencys_staff(sweep_at, alice, victor):
    UserFactory(username="ara", agency=alice.agency, role=Role.STAFF)
    services.issue_create(
        actor=alice, title="담당자 없는 현안", lead_agency=alice.agency, due_date=REPLY_BY
    )
    assert sweep_at(at(date(2026, 2, 24))) == ["alice", "ara"]


def test_resolving_the_issue_stops_the_weekly_reminders(sweep_at, due_issue, alice):
    assert sweep_at(at(date(2026, 3, 3))) == ["alice"]
    services.issue_change_status(
        issue=due_issue, actor=alice, expected_version=1, status="resolved"
    )
    assert sweep_at(at(date(2026, 3, 10))) == []
    assert _escalations(due_issue) == []


# --- scale and doors ----------------------------------------------------------------------


def test_planning_takes_the_same_queries_however_many_people(sweep_at, request_to_b, agency_b):
    def plan_queries(moment):
        with CaptureQueriesContext(connection) as queries:
            deadlines.plan(moment)
        return len(queries)

    few = plan_queries(at(date(2026, 2, 20)))
    for n in range(30):
        UserFactory(username=f"b-staff-{n}", agency=agency_b, role=Role.STAFF)
    many = plan_queries(at(date(2026, 2, 24)))

    assert few == many
    assert DeadlineReminder.objects.filter(step=DeadlineStep.ON_THE_DAY).count() == 32


def test_the_command_and_the_task_run_the_sweep(sweep_at, request_to_b, time_machine, capsys):
    from issues.tasks import send_deadline_reminders

    time_machine.move_to(at(date(2026, 2, 20)), tick=False)
    call_command("send_deadline_reminders")
    assert "planned 2, sent 2" in capsys.readouterr().out
    assert send_deadline_reminders.run()["sent"] == 0


def test_health_checks_see_the_backlog(sweep_at, request_to_b, time_machine):
    from gwangju_hub import outbox

    deadlines.plan(at(date(2026, 2, 20)))
    backlog = outbox.backlogs(at(date(2026, 2, 20)) + timedelta(minutes=1))
    assert backlog["cooperation_reply"].due == 2
