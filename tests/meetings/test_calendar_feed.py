"""/meetings/calendar.ics?token=…: a personal, revocable iCalendar feed.

Calendar apps cannot log in, so the token is the only key: a bad, rotated or
revoked one is a 404, and the feed holds only meetings the owner may see.
"""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar

from meetings import services
from meetings.models import CalendarToken

pytestmark = pytest.mark.django_db

SEOUL = ZoneInfo("Asia/Seoul")


@pytest.fixture
def meetings(make_meeting, agency_a, agency_b):
    return {
        "ours": make_meeting(
            starts_at=datetime(2030, 4, 18, 5, 0, tzinfo=UTC),  # 14:00 in Seoul
            invited=[agency_a, agency_b],
            title="2030년 제2차 부기관장 회의",
        ),
        "theirs": make_meeting(
            starts_at=datetime(2030, 5, 1, 1, 0, tzinfo=UTC),
            invited=[agency_b],
            title="나기관만 초대된 회의",
        ),
    }


def _feed(client, token: str):
    return client.get(reverse("meetings:calendar"), {"token": token})


def _events(response) -> dict[str, object]:
    calendar = Calendar.from_ical(response.content)
    return {str(event["SUMMARY"]): event for event in calendar.walk("VEVENT")}


def test_the_feed_parses_and_holds_the_users_meetings_in_seoul_time(client, meetings, alice):
    token = services.calendar_token_rotate(user=alice)

    response = _feed(client, token.token)

    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    calendar = Calendar.from_ical(response.content)
    assert str(calendar["VERSION"]) == "2.0"
    assert [str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")] == ["Asia/Seoul"]
    events = _events(response)
    assert set(events) == {"2030년 제2차 부기관장 회의"}  # not agency B's own meeting
    event = events["2030년 제2차 부기관장 회의"]
    start = event.decoded("DTSTART")
    assert start == datetime(2030, 4, 18, 14, 0, tzinfo=SEOUL)
    assert start.tzinfo.key == "Asia/Seoul"
    assert event["DTSTART"].params["TZID"] == "Asia/Seoul"
    assert event.decoded("DTEND") == datetime(2030, 4, 18, 16, 0, tzinfo=SEOUL)
    assert str(event["LOCATION"]) == "광주광역시청 3층 중회의실"
    assert str(event["STATUS"]) == "CONFIRMED"
    assert str(event["UID"]) == f"meeting-{meetings['ours'].pk}@gwangju-hub"
    assert str(event["URL"]).endswith(meetings["ours"].get_absolute_url())


def test_the_mayors_office_gets_every_meeting(client, meetings, minji):
    token = services.calendar_token_rotate(user=minji)
    assert len(_events(_feed(client, token.token))) == 2


def test_a_cancelled_meeting_stays_in_the_feed_as_cancelled(
    client, meetings, alice, minji, monkeypatch
):
    monkeypatch.setattr("meetings.reminders.plan_cancellation_notices", lambda meeting, now: 0)
    ours = meetings["ours"]
    token = services.calendar_token_rotate(user=alice)
    before = _events(_feed(client, token.token))[ours.title]

    services.meeting_cancel(meeting=ours, actor=minji)
    after = _events(_feed(client, token.token))[ours.title]

    assert str(after["STATUS"]) == "CANCELLED"
    assert int(after["SEQUENCE"]) > int(before["SEQUENCE"])  # calendars apply the change


def test_meetings_long_past_drop_out_of_the_feed(client, make_meeting, agency_a, alice):
    make_meeting(
        starts_at=timezone.now() - timedelta(days=800), invited=[agency_a], title="옛 회의"
    )
    make_meeting(
        starts_at=timezone.now() - timedelta(days=30), invited=[agency_a], title="지난달 회의"
    )
    token = services.calendar_token_rotate(user=alice)
    assert set(_events(_feed(client, token.token))) == {"지난달 회의"}


def test_a_missing_or_unknown_token_is_a_404(client, meetings, alice):
    services.calendar_token_rotate(user=alice)
    assert client.get(reverse("meetings:calendar")).status_code == 404
    assert _feed(client, "").status_code == 404
    assert _feed(client, "not-a-token").status_code == 404


def test_a_rotated_token_stops_working_and_the_new_one_works(client, meetings, alice):
    old = services.calendar_token_rotate(user=alice).token
    new = services.calendar_token_rotate(user=alice).token
    assert old != new
    assert _feed(client, old).status_code == 404
    assert _feed(client, new).status_code == 200


def test_a_revoked_token_is_a_404(client, meetings, alice):
    token = services.calendar_token_rotate(user=alice).token
    services.calendar_token_revoke(user=alice)
    assert _feed(client, token).status_code == 404


def test_a_deactivated_users_token_is_a_404(client, meetings, alice):
    token = CalendarToken.objects.create(user=alice).token
    alice.is_active = False
    alice.save()
    assert _feed(client, token).status_code == 404


def test_the_feed_follows_the_users_language(client, meetings, alice):
    alice.preferred_language = "en"
    alice.save()
    token = services.calendar_token_rotate(user=alice).token
    calendar = Calendar.from_ical(_feed(client, token).content)
    assert str(calendar["NAME"]) == "Gwangju Hub meetings"
    assert "Vice-heads' meeting" in str(calendar.walk("VEVENT")[0]["DESCRIPTION"])
