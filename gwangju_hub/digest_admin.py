"""The daily digests in Django admin: the delivery log, and a preview of anyone's digest."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from agencies.models import User
from core.admin import AdminPageMixin, ReadOnlyAdminMixin
from core.outbox_admin import OutboxAdmin
from core.workdays import is_working_day

from . import digest
from .models import DigestDay, DigestDelivery


class DigestPreviewForm(forms.Form):
    user = forms.ModelChoiceField(
        label=_("Person"),
        queryset=User.objects.filter(is_active=True)
        .select_related("agency")
        .order_by("agency__name_ko", "last_name", "first_name"),
    )
    day = forms.DateField(
        label=_("Day"), widget=forms.DateInput(attrs={"type": "date"}), initial=timezone.localdate
    )


@admin.register(DigestDelivery)
class DigestDeliveryAdmin(AdminPageMixin, OutboxAdmin):
    """The daily digests, one row per person per day; and a preview of anyone's."""

    outbox = digest.OUTBOX
    list_display = ("day", "recipient")
    list_filter = ("day",)
    search_fields = ("recipient__username", "recipient__email")
    list_select_related = ("recipient",)
    date_hierarchy = "day"
    page = ("preview/", "preview", "gwangju_hub_digestdelivery_preview")

    def preview(self, request: HttpRequest) -> HttpResponse:
        """Anyone's digest of any day, as it would be composed now; nothing is sent."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = DigestPreviewForm(request.GET or None)
        subject = body = None
        off_day = False
        if form.is_valid():
            person, day = form.cleaned_data["user"], form.cleaned_data["day"]
            off_day = not is_working_day(day)
            content = digest.contents_for([person], day).get(person.pk, {})
            content = digest.still_readable(person, content) if content else {}
            if content and not off_day:
                subject, body = digest.render(person, day, content)
        return self.render_page(
            request,
            "admin/gwangju_hub/digestdelivery/preview.html",
            _("Preview a daily digest"),
            {"form": form, "subject": subject, "body": body, "off_day": off_day},
        )


@admin.register(DigestDay)
class DigestDayAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("day", "planned_at", "digests")
    deletable = False  # deleting it would plan the day again
