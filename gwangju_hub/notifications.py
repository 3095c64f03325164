"""The bell's page, /notifications/: issue notifications and meeting reminders together.

It lives in the project package because it joins two apps: ``meetings`` may
import ``issues`` but never the reverse, so neither app can own a page that
shows both. Every list and every count re-checks visibility at read time: an
issue may have been restricted, or an organization uninvited from a meeting,
since the notification was created.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple, TypeVar

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Case, IntegerField, QuerySet, Value, When
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from agencies.http import AuthenticatedHttpRequest
from agencies.models import Agency, User
from core.compiled import CompiledList, CompiledQueries
from issues import notifications as issue_notifications
from issues.models import Event, Issue, Notification
from meetings.models import Meeting, ReminderNotice, ReminderPurpose
from meetings.reminders import report_deadline

ISSUE_PAGE_SIZE = 30


class Line(NamedTuple):
    """A line of the page's issue notifications, as read: only what it shows,
    as plain values. Making model instances for 30 lines, with their events,
    issues, people and organizations, took a fifth of the page's work, when
    the lines are nearly always taken rendered from the fragment cache."""

    pk: int
    read_at: datetime | None
    kind: str
    created_at: datetime
    issue_id: int
    title: str
    agency_ko: str | None
    agency_en: str | None
    username: str | None
    first_name: str | None
    last_name: str | None

    @property
    def key(self) -> str:
        """Everything the line shows: ``{% cache %}`` keeps it rendered under
        this (and the language), a key that cannot go stale."""
        return repr(tuple(self))

    def notification(self) -> Notification:
        """The line as the model instances its template reads, made from these
        values alone, so what is rendered is what the key says; made only when
        the rendered line is not kept."""
        event = Event(
            kind=self.kind,
            created_at=self.created_at,
            issue=Issue(pk=self.issue_id, title=self.title),
        )
        if self.agency_ko is not None:  # an event without an organization has none
            event.agency = Agency(name_ko=self.agency_ko, name_en=self.agency_en)
        if self.username is not None:  # nor one without a person
            event.actor = User(
                username=self.username, first_name=self.first_name, last_name=self.last_name
            )
        return Notification(pk=self.pk, read_at=self.read_at, event=event)


# The columns of a Line, in its order.
LINE_COLUMNS = (
    "pk",
    "read_at",
    "event__kind",
    "event__created_at",
    "event__issue_id",
    "event__issue__title",
    "event__agency__name_ko",
    "event__agency__name_en",
    "event__actor__username",
    "event__actor__first_name",
    "event__actor__last_name",
)
# The reminders section shows the unread ones first, then the latest read.
REMINDER_LIMIT = 20


def issue_notifications_for(user) -> QuerySet[Notification]:
    """The user's issue notifications about issues they may still see."""
    return Notification.objects.filter(
        Issue.objects.visible_through(user, "event__issue"), recipient=user
    ).select_related("event__issue", "event__actor", "event__agency")


def reminder_notices_for(user) -> QuerySet[ReminderNotice]:
    """The user's reminder notices about meetings they may still see."""
    return ReminderNotice.objects.filter(
        Meeting.objects.visible_through(user, "delivery__meeting"), recipient=user
    ).select_related("delivery__meeting")


def unread_count(user) -> int:
    """The bell's number: unread issue notifications and meeting reminders the
    user may still see, counted in one round trip (UNION ALL of their ids).

    Every signed-in page asks it, and building and compiling the query took
    ten times as long as running it: it is compiled once per process and
    shape of person (core.compiled). The count is read afresh every time.
    """
    shape, ids = user.visibility_shape

    def union(*ids: int) -> QuerySet:
        person = user.with_ids(*ids)
        # order_by(): no ordering inside a UNION (SQLite refuses one).
        reminders = reminder_notices_for(person).filter(read_at=None).order_by().values("pk")
        issues = issue_notifications.unread(person).order_by().values("pk")
        return issues.union(reminders, all=True)

    return _compiled.count(("bell", shape), union, *ids)


# The queries of the bell and of this page, compiled once per process and
# shape of person (User.visibility_shape).
_compiled = CompiledQueries()


@login_required
@require_GET
def notification_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    user = request.user
    shape, ids = user.visibility_shape
    reminders = _compiled.rows(
        ("reminders", shape),
        lambda *ids: reminder_notices_for(user.with_ids(*ids)).order_by(
            Case(When(read_at=None, then=Value(0)), default=Value(1), output_field=IntegerField()),
            "-created_at",
            "-id",
        )[:REMINDER_LIMIT],
        *ids,
    )
    for notice in reminders:
        delivery = notice.delivery
        # What the reminder was about: the report deadline, or the meeting itself.
        notice.when = (
            report_deadline(delivery.meeting)
            if delivery.purpose == ReminderPurpose.REPORT_DEADLINE
            else delivery.meeting.starts_at
        )
    page = Paginator(
        CompiledList(
            _compiled,
            ("notifications", shape),
            lambda *ids: issue_notifications_for(user.with_ids(*ids)),
            *ids,
            columns=LINE_COLUMNS,
        ),
        ISSUE_PAGE_SIZE,
    ).get_page(request.GET.get("page"))
    page.object_list = lines = [Line(*row) for row in page.object_list]
    return render(
        request,
        "notifications/notification_list.html",
        {
            "reminders": reminders,
            "page": page,
            # The whole page of lines is kept under every line's key, too.
            "lines_key": "\n".join(line.key for line in lines),
        },
    )


Notice = TypeVar("Notice", Notification, ReminderNotice)


def _open(notices: QuerySet[Notice], pk: int) -> Notice:
    """The user's notice ``pk`` among ``notices``, marked read (404 if not theirs)."""
    notice = get_object_or_404(notices, pk=pk)
    if notice.read_at is None:
        notice.read_at = timezone.now()
        notice.save(update_fields=["read_at"])
    return notice


@login_required
@require_GET
def notification_open(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Mark an issue notification read and go to its issue."""
    return redirect(_open(issue_notifications_for(request.user), pk).event.issue)


@login_required
@require_GET
def reminder_open(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Mark a reminder notice read and go to its meeting."""
    return redirect(_open(reminder_notices_for(request.user), pk).delivery.meeting)


@login_required
@require_POST
def mark_all_read(request: AuthenticatedHttpRequest) -> HttpResponse:
    now = timezone.now()
    Notification.objects.filter(recipient=request.user, read_at=None).update(read_at=now)
    ReminderNotice.objects.filter(recipient=request.user, read_at=None).update(read_at=now)
    return redirect("notifications:list")
