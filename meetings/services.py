"""Writes for meetings, agendas, decisions, performance reports and calendar tokens.

Views call these with validated input; each checks permission once more (a
service is also called from commands and tests) and keeps the invariants the
database cannot. A decision on an agenda item lands on the issue's timeline.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Max
from django.utils import timezone
from django.utils.translation import gettext as _

from agencies.models import Agency
from issues import services as issue_services
from issues.models import Event, EventKind, Issue

from . import rules
from .models import (
    AgendaItem,
    AgendaItemKind,
    AgendaItemStatus,
    CalendarToken,
    Meeting,
    MeetingStatus,
    PerformanceReport,
    PerformanceReportStatus,
)

REPORT_FIELDS = ("summary", "achievements", "next_year_plan")


class StaleReportError(Exception):
    """Someone else saved the report after this user loaded it."""

    def __init__(self, current: PerformanceReport | None) -> None:
        super().__init__("the performance report changed in the meantime")
        self.current = current


def _require_manager(actor) -> None:
    if not rules.can_manage_meeting(actor):
        raise PermissionDenied


def _next_order(meeting: Meeting) -> int:
    highest = meeting.agenda_items.aggregate(highest=Max("order"))["highest"]
    return (highest or 0) + 1


def _touch(meeting: Meeting) -> None:
    Meeting.objects.filter(pk=meeting.pk).update(updated_at=timezone.now())


def agenda_item_propose(*, meeting: Meeting, issue: Issue, actor) -> AgendaItem:
    """A head or vice-head of the lead agency proposes an issue for an upcoming meeting.

    The item takes the issue's title and lead agency and waits, as "proposed",
    for the Mayor's office to accept it. An issue is on a meeting's agenda once.
    """
    if not rules.can_propose_agenda_item(actor, issue, meeting):
        raise PermissionDenied
    with transaction.atomic():
        # The meeting row lock serialises proposals, so two never get the same order.
        locked = Meeting.objects.select_for_update().get(pk=meeting.pk)
        existing = locked.agenda_items.filter(issue=issue).first()
        if existing is not None:
            if existing.status == AgendaItemStatus.REMOVED:
                raise ValidationError(
                    {"meeting": _("The Mayor's office removed this issue from that agenda.")}
                )
            raise ValidationError({"meeting": _("This issue is already on that agenda.")})
        item = AgendaItem(
            meeting=locked,
            order=_next_order(locked),
            issue=issue,
            title=issue.title[:200],
            presenting_agency_id=issue.lead_agency_id,
            kind=AgendaItemKind.ISSUE_REVIEW,
            status=AgendaItemStatus.PROPOSED,
            proposed_by=actor,
        )
        item.full_clean(validate_constraints=False)
        try:
            with transaction.atomic():
                item.save()
        except IntegrityError:
            raise ValidationError({"meeting": _("This issue is already on that agenda.")}) from None
        _touch(locked)
    return item


def agenda_item_add(
    *,
    meeting: Meeting,
    actor,
    title: str,
    presenting_agency: Agency,
    kind: str = AgendaItemKind.OTHER,
    issue: Issue | None = None,
) -> AgendaItem:
    """The Mayor's office adds an item of any kind (e.g. an innovation case), accepted at once."""
    _require_manager(actor)
    if meeting.is_cancelled:
        raise ValidationError(_("This meeting was cancelled."))
    with transaction.atomic():
        locked = Meeting.objects.select_for_update().get(pk=meeting.pk)
        if issue is not None and locked.agenda_items.filter(issue=issue).exists():
            raise ValidationError({"issue": _("This issue is already on that agenda.")})
        item = AgendaItem(
            meeting=locked,
            order=_next_order(locked),
            issue=issue,
            title=title.strip(),
            presenting_agency=presenting_agency,
            kind=kind,
            status=AgendaItemStatus.ACCEPTED,
            proposed_by=actor,
        )
        item.full_clean(validate_constraints=False)
        item.save()
        _touch(locked)
    return item


def _set_item_status(item: AgendaItem, actor, status: str) -> AgendaItem:
    _require_manager(actor)
    if item.status != status:
        item.status = status
        item.save(update_fields=["status"])
        _touch(item.meeting)
    return item


def agenda_item_accept(*, item: AgendaItem, actor) -> AgendaItem:
    """The Mayor's office accepts a proposed item (or restores a removed one)."""
    return _set_item_status(item, actor, AgendaItemStatus.ACCEPTED)


def agenda_item_remove(*, item: AgendaItem, actor) -> AgendaItem:
    """The Mayor's office takes an item off the agenda; the row stays, marked removed."""
    return _set_item_status(item, actor, AgendaItemStatus.REMOVED)


def agenda_reorder(*, meeting: Meeting, ordered_ids: Sequence[int], actor) -> None:
    """Number a meeting's agenda items 1, 2, 3… in the given order.

    ``ordered_ids`` must name every item of the meeting exactly once, so a
    reorder based on a stale page cannot silently drop or duplicate a position.
    """
    _require_manager(actor)
    with transaction.atomic():
        Meeting.objects.select_for_update().filter(pk=meeting.pk).first()
        items = {item.pk: item for item in meeting.agenda_items.all()}
        if sorted(ordered_ids) != sorted(items):
            raise ValidationError(_("The agenda changed in the meantime. Reload the page."))
        for position, item_id in enumerate(ordered_ids, start=1):
            items[item_id].order = position
        AgendaItem.objects.bulk_update(items.values(), ["order"])
        _touch(meeting)


def agenda_item_move(*, item: AgendaItem, direction: str, actor) -> None:
    """Swap an item with its neighbour above (``up``) or below (``down``)."""
    ordered = list(item.meeting.agenda_items.order_by("order", "id").values_list("pk", flat=True))
    index = ordered.index(item.pk)
    other = index - 1 if direction == "up" else index + 1
    if 0 <= other < len(ordered):
        ordered[index], ordered[other] = ordered[other], ordered[index]
    agenda_reorder(meeting=item.meeting, ordered_ids=ordered, actor=actor)


def meeting_record_minutes(
    *, meeting: Meeting, minutes: str, actor, attended_agencies=None
) -> Meeting:
    """The Mayor's office records the minutes (Markdown) and, optionally, which
    invited organizations were present; the meeting is then held."""
    _require_manager(actor)
    if meeting.is_cancelled:
        raise ValidationError(_("This meeting was cancelled."))
    if meeting.starts_at > timezone.now():
        raise ValidationError({"minutes": _("Minutes can be recorded once the meeting began.")})
    meeting.minutes = minutes.strip()
    meeting.status = MeetingStatus.HELD
    meeting.updated_at = timezone.now()
    meeting.save(update_fields=["minutes", "status", "updated_at"])
    if attended_agencies is not None:
        invited = set(meeting.invited_agencies.values_list("pk", flat=True))
        meeting.attended_agencies.set([a for a in attended_agencies if a.pk in invited])
    return meeting


def agenda_item_decide(
    *, item: AgendaItem, decision: str, follow_up_due: date | None, actor
) -> AgendaItem:
    """Record what the meeting decided on an item, once the meeting has started.

    For an item about an issue, the decision goes on the issue's timeline, and
    a follow-up due date becomes the issue's due date (recorded as a change).
    The timeline event keeps the meeting's id, so the issue page names the
    meeting only to people who may open it (see ``issues.timeline``).
    """
    _require_manager(actor)
    decision = decision.strip()
    if not decision:
        raise ValidationError({"decision": _("Write the decision first.")})
    if item.meeting.is_cancelled:
        raise ValidationError(_("This meeting was cancelled."))
    if not rules.is_open_for_decisions(item.meeting):
        raise ValidationError(_("Decisions can be recorded once the meeting has started."))
    if item.status != AgendaItemStatus.ACCEPTED:
        raise ValidationError(_("Only accepted agenda items get a decision."))
    changed_due = follow_up_due != item.follow_up_due
    if follow_up_due is not None and changed_due and follow_up_due < timezone.localdate():
        raise ValidationError({"follow_up_due": _("The follow-up date cannot be in the past.")})
    now = timezone.now()
    with transaction.atomic():
        item.decision = decision
        item.follow_up_due = follow_up_due
        item.decided_at = now
        item.full_clean(validate_constraints=False)
        item.save(update_fields=["decision", "follow_up_due", "decided_at"])
        if item.issue_id is not None:
            _decision_on_timeline(item, actor, now)
        _touch(item.meeting)
    return item


def _decision_on_timeline(item: AgendaItem, actor, now: datetime) -> None:
    issue = Issue.objects.select_for_update().get(pk=item.issue_id)
    due = item.follow_up_due
    # Through the issues service, so the lead agency and the participants hear of it.
    issue_services.event_record(
        issue,
        actor,
        EventKind.DECISION,
        notify=True,
        agency=item.presenting_agency,
        changes=[
            {
                "field": "decision",
                "meeting_id": item.meeting_id,
                "meeting": item.meeting.title,
                "text": item.decision,
                "follow_up_due": due.isoformat() if due else None,
            }
        ],
        created_at=now,
    )
    if due is not None and due != issue.due_date:
        # Like an edit through issues.services.issue_update: bump the version
        # so a form opened before the meeting cannot overwrite the new date.
        Issue.objects.filter(pk=issue.pk).update(
            due_date=due, version=F("version") + 1, updated_at=now
        )
        Event.objects.create(
            issue=issue,
            actor=actor,
            kind=EventKind.CHANGED,
            changes=[
                {
                    "field": "due_date",
                    "old": issue.due_date.isoformat() if issue.due_date else None,
                    "new": due.isoformat(),
                }
            ],
            created_at=now,
        )
    else:
        Issue.objects.filter(pk=issue.pk).update(updated_at=now)


def meeting_cancel(*, meeting: Meeting, actor) -> Meeting:
    """Cancel an upcoming meeting; people already reminded get a cancellation notice."""
    _require_manager(actor)
    if meeting.status != MeetingStatus.SCHEDULED or meeting.is_past:
        raise ValidationError(_("Only an upcoming scheduled meeting can be cancelled."))
    from .reminders import plan_cancellation_notices

    now = timezone.now()
    with transaction.atomic():
        updated = Meeting.objects.filter(pk=meeting.pk, status=MeetingStatus.SCHEDULED).update(
            status=MeetingStatus.CANCELLED, cancelled_at=now, updated_at=now
        )
        if updated != 1:
            raise ValidationError(_("Only an upcoming scheduled meeting can be cancelled."))
        meeting.status = MeetingStatus.CANCELLED
        meeting.cancelled_at = meeting.updated_at = now
        plan_cancellation_notices(meeting, now)
    return meeting


def performance_report_save(
    *,
    agency: Agency,
    year: int,
    data: dict,
    actor,
    expected_version: int,
    submit: bool = False,
) -> PerformanceReport:
    """Save an agency's report from a form loaded at ``expected_version`` (0: no report yet).

    Refuses with StaleReportError when someone saved in between. ``submit``
    (the head only) submits it; a head saving a submitted report as a draft
    takes it back for revision.
    """
    if submit and not rules.can_submit_report(actor, agency, year):
        raise PermissionDenied
    if submit and not (data.get("summary") or "").strip():
        raise ValidationError({"summary": _("Write the summary before submitting the report.")})
    try:
        with transaction.atomic():
            report = (
                PerformanceReport.objects.select_for_update()
                .filter(agency=agency, year=year)
                .first()
            )
            if (report.version if report else 0) != expected_version:
                raise StaleReportError(report)
            if not rules.can_edit_report(actor, agency, year, report):
                raise PermissionDenied
            if report is None:
                report = PerformanceReport(agency=agency, year=year, version=0)
            for field in REPORT_FIELDS:
                setattr(report, field, (data.get(field) or "").strip())
            if submit:
                report.status = PerformanceReportStatus.SUBMITTED
                report.submitted_by = actor
                report.submitted_at = timezone.now()
            else:
                report.status = PerformanceReportStatus.DRAFT
                report.submitted_by = None
                report.submitted_at = None
            report.version += 1
            report.updated_by = actor
            report.updated_at = timezone.now()
            report.full_clean(validate_constraints=False)
            report.save()
    except IntegrityError:
        # Two people created the first version at once; the other one won.
        raise StaleReportError(
            PerformanceReport.objects.filter(agency=agency, year=year).first()
        ) from None
    return report


def calendar_token_rotate(*, user) -> CalendarToken:
    """Give the user a new feed token; the old address stops working at once."""
    token, created = CalendarToken.objects.get_or_create(user=user)
    if not created:
        token.rotate()
    return token


def calendar_token_revoke(*, user) -> None:
    """Turn the user's calendar feed off."""
    CalendarToken.objects.filter(user=user).delete()
