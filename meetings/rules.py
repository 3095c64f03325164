"""Who may do what with meetings, agendas and performance reports.

Pure functions of a user and objects already in hand; the table they
implement is in CONTRACT.md ("Who uses it"). Listing meetings goes through
``Meeting.objects.for_user(user)``, the mirror of ``can_view_meeting``.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils import timezone

from agencies.models import Agency, Role
from issues import rules as issue_rules
from issues.models import ACTIVE_STATUSES, Issue

from .models import Meeting, MeetingStatus, PerformanceReport

# Roles of an organization that may escalate its issues to a meeting agenda.
PROPOSING_ROLES = (Role.HEAD, Role.VICE_HEAD)
# Roles of an organization that may write its performance report.
REPORT_WRITING_ROLES = (Role.STAFF, Role.VICE_HEAD, Role.HEAD)


def _active(user) -> bool:
    return user.is_authenticated and user.is_active


def _runs_meetings(user) -> bool:
    return _active(user) and user.reads_everything


def can_view_meeting(user, meeting: Meeting) -> bool:
    """The Mayor's office sees every meeting; others those their agency is invited to.

    Reads ``meeting.invited_agencies.all()``, so prefetch it when asking for many.
    """
    if _runs_meetings(user):
        return True
    if not _active(user) or user.agency_id is None:
        return False
    return any(agency.pk == user.agency_id for agency in meeting.invited_agencies.all())


def can_manage_meeting(user, meeting: Meeting | None = None) -> bool:
    """The Mayor's office runs meetings: agendas, minutes, decisions, cancellation."""
    return _runs_meetings(user)


def is_open_for_proposals(meeting: Meeting) -> bool:
    """Only a scheduled meeting that has not started takes new agenda items."""
    return meeting.status == MeetingStatus.SCHEDULED and meeting.starts_at > timezone.now()


def is_open_for_decisions(meeting: Meeting) -> bool:
    """Decisions are recorded once the meeting has started, unless it was cancelled.

    Before the start nothing has been decided; a decision recorded early would
    reach the issue's timeline and its people as if it had.
    """
    return not meeting.is_cancelled and meeting.starts_at <= timezone.now()


def sees_every_meeting(user) -> bool:
    """The Mayor's office (and superusers) may open every meeting (``can_view_meeting``)."""
    return _runs_meetings(user)


def may_propose_for(user, issue: Issue) -> bool:
    """A head or vice-head of the lead agency, about an issue still pending.

    Asks no database question, so the issue page can decide whether to show
    the proposal form without a query.
    """
    return (
        _active(user)
        and user.role in PROPOSING_ROLES
        and user.agency_id is not None
        and issue.lead_agency_id == user.agency_id
        and issue.status in ACTIVE_STATUSES
        and issue_rules.can_view(user, issue)
    )


def can_propose_agenda_item(user, issue: Issue, meeting: Meeting | None = None) -> bool:
    """A head or vice-head puts a pending issue their agency leads on an upcoming meeting's agenda.

    Without ``meeting``, answers whether the user may propose the issue at all.
    """
    if not may_propose_for(user, issue):
        return False
    if meeting is None:
        return True
    return is_open_for_proposals(meeting) and can_view_meeting(user, meeting)


def can_view_report(user, report: PerformanceReport | None, agency: Agency) -> bool:
    """Everyone reads a submitted report; a draft only its own agency and the Mayor's office."""
    if not _active(user):
        return False
    if report is None:
        return False
    if report.is_submitted or _runs_meetings(user):
        return True
    return user.agency_id == agency.pk


def can_edit_report(
    user, agency: Agency, year: int, report: PerformanceReport | None = None
) -> bool:
    """Staff, vice-head and head of the agency draft its report; the Mayor's office only reads.

    Once submitted, only the head may change it again (``can_submit_report``).
    """
    if not _active(user) or user.agency_id != agency.pk or user.role not in REPORT_WRITING_ROLES:
        return False
    if report is not None and report.is_submitted:
        return can_submit_report(user, agency, year)
    return True


def can_submit_report(user, agency: Agency, year: int | None = None) -> bool:
    """Only the head of the agency submits its report."""
    return _active(user) and user.role == Role.HEAD and user.agency_id == agency.pk


@dataclass(frozen=True)
class DashboardScope:
    """Which organizations a user's dashboard shows: ``agency`` None means all of them."""

    agency: Agency | None


def dashboard_scope(user) -> DashboardScope | None:
    """The dashboard a user gets, or None when they get none.

    The Mayor's office and administrators see every organization; heads and
    vice-heads their own; staff, and accounts not yet placed in an agency,
    have no dashboard (they go to the issue list). The menu, the home page
    and the dashboard itself all ask this.
    """
    if not _active(user):
        return None
    if user.reads_everything:
        return DashboardScope(agency=None)
    if user.role in PROPOSING_ROLES and user.agency_id is not None:
        return DashboardScope(agency=user.agency)
    return None
