from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from . import health


@require_GET
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when the database and broker answer, else 503 naming what is down.

    Answers within a few seconds whatever is down or hung (see agencies.health).
    """
    problems = {"database": health.check_database()}
    problems |= health.run_checks({"broker": health.check_broker})
    body = {name: ("ok" if problem is None else "down") for name, problem in problems.items()}
    errors = {name: problem for name, problem in problems.items() if problem}
    if errors:
        body["errors"] = errors
    return JsonResponse(body, status=503 if errors else 200)


@require_POST
def set_language(request: HttpRequest) -> HttpResponse:
    """Switch the interface language, and remember it for a signed-in user.

    Django's own ``set_language`` only sets a cookie; saving the preference
    makes the choice follow the user to another browser, and to e-mails.
    """
    language = request.POST.get("language", "")
    next_url = request.POST.get("next", "/")
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = "/"
    response = HttpResponseRedirect(next_url)
    if language in dict(settings.LANGUAGES):
        response.set_cookie(
            settings.LANGUAGE_COOKIE_NAME,
            language,
            max_age=settings.LANGUAGE_COOKIE_AGE,
            samesite="Lax",
            secure=settings.SESSION_COOKIE_SECURE,
        )
        if request.user.is_authenticated and request.user.preferred_language != language:
            request.user.preferred_language = language
            request.user.save(update_fields=["preferred_language"])
    return response
