"""What the top floor owns: the daily digest's deliveries (it joins issues and meetings)."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.models import OutboxRow


class DigestDelivery(OutboxRow):
    """One person's daily digest (업무 요약) of one working day: planned once, sent once.

    ``content`` is what the digest says, worked out when the day's digests
    were planned (08:30 Asia/Seoul): the requests awaiting the person's
    agency, their issues due, news of the issues they follow, their meetings
    ahead. It is checked again against what the person may read when the
    mail is composed, so a digest sent late after an outage never names an
    issue restricted in between. The outbox fields are ``core.outbox``'s.
    """

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recipient"),
        on_delete=models.CASCADE,
        related_name="+",
    )
    day = models.DateField(_("day"))
    content = models.JSONField(_("content"), default=dict)
    created_at = models.DateTimeField(_("planned"), default=timezone.now)
    due_at = models.DateTimeField(_("due"))
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    skipped_at = models.DateTimeField(_("skipped"), null=True, blank=True)
    # OutboxRow's, with the translated labels this model's admin has always shown.
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    message_uuid = models.UUIDField(default=uuid.uuid4, editable=False)

    class Meta:
        verbose_name = _("daily digest")
        verbose_name_plural = _("daily digests")
        ordering = ["-day", "recipient_id"]
        constraints = [
            # Exactly one digest per person per day, whatever runs twice.
            models.UniqueConstraint(fields=["recipient", "day"], name="digest_once_per_day"),
        ]
        indexes = [
            models.Index(
                fields=["due_at", "id"],
                condition=Q(sent_at__isnull=True, skipped_at__isnull=True),
                name="digest_owed_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.day} → {self.recipient_id}"


class DigestDay(models.Model):
    """A working day whose digests have been planned: the once-only latch of the day.

    Written in the transaction that writes the day's ``DigestDelivery`` rows,
    so the day is planned exactly once, by whichever run commits first.
    """

    day = models.DateField(_("day"), unique=True)
    planned_at = models.DateTimeField(_("planned"), default=timezone.now)
    digests = models.PositiveIntegerField(_("digests planned"), default=0)

    class Meta:
        verbose_name = _("planned digest day")
        verbose_name_plural = _("planned digest days")
        ordering = ["-day"]

    def __str__(self) -> str:
        return str(self.day)
