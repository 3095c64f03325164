"""The Mayor's office dashboard: every organization at a glance."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from agencies.models import Agency, Role


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    if request.user.role == Role.STAFF:
        return redirect("issues:list")
    agencies = Agency.objects.active().public_organizations()
    if request.user.role != Role.MAYOR_OFFICE:
        agencies = agencies.filter(pk=request.user.agency_id)
    return render(request, "meetings/dashboard.html", {"agencies": agencies})
