from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db import models
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from core.admin import AdminPageMixin

from . import services
from .forms import UserImportForm
from .models import Agency, User


class UserInline(admin.TabularInline):
    model = User
    fields = ("username", "last_name", "first_name", "email", "role", "is_active")
    readonly_fields = ("username",)
    extra = 0
    show_change_link = True
    can_delete = False

    def has_add_permission(self, request, obj=None):
        # New accounts need a password: they are made on the user page or by CSV import.
        return False


@admin.register(Agency)
class AgencyAdmin(admin.ModelAdmin):
    list_display = (
        "name_ko",
        "name_en",
        "slug",
        "kind",
        "display_order",
        "is_active",
        "user_count",
    )
    list_editable = ("display_order",)
    list_filter = ("kind", "is_active")
    search_fields = ("name_ko", "name_en", "slug")
    prepopulated_fields = {"slug": ("name_en",)}
    # Organizations' sites are HTTPS; also what Django 6 will assume.
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    inlines = [UserInline]
    actions = ["deactivate"]
    fieldsets = (
        (None, {"fields": ("name_ko", "name_en", "slug", "kind", "display_order", "is_active")}),
        (_("Contact"), {"fields": ("contact_email", "contact_phone", "website")}),
    )

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(_user_count=Count("users", filter=Q(users__is_active=True)))
        )

    @admin.display(description=_("active users"), ordering="_user_count")
    def user_count(self, obj: Agency) -> int:
        return obj._user_count

    @admin.action(description=_("Deactivate selected organizations and their users"))
    def deactivate(self, request: HttpRequest, queryset) -> None:
        count = services.agencies_deactivate(agencies=queryset)
        self.message_user(
            request,
            ngettext(
                "%(count)d organization was deactivated.",
                "%(count)d organizations were deactivated.",
                count,
            )
            % {"count": count},
            messages.SUCCESS,
        )


@admin.register(User)
class UserAdmin(AdminPageMixin, BaseUserAdmin):
    list_display = (
        "username",
        "display_name",
        "agency",
        "role",
        "email",
        "is_active",
        "last_login",
    )
    list_filter = ("role", "is_active", "agency__kind", "agency", "is_superuser")
    search_fields = (
        "username",
        "first_name",
        "last_name",
        "email",
        "agency__name_ko",
        "agency__name_en",
    )
    list_select_related = ("agency",)
    autocomplete_fields = ("agency",)
    actions = ["deactivate"]
    change_list_template = "admin/agencies/user/change_list.html"
    page = ("import/", "import_csv", "agencies_user_import")
    fieldsets = BaseUserAdmin.fieldsets + (
        (_("Gwangju Hub"), {"fields": ("agency", "role", "preferred_language")}),
    )
    add_fieldsets = BaseUserAdmin.add_fieldsets + (
        (_("Gwangju Hub"), {"fields": ("agency", "role", "email", "last_name", "first_name")}),
    )

    @admin.display(description=_("name"))
    def display_name(self, obj: User) -> str:
        return obj.get_full_name()

    @admin.action(description=_("Deactivate selected users"))
    def deactivate(self, request: HttpRequest, queryset) -> None:
        count = queryset.update(is_active=False)
        self.message_user(
            request,
            ngettext("%(count)d user was deactivated.", "%(count)d users were deactivated.", count)
            % {"count": count},
            messages.SUCCESS,
        )

    def import_csv(self, request: HttpRequest) -> HttpResponse:
        if not self.has_add_permission(request):
            return redirect("admin:index")
        form = UserImportForm(request.POST or None, request.FILES or None)
        result = None
        if request.method == "POST" and form.is_valid():
            result = services.users_import_csv(data=form.cleaned_data["file"].read())
            if result.created:
                self.message_user(
                    request,
                    ngettext(
                        "%(count)d account was created.",
                        "%(count)d accounts were created.",
                        len(result.created),
                    )
                    % {"count": len(result.created)},
                    messages.SUCCESS,
                )
            if not result.errors:
                return redirect(reverse("admin:agencies_user_changelist"))
        return self.render_page(
            request,
            "admin/agencies/user/import.html",
            _("Import users from CSV"),
            {"form": form, "result": result},
        )
