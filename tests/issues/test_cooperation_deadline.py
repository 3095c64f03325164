"""A person in charge (담당자) and a reply deadline (회신 기한) per cooperating agency.

The clock stands on Thursday 12 February 2026 in Seoul, the day before the
설날 holidays (16–18 February): five working days later is Tuesday 24th.
"""

import csv
import io
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from agencies.models import Role
from issues import services
from issues.models import Cooperation, Event, EventKind
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

SEOUL = ZoneInfo("Asia/Seoul")
TODAY = date(2026, 2, 12)
DEFAULT_REPLY_BY = date(2026, 2, 24)  # 13, 19, 20, 23, 24 February


@pytest.fixture(autouse=True)
def _today(time_machine):
    time_machine.move_to(datetime(2026, 2, 12, 10, 0, tzinfo=SEOUL), tick=False)


@pytest.fixture
def issue(alice, bob):
    return services.issue_create(
        actor=alice,
        title="도시철도 환승 협의",
        lead_agency=alice.agency,
        cooperating_agencies=[bob.agency],
    )


@pytest.fixture
def cooperation(issue):
    return issue.cooperations.get()


@pytest.fixture
def bora(agency_b):
    """Another staff member of agency B: a possible person in charge."""
    return UserFactory(
        username="bora", agency=agency_b, role=Role.STAFF, last_name="", first_name="김보라"
    )


def _update_url(cooperation):
    return reverse("issues:cooperation_update", args=[cooperation.issue_id, cooperation.pk])


def _post_update(client, cooperation, *, assignee="", reply_by, expected=None):
    expected_assignee, expected_reply_by = expected or (
        cooperation.assignee_id or "",
        cooperation.reply_by.isoformat(),
    )
    prefix = f"u{cooperation.pk}-"
    return client.post(
        _update_url(cooperation),
        {
            prefix + "assignee": assignee,
            prefix + "reply_by": reply_by,
            prefix + "expected_assignee": expected_assignee,
            prefix + "expected_reply_by": expected_reply_by,
        },
    )


# --- the default deadline ---------------------------------------------------------


def test_a_request_is_due_five_korean_working_days_later(cooperation):
    assert cooperation.reply_by == DEFAULT_REPLY_BY
    assert cooperation.assignee is None


def test_the_number_of_working_days_is_a_setting(settings, alice, bob):
    settings.COOPERATION_REPLY_WORKING_DAYS = 2
    issue = services.issue_create(
        actor=alice, title="t", lead_agency=alice.agency, cooperating_agencies=[bob.agency]
    )
    assert issue.cooperations.get().reply_by == date(2026, 2, 19)


def test_the_request_on_the_timeline_names_its_deadline(client, alice, issue):
    client.force_login(alice)
    response = client.get(issue.get_absolute_url())
    event = Event.objects.get(issue=issue, kind=EventKind.COOPERATION_REQUESTED)
    assert event.changes == [{"field": "reply_by", "old": None, "new": "2026-02-24"}]
    assert "2026년 2월 24일" in response.content.decode()


# --- the requester sets another date -----------------------------------------------


def _form_data(lead, cooperating, **extra):
    return {
        "title": "광주 AI 데이터센터 협의",
        "description": "",
        "lead_agency": lead.pk,
        "cooperating_agencies": [a.pk for a in cooperating],
        "priority": "normal",
        "visibility": "all",
        **extra,
    }


def test_the_requester_sets_the_reply_deadline_on_the_issue_form(client, alice, agency_b):
    client.force_login(alice)
    response = client.post(
        reverse("issues:create"), _form_data(alice.agency, [agency_b], reply_by="2026-03-06")
    )
    assert response.status_code == 302
    assert Cooperation.objects.get(agency=agency_b).reply_by == date(2026, 3, 6)


def test_an_empty_reply_deadline_means_the_default(client, alice, agency_b):
    client.force_login(alice)
    client.post(reverse("issues:create"), _form_data(alice.agency, [agency_b], reply_by=""))
    assert Cooperation.objects.get(agency=agency_b).reply_by == DEFAULT_REPLY_BY


def test_a_reply_deadline_in_the_past_is_refused_with_a_message(client, alice, agency_b):
    client.force_login(alice)
    response = client.post(
        reverse("issues:create"), _form_data(alice.agency, [agency_b], reply_by="2026-02-11")
    )
    assert response.status_code == 200
    assert "회신 기한은 지난 날짜일 수 없습니다" in response.content.decode()
    assert not Cooperation.objects.exists()


def test_the_date_on_the_edit_form_applies_to_newly_added_agencies_only(
    client, alice, issue, cooperation, agency_c
):
    client.force_login(alice)
    data = _form_data(
        alice.agency, [cooperation.agency, agency_c], reply_by="2026-03-10", version=issue.version
    )
    data["title"] = issue.title
    response = client.post(reverse("issues:edit", args=[issue.pk]), data)
    assert response.status_code == 302
    assert Cooperation.objects.get(agency=agency_c).reply_by == date(2026, 3, 10)
    cooperation.refresh_from_db()
    assert cooperation.reply_by == DEFAULT_REPLY_BY


# --- the cooperating agency names its person and moves the date ---------------------


def test_the_cooperating_agency_names_its_person_and_moves_the_deadline(
    client, bob, bora, cooperation
):
    client.force_login(bob)
    response = _post_update(client, cooperation, assignee=bora.pk, reply_by="2026-03-03")
    assert response.status_code == 302
    cooperation.refresh_from_db()
    assert cooperation.assignee == bora
    assert cooperation.reply_by == date(2026, 3, 3)
    event = Event.objects.get(kind=EventKind.COOPERATION_UPDATED)
    assert event.actor == bob
    assert event.agency == cooperation.agency
    assert event.changes == [
        {"field": "cooperation_assignee", "old": None, "new": {"ko": "김보라", "en": "김보라"}},
        {"field": "reply_by", "old": "2026-02-24", "new": "2026-03-03"},
    ]


def test_the_change_shows_on_the_timeline_with_old_and_new_values(client, bob, bora, cooperation):
    client.force_login(bob)
    _post_update(client, cooperation, assignee=bora.pk, reply_by="2026-03-03")
    page = client.get(cooperation.issue.get_absolute_url()).content.decode()
    assert "협조 내용을 바꿨습니다" in page
    assert "<del>2026년 2월 24일</del> → <ins>2026년 3월 3일</ins>" in page
    assert "<ins>김보라</ins>" in page


def test_with_htmx_the_cooperation_box_comes_back(client, bob, bora, cooperation):
    client.force_login(bob)
    prefix = f"u{cooperation.pk}-"
    response = client.post(
        _update_url(cooperation),
        {
            prefix + "assignee": bora.pk,
            prefix + "reply_by": "2026-03-03",
            prefix + "expected_assignee": "",
            prefix + "expected_reply_by": "2026-02-24",
        },
        headers={"hx-request": "true"},
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert 'id="cooperations"' in body
    assert "김보라" in body


def test_saving_the_same_values_records_nothing(client, bob, cooperation):
    client.force_login(bob)
    _post_update(client, cooperation, reply_by="2026-02-24")
    assert not Event.objects.filter(kind=EventKind.COOPERATION_UPDATED).exists()


@pytest.mark.parametrize(
    ("persona", "allowed"),
    [
        ("bob", True),  # staff of the cooperating agency
        ("bob_vice", True),  # its vice-head
        ("bob_head", True),  # its head
        ("alice", False),  # the lead agency (the requester)
        ("hana", False),  # the lead agency's head
        ("minji", False),  # the Mayor's office
        ("carol", False),  # an uninvolved agency
    ],
)
def test_only_the_cooperating_agency_may_change_person_and_deadline(
    client, request, agency_b, cooperation, persona, allowed
):
    if persona == "bob_vice":
        user = UserFactory(username="bob-vice", agency=agency_b, role=Role.VICE_HEAD)
    elif persona == "bob_head":
        user = UserFactory(username="bob-head", agency=agency_b, role=Role.HEAD)
    else:
        user = request.getfixturevalue(persona)
    client.force_login(user)

    page = client.get(cooperation.issue.get_absolute_url()).content.decode()
    response = _post_update(client, cooperation, reply_by="2026-03-04")

    cooperation.refresh_from_db()
    if allowed:
        assert _update_url(cooperation) in page
        assert response.status_code == 302
        assert cooperation.reply_by == date(2026, 3, 4)
    else:
        assert _update_url(cooperation) not in page
        assert response.status_code == 403
        assert cooperation.reply_by == DEFAULT_REPLY_BY


def test_a_restricted_issue_is_a_404_for_an_outsider(client, alice, bob, carol):
    issue = services.issue_create(
        actor=alice,
        title="비공개",
        lead_agency=alice.agency,
        cooperating_agencies=[bob.agency],
        visibility="restricted",
    )
    client.force_login(carol)
    response = _post_update(client, issue.cooperations.get(), reply_by="2026-03-04")
    assert response.status_code == 404


def test_the_person_must_be_an_active_member_of_the_agency(client, alice, bob, cooperation):
    client.force_login(bob)
    gone = UserFactory(username="gone", agency=bob.agency, is_active=False)

    for candidate in (alice, gone):
        response = _post_update(client, cooperation, assignee=candidate.pk, reply_by="2026-02-24")
        assert response.status_code == 200
        assert "올바르게 선택해 주세요" in response.content.decode()
    cooperation.refresh_from_db()
    assert cooperation.assignee is None


def test_the_service_refuses_a_person_of_another_agency(bob, alice, cooperation):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as error:
        services.cooperation_update(
            cooperation=cooperation,
            actor=bob,
            assignee=alice,
            reply_by=cooperation.reply_by,
            expected_assignee_id=None,
            expected_reply_by=cooperation.reply_by,
        )
    assert "assignee" in error.value.message_dict


def test_the_deadline_cannot_move_into_the_past(client, bob, cooperation):
    client.force_login(bob)
    response = _post_update(client, cooperation, reply_by="2026-02-11")
    assert response.status_code == 200
    assert "회신 기한은 지난 날짜일 수 없습니다" in response.content.decode()
    cooperation.refresh_from_db()
    assert cooperation.reply_by == DEFAULT_REPLY_BY


def test_a_change_made_meanwhile_is_not_overwritten(client, bob, bora, cooperation):
    services.cooperation_update(
        cooperation=cooperation,
        actor=bora,
        assignee=bora,
        reply_by=date(2026, 3, 2),
        expected_assignee_id=None,
        expected_reply_by=DEFAULT_REPLY_BY,
    )
    client.force_login(bob)
    # Bob's form was loaded before Bora's change.
    response = _post_update(
        client, cooperation, assignee="", reply_by="2026-03-09", expected=("", "2026-02-24")
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "다른 사람이 담당자나 회신 기한을 바꿨습니다" in body
    assert 'value="2026-03-09"' in body  # what Bob typed is kept
    cooperation.refresh_from_db()
    assert (cooperation.assignee, cooperation.reply_by) == (bora, date(2026, 3, 2))


# --- where it shows -------------------------------------------------------------------


def test_the_issue_page_shows_person_deadline_and_overdue_badge(
    client, alice, bob, bora, cooperation, time_machine
):
    Cooperation.objects.filter(pk=cooperation.pk).update(assignee=bora)
    client.force_login(alice)
    page = client.get(cooperation.issue.get_absolute_url()).content.decode()
    assert "김보라" in page
    assert "2026-02-24" in page
    assert 'bg-danger">기한 경과' not in page

    time_machine.move_to(datetime(2026, 2, 25, 9, 0, tzinfo=SEOUL), tick=False)
    client.force_login(alice)  # the idle session ended meanwhile
    page = client.get(cooperation.issue.get_absolute_url()).content.decode()
    assert 'bg-danger">기한 경과' in page

    services.cooperation_answer(cooperation=cooperation, actor=bob, status="accepted")
    page = client.get(cooperation.issue.get_absolute_url()).content.decode()
    assert 'bg-danger">기한 경과' not in page  # answered: no longer late


def test_the_list_shows_person_and_deadline_in_the_cooperation_cell(
    client, alice, bora, cooperation
):
    Cooperation.objects.filter(pk=cooperation.pk).update(assignee=bora)
    client.force_login(alice)
    page = client.get(reverse("issues:list")).content.decode()
    assert "김보라 · ~02-24" in page


def _overdue_setup(alice, bob, carol, count):
    """``count`` issues with a late request to B, one on time, one answered late."""
    late = [
        services.issue_create(
            actor=alice, title=f"늦은 회신 {n}", lead_agency=alice.agency,
            cooperating_agencies=[bob.agency, carol.agency],
        )
        for n in range(count)
    ]  # fmt: skip
    Cooperation.objects.filter(issue__in=late, agency=bob.agency).update(reply_by=date(2026, 2, 11))
    services.issue_create(
        actor=alice, title="기한 남음", lead_agency=alice.agency, cooperating_agencies=[bob.agency]
    )
    answered = services.issue_create(
        actor=alice, title="회신 완료", lead_agency=alice.agency, cooperating_agencies=[bob.agency]
    )
    coop = answered.cooperations.get()
    Cooperation.objects.filter(pk=coop.pk).update(reply_by=date(2026, 2, 11))
    services.cooperation_answer(cooperation=coop, actor=bob, status="done")
    return late


@pytest.mark.parametrize("count", [1, 8])
def test_reply_overdue_lists_late_unanswered_requests_in_constant_queries(
    client, alice, bob, carol, count, django_assert_num_queries
):
    late = _overdue_setup(alice, bob, carol, count)
    client.force_login(alice)

    # As the plain list: session, user (with agency), bell (1), filter choices (2),
    # count, the page, its cooperations (with agency and person in charge).
    with django_assert_num_queries(9):  # the list, with the saved-searches box
        response = client.get(reverse("issues:list"), {"reply_overdue": "1"})

    titles = {issue.title for issue in response.context["page"].object_list}
    assert titles == {issue.title for issue in late}
    # One badge per late request.
    assert response.content.decode().count('bg-danger">기한 경과</span>') == count


def test_reply_overdue_keeps_hidden_issues_hidden(client, alice, bob, carol):
    restricted = services.issue_create(
        actor=alice,
        title="비공개 지연",
        lead_agency=alice.agency,
        cooperating_agencies=[bob.agency],
        visibility="restricted",
    )
    Cooperation.objects.filter(issue=restricted).update(reply_by=date(2026, 2, 1))
    client.force_login(carol)
    response = client.get(reverse("issues:list"), {"reply_overdue": "1"})
    assert list(response.context["page"].object_list) == []


def test_the_export_carries_person_deadline_and_overdue(client, alice, bob, bora, carol):
    late = _overdue_setup(alice, bob, carol, 1)[0]
    Cooperation.objects.filter(issue=late, agency=bob.agency).update(assignee=bora)
    client.force_login(alice)

    response = client.get(reverse("issues:export"), {"reply_overdue": "1"})

    text = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert len(rows) == 2
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["협조 기관"].startswith(
        "광주나기관 (요청됨, 담당: 김보라, 회신 기한 2026-02-11, 기한 경과); 광주다기관 ("
    )
    assert row["회신 기한 경과"] == "광주나기관"
