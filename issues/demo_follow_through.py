"""Demo data for following through between meetings (issue 9): who answers each
request and by when, who follows what, saved searches, and a bell worth opening.

Runs after ``issues.demo`` filed the demo issues (their history back-dated over
the past months), on the issues filed in that run only, so ``seed_demo`` stays
idempotent. Nothing here sends mail: the bell is written as the services would
have written it at the time, with no e-mail owed, and what is older than a few
days is marked read, as a real person's bell would be.
"""

from __future__ import annotations

import random
from datetime import datetime, time, timedelta

from django.db.models import F, OuterRef, Subquery
from django.utils import timezone

from agencies.models import Role, User
from core.workdays import add_working_days

from . import deadlines, services
from .models import (
    Cooperation,
    CooperationStatus,
    DeadlinePurpose,
    DeadlineReminder,
    DeadlineStep,
    Event,
    EventKind,
    Follow,
    FollowSource,
    Issue,
    Notification,
    Priority,
    SavedSearch,
)
from .notifications import NOTIFYING_KINDS, notify

SEED = 20261203
READ_AFTER = timedelta(days=3)


def seed_follow_through(issue_ids: list[int]) -> dict[str, int]:
    """Owners, deadlines, follows, saved searches and the bell for these demo issues."""
    rng = random.Random(SEED)  # noqa: S311 - demo data, not secrets
    issues = list(
        Issue.objects.filter(pk__in=issue_ids).select_related("lead_agency").order_by("pk")
    )
    people = {user.username: user for user in User.objects.select_related("agency")}
    return {
        "owners": _owners_and_deadlines(issue_ids, people, rng),
        "follows": _follows(issues, people, rng),
        "searches": _saved_searches(people),
        "notices": _bell(issue_ids),
        "escalations": _escalations(issue_ids, people),
    }


def _owners_and_deadlines(issue_ids: list[int], people: dict[str, User], rng) -> int:
    """Every request's deadline 5 working days after it was made (as the form
    would have set it then), and a person in charge for two in three of them."""
    cooperations = list(
        Cooperation.objects.filter(issue_id__in=issue_ids).select_related("agency").order_by("pk")
    )
    for cooperation in cooperations:
        requested = timezone.localdate(cooperation.requested_at)
        cooperation.reply_by = add_working_days(requested, 5)
        if rng.random() < 2 / 3:
            cooperation.assignee = people.get(f"{cooperation.agency.slug}-staff{rng.randint(1, 2)}")
    Cooperation.objects.bulk_update(cooperations, ["reply_by", "assignee"])
    return sum(1 for cooperation in cooperations if cooperation.assignee_id)


def _follows(issues: list[Issue], people: dict[str, User], rng) -> int:
    """Beyond the automatic follows (filing, commenting, being assigned): each
    vice-head follows two issues their organization cooperates on, and the
    Mayor's office the urgent ones."""
    wanted = []
    by_agency: dict[int, list[Issue]] = {}
    for cooperation in Cooperation.objects.filter(issue__in=issues).select_related("issue"):
        by_agency.setdefault(cooperation.agency_id, []).append(cooperation.issue)
    for user in people.values():
        if user.role == Role.VICE_HEAD and user.agency_id in by_agency:
            choices = by_agency[user.agency_id]
            wanted += [(user, issue) for issue in rng.sample(choices, min(2, len(choices)))]
    mayor = people.get("mayor1")
    if mayor is not None:
        wanted += [(mayor, issue) for issue in issues if issue.priority == Priority.URGENT]
    rows = [Follow(user=user, issue=issue, source=FollowSource.MANUAL) for user, issue in wanted]
    Follow.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def _saved_searches(people: dict[str, User]) -> int:
    """A few searches people keep: staff watch their organization's late replies,
    the Mayor's office the urgent issues still open."""
    wanted = []
    for user in people.values():
        if user.username.endswith("-staff1") and user.agency is not None:
            wanted.append(
                (
                    user,
                    "우리 기관 회신 기한 경과",
                    f"agency={user.agency.slug}&reply_overdue=1",
                    True,
                )
            )
            wanted.append((user, "내가 구독한 현안", "following=1", False))
    mayor = people.get("mayor1")
    if mayor is not None:
        wanted.append((mayor, "긴급 현안", "priority=urgent&status=open", True))
    created = 0
    for user, name, query, digest in wanted:
        if not SavedSearch.objects.filter(user=user, name=name).exists():
            services.saved_search_create(
                user=user, name=name, query_string=query, include_in_digest=digest
            )
            created += 1
    return created


def _bell(issue_ids: list[int]) -> int:
    """The notifications the demo history would have written, dated when it
    happened, owing no e-mail; those older than a few days already read."""
    events = (
        Event.objects.filter(issue_id__in=issue_ids, kind__in=NOTIFYING_KINDS)
        .select_related("issue")
        .order_by("pk")
    )
    written = 0
    for event in events:
        written += len(notify(event))
    when = Subquery(Event.objects.filter(pk=OuterRef("event_id")).values("created_at")[:1])
    notices = Notification.objects.filter(event__issue_id__in=issue_ids)
    notices.update(created_at=when, email_due_at=None)
    old = timezone.now() - READ_AFTER
    notices.filter(created_at__lt=old, read_at=None).update(read_at=F("created_at"))
    return written


def _escalations(issue_ids: list[int], people: dict[str, User]) -> int:
    """Requests still unanswered 3 working days past their deadline have been
    escalated to the agency's vice-head, as the deadline chain would have done
    on that day: the row, marked sent (no mail now), with its timeline event
    and bell notice written by the outbox's own ``on_sent``."""
    today = timezone.localdate()
    late = Cooperation.objects.filter(
        issue_id__in=issue_ids, status=CooperationStatus.REQUESTED
    ).select_related("issue", "agency")
    escalated = 0
    for cooperation in late:
        day = add_working_days(cooperation.reply_by, 3)
        vice_head = people.get(f"{cooperation.agency.slug}-vice")
        if day > today or vice_head is None:
            continue
        moment = min(timezone.make_aware(datetime.combine(day, time(9))), timezone.now())
        row, created = DeadlineReminder.objects.get_or_create(
            purpose=DeadlinePurpose.COOPERATION_REPLY,
            cooperation=cooperation,
            recipient=vice_head,
            step=DeadlineStep.VICE_HEAD,
            round=0,
            deadline=cooperation.reply_by,
            defaults={
                "issue": cooperation.issue,
                "rank": (day - cooperation.reply_by).days,
                "due_at": moment,
                "sent_at": moment,
                "created_at": moment,
            },
        )
        if created:
            with services.notifications_suppressed():  # the recipient's bell only
                deadlines.OUTBOX.on_sent(row)
            Event.objects.filter(issue=cooperation.issue, kind=EventKind.ESCALATED).filter(
                created_at__gt=moment
            ).update(created_at=moment)
            Notification.objects.filter(
                event__issue=cooperation.issue, event__kind=EventKind.ESCALATED
            ).update(created_at=moment, email_due_at=None)
            Issue.objects.filter(pk=cooperation.issue_id, updated_at__lt=moment).update(
                updated_at=moment
            )
            escalated += 1
    return escalated
