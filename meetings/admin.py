from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from agencies.models import Agency
from core.admin import AdminPageMixin
from core.forms import SafeInputMixin
from core.outbox_admin import OutboxAdmin, OutboxStateFilter

from . import reminders, services
from .models import (
    AgendaItem,
    CalendarToken,
    Meeting,
    MeetingStatus,
    PerformanceReport,
    PerformanceReportStatus,
    ReminderDelivery,
)
from .scheduling import MAX_YEAR, MIN_YEAR, schedule_meetings


class ScheduleYearForm(SafeInputMixin, forms.Form):
    year = forms.IntegerField(label=_("Year"), min_value=MIN_YEAR, max_value=MAX_YEAR)


class AgendaItemForm(SafeInputMixin, forms.ModelForm):
    """An item about an issue may leave title and presenter empty: the issue's are taken."""

    class Meta:
        model = AgendaItem
        fields = ("order", "issue", "title", "presenting_agency", "kind", "status")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["title"].required = False
        self.fields["presenting_agency"].required = False

    def clean(self):
        cleaned = super().clean()
        issue = cleaned.get("issue")
        if issue is not None:
            cleaned["title"] = cleaned.get("title") or issue.title
            cleaned["presenting_agency"] = cleaned.get("presenting_agency") or issue.lead_agency
        for name in ("title", "presenting_agency"):
            if not cleaned.get(name) and name not in self.errors:
                self.add_error(name, _("Required unless an issue is chosen."))
        return cleaned


class AgendaItemInline(admin.TabularInline):
    model = AgendaItem
    form = AgendaItemForm
    fields = (
        "order",
        "issue",
        "title",
        "presenting_agency",
        "kind",
        "status",
        "decision",
        "follow_up_due",
    )
    # Decisions are recorded on the meeting page, which also puts them on the
    # issue's timeline and moves its due date; an admin edit would do neither.
    readonly_fields = ("decision", "follow_up_due")
    autocomplete_fields = ("issue", "presenting_agency")
    extra = 0


class MeetingAdminForm(SafeInputMixin, forms.ModelForm):
    """Status changes the site would refuse are refused here too."""

    class Meta:
        model = Meeting
        fields = (
            "kind",
            "title",
            "starts_at",
            "ends_at",
            "location",
            "chair",
            "status",
            "invited_agencies",
            "minutes",
        )

    def clean(self):
        cleaned = super().clean()
        status = cleaned.get("status")
        starts_at = cleaned.get("starts_at")
        ends_at = cleaned.get("ends_at")
        if starts_at and ends_at and ends_at <= starts_at:
            self.add_error("ends_at", _("The meeting must end after it starts."))
        if self.instance.pk is None or "status" not in self.changed_data:
            return cleaned
        was = self.initial.get("status")
        begun = starts_at is not None and starts_at <= timezone.now()
        if was == MeetingStatus.CANCELLED:
            self.add_error(
                "status",
                _("A cancelled meeting cannot be restored; add a new meeting instead."),
            )
        elif status == MeetingStatus.CANCELLED and (was != MeetingStatus.SCHEDULED or begun):
            self.add_error("status", _("Only an upcoming scheduled meeting can be cancelled."))
        elif status == MeetingStatus.HELD and not begun:
            self.add_error("status", _("A meeting can only be marked held once it began."))
        return cleaned


@admin.register(Meeting)
class MeetingAdmin(AdminPageMixin, admin.ModelAdmin):
    form = MeetingAdminForm
    list_display = ("title", "kind", "starts_at", "location", "chair", "status", "agenda_count")
    list_filter = ("kind", "status")
    date_hierarchy = "starts_at"
    search_fields = ("title", "location", "chair", "minutes")
    filter_horizontal = ("invited_agencies",)
    inlines = [AgendaItemInline]
    readonly_fields = ("schedule_key", "created_by", "created_at", "updated_at", "cancelled_at")
    fieldsets = (
        (None, {"fields": ("kind", "title", "starts_at", "ends_at", "location", "chair")}),
        (None, {"fields": ("status", "invited_agencies", "minutes")}),
        (
            _("Record"),
            {
                "fields": readonly_fields,
                "classes": ["collapse"],
            },
        ),
    )
    change_list_template = "admin/meetings/meeting/change_list.html"
    page = ("schedule-year/", "schedule_year", "meetings_meeting_schedule_year")

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_agenda_count=Count("agenda_items"))

    @admin.display(description=_("agenda items"), ordering="_agenda_count")
    def agenda_count(self, obj: Meeting) -> int:
        return obj._agenda_count

    def get_changeform_initial_data(self, request):
        # A new meeting invites every active organization unless the form says otherwise.
        initial = super().get_changeform_initial_data(request)
        initial.setdefault(
            "invited_agencies",
            list(Agency.objects.active().public_organizations().values_list("pk", flat=True)),
        )
        return initial

    def save_model(self, request, obj: Meeting, form, change: bool) -> None:
        obj.updated_at = timezone.now()
        if not change:
            obj.created_by = request.user
            if obj.status == MeetingStatus.CANCELLED:
                obj.cancelled_at = obj.updated_at
        cancelling = change and "status" in form.changed_data and obj.is_cancelled
        if cancelling:
            # Save the other changes first; the service then cancels the meeting
            # and plans the cancellation notices for everyone already reminded.
            obj.status = form.initial["status"]
        super().save_model(request, obj, form, change)
        if cancelling:
            services.meeting_cancel(meeting=obj, actor=request.user)

    def save_formset(self, request, form, formset, change: bool) -> None:
        for item in formset.save(commit=False):
            if item.pk is None:
                item.proposed_by = request.user
            item.save()
        for item in formset.deleted_objects:
            item.delete()
        formset.save_m2m()

    def schedule_year(self, request: HttpRequest) -> HttpResponse:
        """The admin's ``manage.py schedule_meetings YEAR``."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = ScheduleYearForm(
            request.POST or None, initial={"year": timezone.localdate().year + 1}
        )
        if request.method == "POST" and form.is_valid():
            year = form.cleaned_data["year"]
            created, existing = schedule_meetings(year, created_by=request.user)
            self._report_schedule(request, year, len(created), len(existing))
            changelist = reverse("admin:meetings_meeting_changelist")
            return redirect(f"{changelist}?starts_at__year={year}")
        return self.render_page(
            request,
            "admin/meetings/meeting/schedule_year.html",
            _("Schedule a year"),
            {"form": form},
        )

    def _report_schedule(self, request, year: int, created: int, existing: int) -> None:
        if created:
            self.message_user(
                request,
                ngettext(
                    "%(count)d meeting of %(year)d was scheduled.",
                    "%(count)d meetings of %(year)d were scheduled.",
                    created,
                )
                % {"count": created, "year": year},
                messages.SUCCESS,
            )
        if existing:
            self.message_user(
                request,
                ngettext(
                    "%(count)d meeting of %(year)d already existed and was left as it is.",
                    "%(count)d meetings of %(year)d already existed and were left as they are.",
                    existing,
                )
                % {"count": existing, "year": year},
                messages.INFO,
            )


@admin.register(PerformanceReport)
class PerformanceReportAdmin(admin.ModelAdmin):
    list_display = ("agency", "year", "status", "submitted_at", "submitted_by")
    list_filter = ("year", "status", "agency__kind")
    search_fields = ("agency__name_ko", "agency__name_en", "agency__slug")
    list_select_related = ("agency", "submitted_by")
    autocomplete_fields = ("agency", "submitted_by")
    readonly_fields = ("updated_by", "updated_at", "version")

    def save_model(self, request, obj: PerformanceReport, form, change: bool) -> None:
        obj.updated_by = request.user
        obj.updated_at = timezone.now()
        if change:
            # Someone editing the report on the site at the same time gets
            # "changed by someone else" instead of silently overwriting this.
            obj.version += 1
        if obj.status == PerformanceReportStatus.SUBMITTED and obj.submitted_at is None:
            obj.submitted_at = obj.updated_at
        elif obj.status == PerformanceReportStatus.DRAFT:
            obj.submitted_at = obj.submitted_by = None
        super().save_model(request, obj, form, change)


class SentFilter(OutboxStateFilter):
    """Where a reminder stands: sent, waiting (due and owed), failing, or not due yet."""

    title = _("state")
    parameter_name = "state"
    states = ("sent", "waiting", "failing", "planned")


def _offset_text(offset: timedelta) -> str:
    if offset % timedelta(days=1) == timedelta(0):
        days = offset.days
        return ngettext("%(count)d day", "%(count)d days", days) % {"count": days}
    hours = int(offset.total_seconds() // 3600)
    return ngettext("%(count)d hour", "%(count)d hours", hours) % {"count": hours}


@admin.register(ReminderDelivery)
class ReminderDeliveryAdmin(OutboxAdmin):
    """The meeting and report reminders: the delivery log that keeps each to one send."""

    outbox = reminders.OUTBOX
    list_display = ("meeting", "purpose", "recipient", "offset_before")
    list_filter = (SentFilter, "purpose", "meeting")
    search_fields = ("meeting__title", "recipient__username", "recipient__email")
    list_select_related = ("meeting", "recipient")
    date_hierarchy = "due_at"

    @admin.display(description=_("offset"), ordering="offset")
    def offset_before(self, obj: ReminderDelivery) -> str:
        return _offset_text(obj.offset)


@admin.register(CalendarToken)
class CalendarTokenAdmin(admin.ModelAdmin):
    """Tokens are secrets: only their first characters are ever shown."""

    list_display = ("user", "token_prefix", "created_at")
    search_fields = ("user__username", "user__last_name", "user__first_name")
    list_select_related = ("user",)
    autocomplete_fields = ("user",)
    fields = ("user", "token_prefix", "created_at")
    readonly_fields = ("token_prefix", "created_at")
    actions = ["rotate"]

    @admin.display(description=_("token"))
    def token_prefix(self, obj: CalendarToken) -> str:
        return f"{obj.token[:6]}…" if obj.token else "—"

    @admin.action(description=_("Rotate selected tokens (the old addresses stop working)"))
    def rotate(self, request: HttpRequest, queryset) -> None:
        tokens = list(queryset)
        for token in tokens:
            token.rotate()
        self.message_user(
            request,
            ngettext(
                "%(count)d calendar token was rotated.",
                "%(count)d calendar tokens were rotated.",
                len(tokens),
            )
            % {"count": len(tokens)},
            messages.SUCCESS,
        )
