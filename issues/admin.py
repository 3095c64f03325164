from django.contrib import admin

from .models import Attachment, Category, Comment, Cooperation, Event, Issue


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ("name_ko", "name_en", "slug", "display_order")
    list_editable = ("display_order",)
    search_fields = ("name_ko", "name_en", "slug")
    prepopulated_fields = {"slug": ("name_en",)}


class CooperationInline(admin.TabularInline):
    model = Cooperation
    fields = ("agency", "status", "note", "answered_by", "answered_at")
    readonly_fields = ("answered_by", "answered_at")
    autocomplete_fields = ("agency",)
    extra = 0


class AttachmentInline(admin.TabularInline):
    model = Attachment
    fields = ("original_name", "size", "content_type", "uploaded_by", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = True

    def has_add_permission(self, request, obj=None):
        return False  # uploads go through the checked upload on the issue page


@admin.register(Issue)
class IssueAdmin(admin.ModelAdmin):
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
    autocomplete_fields = ("lead_agency", "created_by", "assignee")
    date_hierarchy = "created_at"
    readonly_fields = ("created_at", "updated_at", "resolved_at", "version")
    inlines = [CooperationInline, AttachmentInline]
    show_full_result_count = False  # a COUNT(*) per page is wasted at 20,000 issues


@admin.register(Cooperation)
class CooperationAdmin(admin.ModelAdmin):
    list_display = ("issue", "agency", "status", "requested_at", "answered_at")
    list_filter = ("status", "agency")
    search_fields = ("issue__title", "agency__name_ko", "agency__name_en")
    list_select_related = ("issue", "agency")
    autocomplete_fields = ("issue", "agency", "answered_by", "requested_by")


@admin.register(Comment)
class CommentAdmin(admin.ModelAdmin):
    list_display = ("issue", "author", "created_at")
    search_fields = ("body", "issue__title", "author__username")
    list_select_related = ("issue", "author")
    autocomplete_fields = ("issue", "author")


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    """Read-only: the timeline is append-only."""

    list_display = ("issue", "kind", "actor", "created_at")
    list_filter = ("kind",)
    list_select_related = ("issue", "actor")
    search_fields = ("issue__title",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
