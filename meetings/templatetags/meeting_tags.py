"""Meeting helpers for templates, including the issue page's "on the agenda of …" box.

Usage on the issue page: ``{% load meeting_tags %}{% issue_agendas issue user %}``.
The issues app loads this tag by name only; it never imports meetings code.
"""

from django import template

from meetings.models import AgendaItemStatus, MeetingStatus

register = template.Library()

# KRDS badge variants; words carry the meaning, colour only helps.
MEETING_BADGE = {
    MeetingStatus.SCHEDULED: "bg-light-primary",
    MeetingStatus.HELD: "bg-light-success",
    MeetingStatus.CANCELLED: "bg-light-danger",
}
ITEM_BADGE = {
    AgendaItemStatus.PROPOSED: "bg-light-warning",
    AgendaItemStatus.ACCEPTED: "bg-light-primary",
    AgendaItemStatus.REMOVED: "bg-light-gray",
}


@register.inclusion_tag("meetings/partials/issue_agenda.html")
def issue_agendas(issue, user) -> dict:
    """The meetings whose agenda holds the issue, and for its proposers a form to add it."""
    from meetings.views import issue_agenda_context

    return issue_agenda_context(issue, user)


@register.filter
def meeting_badge(status: str) -> str:
    return MEETING_BADGE.get(status, "bg-light-gray")


@register.filter
def item_badge(status: str) -> str:
    return ITEM_BADGE.get(status, "bg-light-gray")


@register.filter
def days(value: float | None) -> str:
    """A median in days with one decimal, or a dash when there is none."""
    return "—" if value is None else f"{value:.1f}"
