"""Meeting and report-deadline reminders: planned as rows, claimed, sent once.

Every reminder is a ``ReminderDelivery`` row, unique per (meeting, purpose,
recipient, offset, due time); the due time follows the meeting's time, so a
meeting moved to another day is reminded of again for its new time, and rows
planned for its old time are never sent. A periodic sweep (Celery beat, or ``manage.py
send_due_reminders``) first *plans*: it inserts the rows whose moment has come,
ignoring conflicts, so two sweeps at once create each row once. Then it
*sends*: it claims due rows under a row lock (``skip_locked``) with a short
lease, commits, mails each one outside any transaction, and marks it sent only
after the SMTP server accepted it. A failed send is retried by later sweeps
with backoff; a sweep that died mid-send leaves a lease that expires, and the
next sweep takes the row over. No far-future ETA tasks (see PITFALLS.md).

Whether a row may still be sent is decided in the claim query itself: the
meeting is still scheduled and ahead (or cancelled and ahead, for a
cancellation notice), the recipient is still active, and for a report
reminder the deadline is ahead and the report is still not submitted. A row
that fails those tests is simply never claimed.

Late planning: when a meeting is created or moved so late that several steps
of its chain are already due (set up 23 hours ahead: both "7 days" and "1 day"
before have passed), only the latest step still due is planned, and a row of
an earlier step still unsent (the SMTP server was down) is superseded by it,
so nobody gets two reminders of one moment at once. The mail is labelled with
the real time left when it is sent ("D-3", "내일", "오늘"), not its step's name.

Exactly what is guaranteed: each row is sent at most once, except in one
window: the SMTP server accepted the mail and the sweep died before marking
the row sent; the row is sent again after its lease, with the same
``Message-ID`` (``ReminderDelivery.message_id``), so mail clients and people
can tell it is the same message.
"""

from __future__ import annotations

import functools
import logging
import smtplib
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email.mime.text import MIMEText
from email.utils import parseaddr
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.db.models import (
    Count,
    DateTimeField,
    Exists,
    ExpressionWrapper,
    F,
    Min,
    OuterRef,
    Prefetch,
    Q,
    Value,
)
from django.db.models.functions import ExtractYear, Greatest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext
from icalendar import Calendar, Event, Timezone, vCalAddress, vText

from agencies.models import Agency, Role, User
from core import metrics
from core.broker import enqueue_on_commit
from core.outbox import Backlog
from issues import rules as issue_rules

from .ics import meeting_uid
from .models import (
    AgendaItem,
    AgendaItemStatus,
    Meeting,
    MeetingKind,
    MeetingStatus,
    PerformanceReport,
    PerformanceReportStatus,
    ReminderDelivery,
    ReminderNotice,
    ReminderPurpose,
)

logger = logging.getLogger(__name__)

SEOUL = ZoneInfo("Asia/Seoul")
# How long a sweep owns the rows it claimed. It stops sending before the
# lease runs out, so a second sweep never takes over a row still being sent.
LEASE = timedelta(minutes=10)
MAX_BACKOFF = timedelta(minutes=60)
DEFAULT_LIMIT = 500
DEFAULT_BATCH_SIZE = 50

# Who, besides the Mayor's office and the agenda's issue owners, is reminded
# of a meeting: these roles at each invited organization.
AUDIENCE_ROLES = {
    MeetingKind.VICE_HEADS: (Role.VICE_HEAD,),
    MeetingKind.HEADS: (Role.HEAD,),
    MeetingKind.PERFORMANCE_BRIEFING: (Role.HEAD,),
    MeetingKind.OTHER: (Role.HEAD, Role.VICE_HEAD),
}
# SMTP answers about one message; anything else from SMTP means the server
# (or the way to it) is down, and the rest of the sweep would fail the same way.
_MESSAGE_ERRORS = (smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError)


@dataclass
class SweepResult:
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    planned: int = 0


# --- planning ------------------------------------------------------------------------


def _days(values) -> list[timedelta]:
    return sorted({timedelta(days=value) for value in values}, reverse=True)


def _meeting_offsets(kind: str) -> list[timedelta]:
    return _days(settings.MEETING_REMINDER_OFFSETS_DAYS.get(kind, ()))


def _report_offsets() -> list[timedelta]:
    return _days(settings.REPORT_REMINDER_OFFSETS_DAYS)


def _report_lead() -> timedelta:
    """How long before the briefing its reports are due."""
    return timedelta(days=settings.REPORT_DEADLINE_DAYS_BEFORE_BRIEFING)


def report_deadline(briefing: Meeting) -> datetime:
    """When the performance reports for a briefing are due."""
    return briefing.starts_at - _report_lead()


def report_year(briefing: Meeting) -> int:
    """The year of the reports a briefing hears (its own year, in Seoul)."""
    return briefing.starts_at.astimezone(SEOUL).year


def _horizon() -> timedelta:
    """How far ahead of a meeting its earliest reminder can fall."""
    longest = [offset for kind in MeetingKind for offset in _meeting_offsets(kind)]
    longest += [_report_lead() + offset for offset in _report_offsets()]
    return max(longest, default=timedelta(0))


def plan_reminders(now: datetime) -> int:
    """Create the delivery rows whose moment has come; return how many were new.

    For each scheduled meeting after ``now`` and each offset of its kind with
    ``starts_at - offset <= now``: the vice-heads (``vice_heads``) or heads
    (``heads``, ``performance_briefing``; both for ``other``) of the active
    invited organizations, the active Mayor's office, and the owners (filer and
    assignee) of issues proposed or accepted for its agenda. For a briefing
    whose report deadline is ahead, and each report offset already reached:
    the heads of invited organizations whose report for that year is not
    submitted. A reminder whose moment passed while the meeting (or deadline)
    is still ahead is created late; nothing is created for a passed one.
    Safe to run concurrently: existing rows are skipped, conflicts ignored.
    """
    meetings = list(
        Meeting.objects.filter(
            status=MeetingStatus.SCHEDULED, starts_at__gt=now, starts_at__lte=now + _horizon()
        ).prefetch_related(
            Prefetch(
                "invited_agencies",
                queryset=Agency.objects.active().only("pk"),
                to_attr="active_invited",
            ),
            Prefetch(
                "agenda_items",
                queryset=AgendaItem.objects.filter(
                    issue__isnull=False,
                    status__in=[AgendaItemStatus.PROPOSED, AgendaItemStatus.ACCEPTED],
                )
                .select_related("issue")
                .prefetch_related("issue__cooperations"),
                to_attr="issue_items",
            ),
        )
    )
    wanted: dict[tuple, datetime] = {}  # (meeting, purpose, recipient, offset) -> due
    plans = [(meeting, _due_plan(meeting, now)) for meeting in meetings]
    plans = [(meeting, plan) for meeting, plan in plans if plan["meeting"] or plan["report"]]
    if plans:
        users = _candidate_users([meeting for meeting, _ in plans])
        submitted = set(
            PerformanceReport.objects.filter(
                year__in={report_year(meeting) for meeting, plan in plans if plan["report"]},
                status=PerformanceReportStatus.SUBMITTED,
            ).values_list("agency_id", "year")
        )
        for meeting, plan in plans:
            if plan["meeting"]:
                for user in _meeting_audience(meeting, users):
                    for offset in plan["meeting"]:
                        key = (meeting.pk, ReminderPurpose.MEETING, user.pk, offset)
                        wanted[key] = meeting.starts_at - offset
            if plan["report"]:
                year = report_year(meeting)
                invited = {agency.pk for agency in meeting.active_invited}
                for user in users:
                    if (
                        user.role == Role.HEAD
                        and user.agency_id in invited
                        and (user.agency_id, year) not in submitted
                    ):
                        for offset in plan["report"]:
                            key = (meeting.pk, ReminderPurpose.REPORT_DEADLINE, user.pk, offset)
                            wanted[key] = report_deadline(meeting) - offset
    planned = _create_missing(wanted, now, [meeting.pk for meeting, _ in plans])
    return planned + _plan_cancellations(now)


def _latest_due(offsets: list[timedelta], moment: datetime, now: datetime) -> list[timedelta]:
    """The latest step of a chain whose time has come (the smallest offset), or none.

    Earlier steps that are also due are not planned: a meeting set up 23
    hours ahead gets its "1 day before" reminder only, not "7 days before"
    too. In a chain planned on time each step is the latest when its time
    comes, so each is planned once, in turn.
    """
    due = [offset for offset in offsets if moment - offset <= now]
    return [min(due)] if due else []


def _due_plan(meeting: Meeting, now: datetime) -> dict[str, list[timedelta]]:
    plan = {
        "meeting": _latest_due(_meeting_offsets(meeting.kind), meeting.starts_at, now),
        "report": [],
    }
    if meeting.kind == MeetingKind.PERFORMANCE_BRIEFING and report_deadline(meeting) > now:
        plan["report"] = _latest_due(_report_offsets(), report_deadline(meeting), now)
    return plan


def _candidate_users(meetings: list[Meeting]) -> list[User]:
    """Everyone any of these meetings may remind, in one query."""
    agency_ids = {agency.pk for meeting in meetings for agency in meeting.active_invited}
    owner_ids = {
        user_id
        for meeting in meetings
        for item in meeting.issue_items
        for user_id in (item.issue.created_by_id, item.issue.assignee_id)
        if user_id is not None
    }
    return list(
        User.objects.filter(
            Q(role=Role.MAYOR_OFFICE)
            | Q(role__in=[Role.HEAD, Role.VICE_HEAD], agency_id__in=agency_ids)
            | Q(pk__in=owner_ids),
            is_active=True,
        ).order_by("pk")
    )


def _meeting_audience(meeting: Meeting, users: list[User]) -> list[User]:
    roles = AUDIENCE_ROLES.get(meeting.kind, ())
    invited = {agency.pk for agency in meeting.active_invited}
    by_id = {user.pk: user for user in users}
    audience = {
        user.pk: user
        for user in users
        if user.role == Role.MAYOR_OFFICE or (user.role in roles and user.agency_id in invited)
    }
    for item in meeting.issue_items:
        for owner_id in (item.issue.created_by_id, item.issue.assignee_id):
            owner = by_id.get(owner_id)
            # An owner who can no longer read the issue is no longer its owner
            # in any sense that matters here (e.g. moved to another agency).
            if owner is not None and issue_rules.can_view(owner, item.issue):
                audience[owner.pk] = owner
    return list(audience.values())


def _create_missing(wanted: dict[tuple, datetime], now: datetime, meeting_ids: list[int]) -> int:
    if not wanted:
        return 0
    existing = set(
        ReminderDelivery.objects.filter(meeting_id__in=meeting_ids).values_list(
            "meeting_id", "purpose", "recipient_id", "offset", "due_at"
        )
    )
    new = [
        ReminderDelivery(
            meeting_id=meeting_id,
            purpose=purpose,
            recipient_id=recipient_id,
            offset=offset,
            due_at=due_at,
            created_at=now,
        )
        for (meeting_id, purpose, recipient_id, offset), due_at in wanted.items()
        if (meeting_id, purpose, recipient_id, offset, due_at) not in existing
    ]
    # ignore_conflicts: a concurrent sweep may have inserted some in between.
    ReminderDelivery.objects.bulk_create(new, ignore_conflicts=True, batch_size=500)
    return len(new)


def plan_cancellation_notices(meeting: Meeting, now: datetime) -> int:
    """Create a cancellation notice for everyone already sent a reminder of ``meeting``.

    The next sweep sends them, although the meeting is cancelled. Called by
    ``services.meeting_cancel``; every sweep also repeats this for all
    cancelled meetings ahead, which catches a reminder that was being sent
    while the meeting was cancelled. Returns the number of new notices.
    """
    return _plan_cancellations(now, meeting_id=meeting.pk)


def _plan_cancellations(now: datetime, meeting_id: int | None = None) -> int:
    notice = ReminderDelivery.objects.filter(
        meeting=OuterRef("meeting"),
        recipient=OuterRef("recipient"),
        purpose=ReminderPurpose.CANCELLATION,
    )
    reminded = ReminderDelivery.objects.filter(
        purpose=ReminderPurpose.MEETING,
        sent_at__isnull=False,
        meeting__status=MeetingStatus.CANCELLED,
        meeting__starts_at__gt=now,
    ).exclude(Exists(notice))
    if meeting_id is not None:
        reminded = reminded.filter(meeting_id=meeting_id)
    pairs = set(reminded.values_list("meeting_id", "recipient_id"))
    ReminderDelivery.objects.bulk_create(
        [
            ReminderDelivery(
                meeting_id=meeting_pk,
                purpose=ReminderPurpose.CANCELLATION,
                recipient_id=recipient_id,
                offset=timedelta(0),
                due_at=now,
                created_at=now,
            )
            for meeting_pk, recipient_id in sorted(pairs)
        ],
        ignore_conflicts=True,
    )
    return len(pairs)


# --- sending -------------------------------------------------------------------------


def _still_concerned() -> Q:
    """Whether the recipient is still someone the reminder is for, at send time.

    Planning decided it once; an organization uninvited since, a vice-head who
    became staff, or an issue taken off the agenda must not get the mail.
    """
    invited = Meeting.invited_agencies.through.objects.filter(
        meeting_id=OuterRef("meeting_id"), agency_id=OuterRef("recipient__agency_id")
    )
    in_role = Q()
    for kind, roles in AUDIENCE_ROLES.items():
        in_role |= Q(meeting__kind=kind, recipient__role__in=roles)
    owns_agenda_issue = AgendaItem.objects.filter(
        meeting_id=OuterRef("meeting_id"),
        status__in=[AgendaItemStatus.PROPOSED, AgendaItemStatus.ACCEPTED],
    ).filter(
        Q(issue__created_by_id=OuterRef("recipient_id"))
        | Q(issue__assignee_id=OuterRef("recipient_id"))
    )
    return (
        Q(recipient__role=Role.MAYOR_OFFICE)
        | (in_role & Exists(invited))
        | Exists(owns_agenda_issue)
    )


def _sendable(now: datetime):
    """Unsent rows that are due, not leased, not backing off, and still worth sending."""
    return (
        owed(now)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lte=now))
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .order_by("due_at", "pk")
    )


def backlog(now: datetime | None = None) -> dict[str, Backlog]:
    """Reminders due and unsent, by purpose, for /healthz and /metrics.

    A row waits from its due time, or from when it was planned if that came
    later (a meeting set up late is planned after its step's moment).
    """
    now = now or timezone.now()
    rows = (
        owed(now)
        .order_by()
        .values("purpose")
        .annotate(due=Count("pk"), oldest=Min(Greatest("due_at", "created_at")))
    )
    return {row["purpose"]: Backlog(row["due"], row["oldest"]) for row in rows}


def retry_now(rows) -> int:
    """Clear the backoff of these unsent rows and queue a sweep; how many were cleared."""
    from .tasks import send_due_reminders

    count = rows.filter(sent_at__isnull=True).update(next_attempt_at=None)
    if count:
        enqueue_on_commit(send_due_reminders)
    return count


def owed(now: datetime):
    """Unsent rows that are due and still worth sending, leased or backing off or not."""
    invited = Meeting.invited_agencies.through.objects.filter(
        meeting_id=OuterRef("meeting_id"), agency_id=OuterRef("recipient__agency_id")
    )
    submitted = PerformanceReport.objects.filter(
        agency_id=OuterRef("recipient__agency_id"),
        year=OuterRef("report_year"),
        status=PerformanceReportStatus.SUBMITTED,
    )
    # A later step of the same chain, for the same moment, is due too: that one
    # is sent and this one never is (e.g. the "7 days" row waited out an SMTP
    # outage until the "1 day" row came). ``due_at + offset`` is the moment a
    # row is about; rows of a moved meeting's old time are about another one.
    superseded = ReminderDelivery.objects.filter(
        meeting_id=OuterRef("meeting_id"),
        purpose=OuterRef("purpose"),
        recipient_id=OuterRef("recipient_id"),
        offset__lt=OuterRef("offset"),
        due_at__lte=now,
    ).filter(
        due_at=ExpressionWrapper(
            OuterRef("due_at") + OuterRef("offset") - F("offset"), output_field=DateTimeField()
        )
    )
    return (
        ReminderDelivery.objects.filter(
            sent_at__isnull=True, due_at__lte=now, recipient__is_active=True
        )
        .exclude(Exists(superseded))
        .annotate(report_year=ExtractYear("meeting__starts_at", tzinfo=SEOUL))
        .filter(
            Q(
                purpose=ReminderPurpose.MEETING,
                meeting__status=MeetingStatus.SCHEDULED,
                meeting__starts_at__gt=now,
                # Still about the meeting's current time (it may have moved).
                due_at=ExpressionWrapper(
                    F("meeting__starts_at") - F("offset"), output_field=DateTimeField()
                ),
            )
            & _still_concerned()
            | Q(
                purpose=ReminderPurpose.CANCELLATION,
                meeting__status=MeetingStatus.CANCELLED,
                meeting__starts_at__gt=now,
            )
            | (
                Q(
                    purpose=ReminderPurpose.REPORT_DEADLINE,
                    meeting__status=MeetingStatus.SCHEDULED,
                    meeting__starts_at__gt=now + _report_lead(),
                    recipient__role=Role.HEAD,
                    due_at=ExpressionWrapper(
                        F("meeting__starts_at") - Value(_report_lead()) - F("offset"),
                        output_field=DateTimeField(),
                    ),
                )
                & ~Exists(submitted)
                & Exists(invited)
            )
        )
    )


def _claim(now: datetime, size: int) -> list[int]:
    """Lease up to ``size`` sendable rows to this sweep and count the attempt.

    On PostgreSQL a concurrent sweep skips the rows locked here; on SQLite
    ``select_for_update`` is a no-op, but the IMMEDIATE transaction (see
    settings) takes the database's write lock first, serialising claims.
    """
    with transaction.atomic():
        ids = list(
            _sendable(now)
            .select_for_update(skip_locked=True, of=("self",))
            .values_list("pk", flat=True)[:size]
        )
        if ids:
            ReminderDelivery.objects.filter(pk__in=ids).update(
                claimed_until=now + LEASE, attempts=F("attempts") + 1
            )
    return ids


def send_due(
    now: datetime, *, limit: int = DEFAULT_LIMIT, batch_size: int = DEFAULT_BATCH_SIZE
) -> SweepResult:
    """Send up to ``limit`` due reminders, ``batch_size`` claimed at a time.

    Each row is leased (``claimed_until``) and its attempt counted in a short
    transaction; the mail goes out after commit; the row is marked sent (and
    its in-app notice created) once the SMTP server accepted it. A failure
    frees the row for a later sweep after a backoff of 2^attempts minutes (at
    most an hour). When the SMTP server is unreachable the sweep stops at the
    first failure and marks the rest of the batch failed with the same error.
    """
    started = time.monotonic()

    def clock() -> datetime:
        # ``now`` may be given (tests, a benchmark); time moves on from it,
        # in whole seconds so a quick sweep claims and backs off from ``now``.
        return now + timedelta(seconds=int(time.monotonic() - started))

    result = SweepResult()
    connection = get_connection()
    try:
        while result.sent + result.failed + result.skipped < limit:
            size = min(batch_size, limit - result.sent - result.failed - result.skipped)
            claimed_at = clock()
            ids = _claim(claimed_at, size)
            if not ids:
                break
            server_down = _send_batch(ids, claimed_at, clock, connection, result)
            if server_down or len(ids) < size:
                break
    finally:
        connection.close()
    return result


def _send_batch(ids, claimed_at, clock, connection, result: SweepResult) -> bool:
    """Send one batch claimed at ``claimed_at``; True when the SMTP server is unreachable.

    A failed row backs off from the moment of its claim, so a slow sweep
    does not push its retry further out.
    """
    rows = list(
        ReminderDelivery.objects.filter(pk__in=ids)
        .select_related("meeting", "recipient", "recipient__agency")
        .prefetch_related(
            Prefetch(
                "meeting__agenda_items",
                queryset=AgendaItem.objects.filter(status=AgendaItemStatus.ACCEPTED)
                .select_related("issue", "presenting_agency")
                .prefetch_related("issue__cooperations")
                .order_by("order", "pk"),
                to_attr="accepted_items",
            )
        )
        .order_by("due_at", "pk")
    )
    # Never send once the lease may have run out: another sweep may own the row by then.
    margin = timedelta(seconds=2 * (settings.EMAIL_TIMEOUT or 30))
    for index, row in enumerate(rows):
        if clock() >= claimed_at + LEASE - margin:
            _release(rows[index:])
            result.skipped += len(rows) - index
            return False
        try:
            message = _compose(row, connection, at=clock())
            if message is not None:
                connection.open()  # kept open across the batch; closed by send_due
                message.send()
        except _MESSAGE_ERRORS as error:
            _fail([row], error, claimed_at)
            result.failed += 1
            continue
        except OSError as error:  # the server or the network: the rest would fail alike
            connection.close()
            _fail(rows[index:], error, claimed_at)
            result.failed += len(rows) - index
            return True
        except Exception as error:
            logger.exception("reminder %s could not be composed or sent", row.pk)
            _fail([row], error, claimed_at)
            result.failed += 1
            continue
        if _mark_sent(row):
            result.sent += 1
        else:
            result.skipped += 1  # another sweep marked it sent first
    return False


def _mark_sent(delivery: ReminderDelivery) -> bool:
    with transaction.atomic():
        updated = ReminderDelivery.objects.filter(pk=delivery.pk, sent_at__isnull=True).update(
            sent_at=timezone.now(), claimed_until=None, next_attempt_at=None
        )
        if updated:
            _notify_in_app(delivery.recipient, delivery)
    if updated:
        metrics.delivery_sent(delivery.purpose)
    return bool(updated)


def _notify_in_app(user: User, delivery: ReminderDelivery) -> None:
    """The bell's side of a reminder: one notice per delivery."""
    ReminderNotice.objects.bulk_create(
        [ReminderNotice(recipient=user, delivery=delivery)], ignore_conflicts=True
    )


def _backoff(attempts: int) -> timedelta:
    return min(timedelta(minutes=2 ** min(attempts, 10)), MAX_BACKOFF)


def _fail(rows: list[ReminderDelivery], error: Exception, now: datetime) -> None:
    text = f"{type(error).__name__}: {error}"[:2000]
    logger.warning("reminders %s not sent: %s", [row.pk for row in rows], text)
    for row in rows:
        metrics.delivery_failed(row.purpose)
    by_attempts: dict[int, list[int]] = {}
    for row in rows:
        # The row was loaded after its claim, so ``attempts`` counts this one.
        by_attempts.setdefault(row.attempts, []).append(row.pk)
    for attempts, ids in by_attempts.items():
        ReminderDelivery.objects.filter(pk__in=ids, sent_at__isnull=True).update(
            claimed_until=None, last_error=text, next_attempt_at=now + _backoff(attempts)
        )


def _release(rows: list[ReminderDelivery]) -> None:
    """Give unsent claims back untried, without counting an attempt."""
    ReminderDelivery.objects.filter(pk__in=[row.pk for row in rows], sent_at__isnull=True).update(
        claimed_until=None, attempts=F("attempts") - 1
    )


def sweep(
    now: datetime | None = None,
    *,
    limit: int = DEFAULT_LIMIT,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> SweepResult:
    """Plan the reminders that have become due, then send what is due.

    What the Celery task ``meetings.send_due_reminders`` and the
    ``send_due_reminders`` command run. Safe to run at any time, as often as
    wanted, in several processes at once.
    """
    now = now or timezone.now()
    planned = plan_reminders(now)
    result = send_due(now, limit=limit, batch_size=batch_size)
    result.planned = planned
    return result


# --- the e-mail ------------------------------------------------------------------------


def _absolute(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


def _report_path(user: User, year: int) -> str:
    """The recipient's own report form, or the year's overview if they have no agency."""
    if user.agency is None:
        return reverse("performance:overview", args=[year])
    return reverse("performance:report", args=[year, user.agency.slug])


def time_left_label(days: int) -> str:
    """The real time left, in the active language: "D-3", "내일" (tomorrow), "오늘" (today)."""
    if days <= 0:
        return gettext("today")
    if days == 1:
        return gettext("tomorrow")
    return gettext("D-%(days)s") % {"days": days}


def message_id(delivery: ReminderDelivery) -> str:
    """The delivery's own ``Message-ID``, the same on every attempt to send it.

    Not ``email.utils.make_msgid``, which is random on each call. The domain
    is the sender's, so every worker host writes the same header.
    """
    domain = parseaddr(settings.DEFAULT_FROM_EMAIL)[1].rpartition("@")[2] or "localhost"
    return f"<reminder.{delivery.message_id.hex}@{domain}>"


def _compose(delivery: ReminderDelivery, connection, *, at: datetime) -> EmailMessage | None:
    """The reminder as an e-mail in the recipient's language (None: no address).

    ``at`` is when it is sent: the label says how long is left from then.
    """
    user = delivery.recipient
    if not user.email:
        return None
    meeting = delivery.meeting
    template = {
        ReminderPurpose.MEETING: "meeting_reminder",
        ReminderPurpose.REPORT_DEADLINE: "report_reminder",
        ReminderPurpose.CANCELLATION: "cancellation",
    }[delivery.purpose]
    year = report_year(meeting)
    context = {
        "user": user,
        "meeting": meeting,
        "days": delivery.days_left(at),
        "agenda": [
            item
            for item in getattr(meeting, "accepted_items", [])
            # Never a hint of an issue the recipient may not read (CONTRACT.md).
            if item.issue is None or issue_rules.can_view(user, item.issue)
        ],
        "deadline": report_deadline(meeting),
        "year": year,
        "meeting_url": _absolute(meeting.get_absolute_url()),
        "report_url": _absolute(_report_path(user, year)),
    }
    language = user.preferred_language or settings.LANGUAGE_CODE
    with translation.override(language), timezone.override(SEOUL):
        context["left"] = time_left_label(context["days"])
        subject = render_to_string(f"meetings/email/{template}_subject.txt", context)
        body = render_to_string(f"meetings/email/{template}_body.txt", context)
    message = EmailMessage(
        " ".join(subject.split()),
        body,
        settings.DEFAULT_FROM_EMAIL,
        [user.email],
        connection=connection,
        headers={"Message-ID": message_id(delivery)},
    )
    if delivery.purpose != ReminderPurpose.REPORT_DEADLINE:
        cancel = delivery.purpose == ReminderPurpose.CANCELLATION
        message.attach(_invitation(meeting, user, url=context["meeting_url"], cancel=cancel))
    return message


@functools.cache
def _seoul_vtimezone() -> Timezone:
    # Computing it walks a century hour by hour (~45 ms): once per process.
    # Seoul has kept one offset since 1988; the range keeps the VTIMEZONE small.
    return Timezone.from_tzid("Asia/Seoul", first_date=date(2000, 1, 1), last_date=date(2100, 1, 1))


def _invitation(meeting: Meeting, user: User, *, url: str, cancel: bool) -> MIMEText:
    """A single-event iCalendar invitation (REQUEST), or its withdrawal (CANCEL)."""
    method = "CANCEL" if cancel else "REQUEST"
    calendar = Calendar()
    calendar.add("prodid", "-//Gwangju Metropolitan City//Gwangju Hub reminders//KO")
    calendar.add("version", "2.0")
    calendar.add("method", method)
    event = Event()
    # The feed's UID (meetings.ics): calendars treat the invitation and the
    # feed's entry as one event.
    event.add("uid", meeting_uid(meeting))
    event.add("dtstamp", timezone.now())
    event.add("dtstart", meeting.starts_at.astimezone(SEOUL))
    event.add("dtend", meeting.ends_at.astimezone(SEOUL))
    event.add("summary", meeting.title)
    if meeting.location:
        event.add("location", meeting.location)
    event.add("description", url)
    event.add("url", url)
    # Calendars apply an update only when SEQUENCE grows; every change of the
    # meeting moves ``updated_at``, and a cancellation comes after it.
    sequence = int(max(meeting.updated_at, meeting.cancelled_at or meeting.updated_at).timestamp())
    event.add("sequence", sequence + (1 if cancel else 0))
    event.add("status", "CANCELLED" if cancel else "CONFIRMED")
    sender_name, sender_address = parseaddr(settings.DEFAULT_FROM_EMAIL)
    organizer = vCalAddress(f"mailto:{sender_address}")
    organizer.params["cn"] = vText(sender_name or "Gwangju Hub")
    event.add("organizer", organizer)
    attendee = vCalAddress(f"mailto:{user.email}")
    attendee.params["cn"] = vText(user.display_name)
    attendee.params["role"] = vText("REQ-PARTICIPANT")
    attendee.params["rsvp"] = vText("FALSE")
    event.add("attendee", attendee)
    calendar.add_component(_seoul_vtimezone())
    calendar.add_component(event)
    part = MIMEText(calendar.to_ical().decode(), "calendar", "utf-8")
    part.set_param("method", method)
    part.add_header("Content-Disposition", "attachment", filename="meeting.ics")
    return part
