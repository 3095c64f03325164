"""Pages of the top floor: those that join several apps."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from meetings.rules import dashboard_scope


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """The Mayor's office (and administrators) start on the dashboard, everyone else
    on the issue list (CONTRACT.md). Heads and vice-heads reach their agency's
    dashboard from the menu."""
    scope = dashboard_scope(request.user)
    if scope is not None and scope.agency is None:
        return redirect("dashboard")
    return redirect("issues:list")
