"""The daily digests in Django admin: the delivery log, and a preview of anyone's digest."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from agencies.models import User
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
class DigestDeliveryAdmin(admin.ModelAdmin):
    """Read-only: the rows are what keep each person to one digest a day."""

    list_display = (
        "day",
        "recipient",
        "due_at",
        "sent_at",
        "skipped_at",
        "attempts",
        "short_error",
    )
    list_filter = ("day",)
    search_fields = ("recipient__username", "recipient__email")
    list_select_related = ("recipient",)
    readonly_fields = ("message_id_header",)
    date_hierarchy = "day"
    show_full_result_count = False
    actions = ["retry_now"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # deleting a row would let the day's digest go out again

    def get_urls(self):
        return [
            path(
                "preview/",
                self.admin_site.admin_view(self.preview),
                name="gwangju_hub_digestdelivery_preview",
            ),
            *super().get_urls(),
        ]

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
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Preview a daily digest"),
            "form": form,
            "subject": subject,
            "body": body,
            "off_day": off_day,
        }
        return TemplateResponse(request, "admin/gwangju_hub/digestdelivery/preview.html", context)

    @admin.action(description=_("Retry now (without waiting for the backoff)"))
    def retry_now(self, request, queryset) -> None:
        count = digest.retry_now(queryset)
        self.message_user(
            request,
            ngettext(
                "%(count)d digest will be tried again by the sweep just queued.",
                "%(count)d digests will be tried again by the sweep just queued.",
                count,
            )
            % {"count": count},
            messages.SUCCESS,
        )

    @admin.display(description="Message-ID")
    def message_id_header(self, obj: DigestDelivery) -> str:
        return digest.message_id(obj)

    @admin.display(description=_("last error"))
    def short_error(self, obj: DigestDelivery) -> str:
        error = obj.last_error.strip().splitlines()[-1] if obj.last_error.strip() else ""
        return error if len(error) <= 80 else f"{error[:79]}…"


@admin.register(DigestDay)
class DigestDayAdmin(admin.ModelAdmin):
    list_display = ("day", "planned_at", "digests")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # deleting it would plan the day again
