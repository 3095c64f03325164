"""Request size limits and control characters: readable refusals, never a 500, nothing typed lost.

core.middleware.RequestLimitsMiddleware refuses oversize bodies (413) and
control characters in paths and query strings (400) from the headers alone;
core.forms.SafeInputMixin turns control characters in form fields into
a form error that keeps the rest of the input.
"""

import pytest
from django import forms
from django.conf import settings
from django.urls import reverse

from issues import services
from issues.filetypes import MAX_ATTACHMENT_SIZE
from issues.forms import CommentForm, CooperationAnswerForm, IssueForm
from issues.models import Attachment, Comment, Issue
from meetings.forms import AgendaDecisionForm, AgendaItemAddForm, MinutesForm, PerformanceReportForm
from tests.issues.samples import pdf_bytes, uploaded

pytestmark = pytest.mark.django_db


class _UnreadableBody:
    """A request body that fails the test if anything reads it."""

    def read(self, *args):
        raise AssertionError("the body of a refused request was read")

    readline = read


def _oversize_post(client, url, **extra):
    return client.generic(
        "POST",
        url,
        CONTENT_TYPE="multipart/form-data; boundary=xyz",
        CONTENT_LENGTH=str(200 * 1024 * 1024),
        **{"wsgi.input": _UnreadableBody()},
        **extra,
    )


@pytest.fixture
def open_issue(alice, bob):
    return services.issue_create(
        actor=alice,
        title="셔틀버스 공동 운영",
        lead_agency=alice.agency,
        cooperating_agencies=[bob.agency],
    )


def _issue_form(lead, **overrides) -> dict:
    return {
        "title": "공동 채용 박람회",
        "description": "",
        "lead_agency": lead.pk,
        "priority": "normal",
        "visibility": "all",
        **overrides,
    }


# --- Size ----------------------------------------------------------------------


def test_a_200_mb_upload_is_refused_before_its_body_is_read(client, alice, open_issue):
    client.force_login(alice)

    response = _oversize_post(client, reverse("issues:attachment_upload", args=[open_issue.pk]))

    assert response.status_code == 413
    page = response.content.decode()
    assert "보낸 내용이 너무 큽니다" in page and "20MB" in page
    assert "css/app.css" in page  # the site's look, not a bare error
    assert not Attachment.objects.exists()


def test_the_413_page_speaks_english_too(client, alice, open_issue):
    client.force_login(alice)

    response = _oversize_post(
        client,
        reverse("issues:attachment_upload", args=[open_issue.pk]),
        HTTP_ACCEPT_LANGUAGE="en",
    )

    assert "What you sent is too large" in response.content.decode()


def test_an_htmx_upload_over_the_limit_gets_a_413_for_the_page_to_announce(
    client, alice, open_issue
):
    client.force_login(alice)

    response = _oversize_post(
        client, reverse("issues:attachment_upload", args=[open_issue.pk]), HTTP_HX_REQUEST="true"
    )

    # htmx swaps nothing on a 4xx; static/js/app.js fills #htmx-error (tests/browser/test_csp.py).
    assert response.status_code == 413


def test_an_attachment_of_the_full_20_mb_still_fits_under_the_limit(
    client, alice, open_issue, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    client.force_login(alice)
    head = pdf_bytes()
    largest = uploaded("보고서.pdf", head + b" " * (MAX_ATTACHMENT_SIZE - len(head)))

    response = client.post(
        reverse("issues:attachment_upload", args=[open_issue.pk]), {"file": largest}
    )

    assert response.status_code == 302
    assert Attachment.objects.get().size == MAX_ATTACHMENT_SIZE


def test_the_limits_fit_together():
    # A full attachment plus the other fields passes the middleware; Django's own
    # in-memory cap never refuses with a bare 400 what the middleware let through.
    assert settings.REQUEST_BODY_MAX_BYTES >= MAX_ATTACHMENT_SIZE + 512 * 1024
    assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE >= settings.REQUEST_BODY_MAX_BYTES


def test_a_2_000_000_character_description_gets_a_form_error_and_is_kept(client, alice):
    client.force_login(alice)
    description = "가" * 2_000_000  # 18 MB once URL-encoded

    response = client.post(
        reverse("issues:create"), _issue_form(alice.agency, description=description)
    )

    assert response.status_code == 200
    assert not Issue.objects.exists()
    form = response.context["form"]
    assert list(form.errors) == ["description"]
    assert "20000" in form.errors["description"][0]
    assert form["description"].value() == description
    assert description in response.content.decode()


def test_an_over_long_comment_is_reported_next_to_the_field_and_kept(client, bob, open_issue):
    client.force_login(bob)
    body = "댓글" * 6_000

    response = client.post(
        reverse("issues:comment", args=[open_issue.pk]), {"body": body}, HTTP_HX_REQUEST="true"
    )

    page = response.content.decode()
    assert response.status_code == 200
    assert 'id="id_body_error"' in page and "10000" in page
    assert body in page
    assert not Comment.objects.exists()


@pytest.mark.parametrize(
    "form_class",
    [
        IssueForm,
        CommentForm,
        CooperationAnswerForm,
        AgendaItemAddForm,
        AgendaDecisionForm,
        MinutesForm,
        PerformanceReportForm,
    ],
)
def test_every_text_field_of_the_site_has_a_maximum_length(form_class):
    fields = form_class.base_fields
    if form_class is IssueForm:
        fields = {**fields, **forms.fields_for_model(form_class._meta.model, ["title"])}
    unbounded = [
        name
        for name, field in fields.items()
        if type(field) is forms.CharField and field.max_length is None
    ]
    assert unbounded == []


# --- Control characters ---------------------------------------------------------


def test_a_nul_calendar_token_is_a_400_not_a_500(client):
    response = client.get("/meetings/calendar.ics?token=%00")

    assert response.status_code == 400
    assert "이해할 수 없습니다" in response.content.decode()


def test_the_calendar_feed_itself_refuses_a_token_that_cannot_be_one(client, settings):
    # Without the middleware (defence in depth): no lookup with a NUL, just 404.
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if "RequestLimits" not in m]
    for token in ("\x00", "a b", "x" * 65, ""):
        assert client.get(reverse("meetings:calendar"), {"token": token}).status_code == 404


def test_a_nul_in_an_admin_list_filter_is_a_400_not_a_500(client, superuser):
    client.force_login(superuser)

    response = client.get(reverse("admin:issues_issue_changelist") + "?status__exact=%00")

    assert response.status_code == 400


@pytest.mark.parametrize(
    "url",
    ["/issues/%00/", "/issues/?q=%01", "/issues/?agency=a%00", "/dashboard/agencies.%00csv"],
)
def test_control_characters_in_paths_and_query_strings_are_a_400(client, alice, url):
    client.force_login(alice)

    assert client.get(url).status_code == 400


def test_control_characters_in_a_form_are_an_error_and_the_rest_is_kept(client, alice, bob):
    client.force_login(alice)

    response = client.post(
        reverse("issues:create"),
        _issue_form(
            alice.agency,
            title="셔틀\x00버스",
            description="첫 줄\r\n\t둘째\x01 줄",
            lead_agency=f"{alice.agency.pk}\x00",
        ),
    )

    assert response.status_code == 200
    assert not Issue.objects.exists()
    form = response.context["form"]
    assert set(form.errors) == {"title", "description", "lead_agency"}
    assert "제어 문자" in form.errors["title"][0]
    # What was typed comes back without the control characters, line breaks kept.
    assert form["title"].value() == "셔틀버스"
    assert form["description"].value() == "첫 줄\r\n\t둘째 줄"


def test_tabs_and_line_breaks_are_fine_in_multi_line_text(client, alice):
    client.force_login(alice)

    client.post(reverse("issues:create"), _issue_form(alice.agency, description="가\t나\r\n다"))

    assert Issue.objects.get().description == "가\t나\r\n다"


def test_a_nul_in_an_htmx_comment_is_reported_in_the_fragment(client, bob, open_issue):
    client.force_login(bob)

    response = client.post(
        reverse("issues:comment", args=[open_issue.pk]),
        {"body": "의견\x00입니다"},
        HTTP_HX_REQUEST="true",
    )

    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="id_body_error"' in page and "의견입니다" in page
    assert not Comment.objects.exists()


def test_an_id_beyond_64_bits_is_an_invalid_choice_not_a_500(client, alice, bob):
    # SQLite's driver raises OverflowError on such a lookup; PostgreSQL copes.
    client.force_login(alice)

    response = client.post(
        reverse("issues:create"),
        _issue_form(
            alice.agency, lead_agency=str(10**20), cooperating_agencies=[bob.agency.pk, str(2**63)]
        ),
    )

    assert response.status_code == 200
    form = response.context["form"]
    assert {"lead_agency", "cooperating_agencies"} <= set(form.errors)
    assert not Issue.objects.exists()
