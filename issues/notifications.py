"""Who hears about an issue event, in the app and by e-mail.

Two steps, so that nothing a user is owed lives only in the broker:

1. ``notify(event)`` runs inside the transaction that made the change (through
   ``services.event_record``): it works out the recipients and writes one
   ``Notification`` row each. The bell shows it at once, Redis or no Redis.
   When the recipient has an address, the row also owes an e-mail.
2. ``deliver_due()`` is the e-mail sweep (Celery beat every minute, a kick
   after each change, or ``manage.py deliver_notifications``): the outbox
   sweep of ``core.outbox``, the same as the reminders'. It claims owed rows
   under a row lock (``skip_locked``) with a lease, commits, sends each mail
   outside any transaction, and marks it sent only after the SMTP server
   accepted it. A failure is retried by later sweeps with backoff; a sweep
   that died mid-send leaves a lease that expires, and a later sweep takes
   the row over.

Recipients are checked against the permission rules twice: when the row is
written, and again just before the mail goes out, since the issue may have
been restricted, or the person deactivated or moved, in between. A row that
fails the second check is marked skipped and never mailed. Nobody is told
about their own action.

What is guaranteed. A notification is in the bell as soon as its change
commits. Its e-mail, if owed, is retried (2, 4, 8 ... minutes, then hourly)
until an SMTP server accepts it, across broker outages, crashes and
restarts. A row is sent by one sweep at a time (row lock, then a lease the
sweep stops sending before it runs out), and never again once it is marked
sent. The one duplicate possible: a sweep that dies
(or loses the database) after the SMTP server accepted a mail and before it
marked the row sent; after the lease a later sweep sends it again, with the
same ``Message-ID``, so mail clients show it as one message. Nobody is mailed
who, at send time, is inactive or may not read the issue.
"""

from __future__ import annotations

from datetime import datetime

from django.core.mail import EmailMessage
from django.db.models import Prefetch, Q, QuerySet
from django.utils import translation

from agencies.models import Delivery, NoticeKind, User
from core.outbox import Outbox, absolute_url, email_from_templates, language_of
from core.outbox import SweepResult as SweepResult  # what deliver_due returns (the command)

from . import rules
from .models import Cooperation, Event, EventKind, Follow, Issue, Notification

# Events that reach people beyond the timeline.
NOTIFYING_KINDS = {
    EventKind.COOPERATION_REQUESTED,
    EventKind.COOPERATION_ANSWERED,
    EventKind.COMMENT,
    EventKind.STATUS,
    EventKind.CHANGED,  # only when it includes a status change (see services)
    EventKind.DECISION,  # a meeting decided something about the issue
}

# Which of a person's notice choices (/accounts/settings/) governs each event.
NOTICE_KINDS = {
    EventKind.COOPERATION_REQUESTED: NoticeKind.COOPERATION,
    EventKind.COOPERATION_ANSWERED: NoticeKind.COOPERATION,
    EventKind.COMMENT: NoticeKind.COMMENT,
    EventKind.STATUS: NoticeKind.STATUS,
    EventKind.CHANGED: NoticeKind.STATUS,
    EventKind.DECISION: NoticeKind.DECISION,
}


def notice_kind(event: Event) -> NoticeKind:
    """The kind of notice an event is, as people choose how to be told of it."""
    return NOTICE_KINDS[EventKind(event.kind)]


# How /healthz and /metrics name this outbox.
PURPOSE = "notification_email"


# --- who -------------------------------------------------------------------------------


def recipients_for(event: Event) -> list[User]:
    """The users an event concerns, minus its actor and anyone who may not see the issue.

    A cooperation request goes to the requested agency's people; an answer, a
    comment, a status change or a decision goes to the lead agency's people,
    the issue's followers (who filed it, its assignee and commenters follow it
    unless they unfollowed) and those who answered a cooperation request.
    Followers who may no longer read the issue (it was restricted, their
    agency withdrawn) are never told.
    """
    issue = event.issue
    if event.kind not in NOTIFYING_KINDS:
        return []
    if event.kind == EventKind.CHANGED and not any(
        c.get("field") == "status" for c in event.changes
    ):
        return []  # an edit concerns people only when it changes the status
    if event.kind == EventKind.COOPERATION_REQUESTED:
        audience = Q(agency_id=event.agency_id)
    else:
        answerers = issue.cooperations.exclude(answered_by=None).values("answered_by_id")
        audience = (
            Q(agency_id=issue.lead_agency_id)
            | Q(pk__in=Follow.objects.filter(issue_id=issue.pk).values("user_id"))
            | Q(pk__in=answerers)
        )
    candidates = (
        User.objects.filter(audience, is_active=True)
        .exclude(pk=event.actor_id)
        .select_related("agency")
        .order_by("pk")
    )
    issue = type(issue).objects.prefetch_related("cooperations").get(pk=issue.pk)
    return [user for user in candidates if rules.can_view(user, issue)]


def notify(event: Event) -> list[Notification]:
    """Write the event's notifications (the bell), each owing an e-mail when its
    recipient has an address and wants this kind of notice by e-mail at once.

    A recipient who chose the daily digest or the bell alone gets the bell row
    only, marked with that choice (``Notification.delivery``) for the digest.
    Call it inside the transaction that recorded the event (``services``
    does): the rows commit or roll back with the change. Returns the rows
    meant; an existing (recipient, event) row is left alone.
    """
    now = event.created_at
    kind = notice_kind(event)
    rows = []
    for user in recipients_for(event):
        delivery = user.delivery_for(kind)
        rows.append(
            Notification(
                recipient=user,
                event=event,
                created_at=now,
                delivery=delivery,
                email_due_at=now if user.email and delivery == Delivery.IMMEDIATE else None,
            )
        )
    Notification.objects.bulk_create(rows, ignore_conflicts=True)
    return rows


def unread(user) -> QuerySet[Notification]:
    """Unread notifications about issues the user may still see (an issue may
    have been restricted since): not even a count may hint at a hidden issue."""
    return Notification.objects.filter(
        Issue.objects.visible_through(user, "event__issue"), recipient=user, read_at=None
    )


# --- the e-mail sweep (core.outbox) -----------------------------------------------------


class NotificationOutbox(Outbox[Notification]):
    """The e-mails of ``Notification`` rows: owed from ``email_due_at``, sent once."""

    model = Notification
    due_field = "email_due_at"
    sent_field = "emailed_at"
    skipped_field = "email_skipped_at"
    message_id_prefix = "notification"
    purpose = PURPOSE
    name, names = "notification", "notification mails"
    sweep_task = "issues.tasks.deliver_notifications"

    def with_relations(self, rows: QuerySet[Notification]) -> QuerySet[Notification]:
        return rows.select_related(
            "recipient__agency",
            "event__issue__lead_agency",
            "event__actor__agency",
            "event__agency",
            "event__comment",
        ).prefetch_related(
            # Fresh from the database: whether the recipient may still read the
            # issue is decided on its cooperations as they are now.
            Prefetch("event__issue__cooperations", queryset=Cooperation.objects.all())
        )

    def withheld_because(self, row: Notification) -> str:
        user = row.recipient
        if not user.is_active:
            return "recipient deactivated"
        if not user.email:
            return "recipient has no e-mail address"
        if not rules.can_view(user, row.event.issue):
            return "recipient may no longer read the issue"
        return ""

    def compose(self, row: Notification, *, at: datetime) -> EmailMessage:
        """The notification as an e-mail in the recipient's language."""
        user = row.recipient
        event = row.event
        context = {
            "user": user,
            "event": event,
            "issue": event.issue,
            "url": absolute_url(event.issue.get_absolute_url()),
        }
        with translation.override(language_of(user)):
            return email_from_templates("issues/email/notification", context, to=user.email)


OUTBOX = NotificationOutbox()
# For the ``deliver_notifications`` command's report.
owed_count = OUTBOX.owed_count
# The e-mail sweep (core.outbox's, nothing to plan first): what the Celery task
# ``issues.deliver_notifications`` and the ``deliver_notifications`` command run.
# A row whose recipient, at send time, is inactive, has no address or may no
# longer read the issue is marked skipped (``withheld_because``).
deliver_due = OUTBOX.send
