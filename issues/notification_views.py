from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from .models import Issue, Notification


def _notifications_for(user):
    # Re-check visibility: an issue may have been restricted since.
    return Notification.objects.filter(
        recipient=user, event__issue__in=Issue.objects.visible_to(user)
    ).select_related("event__issue", "event__actor__agency", "event__agency")


@login_required
@require_GET
def notification_list(request: HttpRequest) -> HttpResponse:
    page = Paginator(_notifications_for(request.user), 30).get_page(request.GET.get("page"))
    return render(request, "issues/notification_list.html", {"page": page})


@login_required
@require_GET
def notification_open(request: HttpRequest, pk: int) -> HttpResponse:
    notification = get_object_or_404(_notifications_for(request.user), pk=pk)
    if notification.read_at is None:
        notification.read_at = timezone.now()
        notification.save(update_fields=["read_at"])
    return redirect(notification.event.issue)


@login_required
@require_POST
def mark_all_read(request: HttpRequest) -> HttpResponse:
    Notification.objects.filter(recipient=request.user, read_at=None).update(read_at=timezone.now())
    return redirect("notifications:list")
