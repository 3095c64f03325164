"""Reminders of the work between meetings: reply deadlines and due dates.

Two chains, counted in Korean working days (core.workdays):

* **A cooperation request** (``Cooperation.reply_by``), while it is still
  ``requested``: to its person in charge (or, when none, the cooperating
  agency's staff) 2 working days before the deadline and on the day; 3
  working days after it, to that agency's vice-head; 7 working days after it,
  to its head. An answer stops the chain.
* **An issue's due date** (``Issue.due_date``), while the issue is open, in
  progress or on hold: to its assignee (or the lead agency's staff) 3 working
  days before and on the day; once overdue, once a week (the first working day
  on or after each 7th day) until it is resolved; and 2 weeks after it, to the
  lead agency's vice-head.

Each reminder is a ``DeadlineReminder`` row, sent by the outbox sweep of
``core.outbox`` (the meeting reminders' and notification mails' too): at most
once, retried with backoff, taken over after a crash. A periodic sweep (Celery
beat, or ``manage.py send_deadline_reminders``) first *plans* the rows whose
working day has come (from ``DEADLINE_REMINDER_HOUR``, Asia/Seoul), in a
fixed number of queries however many people and requests there are, then
*sends* what is due.

Whether a row may still be sent is decided in the claim query: the request
still unanswered and its deadline still the row's, the issue not resolved or
closed, the recipient active and still of that agency. At send time the
permission rules are asked once more: nobody hears of an issue they may not
read. A vice-head's or head's reminder (an escalation) is also written on the
issue's timeline ("기한 경과로 부기관장에게 알림") and in the recipient's bell,
in the transaction that marks it sent.

Late planning: when several steps of one track are due at once (a deadline
set two days ago in the past, a sweep that was stopped for days), only the
latest is planned, and a step whose day is more than ``GRACE_WORKING_DAYS``
behind is not planned at all (its moment is gone; requests from before this
feature do not all escalate at once). A row of an earlier step still unsent
(the mail server was down) is superseded by a later one that is due.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.mail import EmailMessage
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext

from agencies.models import Role, User
from core import outbox
from core.outbox import Outbox, SweepResult, email_from_templates
from core.workdays import add_working_days, next_working_day, working_days_between

from . import rules
from .models import (
    ACTIVE_STATUSES,
    Cooperation,
    CooperationStatus,
    DeadlinePurpose,
    DeadlineReminder,
    DeadlineStep,
    EventKind,
    Issue,
    Notification,
)
from .services import event_record

logger = logging.getLogger(__name__)

SEOUL = ZoneInfo("Asia/Seoul")
LEASE = outbox.LEASE
DEFAULT_LIMIT = outbox.DEFAULT_LIMIT
DEFAULT_BATCH_SIZE = outbox.DEFAULT_BATCH_SIZE

# A step whose day is further behind than this is not planned any more.
GRACE_WORKING_DAYS = 2

# (step, working days from the deadline, who): the cooperation chain.
ASSIGNEE, VICE_HEAD, HEAD = "assignee", Role.VICE_HEAD, Role.HEAD
REPLY_STEPS = [
    (DeadlineStep.BEFORE, -2, ASSIGNEE),
    (DeadlineStep.ON_THE_DAY, 0, ASSIGNEE),
    (DeadlineStep.VICE_HEAD, 3, VICE_HEAD),
    (DeadlineStep.HEAD, 7, HEAD),
]
# The due-date chain: fixed steps, then weekly overdue rounds.
DUE_STEPS = [
    (DeadlineStep.BEFORE, -3, ASSIGNEE),
    (DeadlineStep.ON_THE_DAY, 0, ASSIGNEE),
]
OVERDUE_EVERY_DAYS = 7
DUE_ESCALATION_DAYS = 14  # calendar days after the due date: the vice-head hears of it
ESCALATIONS = (DeadlineStep.VICE_HEAD, DeadlineStep.HEAD)


@dataclass
class DeadlineSweepResult(SweepResult):
    planned: int = 0


# --- planning ------------------------------------------------------------------------


def _moment(day: date) -> datetime:
    """When a step falling on ``day`` is due: the start of office hours in Seoul."""
    return datetime.combine(day, time(settings.DEADLINE_REMINDER_HOUR), tzinfo=SEOUL)


@dataclass(frozen=True)
class _Step:
    step: str
    round: int
    day: date
    audience: str  # ASSIGNEE, VICE_HEAD or HEAD


def _latest_due(steps: list[_Step], now: datetime, oldest: date) -> list[_Step]:
    """Per audience track (the person in charge; the escalation), the latest step due.

    Earlier steps also due are not planned (late planning), nor one whose day
    is before ``oldest``.
    """
    latest: dict[bool, _Step] = {}
    for step in steps:
        if _moment(step.day) <= now and step.day >= oldest:
            track = step.audience == ASSIGNEE
            if track not in latest or step.day >= latest[track].day:
                latest[track] = step
    return list(latest.values())


def reply_steps(reply_by: date) -> list[_Step]:
    """The cooperation chain of a deadline, each step on its working day."""
    return [
        _Step(step, 0, add_working_days(reply_by, offset), audience)
        for step, offset, audience in REPLY_STEPS
    ]


def due_steps(due_date: date, today: date) -> list[_Step]:
    """The due-date chain up to ``today``: fixed steps, the weekly rounds, the escalation."""
    steps = [
        _Step(step, 0, add_working_days(due_date, offset), audience)
        for step, offset, audience in DUE_STEPS
    ]
    rounds = max(0, (today - due_date).days // OVERDUE_EVERY_DAYS)
    for number in range(max(1, rounds - 1), rounds + 1):
        day = next_working_day(due_date + timedelta(days=OVERDUE_EVERY_DAYS * number))
        steps.append(_Step(DeadlineStep.OVERDUE, number, day, ASSIGNEE))
    steps.append(
        _Step(
            DeadlineStep.VICE_HEAD,
            0,
            next_working_day(due_date + timedelta(days=DUE_ESCALATION_DAYS)),
            VICE_HEAD,
        )
    )
    return steps


def plan(now: datetime) -> int:
    """Create the reminder rows whose working day has come; return how many were new.

    A fixed number of queries: the unanswered requests and the open issues
    whose chain has a step in the window, the active people of the agencies
    concerned, the rows already planned in the window, and the insert.
    Safe to run concurrently: conflicts are ignored.
    """
    today = timezone.localtime(now, SEOUL).date()
    oldest = add_working_days(today, -GRACE_WORKING_DAYS)
    requests = list(
        Cooperation.objects.filter(
            status=CooperationStatus.REQUESTED,
            issue__status__in=ACTIVE_STATUSES,
            # From the last head's step still in the grace window to the first
            # "before" step that may have come.
            reply_by__gte=add_working_days(oldest, -REPLY_STEPS[-1][1]),
            reply_by__lte=add_working_days(today, -REPLY_STEPS[0][1]),
        ).values_list("pk", "issue_id", "agency_id", "assignee_id", "reply_by")
    )
    issues = list(
        Issue.objects.filter(
            status__in=ACTIVE_STATUSES,
            due_date__isnull=False,
            due_date__lte=add_working_days(today, -DUE_STEPS[0][1]),
        ).values_list("pk", "lead_agency_id", "assignee_id", "due_date")
    )
    wanted: list[tuple[str, int, int | None, int, str, _Step, date]] = []
    # (purpose, issue, cooperation, agency, assignee, step, deadline); recipients later.
    for pk, issue_id, agency_id, assignee_id, reply_by in requests:
        for step in _latest_due(reply_steps(reply_by), now, oldest):
            wanted.append(
                (DeadlinePurpose.COOPERATION_REPLY, issue_id, pk, agency_id, assignee_id, step,
                 reply_by)
            )  # fmt: skip
    for pk, agency_id, assignee_id, due_date in issues:
        for step in _latest_due(due_steps(due_date, today), now, oldest):
            wanted.append(
                (DeadlinePurpose.ISSUE_DUE, pk, None, agency_id, assignee_id, step, due_date)
            )
    if not wanted:
        return 0
    people = _people({agency_id for _, _, _, agency_id, _, _, _ in wanted})
    rows = {}
    for purpose, issue_id, cooperation_id, agency_id, assignee_id, step, deadline in wanted:
        for recipient_id in _recipients(people, agency_id, assignee_id, step.audience):
            key = (purpose, issue_id, cooperation_id, recipient_id, step.step, step.round, deadline)
            rows[key] = DeadlineReminder(
                purpose=purpose,
                issue_id=issue_id,
                cooperation_id=cooperation_id,
                recipient_id=recipient_id,
                step=step.step,
                round=step.round,
                deadline=deadline,
                rank=(step.day - deadline).days,
                due_at=_moment(step.day),
                created_at=now,
            )
    existing = set(
        DeadlineReminder.objects.filter(due_at__gte=_moment(oldest)).values_list(
            "purpose", "issue_id", "cooperation_id", "recipient_id", "step", "round", "deadline"
        )
    )
    new = [row for key, row in rows.items() if key not in existing]
    # ignore_conflicts: a concurrent sweep may have inserted some in between.
    DeadlineReminder.objects.bulk_create(new, ignore_conflicts=True, batch_size=1000)
    return len(new)


def _people(agency_ids: set[int]) -> dict[tuple[int, str], list[int]]:
    """{(agency, role): active user ids} for these agencies, in one query."""
    people: dict[tuple[int, str], list[int]] = defaultdict(list)
    rows = User.objects.filter(
        agency_id__in=agency_ids,
        is_active=True,
        role__in=[Role.STAFF, Role.VICE_HEAD, Role.HEAD],
    ).values_list("pk", "agency_id", "role")
    for pk, agency_id, role in rows.order_by("pk"):
        people[(agency_id, role)].append(pk)
    return people


def _recipients(
    people: dict[tuple[int, str], list[int]], agency_id: int, assignee_id: int | None, who: str
) -> list[int]:
    """The person in charge if still an active member of the agency, else its staff;
    or its vice-heads or heads."""
    if who != ASSIGNEE:
        return people.get((agency_id, who), [])
    members = {
        pk for role in (Role.STAFF, Role.VICE_HEAD, Role.HEAD) for pk in people[(agency_id, role)]
    }
    if assignee_id is not None and assignee_id in members:
        return [assignee_id]
    return people.get((agency_id, Role.STAFF), [])


# --- sending (core.outbox) -------------------------------------------------------------


def _chain_applies() -> Q:
    """The row's chain still runs, at its deadline, for someone still of the agency."""
    reply = Q(
        purpose=DeadlinePurpose.COOPERATION_REPLY,
        cooperation__status=CooperationStatus.REQUESTED,
        deadline=F("cooperation__reply_by"),
        recipient__agency_id=F("cooperation__agency_id"),
    )
    due = Q(
        purpose=DeadlinePurpose.ISSUE_DUE,
        deadline=F("issue__due_date"),
        recipient__agency_id=F("issue__lead_agency_id"),
    )
    return (reply | due) & Q(issue__status__in=ACTIVE_STATUSES, recipient__is_active=True)


def _superseded(now: datetime) -> QuerySet[DeadlineReminder]:
    """A later step of the same chain for the same person, due too: it is sent instead."""
    return DeadlineReminder.objects.filter(
        purpose=OuterRef("purpose"),
        issue_id=OuterRef("issue_id"),
        recipient_id=OuterRef("recipient_id"),
        deadline=OuterRef("deadline"),
        rank__gt=OuterRef("rank"),
        due_at__lte=now,
    )


class DeadlineOutbox(Outbox[DeadlineReminder]):
    """``DeadlineReminder`` rows, each sent once; an escalation also goes on the timeline."""

    model = DeadlineReminder
    due_field = "due_at"
    sent_field = "sent_at"
    skipped_field = "skipped_at"
    message_uuid_field = "message_uuid"
    message_id_prefix = "deadline"
    purpose_field = "purpose"
    name, names = "deadline reminder", "deadline reminders"
    logger = logger

    @property
    def lease(self) -> timedelta:
        return LEASE  # the module's constant, read when used (tests shorten it)

    def owed(self, now: datetime) -> QuerySet[DeadlineReminder]:
        return super().owed(now).filter(_chain_applies()).exclude(Exists(_superseded(now)))

    def with_relations(self, rows: QuerySet[DeadlineReminder]) -> QuerySet[DeadlineReminder]:
        return rows.select_related(
            "recipient__agency", "issue__lead_agency", "issue__assignee", "cooperation__agency"
        ).prefetch_related("issue__cooperations")

    def withheld_because(self, row: DeadlineReminder) -> str:
        if not row.recipient.is_active:
            return "recipient deactivated"
        if not rules.can_view(row.recipient, row.issue):
            return "recipient may not read the issue"
        return ""

    def compose(self, row: DeadlineReminder, *, at: datetime) -> EmailMessage | None:
        return _compose(row, at=at)

    def on_sent(self, row: DeadlineReminder) -> None:
        if row.step not in ESCALATIONS:
            return
        # The escalation on the timeline, for everyone involved to see; the
        # recipient's bell gets it too (the mail has just gone).
        agency = row.cooperation.agency if row.cooperation else row.issue.lead_agency
        name = row.recipient.display_name
        event = event_record(
            row.issue,
            None,
            EventKind.ESCALATED,
            agency=agency,
            changes=[
                {
                    "field": "escalation",
                    "purpose": row.purpose,
                    "step": row.step,
                    "deadline": row.deadline.isoformat(),
                    "recipient": {"ko": name, "en": name},
                }
            ],
        )
        Notification.objects.bulk_create(
            [Notification(recipient=row.recipient, event=event, created_at=event.created_at)],
            ignore_conflicts=True,
        )

    def sweep_task(self):
        from .tasks import send_deadline_reminders

        return send_deadline_reminders


OUTBOX = DeadlineOutbox()

# For /healthz and /metrics, and the admin's "retry now" and Message-ID column.
backlog = OUTBOX.backlog
retry_now = OUTBOX.retry_now
message_id = OUTBOX.message_id


def sweep(
    now: datetime | None = None,
    *,
    limit: int = DEFAULT_LIMIT,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> DeadlineSweepResult:
    """Plan the deadline reminders whose day has come, then send what is due.

    What the Celery task ``issues.send_deadline_reminders`` and the
    ``send_deadline_reminders`` command run. Safe to run at any time, as
    often as wanted, in several processes at once.
    """
    now = now or timezone.now()
    planned = plan(now)
    done = OUTBOX.send(now, limit=limit, batch_size=batch_size)
    return DeadlineSweepResult(
        sent=done.sent,
        failed=done.failed,
        skipped=done.skipped,
        deferred=done.deferred,
        planned=planned,
    )


# --- the e-mail ------------------------------------------------------------------------


def left_label(deadline: date, today: date) -> str:
    """Working days left, in the active language: "D-2", "오늘" (today), "3일 경과"."""
    days = working_days_between(today, deadline)
    if days > 0:
        return gettext("D-%(days)s") % {"days": days}
    if deadline == today or days == 0:
        return gettext("today")
    return gettext("%(days)s working days overdue") % {"days": -days}


def _compose(row: DeadlineReminder, *, at: datetime) -> EmailMessage | None:
    """The reminder in the recipient's language (None: no address; the row is done)."""
    user = row.recipient
    if not user.email:
        return None
    today = timezone.localtime(at, SEOUL).date()
    context = {
        "user": user,
        "row": row,
        "issue": row.issue,
        "cooperation": row.cooperation,
        "escalated": row.step in ESCALATIONS,
        "url": settings.SITE_URL.rstrip("/") + row.issue.get_absolute_url(),
    }
    template = (
        "issues/email/reply_deadline"
        if row.purpose == DeadlinePurpose.COOPERATION_REPLY
        else "issues/email/due_date"
    )
    with translation.override(user.preferred_language or settings.LANGUAGE_CODE):
        context["left"] = left_label(row.deadline, today)
        return email_from_templates(template, context, to=user.email)
