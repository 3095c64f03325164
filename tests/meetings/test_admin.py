"""The meetings admin: lists, search, "Schedule a year", and what it refuses."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from meetings.models import (
    AgendaItem,
    CalendarToken,
    Meeting,
    MeetingKind,
    MeetingStatus,
    PerformanceReport,
    PerformanceReportStatus,
    ReminderDelivery,
    ReminderPurpose,
)
from meetings.scheduling import schedule_meetings
from tests.factories import IssueFactory

pytestmark = pytest.mark.django_db

SEOUL = ZoneInfo("Asia/Seoul")
SCHEDULE_URL = reverse("admin:meetings_meeting_schedule_year")
MEETINGS_URL = reverse("admin:meetings_meeting_changelist")


@pytest.fixture
def admin_client(client, superuser):
    client.force_login(superuser)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


@pytest.fixture
def year_2027(city, agency_a, agency_b):
    return schedule_meetings(2027)


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


# --- Meetings -------------------------------------------------------------


def test_meeting_list_shows_the_schedule_with_a_button_to_schedule_a_year(admin_client, year_2027):
    response = admin_client.get(MEETINGS_URL)

    assert response.status_code == 200
    assert response.context["cl"].result_count == 7
    page = response.content.decode()
    assert "2027년 2월 출자·출연기관 부기관장 회의" in page
    assert f'href="{SCHEDULE_URL}"' in page


def test_meeting_list_filters_by_kind_and_year(admin_client, year_2027):
    schedule_meetings(2028)

    by_kind = admin_client.get(MEETINGS_URL, {"kind": MeetingKind.PERFORMANCE_BRIEFING})
    by_year = admin_client.get(MEETINGS_URL, {"starts_at__year": "2028"})

    assert [m.schedule_key for m in by_kind.context["cl"].result_list] == [
        "performance_briefing:2027",
        "performance_briefing:2028",
    ]
    assert by_year.context["cl"].result_count == 7
    assert {m.starts_at.year for m in by_year.context["cl"].result_list} == {2028}


def test_meeting_search_finds_korean_substrings(admin_client, year_2027):
    response = admin_client.get(MEETINGS_URL, {"q": "성과 보고"})

    assert [m.schedule_key for m in response.context["cl"].result_list] == [
        "performance_briefing:2027"
    ]


def test_meeting_page_shows_invited_organizations_and_agenda(admin_client, year_2027, agency_a):
    meeting = Meeting.objects.get(schedule_key="vice_heads:2027-02")
    issue = IssueFactory(title="도시철도 2호선 교통 대책", lead_agency=agency_a)
    AgendaItem.objects.create(
        meeting=meeting, issue=issue, title=issue.title, presenting_agency=agency_a, order=1
    )

    response = admin_client.get(reverse("admin:meetings_meeting_change", args=[meeting.pk]))

    assert response.status_code == 200
    page = response.content.decode()
    assert "도시철도 2호선 교통 대책" in page
    assert "selectfilter" in page  # filter_horizontal for the invited organizations
    assert "vice_heads:2027-02" in page  # the schedule key, read-only


def _change_data(meeting: Meeting, **overrides) -> dict:
    starts_at = timezone.localtime(meeting.starts_at)
    ends_at = timezone.localtime(meeting.ends_at)
    data = {
        "kind": meeting.kind,
        "title": meeting.title,
        "starts_at_0": starts_at.strftime("%Y-%m-%d"),
        "starts_at_1": starts_at.strftime("%H:%M:%S"),
        "ends_at_0": ends_at.strftime("%Y-%m-%d"),
        "ends_at_1": ends_at.strftime("%H:%M:%S"),
        "location": meeting.location,
        "chair": meeting.chair,
        "status": meeting.status,
        "invited_agencies": [a.pk for a in meeting.invited_agencies.all()],
        "minutes": meeting.minutes,
        "agenda_items-TOTAL_FORMS": "0",
        "agenda_items-INITIAL_FORMS": "0",
        "agenda_items-MIN_NUM_FORMS": "0",
        "agenda_items-MAX_NUM_FORMS": "1000",
    }
    data.update(overrides)
    return data


def test_an_agenda_item_about_an_issue_takes_its_title_and_lead_agency(
    admin_client, year_2027, agency_a, superuser
):
    meeting = Meeting.objects.get(schedule_key="vice_heads:2027-04")
    issue = IssueFactory(title="청년 일자리 박람회 공동 개최", lead_agency=agency_a)
    data = _change_data(
        meeting,
        **{
            "agenda_items-TOTAL_FORMS": "1",
            "agenda_items-0-order": "1",
            "agenda_items-0-issue": str(issue.pk),
            "agenda_items-0-title": "",
            "agenda_items-0-presenting_agency": "",
            "agenda_items-0-kind": "issue_review",
            "agenda_items-0-status": "accepted",
            "agenda_items-0-meeting": str(meeting.pk),
        },
    )

    response = admin_client.post(reverse("admin:meetings_meeting_change", args=[meeting.pk]), data)

    assert response.status_code == 302, response.context["adminform"].errors
    item = meeting.agenda_items.get()
    assert (item.title, item.presenting_agency, item.proposed_by) == (
        issue.title,
        agency_a,
        superuser,
    )


def test_a_past_meeting_cannot_be_cancelled_in_admin(admin_client, city, agency_a):
    schedule_meetings(2025)
    meeting = Meeting.objects.get(schedule_key="vice_heads:2025-02")

    response = admin_client.post(
        reverse("admin:meetings_meeting_change", args=[meeting.pk]),
        _change_data(meeting, status=MeetingStatus.CANCELLED),
    )

    assert response.status_code == 200
    assert "Only an upcoming scheduled meeting can be cancelled." in response.content.decode()
    meeting.refresh_from_db()
    assert meeting.status == MeetingStatus.SCHEDULED


# --- Schedule a year ------------------------------------------------------


def test_schedule_a_year_offers_next_year(admin_client, city):
    response = admin_client.get(SCHEDULE_URL)

    assert response.status_code == 200
    page = response.content.decode()
    assert '<label for="id_year">Year:</label>' in page
    assert response.context["form"]["year"].value() == timezone.localdate().year + 1


def test_schedule_a_year_creates_the_meetings_and_says_so(admin_client, city, agency_a, superuser):
    response = admin_client.post(SCHEDULE_URL, {"year": "2027"})

    assert response.status_code == 302
    assert response.url == f"{MEETINGS_URL}?starts_at__year=2027"
    assert messages_of(response) == ["7 meetings of 2027 were scheduled."]
    assert Meeting.objects.filter(created_by=superuser).count() == 7
    assert set(Meeting.objects.values_list("invited_agencies", flat=True)) == {agency_a.pk}


def test_schedule_a_year_twice_creates_nothing_new(admin_client, year_2027):
    keys = set(Meeting.objects.values_list("schedule_key", flat=True))

    response = admin_client.post(SCHEDULE_URL, {"year": "2027"})

    assert messages_of(response) == [
        "7 meetings of 2027 already existed and were left as they are."
    ]
    assert set(Meeting.objects.values_list("schedule_key", flat=True)) == keys


@pytest.mark.parametrize("year", ["1999", "2101", "next"])
def test_schedule_a_year_refuses_a_bad_year_in_the_form(admin_client, city, year):
    response = admin_client.post(SCHEDULE_URL, {"year": year})

    assert response.status_code == 200
    assert response.context["form"].errors["year"]
    assert not Meeting.objects.exists()


def test_schedule_a_year_is_for_admins_only(client, minji):
    minji.is_staff = True  # an admin login without the right to add meetings
    minji.save()
    client.force_login(minji)

    response = client.post(SCHEDULE_URL, {"year": "2027"})

    assert response.status_code == 403
    assert not Meeting.objects.exists()


# --- Reports, reminders, calendar tokens ------------------------------------


def test_reports_list_and_korean_agency_search(admin_client, agency_a, agency_b, hana):
    PerformanceReport.objects.create(
        agency=agency_a,
        year=2026,
        status=PerformanceReportStatus.SUBMITTED,
        submitted_by=hana,
        submitted_at=timezone.now(),
    )
    PerformanceReport.objects.create(agency=agency_b, year=2026)
    url = reverse("admin:meetings_performancereport_changelist")

    everything = admin_client.get(url)
    found = admin_client.get(url, {"q": "가기관"})  # part of 광주가기관
    drafts = admin_client.get(url, {"status__exact": PerformanceReportStatus.DRAFT})

    assert everything.context["cl"].result_count == 2
    assert [r.agency for r in found.context["cl"].result_list] == [agency_a]
    assert [r.agency for r in drafts.context["cl"].result_list] == [agency_b]


@pytest.fixture
def reminders(year_2027, victor, hana):
    meeting = Meeting.objects.get(schedule_key="vice_heads:2027-02")
    due = meeting.starts_at - timedelta(days=7)
    sent = ReminderDelivery.objects.create(
        meeting=meeting,
        purpose=ReminderPurpose.MEETING,
        recipient=victor,
        offset=timedelta(days=7),
        due_at=due,
        sent_at=due + timedelta(minutes=2),
        attempts=1,
    )
    failing = ReminderDelivery.objects.create(
        meeting=meeting,
        purpose=ReminderPurpose.MEETING,
        recipient=hana,
        offset=timedelta(days=1),
        due_at=meeting.starts_at - timedelta(days=1),
        attempts=3,
        last_error="Traceback …\nSMTPServerDisconnected: Connection unexpectedly closed",
    )
    return sent, failing


def test_reminder_log_is_read_only_and_filters_by_state(admin_client, reminders):
    sent, failing = reminders
    url = reverse("admin:meetings_reminderdelivery_changelist")

    response = admin_client.get(url)
    unsent = admin_client.get(url, {"state": "failing"})
    delivered = admin_client.get(url, {"state": "sent"})
    of_meeting = admin_client.get(url, {"meeting__id__exact": sent.meeting_id})

    assert response.status_code == 200
    page = response.content.decode()
    assert "SMTPServerDisconnected: Connection unexpectedly closed" in page
    assert "7 days" in page and "1 day" in page
    assert [r.pk for r in unsent.context["cl"].result_list] == [failing.pk]
    assert [r.pk for r in delivered.context["cl"].result_list] == [sent.pk]
    assert of_meeting.context["cl"].result_count == 2
    assert not response.context["has_add_permission"]
    detail = admin_client.get(reverse("admin:meetings_reminderdelivery_change", args=[sent.pk]))
    assert detail.status_code == 200 and not detail.context["has_change_permission"]
    # To match a mail's Message-ID header to its row.
    assert f"reminder.{sent.message_id.hex}@" in detail.content.decode()
    delete = reverse("admin:meetings_reminderdelivery_delete", args=[sent.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    assert ReminderDelivery.objects.count() == 2


def test_calendar_tokens_show_only_their_first_characters(admin_client, alice):
    token = CalendarToken.objects.create(user=alice)

    listing = admin_client.get(reverse("admin:meetings_calendartoken_changelist"))
    detail = admin_client.get(reverse("admin:meetings_calendartoken_change", args=[token.pk]))

    for response in (listing, detail):
        page = response.content.decode()
        assert f"{token.token[:6]}…" in page
        assert token.token not in page


def test_rotating_a_calendar_token_invalidates_the_old_one(admin_client, alice):
    token = CalendarToken.objects.create(user=alice)
    old = token.token

    admin_client.post(
        reverse("admin:meetings_calendartoken_changelist"),
        {"action": "rotate", "_selected_action": [token.pk]},
    )

    token.refresh_from_db()
    assert token.token != old


def test_meeting_times_are_shown_in_seoul_time(admin_client, year_2027):
    response = admin_client.get(MEETINGS_URL, {"kind": MeetingKind.PERFORMANCE_BRIEFING})

    meeting = response.context["cl"].result_list[0]
    assert timezone.localtime(meeting.starts_at) == datetime(2027, 12, 15, 10, tzinfo=SEOUL)
    assert "10 a.m." in response.content.decode()


def test_cancelling_an_upcoming_meeting_in_admin_goes_through_the_service(admin_client, year_2027):
    meeting = Meeting.objects.get(schedule_key="vice_heads:2027-06")

    response = admin_client.post(
        reverse("admin:meetings_meeting_change", args=[meeting.pk]),
        _change_data(meeting, status=MeetingStatus.CANCELLED, location="온라인"),
    )

    assert response.status_code == 302
    meeting.refresh_from_db()
    assert meeting.status == MeetingStatus.CANCELLED
    assert meeting.cancelled_at is not None
    assert meeting.location == "온라인"  # the other changes are kept


def test_a_cancelled_meeting_cannot_be_restored_in_admin(admin_client, year_2027):
    meeting = Meeting.objects.get(schedule_key="vice_heads:2027-06")
    Meeting.objects.filter(pk=meeting.pk).update(status=MeetingStatus.CANCELLED)
    meeting.refresh_from_db()

    response = admin_client.post(
        reverse("admin:meetings_meeting_change", args=[meeting.pk]),
        _change_data(meeting, status=MeetingStatus.SCHEDULED),
    )

    assert response.status_code == 200
    meeting.refresh_from_db()
    assert meeting.status == MeetingStatus.CANCELLED


def test_retry_now_clears_a_reminders_backoff_but_never_touches_a_sent_one(admin_client, reminders):
    sent, failing = reminders
    ReminderDelivery.objects.filter(pk=failing.pk).update(
        next_attempt_at=failing.due_at + timedelta(hours=1)
    )

    response = admin_client.post(
        reverse("admin:meetings_reminderdelivery_changelist"),
        {"action": "retry_now", "_selected_action": [sent.pk, failing.pk]},
        follow=True,
        headers={"accept-language": "en"},
    )

    assert "1 message will be tried again by the sweep just queued." in response.content.decode()
    failing.refresh_from_db()
    sent.refresh_from_db()
    assert failing.next_attempt_at is None
    assert sent.sent_at is not None and sent.attempts == 1
