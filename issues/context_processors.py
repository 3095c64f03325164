from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject


def notifications(request: HttpRequest) -> dict:
    """The bell's unread count; lazy, so pages that don't show it pay no query."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}

    def count() -> int:
        from .notifications import unread_count

        return unread_count(user)

    return {"unread_notifications": SimpleLazyObject(count)}
