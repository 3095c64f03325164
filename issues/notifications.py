"""Who hears about an issue event, in the app and by e-mail.

Two steps, so that nothing a user is owed lives only in the broker:

1. ``notify(event)`` runs inside the transaction that made the change (through
   ``services.event_record``): it works out the recipients and writes one
   ``Notification`` row each. The bell shows it at once, Redis or no Redis.
   When the recipient has an address, the row also owes an e-mail.
2. ``deliver_due()`` is the e-mail sweep (Celery beat every minute, a kick
   after each change, or ``manage.py deliver_notifications``). It claims owed
   rows under a row lock (``skip_locked``) with a lease, commits, sends each
   mail outside any transaction, and marks it sent only after the SMTP server
   accepted it. A failure is retried by later sweeps with backoff; a sweep
   that died mid-send leaves a lease that expires, and a later sweep takes
   the row over. The approach is the reminders' (meetings/reminders.py).

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

import logging
import smtplib
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parseaddr

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.db.models import Count, F, Min, Prefetch, Q, QuerySet
from django.template.loader import render_to_string
from django.utils import timezone, translation

from agencies.models import User
from core import metrics
from core.broker import enqueue_on_commit
from core.outbox import Backlog

from . import rules
from .models import Cooperation, Event, EventKind, Issue, Notification

logger = logging.getLogger(__name__)

# Events that reach people beyond the timeline.
NOTIFYING_KINDS = {
    EventKind.COOPERATION_REQUESTED,
    EventKind.COOPERATION_ANSWERED,
    EventKind.COMMENT,
    EventKind.STATUS,
    EventKind.CHANGED,  # only when it includes a status change (see services)
    EventKind.DECISION,  # a meeting decided something about the issue
}

# How long a sweep owns the rows it claimed. It stops sending before the
# lease runs out, so a second sweep never takes over a row still being sent.
# How /healthz and /metrics name this outbox.
PURPOSE = "notification_email"
LEASE = timedelta(minutes=10)
MAX_BACKOFF = timedelta(minutes=60)
DEFAULT_LIMIT = 500
DEFAULT_BATCH_SIZE = 50
# SMTP answers about one message; anything else from SMTP means the server
# (or the way to it) is down, and the rest of the sweep would fail the same way.
_MESSAGE_ERRORS = (smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError)


@dataclass
class SweepResult:
    sent: int = 0  # accepted by the SMTP server and marked sent
    failed: int = 0  # to be retried after a backoff
    skipped: int = 0  # never to be sent: the recipient may no longer read it
    deferred: int = 0  # given back untried (the lease was running out), or sent by another sweep


# --- who -------------------------------------------------------------------------------


def recipients_for(event: Event) -> list[User]:
    """The users an event concerns, minus its actor and anyone who may not see the issue.

    A cooperation request goes to the requested agency's people; an answer, a
    comment or a status change goes to the lead agency's people and the
    issue's participants (who filed it, its assignee, commenters, answerers).
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
        participant_ids = {issue.created_by_id, issue.assignee_id}
        participant_ids |= set(issue.comments.values_list("author_id", flat=True))
        participant_ids |= set(
            issue.cooperations.exclude(answered_by=None).values_list("answered_by_id", flat=True)
        )
        participant_ids.discard(None)
        audience = Q(agency_id=issue.lead_agency_id) | Q(pk__in=participant_ids)
    candidates = (
        User.objects.filter(audience, is_active=True)
        .exclude(pk=event.actor_id)
        .select_related("agency")
        .order_by("pk")
    )
    issue = type(issue).objects.prefetch_related("cooperations").get(pk=issue.pk)
    return [user for user in candidates if rules.can_view(user, issue)]


def notify(event: Event) -> list[Notification]:
    """Write the event's notifications, each owing an e-mail if its recipient has an address.

    Call it inside the transaction that recorded the event (``services``
    does): the rows commit or roll back with the change. Returns the rows
    meant; an existing (recipient, event) row is left alone.
    """
    now = event.created_at
    rows = [
        Notification(
            recipient=user,
            event=event,
            created_at=now,
            email_due_at=now if user.email else None,
        )
        for user in recipients_for(event)
    ]
    Notification.objects.bulk_create(rows, ignore_conflicts=True)
    return rows


def unread_count(user) -> int:
    """Unread notifications about issues the user may still see (an issue may
    have been restricted since): not even a count may hint at a hidden issue."""
    return Notification.objects.filter(
        recipient=user, read_at=None, event__issue__in=Issue.objects.visible_to(user)
    ).count()


# --- the e-mail sweep ------------------------------------------------------------------


def _unfinished() -> QuerySet[Notification]:
    """Rows that owe an e-mail not yet sent nor skipped (the sweep index's condition)."""
    return Notification.objects.filter(
        email_due_at__isnull=False, emailed_at__isnull=True, email_skipped_at__isnull=True
    )


def _sendable(now: datetime) -> QuerySet[Notification]:
    """Owed mails that are due, not leased to a sweep, and not backing off."""
    return (
        _unfinished()
        .filter(email_due_at__lte=now)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lte=now))
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .order_by("email_due_at", "pk")
    )


def backlog(now: datetime | None = None) -> dict[str, Backlog]:
    """Notification e-mails due and unsent, by purpose, for /healthz and /metrics.

    Rows leased to a sweep or backing off after a failure count: they are
    still waiting, which is what an operator must hear about.
    """
    now = now or timezone.now()
    row = (
        _unfinished()
        .filter(email_due_at__lte=now)
        .aggregate(due=Count("pk"), oldest=Min("email_due_at"))
    )
    return {PURPOSE: Backlog(row["due"], row["oldest"])}


def retry_now(rows: QuerySet[Notification]) -> int:
    """Clear the backoff of these unsent e-mails and queue a sweep; how many were cleared."""
    from .tasks import deliver_notifications

    count = _unfinished().filter(pk__in=rows.values("pk")).update(next_attempt_at=None)
    if count:
        enqueue_on_commit(deliver_notifications)
    return count


def owed_count() -> int:
    """E-mails owed and not yet sent (due now, backing off, or leased)."""
    return _unfinished().count()


def _claim(now: datetime, size: int) -> list[int]:
    """Lease up to ``size`` sendable rows to this sweep and count the attempt.

    On PostgreSQL a concurrent sweep skips the rows locked here; on SQLite
    ``select_for_update`` is a no-op, but the IMMEDIATE transaction (see
    settings) takes the database's write lock first, serialising claims.
    """
    with transaction.atomic():
        ids = list(
            _sendable(now).select_for_update(skip_locked=True).values_list("pk", flat=True)[:size]
        )
        if ids:
            Notification.objects.filter(pk__in=ids).update(
                claimed_until=now + LEASE, attempts=F("attempts") + 1
            )
    return ids


def deliver_due(
    now: datetime | None = None,
    *,
    limit: int = DEFAULT_LIMIT,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> SweepResult:
    """Send up to ``limit`` owed notification e-mails, ``batch_size`` claimed at a time.

    What the Celery task ``issues.deliver_notifications`` and the
    ``deliver_notifications`` command run. Safe to run at any time, as often
    as wanted, in several processes at once. A failure frees the row for a
    later sweep after a backoff of 2^attempts minutes (at most an hour); when
    the SMTP server is unreachable the sweep stops at the first failure and
    marks the rest of the batch failed with the same error.
    """
    now = now or timezone.now()
    started = time.monotonic()

    def clock() -> datetime:
        # ``now`` may be given (tests); time moves on from it, in whole
        # seconds so a quick sweep claims and backs off from ``now``.
        return now + timedelta(seconds=int(time.monotonic() - started))

    result = SweepResult()
    connection = get_connection()
    try:
        while _done(result) < limit:
            size = min(batch_size, limit - _done(result))
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


def _done(result: SweepResult) -> int:
    return result.sent + result.failed + result.skipped + result.deferred


def _send_batch(ids, claimed_at, clock, connection, result: SweepResult) -> bool:
    """Send one batch claimed at ``claimed_at``; True when the SMTP server is unreachable.

    A failed row backs off from the moment of its claim, so a slow sweep
    does not push its retry further out.
    """
    rows = list(
        Notification.objects.filter(pk__in=ids)
        .select_related(
            "recipient__agency",
            "event__issue__lead_agency",
            "event__actor__agency",
            "event__agency",
            "event__comment",
        )
        # Fresh from the database: whether the recipient may still read the
        # issue is decided on its cooperations as they are now.
        .prefetch_related(
            Prefetch("event__issue__cooperations", queryset=Cooperation.objects.all())
        )
        .order_by("email_due_at", "pk")
    )
    # Never send once the lease may have run out: another sweep may own the row by then.
    margin = timedelta(seconds=2 * (settings.EMAIL_TIMEOUT or 30))
    for index, row in enumerate(rows):
        if clock() >= claimed_at + LEASE - margin:
            _release(rows[index:])
            result.deferred += len(rows) - index
            return False
        reason = _withheld_because(row)
        if reason:
            _skip(row, reason)
            result.skipped += 1
            continue
        try:
            message = _compose(row, connection)
            connection.open()  # kept open across the batch; closed by deliver_due
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
            logger.exception("notification %s could not be composed or sent", row.pk)
            _fail([row], error, claimed_at)
            result.failed += 1
            continue
        if _mark_sent(row):
            result.sent += 1
        else:
            result.deferred += 1  # another sweep marked it sent first
    return False


def _withheld_because(row: Notification) -> str:
    """Why this mail must not go out now, at send time ("" if it may)."""
    user = row.recipient
    if not user.is_active:
        return "recipient deactivated"
    if not user.email:
        return "recipient has no e-mail address"
    if not rules.can_view(user, row.event.issue):
        return "recipient may no longer read the issue"
    return ""


def _skip(row: Notification, reason: str) -> None:
    logger.info("notification %s not mailed: %s", row.pk, reason)
    Notification.objects.filter(pk=row.pk, emailed_at__isnull=True).update(
        email_skipped_at=timezone.now(), claimed_until=None, last_error=f"skipped: {reason}"
    )


def _mark_sent(row: Notification) -> bool:
    updated = Notification.objects.filter(pk=row.pk, emailed_at__isnull=True).update(
        emailed_at=timezone.now(), claimed_until=None, next_attempt_at=None
    )
    if updated:
        metrics.delivery_sent(PURPOSE)
    return bool(updated)


def _backoff(attempts: int) -> timedelta:
    return min(timedelta(minutes=2 ** min(attempts, 10)), MAX_BACKOFF)


def _fail(rows: list[Notification], error: Exception, now: datetime) -> None:
    text = f"{type(error).__name__}: {error}"[:2000]
    logger.warning("notification mails %s not sent: %s", [row.pk for row in rows], text)
    for _row in rows:
        metrics.delivery_failed(PURPOSE)
    by_attempts: dict[int, list[int]] = {}
    for row in rows:
        # The row was loaded after its claim, so ``attempts`` counts this one.
        by_attempts.setdefault(row.attempts, []).append(row.pk)
    for attempts, ids in by_attempts.items():
        Notification.objects.filter(pk__in=ids, emailed_at__isnull=True).update(
            claimed_until=None, last_error=text, next_attempt_at=now + _backoff(attempts)
        )


def _release(rows: list[Notification]) -> None:
    """Give unsent claims back untried, without counting an attempt."""
    Notification.objects.filter(pk__in=[row.pk for row in rows], emailed_at__isnull=True).update(
        claimed_until=None, attempts=F("attempts") - 1
    )


# --- the e-mail itself -------------------------------------------------------------------


def message_id(notification: Notification) -> str:
    """The e-mail's Message-ID: fixed per row, so a resend is recognisably the same mail."""
    domain = parseaddr(settings.DEFAULT_FROM_EMAIL)[1].rpartition("@")[2] or "localhost"
    return f"<notification.{notification.message_uuid.hex}@{domain}>"


def _compose(notification: Notification, connection) -> EmailMessage:
    """The notification as an e-mail in the recipient's language."""
    user = notification.recipient
    event = notification.event
    language = user.preferred_language or settings.LANGUAGE_CODE
    with translation.override(language):
        context = {
            "user": user,
            "event": event,
            "issue": event.issue,
            "url": settings.SITE_URL.rstrip("/") + event.issue.get_absolute_url(),
        }
        subject = render_to_string("issues/email/notification_subject.txt", context)
        body = render_to_string("issues/email/notification_body.txt", context)
    return EmailMessage(
        " ".join(subject.split()),
        body,
        settings.DEFAULT_FROM_EMAIL,
        [user.email],
        connection=connection,
        headers={"Message-ID": message_id(notification)},
    )
