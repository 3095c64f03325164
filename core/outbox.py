"""What every outbox (notification e-mails, reminders, digests) reports about itself.

Each app that owes deliveries answers ``backlog(now)`` with one of these per
purpose; the top floor (``gwangju_hub``) adds them up for ``/healthz`` and
``/metrics``. Imports no app of ours.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Backlog:
    """Deliveries that are due and not yet sent, and since when the oldest has waited."""

    due: int = 0
    oldest_due_at: datetime | None = None

    def age_seconds(self, now: datetime) -> float:
        if self.oldest_due_at is None:
            return 0.0
        return max(0.0, (now - self.oldest_due_at).total_seconds())

    def __add__(self, other: Backlog) -> Backlog:
        dates = [d for d in (self.oldest_due_at, other.oldest_due_at) if d is not None]
        return Backlog(self.due + other.due, min(dates, default=None))
