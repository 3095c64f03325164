"""Two web nodes, one service: nothing a request leaves behind lives in one process.

Starts two gunicorn nodes exactly as docker compose's ``web`` service runs the
image (its CMD, production settings: DEBUG=0, a random SECRET_KEY shared by
both), each with its own VAR_DIR and MEDIA_ROOT, on two free ports, against the
same PostgreSQL database (pytest-django's test database: the test is
transactional, so the nodes see its rows), the same Redis (cache and broker)
and the same object storage (moto's S3 server, see tests/issues/s3server.py for
why moto stands in for MinIO). Then one HTTP client with one cookie jar, like a
browser behind a load balancer that switches nodes between requests:

- signs in on node 1 and is signed in on node 2 (sessions in the database);
- uploads on node 1, sees node 1's "attached" message on node 2 (messages
  travel in a cookie), downloads the file from node 2 (object storage);
- opens the edit form on both nodes, saves on node 1, and on saving node 2's
  form gets the "someone else saved" conflict (the version is in the database).

It skips on the embedded defaults (SQLite and a filesystem broker serve one
machine only) and when gunicorn is not installed; CI runs it on PostgreSQL and
Redis. A node that starts but does not answer fails the test with its log.
"""

from __future__ import annotations

import contextlib
import html.parser
import http.cookiejar
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

import pytest
from django.conf import settings
from django.db import connection

from issues import services
from issues.models import Attachment, Issue
from tests.issues import s3server, samples

BASE_DIR = Path(settings.BASE_DIR)
PASSWORD = "two-nodes-" + secrets.token_urlsafe(12)
HTTP_TIMEOUT = 30


# --- HTTP, as a browser does it -------------------------------------------------


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # the test decides which node follows a redirect


class Browser:
    """One cookie jar for every node, as a browser has for one site."""

    def __init__(self) -> None:
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            _NoRedirect, urllib.request.HTTPCookieProcessor(self.jar)
        )

    def _send(self, request: urllib.request.Request) -> Response:
        try:
            with self.opener.open(request, timeout=HTTP_TIMEOUT) as answer:
                return Response(answer.status, dict(answer.headers), answer.read())
        except urllib.error.HTTPError as error:
            return Response(error.code, dict(error.headers), error.read())

    def get(self, url: str) -> Response:
        return self._send(urllib.request.Request(url))  # noqa: S310 - loopback nodes

    def post(self, url: str, fields: list[tuple[str, str]], files=None) -> Response:
        fields = [*fields, ("csrfmiddlewaretoken", self.cookie("csrftoken"))]
        if not files:
            body = urllib.parse.urlencode(fields).encode()
            kind = "application/x-www-form-urlencoded"
        else:
            body, kind = _multipart(fields, files)
        request = urllib.request.Request(url, data=body, headers={"Content-Type": kind})  # noqa: S310
        return self._send(request)

    def cookie(self, name: str) -> str:
        return next(c.value for c in self.jar if c.name == name)


def _multipart(fields, files: dict[str, tuple[str, bytes, str]]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = []
    for name, value in fields:
        head = f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
        parts.append(f"{head}{value}\r\n".encode())
    for name, (filename, data, content_type) in files.items():
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
            f'filename="{filename}"\r\nContent-Type: {content_type}\r\n\r\n'
        )
        parts.append(head.encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


class _FormReader(html.parser.HTMLParser):
    """The fields each POST form of a page would submit, as a browser would."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[list[tuple[str, str]]] = []
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and (a.get("method") or "").lower() == "post":
            self.forms.append([])
        elif not self.forms:
            return
        elif tag == "input" and a.get("name") and a.get("type") not in ("submit", "button"):
            if a.get("type") in ("checkbox", "radio") and "checked" not in a:
                return
            self.forms[-1].append((a["name"], a.get("value") or ""))
        elif tag == "select":
            self._select = a.get("name")
        elif tag == "option" and self._select and "selected" in a:
            self.forms[-1].append((self._select, a.get("value") or ""))
        elif tag == "textarea":
            self._textarea = a.get("name")
            self.forms[-1].append((self._textarea, ""))

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data):
        if self._textarea:
            name, value = self.forms[-1][-1]
            self.forms[-1][-1] = (name, value + data)


def edit_form_fields(page: str) -> list[tuple[str, str]]:
    reader = _FormReader()
    reader.feed(page)
    form = next(f for f in reader.forms if any(name == "version" for name, _ in f))
    return [(name, value) for name, value in form if name != "csrfmiddlewaretoken"]


def with_field(fields: list[tuple[str, str]], name: str, value: str) -> list[tuple[str, str]]:
    return [(n, value if n == name else v) for n, v in fields]


# --- The nodes ------------------------------------------------------------------


def _database_url() -> str:
    db = connection.settings_dict
    user = urllib.parse.quote(db["USER"] or "", safe="")
    password = urllib.parse.quote(db["PASSWORD"] or "", safe="")
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    return f"postgres://{auth}{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def _image_command(port: int) -> list[str]:
    """The Dockerfile's CMD (what compose's ``web`` runs), bound to 127.0.0.1:port.

    One worker instead of the image's three: two nodes share two CPU cores here,
    and two processes already prove that no request depends on the one before.
    """
    line = re.search(r"^CMD\s+(\[.*\])\s*$", (BASE_DIR / "Dockerfile").read_text(), re.M)
    assert line is not None, "no exec-form CMD in the Dockerfile"
    cmd = json.loads(line.group(1))
    assert cmd[0] == "gunicorn", cmd
    cmd[0] = str(Path(sys.executable).with_name("gunicorn"))
    cmd[cmd.index("--bind") + 1] = f"127.0.0.1:{port}"
    cmd[cmd.index("--workers") + 1] = "1"
    return cmd


def _node_env(var_dir: Path, shared: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MEDIA_"))}
    env.update(shared)
    env.update(
        VAR_DIR=str(var_dir),
        MEDIA_ROOT=str(var_dir / "media"),
        PYTHONPATH=str(BASE_DIR),
        PYTHONUNBUFFERED="1",
        PYTHONDONTWRITEBYTECODE="1",
    )
    return env


@contextlib.contextmanager
def running_nodes(tmp_path: Path, shared: dict[str, str], count: int = 2) -> Iterator[list[str]]:
    """Start ``count`` gunicorn nodes; yield their base URLs; stop them all."""
    gunicorn = Path(sys.executable).with_name("gunicorn")
    if not gunicorn.exists():
        pytest.skip(f"gunicorn is not installed next to {sys.executable}")
    var_dirs = [tmp_path / f"node{n + 1}" for n in range(count)]
    # Static files are part of the image: collected once, the same on every node.
    collect = subprocess.run(  # noqa: S603 - our interpreter, fixed arguments
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=BASE_DIR,
        env=_node_env(var_dirs[0], shared),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert collect.returncode == 0, collect.stdout + collect.stderr
    for var_dir in var_dirs[1:]:
        shutil.copytree(var_dirs[0] / "static", var_dir / "static")

    nodes: list[tuple[subprocess.Popen, Path, str]] = []
    try:
        for var_dir in var_dirs:
            port = s3server.free_port()
            log = var_dir / "gunicorn.log"
            with log.open("w") as out:
                process = subprocess.Popen(  # noqa: S603
                    _image_command(port),
                    cwd=BASE_DIR,
                    env=_node_env(var_dir, shared),
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # its own group: stopped with its workers
                )
            nodes.append((process, log, f"http://127.0.0.1:{port}"))
        deadline = time.monotonic() + 60
        for process, log, base in nodes:
            while True:
                if process.poll() is not None:
                    pytest.fail(f"gunicorn exited ({process.returncode}):\n{log.read_text()}")
                with contextlib.suppress(OSError):
                    if Browser().get(base + "/healthz").status == 200:
                        break
                if time.monotonic() > deadline:
                    pytest.fail(f"{base}/healthz did not answer 200 in 60 s:\n{log.read_text()}")
                time.sleep(0.2)
        yield [base for _, _, base in nodes]
    finally:
        for process, _, _ in nodes:
            if process.poll() is None:
                process.terminate()
        for process, _, _ in nodes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


# --- The test -------------------------------------------------------------------


@pytest.fixture(scope="module")
def shared_services():
    if connection.vendor != "postgresql" or not settings.REDIS_URL:
        pytest.skip(
            "two nodes need a PostgreSQL and a Redis they share (DATABASE_URL, REDIS_URL); "
            "the embedded defaults, SQLite and a filesystem broker, serve one machine only"
        )


@pytest.fixture(scope="module")
def s3(shared_services, tmp_path_factory):
    with s3server.running(tmp_path_factory.mktemp("moto") / "moto.log") as server:
        yield server


@pytest.mark.two_nodes
@pytest.mark.django_db(transaction=True)
def test_two_nodes_share_sessions_files_and_edits(s3, settings, tmp_path, alice, agency_a):
    started = time.monotonic()
    # The nodes check passwords with the production hasher, not the tests' fast one.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    alice.set_password(PASSWORD)
    alice.save(update_fields=["password"])
    issue = services.issue_create(
        actor=alice, title="도시철도 2호선 공정 점검", lead_agency=agency_a, visibility="restricted"
    )
    bucket = s3.create_bucket()
    shared = {
        **s3.env(bucket),
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(64),  # one key for all nodes: sessions are signed
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "0",
        "SESSION_COOKIE_SECURE": "0",
        "CSRF_COOKIE_SECURE": "0",
        "SECURE_HSTS_SECONDS": "0",
        "DATABASE_URL": _database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "EMAIL_URL": "consolemail://",  # nothing may leave the machine
    }

    with running_nodes(tmp_path, shared) as (node1, node2):
        booted = time.monotonic()
        browser = Browser()

        # Sign in on node 1; node 2 knows the session.
        assert browser.get(node1 + "/accounts/login/").status == 200
        login = browser.post(
            node1 + "/accounts/login/", [("username", "alice"), ("password", PASSWORD)]
        )
        assert login.status == 302, login.text
        issue_page = browser.get(node2 + issue.get_absolute_url())
        assert issue_page.status == 200
        assert "도시철도 2호선 공정 점검" in issue_page.text

        # Upload on node 1, follow the redirect on node 2, download from node 2.
        data = samples.hwp_bytes()
        upload = browser.post(
            node1 + f"/issues/{issue.pk}/attachments/",
            [],
            files={"file": ("2025 업무보고.hwp", data, "application/octet-stream")},
        )
        assert upload.status == 302, upload.text
        assert upload.headers["Location"] == issue.get_absolute_url()
        after = browser.get(node2 + upload.headers["Location"])
        assert "파일을 첨부했습니다." in after.text  # node 1's message, shown by node 2
        attachment = Attachment.objects.get(issue=issue)
        assert f">{attachment.original_name}</a>" in after.text
        download = browser.get(node2 + attachment.get_absolute_url())
        assert download.status == 200
        assert download.body == data
        assert download.headers["Content-Type"] == "application/x-hwp"
        disposition = download.headers["Content-Disposition"]
        assert unquote(disposition.split("''", 1)[1]) == "2025 업무보고.hwp"
        # The file is in the shared bucket, not on either node's disk.
        assert s3.objects(bucket) == {attachment.file.name: data}
        for var_dir in ("node1", "node2"):
            media = tmp_path / var_dir / "media"
            assert not media.exists() or not any(p.is_file() for p in media.rglob("*"))

        # Open the edit form on both nodes; save on 1, then on 2: a conflict on 2.
        edit_url = f"/issues/{issue.pk}/edit/"
        form1 = edit_form_fields(browser.get(node1 + edit_url).text)
        form2 = edit_form_fields(browser.get(node2 + edit_url).text)
        assert dict(form1)["version"] == dict(form2)["version"]
        saved = browser.post(node1 + edit_url, with_field(form1, "title", "노드 1에서 고친 제목"))
        assert saved.status == 302, saved.text
        conflict = browser.post(
            node2 + edit_url, with_field(form2, "title", "노드 2에서 고친 제목")
        )
        assert conflict.status == 200
        assert "수정하는 동안 다른 사람이 이 현안을 저장했습니다." in conflict.text
        assert "노드 2에서 고친 제목" in conflict.text  # what the user typed is kept
        assert Issue.objects.get(pk=issue.pk).title == "노드 1에서 고친 제목"

    # Shown with -s; ~20-40 s here on two busy cores, most of it starting the nodes.
    print(
        f"two nodes: up after {booted - started:.1f}s, done after {time.monotonic() - started:.1f}s"
    )
