import pytest
from django.urls import reverse

from issues import services
from issues.models import Comment, Event, Issue
from tests.factories import AgencyFactory, UserFactory

pytestmark = pytest.mark.django_db

HX = {"hx-request": "true"}


def test_it_shows_fields_cooperation_answers_and_the_timeline(client, alice, bob, open_issue):
    cooperation = open_issue.cooperations.get()
    services.cooperation_answer(
        cooperation=cooperation, actor=bob, status="accepted", note="자료 제공 가능"
    )
    services.comment_create(issue=open_issue, actor=bob, body="**데이터** 공유 일정 제안")
    client.force_login(alice)

    body = client.get(
        open_issue.get_absolute_url(), headers={"accept-language": "en"}
    ).content.decode()

    assert open_issue.title in body
    assert "Agency B" in body and "Accepted" in body and "자료 제공 가능" in body
    assert "<strong>데이터</strong>" in body  # Markdown rendered
    assert "filed this issue" in body and "asked Agency B to cooperate" in body


def test_the_status_changes_in_place_with_htmx(client, alice, open_issue):
    client.force_login(alice)

    response = client.post(
        reverse("issues:status", args=[open_issue.pk]),
        {"status": "in_progress", "version": open_issue.version},
        headers={**HX, "accept-language": "en"},
    )

    assert response.status_code == 200
    body = response.content.decode()
    assert body.lstrip().startswith('<section id="status"')
    assert "In progress" in body
    assert response["HX-Trigger"] == '{"issueChanged": {}}'
    open_issue.refresh_from_db()
    assert (open_issue.status, open_issue.version) == ("in_progress", 2)
    assert open_issue.events.last().changes == [
        {"field": "status", "old": "open", "new": "in_progress"}
    ]


def test_resolving_records_when_and_reopening_clears_it(client, alice, open_issue):
    client.force_login(alice)
    url = reverse("issues:status", args=[open_issue.pk])

    client.post(url, {"status": "resolved", "version": 1})
    open_issue.refresh_from_db()
    assert open_issue.resolved_at is not None

    client.post(url, {"status": "open", "version": 2})
    open_issue.refresh_from_db()
    assert open_issue.resolved_at is None


def test_a_stale_status_change_is_refused_with_a_message(client, alice, hana, open_issue):
    services.issue_change_status(issue=open_issue, actor=hana, expected_version=1, status="on_hold")
    client.force_login(alice)

    response = client.post(
        reverse("issues:status", args=[open_issue.pk]),
        {"status": "resolved", "version": 1},
        headers={**HX, "accept-language": "en"},
    )

    assert response.status_code == 200
    assert "Someone else changed this issue" in response.content.decode()
    open_issue.refresh_from_db()
    assert open_issue.status == "on_hold"


def test_without_javascript_a_status_change_redirects_back(client, alice, open_issue):
    client.force_login(alice)

    response = client.post(
        reverse("issues:status", args=[open_issue.pk]), {"status": "on_hold", "version": 1}
    )

    assert response.status_code == 302
    assert response["Location"] == open_issue.get_absolute_url()


def test_a_comment_is_posted_in_place_and_the_timeline_refreshes(client, bob, open_issue):
    client.force_login(bob)

    response = client.post(
        reverse("issues:comment", args=[open_issue.pk]), {"body": "검토 의견"}, headers=HX
    )

    assert response.status_code == 200
    assert response.content.decode().lstrip().startswith('<section id="comment-form"')
    assert response["HX-Trigger"] == '{"issueChanged": {}}'
    timeline = client.get(
        open_issue.get_absolute_url(), {"partial": "timeline"}, headers=HX
    ).content.decode()
    assert timeline.lstrip().startswith('<section id="timeline"')
    assert "검토 의견" in timeline


def test_an_empty_comment_gets_a_message_not_an_error(client, bob, open_issue):
    client.force_login(bob)

    response = client.post(
        reverse("issues:comment", args=[open_issue.pk]), {"body": "   "}, headers=HX
    )

    assert response.status_code == 200
    assert response.context["comment_form"].errors
    assert not open_issue.comments.exists()


def test_the_requested_agency_answers_and_the_lead_sees_it(client, alice, bob, open_issue):
    cooperation = open_issue.cooperations.get()
    client.force_login(bob)

    response = client.post(
        reverse("issues:answer", args=[open_issue.pk, cooperation.pk]),
        {f"c{cooperation.pk}-status": "declined", f"c{cooperation.pk}-note": "예산 부족"},
        headers={**HX, "accept-language": "en"},
    )

    assert response.status_code == 200
    assert "Declined" in response.content.decode()
    cooperation.refresh_from_db()
    assert (cooperation.status, cooperation.note, cooperation.answered_by) == (
        "declined",
        "예산 부족",
        bob,
    )
    client.force_login(alice)
    assert "예산 부족" in client.get(open_issue.get_absolute_url()).content.decode()


def test_an_answer_without_a_choice_is_refused_with_a_message(client, bob, open_issue):
    cooperation = open_issue.cooperations.get()
    client.force_login(bob)

    response = client.post(
        reverse("issues:answer", args=[open_issue.pk, cooperation.pk]), {}, headers=HX
    )

    assert response.status_code == 200
    cooperation.refresh_from_db()
    assert cooperation.status == "requested"


def _grow(issue, author, cooperators, comments: int) -> None:
    services.issue_update(
        issue=issue,
        actor=author,
        expected_version=Issue.objects.get(pk=issue.pk).version,
        cooperating_agencies=cooperators,
    )
    for n in range(comments):
        services.comment_create(issue=issue, actor=author, body=f"댓글 {n}")


@pytest.mark.parametrize(("cooperators", "comments"), [(1, 2), (6, 40)])
def test_detail_query_count_does_not_grow_with_comments_or_cooperations(
    client, alice, open_issue, attachment_on, cooperators, comments, django_assert_num_queries
):
    agencies = [AgencyFactory() for _ in range(cooperators)]
    for agency in agencies:
        UserFactory(agency=agency)
    _grow(open_issue, alice, agencies, comments)
    attachment_on(open_issue)
    client.force_login(alice)

    # session, user (with agency), bell (one count); the issue; cooperations, attachments,
    # events (each with their related rows joined); the follow box (followers and whether
    # the user is one, one query). (The meetings whose agenda holds the issue come in a
    # fragment of their own: meetings:issue_agenda.)
    with django_assert_num_queries(8):
        response = client.get(open_issue.get_absolute_url())
    assert response.status_code == 200


# One entry of each kind, with the changes each kind keeps (issues.services,
# issues.deadlines, meetings.services): every branch of the timeline template.
_CHANGES = {
    "created": [],
    "changed": [
        {"field": "title", "old": "옛 제목", "new": "새 제목"},
        {"field": "description", "old": "", "new": ""},
        {"field": "due_date", "old": "2026-12-01", "new": "2026-12-24"},
    ],
    "status": [{"field": "status", "old": "open", "new": "in_progress"}],
    "cooperation_requested": [{"field": "reply_by", "old": None, "new": "2026-12-10"}],
    "cooperation_answered": [
        {"field": "cooperation", "old": "requested", "new": "accepted", "note": "협조하겠습니다"}
    ],
    "cooperation_removed": [],
    "comment": [],
    "attachment": [],
    "decision": [
        {
            "field": "decision",
            "meeting": "부시장 회의",
            "text": "추진",
            "follow_up_due": "2026-12-31",
        }
    ],
    "cooperation_updated": [{"field": "reply_by", "old": "2026-12-10", "new": "2026-12-17"}],
    "escalated": [{"step": "head", "purpose": "cooperation_reply", "deadline": "2026-12-10"}],
}


@pytest.mark.parametrize("copies", [1, 4])
def test_every_kind_of_timeline_entry_is_shown_without_a_query_of_its_own(
    client, minji, alice, agency_b, open_issue, attachment_on, copies, django_assert_num_queries
):
    """The timeline loads only the fields it shows (selectors.TIMELINE_FIELDS): a
    field an entry needs but that list lacks would cost a query per entry."""
    attachment = attachment_on(open_issue)
    for _ in range(copies):
        for kind, changes in _CHANGES.items():
            Event.objects.create(
                issue=open_issue,
                actor=alice,
                kind=kind,
                changes=changes,
                agency=agency_b,
                comment=Comment.objects.create(issue=open_issue, author=alice, body="**댓글**")
                if kind == "comment"
                else None,
                attachment=attachment if kind == "attachment" else None,
            )
    client.force_login(minji)

    # As above; the Mayor's office opens every meeting, so naming the decision's
    # meeting costs nothing.
    with django_assert_num_queries(8):
        response = client.get(open_issue.get_absolute_url())

    page = response.content.decode()
    assert page.count("<strong>댓글</strong>") == copies
    assert page.count(alice.display_name) >= copies * len(_CHANGES)
    assert page.count(agency_b.name) >= copies * 4
    assert page.count("회의자료.pdf") >= copies
    assert page.count("부시장 회의") == copies


def test_each_issue_page_shows_its_own_issue_to_those_who_may_read_it(
    client, alice, bob, carol, minji
):
    """The page's four queries are compiled once per shape (core.compiled,
    issues.selectors.issue_detail) and run with each issue's and person's ids:
    pages asked one after another show each its own issue, cooperations,
    files and timeline, and only to whoever may read it."""
    restricted = services.issue_create(
        actor=alice,
        lead_agency=alice.agency,
        title="가기관 비공개 현안",
        visibility="restricted",
        cooperating_agencies=[carol.agency],
    )
    services.comment_create(issue=restricted, actor=alice, body="비공개 의견")
    public = services.issue_create(
        actor=bob, lead_agency=bob.agency, title="나기관 공개 현안", cooperating_agencies=[]
    )
    services.comment_create(issue=public, actor=bob, body="공개 의견")

    for _round in range(2):
        for person, may_read in ((alice, True), (bob, False), (carol, True), (minji, True)):
            client.force_login(person)
            page = client.get(reverse("issues:detail", args=[public.pk]))
            html = page.content.decode()
            assert page.status_code == 200
            assert "나기관 공개 현안" in html and "공개 의견" in html
            assert "가기관 비공개 현안" not in html and "비공개 의견" not in html

            page = client.get(reverse("issues:detail", args=[restricted.pk]))
            assert page.status_code == (200 if may_read else 404), person.username
            if may_read:
                html = page.content.decode()
                assert "가기관 비공개 현안" in html and "비공개 의견" in html
                assert "나기관 공개 현안" not in html and ">공개 의견<" not in html
