"""The dashboard's figures: every organization at a glance, as data.

Selectors only (reads): each starts from ``Issue.objects.visible_to(viewer)``,
so a figure never counts an issue its viewer may not read. Every figure is an
aggregate computed in the database, in a fixed number of queries whatever the
number of issues or organizations:

1. the organizations shown, each saying whether its report is in;
2. one pass over the issues, grouped by lead organization and status: the
   headline and the agency table's issue counts (``_issue_counts``);
3. for every organization, the issues filed and those resolved in the last
   12 months, each grouped by month: the trend (``_trend_counts``); for a
   head's, the trend is counted in pass 2 (``_trend_from_counts``);
4. the issues on an upcoming agenda, a few rows read by key (``_on_agenda``);
5. the median days to resolve per lead organization;
6. one pass over the open cooperation requests, grouped by (lead,
   cooperating organization): the agency table's waiting requests and the
   cooperation map (``_open_requests``);
7. the answers' medians and the escalations (``_follow_through``, two);
8. the next meetings with their reminders, the briefing (two).

On PostgreSQL the Mayor's office's queries about issues read only narrow
indexes (index-only scans), never the wide rows: ``issue_lead_status_idx``
for pass 2, ``issue_created_idx`` and ``issue_resolved_idx`` for the trend and
the median, ``issue_active_idx`` with ``cooperation_requested_idx`` for the
open requests.

Figures are cached as data for at most ``CACHE_SECONDS``, shared by every
process; each process keeps its own rendering of one cached computation
beside it (``version``, dashboard.html), never a rendering of anything else.
Each number links to the issue list filtered to exactly the issues it counts
(see ``issues.selectors.IssueFilters``).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from urllib.parse import quote_plus, urlencode

from django.db import connection
from django.db.models import (
    Case,
    Count,
    DateTimeField,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    Func,
    IntegerField,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.urls import reverse
from django.utils import timezone

from agencies.models import Agency
from core import cache as resilient_cache
from issues.models import (
    ACTIVE_STATUSES,
    DONE_STATUSES,
    Cooperation,
    CooperationStatus,
    Issue,
)
from issues.selectors import escalations_between, resolved_between

from .chart import monthly_bars
from .forms import Period
from .models import (
    Meeting,
    MeetingKind,
    PerformanceReport,
    PerformanceReportStatus,
    ReminderDelivery,
)
from .selectors import (
    median_days,
    median_days_by_lead,
    on_upcoming_agenda,
    readable_agenda_items,
)

CACHE_SECONDS = 60
STALE_REQUEST_DAYS = 14
TREND_MONTHS = 12
# The headline counts that ``_issue_counts`` gives; "on_agenda" is ``_on_agenda``.
HEADLINE = ("open", "overdue", "resolved", "waiting")


@dataclass
class AgencyRow:
    agency: Agency
    open: int = 0
    overdue: int = 0
    waiting: int = 0
    oldest_waiting_days: int | None = None
    # Follow-through of the requests addressed to it (issue 9).
    reply_overdue: int = 0
    answer_median_days: float | None = None
    escalations: int = 0
    resolved: int = 0
    median_days: float | None = None
    links: dict[str, str] = field(default_factory=dict)


def dashboard_figures(*, viewer, scope: Agency | None, period: Period, today: date) -> dict:
    """All figures of the dashboard, from the cache when they are fresh enough.

    What a user other than the Mayor's office may read depends only on their
    agency, so the figures of one scope are the same for all its people and
    are cached per scope. The cache key changes every ``CACHE_SECONDS``, so no
    figure is ever older than that, whatever the backend does with expiry;
    with the cache down (``core.cache``) they are computed afresh.
    """
    bucket = int(timezone.now().timestamp() // CACHE_SECONDS)
    scope_key = scope.pk if scope else "all"
    key = f"dashboard:figures:{scope_key}:{period.key}:{period.start}:{period.end}:{bucket}"
    figures = resilient_cache.get(key)
    if figures is None:
        figures = compute_figures(viewer=viewer, scope=scope, period=period, today=today)
        # A name for this one computation, kept with it: the page keeps its
        # rendered figures under it (dashboard.html), so what it shows is never
        # older than the figures, and figures computed afresh are rendered afresh.
        figures["version"] = secrets.token_hex(8)
        if not resilient_cache.set(key, figures, CACHE_SECONDS):
            # The cache is down: every request computes its own figures, and
            # keeping a rendering of each would only fill memory.
            figures["version"] = None
    return figures


def compute_figures(*, viewer, scope: Agency | None, period: Period, today: date) -> dict:
    """The figures for one agency (``scope``) or, with None, for all of them."""
    now = timezone.now()
    issues = Issue.objects.visible_to(viewer)
    if scope is not None:
        issues = issues.involving(scope)
    agencies = _organizations(scope, year=today.year)
    months = month_starts(today)
    if scope is None:
        # Every issue: two passes that read only an index (see _issue_counts).
        counts = _issue_counts(issues, period=period, today=today)
        trend = _trend(months, *_trend_counts(issues, months))
    else:
        # A head's issues: deciding which issues are theirs is most of a pass
        # (every row, and two subqueries), and the counts then run on a tenth
        # of them: one pass for both.
        counts = _issue_counts(issues, period=period, today=today, months=months)
        trend = _trend(months, *_trend_from_counts(counts, months))
    requests = _open_requests(issues, now=now, today=today)
    resolved = issues.filter(status__in=DONE_STATUSES, **resolved_between(period.start, period.end))
    links = IssueLinks(period)
    medians = {
        "resolve": median_days_by_lead(resolved),
        **_follow_through(_about_issues_in_scope(viewer, scope, issues), period),
    }
    return {
        "headline": _headline(counts) | {"on_agenda": _on_agenda(issues)},
        "headline_links": links.headline(scope),
        "rows": _agency_rows(agencies, counts, requests, medians, links),
        "cooperation_map": _cooperation_map(agencies, requests),
        "trend": trend,
        "chart": monthly_bars(trend),
        "meetings": _next_meetings(now, scope, viewer),
        "readiness": _briefing_readiness(today.year, agencies),
        "as_of": now,
    }


def _about_issues_in_scope(viewer, scope: Agency | None, issues: QuerySet[Issue]) -> Q:
    """For rows that point at an issue (``issue``): those about an issue in ``issues``.

    For all organizations that is every issue the viewer may read, which
    ``visible_through`` says without a join when the viewer reads everything:
    a join to 20,000 issues that filters nothing took half of each such query.
    """
    if scope is None:
        return Issue.objects.visible_through(viewer, "issue")
    return Q(issue__in=issues)


def _organizations(scope: Agency | None, *, year: int) -> list[Agency]:
    """The organizations shown, each with ``report_submitted``: whether its performance
    report for ``year`` is in (the briefing readiness), asked in the same query."""
    submitted = PerformanceReport.objects.filter(
        agency=OuterRef("pk"), year=year, status=PerformanceReportStatus.SUBMITTED
    )
    agencies = (
        Agency.objects.active().public_organizations().annotate(report_submitted=Exists(submitted))
    )
    if scope is not None:
        agencies = agencies.filter(pk=scope.pk)
    return list(agencies)


# --- Issues: headline, agency table, trend ------------------------------------


def month_starts(today: date, count: int = TREND_MONTHS) -> list[date]:
    """The first days of the last ``count`` months, oldest first, this month last."""
    months = []
    year, month = today.year, today.month
    for _i in range(count):
        months.append(date(year, month, 1))
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return list(reversed(months))


def _seoul_midnight(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, datetime.min.time()))


# Which issues a count applies to, by status; None: any status.
ANY_STATUS = None


def _issue_conditions(
    period: Period, today: date, months: list[date] | None = None
) -> dict[str, tuple[Q | None, tuple[str, ...] | None]]:
    """What each count of ``_issue_counts`` counts: a condition, and the statuses it is for.

    The status is not part of the conditions: the counts are grouped by it, so
    the database tests it once per issue rather than once per count (a third of
    the query's time on 20,000 issues).
    """
    requested = Cooperation.objects.filter(status=CooperationStatus.REQUESTED)
    conditions = {
        "open": (None, ACTIVE_STATUSES),
        "overdue": (Q(due_date__lt=today), ACTIVE_STATUSES),
        "resolved": (Q(**resolved_between(period.start, period.end)), DONE_STATUSES),
        # "pk IN (subquery)" rather than EXISTS: PostgreSQL hashes the subquery
        # once instead of probing the cooperations for each issue.
        "waiting": (Q(pk__in=requested.values("issue_id")), ACTIVE_STATUSES),
    }
    # The trend, when counted here (``_trend_from_counts``): issues filed (resolved)
    # before each month's first midnight, and before the next month's: one
    # comparison per month and issue, where "in this month" would take two.
    for index, edge in enumerate(_month_edges(months or [])):
        conditions[f"created_before_{index}"] = (Q(created_at__lt=edge), ANY_STATUS)
        conditions[f"resolved_before_{index}"] = (Q(resolved_at__lt=edge), DONE_STATUSES)
    return conditions


def _issue_counts(
    issues: QuerySet[Issue], *, period: Period, today: date, months: list[date] | None = None
) -> dict[int, dict[str, int]]:
    """The headline's and the agency table's issue counts per lead organization, in one
    pass; with ``months``, the trend's too (``_trend_from_counts``).

    Over every issue, the trend is better in a pass of its own (``_trend_counts``):
    as 24 more counts here, each tested on each of 20,000 issues, it took two
    thirds of this query's time. Over a head's issues, which the query must first
    pick out of all, those counts only run on the few it keeps.
    """
    conditions = _issue_conditions(period, today, months)
    rows = (
        issues.order_by()
        .values("lead_agency_id", "status")
        .annotate(**{name: Count("pk", filter=q) for name, (q, _statuses) in conditions.items()})
    )
    by_lead: dict[int, dict[str, int]] = {}
    for row in rows:
        totals = by_lead.setdefault(row["lead_agency_id"], dict.fromkeys(conditions, 0))
        for name, (_condition, statuses) in conditions.items():
            if statuses is ANY_STATUS or row["status"] in statuses:
                totals[name] += row[name]
    return by_lead


def _headline(counts: dict[int, dict[str, int]]) -> dict[str, int]:
    """The headline counts every issue in scope, whichever organization leads it."""
    return {name: sum(row[name] for row in counts.values()) for name in HEADLINE}


def _on_agenda(issues: QuerySet[Issue]) -> int:
    """Issues on an upcoming agenda: a handful, found by primary key.

    Apart from ``_issue_counts``: there the condition would be tested on every
    issue (a tenth of that query's time); alone it reads a few rows.
    """
    return issues.filter(on_upcoming_agenda()).count()


def _month_bucket(field: str, edges: list[datetime]) -> Func | Case:
    """Which interval between ``edges`` ``field`` falls in: 0 before the first edge,
    ``i`` from ``edges[i - 1]`` up to ``edges[i]``, ``len(edges)`` (or NULL) after
    the last or for no value at all.

    PostgreSQL's ``width_bucket`` finds it in one call per row; elsewhere a CASE
    of "before this edge" tests, earliest first. A CASE compiles a condition per
    edge, which cost more Python (~6 ms) than the database spent running it.
    """
    if connection.vendor == "postgresql":
        return Func(F(field), Value(edges), function="WIDTH_BUCKET", output_field=IntegerField())
    whens = [When(**{f"{field}__lt": edge}, then=Value(index)) for index, edge in enumerate(edges)]
    return Case(*whens, default=Value(len(edges)), output_field=IntegerField())


def _month_edges(months: list[date]) -> list[datetime]:
    """Each month's first midnight in Asia/Seoul, and the next month's."""
    if not months:
        return []
    edges = [_seoul_midnight(m) for m in months]
    edges.append(_seoul_midnight((months[-1] + timedelta(days=31)).replace(day=1)))
    return edges


def _trend_counts(issues: QuerySet[Issue], months: list[date]) -> tuple[list[int], list[int]]:
    """Issues filed, and resolved, in each of ``months``, in one query.

    Two ranges read in index order, each grouped by its month (``_month_bucket``:
    bucket ``i + 1`` is ``months[i]``): the issues filed in the months
    (``issue_created_idx``), and those resolved in them, counted only while
    resolved or closed, as a reopened one keeps its old date (``issue_resolved_idx``).
    One pass over every issue instead left PostgreSQL a coin toss between the wide
    rows and ``issue_lead_status_idx``, and it chose the rows on the benchmark data
    set (8-16 ms; these two ranges, 5-8).
    """
    edges = _month_edges(months)
    start, end = edges[0], edges[-1]

    def per_month(kind: int, field: str, condition: Q) -> QuerySet:
        in_months = Q(**{f"{field}__gte": start, f"{field}__lt": end}) & condition
        return (
            issues.filter(in_months)
            .order_by()
            .values(kind=Value(kind), month=_month_bucket(field, edges))
            # COUNT(*), not COUNT(id): the id is in neither index.
            .annotate(n=Count("*"))
            .values_list("kind", "month", "n")
        )

    filed = per_month(0, "created_at", Q())
    done = per_month(1, "resolved_at", Q(status__in=DONE_STATUSES))
    counts = ([0] * len(months), [0] * len(months))
    for kind, month, n in filed.union(done, all=True):
        counts[kind][month - 1] += n
    return counts


def _trend_from_counts(
    counts: dict[int, dict[str, int]], months: list[date]
) -> tuple[list[int], list[int]]:
    """Issues filed, and resolved, in each of ``months``, from ``_issue_counts(months=...)``."""

    def per_month(name: str) -> list[int]:
        before = [
            sum(row[f"{name}_{index}"] for row in counts.values())
            for index in range(len(months) + 1)
        ]
        return [before[index + 1] - before[index] for index in range(len(months))]

    return per_month("created_before"), per_month("resolved_before")


def _trend(months: list[date], opened: list[int], resolved: list[int]) -> list[dict]:
    """Issues opened and resolved per month over the last 12 months (Asia/Seoul)."""
    return [
        {"month": month, "opened": opened[index], "resolved": resolved[index]}
        for index, month in enumerate(months)
    ]


# --- Open cooperation requests: agency table, cooperation map ------------------


@dataclass(frozen=True)
class OpenRequests:
    """Open requests per (lead, cooperating organization), and per cooperating organization."""

    # (lead id, cooperator id) -> {"open": n, "stale": n, "overdue": n, ...}
    pairs: dict[tuple[int, int], dict]
    # cooperator id -> (requests waiting for its answer, whole days the oldest one
    # has waited, how many are past their reply deadline)
    to: dict[int, tuple[int, int, int]]


def _days_waited(now: datetime) -> Func | Min:
    """Per group, the whole days from its oldest request to ``now``: ``(now - oldest).days``.

    PostgreSQL counts them itself and answers an integer: parsing the oldest
    request's date of each of the ~550 (lead, cooperator) pairs took more
    Python than the query. Elsewhere the date comes back (``_open_requests``
    subtracts).
    """
    oldest = Min("cooperations__requested_at")
    if connection.vendor != "postgresql":
        return oldest
    waited = ExpressionWrapper(
        Value(now, output_field=DateTimeField()) - oldest, output_field=DurationField()
    )
    return Func(
        waited,
        template="FLOOR(EXTRACT(EPOCH FROM %(expressions)s) / 86400)::integer",
        output_field=IntegerField(),
    )


def _open_requests(issues: QuerySet[Issue], *, now: datetime, today: date) -> OpenRequests:
    stale_before = now - timedelta(days=STALE_REQUEST_DAYS)
    # filter() before annotate(): the counts are over the same (requested) cooperations.
    rows = (
        issues.filter(status__in=ACTIVE_STATUSES, cooperations__status=CooperationStatus.REQUESTED)
        .order_by()
        .values("lead_agency_id", "cooperations__agency_id")
        .annotate(
            open=Count("cooperations"),
            stale=Count("cooperations", filter=Q(cooperations__requested_at__lt=stale_before)),
            waited=_days_waited(now),
            overdue=Count("cooperations", filter=Q(cooperations__reply_by__lt=today)),
        )
    )
    pairs, to = {}, {}
    for row in rows:
        cooperator = row["cooperations__agency_id"]
        pairs[row["lead_agency_id"], cooperator] = row
        waited = row["waited"]
        if isinstance(waited, datetime):  # not counted by the database (_days_waited)
            waited = (now - waited).days
        waiting, longest, overdue = to.get(cooperator, (0, waited, 0))
        to[cooperator] = (
            waiting + row["open"],
            max(longest, waited),
            overdue + row["overdue"],
        )
    return OpenRequests(pairs=pairs, to=to)


def _follow_through(in_scope: Q, period: Period) -> dict[str, dict[int, float]]:
    """Per cooperating organization, in the period: the median days it took to
    answer a request, and how many issues had one of its late requests escalated
    to its vice-head or head (the deadline reminders' timeline events).

    ``in_scope``: the condition on ``issue`` that keeps rows about issues in scope.
    """
    start, end = _seoul_midnight(period.start), _seoul_midnight(period.end + timedelta(days=1))
    answered = Cooperation.objects.filter(in_scope, answered_at__gte=start, answered_at__lt=end)
    escalations = (
        escalations_between(period.start, period.end)
        .filter(in_scope)
        .order_by()
        .values("agency_id")
        .annotate(n=Count("issue_id", distinct=True))
        .values_list("agency_id", "n")
    )
    return {
        "answer": median_days(answered, "agency_id", "requested_at", "answered_at"),
        "escalations": dict(escalations),
    }


def _shade(open_requests: int) -> int:
    """The map cell's colour step: none, one, two or three, more."""
    return 0 if open_requests == 0 else 1 if open_requests == 1 else 2 if open_requests <= 3 else 3


def _cooperation_map(agencies: list[Agency], requests: OpenRequests) -> dict:
    """Lead × cooperating organization, open requests only; each cell with its shade."""
    empty = {"open": 0, "stale": 0, "overdue": 0}
    # Each organization's key read once, not twice per cell (``pk`` is a property).
    columns = [(cooperator.pk, cooperator) for cooperator in agencies]
    rows = []
    for lead in agencies:
        lead_pk, cells = lead.pk, []
        for cooperator_pk, cooperator in columns:
            pair = requests.pairs.get((lead_pk, cooperator_pk), empty)
            cells.append(
                {
                    "cooperator": cooperator,
                    "open": pair["open"],
                    "stale": pair["stale"],
                    "overdue": pair["overdue"],
                    "shade": _shade(pair["open"]),
                }
            )
        rows.append({"lead": lead, "cells": cells})
    return {
        "agencies": agencies,
        "max": max((pair["open"] for pair in requests.pairs.values()), default=0),
        "rows": rows,
    }


# --- The agency table -----------------------------------------------------------


class IssueLinks:
    """Links to the issue list filtered to exactly the issues a figure counts."""

    def __init__(self, period: Period) -> None:
        self.base = reverse("issues:list") + "?"
        self.resolved = {
            "resolved_from": period.start.isoformat(),
            "resolved_to": period.end.isoformat(),
        }
        # The period's part of the agency table's links, encoded once for all rows.
        self.resolved_query = urlencode(self.resolved)
        self.escalated_query = urlencode(
            {"escalated_from": period.start.isoformat(), "escalated_to": period.end.isoformat()}
        )

    def _link(self, **params) -> str:
        return self.base + urlencode({k: v for k, v in params.items() if v})

    def headline(self, scope: Agency | None) -> dict[str, str]:
        agency = scope.slug if scope else ""
        return {
            "open": self._link(agency=agency, active=1),
            "overdue": self._link(agency=agency, overdue=1),
            "resolved": self._link(agency=agency, **self.resolved),
            "waiting": self._link(agency=agency, active=1, awaiting=1),
            "on_agenda": self._link(agency=agency, agenda=1),
        }

    def agency(self, agency: Agency) -> dict[str, str]:
        """An organization's six links, as ``_link`` would write them.

        Joined from parts encoded once (the slug here, the period in ``__init__``):
        a ``urlencode`` per link, 150 of them, took more Python than the agency
        table's figures themselves.
        """
        slug = quote_plus(agency.slug)
        lead, waiting_for = f"{self.base}lead={slug}", f"{self.base}waiting_for={slug}"
        return {
            "open": f"{lead}&active=1",
            "overdue": f"{lead}&overdue=1",
            "waiting": f"{waiting_for}&active=1",
            "reply_overdue": f"{waiting_for}&active=1&reply_overdue=1",
            "escalations": f"{self.base}escalated_for={slug}&{self.escalated_query}",
            "resolved": f"{lead}&{self.resolved_query}",
        }


def _agency_rows(
    agencies: list[Agency],
    counts: dict[int, dict[str, int]],
    requests: OpenRequests,
    medians: dict[str, dict[int, float]],
    links: IssueLinks,
) -> list[AgencyRow]:
    """Per organization: the issues it leads, and the requests addressed to it."""
    rows = []
    for agency in agencies:
        led = counts.get(agency.pk, {})
        waiting, waited, overdue = requests.to.get(agency.pk, (0, None, 0))
        rows.append(
            AgencyRow(
                agency=agency,
                open=led.get("open", 0),
                overdue=led.get("overdue", 0),
                waiting=waiting,
                oldest_waiting_days=waited,
                reply_overdue=overdue,
                answer_median_days=medians["answer"].get(agency.pk),
                escalations=medians["escalations"].get(agency.pk, 0),
                resolved=led.get("resolved", 0),
                median_days=medians["resolve"].get(agency.pk),
                links=links.agency(agency),
            )
        )
    return rows


SORT_KEYS = (
    "open",
    "overdue",
    "waiting",
    "oldest_waiting_days",
    "reply_overdue",
    "answer_median_days",
    "escalations",
    "resolved",
    "median_days",
)


def sorted_rows(rows: list[AgencyRow], sort: str) -> list[AgencyRow]:
    """The rows by one column (``-`` first: descending); empty values always last."""
    descending = sort.startswith("-")
    name = sort.lstrip("-")
    if name not in SORT_KEYS:
        return rows
    present = [r for r in rows if getattr(r, name) is not None]
    absent = [r for r in rows if getattr(r, name) is None]
    return sorted(present, key=lambda r: getattr(r, name), reverse=descending) + absent


# --- Meetings and the performance briefing ---------------------------------------


def _next_meetings(now: datetime, scope: Agency | None, viewer) -> list[dict]:
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
            # Subqueries, not joins: a join would multiply the agenda items by the reminders.
            reminders_planned=_reminder_count(),
            reminders_sent=_reminder_count(Q(sent_at__isnull=False)),
        )[:3]
    )
    return [
        {
            "meeting": m,
            "reminders": {"planned": m.reminders_planned, "sent": m.reminders_sent},
        }
        for m in upcoming
    ]


def _reminder_count(condition: Q | None = None) -> Subquery:
    """How many reminders of the meeting (``OuterRef("pk")``) meet ``condition``.

    A plain ``COUNT(id)`` of the meeting's rows (a ``Func``, so the ORM adds no
    GROUP BY): 0 when there are none, and half the ORM's time of a grouped
    ``Count`` with ``Coalesce``.
    """
    deliveries = ReminderDelivery.objects.filter(meeting=OuterRef("pk"))
    if condition is not None:
        deliveries = deliveries.filter(condition)
    count = deliveries.order_by().values(n=Func(F("pk"), function="COUNT"))
    return Subquery(count, output_field=IntegerField())


def _briefing_readiness(year: int, agencies: list[Agency]) -> dict:
    """Whose reports for ``year`` are in (``_organizations`` asked), and the briefing's date."""
    briefing = (
        Meeting.objects.filter(kind=MeetingKind.PERFORMANCE_BRIEFING, starts_at__year=year)
        .order_by("starts_at")
        .first()
    )
    return {
        "year": year,
        "briefing": briefing,
        "submitted": [a for a in agencies if a.report_submitted],
        "missing": [a for a in agencies if not a.report_submitted],
    }
