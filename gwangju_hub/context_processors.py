from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject


def notifications(request: HttpRequest) -> dict:
    """The bell's unread count: issue notifications and meeting reminders.

    Lazy, so pages that don't show it pay no query; one when they do. Only
    what the user may still see is counted: not even a count may hint at a
    hidden issue or meeting.
    """
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}

    def count() -> int:
        from .notifications import unread_count

        return unread_count(user)

    return {"unread_notifications": SimpleLazyObject(count)}


def navigation(request: HttpRequest) -> dict:
    """What the main menu offers: the dashboard only to those who have one."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}

    def has_dashboard() -> bool:
        from meetings.rules import dashboard_scope

        return dashboard_scope(user) is not None

    return {"has_dashboard": SimpleLazyObject(has_dashboard)}
