"""Display helpers for issues: timeline values. (Badges and generic helpers: core's ``ui``.)"""

from django import template
from django.utils.dateparse import parse_date
from django.utils.formats import date_format
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from issues import timeline
from issues.models import CooperationStatus, Issue, Priority, Status, Visibility
from issues.selectors import ListRow

register = template.Library()

FIELD_LABELS = {
    "title": _("Title"),
    "description": _("Description"),
    "lead_agency": _("Lead agency"),
    "category": _("Category"),
    "priority": _("Priority"),
    "status": _("Status"),
    "visibility": _("Visibility"),
    "due_date": _("Due date"),
    "assignee": _("Assignee"),
    "cooperation": _("Answer"),
    "reply_by": _("Reply by"),
    "cooperation_assignee": _("Person in charge"),
}
CHOICES = {
    "priority": dict(Priority.choices),
    "status": dict(Status.choices),
    "visibility": dict(Visibility.choices),
    "cooperation": dict(CooperationStatus.choices),
}


@register.filter
def choice_label(value: str, kind: str) -> str:
    """``get_<field>_display()`` for many rows: ``{{ issue.status|choice_label:"status" }}``.

    Model.get_FOO_display() rebuilds a hashable copy of the field's choices on
    every call, translating each lazy label to hash it: a few hundred gettext
    calls per page of 25 rows. This looks the value up in a dict built once.
    """
    return str(CHOICES[kind].get(value, value))


@register.filter
def list_row_key(row: ListRow, today) -> str:
    """Everything a row of the issue list shows, as one string: the key under
    which ``{% cache %}`` keeps the rendered row (with the language beside it).

    A ``ListRow`` holds only what the row shows, and the row is rendered from
    it alone, so any change to what the row shows changes the key: a cached
    row is never stale and nothing has to invalidate it. ``today`` decides the
    "overdue" badges. tests/issues/test_list_fragments.py changes each value
    behind the cache's back.
    """
    return repr((*row, today))


@register.filter
def list_rows_key(rows, today) -> str:
    """The key of a whole page of rows: every row's ``list_row_key`` in order.

    One lookup brings back the page's rows when none has changed (the usual
    case: people page back and forth, reload, come back from an issue); when
    one has, each row still comes from its own fragment, and only the changed
    one is rendered again.
    """
    return "\n".join(list_row_key(row, today) for row in rows)


@register.filter
def timeline_entry_key(event, meeting_names: dict[int, str]) -> str:
    """Everything an entry of an issue's timeline shows, as one string: the key
    under which ``{% cache %}`` keeps the rendered entry (with the language
    beside it), as ``list_row_key`` does for the issue list. ``meeting_names``
    is what this viewer may read of decisions' meetings (``decision_meetings``).
    tests/issues/test_timeline_fragments.py changes each of these behind the
    cache's back."""
    actor, agency, comment, attachment = (
        event.actor,
        event.agency,
        event.comment,
        event.attachment,
    )
    actor_agency = actor.agency if actor else None
    return repr(
        (
            event.pk,
            event.kind,
            event.created_at,
            event.changes,
            actor.display_name if actor else None,
            (actor_agency.name_ko, actor_agency.name_en) if actor_agency else None,
            (agency.name_ko, agency.name_en) if agency else None,
            comment.body if comment else None,
            (attachment.pk, attachment.issue_id, attachment.original_name) if attachment else None,
            meeting_names.get(event.pk),
        )
    )


@register.filter
def timeline_key(events, meeting_names: dict[int, str]) -> str:
    """The key of a whole timeline: every entry's ``timeline_entry_key`` in
    order, as ``list_rows_key`` is for a page of the list."""
    return "\n".join(timeline_entry_key(event, meeting_names) for event in events)


@register.filter
def field_label(field: str) -> str:
    return FIELD_LABELS.get(field, field)


@register.filter
def change_value(value, field: str) -> str:
    """Render a stored old/new value of the timeline in the current language."""
    if value in (None, ""):
        return "—"
    if isinstance(value, dict):
        return value.get("en" if (get_language() or "ko").startswith("en") else "ko", "")
    if field in CHOICES:
        return str(CHOICES[field].get(value, value))
    if field in ("due_date", "reply_by"):
        parsed = parse_date(value)
        return date_format(parsed, "DATE_FORMAT") if parsed else value
    return str(value)


@register.filter
def is_overdue(issue: Issue) -> bool:
    return issue.is_overdue


@register.simple_tag
def decision_meetings(user, issue: Issue) -> dict[int, str]:
    """{event pk: meeting title} for the issue's decision events whose meeting ``user``
    may open; the others are shown as taken "at a meeting" (see issues.timeline).

    Reads the prefetched ``issue.events``; at most one query of its own.
    """
    return timeline.decision_meeting_names(user, issue.events.all())
