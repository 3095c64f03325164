"""/accounts/settings/: how one is told, one's language and one's calendar feed address.

It lives in the project package because it joins two apps: the notice
choices and the language belong to ``agencies``, the calendar feed token to
``meetings``. Only one's own settings: the page takes no user id.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from agencies import services
from agencies.forms import NoticeSettingsForm
from agencies.http import AuthenticatedHttpRequest
from agencies.views import set_language_cookie
from core.form_services import run_service
from meetings.views import calendar_context


@login_required
@require_http_methods(["GET", "POST"])
def account_settings(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = NoticeSettingsForm(request.POST or None, user=request.user)
    if request.method == "POST" and run_service(
        form,
        lambda data: services.user_update_settings(
            user=request.user,
            deliveries=form.deliveries(),
            preferred_language=data["preferred_language"],
        ),
    ):
        return _saved(request, form.cleaned_data["preferred_language"])
    context = {
        "form": form,
        **calendar_context(request),
        # The calendar box's buttons come back here without JavaScript.
        "next": reverse("account_settings"),
    }
    return render(request, "accounts/settings.html", context)


def _saved(request: AuthenticatedHttpRequest, language: str) -> HttpResponse:
    """Back to the page, in the language just chosen.

    The header's language cookie outranks the saved preference
    (agencies.middleware), so it is set to the new choice, or removed when
    the person chose to follow the browser again.
    """
    response = redirect("account_settings")
    if language:
        set_language_cookie(response, language)
    else:
        response.delete_cookie(settings.LANGUAGE_COOKIE_NAME, samesite="Lax")
    with translation.override(language or translation.get_language()):
        messages.success(request, _("Your settings were saved."))
    return response
