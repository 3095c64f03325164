"""Display helpers for issues: badges and timeline values."""

from django import template
from django.utils.dateparse import parse_date
from django.utils.formats import date_format
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from issues import timeline
from issues.models import CooperationStatus, Issue, Priority, Status, Visibility

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
}
CHOICES = {
    "priority": dict(Priority.choices),
    "status": dict(Status.choices),
    "visibility": dict(Visibility.choices),
    "cooperation": dict(CooperationStatus.choices),
}

# KRDS badge variants per value; words carry the meaning, colour only helps.
STATUS_BADGE = {
    "open": "bg-light-primary",
    "in_progress": "bg-light-information",
    "on_hold": "bg-light-warning",
    "resolved": "bg-light-success",
    "closed": "bg-light-gray",
}
PRIORITY_BADGE = {
    "low": "outline-gray",
    "normal": "outline-primary",
    "high": "outline-warning",
    "urgent": "bg-danger",
}
ANSWER_BADGE = {
    "requested": "bg-light-warning",
    "accepted": "bg-light-primary",
    "declined": "bg-light-danger",
    "done": "bg-light-success",
}


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
    if field == "due_date":
        parsed = parse_date(value)
        return date_format(parsed, "DATE_FORMAT") if parsed else value
    return str(value)


@register.filter
def status_badge(value: str) -> str:
    return STATUS_BADGE.get(value, "bg-light-gray")


@register.filter
def priority_badge(value: str) -> str:
    return PRIORITY_BADGE.get(value, "outline-gray")


@register.filter
def answer_badge(value: str) -> str:
    return ANSWER_BADGE.get(value, "bg-light-gray")


@register.filter
def filesize_kb(size: int) -> str:
    if size < 1024 * 1024:
        return f"{max(1, round(size / 1024))} KB"
    return f"{size / 1024 / 1024:.1f} MB"


@register.simple_tag
def page_url(query: str, number: int) -> str:
    return f"?{query}&page={number}" if query else f"?page={number}"


@register.filter
def is_overdue(issue: Issue) -> bool:
    return issue.is_overdue


@register.filter
def get_item(mapping: dict, key):
    return mapping.get(key) if mapping else None


@register.simple_tag
def decision_meetings(user, issue: Issue) -> dict[int, str]:
    """{event pk: meeting title} for the issue's decision events whose meeting ``user``
    may open; the others are shown as taken "at a meeting" (see issues.timeline).

    Reads the prefetched ``issue.events``; at most one query of its own.
    """
    return timeline.decision_meeting_names(user, issue.events.all())
