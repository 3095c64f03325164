"""Admin helpers every app may use. Imports no app of ours (and registers no model)."""

from __future__ import annotations

from typing import ClassVar

from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import path


class ReadOnlyAdminMixin:
    """For rows the site or a service writes: the admin shows them and adds or changes none.

    A change made here would skip what the service does with it (the timeline,
    the notices, the locks). Deleting is left to Django's permissions unless
    ``deletable = False``. Works for a ``ModelAdmin`` and for an inline.
    """

    deletable: ClassVar[bool] = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return self.deletable and super().has_delete_permission(request, obj)


class AdminPageMixin:
    """A model's admin with a page of its own besides Django's (an import, a preview…).

    A subclass names it in ``page``: the route under the model's admin, the
    method that answers it, and the URL name (``admin:<name>``). The method
    draws it with ``render_page``, inside the admin's frame.
    """

    page: ClassVar[tuple[str, str, str]]

    def get_urls(self):
        route, method, name = self.page
        view = self.admin_site.admin_view(getattr(self, method))
        return [path(route, view, name=name), *super().get_urls()]

    def render_page(
        self, request: HttpRequest, template: str, title: str, context: dict
    ) -> TemplateResponse:
        return TemplateResponse(
            request,
            template,
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "title": title,
                **context,
            },
        )
