"""The yearly schedule: the date rule, ``schedule_meetings`` and its command."""

import io
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command

from agencies.models import Agency
from meetings.models import Meeting, MeetingKind, MeetingStatus
from meetings.scheduling import regular_meeting_dates, schedule_meetings
from tests.factories import AgencyFactory

SEOUL = ZoneInfo("Asia/Seoul")


def seoul(*args: int) -> datetime:
    return datetime(*args, tzinfo=SEOUL)


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("schedule_meetings", *args, stdout=out)
    return out.getvalue()


# --- The date rule (no database) ------------------------------------------


def test_vice_heads_meet_on_the_third_thursday_of_even_months_at_two():
    planned = regular_meeting_dates(2027, django_settings.MEETING_SCHEDULE)

    vice_heads = [p for p in planned if p.kind == MeetingKind.VICE_HEADS]
    assert [p.starts_at for p in vice_heads] == [
        seoul(2027, 2, 18, 14),
        seoul(2027, 4, 15, 14),
        seoul(2027, 6, 17, 14),
        seoul(2027, 8, 19, 14),
        seoul(2027, 10, 21, 14),
        seoul(2027, 12, 16, 14),
    ]
    assert all(p.starts_at.weekday() == 3 for p in vice_heads)  # Thursday
    assert all(p.ends_at - p.starts_at == timedelta(minutes=120) for p in vice_heads)
    assert [p.schedule_key for p in vice_heads][:2] == ["vice_heads:2027-02", "vice_heads:2027-04"]
    assert vice_heads[0].title == "2027년 2월 출자·출연기관 부기관장 회의"
    assert vice_heads[0].chair == "행정부시장"
    assert vice_heads[0].location == "광주광역시청 3층 중회의실"


def test_the_2028_dates_follow_the_same_rule():
    planned = regular_meeting_dates(2028, django_settings.MEETING_SCHEDULE)

    assert [p.starts_at.date().isoformat() for p in planned] == [
        "2028-02-17",
        "2028-04-20",
        "2028-06-15",
        "2028-08-17",
        "2028-10-19",
        "2028-12-15",  # the briefing: a Friday, so it stays on the 15th
        "2028-12-21",
    ]


def test_the_briefing_is_on_december_15_at_ten_on_a_weekday():
    planned = regular_meeting_dates(2027, django_settings.MEETING_SCHEDULE)

    [briefing] = [p for p in planned if p.kind == MeetingKind.PERFORMANCE_BRIEFING]
    assert briefing.starts_at == seoul(2027, 12, 15, 10)  # a Wednesday
    assert briefing.ends_at == seoul(2027, 12, 15, 12)
    assert briefing.schedule_key == "performance_briefing:2027"
    assert briefing.title == "2027년 출자·출연기관 성과 보고회"
    assert briefing.chair == "광주광역시장"


@pytest.mark.parametrize(
    ("year", "expected"),
    [
        (2029, seoul(2029, 12, 17, 10)),  # the 15th is a Saturday: the Monday after
        (2030, seoul(2030, 12, 16, 10)),  # the 15th is a Sunday: the next day
    ],
)
def test_a_briefing_falling_on_a_weekend_moves_to_the_monday_after(year, expected):
    planned = regular_meeting_dates(year, django_settings.MEETING_SCHEDULE)

    [briefing] = [p for p in planned if p.kind == MeetingKind.PERFORMANCE_BRIEFING]
    assert briefing.starts_at == expected
    assert briefing.starts_at.weekday() == 0


def test_the_rule_comes_from_the_schedule_it_is_given():
    schedule = {
        "vice_heads": {
            "months": [3, 9],
            "weekday": 1,  # Tuesday
            "week_of_month": -1,  # the last one
            "start": "09:30",
            "minutes": 90,
        },
        "performance_briefing": {"month": 11, "day": 30, "start": "15:00", "minutes": 60},
    }

    planned = regular_meeting_dates(2027, schedule)

    assert [(p.schedule_key, p.starts_at) for p in planned] == [
        ("vice_heads:2027-03", seoul(2027, 3, 30, 9, 30)),
        ("vice_heads:2027-09", seoul(2027, 9, 28, 9, 30)),
        ("performance_briefing:2027", seoul(2027, 11, 30, 15)),  # a Tuesday
    ]
    assert planned[0].ends_at == seoul(2027, 3, 30, 11)


# --- schedule_meetings ----------------------------------------------------


@pytest.fixture
def organizations(city, agency_a, agency_b):
    inactive = AgencyFactory(slug="closed", name_ko="폐지된기관", is_active=False)
    return {"city": city, "a": agency_a, "b": agency_b, "inactive": inactive}


@pytest.mark.django_db
def test_it_creates_seven_meetings_inviting_the_active_organizations(organizations, minji):
    created, existing = schedule_meetings(2027, created_by=minji)

    assert len(created) == 7 and existing == []
    assert Meeting.objects.count() == 7
    assert Meeting.objects.filter(kind=MeetingKind.VICE_HEADS).count() == 6
    for meeting in Meeting.objects.all():
        assert meeting.status == MeetingStatus.SCHEDULED
        assert meeting.created_by == minji
        assert set(meeting.invited_agencies.all()) == {organizations["a"], organizations["b"]}
    briefing = Meeting.objects.get(schedule_key="performance_briefing:2027")
    assert briefing.starts_at == seoul(2027, 12, 15, 10)
    assert briefing.location == "광주광역시청 3층 대회의실"


@pytest.mark.django_db
def test_scheduling_twice_creates_nothing_new(organizations):
    schedule_meetings(2027)
    keys = set(Meeting.objects.values_list("schedule_key", flat=True))
    invitations = Meeting.invited_agencies.through.objects.count()

    created, existing = schedule_meetings(2027)

    assert created == [] and len(existing) == 7
    assert set(Meeting.objects.values_list("schedule_key", flat=True)) == keys
    assert Meeting.objects.count() == 7
    assert Meeting.invited_agencies.through.objects.count() == invitations


@pytest.mark.django_db
def test_a_moved_or_cancelled_meeting_is_left_as_it_is(organizations):
    schedule_meetings(2027)
    newcomer = AgencyFactory(slug="newcomer", name_ko="신설기관")
    moved = Meeting.objects.get(schedule_key="vice_heads:2027-04")
    moved.starts_at, moved.ends_at = seoul(2027, 4, 22, 10), seoul(2027, 4, 22, 11)
    moved.title = "4월 부기관장 회의 (일정 변경)"
    moved.save()
    Meeting.objects.filter(schedule_key="vice_heads:2027-06").update(status=MeetingStatus.CANCELLED)

    created, existing = schedule_meetings(2027)

    assert created == []
    assert Meeting.objects.filter(starts_at__month=4, kind=MeetingKind.VICE_HEADS).count() == 1
    moved.refresh_from_db()
    assert moved.starts_at == seoul(2027, 4, 22, 10)
    assert moved.title == "4월 부기관장 회의 (일정 변경)"
    # An organization added since is not invited to existing meetings behind anyone's back.
    assert newcomer not in moved.invited_agencies.all()
    cancelled = Meeting.objects.get(schedule_key="vice_heads:2027-06")
    assert cancelled.status == MeetingStatus.CANCELLED


@pytest.mark.django_db
def test_a_missing_meeting_is_recreated_next_to_the_others(organizations):
    schedule_meetings(2027)
    Meeting.objects.filter(schedule_key="vice_heads:2027-08").delete()

    created, existing = schedule_meetings(2027)

    assert [m.schedule_key for m in created] == ["vice_heads:2027-08"]
    assert len(existing) == 6


@pytest.mark.django_db
def test_years_are_scheduled_independently(organizations):
    schedule_meetings(2027)

    created, _ = schedule_meetings(2028)

    assert len(created) == 7
    assert Meeting.objects.count() == 14


# --- The command ----------------------------------------------------------


@pytest.mark.django_db
def test_the_command_reports_created_then_existing(organizations):
    first = run("2027")

    assert "Meetings of 2027: 7 created, 0 already there." in first
    assert "2027-02-18 14:00  2027년 2월 출자·출연기관 부기관장 회의" in first
    assert "2027-12-15 10:00  2027년 출자·출연기관 성과 보고회" in first

    second = run("2027")

    assert "Meetings of 2027: 0 created, 7 already there." in second
    assert Meeting.objects.count() == 7


@pytest.mark.parametrize("year", ["1999", "2101", "27"])
@pytest.mark.django_db
def test_the_command_refuses_a_year_out_of_range(year):
    with pytest.raises(CommandError, match="between 2000 and 2100"):
        run(year)

    assert not Meeting.objects.exists()


def test_the_command_refuses_a_year_that_is_not_a_number():
    with pytest.raises(CommandError):
        run("next")


@pytest.mark.django_db
def test_only_active_public_organizations_are_invited(organizations):
    schedule_meetings(2027)

    invited = Agency.objects.filter(meetings__isnull=False).distinct()
    assert set(invited) == {organizations["a"], organizations["b"]}
