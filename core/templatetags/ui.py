"""Display helpers every template may load: ``{% load ui %}``.

Badges: KRDS badge variants per value of a kind of status. Words carry the
meaning, colour only helps (KWCAG: not by colour alone). The values are the
stored strings of each app's choices, kept here, in one table, so that every
badge on every page agrees.
"""

from __future__ import annotations

from django import template
from django.utils.html import format_html

register = template.Library()

BADGES = {
    # issues.Status
    "status": {
        "open": "bg-light-primary",
        "in_progress": "bg-light-information",
        "on_hold": "bg-light-warning",
        "resolved": "bg-light-success",
        "closed": "bg-light-gray",
    },
    # issues.Priority
    "priority": {
        "low": "outline-gray",
        "normal": "outline-primary",
        "high": "outline-warning",
        "urgent": "bg-danger",
    },
    # issues.CooperationStatus (a cooperating agency's answer)
    "answer": {
        "requested": "bg-light-warning",
        "accepted": "bg-light-primary",
        "declined": "bg-light-danger",
        "done": "bg-light-success",
    },
    # meetings.MeetingStatus
    "meeting": {
        "scheduled": "bg-light-primary",
        "held": "bg-light-success",
        "cancelled": "bg-light-danger",
    },
    # meetings.AgendaItemStatus
    "agenda_item": {
        "proposed": "bg-light-warning",
        "accepted": "bg-light-primary",
        "removed": "bg-light-gray",
    },
}
FALLBACK = {"priority": "outline-gray"}


@register.filter
def badge(value: str, kind: str) -> str:
    """The KRDS badge class for ``value`` of ``kind``: ``{{ issue.status|badge:"status" }}``."""
    return BADGES.get(kind, {}).get(value, FALLBACK.get(kind, "bg-light-gray"))


@register.filter
def filesize_kb(size: int) -> str:
    if size < 1024 * 1024:
        return f"{max(1, round(size / 1024))} KB"
    return f"{size / 1024 / 1024:.1f} MB"


@register.simple_tag
def page_url(query: str, number: int) -> str:
    """A page link that keeps the list's other query parameters."""
    return f"?{query}&page={number}" if query else f"?page={number}"


@register.filter
def get_item(mapping: dict, key):
    return mapping.get(key) if mapping else None


@register.filter
def days(value: float | None) -> str:
    """A number of days with one decimal, or a dash when there is none."""
    return "—" if value is None else f"{value:.1f}"


@register.filter
def unbound_field_key(field) -> str:
    """Everything a field of an *unbound* form shows, as one string: the key
    under which ``partials/field.html`` and ``check.html`` keep its rendered
    markup (the language beside it). Rendering a widget goes through three
    templates and costs more than the rest of a small form's page.

    "" (nothing kept) for a bound form, whose values and errors are the
    person's own, and for a field with choices, whose options may be read
    from the database: both are rendered every time.
    """
    form, formfield = field.form, field.field
    widget = formfield.widget
    if form.is_bound or hasattr(widget, "choices"):
        return ""
    return repr(
        (
            type(form).__module__,
            type(form).__qualname__,
            field.html_name,
            field.auto_id,
            field.value(),
            str(field.label),
            str(field.help_text),
            formfield.required,
            form.use_required_attribute,
            formfield.disabled,
            type(widget).__qualname__,
            widget.template_name,
            sorted((name, str(value)) for name, value in widget.attrs.items()),
        )
    )


@register.simple_tag(takes_context=True)
def section_head(context, key: str, title: str) -> str:
    """A page section's heading and, just after a change made in the section
    (the ``flash`` of ``core.views.after_change``), the message saying so.

    The heading's id is ``<key>-heading``, which the section's
    ``aria-labelledby`` names; the message is a status, read out by screen
    readers when htmx swaps the section in.
    """
    heading = format_html('<h2 id="{}-heading" class="section-title">{}</h2>', key, title)
    flash = context.get("flash")
    if not flash:
        return heading
    return heading + format_html('<p class="flash flash--success" role="status">{}</p>', flash)
