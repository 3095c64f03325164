"""A reminder's calendar invitation is the feed's event (meetings.ics.invitation).

A person may have both in one calendar: the .ics attached to a reminder and
the subscribed feed (/meetings/calendar.ics). They share the UID, so the
calendar keeps one event; it must then also agree on what the event says
and on SEQUENCE, or each source would in turn undo the other's update.
"""

import email
import email.policy
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from icalendar import Calendar

from meetings import reminders, services

pytestmark = pytest.mark.django_db

SEOUL = ZoneInfo("Asia/Seoul")
T = datetime(2027, 2, 18, 14, 0, tzinfo=SEOUL)
# What a calendar shows or compares; DTSTAMP is when each was written.
SHARED = ("UID", "SEQUENCE", "STATUS", "SUMMARY", "DESCRIPTION", "LOCATION", "URL")


@pytest.fixture
def meeting(settings, time_machine, make_meeting, agency_a):
    # The feed links with the request's host; the mail with SITE_URL.
    settings.SITE_URL = "http://testserver"
    time_machine.move_to(T - timedelta(days=30), tick=False)
    return make_meeting(starts_at=T, title="제1차 부기관장 회의", invited=[agency_a])


def _invitation_event(outbox, user):
    [message] = [m for m in outbox if m.to == [user.email]]
    parsed = email.message_from_bytes(message.message().as_bytes(), policy=email.policy.default)
    [part] = [p for p in parsed.iter_attachments() if p.get_content_type() == "text/calendar"]
    [event] = Calendar.from_ical(part.get_payload(decode=True)).walk("VEVENT")
    return event


def _feed_event(client, user):
    token = services.calendar_token_rotate(user=user).token
    response = client.get(reverse("meetings:calendar"), {"token": token})
    [event] = Calendar.from_ical(response.content).walk("VEVENT")
    return event


def _shared(event) -> dict[str, bytes]:
    return {name: event[name].to_ical() if name in event else None for name in SHARED}


def test_the_invitation_says_what_the_feed_says_in_the_recipients_language(
    client, time_machine, mailoutbox, meeting, victor
):
    victor.preferred_language = "en"
    victor.save(update_fields=["preferred_language"])
    time_machine.move_to(T - timedelta(days=7), tick=False)

    assert reminders.sweep().sent == 1

    invitation = _invitation_event(mailoutbox, victor)
    assert _shared(invitation) == _shared(_feed_event(client, victor))
    assert "Vice-heads' meeting" in str(invitation["DESCRIPTION"])
    assert str(invitation["STATUS"]) == "CONFIRMED"


def test_the_withdrawal_carries_the_feeds_cancelled_event_and_sequence(
    client, time_machine, mailoutbox, meeting, victor, minji
):
    time_machine.move_to(T - timedelta(days=7), tick=False)
    reminders.sweep()  # victor, and minji of the Mayor's office
    sent = _invitation_event(mailoutbox, victor)
    mailoutbox.clear()

    time_machine.move_to(T - timedelta(days=3), tick=False)
    services.meeting_cancel(meeting=meeting, actor=minji)
    reminders.sweep()

    withdrawal = _invitation_event(mailoutbox, victor)
    assert _shared(withdrawal) == _shared(_feed_event(client, victor))
    assert str(withdrawal["STATUS"]) == "CANCELLED"
    assert withdrawal.decoded("SEQUENCE") > sent.decoded("SEQUENCE")
