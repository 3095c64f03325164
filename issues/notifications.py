"""Who hears about an issue event, in the app and by e-mail.

Runs in a Celery task after the event's transaction committed. Recipients are
re-checked against the permission rules here, at delivery time: a user never
gets mail about an issue they may not see, nor about their own action.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone, translation

from agencies.models import User

from . import rules
from .models import Event, EventKind, Issue, Notification

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


def deliver(event_id: int) -> int:
    """Create the in-app notifications for an event and e-mail each recipient once.

    Safe to run twice: a notification exists at most once per (recipient,
    event), and the e-mail is claimed with a conditional update before it is
    sent. Returns the number of e-mails sent by this call.
    """
    try:
        event = Event.objects.select_related("issue", "actor", "agency", "comment").get(pk=event_id)
    except Event.DoesNotExist:
        return 0
    sent = 0
    for user in recipients_for(event):
        try:
            with transaction.atomic():
                notification, _ = Notification.objects.get_or_create(recipient=user, event=event)
        except IntegrityError:  # a concurrent delivery created it first
            notification = Notification.objects.get(recipient=user, event=event)
        if not user.email or notification.emailed_at is not None:
            continue
        claimed = Notification.objects.filter(pk=notification.pk, emailed_at=None).update(
            emailed_at=timezone.now()
        )
        if not claimed:
            continue  # another delivery is sending this one
        try:
            _send_mail(user, event)
        except Exception:
            # Give the claim back so the task's retry sends it.
            Notification.objects.filter(pk=notification.pk).update(emailed_at=None)
            raise
        sent += 1
    return sent


def _send_mail(user: User, event: Event) -> None:
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
    send_mail(
        " ".join(subject.split()),
        body,
        settings.DEFAULT_FROM_EMAIL,
        [user.email],
    )


def unread_count(user) -> int:
    """Unread notifications about issues the user may still see (an issue may
    have been restricted since): not even a count may hint at a hidden issue."""
    return Notification.objects.filter(
        recipient=user, read_at=None, event__issue__in=Issue.objects.visible_to(user)
    ).count()
