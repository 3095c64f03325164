"""Meeting and report-deadline reminders: planned as rows, claimed, sent once.

Every reminder is a ``ReminderDelivery`` row, unique per (meeting, purpose,
recipient, offset, due time); the due time follows the meeting's time, so a
meeting moved to another day is reminded of again for its new time, and rows
planned for its old time are never sent. A periodic sweep (Celery beat, or ``manage.py
send_due_reminders``) first *plans*: it inserts the rows whose moment has come,
ignoring conflicts, so two sweeps at once create each row once. Then it
*sends*, with the outbox sweep of ``core.outbox`` (the notification e-mails'
too): it claims due rows under a row lock (``skip_locked``) with a short
lease, commits, mails each one outside any transaction, and marks it sent
(with its notice in the bell) only after the SMTP server accepted it. A
failed send is retried by later sweeps with backoff; a sweep that died
mid-send leaves a lease that expires, and the next sweep takes the row over.
No far-future ETA tasks (see PITFALLS.md).

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

from dataclasses import dataclass
from datetime import datetime, timedelta
from email.mime.text import MIMEText
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.mail import EmailMessage
from django.db.models import (
    DateTimeField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Value,
)
from django.db.models.functions import ExtractYear, Greatest
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext

from agencies.models import Agency, Delivery, NoticeKind, Role, User
from core.outbox import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_LIMIT,
    Outbox,
    absolute_url,
    email_from_templates,
    language_of,
)
from issues import rules as issue_rules

from . import ics
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

SEOUL = ZoneInfo("Asia/Seoul")

# Who, besides the Mayor's office and the agenda's issue owners, is reminded
# of a meeting: these roles at each invited organization.
AUDIENCE_ROLES = {
    MeetingKind.VICE_HEADS: (Role.VICE_HEAD,),
    MeetingKind.HEADS: (Role.HEAD,),
    MeetingKind.PERFORMANCE_BRIEFING: (Role.HEAD,),
    MeetingKind.OTHER: (Role.HEAD, Role.VICE_HEAD),
}


@dataclass
class SweepResult:
    sent: int = 0
    failed: int = 0
    skipped: int = 0  # given back untried (the lease ran short), or sent by another sweep
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
    plans = [(meeting, _due_plan(meeting, now)) for meeting in upcoming_meetings(now, _horizon())]
    plans = [(meeting, plan) for meeting, plan in plans if plan["meeting"] or plan["report"]]
    wanted = _wanted_rows(plans) if plans else {}
    planned = _create_missing(wanted, now, [meeting.pk for meeting, _ in plans])
    return planned + _plan_cancellations(now)


def upcoming_meetings(now: datetime, horizon: timedelta) -> list[Meeting]:
    """Scheduled meetings starting within ``horizon`` of ``now``, with the
    organizations and agenda issues that say whom they concern (what
    ``meeting_audience`` reads). The daily digest asks the same question."""
    return list(
        Meeting.objects.filter(
            status=MeetingStatus.SCHEDULED, starts_at__gt=now, starts_at__lte=now + horizon
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


def _wanted_rows(plans: list[tuple[Meeting, dict[str, list[timedelta]]]]) -> dict[tuple, datetime]:
    """(meeting, purpose, recipient, offset) -> due time, for every row the plans call for."""
    users = _candidate_users([meeting for meeting, _ in plans])
    submitted = set(
        PerformanceReport.objects.filter(
            year__in={report_year(meeting) for meeting, plan in plans if plan["report"]},
            status=PerformanceReportStatus.SUBMITTED,
        ).values_list("agency_id", "year")
    )
    wanted: dict[tuple, datetime] = {}
    for meeting, plan in plans:
        for user in meeting_audience(meeting, users) if plan["meeting"] else []:
            for offset in plan["meeting"]:
                key = (meeting.pk, ReminderPurpose.MEETING, user.pk, offset)
                wanted[key] = meeting.starts_at - offset
        for user in _report_audience(meeting, users, submitted) if plan["report"] else []:
            for offset in plan["report"]:
                key = (meeting.pk, ReminderPurpose.REPORT_DEADLINE, user.pk, offset)
                wanted[key] = report_deadline(meeting) - offset
    return wanted


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


def meeting_audience(meeting: Meeting, users: list[User]) -> list[User]:
    """Who among ``users`` a meeting concerns: the Mayor's office, the invited
    organizations' people of the meeting's roles, and its agenda issues' owners."""
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


def _report_audience(
    meeting: Meeting, users: list[User], submitted: set[tuple[int, int]]
) -> list[User]:
    """Heads of invited organizations whose report for the briefing's year is not in."""
    year = report_year(meeting)
    invited = {agency.pk for agency in meeting.active_invited}
    return [
        user
        for user in users
        if user.role == Role.HEAD
        and user.agency_id in invited
        and (user.agency_id, year) not in submitted
    ]


# What makes a reminder the same one: the fields of its unique constraint (reminder_once).
_IDENTITY = ("meeting_id", "purpose", "recipient_id", "offset", "due_at")


def _create_missing(wanted: dict[tuple, datetime], now: datetime, meeting_ids: list[int]) -> int:
    """Create the ``wanted`` rows not there yet: {(meeting, purpose, recipient, offset): due_at}."""
    if not wanted:
        return 0
    existing = set(
        ReminderDelivery.objects.filter(meeting_id__in=meeting_ids).values_list(*_IDENTITY)
    )
    identities = [(*key, due_at) for key, due_at in wanted.items()]
    new = [
        ReminderDelivery(**dict(zip(_IDENTITY, identity, strict=True)), created_at=now)
        for identity in identities
        if identity not in existing
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


# --- sending (core.outbox) -----------------------------------------------------------


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


def owed(now: datetime) -> QuerySet[ReminderDelivery]:
    """Unsent rows that are due and still worth sending, leased or backing off or not."""
    return (
        ReminderDelivery.objects.filter(
            sent_at__isnull=True, due_at__lte=now, recipient__is_active=True
        )
        .exclude(Exists(_superseded(now)))
        .annotate(report_year=ExtractYear("meeting__starts_at", tzinfo=SEOUL))
        .filter(_meeting_reminder_owed(now) | _cancellation_owed(now) | _report_reminder_owed(now))
    )


def _superseded(now: datetime) -> QuerySet[ReminderDelivery]:
    """A later step of the same chain, for the same moment, that is due too.

    That one is sent and this one never is (e.g. the "7 days" row waited out
    an SMTP outage until the "1 day" row came). ``due_at + offset`` is the
    moment a row is about; rows of a moved meeting's old time are about
    another one.
    """
    return ReminderDelivery.objects.filter(
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


def _meeting_reminder_owed(now: datetime) -> Q:
    """The meeting is scheduled, ahead, still at the row's time; the recipient still concerned."""
    return (
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
    )


def _cancellation_owed(now: datetime) -> Q:
    return Q(
        purpose=ReminderPurpose.CANCELLATION,
        meeting__status=MeetingStatus.CANCELLED,
        meeting__starts_at__gt=now,
    )


def _report_reminder_owed(now: datetime) -> Q:
    """The deadline is ahead and still the row's; a head of an invited organization
    whose report for the briefing's year (``report_year``) is not submitted."""
    invited = Meeting.invited_agencies.through.objects.filter(
        meeting_id=OuterRef("meeting_id"), agency_id=OuterRef("recipient__agency_id")
    )
    submitted = PerformanceReport.objects.filter(
        agency_id=OuterRef("recipient__agency_id"),
        year=OuterRef("report_year"),
        status=PerformanceReportStatus.SUBMITTED,
    )
    return (
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


class ReminderOutbox(Outbox[ReminderDelivery]):
    """``ReminderDelivery`` rows, each sent once; its bell notice comes with the mark."""

    model = ReminderDelivery
    skipped_field = None  # nothing is withheld at send time: ``owed`` decides
    message_uuid_field = "message_id"
    message_id_prefix = "reminder"
    purpose_field = "purpose"
    name, names = "reminder", "reminders"
    sweep_task = "meetings.tasks.send_due_reminders"

    def owed(self, now: datetime) -> QuerySet[ReminderDelivery]:
        return owed(now)

    def waiting_since(self) -> Greatest:
        # A row waits from its due time, or from when it was planned if that
        # came later (a meeting set up late is planned after its step's moment).
        return Greatest("due_at", "created_at")

    def with_relations(self, rows: QuerySet[ReminderDelivery]) -> QuerySet[ReminderDelivery]:
        return rows.select_related("meeting", "recipient", "recipient__agency").prefetch_related(
            Prefetch(
                "meeting__agenda_items",
                queryset=AgendaItem.objects.filter(status=AgendaItemStatus.ACCEPTED)
                .select_related("issue", "presenting_agency")
                .prefetch_related("issue__cooperations")
                .order_by("order", "pk"),
                to_attr="accepted_items",
            )
        )

    def compose(self, row: ReminderDelivery, *, at: datetime) -> EmailMessage | None:
        return _compose(row, at=at)

    def on_sent(self, row: ReminderDelivery) -> None:
        # The bell's side of a reminder: one notice per delivery.
        ReminderNotice.objects.bulk_create(
            [ReminderNotice(recipient=row.recipient, delivery=row)], ignore_conflicts=True
        )


OUTBOX = ReminderOutbox()


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
    done = OUTBOX.send(now, limit=limit, batch_size=batch_size)
    # Nothing is withheld at send time here (``owed`` decides), so "skipped"
    # has always meant what the outbox calls deferred.
    return SweepResult(sent=done.sent, failed=done.failed, skipped=done.skipped + done.deferred)


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


# Which of a person's notice choices (/accounts/settings/) governs each reminder. A
# cancellation withdraws the invitation that only e-mailed meeting reminders carry,
# so it follows the meeting reminders' choice.
NOTICE_KINDS = {
    ReminderPurpose.MEETING: NoticeKind.MEETING_REMINDER,
    ReminderPurpose.CANCELLATION: NoticeKind.MEETING_REMINDER,
    ReminderPurpose.REPORT_DEADLINE: NoticeKind.DEADLINE_REMINDER,
}


def _compose(delivery: ReminderDelivery, *, at: datetime) -> EmailMessage | None:
    """The reminder as an e-mail in the recipient's language.

    None (no mail; the row is marked sent and the bell gets its notice) when
    the recipient has no address, or chose the digest or the bell alone for
    this kind of reminder. ``at`` is when it is sent: the label says how long
    is left from then.
    """
    user = delivery.recipient
    if not user.email:
        return None
    if user.delivery_for(NOTICE_KINDS[ReminderPurpose(delivery.purpose)]) != Delivery.IMMEDIATE:
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
        "meeting_url": absolute_url(meeting.get_absolute_url()),
        "report_url": absolute_url(_report_path(user, year)),
    }
    with translation.override(language_of(user)), timezone.override(SEOUL):
        context["left"] = time_left_label(context["days"])
        message = email_from_templates(f"meetings/email/{template}", context, to=user.email)
        if delivery.purpose != ReminderPurpose.REPORT_DEADLINE:
            cancel = delivery.purpose == ReminderPurpose.CANCELLATION
            message.attach(_invitation(meeting, user, url=context["meeting_url"], cancel=cancel))
    return message


def _invitation(meeting: Meeting, user: User, *, url: str, cancel: bool) -> MIMEText:
    """The meeting's invitation (or its withdrawal) as a text/calendar part (meetings.ics)."""
    method = "CANCEL" if cancel else "REQUEST"
    part = MIMEText(
        ics.invitation(meeting, user, url=url, cancel=cancel).decode(), "calendar", "utf-8"
    )
    part.set_param("method", method)
    part.add_header("Content-Disposition", "attachment", filename="meeting.ics")
    return part
