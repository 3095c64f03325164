"""Every outbox of the app at a glance: what is due and unsent, and for how long.

Joins the apps' own answers (each outbox's ``backlog``, see ``core.outbox``)
for ``/healthz`` and ``/metrics``; it lives on the top floor because it asks
more than one app. A new outbox is added to ``outboxes()``.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily

from core.outbox import Backlog, Outbox


def outboxes() -> list[Outbox]:
    """Every outbox of the app."""
    from issues.deadlines import OUTBOX as deadline_reminders
    from issues.notifications import OUTBOX as notification_emails
    from meetings.reminders import OUTBOX as reminders

    from .digest import OUTBOX as digests

    return [notification_emails, reminders, deadline_reminders, digests]


def backlogs(now: datetime | None = None) -> dict[str, Backlog]:
    """Due, unsent deliveries per purpose (``notification_email``, ``meeting``, …)."""
    now = now or timezone.now()
    by_purpose: dict[str, Backlog] = {}
    for outbox in outboxes():
        by_purpose |= outbox.backlog(now)
    return by_purpose


def check(now: datetime | None = None) -> tuple[str, dict]:
    """``("ok" | "late", details)``: late when the oldest due delivery has waited
    more than ``OUTBOX_LATE_MINUTES``, the way healthchecks.io-style monitors expect."""
    now = now or timezone.now()
    by_purpose = backlogs(now)
    total = sum(by_purpose.values(), Backlog())
    age = total.age_seconds(now)
    details = {
        "due": total.due,
        "oldest_age_seconds": round(age),
        "late_after_seconds": settings.OUTBOX_LATE_MINUTES * 60,
    }
    return ("late" if age > settings.OUTBOX_LATE_MINUTES * 60 else "ok"), details


def collect_gauges():
    """Scrape-time gauges for /metrics (registered in GwangjuHubConfig.ready)."""
    now = timezone.now()
    due = GaugeMetricFamily(
        "gwangju_outbox_due", "Deliveries due and not yet sent", labels=["purpose"]
    )
    age = GaugeMetricFamily(
        "gwangju_outbox_oldest_age_seconds",
        "How long the oldest due, unsent delivery has waited",
        labels=["purpose"],
    )
    by_purpose = {
        "notification_email": Backlog(),
        "meeting": Backlog(),
        "cooperation_reply": Backlog(),
        "issue_due": Backlog(),
    } | backlogs(now)
    for purpose, backlog in sorted(by_purpose.items()):
        due.add_metric([purpose], backlog.due)
        age.add_metric([purpose], backlog.age_seconds(now))
    yield due
    yield age
