"""Pending issues between organizations, their cooperation, and their timeline."""

from __future__ import annotations

import uuid
from datetime import date

from django.conf import settings
from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from agencies.models import Agency, Delivery
from core.models import OutboxRow
from core.workdays import add_working_days


class Category(models.Model):
    """A policy sector, edited by administrators."""

    slug = models.SlugField(_("slug"), unique=True)
    name_ko = models.CharField(_("Korean name"), max_length=60)
    name_en = models.CharField(_("English name"), max_length=80)
    display_order = models.PositiveSmallIntegerField(_("display order"), default=100)

    class Meta:
        verbose_name = _("category")
        verbose_name_plural = _("categories")
        ordering = ["display_order", "name_ko"]

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        return self.name_en if (get_language() or "ko").startswith("en") else self.name_ko


class Status(models.TextChoices):
    OPEN = "open", _("Open")
    IN_PROGRESS = "in_progress", _("In progress")
    ON_HOLD = "on_hold", _("On hold")
    RESOLVED = "resolved", _("Resolved")
    CLOSED = "closed", _("Closed")


# Statuses in which an issue still needs work; "overdue" only applies to these.
ACTIVE_STATUSES = (Status.OPEN, Status.IN_PROGRESS, Status.ON_HOLD)
DONE_STATUSES = (Status.RESOLVED, Status.CLOSED)


class Priority(models.TextChoices):
    LOW = "low", _("Low")
    NORMAL = "normal", _("Normal")
    HIGH = "high", _("High")
    URGENT = "urgent", _("Urgent")


PRIORITY_RANK = {Priority.LOW: 0, Priority.NORMAL: 1, Priority.HIGH: 2, Priority.URGENT: 3}


class Visibility(models.TextChoices):
    ALL = "all", _("All organizations")
    RESTRICTED = "restricted", _("Involved organizations only")


class IssueQuerySet(models.QuerySet["Issue"]):
    def visible_to(self, user) -> IssueQuerySet:
        """The only door to the issues a user may read (see CONTRACT.md).

        The Mayor's office (and administrators) read everything; everyone else
        reads issues open to all, and restricted issues their own agency leads
        or cooperates on.
        """
        if not user.is_authenticated or not user.is_active:
            return self.none()
        if user.reads_everything:
            return self
        if user.agency_id is None:
            return self.none()
        cooperating = Cooperation.objects.filter(issue=OuterRef("pk"), agency_id=user.agency_id)
        return self.filter(
            Q(visibility=Visibility.ALL) | Q(lead_agency_id=user.agency_id) | Exists(cooperating)
        )

    def visible_through(self, user, path: str) -> Q:
        """``visible_to`` for rows that point at an issue through ``path``
        (``"event__issue"`` for a notification), as a condition to filter on.

        A reader of everything gets no condition at all: an ``IN (SELECT id
        FROM issues_issue)`` that filters nothing still made PostgreSQL plan one
        more join, longer than the bell's whole query took to run.
        """
        if user.is_authenticated and user.is_active and user.reads_everything:
            return Q()
        return Q(**{f"{path}__in": self.visible_to(user).values("pk")})

    def involving(self, agency: Agency | int) -> IssueQuerySet:
        """Issues the agency leads or cooperates on."""
        agency_id = getattr(agency, "pk", agency)
        cooperating = Cooperation.objects.filter(issue=OuterRef("pk"), agency_id=agency_id)
        return self.filter(Q(lead_agency_id=agency_id) | Exists(cooperating))

    def overdue(self, today: date | None = None) -> IssueQuerySet:
        today = today or timezone.localdate()
        return self.filter(status__in=ACTIVE_STATUSES, due_date__lt=today)


class Issue(models.Model):
    # On PostgreSQL the table also holds ``search_bigrams``, generated from the
    # title and description (migration 0013; not declared here, Django never
    # reads or writes it). PostgreSQL refuses to change the type of a column a
    # generated column reads: a migration that alters either field's type or
    # length must drop ``search_bigrams`` before and add it back after
    # (0013's ``BACKWARDS`` and ``FORWARDS`` statements).
    title = models.CharField(_("Title"), max_length=200)
    description = models.TextField(
        _("Description"), blank=True, help_text=_("Markdown is supported.")
    )
    lead_agency = models.ForeignKey(
        Agency, verbose_name=_("Lead agency"), on_delete=models.PROTECT, related_name="led_issues"
    )
    cooperating_agencies = models.ManyToManyField(
        Agency,
        verbose_name=_("Cooperating agencies"),
        through="Cooperation",
        related_name="cooperating_issues",
        blank=True,
    )
    category = models.ForeignKey(
        Category, verbose_name=_("Category"), on_delete=models.PROTECT, null=True, blank=True
    )
    priority = models.CharField(
        _("Priority"), max_length=10, choices=Priority.choices, default=Priority.NORMAL
    )
    status = models.CharField(
        _("Status"), max_length=12, choices=Status.choices, default=Status.OPEN
    )
    visibility = models.CharField(
        _("Visibility"), max_length=10, choices=Visibility.choices, default=Visibility.ALL
    )
    due_date = models.DateField(_("Due date"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.PROTECT,
        related_name="created_issues",
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("Assignee"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_issues",
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    # Optimistic locking: every save that starts from a form must name the
    # version it started from; a mismatch means someone else saved first.
    version = models.PositiveIntegerField(default=1)

    objects = IssueQuerySet.as_manager()

    class Meta:
        verbose_name = _("issue")
        verbose_name_plural = _("issues")
        ordering = ["-updated_at", "-id"]
        indexes = [
            # The default list order.
            models.Index(fields=["-updated_at", "-id"], name="issue_updated_idx"),
            # "My agency" and the dashboard's per-agency counts. The included columns
            # are all the dashboard's counts, trend and median read of an issue, so
            # PostgreSQL answers them from this narrow index alone (an index-only scan)
            # instead of reading every wide row past its title and description: half
            # the time of each pass over 20,000 issues. SQLite ignores ``include``.
            models.Index(
                fields=["lead_agency", "status"],
                include=["id", "due_date", "created_at", "resolved_at"],
                name="issue_lead_status_idx",
            ),
            # Overdue filters.
            models.Index(fields=["status", "due_date"], name="issue_status_due_idx"),
            # The dashboard's open cooperation requests per (lead, cooperating
            # organization): the active issues' ids in order, each with its lead, so
            # PostgreSQL merges them with ``cooperation_requested_idx`` instead
            # of reading all 20,000 wide rows to hash half of them (12 ms -> 5).
            models.Index(
                fields=["id"],
                include=["lead_agency"],
                condition=Q(status__in=ACTIVE_STATUSES),
                name="issue_active_idx",
            ),
            # The dashboard's trend: the issues filed in the last 12 months, read in
            # order from this narrow index rather than from the wide rows.
            models.Index(fields=["created_at"], name="issue_created_idx"),
            # The dashboard's median days to resolve, over the issues resolved in a
            # period, and its trend's resolved issues: those rows only, in order.
            models.Index(
                fields=["resolved_at"],
                include=["lead_agency", "created_at"],
                condition=Q(status__in=DONE_STATUSES),
                name="issue_resolved_idx",
            ),
        ]
        # The Korean substring search indexes (pg_trgm GIN) are created by
        # migration 0002 on PostgreSQL only; SQLite has no GIN.

    def __str__(self) -> str:
        return f"#{self.pk} {self.title}"

    def get_absolute_url(self) -> str:
        return reverse("issues:detail", args=[self.pk])

    @property
    def is_overdue(self) -> bool:
        return (
            self.status in ACTIVE_STATUSES
            and self.due_date is not None
            and self.due_date < timezone.localdate()
        )

    @property
    def is_restricted(self) -> bool:
        return self.visibility == Visibility.RESTRICTED


class FollowSource(models.TextChoices):
    MANUAL = "manual", _("Followed")
    FILED = "filed", _("Filed it")
    COMMENTED = "commented", _("Commented")
    ASSIGNED = "assigned", _("Assigned")


class Follow(models.Model):
    """A person following an issue (구독): they hear of its comments, status
    changes and decisions, as their notice settings say.

    Whether they may still read the issue is checked whenever they would be
    told (issues.notifications), never assumed from this row.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="follows"
    )
    issue = models.ForeignKey(Issue, on_delete=models.CASCADE, related_name="follows")
    source = models.CharField(max_length=10, choices=FollowSource.choices)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("follow")
        verbose_name_plural = _("follows")
        constraints = [
            # Also serves the list's following=1 filter (user first).
            models.UniqueConstraint(fields=["user", "issue"], name="follow_once"),
        ]
        indexes = [
            # An event's followers (issues.notifications.recipients_for).
            models.Index(fields=["issue"], name="follow_issue_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} follows #{self.issue_id}"


class SavedSearch(models.Model):
    """A person's named filters of the issue list (저장한 검색); theirs alone.

    ``query_string`` holds only the list's filter parameters (never ``page``),
    normalized when saved (issues.forms.normalized_query). With
    ``include_in_digest`` the daily digest may tell of new matches.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_searches"
    )
    name = models.CharField(_("Name"), max_length=80)
    query_string = models.CharField(max_length=2000, blank=True)
    include_in_digest = models.BooleanField(_("New matches in the daily digest"), default=False)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("saved search")
        verbose_name_plural = _("saved searches")
        ordering = ["name", "id"]
        constraints = [
            # Also serves the list beside the issue list (one user's, by name).
            models.UniqueConstraint(fields=["user", "name"], name="saved_search_name_once"),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        url = reverse("issues:list")
        return f"{url}?{self.query_string}" if self.query_string else url


class CooperationStatus(models.TextChoices):
    REQUESTED = "requested", _("Requested")
    ACCEPTED = "accepted", _("Accepted")
    DECLINED = "declined", _("Declined")
    DONE = "done", _("Done")


def default_reply_by() -> date:
    """A new cooperation request's reply deadline: COOPERATION_REPLY_WORKING_DAYS
    Korean working days from today (Asia/Seoul)."""
    return add_working_days(timezone.localdate(), settings.COOPERATION_REPLY_WORKING_DAYS)


class Cooperation(models.Model):
    """One cooperating agency on one issue, its answer, who answers it and by when."""

    issue = models.ForeignKey(Issue, on_delete=models.CASCADE, related_name="cooperations")
    agency = models.ForeignKey(
        Agency,
        verbose_name=_("organization"),
        on_delete=models.PROTECT,
        related_name="cooperations",
    )
    status = models.CharField(
        _("answer"),
        max_length=10,
        choices=CooperationStatus.choices,
        default=CooperationStatus.REQUESTED,
    )
    note = models.TextField(_("note"), blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True
    )
    requested_at = models.DateTimeField(_("requested"), default=timezone.now)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, related_name="+", null=True, blank=True
    )
    answered_at = models.DateTimeField(_("answered"), null=True, blank=True)
    # 담당자: chosen by the cooperating agency among its own people.
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("Person in charge"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_cooperations",
    )
    # 회신 기한: set by the requester (default: working days from the request),
    # moved by the cooperating agency. Every request has one.
    reply_by = models.DateField(_("Reply by"), default=default_reply_by)

    class Meta:
        verbose_name = _("cooperation")
        verbose_name_plural = _("cooperations")
        ordering = ["requested_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["issue", "agency"], name="cooperation_once_per_agency"),
        ]
        indexes = [
            # "Waiting for my agency's answer" and the dashboard's waiting counts.
            models.Index(fields=["agency", "status"], name="cooperation_agency_status_idx"),
            # The dashboard's median days to answer, over the requests answered in a
            # period: those rows only, instead of a scan of every request.
            models.Index(
                fields=["answered_at"],
                condition=Q(answered_at__isnull=False),
                name="cooperation_answered_idx",
            ),
            # ``reply_overdue=1`` and the deadline reminders' planning: unanswered
            # requests by reply deadline.
            models.Index(
                fields=["reply_by", "issue"],
                condition=Q(status="requested"),
                name="cooperation_reply_due_idx",
            ),
            # The dashboard's open requests per (lead, cooperating organization): every
            # column that query reads of a request, in issue order (``issue_active_idx``).
            models.Index(
                fields=["issue"],
                include=["agency", "requested_at", "reply_by", "id"],
                condition=Q(status="requested"),
                name="cooperation_requested_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.issue_id} ↔ {self.agency}"

    @property
    def is_reply_overdue(self) -> bool:
        """Unanswered past its reply deadline (기한 경과)."""
        return self.status == CooperationStatus.REQUESTED and self.reply_by < timezone.localdate()


class Comment(models.Model):
    issue = models.ForeignKey(Issue, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    body = models.TextField(_("Comment"))
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("comment")
        verbose_name_plural = _("comments")
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"#{self.issue_id} comment {self.pk}"


def _attachment_path(instance: Attachment, filename: str) -> str:
    # Never the user's file name on disk: a random name cannot collide,
    # traverse directories or be guessed.
    return f"attachments/{timezone.now():%Y/%m}/{uuid.uuid4().hex}"


class Attachment(models.Model):
    issue = models.ForeignKey(Issue, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(upload_to=_attachment_path, max_length=200)
    original_name = models.CharField(_("file name"), max_length=255)
    size = models.PositiveBigIntegerField(_("size"))
    content_type = models.CharField(_("type"), max_length=120)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.original_name

    def get_absolute_url(self) -> str:
        return reverse("issues:attachment", args=[self.issue_id, self.pk])


class EventKind(models.TextChoices):
    CREATED = "created", _("Created")
    CHANGED = "changed", _("Changed")
    STATUS = "status", _("Status changed")
    COOPERATION_REQUESTED = "cooperation_requested", _("Cooperation requested")
    COOPERATION_ANSWERED = "cooperation_answered", _("Cooperation answered")
    COOPERATION_REMOVED = "cooperation_removed", _("Cooperation withdrawn")
    COMMENT = "comment", _("Comment")
    ATTACHMENT = "attachment", _("Attachment")
    DECISION = "decision", _("Meeting decision")
    COOPERATION_UPDATED = "cooperation_updated", _("Cooperation person or deadline changed")
    ESCALATED = "escalated", _("Deadline passed: escalated")


class Event(models.Model):
    """An append-only entry on an issue's timeline.

    ``changes`` holds ``[{"field", "old", "new"}]`` with display values as
    they were at the time, so later renames do not rewrite history.
    """

    issue = models.ForeignKey(Issue, on_delete=models.CASCADE, related_name="events")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    kind = models.CharField(max_length=24, choices=EventKind.choices)
    changes = models.JSONField(default=list, blank=True)
    agency = models.ForeignKey(
        Agency, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    comment = models.ForeignKey(
        Comment, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    attachment = models.ForeignKey(
        Attachment, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["issue", "created_at"], name="event_issue_time_idx"),
            # The dashboard's escalations in a period (issues.selectors.escalations_between):
            # a few rows among the 100,000s of the timeline, instead of a scan of all.
            models.Index(
                fields=["created_at"],
                include=["agency", "issue"],
                condition=Q(kind="escalated"),
                name="event_escalated_time_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.issue_id} {self.kind}"


class Notification(OutboxRow):
    """An in-app notification: one event, one recipient; and the e-mail owed for it.

    Created in the same transaction as the change it reports (see
    ``issues.services.event_record``), so the bell never depends on the
    broker. The e-mail is an outbox row on the same record: owed when the
    recipient had an address (``email_due_at``), claimed by a sweep under a
    lease (``claimed_until``), retried with backoff (``attempts``,
    ``next_attempt_at``, ``last_error``), and finished either way: sent
    (``emailed_at``) or withheld at send time (``email_skipped_at``, when the
    recipient may no longer read the issue or was deactivated).
    """

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="notifications")
    read_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # How the recipient wanted to be told when it was written (User.delivery_for):
    # "immediate" owes an e-mail now; "digest" waits for the daily digest, which
    # picks up the digest rows of its day; "bell" is the bell alone.
    delivery = models.CharField(max_length=10, choices=Delivery.choices, default=Delivery.IMMEDIATE)
    # --- the e-mail --------------------------------------------------------------
    # None: no e-mail is owed (the recipient had no address).
    email_due_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)
    email_skipped_at = models.DateTimeField(null=True, blank=True)
    # The Message-ID's unique part, fixed at creation: a mail sent again after
    # a crash (accepted by SMTP, not yet marked sent) is the same message, and
    # mail clients fold the two.
    message_uuid = models.UUIDField(default=uuid.uuid4, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # An event notifies each person once, whatever retries or races.
            models.UniqueConstraint(fields=["recipient", "event"], name="notification_once"),
        ]
        indexes = [
            # The bell's unread count on every page.
            models.Index(fields=["recipient", "read_at"], name="notification_unread_idx"),
            # The e-mail sweep: owed, unfinished mails in due order (the claim
            # query repeats this condition, so the planner can use the index).
            models.Index(
                fields=["email_due_at", "id"],
                condition=Q(
                    email_due_at__isnull=False,
                    emailed_at__isnull=True,
                    email_skipped_at__isnull=True,
                ),
                name="notification_email_owed_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.recipient_id}: {self.event}"


class DeadlinePurpose(models.TextChoices):
    COOPERATION_REPLY = "cooperation_reply", _("Cooperation reply deadline")
    ISSUE_DUE = "issue_due", _("Issue due date")


class DeadlineStep(models.TextChoices):
    BEFORE = "before", _("Before the deadline")
    ON_THE_DAY = "on_the_day", _("On the day")
    OVERDUE = "overdue", _("Overdue")
    VICE_HEAD = "vice_head", _("Escalated to the vice-head")
    HEAD = "head", _("Escalated to the head")


class DeadlineReminder(OutboxRow):
    """One reminder of a deadline owed to one person: an outbox row (core.outbox).

    Planned by the sweep of ``issues.deadlines`` when its step's working day
    comes, unique per (chain, recipient, step, round, deadline), so planning
    twice creates it once and a moved deadline starts its chain again. ``round``
    numbers the weekly reminders of an overdue issue (1, 2, ...); 0 otherwise.
    """

    purpose = models.CharField(max_length=20, choices=DeadlinePurpose.choices)
    issue = models.ForeignKey(Issue, on_delete=models.CASCADE, related_name="+")
    # The request whose reply deadline it is (cooperation_reply only).
    cooperation = models.ForeignKey(
        Cooperation, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="deadline_reminders"
    )
    step = models.CharField(max_length=12, choices=DeadlineStep.choices)
    round = models.PositiveSmallIntegerField(default=0)
    # The deadline the row is about (reply_by or due_date when planned): a
    # row whose deadline has moved since is never sent.
    deadline = models.DateField()
    # The chain's order: the step's day minus the deadline, in calendar days.
    rank = models.SmallIntegerField()
    created_at = models.DateTimeField(default=timezone.now)
    # --- the outbox ---------------------------------------------------------------
    due_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    skipped_at = models.DateTimeField(null=True, blank=True)
    message_uuid = models.UUIDField(default=uuid.uuid4, editable=False)

    class Meta:
        verbose_name = _("deadline reminder")
        verbose_name_plural = _("deadline reminders")
        ordering = ["-due_at", "-id"]
        constraints = [
            # Two partial constraints rather than one with a NULL cooperation,
            # which a unique index would count as distinct every time.
            models.UniqueConstraint(
                fields=["cooperation", "recipient", "step", "round", "deadline"],
                condition=Q(purpose="cooperation_reply"),
                name="deadline_reminder_reply_once",
            ),
            models.UniqueConstraint(
                fields=["issue", "recipient", "step", "round", "deadline"],
                condition=Q(purpose="issue_due"),
                name="deadline_reminder_due_once",
            ),
        ]
        indexes = [
            # The sweep's claim: unfinished rows in due order.
            models.Index(
                fields=["due_at", "id"],
                condition=Q(sent_at__isnull=True, skipped_at__isnull=True),
                name="deadline_reminder_owed_idx",
            ),
            # The claim's "superseded by a later step" test (issues.deadlines).
            models.Index(
                fields=["issue", "recipient", "deadline"], name="deadline_reminder_chain_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.purpose} #{self.issue_id} {self.step} → {self.recipient_id}"
