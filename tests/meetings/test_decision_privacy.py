"""A decision on an issue's timeline names its meeting only to people who may open it.

Only agency A is invited to the meeting. The issue is public, so agency B's
staff (Bob, who cooperates and commented on it) and agency C's (Carol) read its timeline;
for them the meeting is a 404, so the timeline says the decision was taken
"at a meeting" (회의). Alice (agency A) and Minji (the Mayor's office) see its
title. issues never imports meetings: the rule reaches the issue page through
``issues.timeline``, which meetings registers in its AppConfig.ready().
"""

from datetime import timedelta

import pytest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from issues import services as issue_services
from issues import timeline
from issues.models import Event, EventKind, Notification
from meetings import services
from meetings.selectors import TimelineMeetingAccess

pytestmark = pytest.mark.django_db

TITLE = "가기관 단독 예산 협의회"
DECISION = "예산을 추가 편성한다."
HX = {"hx-request": "true"}
EN = {"accept-language": "en"}


@pytest.fixture
def decided(time_machine, make_meeting, alice, bob, minji, agency_a, agency_b):
    """A public issue of agency A with agency B cooperating, decided at a meeting
    only agency A is invited to."""
    meeting = make_meeting(
        starts_at=timezone.now() + timedelta(days=3), title=TITLE, invited=[agency_a]
    )
    issue = issue_services.issue_create(
        actor=alice,
        title="시내버스 노선 조정",
        lead_agency=agency_a,
        cooperating_agencies=[agency_b],
    )
    issue_services.comment_create(issue=issue, actor=bob, body="노선 자료를 공유합니다.")
    item = services.agenda_item_add(
        meeting=meeting, actor=minji, title=issue.title, presenting_agency=agency_a, issue=issue
    )
    time_machine.move_to(meeting.starts_at + timedelta(hours=1))
    services.agenda_item_decide(item=item, decision=DECISION, follow_up_due=None, actor=minji)
    return issue


def _page(client, user, issue, **headers) -> str:
    client.force_login(user)
    response = client.get(issue.get_absolute_url(), headers=headers)
    assert response.status_code == 200
    return response.content.decode()


def _timeline_fragment(client, user, issue, **headers) -> str:
    client.force_login(user)
    response = client.get(
        issue.get_absolute_url(), {"partial": "timeline"}, headers={**HX, **headers}
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="timeline"')
    return html


def test_the_meeting_is_a_404_for_agency_b(client, decided, bob):
    from meetings.models import Meeting

    client.force_login(bob)
    assert client.get(Meeting.objects.get().get_absolute_url()).status_code == 404


@pytest.mark.parametrize("persona", ["bob", "carol"])
def test_uninvited_agencies_see_a_decision_at_a_meeting_not_which_one(
    request, client, decided, persona
):
    user = request.getfixturevalue(persona)

    for html in (
        _page(client, user, decided, **EN),
        _timeline_fragment(client, user, decided, **EN),
    ):
        assert TITLE not in html
        assert "recorded a decision at a meeting:" in html
        assert DECISION in html

    korean = _page(client, user, decided)
    assert TITLE not in korean
    assert "회의 결정 사항을 기록했습니다:" in korean
    assert DECISION in korean


@pytest.mark.parametrize("persona", ["alice", "hana", "minji", "superuser"])
def test_the_invited_agency_and_the_mayors_office_see_the_meetings_title(
    request, client, decided, persona
):
    user = request.getfixturevalue(persona)

    for html in (
        _page(client, user, decided, **EN),
        _timeline_fragment(client, user, decided, **EN),
    ):
        assert f"recorded the decision of {TITLE}:" in html
        assert "recorded a decision at a meeting:" not in html
        assert DECISION in html
    assert f"{TITLE} 결정 사항을 기록했습니다:" in _page(client, user, decided)


def test_uninviting_the_agency_hides_the_title_from_it_at_once(client, decided, alice, agency_a):
    from meetings.models import Meeting

    Meeting.objects.get().invited_agencies.remove(agency_a)

    html = _page(client, alice, decided, **EN)
    assert TITLE not in html
    assert "recorded a decision at a meeting:" in html


def test_the_notifications_page_and_mail_do_not_name_the_meeting(client, decided, bob):
    event = Event.objects.get(issue=decided, kind=EventKind.DECISION)
    # However it is delivered, this is the row the bell lists and the mail it sends.
    Notification.objects.get_or_create(recipient=bob, event=event)
    client.force_login(bob)

    for headers in (EN, {}):
        page = client.get(reverse("notifications:list"), headers=headers).content.decode()
        assert decided.title in page
        assert TITLE not in page
    assert (
        "A meeting recorded a decision"
        in client.get(reverse("notifications:list"), headers=EN).content.decode()
    )

    for language in ("ko", "en"):
        with translation.override(language):
            context = {"user": bob, "event": event, "issue": decided, "url": "https://hub/x"}
            subject = render_to_string("issues/email/notification_subject.txt", context)
            body = render_to_string("issues/email/notification_body.txt", context)
        assert TITLE not in subject and TITLE not in body
        assert decided.title in subject


def test_a_decision_event_keeps_the_meetings_id(decided):
    from meetings.models import Meeting

    [change] = Event.objects.get(issue=decided, kind=EventKind.DECISION).changes
    assert change["meeting_id"] == Meeting.objects.get().pk
    assert change["meeting"] == TITLE


# --- decisions recorded before the meeting id was kept ------------------------------------


@pytest.fixture
def old_decision(decided, minji):
    """A decision event written before events kept the meeting's id: the title only."""
    return Event.objects.create(
        issue=decided,
        actor=minji,
        kind=EventKind.DECISION,
        changes=[{"field": "decision", "meeting": "지난해 협의회", "text": "예전 결정"}],
    )


@pytest.mark.parametrize(("persona", "named"), [("alice", False), ("bob", False), ("minji", True)])
def test_old_decisions_name_their_meeting_only_to_the_mayors_office(
    request, client, old_decision, persona, named
):
    html = _page(client, request.getfixturevalue(persona), old_decision.issue, **EN)

    assert ("recorded the decision of 지난해 협의회:" in html) is named
    assert "지난해 협의회" in html if named else "지난해 협의회" not in html
    assert "예전 결정" in html


# --- the seam --------------------------------------------------------------------------


def test_meetings_registers_its_rule_with_the_timeline_at_startup():
    assert isinstance(timeline._meeting_access, TimelineMeetingAccess)


def test_without_a_registered_rule_nobody_is_told_the_meetings_name(
    client, decided, minji, monkeypatch
):
    monkeypatch.setattr(timeline, "_meeting_access", None)

    # The timeline only: the agenda box beside it is the meetings app's own.
    html = _timeline_fragment(client, minji, decided, **EN)

    assert TITLE not in html
    assert "recorded a decision at a meeting:" in html


def test_naming_meetings_costs_at_most_one_query(
    decided, alice, bob, minji, django_assert_num_queries
):
    from issues.selectors import issue_detail

    for user, queries in ((alice, 1), (bob, 1), (minji, 0)):
        issue = issue_detail(decided.pk, user)
        events = list(issue.events.all())
        with django_assert_num_queries(queries):
            names = timeline.decision_meeting_names(user, events)
        assert (TITLE in names.values()) is (user != bob)
