"""What an issue's timeline may say about things another app owns: meetings.

A decision event (``EventKind.DECISION``, written by ``meetings.services``)
names the meeting that took it. Whether a user may read that name is the
meetings app's rule (the Mayor's office sees every meeting, others those their
organization is invited to), but ``issues`` sits below ``meetings`` and never
imports it. So the rule comes in through this seam:

- ``meetings`` registers a ``MeetingAccess`` with ``register_meeting_access``
  from its ``AppConfig.ready()``;
- the issue page asks ``decision_meeting_names`` (through the
  ``decision_meetings`` template tag), which names a meeting only to someone
  the registered rule lets open it.

Why a registry called from ``ready()``: it is explicit (one call, in one
place, that a reader finds from either side), there is exactly one answer
(a signal could have several receivers, or none, and hide who decides), and
a test can swap it. Without a registration (``meetings`` not installed)
nobody is told any meeting's name: the safe default.

A decision event stores ``meeting_id`` and the meeting's title at the time in
its ``changes``. Older events have the title only: those name the meeting only
to people who may open every meeting (the Mayor's office), since nobody can
tell any more which meeting it was.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from .models import Event, EventKind


class MeetingAccess(Protocol):
    """The meetings app's rule, as the timeline needs it."""

    def sees_every_meeting(self, user) -> bool:
        """Whether ``user`` may open any meeting at all."""

    def viewable_meeting_ids(self, user, meeting_ids: set[int]) -> set[int]:
        """Which of ``meeting_ids`` ``user`` may open (one query)."""


_meeting_access: MeetingAccess | None = None


def register_meeting_access(access: MeetingAccess | None) -> None:
    """Install the rule that decides who may read a meeting's name (None: nobody)."""
    global _meeting_access
    _meeting_access = access


def _decision(event: Event) -> dict | None:
    return next((c for c in event.changes if c.get("field") == "decision"), None)


def decision_meeting_names(user, events: Iterable[Event]) -> dict[int, str]:
    """The meeting named by each decision event that ``user`` may open: {event pk: title}.

    Events absent from the answer are shown as taken "at a meeting". Costs one
    query when there are decision events with a meeting id and the user does
    not see every meeting; none otherwise.
    """
    decisions = {
        event.pk: change
        for event in events
        if event.kind == EventKind.DECISION and (change := _decision(event)) is not None
    }
    access = _meeting_access
    if not decisions or access is None or not getattr(user, "is_authenticated", False):
        return {}
    if access.sees_every_meeting(user):
        return {pk: change.get("meeting") or "" for pk, change in decisions.items()}
    wanted = {
        meeting_id
        for change in decisions.values()
        if isinstance(meeting_id := change.get("meeting_id"), int)
    }
    viewable = access.viewable_meeting_ids(user, wanted) if wanted else set()
    return {
        pk: change.get("meeting") or ""
        for pk, change in decisions.items()
        if change.get("meeting_id") in viewable
    }
