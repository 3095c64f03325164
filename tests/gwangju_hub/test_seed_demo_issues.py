"""seed_demo's issues: the hand-written demo set and the benchmark-scale bulk set."""

import io
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db.models import F
from django.utils import timezone

from agencies.models import User
from issues.demo import DEMO_ISSUES, DEMO_TITLES
from issues.models import (
    DONE_STATUSES,
    Comment,
    Cooperation,
    CooperationStatus,
    Event,
    EventKind,
    Follow,
    FollowSource,
    Issue,
    Notification,
    SavedSearch,
    Visibility,
)

pytestmark = pytest.mark.django_db


def seed(*args: str) -> str:
    out = io.StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def counts() -> tuple[int, int, int, int]:
    return (
        Issue.objects.count(),
        Comment.objects.count(),
        Event.objects.count(),
        Cooperation.objects.count(),
    )


def test_it_files_the_demo_issues_with_a_lived_in_mix():
    seed()

    issues = Issue.objects.all()
    assert issues.count() == len(DEMO_ISSUES) >= 35
    assert set(issues.values_list("title", flat=True)) == DEMO_TITLES
    assert len(set(issues.values_list("status", flat=True))) >= 4
    assert issues.filter(visibility=Visibility.RESTRICTED).exists()
    assert issues.overdue().exists()
    assert set(Cooperation.objects.values_list("status", flat=True)) == set(
        CooperationStatus.values
    )
    assert Comment.objects.count() >= 40
    # Every organization leads at least one demo issue.
    assert issues.values("lead_agency").distinct().count() == 24


def test_demo_issues_have_real_back_dated_timelines():
    seed()

    for issue in Issue.objects.prefetch_related("events", "cooperations", "comments"):
        kinds = [e.kind for e in issue.events.all()]
        assert kinds[0] == EventKind.CREATED, issue.title
        assert kinds.count(EventKind.COOPERATION_REQUESTED) == issue.cooperations.count()
        assert kinds.count(EventKind.COMMENT) == issue.comments.count()
        assert all(c.agency_id != issue.lead_agency_id for c in issue.cooperations.all())
        assert 0 <= len(issue.cooperations.all()) <= 3
        # The timeline sits between filing and the last activity.
        times = [e.created_at for e in issue.events.all()]
        assert issue.created_at <= min(times) and max(times) <= issue.updated_at, issue.title
        assert (issue.resolved_at is not None) == (issue.status in DONE_STATUSES), issue.title
    created = Issue.objects.values_list("created_at", flat=True)
    assert max(created) - min(created) > timedelta(days=180)  # spread over the year
    answered = Cooperation.objects.exclude(status=CooperationStatus.REQUESTED)
    assert not answered.filter(answered_at__isnull=True).exists()


def test_seeding_mails_nobody_but_fills_the_bells(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        seed()

    assert callbacks == []  # no e-mail sweep kicked
    assert not Notification.objects.exclude(email_due_at=None).exists()  # no e-mail owed
    staff = User.objects.filter(username__endswith="-staff1")
    with_bell = staff.filter(notifications__isnull=False).distinct().count()
    print(f"{with_bell} of {staff.count()} staff have notifications")
    assert with_bell == staff.count()
    # Dated as the history happened; the old ones already read, the recent ones not.
    notice = Notification.objects.select_related("event").first()
    assert notice.created_at == notice.event.created_at
    assert Notification.objects.filter(read_at=None).exists()
    assert Notification.objects.exclude(read_at=None).exists()


def test_demo_requests_have_deadlines_and_people_in_charge_and_people_follow_issues():
    seed()

    late = Cooperation.objects.filter(status="requested", reply_by__lt=timezone.localdate())
    assert late.exists()
    assert Cooperation.objects.exclude(assignee=None).count() > Cooperation.objects.count() / 2
    for cooperation in Cooperation.objects.exclude(assignee=None).select_related("assignee"):
        assert cooperation.assignee.agency_id == cooperation.agency_id
    assert Follow.objects.filter(source=FollowSource.MANUAL).exists()
    assert Follow.objects.filter(source=FollowSource.FILED).exists()
    assert SavedSearch.objects.filter(include_in_digest=True).exists()


def test_running_it_twice_creates_nothing_new():
    seed()
    before = counts()

    out = seed()

    assert counts() == before
    assert f"0 created, {len(DEMO_ISSUES)} already there" in out


def test_bulk_tops_up_to_exactly_the_requested_numbers():
    seed()
    demo_issues, demo_comments, demo_events, _ = counts()

    out = seed("--issues", "300", "--comments", "900")

    assert Issue.objects.count() == demo_issues + 300
    assert Comment.objects.count() == demo_comments + 900
    # One "created" event per generated issue, one "comment" event per comment.
    assert Event.objects.count() == demo_events + 300 + 900
    assert not Issue.objects.exclude(events__kind=EventKind.CREATED).exists()
    assert not Comment.objects.exclude(
        pk__in=Event.objects.filter(kind=EventKind.COMMENT).values("comment")
    ).exists()
    assert "+300 issues" in out and "+900 comments" in out


def test_generated_issues_look_plausible():
    seed("--issues", "300", "--comments", "900")

    generated = Issue.objects.exclude(title__in=DEMO_TITLES)
    assert not Cooperation.objects.filter(agency=F("issue__lead_agency")).exists()
    per_issue = Cooperation.objects.filter(issue__in=generated).count() / generated.count()
    assert 1.2 < per_issue < 1.8
    restricted = generated.filter(visibility=Visibility.RESTRICTED).count() / generated.count()
    assert 0.05 < restricted < 0.25
    assert len(set(generated.values_list("status", flat=True))) == 5
    # Comments fall inside their issue's activity window.
    assert not Comment.objects.filter(created_at__lt=F("issue__created_at")).exists()
    assert not Comment.objects.filter(created_at__gt=F("issue__updated_at")).exists()


def test_bulk_counts_are_totals_not_increments():
    seed("--issues", "300", "--comments", "900")
    before = counts()

    seed("--issues", "300", "--comments", "900")
    assert counts() == before

    seed("--issues", "350", "--comments", "900")
    assert Issue.objects.count() == before[0] + 50
    assert Comment.objects.count() == before[1]


def test_negative_numbers_are_refused():
    with pytest.raises(CommandError):
        call_command("seed_demo", "--issues", "-1", stdout=io.StringIO())


def test_some_late_demo_requests_were_escalated_on_the_timeline_and_in_the_bell():
    seed()

    escalations = Event.objects.filter(kind=EventKind.ESCALATED)
    assert escalations.exists()
    for event in escalations.select_related("agency"):
        [notice] = Notification.objects.filter(event=event)
        assert notice.recipient.username == f"{event.agency.slug}-vice"
        assert notice.email_due_at is None
