from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject


def notifications(request: HttpRequest) -> dict:
    """The bell's unread count; lazy, so pages that don't show it pay no query."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}

    def count() -> int:
        from .models import Notification

        return Notification.objects.filter(recipient=user, read_at=None).count()

    return {"unread_notifications": SimpleLazyObject(count)}
