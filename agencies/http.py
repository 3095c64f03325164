"""Request types for views (as healthchecks does): what a view may assume of ``request``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.http import HttpRequest

from .models import User

if TYPE_CHECKING:
    from django_htmx.middleware import HtmxDetails


class AuthenticatedHttpRequest(HttpRequest):
    """A request behind ``login_required``, through django-htmx's middleware:
    ``request.user`` is a signed-in ``agencies.User``."""

    user: User
    htmx: HtmxDetails
