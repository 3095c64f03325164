"""Reads that span relations: meeting pages, the issue page's agenda box, performance figures."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db import connection
from django.db.models import (
    Aggregate,
    BooleanField,
    Count,
    ExpressionWrapper,
    F,
    FloatField,
    Prefetch,
    Q,
    QuerySet,
)
from django.utils import timezone

from agencies.models import Agency
from issues.models import DONE_STATUSES, Cooperation, CooperationStatus, Issue

from . import rules
from .models import AgendaItem, AgendaItemStatus, Meeting, MeetingStatus, PerformanceReport


def readable_agenda_items(user, prefix: str = "") -> Q:
    """Agenda items the user may see: none about an issue they may not read.

    A restricted issue's title is copied into its agenda item, so such an
    item must vanish for outsiders like the issue itself, from lists and
    counts too (CONTRACT.md).
    """
    if rules.can_manage_meeting(user):
        return Q()
    return Q(**{f"{prefix}issue__isnull": True}) | Q(
        **{f"{prefix}issue__in": Issue.objects.visible_to(user).values("pk")}
    )


def on_upcoming_agenda() -> Q:
    """Issues on the agenda of a scheduled meeting still ahead (and not taken off it).

    The condition behind ``/issues/?agenda=1`` (registered with
    ``issues.extensions`` in MeetingsConfig.ready) and the dashboard's
    "on an upcoming agenda" figure.
    """
    items = AgendaItem.objects.filter(
        meeting__status=MeetingStatus.SCHEDULED, meeting__starts_at__gt=timezone.now()
    ).exclude(status=AgendaItemStatus.REMOVED)
    return Q(pk__in=items.values("issue_id"))


def meeting_list(user, now: datetime | None = None) -> tuple[QuerySet[Meeting], QuerySet[Meeting]]:
    """(upcoming, past) meetings the user may see; cancelled ones count as past."""
    now = now or timezone.now()
    meetings = Meeting.objects.for_user(user).defer("minutes")
    agenda_size = Count(
        "agenda_items",
        filter=Q(agenda_items__status=AgendaItemStatus.ACCEPTED)
        & readable_agenda_items(user, prefix="agenda_items__"),
        distinct=True,
    )
    has_minutes = ExpressionWrapper(~Q(minutes=""), output_field=BooleanField())
    upcoming = meetings.upcoming(now).annotate(agenda_size=agenda_size)
    past = meetings.past(now).annotate(agenda_size=agenda_size, has_minutes=has_minutes)
    return upcoming, past


def meeting_detail(meeting_id: int, user) -> Meeting:
    """One meeting the user may see, with invited agencies and agenda items prefetched.

    Each agenda item comes with its issue (and the issue's lead agency) and
    its presenting agency; removed items only for those who run meetings.
    Raises Meeting.DoesNotExist when it does not exist *for this user*.
    """
    items = AgendaItem.objects.filter(readable_agenda_items(user)).select_related(
        "issue__lead_agency", "presenting_agency", "proposed_by"
    )
    if not rules.can_manage_meeting(user):
        items = items.exclude(status=AgendaItemStatus.REMOVED)
    return (
        Meeting.objects.for_user(user)
        .prefetch_related(
            Prefetch(
                "invited_agencies", queryset=Agency.objects.order_by("display_order", "name_ko")
            ),
            "attended_agencies",
            Prefetch("agenda_items", queryset=items.order_by("order", "id")),
        )
        .get(pk=meeting_id)
    )


def issue_agenda_items(issue: Issue, user) -> list[AgendaItem]:
    """The agendas an issue is on, for the issue page, in one query.

    Only meetings the user may see, never items the Mayor's office removed.
    """
    return list(
        AgendaItem.objects.filter(
            issue=issue, meeting__in=Meeting.objects.for_user(user).values("pk")
        )
        .exclude(status=AgendaItemStatus.REMOVED)
        .select_related("meeting")
        .order_by("-meeting__starts_at")
    )


def meetings_open_for_proposal(issue: Issue, user) -> QuerySet[Meeting]:
    """Upcoming meetings the user's agency is invited to and the issue is not on yet."""
    return (
        Meeting.objects.for_user(user)
        .upcoming()
        .exclude(agenda_items__issue=issue)
        .defer("minutes")
    )


# --- The December performance briefing ----------------------------------------


@dataclass
class AgencyPerformance:
    """One organization's issue figures for a year, computed, never typed in."""

    agency: Agency
    report: PerformanceReport | None = None
    filed: int = 0
    resolved: int = 0
    median_days: float | None = None
    overdue: int = 0
    cooperation_answered: int = 0


def _year_bounds(year: int) -> tuple[datetime, datetime]:
    """The first instant of the year and of the next one, in Asia/Seoul."""
    return (
        timezone.make_aware(datetime(year, 1, 1)),
        timezone.make_aware(datetime(year + 1, 1, 1)),
    )


def overdue_cutoff(year: int, today: date | None = None) -> date:
    """The day on which "overdue" is counted: today for this year, Dec 31 for past years."""
    today = today or timezone.localdate()
    return min(today, date(year, 12, 31))


class _Median(Aggregate):
    # PostgreSQL's ordered-set aggregate; the interval becomes seconds first.
    function = "PERCENTILE_CONT"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM %(expressions)s))"
    output_field = FloatField()


def median_days(rows: QuerySet, group: str, start: str, end: str) -> dict[int, float]:
    """Median days from ``start`` to ``end`` of ``rows`` per ``group`` value, in one query.

    The one median of the app: days to resolve an issue per lead agency (the
    performance pages and the dashboard) and days to answer a cooperation
    request per cooperating agency (the dashboard's follow-through).

    PostgreSQL computes the median itself (``percentile_cont``); SQLite has no
    such aggregate, so there the durations come back in one query and Python
    takes the median.
    """
    if connection.vendor == "postgresql":
        medians = (
            rows.order_by()
            .values(group)
            .annotate(median=_Median(F(end) - F(start)))
            .values_list(group, "median")
        )
        return {key: seconds / 86400 for key, seconds in medians if seconds is not None}
    durations: dict[int, list[float]] = {}
    for key, started, ended in rows.order_by().values_list(group, start, end):
        durations.setdefault(key, []).append((ended - started).total_seconds() / 86400)
    return {key: statistics.median(values) for key, values in durations.items()}


def median_days_by_lead(resolved: QuerySet[Issue]) -> dict[int, float]:
    """Median days from filing to resolution per lead agency."""
    return median_days(resolved, "lead_agency_id", "created_at", "resolved_at")


def performance_statistics(
    year: int, *, viewer=None, agencies: QuerySet[Agency] | None = None, today: date | None = None
) -> list[AgencyPerformance]:
    """Every active public organization's issue figures for ``year``, in five queries.

    - filed: issues it leads, filed in the year;
    - resolved: issues it leads, resolved (or closed) in the year;
    - median_days: median days from filing to resolution of those;
    - overdue: issues it leads that were past due and still unresolved on
      ``overdue_cutoff(year)`` (for this year: the active issues due before today);
    - cooperation_answered: cooperation requests to it answered in the year.

    With ``viewer``, only issues the viewer may read are counted, so a count
    never hints at a restricted issue (CONTRACT.md).
    """
    start, end = _year_bounds(year)
    cutoff = overdue_cutoff(year, today)
    # The end of the cutoff day: issues filed by then and not resolved by then.
    cutoff_end = timezone.make_aware(datetime.combine(cutoff + timedelta(days=1), time.min))
    agencies = list(
        agencies if agencies is not None else Agency.objects.active().public_organizations()
    )
    ids = [agency.pk for agency in agencies]
    issues = Issue.objects.filter(lead_agency_id__in=ids)
    cooperations = Cooperation.objects.filter(agency_id__in=ids)
    if viewer is not None:
        visible = Issue.objects.visible_to(viewer).values("pk")
        issues = issues.filter(pk__in=visible)
        cooperations = cooperations.filter(issue__in=visible)

    resolved_in_year = Q(status__in=DONE_STATUSES, resolved_at__gte=start, resolved_at__lt=end)
    overdue = (
        Q(due_date__lt=cutoff, created_at__lt=cutoff_end)
        & (Q(resolved_at__isnull=True) | Q(resolved_at__gte=cutoff_end))
        & ~Q(status__in=DONE_STATUSES, resolved_at__isnull=True)
    )
    counts = {
        row["lead_agency_id"]: row
        for row in issues.order_by()
        .values("lead_agency_id")
        .annotate(
            filed=Count("pk", filter=Q(created_at__gte=start, created_at__lt=end)),
            resolved=Count("pk", filter=resolved_in_year),
            overdue=Count("pk", filter=overdue),
        )
    }
    medians = median_days_by_lead(issues.filter(resolved_in_year))
    answered = dict(
        cooperations.filter(answered_at__gte=start, answered_at__lt=end)
        .exclude(status=CooperationStatus.REQUESTED)
        .order_by()
        .values("agency_id")
        .annotate(n=Count("pk"))
        .values_list("agency_id", "n")
    )
    reports = {
        report.agency_id: report
        for report in PerformanceReport.objects.filter(year=year, agency_id__in=ids).select_related(
            "submitted_by"
        )
    }
    rows = []
    for agency in agencies:
        row = counts.get(agency.pk, {})
        rows.append(
            AgencyPerformance(
                agency=agency,
                report=reports.get(agency.pk),
                filed=row.get("filed", 0),
                resolved=row.get("resolved", 0),
                median_days=medians.get(agency.pk),
                overdue=row.get("overdue", 0),
                cooperation_answered=answered.get(agency.pk, 0),
            )
        )
    return rows


class TimelineMeetingAccess:
    """The meetings rule behind ``issues.timeline``: who may read which meeting's name.

    Registered in ``MeetingsConfig.ready()``; mirrors ``rules.can_view_meeting``.
    """

    def sees_every_meeting(self, user) -> bool:
        return rules.sees_every_meeting(user)

    def viewable_meeting_ids(self, user, meeting_ids: set[int]) -> set[int]:
        if not (user.is_authenticated and user.is_active):
            return set()
        return set(
            Meeting.objects.for_user(user).filter(pk__in=meeting_ids).values_list("pk", flat=True)
        )
