"""seed_demo's meetings: this year's and next year's schedule, agendas, minutes, reports."""

import io
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command
from django.db.models import Max

from agencies.models import Role
from issues.demo import DEMO_TITLES
from issues.models import Event, EventKind, Issue, Visibility
from meetings.models import (
    AgendaItem,
    AgendaItemKind,
    AgendaItemStatus,
    Meeting,
    MeetingStatus,
    PerformanceReport,
    PerformanceReportStatus,
)

pytestmark = pytest.mark.django_db

# The demo is written relative to "today"; pin today to late November, when
# this year's December meetings are still ahead.
TODAY = datetime(2026, 11, 26, 10, tzinfo=ZoneInfo("Asia/Seoul"))


@pytest.fixture(autouse=True)
def late_november():
    with time_machine.travel(TODAY, tick=True):
        yield


def seed() -> str:
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def counts() -> dict[str, int]:
    return {
        "meetings": Meeting.objects.count(),
        "invitations": Meeting.invited_agencies.through.objects.count(),
        "agenda": AgendaItem.objects.count(),
        "reports": PerformanceReport.objects.count(),
        "events": Event.objects.count(),
        "held": Meeting.objects.filter(status=MeetingStatus.HELD).count(),
    }


def test_it_schedules_this_year_and_next_year():
    seed()

    keys = set(Meeting.objects.values_list("schedule_key", flat=True))
    assert keys == {
        *(f"vice_heads:{year}-{month:02d}" for year in (2026, 2027) for month in range(2, 13, 2)),
        "performance_briefing:2026",
        "performance_briefing:2027",
    }
    # Every meeting invites the 24 organizations, not the city hall.
    assert counts()["invitations"] == 14 * 24


def test_past_meetings_of_this_year_were_held_with_minutes_and_decisions():
    seed()

    past = Meeting.objects.filter(starts_at__lt=TODAY)
    assert past.count() == 5  # February to October
    for meeting in past:
        assert meeting.status == MeetingStatus.HELD, meeting.title
        assert "## 안건 및 결정 사항" in meeting.minutes
        items = list(meeting.agenda_items.select_related("issue"))
        assert items, meeting.title
        for item in items:
            assert item.status == AgendaItemStatus.ACCEPTED
            assert item.decision and item.decided_at > meeting.ends_at
            assert item.title in meeting.minutes
            if item.issue is not None:
                assert item.issue.title in DEMO_TITLES
                assert item.issue.visibility == Visibility.ALL
                assert item.issue.created_at < meeting.starts_at
    issue_items = AgendaItem.objects.filter(meeting__in=past, issue__isnull=False)
    assert issue_items.count() >= 10
    assert AgendaItem.objects.filter(kind=AgendaItemKind.INNOVATION_CASE).exists()


def test_decisions_are_on_the_issues_timelines():
    seed()

    decided = AgendaItem.objects.filter(issue__isnull=False).exclude(decision="")
    events = Event.objects.filter(kind=EventKind.DECISION)
    assert events.count() == decided.count() > 0
    for item in decided:
        event = events.get(issue=item.issue)
        assert event.changes[0]["text"] == item.decision
        assert event.created_at == item.decided_at
        if item.follow_up_due:
            assert Issue.objects.get(pk=item.issue_id).due_date is not None
    # The timeline still ends with the issue's last activity.
    for issue in Issue.objects.annotate(last=Max("events__created_at")):
        assert issue.last <= issue.updated_at, issue.title


def test_the_december_meeting_has_proposals_and_the_briefing_is_ahead():
    seed()

    december = Meeting.objects.get(schedule_key="vice_heads:2026-12")
    briefing = Meeting.objects.get(schedule_key="performance_briefing:2026")
    assert december.status == briefing.status == MeetingStatus.SCHEDULED
    assert december.starts_at > TODAY and briefing.starts_at > TODAY
    statuses = list(december.agenda_items.values_list("status", flat=True))
    assert AgendaItemStatus.PROPOSED in statuses and AgendaItemStatus.ACCEPTED in statuses
    assert not december.agenda_items.exclude(decision="").exists()
    for item in december.agenda_items.filter(issue__isnull=False).select_related("proposed_by"):
        assert item.proposed_by.agency_id == item.issue.lead_agency_id
        assert item.proposed_by.role in (Role.HEAD, Role.VICE_HEAD)
    assert not Meeting.objects.filter(starts_at__year=2027, agenda_items__isnull=False).exists()


def test_some_performance_reports_are_submitted_by_their_heads():
    seed()

    reports = PerformanceReport.objects.filter(year=2026).select_related("submitted_by")
    submitted = [r for r in reports if r.status == PerformanceReportStatus.SUBMITTED]
    drafts = [r for r in reports if r.status == PerformanceReportStatus.DRAFT]
    assert len(submitted) == 10 and len(drafts) == 4
    for report in submitted:
        assert report.submitted_by.role == Role.HEAD
        assert report.submitted_by.agency_id == report.agency_id
        assert report.submitted_at < TODAY.astimezone(report.submitted_at.tzinfo)
        assert report.agency.name_ko in report.summary
        assert report.achievements and report.next_year_plan
    assert all(r.submitted_at is None and r.submitted_by is None for r in drafts)


def test_running_it_twice_creates_nothing_new():
    seed()
    before = counts()

    out = seed()

    assert counts() == before
    assert "0 created, 14 already there" in out
    assert "0 submitted, 0 drafts created" in out


def test_it_leaves_a_moved_meeting_and_edited_reports_alone():
    seed()
    december = Meeting.objects.get(schedule_key="vice_heads:2026-12")
    Meeting.objects.filter(pk=december.pk).update(location="김대중컨벤션센터 회의실")
    report = PerformanceReport.objects.filter(status=PerformanceReportStatus.DRAFT).first()
    PerformanceReport.objects.filter(pk=report.pk).update(summary="직접 고친 요약")
    before = counts()

    seed()

    assert counts() == before
    assert Meeting.objects.get(pk=december.pk).location == "김대중컨벤션센터 회의실"
    assert PerformanceReport.objects.get(pk=report.pk).summary == "직접 고친 요약"
