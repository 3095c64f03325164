from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.utils.translation import gettext_lazy as _

from agencies.models import Agency
from core.admin import ReadOnlyAdminMixin
from core.outbox_admin import OutboxAdmin, OutboxStateFilter

from . import deadlines, notifications, services
from .models import (
    Attachment,
    Category,
    Comment,
    Cooperation,
    DeadlineReminder,
    Event,
    Issue,
    Notification,
)


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ("name_ko", "name_en", "slug", "display_order")
    list_editable = ("display_order",)
    search_fields = ("name_ko", "name_en", "slug")
    prepopulated_fields = {"slug": ("name_en",)}


class CooperationInline(ReadOnlyAdminMixin, admin.TabularInline):
    """Shown, not edited: agencies answer on the issue page, and the list of
    cooperating agencies is edited with the issue (through the services)."""

    model = Cooperation
    fields = ("agency", "status", "note", "requested_at", "answered_by", "answered_at")
    readonly_fields = fields
    extra = 0
    can_delete = False


class AttachmentInline(admin.TabularInline):
    model = Attachment
    fields = ("original_name", "size", "content_type", "uploaded_by", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = True

    def has_add_permission(self, request, obj=None):
        return False  # uploads go through the checked upload on the issue page


class IssueAdminForm(forms.ModelForm):
    """The issue's fields, its cooperating agencies and the version it was loaded at."""

    cooperating = forms.ModelMultipleChoiceField(
        label=_("Cooperating agencies"),
        queryset=Agency.objects.active().public_organizations(),
        required=False,
        widget=admin.widgets.FilteredSelectMultiple(_("Cooperating agencies"), is_stacked=False),
    )
    expected_version = forms.IntegerField(widget=forms.HiddenInput)

    class Meta:
        model = Issue
        fields = services.EDITABLE_FIELDS

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["cooperating"].initial = list(
                self.instance.cooperations.values_list("agency_id", flat=True)
            )
            self.fields["expected_version"].initial = self.instance.version

    def clean(self):
        cleaned = super().clean()
        current = Issue.objects.filter(pk=self.instance.pk).values_list("version", flat=True)
        if self.instance.pk and cleaned.get("expected_version") not in current:
            raise forms.ValidationError(STALE_MESSAGE)
        return cleaned


STALE_MESSAGE = _(
    "Someone else saved this issue while you were editing it. Your changes are kept below "
    "but were not saved. Reload the page to see theirs, then save again."
)


@admin.register(Issue)
class IssueAdmin(admin.ModelAdmin):
    """Corrections by administrators go through the services, like edits on the site.

    Issues are filed on the site (no "add" here); a change here is locked
    optimistically, recorded on the timeline, bumps the version and notifies
    exactly as the issue page does (``services.issue_update_by_administrator``).
    """

    form = IssueAdminForm
    list_display = (
        "id",
        "title",
        "lead_agency",
        "category",
        "priority",
        "status",
        "visibility",
        "due_date",
        "updated_at",
    )
    list_display_links = ("id", "title")
    list_filter = ("status", "priority", "visibility", "category", "lead_agency")
    search_fields = ("title", "description", "lead_agency__name_ko", "lead_agency__name_en")
    list_select_related = ("lead_agency", "category")
    autocomplete_fields = ("lead_agency", "assignee")
    date_hierarchy = "created_at"
    fields = (
        *services.EDITABLE_FIELDS,
        # Not the model's field name: admin refuses a many-to-many with a through model.
        "cooperating",
        "expected_version",
        "created_by",
        "created_at",
        "updated_at",
        "resolved_at",
        "version",
    )
    readonly_fields = ("created_by", "created_at", "updated_at", "resolved_at", "version")
    inlines = [CooperationInline, AttachmentInline]
    show_full_result_count = False  # a COUNT(*) per page is wasted at 20,000 issues

    def has_add_permission(self, request):
        return False

    def save_model(self, request, obj, form, change):
        data = {field: form.cleaned_data[field] for field in services.EDITABLE_FIELDS}
        try:
            updated = services.issue_update_by_administrator(
                issue=obj,
                actor=request.user,
                expected_version=form.cleaned_data["expected_version"],
                cooperating_agencies=form.cleaned_data["cooperating"],
                **data,
            )
        except services.StaleIssueError:
            # Someone saved between the form's check and the lock: a rare race.
            request._issue_stale = True  # noqa: SLF001 - read by response_change below
            messages.error(request, STALE_MESSAGE)
            return
        except ValidationError as exc:
            request._issue_stale = True  # noqa: SLF001
            messages.error(request, " ".join(exc.messages))
            return
        obj.version = updated.version

    def save_related(self, request, form, formsets, change):
        # Cooperations were saved by the service (their inline is read-only);
        # this saves only attachment deletions, and nothing after a refusal.
        if getattr(request, "_issue_stale", False):
            for formset in formsets:
                formset.new_objects = formset.changed_objects = formset.deleted_objects = []
            return
        super().save_related(request, form, formsets, change)

    def response_change(self, request, obj):
        if getattr(request, "_issue_stale", False):
            return HttpResponseRedirect(request.path)
        return super().response_change(request, obj)


@admin.register(Cooperation)
class CooperationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read-only: agencies answer on the issue page, and requests change with the issue."""

    list_display = (
        "issue",
        "agency",
        "status",
        "assignee",
        "reply_by",
        "requested_at",
        "answered_at",
    )
    list_filter = ("status", "agency")
    search_fields = ("issue__title", "agency__name_ko", "agency__name_en")
    list_select_related = ("issue", "agency")


@admin.register(Comment)
class CommentAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read and, for moderation, delete; comments are written on the issue page."""

    list_display = ("issue", "author", "created_at")
    search_fields = ("body", "issue__title", "author__username")
    list_select_related = ("issue", "author")


@admin.register(Event)
class EventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read-only: the timeline is append-only."""

    list_display = ("issue", "kind", "actor", "created_at")
    list_filter = ("kind",)
    list_select_related = ("issue", "actor")
    search_fields = ("issue__title",)
    deletable = False


class EmailStateFilter(OutboxStateFilter):
    """Where a notification's e-mail stands."""

    title = _("e-mail")
    parameter_name = "email"
    states = ("sent", "waiting", "failing", "skipped", "none")


@admin.register(Notification)
class NotificationAdmin(OutboxAdmin):
    """The notification outbox, so a stuck e-mail can be found and explained."""

    outbox = notifications.OUTBOX
    list_display = ("recipient", "event")
    list_filter = (EmailStateFilter, "event__kind")
    search_fields = ("recipient__username", "recipient__email", "event__issue__title")
    list_select_related = ("recipient", "event__issue")
    date_hierarchy = "created_at"


@admin.register(DeadlineReminder)
class DeadlineReminderAdmin(OutboxAdmin):
    """The deadline reminders (issues.deadlines), one row per step and person."""

    outbox = deadlines.OUTBOX
    list_display = ("issue", "purpose", "step", "round", "recipient", "deadline")
    list_filter = ("purpose", "step")
    search_fields = ("issue__title", "recipient__username", "recipient__email")
    list_select_related = ("issue", "recipient")
    date_hierarchy = "due_at"
