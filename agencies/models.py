"""Organizations (the city hall and its public organizations) and their users."""

from __future__ import annotations

import copy

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _


class AgencyQuerySet(models.QuerySet["Agency"]):
    def active(self) -> AgencyQuerySet:
        return self.filter(is_active=True)

    def public_organizations(self) -> AgencyQuerySet:
        """The organizations the city works with, without the city hall itself."""
        return self.exclude(kind=Agency.Kind.CITY)


class Agency(models.Model):
    class Kind(models.TextChoices):
        CITY = "city", _("City hall")
        CORPORATION = "corporation", _("Corporation")
        FOUNDATION = "foundation", _("Foundation or institute")
        OTHER = "other", _("Other")

    slug = models.SlugField(_("slug"), max_length=50, unique=True)
    name_ko = models.CharField(_("Korean name"), max_length=100, unique=True)
    name_en = models.CharField(_("English name"), max_length=150)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    display_order = models.PositiveSmallIntegerField(_("display order"), default=100)
    is_active = models.BooleanField(_("active"), default=True)
    contact_email = models.EmailField(_("contact e-mail"), blank=True)
    contact_phone = models.CharField(_("contact phone"), max_length=30, blank=True)
    website = models.URLField(_("website"), blank=True)

    objects = AgencyQuerySet.as_manager()

    class Meta:
        verbose_name = _("organization")
        verbose_name_plural = _("organizations")
        ordering = ["display_order", "name_ko"]

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        """The name in the language of the current request (Korean by default)."""
        if (get_language() or "ko").startswith("en"):
            return self.name_en or self.name_ko
        return self.name_ko


class Role(models.TextChoices):
    STAFF = "staff", _("Staff")
    VICE_HEAD = "vice_head", _("Vice-head")
    HEAD = "head", _("Head")
    MAYOR_OFFICE = "mayor_office", _("Mayor's office")


class NoticeKind(models.TextChoices):
    """The kinds of notice a person chooses how to be told about (/accounts/settings/)."""

    COOPERATION = "cooperation", _("Cooperation requests and answers")
    COMMENT = "comment", _("Comments")
    STATUS = "status", _("Status changes")
    DECISION = "decision", _("Meeting decisions")
    MEETING_REMINDER = "meeting_reminder", _("Meeting reminders")
    DEADLINE_REMINDER = "deadline_reminder", _("Deadline reminders")


class Delivery(models.TextChoices):
    """How a notice reaches its person; the bell always has it."""

    IMMEDIATE = "immediate", _("E-mail at once")
    DIGEST = "digest", _("In the daily digest")
    BELL = "bell", _("Only in the bell")


# What nobody has chosen otherwise gets (issue 9): what needs an answer or has a
# time at once, the rest in the daily digest.
DEFAULT_DELIVERY = {
    NoticeKind.COOPERATION: Delivery.IMMEDIATE,
    NoticeKind.COMMENT: Delivery.DIGEST,
    NoticeKind.STATUS: Delivery.DIGEST,
    NoticeKind.DECISION: Delivery.DIGEST,
    NoticeKind.MEETING_REMINDER: Delivery.IMMEDIATE,
    NoticeKind.DEADLINE_REMINDER: Delivery.IMMEDIATE,
}


class User(AbstractUser):
    """A person using Gwangju Hub; every user belongs to exactly one agency.

    ``agency`` may only be empty for superusers created from the command line
    before any agency exists.
    """

    agency = models.ForeignKey(
        Agency,
        verbose_name=_("organization"),
        on_delete=models.PROTECT,
        related_name="users",
        null=True,
        blank=True,
    )
    role = models.CharField(_("role"), max_length=20, choices=Role.choices, default=Role.STAFF)
    preferred_language = models.CharField(
        _("preferred language"),
        max_length=8,
        blank=True,
        choices=[("ko", "한국어"), ("en", "English")],
        help_text=_("Empty: follow the browser's language."),
    )
    # Only the choices that differ from DEFAULT_DELIVERY, {kind: delivery}: a
    # later change of a default reaches everyone who never chose otherwise.
    notice_settings = models.JSONField(_("notice settings"), default=dict, blank=True)

    objects = UserManager()

    class Meta(AbstractUser.Meta):
        verbose_name = _("user")
        verbose_name_plural = _("users")
        indexes = [
            # Reminders and notifications look up "the heads of these agencies".
            models.Index(fields=["agency", "role"], name="user_agency_role_idx"),
        ]

    @property
    def is_mayor_office(self) -> bool:
        return self.role == Role.MAYOR_OFFICE

    @property
    def reads_everything(self) -> bool:
        """The Mayor's office and system administrators read every issue and meeting.

        The one place this rule is written (CONTRACT.md, "Who uses it"); rules,
        querysets, forms and the dashboard all ask it.
        """
        return self.is_superuser or self.role == Role.MAYOR_OFFICE

    @property
    def visibility_shape(self) -> tuple[tuple, tuple[int, ...]]:
        """What the visibility rules (``visible_to``, ``visible_through``,
        ``for_user``) read of this person, split for core.compiled: the
        *shape* (active? reads everything? placed in an organization?) decides
        their SQL, the *values* (own id; organization id where the SQL names
        it) only its parameters. Build such a query for :meth:`with_ids`.
        """
        shape = (self.is_active, self.reads_everything, self.agency_id is None)
        if self.reads_everything or self.agency_id is None:
            return shape, (self.pk,)
        return shape, (self.pk, self.agency_id)

    def with_ids(self, pk: int, agency_id: int | None = None) -> User:
        """A copy of this person with other ids: core.compiled compiles a
        shape's query for stand-in ids, then runs it with the real ones."""
        person = copy.copy(self)
        person.pk = pk
        if agency_id is not None:
            person.agency_id = agency_id
        return person

    def delivery_for(self, kind: str) -> Delivery:
        """How this person wants to be told about notices of ``kind`` (a NoticeKind)."""
        chosen = (self.notice_settings or {}).get(kind)
        if chosen in Delivery.values:
            return Delivery(chosen)
        return DEFAULT_DELIVERY[NoticeKind(kind)]

    @property
    def display_name(self) -> str:
        return self.get_full_name() or self.username
