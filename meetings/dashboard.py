"""The Mayor's office dashboard: every organization at a glance.

Every figure is an aggregate computed in the database, in a fixed number of
queries whatever the number of issues. Figures are cached for at most
``CACHE_SECONDS`` and the page says as of when; a change shows within a
minute. Each number links to the issue list filtered to exactly the issues it
counts (see ``issues.selectors.IssueFilters``).
"""

from __future__ import annotations

import hashlib
import statistics
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.db.models import Count, Exists, F, Min, OuterRef, Q
from django.db.models.functions import TruncMonth
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from agencies.http import AuthenticatedHttpRequest
from agencies.models import Agency
from core import cache as resilient_cache
from core.exports import csv_response, xlsx_response
from issues.models import ACTIVE_STATUSES, DONE_STATUSES, Cooperation, CooperationStatus, Issue
from issues.selectors import resolved_between

from .chart import monthly_bars
from .models import (
    Meeting,
    MeetingKind,
    PerformanceReport,
    PerformanceReportStatus,
    ReminderDelivery,
)
from .rules import dashboard_scope
from .selectors import on_upcoming_agenda, readable_agenda_items

CACHE_SECONDS = 60
STALE_REQUEST_DAYS = 14

PERIODS = {
    "month": _("This month"),
    "quarter": _("This quarter"),
    "year": _("This year"),
    "custom": _("Custom range"),
}


@dataclass(frozen=True)
class Period:
    key: str
    start: date
    end: date

    @property
    def label(self):
        return PERIODS[self.key]


def period_from(params, today: date) -> tuple[Period, list[str]]:
    """The period asked for in the query string; bad input falls back to this month."""
    key = params.get("period", "month")
    errors: list[str] = []
    if key == "quarter":
        first_month = 3 * ((today.month - 1) // 3) + 1
        return Period(key, today.replace(month=first_month, day=1), today), errors
    if key == "year":
        return Period(key, today.replace(month=1, day=1), today), errors
    if key == "custom":
        try:
            start = date.fromisoformat(params.get("start", ""))
            end = date.fromisoformat(params.get("end", ""))
        except ValueError:
            errors.append(_("Enter both dates of the custom range as YYYY-MM-DD."))
        else:
            if start > end:
                errors.append(_("The start of the range must not be after its end."))
            elif start.year < 2000 or end.year > 2100:
                errors.append(_("Enter a date between 2000 and 2100."))
            else:
                return Period(key, start, end), errors
    return Period("month", today.replace(day=1), today), errors


@dataclass
class AgencyRow:
    agency: Agency
    open: int = 0
    overdue: int = 0
    waiting: int = 0
    oldest_waiting_days: int | None = None
    resolved: int = 0
    median_days: float | None = None
    links: dict[str, str] = field(default_factory=dict)


def _issue_link(**params) -> str:
    return reverse("issues:list") + "?" + urlencode({k: v for k, v in params.items() if v})


def _median_days_by_agency(issues, agency_ids) -> dict[int, float]:
    """Median days from filing to resolution per lead agency.

    PostgreSQL computes it (percentile_cont); elsewhere the durations come
    back in one query and Python takes the median.
    """
    duration = F("resolved_at") - F("created_at")
    if connection.vendor == "postgresql":
        from django.db.models import Aggregate, FloatField

        class Median(Aggregate):
            function = "percentile_cont"
            template = (
                "%(function)s(0.5) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM %(expressions)s))"
            )
            output_field = FloatField()

        rows = (
            issues.values("lead_agency_id")
            .annotate(median=Median(duration))
            .values_list("lead_agency_id", "median")
        )
        return {agency_id: seconds / 86400 for agency_id, seconds in rows if seconds is not None}
    durations: dict[int, list[float]] = {}
    for agency_id, created, resolved in issues.values_list(
        "lead_agency_id", "created_at", "resolved_at"
    ):
        durations.setdefault(agency_id, []).append((resolved - created).total_seconds() / 86400)
    return {agency_id: statistics.median(values) for agency_id, values in durations.items()}


def compute(*, scope: Agency | None, period: Period, today: date, viewer=None) -> dict:
    """All figures of the dashboard, for one agency (scope) or all of them.

    ``viewer`` is whom the figures are for; what a non-Mayor's-office user may
    read depends only on their agency, so the figures of one scope are the
    same for all its people (and cached per scope).
    """
    now = timezone.now()
    issues = Issue.objects.all()
    cooperations = Cooperation.objects.filter(issue__status__in=ACTIVE_STATUSES)
    agencies = list(Agency.objects.active().public_organizations())
    if scope is not None:
        issues = issues.involving(scope)
        agencies = [a for a in agencies if a.pk == scope.pk]
    resolved_in_period = Q(status__in=DONE_STATUSES, **resolved_between(period.start, period.end))
    overdue = Q(status__in=ACTIVE_STATUSES, due_date__lt=today)
    waiting = Exists(
        Cooperation.objects.filter(issue=OuterRef("pk"), status=CooperationStatus.REQUESTED)
    )

    headline = issues.aggregate(
        open=Count("pk", filter=Q(status__in=ACTIVE_STATUSES)),
        overdue=Count("pk", filter=overdue),
        resolved=Count("pk", filter=resolved_in_period),
        waiting=Count("pk", filter=Q(waiting) & Q(status__in=ACTIVE_STATUSES)),
        on_agenda=Count("pk", filter=on_upcoming_agenda()),
    )
    scope_slug = scope.slug if scope else ""
    headline_links = {
        "open": _issue_link(agency=scope_slug, active=1),
        "overdue": _issue_link(agency=scope_slug, overdue=1),
        "resolved": _issue_link(
            agency=scope_slug,
            resolved_from=period.start.isoformat(),
            resolved_to=period.end.isoformat(),
        ),
        "waiting": _issue_link(agency=scope_slug, active=1, awaiting=1),
        "on_agenda": _issue_link(agency=scope_slug, agenda=1),
    }

    # Per agency: issues it leads, and cooperation requests addressed to it.
    by_lead = {
        row["lead_agency_id"]: row
        for row in Issue.objects.values("lead_agency_id").annotate(
            open=Count("pk", filter=Q(status__in=ACTIVE_STATUSES)),
            overdue=Count("pk", filter=overdue),
            resolved=Count("pk", filter=resolved_in_period),
        )
    }
    by_cooperator = {
        row["agency_id"]: row
        for row in cooperations.filter(status=CooperationStatus.REQUESTED)
        .values("agency_id")
        .annotate(waiting=Count("pk"), oldest=Min("requested_at"))
    }
    medians = _median_days_by_agency(
        Issue.objects.filter(resolved_in_period, resolved_at__isnull=False),
        [a.pk for a in agencies],
    )
    rows = []
    for agency in agencies:
        lead = by_lead.get(agency.pk, {})
        cooperator = by_cooperator.get(agency.pk, {})
        oldest = cooperator.get("oldest")
        rows.append(
            AgencyRow(
                agency=agency,
                open=lead.get("open", 0),
                overdue=lead.get("overdue", 0),
                waiting=cooperator.get("waiting", 0),
                oldest_waiting_days=(now - oldest).days if oldest else None,
                resolved=lead.get("resolved", 0),
                median_days=medians.get(agency.pk),
                links={
                    "open": _issue_link(lead=agency.slug, active=1),
                    "overdue": _issue_link(lead=agency.slug, overdue=1),
                    "waiting": _issue_link(waiting_for=agency.slug, active=1),
                    "resolved": _issue_link(
                        lead=agency.slug,
                        resolved_from=period.start.isoformat(),
                        resolved_to=period.end.isoformat(),
                    ),
                },
            )
        )

    # The cooperation map: lead × cooperating agency, open requests only.
    stale_before = now - timedelta(days=STALE_REQUEST_DAYS)
    pairs = {
        (row["issue__lead_agency_id"], row["agency_id"]): row
        for row in cooperations.filter(status=CooperationStatus.REQUESTED)
        .values("issue__lead_agency_id", "agency_id")
        .annotate(open=Count("pk"), stale=Count("pk", filter=Q(requested_at__lt=stale_before)))
    }
    map_agencies = agencies
    cooperation_map = {
        "agencies": map_agencies,
        "max": max((p["open"] for p in pairs.values()), default=0),
        "rows": [
            {
                "lead": lead,
                "cells": [
                    {
                        "cooperator": cooperator,
                        "open": pairs.get((lead.pk, cooperator.pk), {}).get("open", 0),
                        "stale": pairs.get((lead.pk, cooperator.pk), {}).get("stale", 0),
                    }
                    for cooperator in map_agencies
                ],
            }
            for lead in map_agencies
        ],
    }

    trend = _trend(issues, today)
    chart = monthly_bars(trend)
    meetings = _next_meetings(now, scope, viewer)
    readiness = _briefing_readiness(today.year, agencies)
    return {
        "headline": headline,
        "headline_links": headline_links,
        "rows": rows,
        "cooperation_map": cooperation_map,
        "trend": trend,
        "chart": chart,
        "meetings": meetings,
        "readiness": readiness,
        "as_of": now,
    }


def _month_starts(today: date, count: int = 12) -> list[date]:
    months = []
    year, month = today.year, today.month
    for _i in range(count):
        months.append(date(year, month, 1))
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return list(reversed(months))


def _trend(issues, today: date) -> list[dict]:
    """Issues opened and resolved per month over the last 12 months (Asia/Seoul)."""
    months = _month_starts(today)
    since = timezone.make_aware(datetime.combine(months[0], datetime.min.time()))
    opened = dict(
        issues.filter(created_at__gte=since)
        .annotate(month=TruncMonth("created_at"))
        .values("month")
        .annotate(n=Count("pk"))
        .values_list("month", "n")
    )
    resolved = dict(
        issues.filter(resolved_at__gte=since, status__in=DONE_STATUSES)
        .annotate(month=TruncMonth("resolved_at"))
        .values("month")
        .annotate(n=Count("pk"))
        .values_list("month", "n")
    )

    def by_month(rows: dict) -> dict[date, int]:
        # TruncMonth yields aware datetimes at local midnight (or dates on some backends).
        return {
            (timezone.localtime(key).date() if isinstance(key, datetime) else key): n
            for key, n in rows.items()
        }

    opened, resolved = by_month(opened), by_month(resolved)
    return [
        {"month": m, "opened": opened.get(m, 0), "resolved": resolved.get(m, 0)} for m in months
    ]


def _next_meetings(now, scope: Agency | None, viewer) -> list[dict]:
    meetings = Meeting.objects.upcoming(now)
    readable = Q()
    if scope is not None:
        meetings = meetings.filter(invited_agencies=scope)
        # Agenda items about issues the viewer may not read are not even counted.
        readable = readable_agenda_items(viewer, prefix="agenda_items__")
    upcoming = list(
        meetings.annotate(
            agenda_accepted=Count(
                "agenda_items", filter=Q(agenda_items__status="accepted") & readable, distinct=True
            ),
            agenda_proposed=Count(
                "agenda_items", filter=Q(agenda_items__status="proposed") & readable, distinct=True
            ),
        )[:3]
    )
    reminders = {
        row["meeting_id"]: row
        for row in ReminderDelivery.objects.filter(meeting__in=upcoming)
        .values("meeting_id")
        .annotate(planned=Count("pk"), sent=Count("pk", filter=Q(sent_at__isnull=False)))
    }
    return [
        {"meeting": m, "reminders": reminders.get(m.pk, {"planned": 0, "sent": 0})}
        for m in upcoming
    ]


def _briefing_readiness(year: int, agencies: list[Agency]) -> dict:
    submitted = set(
        PerformanceReport.objects.filter(
            year=year, status=PerformanceReportStatus.SUBMITTED, agency__in=agencies
        ).values_list("agency_id", flat=True)
    )
    briefing = (
        Meeting.objects.filter(kind=MeetingKind.PERFORMANCE_BRIEFING, starts_at__year=year)
        .order_by("starts_at")
        .first()
    )
    return {
        "year": year,
        "briefing": briefing,
        "submitted": [a for a in agencies if a.pk in submitted],
        "missing": [a for a in agencies if a.pk not in submitted],
    }


@login_required
@require_GET
@vary_on_headers("HX-Request")
def dashboard(request: AuthenticatedHttpRequest) -> HttpResponse:
    user = request.user
    allowed = dashboard_scope(user)
    if allowed is None:
        return redirect("issues:list")
    scope = allowed.agency
    today = timezone.localdate()
    period, errors = period_from(request.GET, today)
    # Keys change every CACHE_SECONDS, so no figure is ever older than that,
    # whatever the cache backend does with expiry. Both the figures and their
    # rendered HTML are cached: rendering 24 rows and a 24 x 24 map costs more
    # than the queries once the figures are cached.
    bucket = int(timezone.now().timestamp() // CACHE_SECONDS)
    scope_key = scope.pk if scope else "all"
    key = f"dashboard:{scope_key}:{period.key}:{period.start}:{period.end}:{bucket}"
    sort = request.GET.get("sort", "")
    # The rendered HTML depends on everything shown: the language, the sort and
    # the messages themselves (two different mistakes must never share a page).
    error_key = hashlib.sha256("\n".join(str(e) for e in errors).encode()).hexdigest()[:16]
    html_key = f"{key}:html:{get_language()}:{sort}:{error_key}"
    # The cache is a speed-up: with Redis down the page is computed afresh.
    figures_html = resilient_cache.get(html_key)
    context = {"period": period, "periods": PERIODS, "scope": scope}
    if figures_html is None:
        figures = resilient_cache.get(key)
        if figures is None:
            figures = compute(scope=scope, period=period, today=today, viewer=user)
            resilient_cache.set(key, figures, CACHE_SECONDS)
        context |= {
            **figures,
            "rows": _sorted_rows(figures["rows"], sort),
            "period_query": _period_query(period),
            "errors": errors,
            "sort": sort,
        }
        figures_html = render_to_string("meetings/dashboard.html#figures", context, request)
        resilient_cache.set(html_key, figures_html, CACHE_SECONDS)
    if request.htmx:
        return HttpResponse(figures_html)
    # Our own template's output, from the cache: safe to insert as it is.
    context["figures_html"] = mark_safe(figures_html)  # noqa: S308
    return render(request, "meetings/dashboard.html", context)


def _period_query(period: Period) -> str:
    params = {"period": period.key}
    if period.key == "custom":
        params |= {"start": period.start.isoformat(), "end": period.end.isoformat()}
    return urlencode(params)


def _figures_for(request: HttpRequest):
    user = request.user
    scope = dashboard_scope(user).agency
    today = timezone.localdate()
    period, _errors = period_from(request.GET, today)
    return scope, period, compute(scope=scope, period=period, today=today, viewer=user)


EXPORT_COLUMNS = [
    ("agency", _("Organization")),
    ("open", _("Open")),
    ("overdue", _("Overdue")),
    ("waiting", _("Requests waiting for their answer")),
    ("oldest_waiting_days", _("Oldest request (days)")),
    ("resolved", _("Resolved in the period")),
    ("median_days", _("Median days to resolve")),
]


def _export_rows(rows: list[AgencyRow]):
    for row in rows:
        yield [
            row.agency.name,
            row.open,
            row.overdue,
            row.waiting,
            row.oldest_waiting_days if row.oldest_waiting_days is not None else "",
            row.resolved,
            round(row.median_days, 1) if row.median_days is not None else "",
        ]


@login_required
@require_GET
def dashboard_export(request: AuthenticatedHttpRequest, fmt: str) -> HttpResponse:
    """The agency table as CSV (UTF-8 with BOM) or XLSX, for the same period."""
    if fmt not in ("csv", "xlsx"):
        raise Http404
    if dashboard_scope(request.user) is None:
        return redirect("issues:list")
    scope, period, figures = _figures_for(request)
    header = [str(label) for _key, label in EXPORT_COLUMNS]
    name = f"gwangju-hub-agencies-{period.start:%Y%m%d}-{period.end:%Y%m%d}"
    rows = _export_rows(figures["rows"])
    if fmt == "xlsx":
        return xlsx_response(
            header,
            rows,
            filename=f"{name}.xlsx",
            sheet_title=f"{period.start:%Y-%m-%d}~{period.end:%Y-%m-%d}",
            column_widths={"A": 40},
        )
    return csv_response(header, rows, filename=f"{name}.csv")


SORT_KEYS = {"open", "overdue", "waiting", "oldest_waiting_days", "resolved", "median_days"}


def _sorted_rows(rows: list[AgencyRow], sort: str) -> list[AgencyRow]:
    descending = sort.startswith("-")
    name = sort.lstrip("-")
    if name not in SORT_KEYS:
        return rows
    present = [r for r in rows if getattr(r, name) is not None]
    absent = [r for r in rows if getattr(r, name) is None]
    return sorted(present, key=lambda r: getattr(r, name), reverse=descending) + absent
