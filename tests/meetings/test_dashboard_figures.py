"""The dashboard's figures (``meetings.figures``) against a plain Python reference.

The figures come from a few grouped aggregates (counts by lead and status, a
trend by month index, medians in the database on PostgreSQL); the reference
below reads every row and counts them one by one, by the definitions the page
states. Issues sit on Seoul's month edges, before and after the 12 months,
reopened with an old resolution date, closed without one, restricted: wherever
a grouped query could count differently from the plain one.
"""

import datetime
import random
import statistics
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.http import QueryDict

from issues.models import ACTIVE_STATUSES, DONE_STATUSES, Cooperation, Event, EventKind, Issue
from meetings.figures import STALE_REQUEST_DAYS, compute_figures, month_starts
from meetings.forms import dashboard_period

SEOUL = ZoneInfo("Asia/Seoul")
NOW = datetime.datetime(2026, 6, 15, 10, 0, tzinfo=SEOUL)
TODAY = NOW.date()

pytestmark = [pytest.mark.django_db]


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


def _moment(rng: random.Random) -> datetime.datetime:
    """A moment from May 2025 to July 2026, often exactly on a month's first midnight."""
    year, month = rng.choice([(2025, m) for m in range(5, 13)] + [(2026, m) for m in range(1, 8)])
    if rng.random() < 0.3:
        edge = datetime.datetime(year, month, 1, tzinfo=SEOUL)
        return edge - datetime.timedelta(microseconds=rng.choice([0, 1]))
    return datetime.datetime(
        year, month, rng.randint(1, 28), rng.randint(0, 23), rng.randint(0, 59), tzinfo=SEOUL
    )


@pytest.fixture
def issues(alice, bob, carol, agency_a, agency_b, agency_c):
    rng = random.Random(20261215)
    agencies = [(agency_a, alice), (agency_b, bob), (agency_c, carol)]
    statuses = [*ACTIVE_STATUSES, *DONE_STATUSES]
    for n in range(80):
        lead, author = rng.choice(agencies)
        status = rng.choice(statuses)
        created = _moment(rng)
        # Done issues mostly resolved after filing; some active ones were reopened
        # (they keep the old date); a few done ones have no date at all.
        resolved = None
        if (status in DONE_STATUSES and rng.random() < 0.9) or rng.random() < 0.15:
            resolved = max(created, _moment(rng))
        issue = Issue.objects.create(
            title=f"현안 {n}",
            lead_agency=lead,
            created_by=author,
            status=status,
            due_date=TODAY + datetime.timedelta(days=rng.randint(-30, 30)),
            visibility=rng.choice(["all", "all", "restricted"]),
        )
        Issue.objects.filter(pk=issue.pk).update(created_at=created, resolved_at=resolved)
        for cooperator, _person in rng.sample(agencies, rng.randint(0, 2)):
            if cooperator == lead:
                continue
            requested = NOW - datetime.timedelta(days=rng.randint(0, 40), hours=rng.randint(0, 23))
            answered = rng.random() < 0.5
            cooperation = Cooperation.objects.create(
                issue=issue,
                agency=cooperator,
                status="accepted" if answered else "requested",
            )
            Cooperation.objects.filter(pk=cooperation.pk).update(
                requested_at=requested,
                answered_at=min(NOW, requested + datetime.timedelta(days=rng.randint(0, 20)))
                if answered
                else None,
                reply_by=TODAY + datetime.timedelta(days=rng.randint(-10, 10)),
            )
            if rng.random() < 0.3:
                Event.objects.create(
                    issue=issue,
                    kind=EventKind.ESCALATED,
                    agency=cooperator,
                    created_at=NOW - datetime.timedelta(days=rng.randint(0, 40)),
                )
    return list(Issue.objects.all())


def _seoul(moment: datetime.datetime) -> datetime.datetime:
    return moment.astimezone(SEOUL)


def _in_period(moment, period) -> bool:
    return moment is not None and period.start <= _seoul(moment).date() <= period.end


def _reference(issues: list[Issue], agencies, period) -> dict:
    """Every figure, counted row by row."""
    cooperations = [c for c in Cooperation.objects.all() if c.issue_id in {i.pk for i in issues}]
    active = {i.pk for i in issues if i.status in ACTIVE_STATUSES}
    waiting = [c for c in cooperations if c.status == "requested" and c.issue_id in active]
    lead_of = {i.pk: i.lead_agency_id for i in issues}
    resolved = [
        i for i in issues if i.status in DONE_STATUSES and _in_period(i.resolved_at, period)
    ]
    rows = {}
    for agency in agencies:
        to_it = [c for c in waiting if c.agency_id == agency.pk]
        answered = [
            (c.answered_at - c.requested_at).total_seconds() / 86400
            for c in cooperations
            if c.agency_id == agency.pk and _in_period(c.answered_at, period)
        ]
        durations = [
            (i.resolved_at - i.created_at).total_seconds() / 86400
            for i in resolved
            if i.lead_agency_id == agency.pk
        ]
        escalated = {
            e.issue_id
            for e in Event.objects.filter(kind=EventKind.ESCALATED, agency=agency)
            if e.issue_id in lead_of and _in_period(e.created_at, period)
        }
        led = [i for i in issues if i.lead_agency_id == agency.pk]
        rows[agency.pk] = {
            "open": sum(i.status in ACTIVE_STATUSES for i in led),
            "overdue": sum(i.status in ACTIVE_STATUSES and i.due_date < TODAY for i in led),
            "waiting": len(to_it),
            "oldest_waiting_days": (NOW - min(c.requested_at for c in to_it)).days
            if to_it
            else None,
            "reply_overdue": sum(c.reply_by < TODAY for c in to_it),
            "answer_median_days": statistics.median(answered) if answered else None,
            "escalations": len(escalated),
            "resolved": sum(i.lead_agency_id == agency.pk for i in resolved),
            "median_days": statistics.median(durations) if durations else None,
        }
    stale_before = NOW - datetime.timedelta(days=STALE_REQUEST_DAYS)
    cells = {}
    shown = {agency.pk for agency in agencies}
    for c in waiting:
        if lead_of[c.issue_id] not in shown or c.agency_id not in shown:
            continue  # the map has a row and a column per organization shown
        cell = cells.setdefault(
            (lead_of[c.issue_id], c.agency_id), {"open": 0, "stale": 0, "overdue": 0}
        )
        cell["open"] += 1
        cell["stale"] += c.requested_at < stale_before
        cell["overdue"] += c.reply_by < TODAY

    def month(moment):
        local = _seoul(moment)
        return datetime.date(local.year, local.month, 1)

    return {
        "headline": {
            "open": len(active),
            "overdue": sum(i.status in ACTIVE_STATUSES and i.due_date < TODAY for i in issues),
            "resolved": len(resolved),
            "waiting": len({c.issue_id for c in waiting}),
        },
        "rows": rows,
        "cells": cells,
        "trend": [
            {
                "month": m,
                "opened": sum(month(i.created_at) == m for i in issues),
                "resolved": sum(
                    i.status in DONE_STATUSES
                    and i.resolved_at is not None
                    and month(i.resolved_at) == m
                    for i in issues
                ),
            }
            for m in month_starts(TODAY)
        ],
    }


def _computed(figures: dict) -> dict:
    columns = [
        "open", "overdue", "waiting", "oldest_waiting_days", "reply_overdue",
        "answer_median_days", "escalations", "resolved", "median_days",
    ]  # fmt: skip
    return {
        "headline": {k: v for k, v in figures["headline"].items() if k != "on_agenda"},
        "rows": {
            row.agency.pk: {column: getattr(row, column) for column in columns}
            for row in figures["rows"]
        },
        "cells": {
            (row["lead"].pk, cell["cooperator"].pk): {
                k: cell[k] for k in ("open", "stale", "overdue")
            }
            for row in figures["cooperation_map"]["rows"]
            for cell in row["cells"]
            if cell["open"]
        },
        "trend": figures["trend"],
    }


def _approx(reference: dict) -> dict:
    """Medians as floats: the database's and Python's may differ in the last bit."""
    for row in reference["rows"].values():
        for column in ("answer_median_days", "median_days"):
            if row[column] is not None:
                row[column] = pytest.approx(row[column])
    return reference


@pytest.mark.parametrize("query", ["", "period=quarter", "period=year"])
def test_the_figures_equal_a_row_by_row_count(issues, minji, agency_a, agency_b, agency_c, query):
    period, _errors = dashboard_period(QueryDict(query), TODAY)

    figures = compute_figures(viewer=minji, scope=None, period=period, today=TODAY)

    reference = _reference(issues, [agency_a, agency_b, agency_c], period)
    assert sum(p["opened"] for p in reference["trend"]) > 20  # the fixture spans the trend
    assert _computed(figures) == _approx(reference)


def test_a_heads_figures_equal_a_row_by_row_count_of_the_issues_involving_their_agency(
    issues, hana, agency_a
):
    period, _errors = dashboard_period(QueryDict("period=year"), TODAY)
    involving = {c.issue_id for c in Cooperation.objects.filter(agency=agency_a)}
    theirs = [i for i in issues if i.lead_agency_id == agency_a.pk or i.pk in involving]

    figures = compute_figures(viewer=hana, scope=agency_a, period=period, today=TODAY)

    assert _computed(figures) == _approx(_reference(theirs, [agency_a], period))
