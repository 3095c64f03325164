"""Issue pages. Thin: parse input, call a selector or service, render.

Every view that takes an issue id starts with ``_get_issue_for_user``, so an
issue the user may not read is a 404 everywhere, fragments included.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    QueryDict,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from agencies.http import AuthenticatedHttpRequest
from core.exports import csv_response
from core.form_services import run_service
from core.forms import add_service_errors, rebound_at_version
from core.pagination import CappedPaginator
from core.storage import STORAGE_ERRORS, log_storage_error
from core.views import SectionedPage, after_change

from . import extensions, rules, selectors, services
from .forms import (
    AttachmentForm,
    CommentForm,
    CooperationAnswerForm,
    CooperationUpdateForm,
    IssueFilterForm,
    IssueForm,
    SavedSearchForm,
    StatusForm,
    normalized_query,
)
from .models import Attachment, Cooperation, CooperationStatus, Issue, SavedSearch

PAGE_SIZE = 25
# A text search counts its matches up to here (see core.pagination): a short
# Korean word cannot use the trigram indexes, and an exact count scans every issue.
SEARCH_COUNT_CAP = 1000
DETAIL_TEMPLATE = "issues/issue_detail.html"


def _get_issue_for_user(
    request: HttpRequest, pk: int, *, allowed: Callable[..., bool] | None = None
) -> Issue:
    """The issue if the user may read it, else 404; with ``allowed``, also 403 unless
    ``allowed(user, issue)``, the rule of what the view is about to do."""
    try:
        issue = selectors.issue_detail(pk, request.user)
    except Issue.DoesNotExist:
        raise Http404 from None
    if allowed is not None and not allowed(request.user, issue):
        raise PermissionDenied
    return issue


def _get_answerable_cooperation(
    request: HttpRequest, pk: int, cooperation_id: int
) -> tuple[Issue, Cooperation]:
    issue = _get_issue_for_user(request, pk)
    cooperation = get_object_or_404(Cooperation, pk=cooperation_id, issue=issue)
    if not rules.can_answer_cooperation(request.user, cooperation):
        raise PermissionDenied
    return issue, cooperation


@login_required
@require_GET
@vary_on_headers("HX-Request")
def issue_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = IssueFilterForm(request.GET)
    filters = form.filters()
    paginator = CappedPaginator(
        selectors.list_pages(user=request.user, filters=filters),
        PAGE_SIZE,
        cap=SEARCH_COUNT_CAP if filters.q else None,
    )
    page = paginator.get_page(request.GET.get("page"))
    page.object_list = selectors.list_rows(page.object_list)
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "form": form,
        "filters": filters,
        "page": page,
        "query": query.urlencode(),
        "export_query": query.urlencode(),
        "today": timezone.localdate(),
        "has_dashboard_filters": any(name in request.GET for name in IssueFilterForm.HIDDEN),
    }
    template = "issues/issue_list.html"
    if request.htmx:
        template += "#results"
    return render(request, template, context)


@login_required
@require_GET
def issue_export(request: AuthenticatedHttpRequest) -> StreamingHttpResponse:
    """The filtered list as CSV, UTF-8 with BOM so Excel opens Korean text."""
    filters = IssueFilterForm(request.GET).filters()
    issues = selectors.with_list_relations(selectors.issue_list(user=request.user, filters=filters))
    header = [
        _("ID"),
        _("Title"),
        _("Lead agency"),
        _("Cooperating agencies"),
        _("Category"),
        _("Priority"),
        _("Status"),
        _("Visibility"),
        _("Due date"),
        _("Filed"),
        _("Updated"),
        _("Reply overdue"),
    ]
    today = timezone.localdate()
    rows = (
        [
            issue.pk,
            issue.title,
            issue.lead_agency.name,
            "; ".join(_cooperation_cell(c, today) for c in issue.listed_cooperations),
            issue.category.name if issue.category else "",
            issue.get_priority_display(),
            issue.get_status_display(),
            issue.get_visibility_display(),
            issue.due_date.isoformat() if issue.due_date else "",
            timezone.localtime(issue.created_at).strftime("%Y-%m-%d %H:%M"),
            timezone.localtime(issue.updated_at).strftime("%Y-%m-%d %H:%M"),
            "; ".join(
                c.agency.name
                for c in issue.listed_cooperations
                if c.status == CooperationStatus.REQUESTED and c.reply_by < today
            ),
        ]
        for issue in issues.iterator(chunk_size=500)
    )
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    return csv_response(header, rows, filename=f"gwangju-hub-issues-{stamp}.csv")


def _cooperation_cell(cooperation: Cooperation, today) -> str:
    """ "기관 (요청됨, 담당 김민준, 회신 기한 2026-12-10)" for one cooperating agency."""
    parts = [cooperation.get_status_display()]
    if cooperation.assignee:
        parts.append(_("in charge: %(name)s") % {"name": cooperation.assignee.display_name})
    parts.append(_("reply by %(date)s") % {"date": cooperation.reply_by.isoformat()})
    if cooperation.status == CooperationStatus.REQUESTED and cooperation.reply_by < today:
        parts.append(_("overdue"))
    return f"{cooperation.agency.name} ({', '.join(parts)})"


@login_required
@require_http_methods(["GET", "POST"])
def issue_create(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = IssueForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        data.pop("version", None)
        try:
            issue = services.issue_create(actor=request.user, **data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        except PermissionDenied:
            form.add_error("lead_agency", _("You may only file issues for your own organization."))
        else:
            messages.success(request, _("The issue was filed."))
            return redirect(issue)
    return render(request, "issues/issue_form.html", {"form": form, "issue": None})


@login_required
@require_http_methods(["GET", "POST"])
def issue_edit(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    issue = _get_issue_for_user(request, pk, allowed=rules.can_edit)
    form = IssueForm(request.POST or None, instance=issue, user=request.user)
    stale = None
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        version = data.pop("version") or 0
        cooperating = data.pop("cooperating_agencies")
        try:
            services.issue_update(
                issue=issue,
                actor=request.user,
                expected_version=version,
                cooperating_agencies=cooperating,
                **data,
            )
        except services.StaleIssueError as exc:
            # Keep every character the user typed; move the form to the new
            # version so that saving again is a deliberate choice.
            stale = exc.current
            form = rebound_at_version(
                IssueForm,
                request.POST,
                stale.version,
                _(
                    "Someone else saved this issue while you were editing it. Your changes are "
                    "kept below but were not saved. Check their changes, then save again."
                ),
                instance=stale,
                user=request.user,
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        except PermissionDenied:
            form.add_error("lead_agency", _("You may not move this issue to that organization."))
        else:
            messages.success(request, _("Your changes were saved."))
            return redirect(issue)
    return render(request, "issues/issue_form.html", {"form": form, "issue": issue, "stale": stale})


@login_required
@require_GET
@vary_on_headers("HX-Request")
def issue_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    issue = _get_issue_for_user(request, pk)
    context = _detail_context(request, issue)
    template = "issues/issue_detail.html"
    if request.htmx and request.GET.get("partial") in ("timeline", "cooperations", "attachments"):
        template += "#" + request.GET["partial"]
    return render(request, template, context)


def _detail_context(request: HttpRequest, issue: Issue, **forms) -> dict:
    user = request.user
    answer_forms = {
        c.pk: forms.get("answer_forms", {}).get(c.pk) or CooperationAnswerForm(prefix=f"c{c.pk}")
        for c in issue.cooperations.all()
        if rules.can_answer_cooperation(user, c)
    }
    update_forms = {
        c.pk: forms.get("update_forms", {}).get(c.pk)
        or CooperationUpdateForm(prefix=f"u{c.pk}", cooperation=c)
        for c in issue.cooperations.all()
        if rules.can_answer_cooperation(user, c)
    }
    return {
        "issue": issue,
        "fragments": [
            {"key": f.key, "url": f.url(issue.pk), "label": f.label} for f in extensions.fragments()
        ],
        "can_edit": rules.can_edit(user, issue),
        "can_comment": rules.can_comment(user, issue),
        "status_form": forms.get("status_form")
        or StatusForm(initial={"status": issue.status, "version": issue.version}),
        "comment_form": forms.get("comment_form") or CommentForm(),
        "attachment_form": forms.get("attachment_form") or AttachmentForm(),
        "answer_forms": answer_forms,
        "update_forms": update_forms,
        "today": timezone.localdate(),
        "status_error": forms.get("status_error"),
        **selectors.follow_state(issue, user),
    }


# The issue page's sections post here; issueChanged: the timeline listens,
# and shows the change just made.
PAGE = SectionedPage(
    DETAIL_TEMPLATE, context=_detail_context, reload=_get_issue_for_user, event="issueChanged"
)


@login_required
@require_POST
def issue_change_status(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    issue = _get_issue_for_user(request, pk, allowed=rules.can_edit)
    form = StatusForm(request.POST)
    if not form.is_valid():
        return PAGE.with_errors(request, issue, "status", status_form=form)
    try:
        services.issue_change_status(
            issue=issue,
            actor=request.user,
            expected_version=form.cleaned_data["version"],
            status=form.cleaned_data["status"],
        )
    except services.StaleIssueError:
        return PAGE.with_errors(
            request,
            issue,
            "status",
            status_form=form,
            status_error=_(
                "Someone else changed this issue in the meantime; the status was not changed. "
                "Reload the page to see the current state."
            ),
        )
    return PAGE.changed(request, issue, "status", _("The status was changed."))


@login_required
@require_POST
def comment_create(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    issue = _get_issue_for_user(request, pk, allowed=rules.can_comment)
    return PAGE.submit(
        request,
        issue,
        "comment-form",
        CommentForm(request.POST),
        lambda data: services.comment_create(issue=issue, actor=request.user, **data),
        _("Your comment was posted."),
        shown_as="comment_form",
    )


@login_required
@require_POST
def cooperation_answer(
    request: AuthenticatedHttpRequest, pk: int, cooperation_id: int
) -> HttpResponse:
    issue, cooperation = _get_answerable_cooperation(request, pk, cooperation_id)
    form = CooperationAnswerForm(request.POST, prefix=f"c{cooperation.pk}")
    if not form.is_valid():
        return PAGE.with_errors(request, issue, "cooperations", answer_forms={cooperation.pk: form})
    services.cooperation_answer(
        cooperation=cooperation,
        actor=request.user,
        status=form.cleaned_data["status"],
        note=form.cleaned_data["note"],
    )
    return PAGE.changed(request, issue, "cooperations", _("Your answer was recorded."))


@login_required
@require_POST
def cooperation_update(
    request: AuthenticatedHttpRequest, pk: int, cooperation_id: int
) -> HttpResponse:
    """The cooperating agency's person in charge and reply deadline."""
    issue, cooperation = _get_answerable_cooperation(request, pk, cooperation_id)
    form = CooperationUpdateForm(request.POST, prefix=f"u{cooperation.pk}", cooperation=cooperation)
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.cooperation_update(
                cooperation=cooperation,
                actor=request.user,
                assignee=data["assignee"],
                reply_by=data["reply_by"],
                expected_assignee_id=data["expected_assignee"],
                expected_reply_by=data["expected_reply_by"],
            )
        except services.StaleCooperationError as exc:
            # Keep what the user chose; move the form to the current values,
            # so saving again is a deliberate choice.
            current = exc.current
            post = request.POST.copy()
            post[form.add_prefix("expected_assignee")] = current.assignee_id or ""
            post[form.add_prefix("expected_reply_by")] = current.reply_by.isoformat()
            form = CooperationUpdateForm(post, prefix=f"u{cooperation.pk}", cooperation=current)
            form.is_valid()
            form.add_error(
                None,
                _(
                    "Someone else changed the person in charge or the deadline in the meantime; "
                    "nothing was saved. Check the current values, then save again."
                ),
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
    if form.errors:
        return PAGE.with_errors(request, issue, "cooperations", update_forms={cooperation.pk: form})
    return PAGE.changed(
        request, issue, "cooperations", _("The person in charge and deadline were saved.")
    )


@login_required
@require_POST
def attachment_upload(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    issue = _get_issue_for_user(request, pk, allowed=rules.can_attach)
    return PAGE.submit(
        request,
        issue,
        "attachments",
        AttachmentForm(request.POST, request.FILES),
        lambda data: services.attachment_add(
            issue=issue, actor=request.user, uploaded_file=data["file"]
        ),
        _("The file was attached."),
        shown_as="attachment_form",
    )


@login_required
@require_GET
def attachment_download(
    request: AuthenticatedHttpRequest, pk: int, attachment_id: int
) -> HttpResponse:
    """The file, after the same permission check as its issue page.

    Streamed through this response rather than redirected to a presigned URL of
    the object store (the "why" is the design decision of issue 11):

    - the permission check is made on every download and cannot be replayed: a
      presigned URL is a bearer token that keeps working for anyone who gets it
      (browser history, a forwarded link, a proxy log) until it expires, even
      after the issue is restricted or the user leaves the agency;
    - our headers travel with the bytes: ``Content-Disposition`` with the Korean
      original name (RFC 6266/5987), the content type checked at upload,
      ``nosniff``, ``no-store`` and the security headers our middleware adds;
      the store answers with its own headers, and stores differ in which
      response overrides they honour;
    - the store need not be reachable from users' browsers (MinIO stays on the
      internal network), and one URL serves either storage backend.

    The cost is a web worker busy for the transfer of at most 20 MB
    (``MAX_ATTACHMENT_SIZE``) from a store on the same network; the storage
    backend spools it to a temporary file past 1 MiB (settings.py).
    """
    issue = _get_issue_for_user(request, pk)
    attachment = get_object_or_404(Attachment, pk=attachment_id, issue=issue)
    try:
        handle = attachment.file.open("rb")
        # FileResponse measures the file (seek/tell), which fetches it from an
        # object store: a store that fails does so here, not mid-stream.
        response = FileResponse(
            handle,
            as_attachment=True,
            filename=attachment.original_name,
            content_type=attachment.content_type,
        )
    except FileNotFoundError:
        raise Http404 from None
    except STORAGE_ERRORS as exc:
        log_storage_error("read", attachment.file.name, exc)
        with contextlib.suppress(*STORAGE_ERRORS):
            attachment.file.close()  # a half-fetched object holds a temporary file
        response = render(
            request,
            "issues/attachment_unavailable.html",
            {"issue": issue, "attachment": attachment},
            status=503,
        )
        response["Retry-After"] = "60"
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
@require_POST
def issue_follow(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Follow (``action=follow``) or unfollow (``action=unfollow``) an issue one may read."""
    issue = _get_issue_for_user(request, pk)
    if request.POST.get("action") == "unfollow":
        services.issue_unfollow(user=request.user, issue=issue)
        message = _("You no longer follow this issue.")
    else:
        services.issue_follow(user=request.user, issue=issue)
        message = _(
            "You follow this issue now: you will hear of its comments, status changes "
            "and decisions."
        )
    return after_change(
        request,
        message=message,
        page_url=issue.get_absolute_url(),
        template=DETAIL_TEMPLATE,
        partial="follow",
        context=lambda: {"issue": issue, **selectors.follow_state(issue, request.user)},
    )


# --- saved searches (저장한 검색) --------------------------------------------------------

SAVED_SEARCHES_TEMPLATE = "issues/partials/saved_searches.html"


def _posted_query(request: HttpRequest) -> str:
    """The list filters a saved-search form was sent from, normalized.

    With htmx the filter form's fields come along (``hx-include``): the
    filters as they are now, even after in-place filtering. Without it, the
    ``query`` the page was rendered with.
    """
    source = request.POST if "q" in request.POST else QueryDict(request.POST.get("query", ""))
    return normalized_query(source)


def _saved_searches_answer(
    request: HttpRequest,
    query: str,
    *,
    flash: str = "",
    form: SavedSearchForm | None = None,
    is_save_form: bool = False,
) -> HttpResponse:
    """The box again (htmx), or back to the list with a message (POST/redirect/GET)."""
    error = " ".join(e for errors in form.errors.values() for e in errors) if form else ""
    if not request.htmx:
        if error:
            messages.error(request, error)
        else:
            messages.success(request, flash)
        url = reverse("issues:list")
        return redirect(f"{url}?{query}" if query else url)
    context = {
        "searches": selectors.saved_searches(request.user),
        "query": query,
        # The save form keeps what was typed when saving failed.
        "save_form": form if is_save_form else SavedSearchForm(auto_id="saved-search-%s"),
        "flash": flash,
        "error": "" if is_save_form else error,
    }
    return render(request, SAVED_SEARCHES_TEMPLATE, context)


def _get_saved_search_for_user(request: HttpRequest, pk: int) -> SavedSearch:
    # Someone else's saved search does not exist for this user: 404.
    return get_object_or_404(SavedSearch, pk=pk, user=request.user)


@login_required
@require_POST
def saved_search_create(request: AuthenticatedHttpRequest) -> HttpResponse:
    query = _posted_query(request)
    form = SavedSearchForm(request.POST, auto_id="saved-search-%s")
    if run_service(
        form,
        lambda data: services.saved_search_create(user=request.user, query_string=query, **data),
    ):
        return _saved_searches_answer(request, query, flash=_("The search was saved."))
    return _saved_searches_answer(request, query, form=form, is_save_form=True)


@login_required
@require_POST
def saved_search_update(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    search = _get_saved_search_for_user(request, pk)
    query = _posted_query(request)
    form = SavedSearchForm(request.POST)
    if run_service(
        form,
        lambda data: services.saved_search_update(search=search, user=request.user, **data),
    ):
        return _saved_searches_answer(request, query, flash=_("The saved search was changed."))
    return _saved_searches_answer(request, query, form=form)


@login_required
@require_POST
def saved_search_delete(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    search = _get_saved_search_for_user(request, pk)
    services.saved_search_delete(search=search, user=request.user)
    return _saved_searches_answer(
        request, _posted_query(request), flash=_("The saved search was deleted.")
    )
