"""The yearly schedule of regular meetings: the date rule and ``schedule_meetings``.

``regular_meeting_dates`` is pure (a year and the ``MEETING_SCHEDULE``
setting in, planned meetings out), so the rule is tested without a database.
``schedule_meetings`` writes them, once: every planned meeting carries a
``schedule_key`` ("vice_heads:2027-02", "performance_briefing:2027") and a
meeting whose key exists is left exactly as it is, even if someone moved it
to another day, renamed it or cancelled it.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction

from agencies.models import Agency

from .models import Meeting, MeetingKind

SEOUL = ZoneInfo("Asia/Seoul")
SATURDAY = 5
# The years the command and the admin accept: a typo such as 227 or 20277
# would otherwise quietly create seven meetings nobody will ever attend.
MIN_YEAR, MAX_YEAR = 2000, 2100


@dataclass(frozen=True)
class PlannedMeeting:
    """A regular meeting as the date rule places it, before it is written."""

    schedule_key: str
    kind: str
    title: str
    starts_at: datetime  # aware, Asia/Seoul
    ends_at: datetime
    location: str
    chair: str


class ScheduleResult(NamedTuple):
    created: list[Meeting]
    existing: list[Meeting]


def _nth_weekday(year: int, month: int, weekday: int, week_of_month: int) -> date:
    """The n-th given weekday of a month (``week_of_month`` 1–4, or -1 for the last one)."""
    days = [
        date(year, month, day)
        for day in range(1, calendar.monthrange(year, month)[1] + 1)
        if date(year, month, day).weekday() == weekday
    ]
    return days[week_of_month - 1] if week_of_month > 0 else days[week_of_month]


def _first_weekday_on_or_after(day: date) -> date:
    while day.weekday() >= SATURDAY:
        day += timedelta(days=1)
    return day


def _span(day: date, rule: Mapping[str, Any]) -> tuple[datetime, datetime]:
    starts_at = datetime.combine(day, time.fromisoformat(rule["start"]), tzinfo=SEOUL)
    return starts_at, starts_at + timedelta(minutes=int(rule["minutes"]))


def _planned(key: str, kind: str, title: str, day: date, rule: Mapping[str, Any]) -> PlannedMeeting:
    """One meeting of ``rule`` (a part of ``MEETING_SCHEDULE``) on ``day``."""
    starts_at, ends_at = _span(day, rule)
    return PlannedMeeting(
        schedule_key=key,
        kind=kind,
        title=title,
        starts_at=starts_at,
        ends_at=ends_at,
        location=rule.get("location", ""),
        chair=rule.get("chair", ""),
    )


def regular_meeting_dates(year: int, schedule: Mapping[str, Any]) -> list[PlannedMeeting]:
    """The regular meetings of ``year`` under ``schedule`` (the ``MEETING_SCHEDULE`` setting).

    Vice-heads' meetings: the ``week_of_month``-th ``weekday`` of each of
    ``months``. The performance briefing: ``month``/``day``, or the first
    weekday after it when that falls on a weekend. Sorted by start.
    """
    vice_heads = schedule["vice_heads"]
    planned = [
        _planned(
            f"{MeetingKind.VICE_HEADS}:{year}-{month:02d}",
            MeetingKind.VICE_HEADS,
            f"{year}년 {month}월 출자·출연기관 부기관장 회의",
            _nth_weekday(year, month, vice_heads["weekday"], vice_heads["week_of_month"]),
            vice_heads,
        )
        for month in vice_heads["months"]
    ]
    briefing = schedule["performance_briefing"]
    planned.append(
        _planned(
            f"{MeetingKind.PERFORMANCE_BRIEFING}:{year}",
            MeetingKind.PERFORMANCE_BRIEFING,
            f"{year}년 출자·출연기관 성과 보고회",
            _first_weekday_on_or_after(date(year, briefing["month"], briefing["day"])),
            briefing,
        )
    )
    return sorted(planned, key=lambda meeting: meeting.starts_at)


def schedule_meetings(year: int, *, created_by=None) -> ScheduleResult:
    """Create the regular meetings of ``year`` that do not exist yet.

    Each new meeting invites every active public organization (not the city
    hall). A meeting whose ``schedule_key`` already exists is returned in
    ``existing`` untouched, whatever happened to it since. Safe to run twice
    at once: the unique ``schedule_key`` decides, and ``get_or_create``
    returns the other run's row.
    """
    planned = regular_meeting_dates(year, settings.MEETING_SCHEDULE)
    keys = [meeting.schedule_key for meeting in planned]
    created: list[Meeting] = []
    existing: list[Meeting] = []
    with transaction.atomic():
        already = Meeting.objects.in_bulk(keys, field_name="schedule_key")
        invited = list(Agency.objects.active().public_organizations())
        for plan in planned:
            if plan.schedule_key in already:
                existing.append(already[plan.schedule_key])
                continue
            meeting, is_new = Meeting.objects.get_or_create(
                schedule_key=plan.schedule_key,
                defaults={
                    "kind": plan.kind,
                    "title": plan.title,
                    "starts_at": plan.starts_at,
                    "ends_at": plan.ends_at,
                    "location": plan.location,
                    "chair": plan.chair,
                    "created_by": created_by,
                },
            )
            if is_new:
                meeting.invited_agencies.set(invited)
                created.append(meeting)
            else:
                existing.append(meeting)
    return ScheduleResult(created, existing)
