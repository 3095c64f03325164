"""Pages of the top floor: those that join several apps."""

import logging
from time import monotonic

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from agencies.http import AuthenticatedHttpRequest
from core import health
from meetings.rules import dashboard_scope

from . import outbox

logger = logging.getLogger(__name__)


@login_required
def home(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The Mayor's office (and administrators) start on the dashboard, everyone else
    on the issue list (CONTRACT.md). Heads and vice-heads reach their agency's
    dashboard from the menu."""
    scope = dashboard_scope(request.user)
    if scope is not None and scope.agency is None:
        return redirect("dashboard")
    return redirect("issues:list")


# The last outbox answer of this process: (monotonic() when asked, answer).
_outbox_answer: dict[str, tuple[float, tuple[str, dict]]] = {}


def _outbox_check() -> tuple[str, dict]:
    """outbox.check(), reused for OUTBOX_CHECK_SECONDS by this process.

    The check asks every outbox's table (about 10 ms, most of a probe), and a
    load balancer and a monitor may each poll every second or two; "late"
    means minutes late, so an answer a few seconds old says the same.
    """
    seconds = settings.OUTBOX_CHECK_SECONDS
    now = monotonic()
    last = _outbox_answer.get("check")
    if seconds and last is not None and now - last[0] < seconds:
        return last[1]
    answer = outbox.check()
    _outbox_answer["check"] = (now, answer)
    return answer


@require_GET
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when the database and broker answer and the outbox moves; else 503 naming why.

    Answers within a few seconds whatever is down or hung (see core.health).
    The outbox is "late" when the oldest due reminder or notification e-mail
    has waited more than OUTBOX_LATE_MINUTES: the worker, beat or mail
    server has stopped, and people are not being told.
    """
    problems = {"database": health.check_database()}
    problems |= health.run_checks({"broker": health.check_broker})
    body = {name: ("ok" if problem is None else "down") for name, problem in problems.items()}
    errors = {name: problem for name, problem in problems.items() if problem}
    if problems["database"] is None:
        try:
            body["outbox"], body["outbox_backlog"] = _outbox_check()
        except Exception as exc:  # noqa: BLE001 - a probe answers, whatever broke
            logger.exception("the outbox check failed")
            body["outbox"] = "unknown"
            errors["outbox"] = type(exc).__name__
        if body["outbox"] == "late":
            due, age = body["outbox_backlog"]["due"], body["outbox_backlog"]["oldest_age_seconds"]
            errors["outbox"] = f"{due} due, the oldest waiting {age // 60} min"
    else:
        body["outbox"] = "unknown"  # it lives in the database
    if errors:
        body["errors"] = errors
    return JsonResponse(body, status=503 if errors else 200)
