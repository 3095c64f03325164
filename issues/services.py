"""Writes for issues. Every change goes through here and leaves an Event.

Views call these with already-validated input; these check permission once
more (a service is also called from tasks, commands and tests), keep the
invariants the database cannot (a lead agency never cooperates on its own
issue), write the timeline, and write the notifications it causes in the same
transaction (the e-mails are sent by a sweep, see issues/notifications.py).
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterable, Iterator
from datetime import date, datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from agencies.models import Agency
from core.broker import enqueue_on_commit
from core.storage import STORAGE_ERRORS, log_storage_error

from . import rules
from .filetypes import FileTypeError, safe_download_name
from .filetypes import detect as detect_file_type
from .models import (
    DONE_STATUSES,
    Attachment,
    Category,
    Comment,
    Cooperation,
    CooperationStatus,
    Event,
    EventKind,
    Follow,
    FollowSource,
    Issue,
    SavedSearch,
    Status,
)


class StaleIssueError(Exception):
    """Someone else saved the issue after this user loaded it."""

    def __init__(self, current: Issue) -> None:
        super().__init__(f"issue {current.pk} is at version {current.version}")
        self.current = current


_notifications_suppressed = contextvars.ContextVar("notifications_suppressed", default=False)


@contextlib.contextmanager
def notifications_suppressed() -> Iterator[None]:
    """Record events without notifying anyone (demo data, imports, migrations)."""
    token = _notifications_suppressed.set(True)
    try:
        yield
    finally:
        _notifications_suppressed.reset(token)


def notify_event(event: Event) -> None:
    """Tell the people an event concerns: their notifications (and the e-mails
    owed) are written now, in the caller's transaction; the e-mail sweep is
    kicked once that transaction commits.

    The rows are the promise: the bell works and the e-mails go out (beat
    runs the sweep every minute) even if the broker is down now. The kick
    only makes the e-mail quicker, is queued once per transaction however
    many events notify, and never fails the request (core.broker).
    """
    if _notifications_suppressed.get():
        return
    from .notifications import notify
    from .tasks import deliver_notifications

    if any(row.email_due_at for row in notify(event)):
        enqueue_on_commit(deliver_notifications)


def event_record(issue: Issue, actor, kind: str, *, notify: bool = False, **fields) -> Event:
    """Append an event to an issue's timeline; with ``notify``, tell the people
    it concerns (see ``notify_event``). Other apps (meetings' decisions) write
    to the timeline through here, inside their own transaction."""
    event = Event.objects.create(issue=issue, actor=actor, kind=kind, **fields)
    if notify:
        notify_event(event)
    return event


def _record_part_change(
    issue: Issue, actor, kind: str, *, at: datetime | None = None, **fields
) -> Event:
    """Record a change to a part of ``issue`` (a cooperation, a comment, a file) on its
    timeline, and count the issue as updated ``at`` that moment (default: now), so the
    lists, ordered by last update, bring it up."""
    Issue.objects.filter(pk=issue.pk).update(updated_at=at or timezone.now())
    return event_record(issue, actor, kind, **fields)


def _names(obj) -> dict[str, str] | None:
    """A bilingual snapshot of a named object, so the timeline survives renames."""
    if obj is None:
        return None
    if hasattr(obj, "name_ko"):
        return {"ko": obj.name_ko, "en": obj.name_en}
    name = obj.get_full_name() or obj.username
    return {"ko": name, "en": name}


def _check_cooperators(lead_agency: Agency, cooperating: Iterable[Agency]) -> list[Agency]:
    cooperating = list(dict.fromkeys(cooperating))  # de-duplicate, keep order
    if any(a.pk == lead_agency.pk for a in cooperating):
        raise ValidationError(
            {"cooperating_agencies": _("The lead agency cannot also be a cooperating agency.")}
        )
    return cooperating


def _check_reply_by(reply_by: date | None) -> None:
    if reply_by is not None and reply_by < timezone.localdate():
        raise ValidationError({"reply_by": _("The reply deadline cannot be in the past.")})


def _request_cooperation(
    issue: Issue, agencies: Iterable[Agency], actor, reply_by: date | None = None
) -> None:
    """Ask each agency to cooperate, by ``reply_by`` (None: the default working days)."""
    for agency in agencies:
        cooperation = Cooperation(issue=issue, agency=agency, requested_by=actor)
        if reply_by is not None:
            cooperation.reply_by = reply_by
        cooperation.save()
        event_record(
            issue,
            actor,
            EventKind.COOPERATION_REQUESTED,
            agency=agency,
            changes=[{"field": "reply_by", "old": None, "new": cooperation.reply_by.isoformat()}],
            notify=True,
        )


def issue_create(
    *,
    actor,
    title: str,
    lead_agency: Agency,
    description: str = "",
    cooperating_agencies: Iterable[Agency] = (),
    category: Category | None = None,
    priority: str = "normal",
    visibility: str = "all",
    due_date: date | None = None,
    assignee=None,
    reply_by: date | None = None,
) -> Issue:
    """File an issue and ask the cooperating agencies for their cooperation, each by
    ``reply_by`` (None: COOPERATION_REPLY_WORKING_DAYS working days from today)."""
    if not rules.can_create_for(actor, lead_agency):
        raise PermissionDenied
    cooperating = _check_cooperators(lead_agency, cooperating_agencies)
    _check_reply_by(reply_by)
    issue = Issue(
        title=title,
        description=description,
        lead_agency=lead_agency,
        category=category,
        priority=priority,
        visibility=visibility,
        due_date=due_date,
        assignee=assignee,
        created_by=actor,
    )
    issue.full_clean()
    with transaction.atomic():
        issue.save()
        event_record(issue, actor, EventKind.CREATED)
        _request_cooperation(issue, cooperating, actor, reply_by)
        follow_automatically(user=actor, issue=issue, source=FollowSource.FILED)
        if assignee is not None:
            follow_automatically(user=assignee, issue=issue, source=FollowSource.ASSIGNED)
    return issue


# Fields a user edits on the form, in the order the timeline lists changes.
EDITABLE_FIELDS = (
    "title",
    "description",
    "lead_agency",
    "category",
    "priority",
    "status",
    "visibility",
    "due_date",
    "assignee",
)


def _change_value(issue: Issue, field: str):
    value = getattr(issue, field)
    if field == "description":
        return None  # too long for the timeline; "description changed" is enough
    if field in ("lead_agency", "category", "assignee"):
        return _names(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def _apply_status(issue: Issue, status: str) -> None:
    if status in DONE_STATUSES and issue.status not in DONE_STATUSES:
        issue.resolved_at = timezone.now()
    elif status not in DONE_STATUSES:
        issue.resolved_at = None
    issue.status = status


def _locked_current(issue: Issue, expected_version: int) -> Issue:
    current = Issue.objects.select_for_update().get(pk=issue.pk)
    if current.version != expected_version:
        raise StaleIssueError(current)
    return current


def issue_update(
    *,
    issue: Issue,
    actor,
    expected_version: int,
    cooperating_agencies: Iterable[Agency] | None = None,
    reply_by: date | None = None,
    **data,
) -> Issue:
    """Save an edit made from a form loaded at ``expected_version``.

    Refuses with StaleIssueError when someone saved in between, so nothing is
    overwritten silently. Records one CHANGED event listing every field that
    changed, and adds or withdraws cooperation requests (the new ones due by
    ``reply_by``, or the default deadline).
    """
    _check_editable(data)
    _check_reply_by(reply_by)
    with transaction.atomic():
        current = _locked_current(issue, expected_version)
        if not rules.can_edit(actor, current):
            raise PermissionDenied
        new_lead = data.get("lead_agency", current.lead_agency)
        if new_lead.pk != current.lead_agency_id and not rules.can_create_for(actor, new_lead):
            raise PermissionDenied
        return _apply_update(current, actor, data, cooperating_agencies, reply_by)


def issue_update_by_administrator(
    *,
    issue: Issue,
    actor,
    expected_version: int,
    cooperating_agencies: Iterable[Agency] | None = None,
    **data,
) -> Issue:
    """An administrator's correction in Django admin.

    Django admin's own permission (``issues.change_issue``) stands in for the
    agency rules, which would not let an administrator correct another
    agency's issue; everything else is as on the issue page: the same
    optimistic lock, timeline entries, version bump and notifications.
    """
    if not (actor.is_active and actor.is_staff and actor.has_perm("issues.change_issue")):
        raise PermissionDenied
    _check_editable(data)
    with transaction.atomic():
        current = _locked_current(issue, expected_version)
        return _apply_update(current, actor, data, cooperating_agencies)


def _check_editable(data: dict) -> None:
    unknown = set(data) - set(EDITABLE_FIELDS)
    if unknown:
        raise TypeError(f"not editable: {sorted(unknown)}")


def _apply_update(
    current: Issue,
    actor,
    data: dict,
    cooperating_agencies: Iterable[Agency] | None,
    reply_by: date | None = None,
) -> Issue:
    """Apply a permitted edit to the locked current issue and record it."""
    changes = _field_changes(current, data)
    added, removed = _cooperation_changes(current, cooperating_agencies)
    if not changes and not added and not removed:
        return current
    current.full_clean()
    current.version += 1
    current.updated_at = timezone.now()
    current.save()
    _record_update(current, actor, changes, added, removed, reply_by)
    # After the cooperations changed: the assignee must be able to read the issue.
    if current.assignee is not None and any(c["field"] == "assignee" for c in changes):
        follow_automatically(user=current.assignee, issue=current, source=FollowSource.ASSIGNED)
    return current


def _field_changes(current: Issue, data: dict) -> list[dict]:
    """Set the changed fields on ``current``; the timeline's list of what changed."""
    changes = []
    for field in EDITABLE_FIELDS:
        if field not in data or getattr(current, field) == data[field]:
            continue
        old_value = _change_value(current, field)
        if field == "status":
            _apply_status(current, data[field])
        else:
            setattr(current, field, data[field])
        changes.append({"field": field, "old": old_value, "new": _change_value(current, field)})
    return changes


def _cooperation_changes(
    current: Issue, cooperating_agencies: Iterable[Agency] | None
) -> tuple[list[Agency], list[Cooperation]]:
    """The agencies to ask for cooperation and the requests to withdraw (None: keep them)."""
    existing = {c.agency_id: c for c in current.cooperations.select_related("agency")}
    if cooperating_agencies is None:
        if current.lead_agency_id in existing:
            raise ValidationError(
                {"lead_agency": _("The lead agency cannot also be a cooperating agency.")}
            )
        return [], []
    wanted = _check_cooperators(current.lead_agency, cooperating_agencies)
    wanted_ids = {a.pk for a in wanted}
    added = [a for a in wanted if a.pk not in existing]
    removed = [c for agency_id, c in existing.items() if agency_id not in wanted_ids]
    return added, removed


def _record_update(
    current: Issue,
    actor,
    changes: list[dict],
    added: list[Agency],
    removed: list[Cooperation],
    reply_by: date | None = None,
) -> None:
    changed = None
    if changes:
        status_only = [c["field"] for c in changes] == ["status"]
        changed = event_record(
            current,
            actor,
            EventKind.STATUS if status_only else EventKind.CHANGED,
            changes=changes,
        )
    for cooperation in removed:
        cooperation.delete()
        event_record(current, actor, EventKind.COOPERATION_REMOVED, agency=cooperation.agency)
    _request_cooperation(current, added, actor, reply_by)
    if changed is not None and any(c["field"] == "status" for c in changes):
        # After the cooperations changed: an agency withdrawn in this same
        # edit no longer reads a restricted issue, and is not told of it.
        notify_event(changed)


def issue_change_status(*, issue: Issue, actor, expected_version: int, status: str) -> Issue:
    """Change only the status (the in-place control on the detail page)."""
    if status not in Status.values:
        raise ValidationError({"status": _("Choose a valid status.")})
    return issue_update(issue=issue, actor=actor, expected_version=expected_version, status=status)


def cooperation_answer(
    *, cooperation: Cooperation, actor, status: str, note: str = ""
) -> Cooperation:
    """The requested agency accepts, declines or reports its part done."""
    if not rules.can_answer_cooperation(actor, cooperation):
        raise PermissionDenied
    if status not in (
        CooperationStatus.ACCEPTED,
        CooperationStatus.DECLINED,
        CooperationStatus.DONE,
    ):
        raise ValidationError({"status": _("Choose accept, decline or done.")})
    with transaction.atomic():
        locked = Cooperation.objects.select_for_update().get(pk=cooperation.pk)
        if locked.status == status and locked.note == note.strip():
            # The same answer again (a double click, a second person of the
            # agency): nothing changed, so nothing to record or tell anyone.
            return locked
        old = locked.status
        locked.status = status
        locked.note = note.strip()
        locked.answered_by = actor
        locked.answered_at = timezone.now()
        locked.full_clean()
        locked.save()
        _record_part_change(
            locked.issue,
            actor,
            EventKind.COOPERATION_ANSWERED,
            agency=locked.agency,
            changes=[{"field": "cooperation", "old": old, "new": status, "note": locked.note}],
            notify=True,
        )
    return locked


class StaleCooperationError(Exception):
    """Someone else changed the person in charge or the deadline after this user loaded them."""

    def __init__(self, current: Cooperation) -> None:
        super().__init__(f"cooperation {current.pk} changed")
        self.current = current


def cooperation_update(
    *,
    cooperation: Cooperation,
    actor,
    assignee,
    reply_by: date,
    expected_assignee_id: int | None,
    expected_reply_by: date,
) -> Cooperation:
    """The cooperating agency names its person in charge (담당자) and moves the reply
    deadline (회신 기한), from a form loaded when they were ``expected_*``.

    Refuses with StaleCooperationError when someone changed them in between
    (nothing is overwritten silently); records one COOPERATION_UPDATED event
    with what changed, old and new. The deadline may not move into the past;
    the person must be an active member of the cooperating agency.
    """
    if not rules.can_answer_cooperation(actor, cooperation):
        raise PermissionDenied
    errors = {}
    if assignee is not None and not (
        assignee.is_active and assignee.agency_id == cooperation.agency_id
    ):
        errors["assignee"] = _("The person in charge must belong to the cooperating agency.")
    with transaction.atomic():
        locked = Cooperation.objects.select_for_update().get(pk=cooperation.pk)
        if locked.assignee_id != expected_assignee_id or locked.reply_by != expected_reply_by:
            raise StaleCooperationError(locked)
        if reply_by != locked.reply_by and reply_by < timezone.localdate():
            errors["reply_by"] = _("The reply deadline cannot be in the past.")
        if errors:
            raise ValidationError(errors)
        changes = []
        if (assignee.pk if assignee else None) != locked.assignee_id:
            changes.append(
                {
                    "field": "cooperation_assignee",
                    "old": _names(locked.assignee),
                    "new": _names(assignee),
                }
            )
            locked.assignee = assignee
        if reply_by != locked.reply_by:
            changes.append(
                {
                    "field": "reply_by",
                    "old": locked.reply_by.isoformat(),
                    "new": reply_by.isoformat(),
                }
            )
            locked.reply_by = reply_by
        if not changes:
            return locked
        locked.save(update_fields=["assignee", "reply_by"])
        _record_part_change(
            locked.issue,
            actor,
            EventKind.COOPERATION_UPDATED,
            agency=locked.agency,
            changes=changes,
        )
    return locked


def comment_create(*, issue: Issue, actor, body: str) -> Comment:
    """Post a comment; the lead agency and the participants are notified."""
    if not rules.can_comment(actor, issue):
        raise PermissionDenied
    body = body.strip()
    if not body:
        raise ValidationError({"body": _("Write a comment first.")})
    with transaction.atomic():
        comment = Comment(issue=issue, author=actor, body=body)
        comment.full_clean()
        comment.save()
        _record_part_change(
            issue, actor, EventKind.COMMENT, at=comment.created_at, comment=comment, notify=True
        )
        follow_automatically(user=actor, issue=issue, source=FollowSource.COMMENTED)
    return comment


def attachment_add(*, issue: Issue, actor, uploaded_file) -> Attachment:
    """Store an uploaded document after checking its size and its real type."""
    if not rules.can_attach(actor, issue):
        raise PermissionDenied
    name = safe_download_name(uploaded_file.name or "")
    try:
        content_type = detect_file_type(uploaded_file, name)
    except FileTypeError as exc:
        raise ValidationError({"file": str(exc)}) from exc
    attachment = Attachment(
        issue=issue,
        original_name=name,
        size=uploaded_file.size,
        content_type=content_type,
        uploaded_by=actor,
    )
    try:
        attachment.file.save(name, uploaded_file, save=False)
    except STORAGE_ERRORS as exc:
        # The file store is down, hung or refusing: a message, and no row.
        log_storage_error("save", name, exc)
        raise ValidationError(
            {
                "file": _(
                    "The file store could not take the file just now, so it was not attached. "
                    "Please try again in a few minutes."
                )
            }
        ) from exc
    try:
        with transaction.atomic():
            attachment.save()
            _record_part_change(
                issue, actor, EventKind.ATTACHMENT, at=attachment.created_at, attachment=attachment
            )
    except Exception:
        attachment.file.delete(save=False)  # no row points at it: don't leave an orphan
        raise
    return attachment


# --- following (구독) ---------------------------------------------------------------------


def issue_follow(*, user, issue: Issue) -> Follow:
    """Follow an issue: hear of its comments, status changes and decisions.

    Only an issue one may read; following again changes nothing.
    """
    if not rules.can_view(user, issue):
        raise PermissionDenied
    follow, _created = Follow.objects.get_or_create(
        user=user, issue=issue, defaults={"source": FollowSource.MANUAL}
    )
    return follow


def issue_unfollow(*, user, issue: Issue) -> None:
    """Stop following an issue. Filing, commenting or being assigned follows it again."""
    if not rules.can_view(user, issue):
        raise PermissionDenied
    Follow.objects.filter(user=user, issue=issue).delete()


def follow_automatically(*, user, issue: Issue, source: str) -> None:
    """Make ``user`` follow ``issue`` because of what they did or were given
    (``FollowSource``: filed, commented, assigned).

    For other services too: the cooperation assignee of issue 9 is followed
    through here. Does nothing for someone who may not read the issue, or who
    already follows it (the first reason is kept).
    """
    if user is None or not rules.can_view(user, issue):
        return
    Follow.objects.get_or_create(user=user, issue=issue, defaults={"source": source})


# --- saved searches (저장한 검색) --------------------------------------------------------


def _clean_saved_search(search: SavedSearch) -> None:
    search.name = search.name.strip()
    if (
        SavedSearch.objects.filter(user=search.user, name=search.name)
        .exclude(pk=search.pk)
        .exists()
    ):
        raise ValidationError({"name": _("You already have a saved search of this name.")})
    search.full_clean()


def saved_search_create(
    *, user, name: str, query_string: str, include_in_digest: bool = False
) -> SavedSearch:
    """Save a normalized list query (issues.forms.normalized_query) under a name of one's own."""
    search = SavedSearch(
        user=user, name=name, query_string=query_string, include_in_digest=include_in_digest
    )
    _clean_saved_search(search)
    search.save()
    return search


def saved_search_update(
    *, search: SavedSearch, user, name: str, include_in_digest: bool
) -> SavedSearch:
    """Rename a saved search, or change whether the digest tells of its new matches."""
    if search.user_id != user.pk:
        raise PermissionDenied
    search.name = name
    search.include_in_digest = include_in_digest
    search.updated_at = timezone.now()
    _clean_saved_search(search)
    search.save(update_fields=["name", "include_in_digest", "updated_at"])
    return search


def saved_search_delete(*, search: SavedSearch, user) -> None:
    """Delete one's own saved search."""
    if search.user_id != user.pk:
        raise PermissionDenied
    search.delete()
