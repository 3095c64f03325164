"""Display helpers for meeting templates: badges and figures."""

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
