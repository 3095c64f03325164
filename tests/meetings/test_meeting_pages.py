"""The meeting pages: who sees and does what, what the pages show, and their query counts.

Agencies A (Alice staff, Victor vice-head, Hana head) and B (Bob staff) are
invited; agency C (Carol) is not; Minji works in the Mayor's office.
"""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from issues import services as issue_services
from meetings.models import (
    AgendaItem,
    AgendaItemStatus,
    CalendarToken,
    Meeting,
    MeetingKind,
    MeetingStatus,
)
from tests.factories import AgencyFactory

pytestmark = pytest.mark.django_db

ALLOWED = "allowed"
FORBIDDEN = "forbidden"  # sees the meeting, may not do this: 403
MISSING = "missing"  # the meeting does not exist for them: 404 / absent

STAFF_A = {
    "list": ALLOWED, "detail": ALLOWED, "print": ALLOWED, "propose": FORBIDDEN,
    "accept": FORBIDDEN, "move": FORBIDDEN, "decide": FORBIDDEN, "add": FORBIDDEN,
    "minutes": FORBIDDEN, "cancel": FORBIDDEN, "report_view": ALLOWED,
    "report_draft": ALLOWED, "report_submit": FORBIDDEN, "feed": ALLOWED,
}  # fmt: skip
VICE_HEAD_A = {**STAFF_A, "propose": ALLOWED}
HEAD_A = {**VICE_HEAD_A, "report_submit": ALLOWED}
STAFF_B = {**STAFF_A, "report_draft": FORBIDDEN}
UNINVITED_C = {
    **dict.fromkeys(STAFF_A, MISSING),
    "report_view": ALLOWED, "report_draft": FORBIDDEN, "report_submit": FORBIDDEN,
}  # fmt: skip
MAYOR = {
    **dict.fromkeys(STAFF_A, ALLOWED),
    "propose": FORBIDDEN, "report_draft": FORBIDDEN, "report_submit": FORBIDDEN,
}  # fmt: skip
EXPECTED = {
    "alice": STAFF_A,
    "victor": VICE_HEAD_A,
    "hana": HEAD_A,
    "bob": STAFF_B,
    "carol": UNINVITED_C,
    "minji": MAYOR,
}
CASES = [
    (persona, action, outcome)
    for persona, actions in EXPECTED.items()
    for action, outcome in actions.items()
]
YEAR = 2026


@pytest.fixture
def meetings(make_meeting, agency_a, agency_b, alice, bob):
    """An upcoming meeting with a proposed and an accepted item, and one held yesterday."""
    upcoming = make_meeting(
        starts_at=timezone.now() + timedelta(days=10),
        invited=[agency_a, agency_b],
        title="제4차 부기관장 회의",
    )
    held = make_meeting(
        starts_at=timezone.now() - timedelta(days=1),
        invited=[agency_a, agency_b],
        title="제3차 부기관장 회의",
    )
    issue = issue_services.issue_create(
        actor=alice,
        title="도시철도 환승 할인 협의",
        lead_agency=agency_a,
        cooperating_agencies=[agency_b],
    )
    other = issue_services.issue_create(actor=bob, title="공동 홍보", lead_agency=agency_b)
    proposed = AgendaItem.objects.create(
        meeting=upcoming, issue=other, title=other.title, presenting_agency=agency_b, order=1
    )
    accepted = AgendaItem.objects.create(
        meeting=upcoming,
        title="혁신 사례 발표",
        presenting_agency=agency_a,
        order=2,
        status=AgendaItemStatus.ACCEPTED,
        kind="innovation_case",
    )
    return {
        "upcoming": upcoming,
        "held": held,
        "issue": issue,
        "proposed": proposed,
        "accepted": accepted,
    }


def _status(response) -> str:
    if response.status_code == 404:
        return MISSING
    if response.status_code == 403:
        return FORBIDDEN
    assert response.status_code in (200, 302), response.status_code
    return ALLOWED


def perform(action: str, client, user, data) -> str:
    upcoming, proposed, accepted = data["upcoming"], data["proposed"], data["accepted"]
    item_url = lambda name, item: reverse(name, args=[upcoming.pk, item.pk])  # noqa: E731
    if action == "list":
        response = client.get(reverse("meetings:list"))
        assert response.status_code == 200
        return ALLOWED if upcoming.title in response.content.decode() else MISSING
    if action == "detail":
        return _status(client.get(upcoming.get_absolute_url()))
    if action == "print":
        return _status(client.get(reverse("meetings:print", args=[upcoming.pk])))
    if action == "propose":
        return _status(
            client.post(
                reverse("meetings:agenda_propose"),
                {"issue": data["issue"].pk, "meeting": upcoming.pk},
            )
        )
    if action == "accept":
        return _status(client.post(item_url("meetings:agenda_accept", proposed)))
    if action == "move":
        return _status(client.post(item_url("meetings:agenda_move", accepted), {"direction": "up"}))
    if action == "decide":
        return _status(
            client.post(
                item_url("meetings:agenda_decide", accepted),
                {f"d{accepted.pk}-decision": "원안 의결"},
            )
        )
    if action == "add":
        return _status(
            client.post(
                reverse("meetings:agenda_add", args=[upcoming.pk]),
                {
                    "title": "기타",
                    "kind": "other",
                    "presenting_agency": accepted.presenting_agency_id,
                },
            )
        )
    if action == "minutes":
        return _status(
            client.post(reverse("meetings:minutes", args=[data["held"].pk]), {"minutes": "회의록"})
        )
    if action == "cancel":
        return _status(
            client.post(reverse("meetings:cancel", args=[upcoming.pk]), {"confirm": "on"})
        )
    report_url = reverse("performance:report", args=[YEAR, "agency-a"])
    if action == "report_view":
        return _status(client.get(report_url))
    if action in ("report_draft", "report_submit"):
        submit = action == "report_submit"
        return _status(
            client.post(
                report_url,
                {"summary": "요약", "version": 0, "action": "submit" if submit else "draft"},
            )
        )
    if action == "feed":
        token = CalendarToken.objects.create(user=user)
        response = client.get(reverse("meetings:calendar"), {"token": token.token})
        assert response.status_code == 200
        return ALLOWED if f"meeting-{upcoming.pk}@" in response.content.decode() else MISSING
    raise AssertionError(action)


@pytest.mark.parametrize(("persona", "action", "outcome"), CASES)
def test_permission_matrix(request, client, meetings, agency_a, persona, action, outcome):
    user = request.getfixturevalue(persona)
    client.force_login(user)
    assert perform(action, client, user, meetings) == outcome


def test_anonymous_users_are_sent_to_login(client, meetings):
    for url in (
        reverse("meetings:list"),
        meetings["upcoming"].get_absolute_url(),
        reverse("performance:overview", args=[YEAR]),
    ):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


# --- /meetings/ -------------------------------------------------------------------


def test_the_list_shows_upcoming_first_then_past_with_minutes_and_cancelled_marked(
    client, make_meeting, agency_a, alice
):
    now = timezone.now()
    later = make_meeting(starts_at=now + timedelta(days=20), invited=[agency_a], title="나중 회의")
    sooner = make_meeting(starts_at=now + timedelta(days=2), invited=[agency_a], title="다음 회의")
    past = make_meeting(
        starts_at=now - timedelta(days=30),
        invited=[agency_a],
        title="지난 회의",
        minutes="## 결과",
        status=MeetingStatus.HELD,
    )
    cancelled = make_meeting(
        starts_at=now + timedelta(days=5),
        invited=[agency_a],
        title="취소된 회의",
        status=MeetingStatus.CANCELLED,
    )
    client.force_login(alice)

    html = client.get(reverse("meetings:list"), headers={"accept-language": "en"}).content.decode()

    positions = [html.index(m.title) for m in (sooner, later, cancelled, past)]
    assert positions == sorted(positions)
    assert html.index("Upcoming meetings") < positions[0]
    assert html.index("Past and cancelled meetings") < positions[2]
    assert f'href="{past.get_absolute_url()}#minutes"' in html
    cancelled_card = html[positions[2] : positions[3]]
    assert "Cancelled" in cancelled_card


def test_a_user_creates_and_renews_their_calendar_address(client, alice):
    client.force_login(alice)
    url = reverse("meetings:calendar_token")

    assert client.post(url, {"action": "rotate"}).status_code == 302
    first = CalendarToken.objects.get(user=alice).token
    page = client.get(reverse("meetings:list")).content.decode()
    assert f"calendar.ics?token={first}" in page
    assert 'for="calendar-feed-url"' in page

    response = client.post(url, {"action": "rotate"}, headers={"hx-request": "true"})
    assert response.status_code == 200
    second = CalendarToken.objects.get(user=alice).token
    assert second != first
    assert f"token={second}" in response.content.decode()
    assert 'id="calendar-feed"' in response.content.decode()

    client.post(url, {"action": "revoke"})
    assert not CalendarToken.objects.filter(user=alice).exists()


# --- /meetings/<id>/ ------------------------------------------------------------------


def test_the_detail_page_shows_time_in_seoul_place_chair_invitees_and_agenda(
    client, make_meeting, agency_a, agency_b, alice, minji
):
    meeting = make_meeting(
        starts_at=datetime(2030, 3, 21, 5, 0, tzinfo=UTC),  # 14:00 in Seoul
        invited=[agency_a, agency_b],
        title="2030년 제1차 부기관장 회의",
        location="시청 3층 중회의실",
        chair="행정부시장",
    )
    issue = issue_services.issue_create(actor=alice, title="환승 할인 협의", lead_agency=agency_a)
    AgendaItem.objects.create(
        meeting=meeting,
        issue=issue,
        title=issue.title,
        presenting_agency=agency_a,
        status=AgendaItemStatus.ACCEPTED,
        decision="원안 의결",
    )
    client.force_login(alice)

    html = client.get(meeting.get_absolute_url(), headers={"accept-language": "en"}).content
    html = html.decode()

    assert "Vice-heads&#x27; meeting" in html or "Vice-heads' meeting" in html
    assert "2030-03-21" in html and "14:00" in html and "16:00" in html
    assert "시청 3층 중회의실" in html and "행정부시장" in html
    assert "Agency A" in html and "Agency B" in html
    assert f'href="{issue.get_absolute_url()}"' in html
    assert ">Open<" in html  # the issue's current status
    assert "원안 의결" in html
    assert "agenda_accept" not in html and "Record decision" not in html  # staff: no controls


def test_agenda_items_about_issues_the_user_may_not_read_are_hidden(
    client, make_meeting, agency_a, agency_b, alice, bob, minji
):
    meeting = make_meeting(
        starts_at=timezone.now() + timedelta(days=3), invited=[agency_a, agency_b]
    )
    secret = issue_services.issue_create(
        actor=alice, title="비공개 예산 협의", lead_agency=agency_a, visibility="restricted"
    )
    AgendaItem.objects.create(
        meeting=meeting,
        issue=secret,
        title=secret.title,
        presenting_agency=agency_a,
        status=AgendaItemStatus.ACCEPTED,
    )
    english = {"accept-language": "en"}
    client.force_login(bob)
    assert "비공개 예산 협의" not in client.get(meeting.get_absolute_url()).content.decode()
    assert (
        "0 agenda items" in client.get(reverse("meetings:list"), headers=english).content.decode()
    )
    client.force_login(minji)
    assert "비공개 예산 협의" in client.get(meeting.get_absolute_url()).content.decode()
    assert (
        "1 agenda item<" in client.get(reverse("meetings:list"), headers=english).content.decode()
    )


def test_accepting_with_htmx_returns_the_agenda_fragment_and_an_event(client, meetings, minji):
    client.force_login(minji)
    proposed = meetings["proposed"]
    response = client.post(
        reverse("meetings:agenda_accept", args=[meetings["upcoming"].pk, proposed.pk]),
        headers={"hx-request": "true"},
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="agenda"')
    proposed.refresh_from_db()
    assert proposed.status == AgendaItemStatus.ACCEPTED


def test_accepting_without_htmx_redirects_to_the_agenda(client, meetings, minji):
    client.force_login(minji)
    upcoming = meetings["upcoming"]
    response = client.post(
        reverse("meetings:agenda_accept", args=[upcoming.pk, meetings["proposed"].pk])
    )
    assert response.status_code == 302
    assert response["Location"] == upcoming.get_absolute_url() + "#agenda"


def test_move_buttons_reorder_the_agenda(client, meetings, minji):
    client.force_login(minji)
    upcoming, accepted = meetings["upcoming"], meetings["accepted"]
    client.post(
        reverse("meetings:agenda_move", args=[upcoming.pk, accepted.pk]), {"direction": "up"}
    )
    assert list(upcoming.agenda_items.values_list("pk", flat=True)) == [
        accepted.pk,
        meetings["proposed"].pk,
    ]
    bad = client.post(
        reverse("meetings:agenda_move", args=[upcoming.pk, accepted.pk]), {"direction": "left"}
    )
    assert bad.status_code == 400


def test_a_decision_with_a_past_follow_up_date_is_refused_in_the_fragment(
    client, meetings, minji, time_machine
):
    client.force_login(minji)
    upcoming, accepted = meetings["upcoming"], meetings["accepted"]
    time_machine.move_to(upcoming.starts_at + timedelta(hours=1))
    client.force_login(minji)  # a new session: the old one ended with the jump in time
    response = client.post(
        reverse("meetings:agenda_decide", args=[upcoming.pk, accepted.pk]),
        {f"d{accepted.pk}-decision": "결정", f"d{accepted.pk}-follow_up_due": "2001-01-01"},
        headers={"hx-request": "true", "accept-language": "en"},
    )
    assert response.status_code == 200
    html = response.content.decode()
    error = f'<p class="form-hint-invalid" id="id_d{accepted.pk}-follow_up_due_error">'
    assert error + "The follow-up date cannot be in the past.</p>" in html
    assert f'id_d{accepted.pk}-follow_up_due_error" id="id_d{accepted.pk}-follow_up_due">' in html
    accepted.refresh_from_db()
    assert accepted.decision == ""


def test_the_decision_form_is_offered_only_once_the_meeting_has_started(
    client, meetings, minji, time_machine
):
    upcoming, accepted = meetings["upcoming"], meetings["accepted"]
    client.force_login(minji)
    english = {"accept-language": "en"}

    before = client.get(upcoming.get_absolute_url(), headers=english).content.decode()
    time_machine.move_to(upcoming.starts_at + timedelta(minutes=1))
    client.force_login(minji)  # a new session: the old one ended with the jump in time
    after = client.get(upcoming.get_absolute_url(), headers=english).content.decode()

    decide = reverse("meetings:agenda_decide", args=[upcoming.pk, accepted.pk])
    assert decide not in before and "Record the decision" not in before
    assert "Decisions can be recorded once the meeting has started." in before
    assert decide in after and "Record the decision" in after
    assert "Decisions can be recorded once the meeting has started." not in after


@pytest.mark.parametrize("htmx", [True, False])
def test_a_decision_posted_before_the_start_is_refused_with_a_visible_message(
    client, meetings, minji, htmx
):
    upcoming, accepted = meetings["upcoming"], meetings["accepted"]
    client.force_login(minji)
    headers = {"accept-language": "en"} | ({"hx-request": "true"} if htmx else {})

    response = client.post(
        reverse("meetings:agenda_decide", args=[upcoming.pk, accepted.pk]),
        {f"d{accepted.pk}-decision": "미리 정한 결론"},
        headers=headers,
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert (
        '<p class="form-hint-invalid" role="alert">'
        "Decisions can be recorded once the meeting has started.</p>" in html
    )
    assert "미리 정한 결론" in html  # what was typed is kept
    accepted.refresh_from_db()
    assert (accepted.decision, accepted.decided_at) == ("", None)


def test_the_mayors_office_records_minutes_rendered_as_markdown(client, meetings, minji, alice):
    held = meetings["held"]
    client.force_login(minji)
    client.post(
        reverse("meetings:minutes", args=[held.pk]), {"minutes": "## 결과\n\n**원안** 의결"}
    )
    client.force_login(alice)
    html = client.get(held.get_absolute_url()).content.decode()
    assert "<strong>원안</strong>" in html


def test_the_minutes_record_which_invited_organizations_were_present(
    client, meetings, minji, agency_a, agency_b, agency_c
):
    held = meetings["held"]
    client.force_login(minji)

    client.post(
        reverse("meetings:minutes", args=[held.pk]),
        {"minutes": "회의 결과", "attended_agencies": [agency_a.pk]},
    )
    # Agency C was not invited: it cannot have been present.
    refused = client.post(
        reverse("meetings:minutes", args=[held.pk]),
        {"minutes": "회의 결과", "attended_agencies": [agency_c.pk]},
    )

    assert refused.status_code == 200 and refused.context["minutes_form"].errors
    assert list(held.attended_agencies.all()) == [agency_a]
    # The refusal is said next to the choices, and the group points at it.
    refused_html = refused.content.decode()
    assert 'aria-describedby="id_attended_agencies_error"' in refused_html
    assert (
        '<p class="form-hint-invalid" id="id_attended_agencies_error">'
        "초청된 기관만 참석 기관으로 기록할 수 있습니다.</p>" in refused_html
    )
    html = client.get(held.get_absolute_url(), headers={"accept-language": "en"}).content.decode()
    assert "1 organization present" in html
    assert "Present" in html and "Absent" in html


def test_the_minutes_fragment_shows_why_an_uninvited_organization_was_refused(
    client, meetings, minji, agency_c
):
    held = meetings["held"]
    client.force_login(minji)

    response = client.post(
        reverse("meetings:minutes", args=[held.pk]),
        {"minutes": "회의 결과", "attended_agencies": [agency_c.pk]},
        headers={"hx-request": "true", "accept-language": "en"},
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<section id="minutes"')
    fieldset = html[html.index('<fieldset class="attendance-field has-error"') :]
    fieldset = fieldset[: fieldset.index("</fieldset>")]
    assert 'aria-describedby="id_attended_agencies_error"' in fieldset
    assert 'id="id_attended_agencies_error">Only invited organizations can have been present.<' in (
        fieldset
    )
    assert "회의 결과" in html  # the minutes typed are kept
    held.refresh_from_db()
    assert held.minutes == "" and not held.attended_agencies.exists()


def test_the_cancel_confirmation_error_is_next_to_the_box_and_tied_to_it(client, meetings, minji):
    client.force_login(minji)
    upcoming = meetings["upcoming"]

    response = client.post(
        reverse("meetings:cancel", args=[upcoming.pk]), headers={"accept-language": "en"}
    )

    html = response.content.decode()
    assert 'aria-describedby="id_confirm_error"' in html
    assert '<p class="form-hint-invalid" id="id_confirm_error">This field is required.</p>' in html


def test_an_item_of_another_meeting_is_a_404(client, meetings, make_meeting, agency_a, minji):
    other = make_meeting(starts_at=timezone.now() + timedelta(days=3), invited=[agency_a])
    client.force_login(minji)
    response = client.post(
        reverse("meetings:agenda_accept", args=[other.pk, meetings["proposed"].pk])
    )
    assert response.status_code == 404


def test_the_printable_agenda_lists_accepted_items_on_a4(client, meetings, alice):
    client.force_login(alice)
    html = client.get(reverse("meetings:print", args=[meetings["upcoming"].pk])).content.decode()
    assert "혁신 사례 발표" in html
    assert "공동 홍보" not in html  # still only proposed
    assert "css/meetings.css" in html
    css = (Path(settings.BASE_DIR) / "static/css/meetings.css").read_text()
    assert "@page { size: A4" in css


# --- query counts -------------------------------------------------------------------------


def _populate(make_meeting, agencies, author, size: int) -> Meeting:
    now = timezone.now()
    for n in range(size):
        make_meeting(starts_at=now + timedelta(days=n + 1), invited=agencies, title=f"다음 {n}")
        make_meeting(
            starts_at=now - timedelta(days=n + 1),
            invited=agencies,
            title=f"지난 {n}",
            minutes="회의록",
        )
    meeting = Meeting.objects.filter(title="다음 0").get()
    for n in range(size):
        issue = issue_services.issue_create(
            actor=author, title=f"현안 {n}", lead_agency=agencies[0]
        )
        AgendaItem.objects.create(
            meeting=meeting,
            issue=issue,
            title=issue.title,
            presenting_agency=agencies[n % len(agencies)],
            order=n,
            status=AgendaItemStatus.ACCEPTED if n % 2 else AgendaItemStatus.PROPOSED,
            decision="결정" if n % 2 else "",
        )
    return meeting


@pytest.mark.parametrize("persona", ["alice", "minji"])
@pytest.mark.parametrize("size", [2, 12])
def test_meeting_pages_take_a_constant_number_of_queries(
    request, client, make_meeting, agency_a, alice, persona, size, django_assert_num_queries
):
    agencies = [agency_a, *(AgencyFactory() for _ in range(size))]
    meeting = _populate(make_meeting, agencies, alice, size)
    user = request.getfixturevalue(persona)
    client.force_login(user)

    # session, user (with their agency, for the header), the unread bell (one count),
    # calendar token, upcoming meetings, past count, one page of past meetings.
    with django_assert_num_queries(7):
        assert client.get(reverse("meetings:list")).status_code == 200
    # session, user (with agency), bell (one), meeting, invited agencies, organizations
    # present, agenda items (with issues); the Mayor's office also gets the
    # agency choices of "add an item".
    with django_assert_num_queries(8 if persona == "minji" else 7):
        assert client.get(meeting.get_absolute_url()).status_code == 200


def test_meeting_kinds_are_shown_in_english_and_korean(client, make_meeting, agency_a, alice):
    meeting = make_meeting(
        starts_at=timezone.now() + timedelta(days=1),
        invited=[agency_a],
        kind=MeetingKind.PERFORMANCE_BRIEFING,
    )
    client.force_login(alice)
    html = client.get(meeting.get_absolute_url(), headers={"accept-language": "en"}).content
    assert "Performance briefing" in html.decode()


def test_cancelling_needs_the_confirmation_box_and_then_marks_the_meeting(client, meetings, minji):
    client.force_login(minji)
    upcoming = meetings["upcoming"]
    url = reverse("meetings:cancel", args=[upcoming.pk])

    assert client.post(url).status_code == 200
    upcoming.refresh_from_db()
    assert upcoming.status == MeetingStatus.SCHEDULED

    response = client.post(url, {"confirm": "on"}, follow=True, headers={"accept-language": "en"})
    upcoming.refresh_from_db()
    assert upcoming.status == MeetingStatus.CANCELLED
    assert "This meeting was cancelled" in response.content.decode()
    assert 'id="cancel"' not in response.content.decode()  # nothing left to cancel


def test_an_account_without_an_agency_sees_no_meetings(make_meeting, db):
    from agencies.models import Role
    from meetings.models import Meeting
    from tests.factories import UserFactory

    make_meeting(starts_at=timezone.now() + timedelta(days=3), invited=[])  # nobody invited yet
    unplaced = UserFactory(username="unplaced", agency=None, role=Role.VICE_HEAD)

    assert not Meeting.objects.for_user(unplaced).exists()
