"""Following an issue (구독, issue 9 item 5): follow and unfollow, automatic follows,
who hears of what, and the list's following=1 filter."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from issues import services
from issues.models import Follow, FollowSource, Notification
from tests.factories import AgencyFactory, UserFactory

pytestmark = pytest.mark.django_db


def _follow_url(issue) -> str:
    return reverse("issues:follow", args=[issue.pk])


def _follows(user, issue) -> bool:
    return Follow.objects.filter(user=user, issue=issue).exists()


# --- follow and unfollow from the issue page ---------------------------------------------


def test_anyone_who_can_read_an_issue_can_follow_and_unfollow_it(client, open_issue, carol):
    client.force_login(carol)

    response = client.post(_follow_url(open_issue), {"action": "follow"})

    assert response.status_code == 302
    assert Follow.objects.get(user=carol, issue=open_issue).source == FollowSource.MANUAL
    body = client.get(open_issue.get_absolute_url()).content.decode()
    assert 'value="unfollow"' in body
    client.post(_follow_url(open_issue), {"action": "unfollow"})
    assert not _follows(carol, open_issue)


def test_the_htmx_answer_is_the_follow_box_alone(client, open_issue, carol):
    client.force_login(carol)

    response = client.post(
        _follow_url(open_issue), {"action": "follow"}, headers={"HX-Request": "true"}
    )

    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<section id="follow"')
    assert 'value="unfollow"' in body
    assert "구독" in body


def test_following_an_unreadable_issue_is_a_404(client, restricted_issue, carol):
    client.force_login(carol)

    response = client.post(_follow_url(restricted_issue), {"action": "follow"})

    assert response.status_code == 404
    assert not _follows(carol, restricted_issue)


def test_it_needs_a_post(client, open_issue, carol):
    client.force_login(carol)

    assert client.get(_follow_url(open_issue)).status_code == 405


def test_the_count_leaves_out_followers_who_may_no_longer_read_it(client, alice, bob, carol):
    issue = services.issue_create(actor=alice, title="공개 현안", lead_agency=alice.agency)
    services.issue_follow(user=carol, issue=issue)
    services.issue_follow(user=bob, issue=issue)
    services.issue_update(
        issue=issue, actor=alice, expected_version=issue.version, visibility="restricted"
    )
    client.force_login(alice)

    response = client.get(issue.get_absolute_url())

    assert response.context["follower_count"] == 1  # Alice only: Bob and Carol lost access


# --- automatic follows ---------------------------------------------------------------------


def test_filing_commenting_and_being_assigned_follow_automatically(alice, bob, hana):
    issue = services.issue_create(
        actor=alice,
        title="협업 현안",
        lead_agency=alice.agency,
        cooperating_agencies=[bob.agency],
        assignee=hana,
    )
    services.comment_create(issue=issue, actor=bob, body="의견 드립니다.")

    sources = dict(Follow.objects.filter(issue=issue).values_list("user__username", "source"))
    assert sources == {"alice": "filed", "hana": "assigned", "bob": "commented"}


def test_assigning_on_edit_follows(alice, victor):
    issue = services.issue_create(actor=alice, title="현안", lead_agency=alice.agency)

    services.issue_update(issue=issue, actor=alice, expected_version=issue.version, assignee=victor)

    assert Follow.objects.get(user=victor, issue=issue).source == FollowSource.ASSIGNED


def test_follow_automatically_ignores_someone_who_cannot_read_the_issue(restricted_issue, carol):
    services.follow_automatically(user=carol, issue=restricted_issue, source="assigned")

    assert not _follows(carol, restricted_issue)


# --- followers hear, by their settings ----------------------------------------------------


def test_a_follower_hears_of_comments_and_status_changes(open_issue, alice, bob, carol):
    services.issue_follow(user=carol, issue=open_issue)

    services.comment_create(issue=open_issue, actor=bob, body="진행 중입니다.")
    services.issue_change_status(
        issue=open_issue, actor=alice, expected_version=open_issue.version, status="in_progress"
    )

    kinds = set(Notification.objects.filter(recipient=carol).values_list("event__kind", flat=True))
    assert kinds == {"comment", "status"}


def test_a_follower_is_told_as_their_settings_say(open_issue, bob, carol):
    carol.notice_settings = {"comment": "immediate"}
    carol.save()
    services.issue_follow(user=carol, issue=open_issue)

    services.comment_create(issue=open_issue, actor=bob, body="진행 중입니다.")

    row = Notification.objects.get(recipient=carol)
    assert row.delivery == "immediate"
    assert row.email_due_at is not None


def test_someone_who_unfollowed_hears_nothing_more(open_issue, bob, carol):
    services.issue_follow(user=carol, issue=open_issue)
    services.issue_unfollow(user=carol, issue=open_issue)

    services.comment_create(issue=open_issue, actor=bob, body="진행 중입니다.")

    assert not Notification.objects.filter(recipient=carol).exists()


def test_a_follower_who_lost_access_is_never_told(alice, bob, carol):
    issue = services.issue_create(
        actor=alice, title="공개 현안", lead_agency=alice.agency, cooperating_agencies=[bob.agency]
    )
    services.issue_follow(user=carol, issue=issue)
    issue = services.issue_update(
        issue=issue, actor=alice, expected_version=issue.version, visibility="restricted"
    )

    services.comment_create(issue=issue, actor=bob, body="비공개 의견")
    services.issue_change_status(
        issue=issue, actor=alice, expected_version=issue.version, status="on_hold"
    )

    assert not Notification.objects.filter(recipient=carol).exists()


# --- the list's following=1 filter ---------------------------------------------------------


def _listed(client, **params) -> list[str]:
    response = client.get(reverse("issues:list"), params)
    return [issue.title for issue in response.context["page"].object_list]


def test_the_following_filter_lists_only_issues_one_follows(client, alice, bob, carol):
    followed = services.issue_create(actor=alice, title="구독한 현안", lead_agency=alice.agency)
    services.issue_create(actor=alice, title="다른 현안", lead_agency=alice.agency)
    services.issue_follow(user=carol, issue=followed)
    client.force_login(carol)

    assert _listed(client, following="1") == ["구독한 현안"]
    body = client.get(reverse("issues:list")).content.decode()
    assert 'name="following"' in body
    assert "구독한 현안만" in body or "내가 구독한 현안" in body


def test_the_following_filter_never_lists_an_issue_one_may_no_longer_read(client, alice, carol):
    issue = services.issue_create(actor=alice, title="공개였던 현안", lead_agency=alice.agency)
    services.issue_follow(user=carol, issue=issue)
    services.issue_update(
        issue=issue, actor=alice, expected_version=issue.version, visibility="restricted"
    )
    client.force_login(carol)

    assert _listed(client, following="1") == []


def _list_queries(client, size: int, user) -> int:
    lead = AgencyFactory()
    author = UserFactory(agency=lead)
    for n in range(size):
        issue = services.issue_create(actor=author, title=f"현안 {n}", lead_agency=lead)
        services.issue_follow(user=user, issue=issue)
    client.force_login(user)
    client.get(reverse("issues:list"))  # reads the menus, then kept (selectors.menu_options)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("issues:list"), {"following": "1"})
    assert len(response.context["page"].object_list) == min(size, 25)
    return len(queries)


def test_the_following_filter_query_count_does_not_grow_with_issues(client, carol, bob):
    assert _list_queries(client, 3, carol) == _list_queries(client, 30, bob)
