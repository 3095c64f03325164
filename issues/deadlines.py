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

from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta
from enum import Enum
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import connection
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext

from agencies.models import Delivery, NoticeKind, Role, User
from core.outbox import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_LIMIT,
    Outbox,
    SweepResult,
    absolute_url,
    email_from_templates,
    language_of,
)
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

SEOUL = ZoneInfo("Asia/Seoul")

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

    Three queries, however many people, requests and issues there are: the
    distinct due dates of open issues, then one INSERT ... SELECT per chain.
    The working-day arithmetic is done here, per deadline *date* (a few dozen
    of them), into a small table of (deadline, step, day) that the database
    joins with the requests or issues on that deadline and with the people
    of their agency. A chain's step is expanded to its recipients once: a
    step that already has rows is skipped, and concurrent sweeps are kept to
    one row each by the unique constraints (ON CONFLICT DO NOTHING).
    """
    today = timezone.localtime(now, SEOUL).date()
    oldest = add_working_days(today, -GRACE_WORKING_DAYS)
    reply_plan = []
    # From the last head's step still in the grace window to the first
    # "before" step that may have come.
    day = add_working_days(oldest, -REPLY_STEPS[-1][1])
    while day <= add_working_days(today, -REPLY_STEPS[0][1]):
        reply_plan += [(day, step) for step in _latest_due(reply_steps(day), now, oldest)]
        day += timedelta(days=1)
    due_dates = (
        Issue.objects.filter(
            status__in=ACTIVE_STATUSES,
            due_date__isnull=False,
            due_date__lte=add_working_days(today, -DUE_STEPS[0][1]),
        )
        .order_by()
        .values_list("due_date", flat=True)
        .distinct()
    )
    due_plan = [
        (deadline, step)
        for deadline in due_dates
        for step in _latest_due(due_steps(deadline, today), now, oldest)
    ]
    return _insert(DeadlinePurpose.COOPERATION_REPLY, reply_plan, now) + _insert(
        DeadlinePurpose.ISSUE_DUE, due_plan, now
    )


def _insert(purpose: str, steps: list[tuple[date, _Step]], now: datetime) -> int:
    """One INSERT ... SELECT: each chain at these (deadline, step), to its recipients.

    The recipients: the person in charge if still an active member of the
    agency, else the agency's active staff; or its active vice-heads or heads.
    """
    if not steps:
        return 0
    ops = connection.ops
    postgres = connection.vendor == "postgresql"
    cast = {"date": "%s::date", "int": "%s::int", "time": "%s::timestamptz", "text": "%s::text"}
    if not postgres:
        cast = dict.fromkeys(cast, "%s")
    row = "({date}, {text}, {int}, {int}, {time}, {text})".format(**cast)
    values, params = [], []
    for deadline, step in steps:
        values.append(row)
        params += [
            ops.adapt_datefield_value(deadline),
            step.step,
            step.round,
            (step.day - deadline).days,
            ops.adapt_datetimefield_value(_moment(step.day)),
            step.audience,
        ]
    reminder = DeadlineReminder._meta.db_table
    # Only table names and fixed text go into the SQL; every value is a parameter.
    params += [purpose, ops.adapt_datetimefield_value(now)]
    if purpose == DeadlinePurpose.COOPERATION_REPLY:
        chains = f"""
            SELECT c.issue_id AS issue_id, c.id AS cooperation_id, c.agency_id AS agency_id,
                   c.assignee_id AS assignee_id, p.*
            FROM plan p
            JOIN {Cooperation._meta.db_table} c ON c.reply_by = p.deadline AND c.status = %s
            JOIN {Issue._meta.db_table} i ON i.id = c.issue_id AND i.status IN (%s, %s, %s)
            WHERE NOT EXISTS (
                SELECT 1 FROM {reminder} r WHERE r.purpose = %s AND r.cooperation_id = c.id
                AND r.step = p.step AND r.round = p.round AND r.deadline = p.deadline)"""  # noqa: S608
        params += [CooperationStatus.REQUESTED]
    else:
        chains = f"""
            SELECT i.id AS issue_id, CAST(NULL AS bigint) AS cooperation_id,
                   i.lead_agency_id AS agency_id, i.assignee_id AS assignee_id, p.*
            FROM plan p
            JOIN {Issue._meta.db_table} i
                ON i.due_date = p.deadline AND i.status IN (%s, %s, %s)
            WHERE NOT EXISTS (
                SELECT 1 FROM {reminder} r WHERE r.purpose = %s AND r.issue_id = i.id
                AND r.step = p.step AND r.round = p.round AND r.deadline = p.deadline)"""  # noqa: S608
    params += [*ACTIVE_STATUSES, purpose]
    uuid = "gen_random_uuid()" if postgres else "lower(hex(randomblob(16)))"
    user = User._meta.db_table
    sql = f"""
        WITH plan (deadline, step, round, rank, due_at, audience) AS (VALUES {", ".join(values)})
        INSERT INTO {reminder} (purpose, issue_id, cooperation_id, recipient_id, step, round,
            deadline, rank, created_at, due_at, attempts, last_error, message_uuid)
        SELECT %s, chain.issue_id, chain.cooperation_id, u.id, chain.step, chain.round,
            chain.deadline, chain.rank, %s, chain.due_at, 0, '', {uuid}
        FROM ({chains}) chain
        JOIN {user} u ON u.agency_id = chain.agency_id AND u.is_active
        LEFT JOIN {user} a ON a.id = chain.assignee_id AND a.is_active
            AND a.agency_id = chain.agency_id
        WHERE (chain.audience = %s AND (u.id = a.id OR (a.id IS NULL AND u.role = %s)))
            OR (chain.audience <> %s AND u.role = chain.audience)
        ON CONFLICT DO NOTHING"""  # noqa: S608
    params += [ASSIGNEE, Role.STAFF, ASSIGNEE]
    # Plain values: a driver may write an Enum (our TextChoices) by its name.
    params = [value.value if isinstance(value, Enum) else value for value in params]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        count = cursor.rowcount
        if count < 0 and not postgres:
            # Python's sqlite3 gives no rowcount for a statement starting with WITH.
            cursor.execute("SELECT changes()")
            count = cursor.fetchone()[0]
        return max(count, 0)


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
    message_id_prefix = "deadline"
    purpose_field = "purpose"
    name, names = "deadline reminder", "deadline reminders"
    sweep_task = "issues.tasks.send_deadline_reminders"

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


OUTBOX = DeadlineOutbox()


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
    return DeadlineSweepResult(**asdict(done), planned=planned)


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
    """The reminder in the recipient's language (None: no mail, the row is done).

    No mail when the person has no address, or chose to hear of deadlines in
    the daily digest or only in the bell (/accounts/settings/): the digest
    lists their requests and issues due, and an escalation is in the bell.
    """
    user = row.recipient
    if not user.email or user.delivery_for(NoticeKind.DEADLINE_REMINDER) != Delivery.IMMEDIATE:
        return None
    today = timezone.localtime(at, SEOUL).date()
    context = {
        "user": user,
        "row": row,
        "issue": row.issue,
        "cooperation": row.cooperation,
        "escalated": row.step in ESCALATIONS,
        "url": absolute_url(row.issue.get_absolute_url()),
    }
    template = (
        "issues/email/reply_deadline"
        if row.purpose == DeadlinePurpose.COOPERATION_REPLY
        else "issues/email/due_date"
    )
    with translation.override(language_of(user)):
        context["left"] = left_label(row.deadline, today)
        return email_from_templates(template, context, to=user.email)
