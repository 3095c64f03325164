"""Account pages around Django's auth views: lockout, session clock, password reset."""

from axes.utils import reset as axes_reset
from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.forms import BaseForm
from django.forms.utils import ErrorDict
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.response import TemplateResponse
from django.utils.cache import add_never_cache_headers
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from .http import AuthenticatedHttpRequest
from .middleware import session_clock, session_record_activity


def lockout_message() -> str:
    """What a locked-out login is told: the same whether or not the username exists."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    return ngettext(
        "Too many failed login attempts: this account is temporarily locked. "
        "Try again in %(minutes)d minute.",
        "Too many failed login attempts: this account is temporarily locked. "
        "Try again in %(minutes)d minutes.",
        minutes,
    ) % {"minutes": minutes}


def lockout_response(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict | None = None,
) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: the login page that was refused, with the lockout message.

    The login view (ours or admin's) has already rendered its page with the
    form; the same page is rendered again with the form's error replaced, so
    the person sees the styled page they were on and what they typed.
    """
    message = lockout_message()
    context = getattr(original_response, "context_data", None) or {}
    form = context.get("form")
    if isinstance(original_response, TemplateResponse) and isinstance(form, BaseForm):
        form._errors = ErrorDict(
            {"__all__": form.error_class([message], error_class="nonfield", renderer=form.renderer)}
        )
        template = original_response.template_name
    else:
        template = "registration/login.html"
        context = {"form": AuthenticationForm(request), "lockout_message": message}
    response = TemplateResponse(
        request, template, context, status=settings.AXES_HTTP_RESPONSE_CODE
    ).render()
    add_never_cache_headers(response)
    return response


@require_POST
@login_required
def session_extend(request: AuthenticatedHttpRequest) -> JsonResponse:
    """ "Stay logged in" in the session dialog: restart the idle clock, stay on the page."""
    session_record_activity(request.session, force=True)
    return JsonResponse(session_clock(request.session).as_dict())


@require_GET
@never_cache
def session_status(request: HttpRequest) -> JsonResponse:
    """Time left, asked by session.js before it warns; not counted as activity.

    Another tab may have kept the session alive meanwhile: the dialog only
    comes if the server agrees the end is near.
    """
    if not request.user.is_authenticated:
        return JsonResponse({"idle_remaining": 0, "absolute_remaining": 0})
    return JsonResponse(session_clock(request.session).as_dict())


class PasswordResetView(auth_views.PasswordResetView):
    """Django's view; the link in the mail starts with SITE_URL like every other
    mail's, never with the request's Host header."""

    def form_valid(self, form: BaseForm) -> HttpResponse:
        self.extra_email_context = {
            "site_url": settings.SITE_URL.rstrip("/"),
            "link_hours": settings.PASSWORD_RESET_TIMEOUT // 3600,
        }
        return super().form_valid(form)


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """Django's view, and a new password also lifts a login lockout.

    Someone locked out by their own mistyping usually resets the password
    next; making them wait out the lockout after that would be pointless.
    Whoever can read the account's mail could reset it anyway.
    """

    def form_valid(self, form: BaseForm) -> HttpResponse:
        response = super().form_valid(form)
        axes_reset(username=form.user.get_username())
        return response
