"""Meetings between the city and its organizations, their agendas, the yearly
performance reports, and the record of every reminder sent about them."""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from agencies.models import Agency
from core.models import OutboxRow

SEOUL = ZoneInfo("Asia/Seoul")


class MeetingKind(models.TextChoices):
    VICE_HEADS = "vice_heads", _("Vice-heads' meeting")
    HEADS = "heads", _("Heads' meeting")
    PERFORMANCE_BRIEFING = "performance_briefing", _("Performance briefing")
    OTHER = "other", _("Other meeting")


class MeetingStatus(models.TextChoices):
    SCHEDULED = "scheduled", _("Scheduled")
    HELD = "held", _("Held")
    CANCELLED = "cancelled", _("Cancelled")


class MeetingQuerySet(models.QuerySet["Meeting"]):
    def upcoming(self, now=None) -> MeetingQuerySet:
        now = now or timezone.now()
        return self.filter(status=MeetingStatus.SCHEDULED, starts_at__gt=now).order_by("starts_at")

    def past(self, now=None) -> MeetingQuerySet:
        now = now or timezone.now()
        return self.filter(Q(starts_at__lte=now) | ~Q(status=MeetingStatus.SCHEDULED)).order_by(
            "-starts_at"
        )

    def for_user(self, user) -> MeetingQuerySet:
        """Meetings a user may see: the Mayor's office all, others their agency's invitations."""
        if user.reads_everything:
            return self
        if user.agency_id is None:  # an account an administrator has not placed yet
            return self.none()
        return self.filter(invited_agencies=user.agency_id)

    def visible_through(self, user, path: str) -> Q:
        """``for_user`` for rows that point at a meeting through ``path``, as a
        condition; none at all for a reader of everything (see
        ``IssueQuerySet.visible_through``)."""
        if user.reads_everything:
            return Q()
        return Q(**{f"{path}__in": self.for_user(user).values("pk")})


class Meeting(models.Model):
    kind = models.CharField(_("kind"), max_length=24, choices=MeetingKind.choices)
    title = models.CharField(_("title"), max_length=200)
    starts_at = models.DateTimeField(_("starts at"))
    ends_at = models.DateTimeField(_("ends at"))
    location = models.CharField(_("place"), max_length=200, blank=True)
    chair = models.CharField(_("chair"), max_length=100, blank=True)
    invited_agencies = models.ManyToManyField(
        Agency, verbose_name=_("invited organizations"), related_name="meetings", blank=True
    )
    # Recorded with the minutes: which invited organizations were present.
    attended_agencies = models.ManyToManyField(
        Agency,
        verbose_name=_("organizations present"),
        related_name="attended_meetings",
        blank=True,
    )
    status = models.CharField(
        _("status"), max_length=12, choices=MeetingStatus.choices, default=MeetingStatus.SCHEDULED
    )
    minutes = models.TextField(_("minutes"), blank=True, help_text=_("Markdown is supported."))
    # Set by `schedule_meetings` ("vice_heads:2027-02"): re-running the command,
    # even after someone moved the meeting to another day, creates no duplicate.
    schedule_key = models.CharField(
        max_length=40, unique=True, null=True, blank=True, editable=False
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)
    cancelled_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = MeetingQuerySet.as_manager()

    class Meta:
        verbose_name = _("meeting")
        verbose_name_plural = _("meetings")
        ordering = ["starts_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=models.F("starts_at")), name="meeting_ends_after_start"
            ),
        ]
        indexes = [
            # The reminder sweep and the meetings page: upcoming scheduled meetings.
            models.Index(fields=["status", "starts_at"], name="meeting_status_start_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.title} ({timezone.localtime(self.starts_at):%Y-%m-%d})"

    def get_absolute_url(self) -> str:
        return reverse("meetings:detail", args=[self.pk])

    @property
    def is_past(self) -> bool:
        return self.starts_at <= timezone.now()

    @property
    def is_cancelled(self) -> bool:
        return self.status == MeetingStatus.CANCELLED


class AgendaItemKind(models.TextChoices):
    ISSUE_REVIEW = "issue_review", _("Issue review")
    INNOVATION_CASE = "innovation_case", _("Innovation case")
    PERFORMANCE_REPORT = "performance_report", _("Performance report")
    OTHER = "other", _("Other")


class AgendaItemStatus(models.TextChoices):
    PROPOSED = "proposed", _("Proposed")
    ACCEPTED = "accepted", _("Accepted")
    REMOVED = "removed", _("Removed")


class AgendaItem(models.Model):
    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="agenda_items")
    order = models.PositiveSmallIntegerField(_("order"), default=0)
    issue = models.ForeignKey(
        "issues.Issue",
        verbose_name=_("issue"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="agenda_items",
    )
    title = models.CharField(_("title"), max_length=200)
    presenting_agency = models.ForeignKey(
        Agency,
        verbose_name=_("presenting organization"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    kind = models.CharField(
        _("kind"),
        max_length=24,
        choices=AgendaItemKind.choices,
        default=AgendaItemKind.ISSUE_REVIEW,
    )
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=AgendaItemStatus.choices,
        default=AgendaItemStatus.PROPOSED,
    )
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decision = models.TextField(_("decision"), blank=True)
    follow_up_due = models.DateField(_("follow-up due date"), null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("agenda item")
        verbose_name_plural = _("agenda items")
        ordering = ["meeting", "order", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["meeting", "issue"],
                condition=Q(issue__isnull=False),
                name="agenda_issue_once_per_meeting",
            ),
        ]

    def __str__(self) -> str:
        return self.title


class PerformanceReportStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SUBMITTED = "submitted", _("Submitted")


class PerformanceReport(models.Model):
    """An organization's report for the December performance briefing.

    Issue statistics are not stored here: they are computed from the issues
    app whenever the report is shown, so they can never disagree with it.
    """

    agency = models.ForeignKey(
        Agency,
        verbose_name=_("organization"),
        on_delete=models.PROTECT,
        related_name="performance_reports",
    )
    year = models.PositiveSmallIntegerField(_("year"))
    summary = models.TextField(_("summary"), blank=True)
    achievements = models.TextField(_("achievements"), blank=True)
    next_year_plan = models.TextField(_("next year's plan"), blank=True)
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=PerformanceReportStatus.choices,
        default=PerformanceReportStatus.DRAFT,
    )
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    submitted_at = models.DateTimeField(_("submitted at"), null=True, blank=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    updated_at = models.DateTimeField(default=timezone.now)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        verbose_name = _("performance report")
        verbose_name_plural = _("performance reports")
        ordering = ["year", "agency__display_order"]
        constraints = [
            models.UniqueConstraint(
                fields=["agency", "year"], name="one_report_per_agency_and_year"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.agency} {self.year}"

    @property
    def is_submitted(self) -> bool:
        return self.status == PerformanceReportStatus.SUBMITTED


class ReminderPurpose(models.TextChoices):
    MEETING = "meeting", _("Meeting reminder")
    REPORT_DEADLINE = "report_deadline", _("Performance report deadline")
    CANCELLATION = "cancellation", _("Cancellation notice")


class ReminderDelivery(OutboxRow):
    """One reminder to one person: created when due, claimed, sent once.

    The unique constraint is the real guard against duplicates (two beats,
    two sweeps, a retried task); ``claimed_until`` is a lease so a sweep that
    died mid-send is retried by a later one. ``message_id`` is fixed when the
    row is created and goes into the mail's ``Message-ID``: the one duplicate a
    crash can cause (SMTP accepted, the sweep died before marking the row sent,
    a later sweep resends after the lease) is the same message to mail clients.
    """

    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="reminders")
    purpose = models.CharField(max_length=20, choices=ReminderPurpose.choices)
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reminders"
    )
    offset = models.DurationField(help_text=_("How long before the moment it is about."))
    due_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # A random UUID rather than one derived from the primary key: a restored
    # backup or a staging database reuses primary keys, never these.
    message_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)

    class Meta:
        verbose_name = _("reminder delivery")
        verbose_name_plural = _("reminder deliveries")
        ordering = ["due_at", "id"]
        constraints = [
            # due_at is in the key because it follows the meeting's time: a
            # meeting moved to another day is a new moment to remind people of.
            models.UniqueConstraint(
                fields=["meeting", "purpose", "recipient", "offset", "due_at"],
                name="reminder_once",
            ),
        ]
        indexes = [
            # The sweep: unsent reminders whose moment has come.
            models.Index(
                fields=["due_at"], condition=Q(sent_at__isnull=True), name="reminder_unsent_due_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.purpose} {self.meeting_id} → {self.recipient_id} ({self.offset})"

    def days_left(self, at: datetime | None = None) -> int:
        """Calendar days in Seoul from ``at`` (default: when it was sent, or now) to
        the moment the reminder is about (0: that day; 1: the day before).

        The moment is ``due_at + offset``: the meeting's start, or the report
        deadline, as it stood when the row was planned. A reminder sent at its
        step's moment is ``offset`` days ahead; one planned late is fewer.
        """
        at = at or self.sent_at or timezone.now()
        moment = self.due_at + self.offset
        return (timezone.localdate(moment, SEOUL) - timezone.localdate(at, SEOUL)).days


def _new_token() -> str:
    return secrets.token_urlsafe(32)


class CalendarToken(models.Model):
    """A personal, revocable secret for the iCalendar feed (calendar apps cannot log in)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="calendar_token"
    )
    token = models.CharField(max_length=64, unique=True, default=_new_token)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("calendar token")
        verbose_name_plural = _("calendar tokens")

    def __str__(self) -> str:
        return f"calendar token of {self.user_id}"

    def rotate(self) -> None:
        self.token = _new_token()
        self.created_at = timezone.now()
        self.save(update_fields=["token", "created_at"])


class ReminderNotice(models.Model):
    """The in-app side of a reminder (the bell), one per delivery."""

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reminder_notices"
    )
    delivery = models.OneToOneField(
        ReminderDelivery, on_delete=models.CASCADE, related_name="notice"
    )
    read_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["recipient", "read_at"], name="remindernotice_unread_idx")]

    def __str__(self) -> str:
        return f"notice {self.delivery_id} → {self.recipient_id}"
