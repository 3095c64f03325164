"""Agendas: heads propose their issues, the Mayor's office runs the agenda, decisions
reach the issue's timeline, and the issue page shows "on the agenda of …".

Agencies A and B are invited to the meetings; agency C is not.
"""

from datetime import date, timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone, translation

from issues import services as issue_services
from issues.models import Event, EventKind, Issue
from meetings import services
from meetings.models import AgendaItem, AgendaItemKind, AgendaItemStatus, MeetingStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def upcoming(make_meeting, agency_a, agency_b):
    return make_meeting(starts_at=timezone.now() + timedelta(days=10), invited=[agency_a, agency_b])


@pytest.fixture
def issue(alice, bob):
    return issue_services.issue_create(
        actor=alice,
        title="도시철도 환승 할인 협의",
        lead_agency=alice.agency,
        cooperating_agencies=[bob.agency],
    )


@pytest.fixture
def proposed(upcoming, issue, victor):
    return services.agenda_item_propose(meeting=upcoming, issue=issue, actor=victor)


@pytest.fixture
def start_meeting(time_machine, upcoming):
    """``start_meeting()``: move the clock to five minutes after the upcoming meeting began.

    Proposals need a meeting ahead; decisions one that has started.
    """

    def start():
        time_machine.move_to(upcoming.starts_at + timedelta(minutes=5))

    return start


def _item(meeting, title, order, **fields):
    fields.setdefault("presenting_agency", meeting.invited_agencies.first())
    fields.setdefault("status", AgendaItemStatus.ACCEPTED)
    return AgendaItem.objects.create(meeting=meeting, title=title, order=order, **fields)


# --- proposing ------------------------------------------------------------------


def test_a_vice_head_proposes_an_issue_and_it_takes_the_issues_title_and_lead_agency(
    upcoming, issue, victor, agency_a
):
    item = services.agenda_item_propose(meeting=upcoming, issue=issue, actor=victor)

    assert item.title == issue.title
    assert item.presenting_agency == agency_a
    assert item.kind == AgendaItemKind.ISSUE_REVIEW
    assert item.status == AgendaItemStatus.PROPOSED
    assert item.proposed_by == victor
    assert item.order == 1


def test_a_head_may_propose_too_and_new_items_go_last(upcoming, issue, hana, alice):
    other = issue_services.issue_create(actor=alice, title="둘째 현안", lead_agency=alice.agency)
    services.agenda_item_propose(meeting=upcoming, issue=issue, actor=hana)
    second = services.agenda_item_propose(meeting=upcoming, issue=other, actor=hana)
    assert second.order == 2


def test_an_issue_is_on_a_meetings_agenda_only_once(proposed, upcoming, issue, hana):
    with translation.override("en"), pytest.raises(ValidationError, match="already on that agenda"):
        services.agenda_item_propose(meeting=upcoming, issue=issue, actor=hana)
    assert AgendaItem.objects.count() == 1


def test_an_issue_the_mayors_office_removed_cannot_be_proposed_again(
    proposed, upcoming, issue, hana, minji
):
    services.agenda_item_remove(item=proposed, actor=minji)
    with translation.override("en"), pytest.raises(ValidationError, match="removed"):
        services.agenda_item_propose(meeting=upcoming, issue=issue, actor=hana)


@pytest.mark.parametrize("persona", ["alice", "bob", "minji"])
def test_staff_other_agencies_and_the_mayors_office_cannot_propose(
    request, persona, upcoming, issue
):
    user = request.getfixturevalue(persona)
    with pytest.raises(PermissionDenied):
        services.agenda_item_propose(meeting=upcoming, issue=issue, actor=user)


def test_the_head_of_a_cooperating_agency_cannot_propose_the_lead_agencys_issue(
    upcoming, issue, agency_b
):
    from agencies.models import Role
    from tests.factories import UserFactory

    head_b = UserFactory(agency=agency_b, role=Role.HEAD)
    with pytest.raises(PermissionDenied):
        services.agenda_item_propose(meeting=upcoming, issue=issue, actor=head_b)


def test_past_cancelled_and_uninvited_meetings_take_no_proposals(
    make_meeting, issue, victor, agency_a, agency_b, minji
):
    past = make_meeting(starts_at=timezone.now() - timedelta(days=1), invited=[agency_a])
    cancelled = make_meeting(starts_at=timezone.now() + timedelta(days=5), invited=[agency_a])
    services.meeting_cancel(meeting=cancelled, actor=minji)
    uninvited = make_meeting(starts_at=timezone.now() + timedelta(days=5), invited=[agency_b])
    for meeting in (past, cancelled, uninvited):
        with pytest.raises(PermissionDenied):
            services.agenda_item_propose(meeting=meeting, issue=issue, actor=victor)


def test_a_resolved_issue_cannot_be_proposed(upcoming, issue, alice, victor):
    issue_services.issue_change_status(
        issue=issue, actor=alice, expected_version=issue.version, status="resolved"
    )
    issue.refresh_from_db()
    with pytest.raises(PermissionDenied):
        services.agenda_item_propose(meeting=upcoming, issue=issue, actor=victor)


# --- running the agenda -----------------------------------------------------------


def test_the_mayors_office_accepts_and_removes_items(proposed, minji):
    services.agenda_item_accept(item=proposed, actor=minji)
    assert AgendaItem.objects.get().status == AgendaItemStatus.ACCEPTED
    services.agenda_item_remove(item=proposed, actor=minji)
    assert AgendaItem.objects.get().status == AgendaItemStatus.REMOVED


@pytest.mark.parametrize("persona", ["alice", "hana", "victor"])
def test_only_the_mayors_office_runs_the_agenda(request, persona, proposed, upcoming):
    user = request.getfixturevalue(persona)
    with pytest.raises(PermissionDenied):
        services.agenda_item_accept(item=proposed, actor=user)
    with pytest.raises(PermissionDenied):
        services.agenda_item_remove(item=proposed, actor=user)
    with pytest.raises(PermissionDenied):
        services.agenda_reorder(meeting=upcoming, ordered_ids=[proposed.pk], actor=user)


def test_reorder_numbers_the_items_in_the_given_order(upcoming, minji):
    first, second, third = (_item(upcoming, t, n) for n, t in enumerate("ABC", start=1))
    services.agenda_reorder(
        meeting=upcoming, ordered_ids=[third.pk, first.pk, second.pk], actor=minji
    )
    assert list(upcoming.agenda_items.values_list("title", "order")) == [
        ("C", 1),
        ("A", 2),
        ("B", 3),
    ]


def test_reorder_refuses_a_list_that_does_not_name_every_item_once(upcoming, minji):
    first, second = _item(upcoming, "A", 1), _item(upcoming, "B", 2)
    with pytest.raises(ValidationError):
        services.agenda_reorder(meeting=upcoming, ordered_ids=[first.pk], actor=minji)
    with pytest.raises(ValidationError):
        services.agenda_reorder(
            meeting=upcoming, ordered_ids=[first.pk, first.pk, second.pk], actor=minji
        )


def test_moving_up_and_down_swaps_neighbours_and_stops_at_the_ends(upcoming, minji):
    first, second, third = (_item(upcoming, t, n) for n, t in enumerate("ABC", start=1))
    services.agenda_item_move(item=third, direction="up", actor=minji)
    assert list(upcoming.agenda_items.values_list("title", flat=True)) == ["A", "C", "B"]
    services.agenda_item_move(item=first, direction="up", actor=minji)
    services.agenda_item_move(item=second, direction="down", actor=minji)
    assert list(upcoming.agenda_items.values_list("title", flat=True)) == ["A", "C", "B"]


def test_the_mayors_office_adds_an_innovation_case_without_an_issue(upcoming, minji, agency_b):
    item = services.agenda_item_add(
        meeting=upcoming,
        actor=minji,
        title="드론을 활용한 하수관로 점검 사례",
        presenting_agency=agency_b,
        kind=AgendaItemKind.INNOVATION_CASE,
    )
    assert item.issue is None
    assert item.status == AgendaItemStatus.ACCEPTED
    assert item.presenting_agency == agency_b


# --- decisions and minutes --------------------------------------------------------------


def test_a_decision_appears_on_the_issues_timeline(proposed, issue, minji, start_meeting):
    services.agenda_item_accept(item=proposed, actor=minji)
    start_meeting()
    services.agenda_item_decide(
        item=proposed, decision="실무 협의회를 구성한다.", follow_up_due=None, actor=minji
    )

    event = Event.objects.get(issue=issue, kind=EventKind.DECISION)
    assert event.actor == minji
    assert event.changes == [
        {
            "field": "decision",
            "meeting_id": proposed.meeting.pk,
            "meeting": proposed.meeting.title,
            "text": "실무 협의회를 구성한다.",
            "follow_up_due": None,
        }
    ]
    assert Issue.objects.get(pk=issue.pk).due_date is None


def test_a_follow_up_date_becomes_the_issues_due_date_and_is_recorded(
    proposed, issue, minji, alice, start_meeting
):
    services.agenda_item_accept(item=proposed, actor=minji)
    start_meeting()
    due = timezone.localdate() + timedelta(days=30)
    services.agenda_item_decide(
        item=proposed, decision="30일 안에 보고한다.", follow_up_due=due, actor=minji
    )

    issue_after = Issue.objects.get(pk=issue.pk)
    assert issue_after.due_date == due
    assert issue_after.version == issue.version + 1
    decision = Event.objects.get(issue=issue, kind=EventKind.DECISION)
    assert decision.changes[0]["follow_up_due"] == due.isoformat()
    change = Event.objects.get(issue=issue, kind=EventKind.CHANGED)
    assert change.changes == [{"field": "due_date", "old": None, "new": due.isoformat()}]
    # A form opened before the decision can no longer overwrite the new due date.
    with pytest.raises(issue_services.StaleIssueError):
        issue_services.issue_update(
            issue=issue, actor=alice, expected_version=issue.version, title="새 제목"
        )


def test_decisions_need_text_an_accepted_item_and_a_future_follow_up(
    proposed, minji, start_meeting
):
    start_meeting()
    with pytest.raises(ValidationError):
        services.agenda_item_decide(item=proposed, decision="결정", follow_up_due=None, actor=minji)
    services.agenda_item_accept(item=proposed, actor=minji)
    with pytest.raises(ValidationError):
        services.agenda_item_decide(item=proposed, decision="  ", follow_up_due=None, actor=minji)
    with pytest.raises(ValidationError):
        services.agenda_item_decide(
            item=proposed, decision="결정", follow_up_due=date(2000, 1, 1), actor=minji
        )
    assert not Event.objects.filter(kind=EventKind.DECISION).exists()


def test_a_decision_cannot_be_recorded_before_the_meeting_starts(
    proposed, issue, minji, start_meeting
):
    services.agenda_item_accept(item=proposed, actor=minji)

    with translation.override("en"), pytest.raises(ValidationError) as refused:
        services.agenda_item_decide(
            item=proposed, decision="미리 정한 결론", follow_up_due=None, actor=minji
        )

    assert refused.value.messages == ["Decisions can be recorded once the meeting has started."]
    proposed.refresh_from_db()
    assert (proposed.decision, proposed.decided_at) == ("", None)
    assert not Event.objects.filter(issue=issue, kind=EventKind.DECISION).exists()
    start_meeting()
    services.agenda_item_decide(
        item=proposed, decision="원안 의결", follow_up_due=None, actor=minji
    )
    assert Event.objects.filter(issue=issue, kind=EventKind.DECISION).count() == 1


def test_only_the_mayors_office_records_decisions(proposed, minji, hana, start_meeting):
    services.agenda_item_accept(item=proposed, actor=minji)
    start_meeting()
    with pytest.raises(PermissionDenied):
        services.agenda_item_decide(item=proposed, decision="결정", follow_up_due=None, actor=hana)


def test_minutes_are_recorded_after_the_meeting_began_and_mark_it_held(
    make_meeting, upcoming, agency_a, minji
):
    with pytest.raises(ValidationError):
        services.meeting_record_minutes(meeting=upcoming, minutes="# 회의록", actor=minji)
    held = make_meeting(starts_at=timezone.now() - timedelta(hours=3), invited=[agency_a])
    services.meeting_record_minutes(
        meeting=held, minutes="## 회의 결과\n\n- 원안 의결", actor=minji
    )
    held.refresh_from_db()
    assert held.status == MeetingStatus.HELD
    assert held.minutes.startswith("## 회의 결과")


def test_cancelling_a_meeting_plans_cancellation_notices(upcoming, minji, monkeypatch):
    calls = []
    monkeypatch.setattr(
        "meetings.reminders.plan_cancellation_notices",
        lambda meeting, now: calls.append((meeting.pk, now)),
    )
    services.meeting_cancel(meeting=upcoming, actor=minji)

    upcoming.refresh_from_db()
    assert upcoming.status == MeetingStatus.CANCELLED
    assert upcoming.cancelled_at is not None
    assert calls == [(upcoming.pk, upcoming.cancelled_at)]
    with pytest.raises(ValidationError):
        services.meeting_cancel(meeting=upcoming, actor=minji)


# --- the pages ---------------------------------------------------------------------


def _propose(client, issue, meeting, **headers):
    return client.post(
        reverse("meetings:agenda_propose"),
        {"issue": issue.pk, "meeting": meeting.pk},
        headers=headers,
    )


def test_proposing_from_the_issue_page_redirects_back_with_a_message(
    client, victor, upcoming, issue
):
    client.force_login(victor)
    response = _propose(client, issue, upcoming)
    assert response.status_code == 302
    assert response["Location"] == issue.get_absolute_url()
    assert AgendaItem.objects.get().issue == issue


def test_proposing_with_htmx_returns_the_agenda_box(client, victor, upcoming, issue):
    client.force_login(victor)
    response = _propose(client, issue, upcoming, HX_Request="true")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="issue-agenda"' in html
    assert upcoming.title in html
    assert "<html" not in html


def test_a_duplicate_proposal_with_htmx_shows_the_error_in_the_box(
    client, victor, proposed, upcoming, issue
):
    client.force_login(victor)
    response = _propose(client, issue, upcoming, HX_Request="true")
    assert response.status_code == 200
    # Already on it, so the meeting is no longer offered: the choice is refused.
    assert "form-hint-invalid" in response.content.decode()
    assert AgendaItem.objects.count() == 1


def test_proposing_a_restricted_issue_of_another_agency_is_a_404(client, agency_b, upcoming, alice):
    from agencies.models import Role
    from tests.factories import UserFactory

    hidden = issue_services.issue_create(
        actor=alice, title="비공개", lead_agency=alice.agency, visibility="restricted"
    )
    head_b = UserFactory(agency=agency_b, role=Role.HEAD)
    client.force_login(head_b)
    assert _propose(client, hidden, upcoming).status_code == 404


def test_proposing_for_a_meeting_the_agency_is_not_invited_to_is_a_404(
    client, make_meeting, agency_b, victor, issue
):
    other = make_meeting(starts_at=timezone.now() + timedelta(days=3), invited=[agency_b])
    client.force_login(victor)
    assert _propose(client, issue, other).status_code == 404


def test_staff_get_403_when_proposing(client, alice, upcoming, issue):
    client.force_login(alice)
    assert _propose(client, issue, upcoming).status_code == 403


def _render_box(issue, user):
    from django.template.loader import render_to_string

    from meetings.views import issue_agenda_context

    with translation.override("en"):
        context = issue_agenda_context(issue, user) | {"csrf_token": "t"}
        return render_to_string("meetings/partials/issue_agenda.html", context)


def test_the_issue_page_loads_the_box_from_meetings_with_a_link_as_fallback(client, issue, alice):
    client.force_login(alice)
    box_url = reverse("meetings:issue_agenda", args=[issue.pk])

    page = client.get(issue.get_absolute_url()).content.decode()
    fragment = client.get(box_url, headers={"hx-request": "true"})
    whole = client.get(box_url)

    assert f'hx-get="{box_url}" hx-trigger="load"' in page
    assert f'<a href="{box_url}">' in page  # without JavaScript
    assert fragment.status_code == 200 and "<html" not in fragment.content.decode()
    assert 'id="issue-agenda"' in fragment.content.decode()
    assert whole.status_code == 200 and "<html" in whole.content.decode()


def test_the_box_of_an_issue_one_may_not_read_is_a_404(client, carol, alice):
    hidden = issue_services.issue_create(
        actor=alice, title="비공개", lead_agency=alice.agency, visibility="restricted"
    )
    client.force_login(carol)

    response = client.get(reverse("meetings:issue_agenda", args=[hidden.pk]))

    assert response.status_code == 404


def test_the_issue_page_box_lists_the_agendas_and_their_decision(
    proposed, issue, minji, alice, start_meeting
):
    services.agenda_item_accept(item=proposed, actor=minji)
    start_meeting()
    services.agenda_item_decide(
        item=proposed, decision="실무 협의회를 구성한다.", follow_up_due=None, actor=minji
    )
    html = _render_box(issue, alice)
    assert f"On the agenda of {proposed.meeting.title}" in html
    assert "실무 협의회를 구성한다." in html
    assert "<form" not in html  # staff cannot propose


def test_the_issue_page_box_offers_upcoming_meetings_to_the_lead_agencys_vice_head(
    upcoming, issue, victor
):
    html = _render_box(issue, victor)
    assert f'<option value="{upcoming.pk}"' in html
    assert 'name="issue"' in html
    assert 'for="id_agenda_meeting"' in html  # a visible label


def test_the_issue_page_box_hides_removed_items_and_uninvited_meetings(
    proposed, issue, minji, carol, victor
):
    services.agenda_item_remove(item=proposed, actor=minji)
    assert proposed.meeting.title not in _render_box(issue, victor).split("<form")[0]
    assert proposed.meeting.title not in _render_box(issue, carol)


def test_the_issue_page_box_takes_one_query_and_two_for_proposers(
    proposed, issue, alice, victor, django_assert_num_queries
):
    with django_assert_num_queries(1):
        _render_box(issue, alice)
    with django_assert_num_queries(2):
        _render_box(issue, victor)


@pytest.mark.usefixtures("mail_everything_at_once")
def test_a_decision_notifies_the_lead_agency(proposed, issue, minji, mailoutbox, start_meeting):
    from issues import notifications
    from issues.models import Event, Notification

    services.agenda_item_accept(item=proposed, actor=minji)
    start_meeting()
    services.agenda_item_decide(
        item=proposed, decision="예산을 추가 편성한다.", follow_up_due=None, actor=minji
    )

    decision = Event.objects.get(issue=issue, kind="decision")
    # Written with the decision, in its transaction: in the bell at once.
    notified = set(Notification.objects.filter(event=decision).values_list("recipient", flat=True))
    assert issue.created_by_id in notified
    assert minji.pk not in notified  # never for one's own action
    assert notifications.deliver_due().sent >= 1
    recipients = {address for message in mailoutbox for address in message.to}
    assert issue.created_by.email in recipients
    assert minji.email not in recipients
