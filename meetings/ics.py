"""Meetings as iCalendar (RFC 5545) for Outlook, Google Calendar and phones.

Times are written in Asia/Seoul with a VTIMEZONE, so every calendar shows the
meeting at the hour the city set, whatever the reader's own time zone.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from datetime import date
from email.utils import parseaddr
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _
from icalendar import Calendar, Event, Timezone, vCalAddress, vText
from icalendar.enums import STATUS

from agencies.models import User

from .models import Meeting, MeetingStatus

SEOUL = ZoneInfo("Asia/Seoul")
PRODID = "-//Gwangju Metropolitan City//Gwangju Hub//KO"
INVITATION_PRODID = "-//Gwangju Metropolitan City//Gwangju Hub reminders//KO"
UID_DOMAIN = "gwangju-hub"


def meeting_uid(meeting: Meeting, domain: str = UID_DOMAIN) -> str:
    """Stable across feeds and e-mail invitations, so calendars update one event."""
    return f"meeting-{meeting.pk}@{domain}"


def _is_cancelled(meeting: Meeting, cancelled: bool | None) -> bool:
    return meeting.status == MeetingStatus.CANCELLED if cancelled is None else cancelled


def meeting_sequence(meeting: Meeting, *, cancelled: bool | None = None) -> int:
    """Grows with every change, so calendars apply updates (the feed's and the invitations').

    Every change of the meeting moves ``updated_at``, and a cancellation
    comes after it. ``cancelled`` (default: whether the meeting is) is what
    the event says.
    """
    changed = max(meeting.updated_at, meeting.cancelled_at or meeting.updated_at)
    return int(changed.timestamp()) + (1 if _is_cancelled(meeting, cancelled) else 0)


def meeting_event(meeting: Meeting, *, url: str = "", cancelled: bool | None = None) -> Event:
    """One VEVENT: cancelled meetings stay in the feed with STATUS:CANCELLED.

    ``cancelled`` says whether the event withdraws the meeting (default:
    whether the meeting is cancelled); a reminder's invitation says what its
    purpose is.
    """
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
        status=STATUS.CANCELLED if _is_cancelled(meeting, cancelled) else STATUS.CONFIRMED,
        url=url or None,
        sequence=meeting_sequence(meeting, cancelled=cancelled),
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


@functools.cache
def _seoul_vtimezone() -> Timezone:
    # Computing it walks a century hour by hour (~45 ms): once per process.
    # Seoul has kept one offset since 1988; the range keeps the VTIMEZONE small.
    return Timezone.from_tzid("Asia/Seoul", first_date=date(2000, 1, 1), last_date=date(2100, 1, 1))


def invitation(meeting: Meeting, attendee: User, *, url: str, cancel: bool) -> bytes:
    """A single-event invitation to ``attendee`` (METHOD:REQUEST), or its withdrawal (CANCEL).

    The event is the feed's (same UID, SEQUENCE and text), so calendars
    treat the invitation and the feed's entry as one event; the organizer is
    the app's sender.
    """
    method = "CANCEL" if cancel else "REQUEST"
    invite = Calendar()
    invite.add("prodid", INVITATION_PRODID)
    invite.add("version", "2.0")
    invite.add("method", method)
    event = meeting_event(meeting, url=url, cancelled=cancel)
    sender_name, sender_address = parseaddr(settings.DEFAULT_FROM_EMAIL)
    organizer = vCalAddress(f"mailto:{sender_address}")
    organizer.params["cn"] = vText(sender_name or "Gwangju Hub")
    event.add("organizer", organizer)
    guest = vCalAddress(f"mailto:{attendee.email}")
    guest.params["cn"] = vText(attendee.display_name)
    guest.params["role"] = vText("REQ-PARTICIPANT")
    guest.params["rsvp"] = vText("FALSE")
    event.add("attendee", guest)
    invite.add_component(_seoul_vtimezone())
    invite.add_component(event)
    return invite.to_ical()
