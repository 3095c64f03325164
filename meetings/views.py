"""Meeting and performance pages. Thin: parse input, call a selector or service, render.

Every view that takes a meeting id starts with ``_get_meeting_for_user``, so a
meeting the user's agency is not invited to is a 404 everywhere. Agenda
actions answer htmx with the ``agenda`` fragment and everyone else with
POST/redirect/GET.
"""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from agencies.http import AuthenticatedHttpRequest
from agencies.models import Agency
from core.exports import csv_response, xlsx_response
from core.form_services import run_service
from core.forms import add_service_errors, rebound_at_version
from core.views import SectionedPage, page_or_partial
from issues.models import Issue

from . import figures, ics, rules, selectors, services
from .forms import (
    PERIODS,
    AgendaDecisionForm,
    AgendaItemAddForm,
    AgendaProposalForm,
    MeetingCancelForm,
    MinutesForm,
    PerformanceReportForm,
    Period,
    dashboard_period,
)
from .models import AgendaItem, AgendaItemStatus, CalendarToken, Meeting, PerformanceReport

PAST_PAGE_SIZE = 20
DETAIL_TEMPLATE = "meetings/meeting_detail.html"
# Years the performance pages answer for; anything else is a 404, not an empty page.
MIN_YEAR, MAX_YEAR = 2000, 2100
# How far back the calendar feed reaches; calendars keep what they already have.
FEED_HISTORY_DAYS = 400
_CALENDAR_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,64}")


def _get_meeting_for_user(request: HttpRequest, pk: int) -> Meeting:
    try:
        return selectors.meeting_detail(pk, request.user)
    except Meeting.DoesNotExist:
        raise Http404 from None


def _get_managed_meeting(request: HttpRequest, pk: int) -> Meeting:
    meeting = _get_meeting_for_user(request, pk)
    if not rules.can_manage_meeting(request.user, meeting):
        raise PermissionDenied
    return meeting


def _get_managed_item(request: HttpRequest, pk: int, item_id: int) -> tuple[Meeting, AgendaItem]:
    meeting = _get_managed_meeting(request, pk)
    return meeting, get_object_or_404(AgendaItem, pk=item_id, meeting=meeting)


# --- /meetings/ -----------------------------------------------------------------


def calendar_context(request: HttpRequest) -> dict:
    """The calendar feed box's context; /accounts/settings/ shows the same box."""
    token = CalendarToken.objects.filter(user=request.user).first()
    feed_url = None
    if token is not None:
        feed_url = (
            request.build_absolute_uri(reverse("meetings:calendar")) + f"?token={token.token}"
        )
    return {"feed_url": feed_url}


@login_required
@require_GET
def meeting_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    upcoming, past = selectors.meeting_list(request.user)
    context = {
        "upcoming": upcoming,
        "past_page": Paginator(past, PAST_PAGE_SIZE).get_page(request.GET.get("page")),
        "today": timezone.localdate(),
        **calendar_context(request),
    }
    return render(request, "meetings/meeting_list.html", context)


@login_required
@require_POST
def calendar_token(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Create or replace the personal feed address (``rotate``), or switch it off (``revoke``)."""
    action = request.POST.get("action")
    if action == "rotate":
        services.calendar_token_rotate(user=request.user)
        message = _("Your calendar address was renewed; the old one no longer works.")
    elif action == "revoke":
        services.calendar_token_revoke(user=request.user)
        message = _("Your calendar address was switched off.")
    else:
        return HttpResponseBadRequest()
    # The box is also on /accounts/settings/, which asks to come back to itself.
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts=None) or not back.startswith("/"):
        back = ""
    if not request.htmx:
        messages.success(request, message)
        return redirect((back or reverse("meetings:list")) + "#calendar-feed")
    context = {**calendar_context(request), "flash": message, "next": back}
    return render(request, "meetings/meeting_list.html#calendar-feed", context)


@require_GET
def calendar_feed(request: HttpRequest) -> HttpResponse:
    """The token's owner's meetings as iCalendar; calendar apps cannot log in."""
    given = request.GET.get("token", "")
    # Tokens are URL-safe base64 (secrets.token_urlsafe); anything else, NUL
    # included, is no token at all and never reaches the database.
    if not _CALENDAR_TOKEN.fullmatch(given):
        raise Http404
    token = (
        CalendarToken.objects.select_related("user")
        .filter(token=given, user__is_active=True)
        .first()
    )
    if token is None:
        raise Http404
    user = token.user
    since = timezone.now() - timedelta(days=FEED_HISTORY_DAYS)
    meetings = Meeting.objects.for_user(user).filter(starts_at__gte=since).order_by("starts_at")
    with translation.override(user.preferred_language or "ko"):
        body = ics.calendar(
            meetings,
            name=_("Gwangju Hub meetings"),
            url_for=lambda meeting: request.build_absolute_uri(meeting.get_absolute_url()),
        )
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="gwangju-hub-meetings.ics"'
    # The token is a login: like every signed-in answer, nothing of it is kept
    # in a browser's or proxy's cache (calendar apps fetch it afresh anyway).
    response["Cache-Control"] = "private, no-store"
    response["X-Robots-Tag"] = "noindex"
    return response


# --- /meetings/<id>/ ------------------------------------------------------------


def _detail_context(request: HttpRequest, meeting: Meeting, **forms) -> dict:
    user = request.user
    can_manage = rules.can_manage_meeting(user, meeting)
    items = list(meeting.agenda_items.all())
    context = {
        "meeting": meeting,
        "items": items,
        "can_manage": can_manage,
        "open_for_proposals": rules.is_open_for_proposals(meeting),
        "may_propose": user.role in rules.PROPOSING_ROLES,
    }
    if can_manage:
        given = forms.get("decision_forms", {})
        # Started and not cancelled: when decisions, and minutes, can be recorded.
        started = rules.is_open_for_decisions(meeting)
        context |= {
            "decision_forms": {
                item.pk: given.get(item.pk) or AgendaDecisionForm(item=item)
                for item in items
                # A refused form is shown whatever the reason, so its message is seen.
                if item.pk in given or (started and item.status == AgendaItemStatus.ACCEPTED)
            },
            "open_for_decisions": started,
            "add_form": forms.get("add_form") or AgendaItemAddForm(),
            "minutes_form": forms.get("minutes_form")
            or MinutesForm(
                meeting=meeting,
                initial={
                    "minutes": meeting.minutes,
                    "attended_agencies": [a.pk for a in meeting.attended_agencies.all()],
                },
            ),
            "cancel_form": forms.get("cancel_form") or MeetingCancelForm(),
            "can_record_minutes": started,
            "can_cancel": rules.is_open_for_proposals(meeting),
        }
    return context


@login_required
@require_GET
@vary_on_headers("HX-Request")
def meeting_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    meeting = _get_meeting_for_user(request, pk)
    template = DETAIL_TEMPLATE
    if request.htmx and request.GET.get("partial") in ("agenda", "minutes"):
        template += "#" + request.GET["partial"]
    return render(request, template, _detail_context(request, meeting))


@login_required
@require_GET
def meeting_print(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """The agenda on A4: accepted items only, in order."""
    meeting = _get_meeting_for_user(request, pk)
    items = [i for i in meeting.agenda_items.all() if i.status == AgendaItemStatus.ACCEPTED]
    return render(
        request,
        "meetings/meeting_print.html",
        {"meeting": meeting, "items": items, "printed_at": timezone.now()},
    )


# The meeting page's sections post here; without htmx, back to the section.
PAGE = SectionedPage(
    DETAIL_TEMPLATE, context=_detail_context, reload=_get_meeting_for_user, to_section=True
)


@login_required
@require_POST
def agenda_add(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    meeting = _get_managed_meeting(request, pk)
    form = AgendaItemAddForm(request.POST)
    return PAGE.submit(
        request,
        meeting,
        "agenda",
        form,
        lambda data: services.agenda_item_add(meeting=meeting, actor=request.user, **data),
        _("The item was added to the agenda."),
        shown_as="add_form",
    )


# An item's one-click status changes (urls.py names the ``change``): its service, its message.
AGENDA_STATUS_CHANGES = {
    "accept": (services.agenda_item_accept, gettext_lazy("The item was accepted.")),
    "remove": (services.agenda_item_remove, gettext_lazy("The item was removed from the agenda.")),
}


@login_required
@require_POST
def agenda_status(
    request: AuthenticatedHttpRequest, pk: int, item_id: int, change: str
) -> HttpResponse:
    meeting, item = _get_managed_item(request, pk, item_id)
    service, message = AGENDA_STATUS_CHANGES[change]
    service(item=item, actor=request.user)
    return PAGE.changed(request, meeting, "agenda", str(message))


@login_required
@require_POST
def agenda_move(request: AuthenticatedHttpRequest, pk: int, item_id: int) -> HttpResponse:
    meeting, item = _get_managed_item(request, pk, item_id)
    direction = request.POST.get("direction")
    if direction not in ("up", "down"):
        return HttpResponseBadRequest()
    services.agenda_item_move(item=item, direction=direction, actor=request.user)
    return PAGE.changed(request, meeting, "agenda", _("The agenda order was changed."))


@login_required
@require_POST
def agenda_decide(request: AuthenticatedHttpRequest, pk: int, item_id: int) -> HttpResponse:
    meeting, item = _get_managed_item(request, pk, item_id)
    form = AgendaDecisionForm(request.POST, item=item)
    return PAGE.submit(
        request,
        meeting,
        "agenda",
        form,
        lambda data: services.agenda_item_decide(item=item, actor=request.user, **data),
        _("The decision was recorded."),
        shown_as="decision_forms",
        among=item.pk,
    )


@login_required
@require_POST
def meeting_minutes(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    meeting = _get_managed_meeting(request, pk)
    form = MinutesForm(request.POST, meeting=meeting)
    return PAGE.submit(
        request,
        meeting,
        "minutes",
        form,
        lambda data: services.meeting_record_minutes(meeting=meeting, actor=request.user, **data),
        _("The minutes were saved."),
        shown_as="minutes_form",
    )


@login_required
@require_POST
def meeting_cancel(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    meeting = _get_managed_meeting(request, pk)
    form = MeetingCancelForm(request.POST)
    if not form.is_valid():
        return PAGE.with_errors(request, meeting, "cancel", cancel_form=form)
    try:
        services.meeting_cancel(meeting=meeting, actor=request.user)
    except ValidationError as exc:
        # Already cancelled or begun: the form is gone from the page, so say it on top.
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("The meeting was cancelled."))
    return redirect(meeting)


# --- The issue page's agenda box -------------------------------------------------


def issue_agenda_context(issue: Issue, user, *, form=None, flash: str = "") -> dict:
    """What ``meetings/partials/issue_agenda.html`` shows: one query, two for proposers."""
    context = {
        "issue": issue,
        "agenda_items": selectors.issue_agenda_items(issue, user),
        "may_propose": rules.may_propose_for(user, issue),
        "proposal_form": form,
        "flash": flash,
    }
    if context["may_propose"]:
        context["open_meetings"] = list(selectors.meetings_open_for_proposal(issue, user))
    return context


@login_required
@require_GET
@vary_on_headers("HX-Request")
def issue_agenda(request: AuthenticatedHttpRequest, issue_id: int) -> HttpResponse:
    """The issue page's "On the agenda" box: loaded into the page by htmx, or a page of
    its own for a browser without JavaScript (the link the box stands in for)."""
    issue = _visible_or_404(Issue.objects.visible_to(request.user), str(issue_id))
    context = issue_agenda_context(issue, request.user)
    if request.htmx:
        return render(request, "meetings/partials/issue_agenda.html", context)
    return render(request, "meetings/issue_agenda_page.html", context)


@login_required
@require_POST
def agenda_propose(request: AuthenticatedHttpRequest) -> HttpResponse:
    """A head or vice-head puts their agency's issue on an upcoming meeting's agenda."""
    user = request.user
    issue = _visible_or_404(Issue.objects.visible_to(user), request.POST.get("issue"))
    _visible_or_404(Meeting.objects.for_user(user), request.POST.get("meeting"))
    if not rules.may_propose_for(user, issue):
        raise PermissionDenied
    form = AgendaProposalForm(
        request.POST, meetings=selectors.meetings_open_for_proposal(issue, user)
    )
    if run_service(
        form,
        lambda data: services.agenda_item_propose(meeting=data["meeting"], issue=issue, actor=user),
    ):
        message = _("The issue was proposed for the agenda; the Mayor's office will review it.")
        if not request.htmx:
            messages.success(request, message)
            return redirect(issue)
        context = issue_agenda_context(issue, user, flash=message)
        return render(request, "meetings/partials/issue_agenda.html", context)
    if not request.htmx:
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect(issue)
    context = issue_agenda_context(issue, user, form=form)
    return render(request, "meetings/partials/issue_agenda.html", context)


def _visible_or_404(queryset, pk: str | None):
    try:
        return queryset.get(pk=int(pk or ""))
    except (ValueError, queryset.model.DoesNotExist):
        raise Http404 from None


# --- /performance/<year>/ -------------------------------------------------------


def _check_year(year: int) -> None:
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise Http404


@login_required
@require_GET
def performance_overview(request: AuthenticatedHttpRequest, year: int) -> HttpResponse:
    """Every organization: report submitted or not, and its computed issue figures."""
    _check_year(year)
    rows = selectors.performance_statistics(year, viewer=request.user)
    for row in rows:
        row.can_view_report = rules.can_view_report(request.user, row.report, row.agency)
    context = {
        "year": year,
        "rows": rows,
        "submitted": sum(1 for row in rows if row.report and row.report.is_submitted),
        "cutoff": selectors.overdue_cutoff(year),
    }
    return render(request, "meetings/performance_overview.html", context)


@login_required
@require_GET
def performance_print(request: AuthenticatedHttpRequest, year: int) -> HttpResponse:
    """The briefing book on A4: one organization per page, submitted reports only."""
    _check_year(year)
    context = {
        "year": year,
        "rows": selectors.performance_statistics(year, viewer=request.user),
        "cutoff": selectors.overdue_cutoff(year),
        "printed_at": timezone.now(),
    }
    return render(request, "meetings/performance_print.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def performance_report(
    request: AuthenticatedHttpRequest, year: int, agency_slug: str
) -> HttpResponse:
    _check_year(year)
    user = request.user
    agency = get_object_or_404(Agency.objects.public_organizations(), slug=agency_slug)
    report = PerformanceReport.objects.filter(agency=agency, year=year).first()
    can_edit = rules.can_edit_report(user, agency, year, report)
    if request.method == "POST" and not can_edit:
        raise PermissionDenied
    form = PerformanceReportForm(request.POST or None, report=report) if can_edit else None
    stale = False
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        submit = request.POST.get("action") == "submit"
        try:
            report = services.performance_report_save(
                agency=agency,
                year=year,
                data=data,
                actor=user,
                expected_version=data.pop("version") or 0,
                submit=submit,
            )
        except services.StaleReportError as exc:
            # Keep what the user typed; move the form to the new version so
            # that saving again is a deliberate choice.
            stale, report = True, exc.current
            form = rebound_at_version(
                PerformanceReportForm,
                request.POST,
                report.version if report else 0,
                _(
                    "Someone else saved this report while you were editing it. Your text is "
                    "kept below but was not saved. Check their version, then save again."
                ),
                report=report,
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(
                request,
                _("The report was submitted.") if submit else _("The draft was saved."),
            )
            return redirect("performance:report", year=year, agency_slug=agency.slug)
    statistics = selectors.performance_statistics(
        year, viewer=user, agencies=Agency.objects.filter(pk=agency.pk)
    )[0]
    context = {
        "year": year,
        "agency": agency,
        "report": report,
        "row": statistics,
        "cutoff": selectors.overdue_cutoff(year),
        "can_view_report": rules.can_view_report(user, report, agency),
        "can_submit": rules.can_submit_report(user, agency, year),
        "form": form,
        "stale": stale,
    }
    return render(request, "meetings/performance_report.html", context)


# --- /dashboard/ ----------------------------------------------------------------

# The agency table's columns, on the page and in the spreadsheets.
AGENCY_COLUMNS = [
    ("agency", gettext_lazy("Organization")),
    ("open", gettext_lazy("Open")),
    ("overdue", gettext_lazy("Overdue")),
    ("waiting", gettext_lazy("Requests waiting for their answer")),
    ("oldest_waiting_days", gettext_lazy("Oldest request (days)")),
    ("reply_overdue", gettext_lazy("Past the reply deadline")),
    ("answer_median_days", gettext_lazy("Median days to answer")),
    ("escalations", gettext_lazy("Issues escalated in the period")),
    ("resolved", gettext_lazy("Resolved in the period")),
    ("median_days", gettext_lazy("Median days to resolve")),
]


def _sort_headers(period: Period, sort: str) -> list[dict]:
    """The agency table's number columns: a first click sorts descending, the next ascending."""
    headers = []
    for key, label in AGENCY_COLUMNS[1:]:
        state = {f"-{key}": "descending", key: "ascending"}.get(sort, "none")
        next_sort = key if state == "descending" else f"-{key}"
        url = "?" + urlencode(period.query | {"sort": next_sort})
        headers.append({"label": label, "aria_sort": state, "url": url})
    return headers


def _dashboard_figures(
    request: AuthenticatedHttpRequest, scope: Agency | None
) -> tuple[Period, list[str], dict]:
    today = timezone.localdate()
    period, errors = dashboard_period(request.GET, today)
    found = figures.dashboard_figures(viewer=request.user, scope=scope, period=period, today=today)
    return period, errors, found


@login_required
@require_GET
@vary_on_headers("HX-Request")
def dashboard(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Every organization at a glance (the Mayor's office), or one's own (a head)."""
    allowed = rules.dashboard_scope(request.user)
    if allowed is None:
        return redirect("issues:list")
    period, errors, found = _dashboard_figures(request, allowed.agency)
    sort = request.GET.get("sort", "")
    context = found | {
        "scope": allowed.agency,
        "period": period,
        "periods": PERIODS,
        "errors": errors,
        "rows": figures.sorted_rows(found["rows"], sort),
        "sort": sort,
        "sort_headers": _sort_headers(period, sort),
    }
    return page_or_partial(request, "meetings/dashboard.html", "figures", context)


def _export_rows(rows: list[figures.AgencyRow]):
    for row in rows:
        yield [
            row.agency.name,
            row.open,
            row.overdue,
            row.waiting,
            row.oldest_waiting_days if row.oldest_waiting_days is not None else "",
            row.reply_overdue,
            round(row.answer_median_days, 1) if row.answer_median_days is not None else "",
            row.escalations,
            row.resolved,
            round(row.median_days, 1) if row.median_days is not None else "",
        ]


@login_required
@require_GET
def dashboard_export(request: AuthenticatedHttpRequest, fmt: str) -> HttpResponse:
    """The agency table as CSV (UTF-8 with BOM) or XLSX, for the same period."""
    if fmt not in ("csv", "xlsx"):
        raise Http404
    allowed = rules.dashboard_scope(request.user)
    if allowed is None:
        return redirect("issues:list")
    period, _errors, found = _dashboard_figures(request, allowed.agency)
    header = [str(label) for _key, label in AGENCY_COLUMNS]
    name = f"gwangju-hub-agencies-{period.start:%Y%m%d}-{period.end:%Y%m%d}"
    rows = _export_rows(found["rows"])
    if fmt == "xlsx":
        return xlsx_response(
            header,
            rows,
            filename=f"{name}.xlsx",
            sheet_title=f"{period.start:%Y-%m-%d}~{period.end:%Y-%m-%d}",
            column_widths={"A": 40},
        )
    return csv_response(header, rows, filename=f"{name}.csv")
