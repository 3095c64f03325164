"""HTTP middleware that knows nothing about our apps: limits, hostile input, headers.

Order in ``settings.MIDDLEWARE`` matters and is explained there. None of these
read the request body: a refused request is refused from its headers alone.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string

from core.text import has_control_characters

GetResponse = Callable[[HttpRequest], HttpResponse]


def error_response(request: HttpRequest, template: str, status: int) -> HttpResponse:
    """A site-styled error page (``templates/<status>.html``) in the request's language.

    Rendered without the request's context processors: the page must work
    before authentication and must not touch the database (the refused
    request may be the first of many).
    """
    body = render_to_string(template, {"request_path": request.path})
    return HttpResponse(body, status=status)


class RequestLimitsMiddleware:
    """Refuse, from the headers alone, what the views must never be asked to handle.

    * A body larger than ``REQUEST_BODY_MAX_BYTES`` (the attachment limit plus a
      margin for the other form fields) gets 413 before a byte of it is read,
      so a 200 MB upload costs nothing but the refusal.
    * A path or query string holding control characters (NUL, ``\\x01``…) gets
      400: PostgreSQL refuses NUL in text ("A string literal cannot contain NUL"),
      and no address of ours ever needs one. Form fields are checked by
      ``core.forms.SafeInputMixin``, which keeps what was typed.
    """

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0  # Django reads no body then either (LimitedStream of 0)
        if length > settings.REQUEST_BODY_MAX_BYTES:
            return error_response(request, "413.html", 413)
        if has_control_characters(request.path) or any(
            has_control_characters(key) or any(has_control_characters(v) for v in values)
            for key, values in request.GET.lists()
        ):
            return error_response(request, "400.html", 400)
        return self.get_response(request)


class SecurityHeadersMiddleware:
    """``Permissions-Policy`` everywhere; ``Cache-Control: private, no-store`` on private answers.

    Private means: the user is signed in, or the request carried credentials
    of its own (an ``Authorization`` header). On a shared PC the browser's
    disk cache would otherwise keep restricted issues, exports and
    attachments for the next person. Static files never get here (WhiteNoise
    answers them first), so they stay cacheable.
    """

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if settings.PERMISSIONS_POLICY and "Permissions-Policy" not in response:
            response["Permissions-Policy"] = settings.PERMISSIONS_POLICY
        if _is_private(request) and "no-store" not in response.get("Cache-Control", ""):
            response["Cache-Control"] = "private, no-store"
        return response


def _is_private(request: HttpRequest) -> bool:
    user = getattr(request, "user", None)
    return bool(
        (user is not None and user.is_authenticated) or request.META.get("HTTP_AUTHORIZATION")
    )
