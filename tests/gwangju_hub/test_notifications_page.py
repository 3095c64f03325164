"""The bell and /notifications/ (gwangju_hub.notifications): issue notifications and
meeting reminders together, each re-checked against what the user may still see.

Issue-only behaviour (delivery, the issue section's details) is in
tests/issues/test_notifications.py.
"""

from datetime import datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from agencies.models import Agency, User
from issues import services
from issues.models import Issue, Notification
from meetings.models import (
    Meeting,
    MeetingKind,
    MeetingStatus,
    ReminderDelivery,
    ReminderNotice,
    ReminderPurpose,
)
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

SEOUL = ZoneInfo("Asia/Seoul")
DAY = timedelta(days=1)
# Far ahead, so the meetings are upcoming whenever the tests run.
T = datetime(2031, 2, 18, 14, 0, tzinfo=SEOUL)
MEETING = "제1차 부기관장 회의"
HIDDEN_MEETING = "가기관 단독 회의"
ISSUE = "도시철도 2호선 공정 점검"
HIDDEN_ISSUE = "비공개 현안"


def _meeting(title, invited, *, starts_at=T, kind=MeetingKind.VICE_HEADS, **fields):
    meeting = Meeting.objects.create(
        kind=kind,
        title=title,
        starts_at=starts_at,
        ends_at=starts_at + timedelta(hours=2),
        **fields,
    )
    meeting.invited_agencies.set(invited)
    return meeting


def _notice(user, meeting, purpose=ReminderPurpose.MEETING, offset=7 * DAY) -> ReminderNotice:
    delivery = ReminderDelivery.objects.create(
        meeting=meeting,
        purpose=purpose,
        recipient=user,
        offset=offset,
        due_at=meeting.starts_at - offset,
        sent_at=meeting.starts_at - offset,
    )
    return ReminderNotice.objects.create(recipient=user, delivery=delivery)


def _issue_notification(actor, lead_agency, user, title=ISSUE, **fields) -> Notification:
    issue = services.issue_create(actor=actor, lead_agency=lead_agency, title=title, **fields)
    return Notification.objects.create(recipient=user, event=issue.events.latest("id"))


@pytest.fixture
def bob_notified(alice, bob, agency_a, agency_b):
    """Bob (agency B): a reminder and an issue notification he may see, and one of each
    he may not (a meeting only agency A is invited to, a restricted issue of agency A)."""
    meeting = _meeting(MEETING, [agency_a, agency_b])
    hidden_meeting = _meeting(HIDDEN_MEETING, [agency_a])
    return SimpleNamespace(
        meeting=meeting,
        reminder=_notice(bob, meeting),
        hidden_reminder=_notice(bob, hidden_meeting),
        notification=_issue_notification(alice, agency_a, bob),
        hidden_notification=_issue_notification(
            alice, agency_a, bob, title=HIDDEN_ISSUE, visibility="restricted"
        ),
    )


def _bell(client) -> str:
    page = client.get(reverse("issues:list")).content.decode()
    return page.split('class="notification-bell"', 1)[1].split("</a>", 1)[0]


def _page(client) -> str:
    response = client.get(reverse("notifications:list"), headers={"accept-language": "en"})
    assert response.status_code == 200
    return response.content.decode()


# --- the bell --------------------------------------------------------------------------


def test_the_bell_counts_reminders_and_issue_notifications_the_user_may_see(
    client, bob, bob_notified
):
    client.force_login(bob)

    assert ">2<" in _bell(client)


def test_the_bell_counts_reminders_alone(client, bob, agency_b):
    _notice(bob, _meeting(MEETING, [agency_b]))
    client.force_login(bob)

    assert ">1<" in _bell(client)


def test_the_bell_counts_nothing_hidden(client, bob, bob_notified):
    bob_notified.reminder.delete()
    bob_notified.notification.delete()
    client.force_login(bob)

    assert "badge" not in _bell(client)


def test_the_bell_costs_one_query_and_only_when_shown(rf, bob, bob_notified):
    from gwangju_hub.context_processors import notifications

    request = rf.get("/")
    request.user = bob
    with CaptureQueriesContext(connection) as queries:
        context = notifications(request)
    assert len(queries) == 0

    with CaptureQueriesContext(connection) as queries:
        assert context["unread_notifications"] == 2
    assert len(queries) == 1


def test_each_person_sees_their_own_through_queries_compiled_once(
    client, alice, bob, carol, hana, minji, agency_a, agency_b, agency_c
):
    """The bell's and the page's queries are compiled once per shape of person
    (User.visibility_shape) and run with each person's ids: people of one
    shape, asked one after the other, still each see exactly their own."""
    from gwangju_hub.notifications import (
        issue_notifications_for,
        reminder_notices_for,
        unread_count,
    )

    root = UserFactory(username="root", agency=None, is_superuser=True)
    unplaced = UserFactory(username="unplaced", agency=None)
    people = [bob, carol, hana, minji, root, unplaced]
    for person in people:
        _issue_notification(alice, agency_a, person)
        _issue_notification(alice, agency_a, person, title=HIDDEN_ISSUE, visibility="restricted")
        if person.agency is not None:
            _issue_notification(
                person, person.agency, person, title="자기 기관 비공개", visibility="restricted"
            )
        _notice(person, _meeting(MEETING, [agency_b]))
        _notice(person, _meeting(HIDDEN_MEETING, [agency_c]))

    for person in people:
        expected = (
            issue_notifications_for(person).filter(read_at=None).count()
            + reminder_notices_for(person).filter(read_at=None).count()
        )
        assert unread_count(person) == expected, person.username

        client.force_login(person)
        context = client.get(reverse("notifications:list")).context
        assert [n.pk for n in context["page"].object_list] == list(
            issue_notifications_for(person).values_list("pk", flat=True)
        ), person.username
        assert sorted(n.pk for n in context["reminders"]) == sorted(
            reminder_notices_for(person).values_list("pk", flat=True)
        ), person.username

    # What each shape sees, spelled out: a mistake above would be the same on both sides.
    assert [unread_count(p) for p in people] == [3, 3, 3, 5, 4, 0]


# --- the page --------------------------------------------------------------------------


def test_the_page_lists_both_kinds(client, bob, bob_notified):
    client.force_login(bob)

    page = _page(client)

    assert "Meeting reminders" in page
    assert "Issue notifications" in page
    assert MEETING in page
    assert reverse("notifications:reminder", args=[bob_notified.reminder.pk]) in page
    assert "D-7" in page
    assert "2031-02-18" in page
    assert ISSUE in page
    assert reverse("notifications:open", args=[bob_notified.notification.pk]) in page
    assert page.count("New</span>") == 2
    assert "Mark all as read" in page


def test_the_page_shows_no_hidden_meeting_or_issue(client, bob, bob_notified):
    client.force_login(bob)

    page = _page(client)

    assert HIDDEN_MEETING not in page
    assert reverse("notifications:reminder", args=[bob_notified.hidden_reminder.pk]) not in page
    assert HIDDEN_ISSUE not in page


def test_the_page_names_each_purpose(client, hana, agency_a):
    briefing = _meeting(
        "성과보고회", [agency_a], kind=MeetingKind.PERFORMANCE_BRIEFING, starts_at=T + 30 * DAY
    )
    _notice(hana, briefing, ReminderPurpose.REPORT_DEADLINE, offset=3 * DAY)
    cancelled = _meeting(
        "취소된 회의", [agency_a], starts_at=T + DAY, status=MeetingStatus.CANCELLED
    )
    _notice(hana, cancelled, ReminderPurpose.CANCELLATION, offset=timedelta(0))
    _notice(hana, _meeting(MEETING, [agency_a]), offset=DAY)
    client.force_login(hana)

    page = _page(client)

    assert "Performance report deadline" in page
    assert "D-3" in page
    assert "Meeting cancelled" in page
    assert "Meeting reminder" in page
    assert "D-1" in page


def test_the_page_is_translated(client, bob, bob_notified):
    client.force_login(bob)

    page = client.get(reverse("notifications:list"), headers={"accept-language": "ko"})

    assert "회의 알림" in page.content.decode()


def test_the_page_shows_read_notices_without_the_new_badge(client, bob, bob_notified):
    client.force_login(bob)
    client.post(reverse("notifications:read_all"))

    page = _page(client)

    assert MEETING in page
    assert ISSUE in page
    assert "New</span>" not in page
    assert "Mark all as read" not in page


def test_the_page_shows_empty_sections(client, carol):
    client.force_login(carol)

    page = _page(client)

    assert "No meeting reminders yet." in page
    assert "No issue notifications yet." in page


@pytest.mark.parametrize("size", [1, 8])
def test_the_page_query_count_does_not_grow(
    client, alice, bob, agency_a, agency_b, size, django_assert_num_queries
):
    for n in range(size):
        meeting = _meeting(f"{MEETING} {n}", [agency_a, agency_b], starts_at=T + n * DAY)
        _notice(bob, meeting)
        _notice(bob, meeting, offset=DAY)
        _issue_notification(alice, agency_a, bob, title=f"{ISSUE} {n}")
    client.force_login(bob)

    # Session, user (with their organization, for the header); reminders; issue
    # notifications (count, page); the bell (one).
    with django_assert_num_queries(6):
        response = client.get(reverse("notifications:list"))

    assert response.content.decode().count("notification-item") == 3 * size


# --- opening ---------------------------------------------------------------------------


def test_opening_a_reminder_marks_it_read_and_goes_to_the_meeting(client, bob, bob_notified):
    client.force_login(bob)

    response = client.get(reverse("notifications:reminder", args=[bob_notified.reminder.pk]))

    assert response.status_code == 302
    assert response["Location"] == bob_notified.meeting.get_absolute_url()
    bob_notified.reminder.refresh_from_db()
    assert bob_notified.reminder.read_at is not None
    assert ">1<" in _bell(client)


def test_opening_an_issue_notification_marks_it_read_and_goes_to_the_issue(
    client, bob, bob_notified
):
    client.force_login(bob)

    response = client.get(reverse("notifications:open", args=[bob_notified.notification.pk]))

    assert response.status_code == 302
    assert response["Location"] == bob_notified.notification.event.issue.get_absolute_url()
    bob_notified.notification.refresh_from_db()
    assert bob_notified.notification.read_at is not None
    assert ">1<" in _bell(client)


def test_opening_it_again_keeps_the_first_read_time(client, bob, bob_notified):
    client.force_login(bob)
    url = reverse("notifications:reminder", args=[bob_notified.reminder.pk])
    client.get(url)
    bob_notified.reminder.refresh_from_db()
    first = bob_notified.reminder.read_at

    assert client.get(url).status_code == 302
    bob_notified.reminder.refresh_from_db()
    assert bob_notified.reminder.read_at == first


def test_another_users_ids_are_404(client, carol, bob_notified):
    client.force_login(carol)

    for url in (
        reverse("notifications:reminder", args=[bob_notified.reminder.pk]),
        reverse("notifications:open", args=[bob_notified.notification.pk]),
    ):
        assert client.get(url).status_code == 404
    bob_notified.reminder.refresh_from_db()
    bob_notified.notification.refresh_from_db()
    assert bob_notified.reminder.read_at is None
    assert bob_notified.notification.read_at is None


def test_a_reminder_of_a_meeting_no_longer_visible_is_404(client, bob, bob_notified, agency_a):
    bob_notified.meeting.invited_agencies.set([agency_a])  # agency B uninvited
    client.force_login(bob)

    response = client.get(reverse("notifications:reminder", args=[bob_notified.reminder.pk]))

    assert response.status_code == 404
    bob_notified.reminder.refresh_from_db()
    assert bob_notified.reminder.read_at is None
    assert MEETING not in _page(client)


def test_the_mayors_office_opens_a_reminder_of_any_meeting(client, minji, agency_a):
    notice = _notice(minji, _meeting(MEETING, [agency_a]))
    client.force_login(minji)

    response = client.get(reverse("notifications:reminder", args=[notice.pk]))

    assert response.status_code == 302


def test_notifications_require_login(client, bob_notified):
    for url in (
        reverse("notifications:list"),
        reverse("notifications:reminder", args=[bob_notified.reminder.pk]),
        reverse("notifications:open", args=[bob_notified.notification.pk]),
    ):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")


# --- mark all read ---------------------------------------------------------------------


def test_mark_all_read_marks_both_kinds(client, bob, bob_notified):
    client.force_login(bob)

    response = client.post(reverse("notifications:read_all"))

    assert response.status_code == 302
    assert response["Location"] == reverse("notifications:list")
    assert not ReminderNotice.objects.filter(recipient=bob, read_at=None).exists()
    assert not Notification.objects.filter(recipient=bob, read_at=None).exists()
    assert "badge" not in _bell(client)


def test_mark_all_read_leaves_other_users_alone(client, bob, carol, agency_c, bob_notified):
    notice = _notice(carol, _meeting("다기관 회의", [agency_c]))
    client.force_login(bob)

    client.post(reverse("notifications:read_all"))

    notice.refresh_from_db()
    assert notice.read_at is None


def test_mark_all_read_requires_post(client, bob, bob_notified):
    client.force_login(bob)

    assert client.get(reverse("notifications:read_all")).status_code == 405
    assert ReminderNotice.objects.filter(recipient=bob, read_at=None).count() == 2


# --- a line is kept rendered under a key of what it shows (gwangju_hub.notifications.Line.key)


def _line(client, notification) -> str:
    html = _page(client)
    start = html.index(reverse("notifications:open", args=[notification.pk]))
    return html[start : html.index("</li>", start)]


def _rename_issue(n, alice):
    Issue.objects.filter(pk=n.event.issue_id).update(title="새 현안 제목")


def _mark_read(n, alice):
    Notification.objects.filter(pk=n.pk).update(read_at=T)


def _rename_actor(n, alice):
    User.objects.filter(pk=alice.pk).update(first_name="새이름", last_name="김")


def _rename_agency(n, alice):
    Agency.objects.filter(pk=n.event.agency_id).update(name_en="Renamed Agency")


LINE_CHANGES = {
    "issue title": (_rename_issue, "새 현안 제목", True),
    "read": (_mark_read, ">New<", False),
    "actor's name": (_rename_actor, "새이름 김", True),
    "organization's name": (_rename_agency, "Renamed Agency", True),
}


@pytest.mark.parametrize("change", LINE_CHANGES)
def test_a_kept_line_shows_every_change_at_once(client, alice, bob, agency_a, agency_b, change):
    issue = services.issue_create(
        actor=alice, lead_agency=agency_a, title=ISSUE, cooperating_agencies=[agency_b]
    )
    event = issue.events.get(kind="cooperation_requested")
    notification = Notification.objects.get(recipient=bob, event=event)  # filed with the issue
    client.force_login(bob)
    apply, text, shown_after = LINE_CHANGES[change]
    assert (text in _line(client, notification)) is not shown_after

    apply(notification, alice)

    assert (text in _line(client, notification)) is shown_after
