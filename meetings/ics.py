"""Meetings as iCalendar (RFC 5545) for Outlook, Google Calendar and phones.

Times are written in Asia/Seoul with a VTIMEZONE, so every calendar shows the
meeting at the hour the city set, whatever the reader's own time zone.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from zoneinfo import ZoneInfo

from django.utils import timezone
from django.utils.translation import gettext as _
from icalendar import Calendar, Event
from icalendar.enums import STATUS

from .models import Meeting, MeetingStatus

SEOUL = ZoneInfo("Asia/Seoul")
PRODID = "-//Gwangju Metropolitan City//Gwangju Hub//KO"
UID_DOMAIN = "gwangju-hub"


def meeting_uid(meeting: Meeting, domain: str = UID_DOMAIN) -> str:
    """Stable across feeds and e-mail invitations, so calendars update one event."""
    return f"meeting-{meeting.pk}@{domain}"


def meeting_sequence(meeting: Meeting) -> int:
    """Grows with every change, so calendars apply updates (same rule as the reminders' invites)."""
    changed = max(meeting.updated_at, meeting.cancelled_at or meeting.updated_at)
    return int(changed.timestamp()) + (1 if meeting.status == MeetingStatus.CANCELLED else 0)


def meeting_event(meeting: Meeting, *, url: str = "") -> Event:
    """One VEVENT: cancelled meetings stay in the feed with STATUS:CANCELLED."""
    description = [meeting.get_kind_display()]
    if meeting.chair:
        description.append(_("Chair: %(chair)s") % {"chair": meeting.chair})
    if url:
        description.append(url)
    event = Event.new(
        uid=meeting_uid(meeting),
        summary=meeting.title,
        start=meeting.starts_at.astimezone(SEOUL),
        end=meeting.ends_at.astimezone(SEOUL),
        location=meeting.location or None,
        description="\n".join(description),
        stamp=timezone.now(),
        last_modified=meeting.updated_at,
        status=STATUS.CANCELLED if meeting.status == MeetingStatus.CANCELLED else STATUS.CONFIRMED,
        url=url or None,
        sequence=meeting_sequence(meeting),
    )
    return event


def calendar(meetings: Iterable[Meeting], *, name: str, url_for) -> bytes:
    """A whole feed: one VEVENT per meeting, ``url_for(meeting)`` linking back to its page."""
    feed = Calendar.new(prodid=PRODID, name=name, method="PUBLISH")
    del feed["UID"]  # a fresh random one per download would only confuse calendar apps
    feed["X-WR-TIMEZONE"] = "Asia/Seoul"
    for meeting in meetings:
        feed.add_component(meeting_event(meeting, url=url_for(meeting)))
    # Seoul has kept one offset since 1988; a short range keeps the VTIMEZONE small.
    feed.add_missing_timezones(first_date=date(2000, 1, 1), last_date=date(2100, 1, 1))
    return feed.to_ical()
