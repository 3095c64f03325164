"""Attachments on both file stores: the local directory and S3-compatible object storage.

Every test here runs twice, once per store, with the store configured exactly
as settings.py configures it (``s3server.storage_entry``): ``filesystem`` is the
embedded default (``MEDIA_ROOT``), ``s3`` is django-storages' S3 backend
against moto's standalone server, started once per session on a free port.
moto stands in for MinIO because this machine and CI have no container engine
and reach no image registry; moto is a PyPI package that serves the S3 REST API
over real HTTP, checks signatures and refuses anonymous reads of private
objects (see tests/issues/s3server.py for what it does not prove).

The detailed upload rules (accepted types, sizes, htmx fragments) are in
test_attachments.py; they do not depend on the store.
"""

from __future__ import annotations

import re
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import unquote

import pytest
from django.urls import reverse

from issues import services
from issues.models import Attachment, Event, EventKind
from tests.issues import s3server, samples
from tests.issues.samples import uploaded

pytestmark = pytest.mark.django_db

ENGLISH = {"accept-language": "en"}
HTMX = {"hx-request": "true", "accept-language": "en"}
UPLOAD_FAILED = (
    "The file store could not take the file just now, so it was not attached. "
    "Please try again in a few minutes."
)
DOWNLOAD_FAILED = "cannot be downloaded right now"


@pytest.fixture(scope="session")
def s3(tmp_path_factory):
    with s3server.running(tmp_path_factory.mktemp("moto") / "moto.log") as server:
        yield server


class FileStore:
    """The local directory under MEDIA_ROOT (the embedded default)."""

    kind = "filesystem"

    def __init__(self, settings, tmp_path: Path) -> None:
        self.settings = settings
        self.tmp_path = tmp_path
        settings.MEDIA_ROOT = self.root = tmp_path / "media"
        entry = s3server.storage_entry({"AWS_STORAGE_BUCKET_NAME": ""})
        assert entry["BACKEND"] == "django.core.files.storage.FileSystemStorage"
        settings.STORAGES = {**settings.STORAGES, "default": entry}

    def objects(self) -> dict[str, bytes]:
        files = [p for p in self.root.rglob("*") if p.is_file()] if self.root.exists() else []
        return {p.relative_to(self.root).as_posix(): p.read_bytes() for p in files}

    def remove(self, name: str) -> None:
        (self.root / name).unlink()

    def go_down(self, how: str = "refused") -> None:
        # A lost mount: the directory is now a plain file, so every open and
        # mkdir under it fails with an OSError (as root, permissions would not).
        blocked = self.tmp_path / "unmounted"
        blocked.write_bytes(b"")
        self.settings.MEDIA_ROOT = blocked / "media"


class BucketStore:
    """A bucket of its own on moto's S3 server, through django-storages."""

    kind = "s3"

    def __init__(self, settings, server: s3server.S3Server) -> None:
        self.settings = settings
        self.server = server
        self.bucket = server.create_bucket()
        self.entry = s3server.storage_entry(server.env(self.bucket))
        assert self.entry["BACKEND"] == "storages.backends.s3.S3Storage"
        settings.STORAGES = {**settings.STORAGES, "default": self.entry}
        self._listener: socket.socket | None = None

    def objects(self) -> dict[str, bytes]:
        return self.server.objects(self.bucket)

    def remove(self, name: str) -> None:
        self.server.client().delete_object(Bucket=self.bucket, Key=name)

    def go_down(self, how: str = "refused") -> None:
        if how == "refused":
            endpoint = f"http://127.0.0.1:{s3server.free_port()}"  # nothing listens there
        else:
            # Hung: the kernel accepts the connection into the backlog, and
            # nobody ever reads the request or answers it.
            self._listener = socket.socket()
            self._listener.bind(("127.0.0.1", 0))
            self._listener.listen(16)
            endpoint = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        env = {**self.server.env(self.bucket), "AWS_S3_ENDPOINT_URL": endpoint}
        self.settings.STORAGES = {
            **self.settings.STORAGES,
            "default": s3server.storage_entry(env),
        }

    def close(self) -> None:
        if self._listener is not None:
            self._listener.close()


@pytest.fixture(params=["filesystem", "s3"])
def store(request, settings, tmp_path):
    if request.param == "filesystem":
        yield FileStore(settings, tmp_path)
        return
    bucket_store = BucketStore(settings, request.getfixturevalue("s3"))
    yield bucket_store
    bucket_store.close()


def _issue(actor, lead_agency, **fields):
    return services.issue_create(
        actor=actor, title="도시철도 2호선 공정 점검", lead_agency=lead_agency, **fields
    )


def _upload_url(issue) -> str:
    return reverse("issues:attachment_upload", args=[issue.pk])


def _add(issue, actor, name="2025 업무보고.hwp", data=None) -> Attachment:
    data = samples.hwp_bytes() if data is None else data
    return services.attachment_add(issue=issue, actor=actor, uploaded_file=uploaded(name, data))


# --- Upload -------------------------------------------------------------------


def test_an_upload_lands_in_the_store_under_a_random_name(client, alice, agency_a, store):
    issue = _issue(alice, agency_a)
    client.force_login(alice)

    response = client.post(
        _upload_url(issue),
        {"file": uploaded("../../etc/회의록.pdf", samples.pdf_bytes())},
        headers=ENGLISH,
    )

    assert response.status_code == 302
    attachment = Attachment.objects.get(issue=issue)
    assert attachment.original_name == "회의록.pdf"
    assert attachment.content_type == "application/pdf"
    assert re.fullmatch(r"attachments/\d{4}/\d{2}/[0-9a-f]{32}", attachment.file.name)
    assert store.objects() == {attachment.file.name: samples.pdf_bytes()}


def test_two_uploads_of_the_same_name_are_two_files(client, alice, agency_a, store):
    issue = _issue(alice, agency_a)
    client.force_login(alice)

    client.post(_upload_url(issue), {"file": uploaded("보고서.pdf", samples.pdf_bytes())})
    client.post(_upload_url(issue), {"file": uploaded("보고서.pdf", samples.pdf_bytes() + b"\n")})

    first, second = Attachment.objects.filter(issue=issue)
    assert first.file.name != second.file.name
    assert store.objects() == {
        first.file.name: samples.pdf_bytes(),
        second.file.name: samples.pdf_bytes() + b"\n",
    }


def test_a_refused_file_reaches_no_store(client, alice, agency_a, store):
    issue = _issue(alice, agency_a)
    client.force_login(alice)

    response = client.post(
        _upload_url(issue), {"file": uploaded("설치.exe", samples.exe_bytes())}, headers=ENGLISH
    )

    assert response.status_code == 200
    assert "is not an allowed type of file" in response.content.decode()
    assert store.objects() == {}


def test_a_failed_database_write_leaves_no_file_in_the_store(alice, agency_a, store, monkeypatch):
    issue = _issue(alice, agency_a)

    def broken_record(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(services, "event_record", broken_record)
    with pytest.raises(RuntimeError):
        _add(issue, alice)

    assert not Attachment.objects.exists()
    assert store.objects() == {}


@pytest.mark.parametrize("headers", [ENGLISH, HTMX], ids=["page", "htmx"])
def test_a_store_that_is_down_gives_a_form_error_and_writes_no_row(
    client, alice, agency_a, store, headers
):
    issue = _issue(alice, agency_a)
    client.force_login(alice)
    store.go_down("refused")

    response = client.post(
        _upload_url(issue), {"file": uploaded("회의록.pdf", samples.pdf_bytes())}, headers=headers
    )

    assert response.status_code == 200
    body = response.content.decode()
    assert UPLOAD_FAILED in body
    assert 'class="form-hint-invalid"' in body
    assert ("<html" in body) is (headers is ENGLISH)
    assert not Attachment.objects.exists()
    assert not Event.objects.filter(kind=EventKind.ATTACHMENT).exists()


def test_a_store_that_is_down_says_so_in_korean(client, alice, agency_a, store):
    issue = _issue(alice, agency_a)
    client.force_login(alice)
    store.go_down("refused")

    response = client.post(
        _upload_url(issue), {"file": uploaded("회의록.pdf", samples.pdf_bytes())}
    )

    assert "파일 저장소가 지금 파일을 받지 못해 첨부하지 못했습니다." in response.content.decode()


def test_a_hung_object_store_fails_within_seconds(client, alice, agency_a, s3, settings):
    bucket_store = BucketStore(settings, s3)
    issue = _issue(alice, agency_a)
    client.force_login(alice)
    bucket_store.go_down("hung")
    started = time.monotonic()
    try:
        response = client.post(
            _upload_url(issue),
            {"file": uploaded("회의록.pdf", samples.pdf_bytes())},
            headers=ENGLISH,
        )
    finally:
        bucket_store.close()

    elapsed = time.monotonic() - started
    assert response.status_code == 200
    assert UPLOAD_FAILED in response.content.decode()
    assert not Attachment.objects.exists()
    # settings.py: 5 s per read, two attempts in all. Without the timeouts
    # the request would wait for a store that never answers.
    assert 5 <= elapsed < 15, elapsed


# --- Download -----------------------------------------------------------------


def test_download_returns_the_bytes_under_the_korean_name_and_type(client, alice, agency_a, store):
    attachment = _add(_issue(alice, agency_a), alice)
    client.force_login(alice)

    response = client.get(attachment.get_absolute_url())

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == samples.hwp_bytes()
    assert response["Content-Type"] == "application/x-hwp"
    assert response["Content-Length"] == str(len(samples.hwp_bytes()))
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"] == "private, no-store"
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment;")
    encoded = re.search(r"filename\*=(\S+)", disposition).group(1)
    assert unquote(encoded.split("''", 1)[1]) == "2025 업무보고.hwp"


def test_a_large_file_makes_the_round_trip_intact(client, alice, agency_a, store):
    # 9 MB: above boto3's 8 MB multipart threshold on the way in, and above
    # the 1 MiB after which a download spools to a temporary file on the way out.
    data = samples.pdf_bytes().ljust(9 * 1024 * 1024, b"\n")
    attachment = _add(_issue(alice, agency_a), alice, name="대용량 보고서.pdf", data=data)
    client.force_login(alice)

    response = client.get(attachment.get_absolute_url())

    assert response.status_code == 200
    assert response["Content-Length"] == str(len(data))
    assert b"".join(response.streaming_content) == data
    assert store.objects() == {attachment.file.name: data}


def test_download_goes_through_the_permission_check(
    client, alice, bob, carol, agency_a, agency_b, store
):
    issue = _issue(alice, agency_a, visibility="restricted", cooperating_agencies=[agency_b])
    attachment = _add(issue, alice)

    client.force_login(bob)  # a cooperating agency
    assert client.get(attachment.get_absolute_url()).status_code == 200

    client.force_login(carol)  # another agency's staff: the issue does not exist for her
    assert client.get(attachment.get_absolute_url()).status_code == 404
    upload = client.post(_upload_url(issue), {"file": uploaded("a.pdf", samples.pdf_bytes())})
    assert upload.status_code == 404
    assert len(store.objects()) == 1

    client.logout()
    anonymous = client.get(attachment.get_absolute_url())
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith("/accounts/login/")


def test_the_stored_file_has_no_public_address(client, alice, agency_a, store):
    attachment = _add(_issue(alice, agency_a), alice)
    name = attachment.file.name

    if store.kind == "s3":
        bare = f"{store.server.url}/{store.bucket}/{name}"
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(bare, timeout=10)  # noqa: S310 - loopback test server
        assert refused.value.code == 403
        # The same object is there for a signed request: the 403 is about who asks.
        client_ = store.server.client()
        head = client_.head_object(Bucket=store.bucket, Key=name)
        # Were a URL ever to leak, the store would not serve the file as a page.
        assert head["ContentType"] == "application/octet-stream"
        assert head["ContentDisposition"] == "attachment"
    else:
        # No MEDIA_URL: nothing in the app serves MEDIA_ROOT.
        client.force_login(alice)
        assert client.get(f"/media/{name}").status_code == 404
        assert client.get(f"/{name}").status_code == 404


def test_a_store_that_is_down_gives_a_readable_503_on_download(client, alice, agency_a, store):
    attachment = _add(_issue(alice, agency_a), alice, name="회의록.pdf", data=samples.pdf_bytes())
    client.force_login(alice)
    store.go_down("refused")

    response = client.get(attachment.get_absolute_url(), headers=ENGLISH)

    assert response.status_code == 503
    assert response["Retry-After"] == "60"
    assert response["Cache-Control"] == "private, no-store"
    body = response.content.decode()
    assert "The file cannot be downloaded right now" in body
    assert "“회의록.pdf” cannot be downloaded right now" in body
    assert f'href="{attachment.issue.get_absolute_url()}"' in body
    korean = client.get(attachment.get_absolute_url()).content.decode()
    assert "파일 저장소가 응답하지 않아 지금은 “회의록.pdf” 파일을 내려받을 수 없습니다." in korean


def test_a_file_missing_from_the_store_is_404(client, alice, agency_a, store):
    attachment = _add(_issue(alice, agency_a), alice)
    store.remove(attachment.file.name)
    client.force_login(alice)

    assert client.get(attachment.get_absolute_url()).status_code == 404


# --- Configuration ------------------------------------------------------------


def test_without_a_bucket_the_local_directory_is_the_store():
    entry = s3server.storage_entry({"AWS_STORAGE_BUCKET_NAME": ""})

    assert entry == {"BACKEND": "django.core.files.storage.FileSystemStorage"}


def test_the_object_store_is_private_and_fails_fast():
    entry = s3server.storage_entry(
        {
            "AWS_STORAGE_BUCKET_NAME": "gwangju-hub",
            "AWS_S3_ENDPOINT_URL": "http://minio:9000",
            "AWS_ACCESS_KEY_ID": "key",
            "AWS_SECRET_ACCESS_KEY": "secret",
            "AWS_S3_REGION_NAME": "ap-northeast-2",
        }
    )

    options = entry["OPTIONS"]
    assert options["bucket_name"] == "gwangju-hub"
    assert options["endpoint_url"] == "http://minio:9000"
    assert options["region_name"] == "ap-northeast-2"
    assert options["default_acl"] is None
    assert options["querystring_auth"] is True
    assert options["file_overwrite"] is False
    config = options["client_config"]
    assert (config.connect_timeout, config.read_timeout) == (2, 5)
    assert config.retries == {"mode": "standard", "total_max_attempts": 2}
    assert config.s3 == {"addressing_style": "path"}
