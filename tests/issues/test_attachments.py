"""Uploading and downloading attachments: /issues/<id>/attachments/ and …/<aid>/."""

import json
import re
from pathlib import Path
from urllib.parse import unquote

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from issues import services
from issues.filetypes import MAX_ATTACHMENT_SIZE
from issues.models import Attachment, Event, EventKind
from tests.issues import samples
from tests.issues.samples import uploaded

pytestmark = pytest.mark.django_db

ENGLISH = {"accept-language": "en"}
HTMX = {"hx-request": "true", "accept-language": "en"}

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

ACCEPTED = [
    ("회의록.pdf", samples.pdf_bytes, "application/pdf"),
    ("2025 업무보고.hwp", samples.hwp_bytes, "application/x-hwp"),
    ("2025 업무보고.hwpx", samples.hwpx_bytes, "application/hwp+zip"),
    ("보고서.docx", samples.docx_bytes, DOCX),
    ("예산.xlsx", samples.xlsx_bytes, XLSX),
    ("현장.png", samples.png_bytes, "image/png"),
    ("기관별 현황.csv", samples.csv_bytes, "text/csv"),
]

REFUSED = [
    ("설치.exe", samples.exe_bytes, "is not an allowed type of file"),
    ("보고서.html", samples.html_bytes, "is not an allowed type of file"),
    ("도식.svg", samples.svg_bytes, "is not an allowed type of file"),
    ("사진인데.pdf", samples.png_bytes, "does not look like a PDF file"),
    ("빈파일.pdf", lambda: b"", "The submitted file is empty."),
]


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def _files_in(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def _issue(actor, lead_agency, **fields):
    return services.issue_create(
        actor=actor, title="도시철도 2호선 공정 점검", lead_agency=lead_agency, **fields
    )


def _upload_url(issue) -> str:
    return reverse("issues:attachment_upload", args=[issue.pk])


def _section(body: str, section_id: str) -> str:
    """The HTML of one <section id=…> of the detail page."""
    return body.split(f'id="{section_id}"', 1)[1].split("</section>", 1)[0]


@pytest.mark.parametrize(("name", "make", "content_type"), ACCEPTED)
def test_it_accepts_documents_and_lists_them(
    client, alice, agency_a, media_root, name, make, content_type
):
    issue = _issue(alice, agency_a)
    client.force_login(alice)

    response = client.post(_upload_url(issue), {"file": uploaded(name, make())}, headers=ENGLISH)

    assert response.status_code == 302
    assert response["Location"] == issue.get_absolute_url()
    attachment = Attachment.objects.get(issue=issue)
    assert attachment.original_name == name
    assert attachment.content_type == content_type
    assert attachment.size == len(make())
    page = client.get(issue.get_absolute_url(), headers=ENGLISH).content.decode()
    assert "The file was attached." in page
    attachments = _section(page, "attachments")
    assert f'href="{attachment.get_absolute_url()}">{name}</a>' in attachments


@pytest.mark.parametrize(("name", "make", "content_type"), ACCEPTED)
def test_it_accepts_documents_through_htmx_and_returns_the_fragment(
    client, alice, agency_a, media_root, name, make, content_type
):
    issue = _issue(alice, agency_a)
    client.force_login(alice)

    response = client.post(_upload_url(issue), {"file": uploaded(name, make())}, headers=HTMX)

    assert response.status_code == 200
    assert "issueChanged" in json.loads(response["HX-Trigger"])  # the timeline reloads itself
    body = response.content.decode()
    assert "<html" not in body
    assert body.lstrip().startswith('<section id="attachments"')
    assert "The file was attached." in body
    attachment = Attachment.objects.get(issue=issue)
    assert attachment.content_type == content_type
    assert f'href="{attachment.get_absolute_url()}">{name}</a>' in body


@pytest.mark.parametrize(("name", "make", "message"), REFUSED)
@pytest.mark.parametrize("headers", [ENGLISH, HTMX], ids=["page", "htmx"])
def test_it_refuses_disallowed_files_with_a_message_and_stores_nothing(
    client, alice, agency_a, media_root, headers, name, make, message
):
    issue = _issue(alice, agency_a)
    client.force_login(alice)

    response = client.post(_upload_url(issue), {"file": uploaded(name, make())}, headers=headers)

    assert response.status_code == 200
    body = response.content.decode()
    assert message in body
    assert 'class="form-hint-invalid"' in body
    assert ("<html" in body) is (headers is ENGLISH)
    assert not Attachment.objects.exists()
    assert not Event.objects.filter(kind=EventKind.ATTACHMENT).exists()
    assert _files_in(media_root) == []


@pytest.mark.parametrize("headers", [ENGLISH, HTMX], ids=["page", "htmx"])
def test_it_refuses_files_over_20_mb(client, alice, agency_a, media_root, headers):
    issue = _issue(alice, agency_a)
    client.force_login(alice)
    # A real PDF header, so only the size can be the reason.
    data = samples.pdf_bytes().ljust(MAX_ATTACHMENT_SIZE + 1, b"\n")
    too_big = SimpleUploadedFile("대용량.pdf", data, content_type="application/pdf")

    response = client.post(_upload_url(issue), {"file": too_big}, headers=headers)

    assert response.status_code == 200
    assert "larger than 20 MB" in response.content.decode()
    assert not Attachment.objects.exists()
    assert _files_in(media_root) == []


def test_it_refuses_a_missing_file_with_a_message(client, alice, agency_a, media_root):
    issue = _issue(alice, agency_a)
    client.force_login(alice)

    response = client.post(_upload_url(issue), {}, headers=ENGLISH)

    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    assert not Attachment.objects.exists()


def test_it_shows_the_refusal_in_korean_by_default(client, alice, agency_a, media_root):
    issue = _issue(alice, agency_a)
    client.force_login(alice)

    response = client.post(_upload_url(issue), {"file": uploaded("빈파일.pdf", b"")})

    assert response.status_code == 200
    assert "입력하신 파일은 빈 파일입니다." in response.content.decode()  # Django's own catalogue


def test_it_stores_the_file_under_a_random_name(client, alice, agency_a, media_root):
    issue = _issue(alice, agency_a)
    client.force_login(alice)

    client.post(
        _upload_url(issue), {"file": uploaded("../../../etc/보고서.pdf", samples.pdf_bytes())}
    )

    attachment = Attachment.objects.get(issue=issue)
    assert attachment.original_name == "보고서.pdf"
    assert re.fullmatch(r"attachments/\d{4}/\d{2}/[0-9a-f]{32}", attachment.file.name)
    assert ".." not in attachment.file.name
    stored = _files_in(media_root)
    assert stored == [media_root / attachment.file.name]
    assert stored[0].read_bytes() == samples.pdf_bytes()


def test_two_uploads_of_the_same_name_do_not_overwrite_each_other(
    client, alice, agency_a, media_root
):
    issue = _issue(alice, agency_a)
    client.force_login(alice)

    client.post(_upload_url(issue), {"file": uploaded("보고서.pdf", samples.pdf_bytes())})
    client.post(_upload_url(issue), {"file": uploaded("보고서.pdf", samples.pdf_bytes() + b"\n")})

    first, second = Attachment.objects.filter(issue=issue)
    assert first.file.name != second.file.name
    assert len(_files_in(media_root)) == 2


def test_the_timeline_shows_the_attachment(client, alice, agency_a, media_root):
    issue = _issue(alice, agency_a)
    client.force_login(alice)

    client.post(_upload_url(issue), {"file": uploaded("회의록.pdf", samples.pdf_bytes())})

    attachment = Attachment.objects.get(issue=issue)
    event = Event.objects.get(issue=issue, kind=EventKind.ATTACHMENT)
    assert event.attachment == attachment
    assert event.actor == alice
    page = client.get(issue.get_absolute_url(), headers=ENGLISH).content.decode()
    timeline = _section(page, "timeline")
    assert f'id="event-{event.pk}"' in timeline
    assert "attached" in timeline
    assert f'<a href="{attachment.get_absolute_url()}">회의록.pdf</a>' in timeline


def test_download_returns_the_bytes_under_the_korean_name(client, alice, agency_a, media_root):
    issue = _issue(alice, agency_a)
    attachment = services.attachment_add(
        issue=issue, actor=alice, uploaded_file=uploaded("2025 업무보고.hwp", samples.hwp_bytes())
    )
    client.force_login(alice)

    response = client.get(attachment.get_absolute_url())

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == samples.hwp_bytes()
    assert response["Content-Type"] == "application/x-hwp"
    assert response["X-Content-Type-Options"] == "nosniff"
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment;")
    # RFC 6266 / 5987: non-ASCII names travel percent-encoded as UTF-8.
    encoded = re.search(r"filename\*=(\S+)", disposition).group(1)
    assert encoded.lower().startswith("utf-8''")
    assert unquote(encoded.split("''", 1)[1]) == "2025 업무보고.hwp"
    assert "업무" not in disposition  # no raw non-ASCII in a header


def test_download_never_serves_html_inline(client, alice, agency_a, media_root):
    issue = _issue(alice, agency_a)
    attachment = services.attachment_add(
        issue=issue, actor=alice, uploaded_file=uploaded("메모.txt", samples.text_utf8_bytes())
    )
    client.force_login(alice)

    response = client.get(attachment.get_absolute_url())

    assert response["Content-Type"].startswith("text/plain")
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"


def test_a_cooperating_agency_downloads_from_a_restricted_issue(
    client, alice, bob, agency_a, agency_b, media_root
):
    issue = _issue(alice, agency_a, visibility="restricted", cooperating_agencies=[agency_b])
    attachment = services.attachment_add(
        issue=issue, actor=alice, uploaded_file=uploaded("회의록.pdf", samples.pdf_bytes())
    )
    client.force_login(bob)

    assert client.get(attachment.get_absolute_url()).status_code == 200


def test_an_uninvolved_agency_gets_404_for_an_attachment_of_a_restricted_issue(
    client, alice, carol, agency_a, media_root
):
    issue = _issue(alice, agency_a, visibility="restricted")
    attachment = services.attachment_add(
        issue=issue, actor=alice, uploaded_file=uploaded("회의록.pdf", samples.pdf_bytes())
    )
    client.force_login(carol)

    assert client.get(attachment.get_absolute_url()).status_code == 404
    upload = client.post(_upload_url(issue), {"file": uploaded("a.pdf", samples.pdf_bytes())})
    assert upload.status_code == 404
    assert Attachment.objects.count() == 1


def test_the_mayors_office_downloads_from_a_restricted_issue(
    client, alice, minji, agency_a, media_root
):
    issue = _issue(alice, agency_a, visibility="restricted")
    attachment = services.attachment_add(
        issue=issue, actor=alice, uploaded_file=uploaded("회의록.pdf", samples.pdf_bytes())
    )
    client.force_login(minji)

    assert client.get(attachment.get_absolute_url()).status_code == 200


def test_an_attachment_requested_under_another_issue_is_404(client, alice, agency_a, media_root):
    restricted = _issue(alice, agency_a, visibility="restricted")
    visible = _issue(alice, agency_a)
    attachment = services.attachment_add(
        issue=restricted, actor=alice, uploaded_file=uploaded("회의록.pdf", samples.pdf_bytes())
    )
    client.force_login(alice)

    url = reverse("issues:attachment", args=[visible.pk, attachment.pk])
    assert client.get(url).status_code == 404
    missing = reverse("issues:attachment", args=[restricted.pk, attachment.pk + 1000])
    assert client.get(missing).status_code == 404


def test_an_uninvolved_agency_may_read_but_not_attach_to_an_open_issue(
    client, alice, carol, agency_a, media_root
):
    issue = _issue(alice, agency_a, visibility="all")
    client.force_login(carol)

    response = client.post(_upload_url(issue), {"file": uploaded("a.pdf", samples.pdf_bytes())})

    assert response.status_code == 403
    assert not Attachment.objects.exists()
    assert _files_in(media_root) == []
    page = client.get(issue.get_absolute_url()).content.decode()
    assert 'enctype="multipart/form-data"' not in page  # no upload form offered


def test_the_mayors_office_may_attach_to_any_issue(client, alice, minji, agency_a, media_root):
    issue = _issue(alice, agency_a, visibility="restricted")
    client.force_login(minji)

    response = client.post(
        _upload_url(issue), {"file": uploaded("지시사항.pdf", samples.pdf_bytes())}
    )

    assert response.status_code == 302
    assert Attachment.objects.get(issue=issue).uploaded_by == minji


def test_anonymous_users_are_sent_to_login(client, alice, agency_a, media_root):
    issue = _issue(alice, agency_a)
    attachment = services.attachment_add(
        issue=issue, actor=alice, uploaded_file=uploaded("회의록.pdf", samples.pdf_bytes())
    )

    response = client.get(attachment.get_absolute_url())

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_a_failed_save_leaves_no_orphan_file(alice, agency_a, media_root, monkeypatch):
    issue = _issue(alice, agency_a)

    def broken_record(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(services, "event_record", broken_record)
    with pytest.raises(RuntimeError):
        services.attachment_add(
            issue=issue, actor=alice, uploaded_file=uploaded("회의록.pdf", samples.pdf_bytes())
        )

    assert not Attachment.objects.exists()
    assert _files_in(media_root) == []
