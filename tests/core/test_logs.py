"""Logs: one JSON object per line in production, text in development, request ids throughout."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time

import pytest
from django.conf import settings
from django.http import HttpResponse
from django.test import RequestFactory

from core.logs import ContextFilter, JsonFormatter, RequestLogMiddleware, TextFormatter

PRODUCTION = {
    "DJANGO_SETTINGS_MODULE": "gwangju_hub.settings",
    "DEBUG": "0",
    "SECRET_KEY": "logs-test-secret-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJK",
    "SECURE_SSL_REDIRECT": "0",
    "ALLOWED_HOSTS": "testserver",
}

# Two requests through the whole stack (test client, real middleware, real
# logging configuration from settings), as a production process would log them.
TWO_REQUESTS = """
import django
django.setup()
from django.core.management import call_command
from django.test import Client
call_command("migrate", verbosity=0)  # a database of its own: /healthz reads the outbox
client = Client()
first = client.get("/healthz", HTTP_X_REQUEST_ID="lb-7f3a9c2e-0001")
second = client.get("/no-such-page/")
print(first["X-Request-ID"], second["X-Request-ID"])
"""


def _run(env: dict[str, str], code: str, tmp_path) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "SECRET_KEY", "LOG_FORMAT")}
    return subprocess.run(
        [sys.executable, "-c", code],
        env={
            **clean,
            "VAR_DIR": str(tmp_path),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'logs.sqlite3'}",
            **env,
        },
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _record(message: str = "hello", **extra) -> logging.LogRecord:
    record = logging.getLogger("tests.logs").makeRecord(
        "tests.logs", logging.WARNING, __file__, 1, message, (), None, extra=extra
    )
    ContextFilter().filter(record)
    return record


def test_production_logs_one_json_object_per_line_with_the_request_fields(tmp_path):
    result = _run(PRODUCTION, TWO_REQUESTS, tmp_path)

    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stderr.splitlines() if line.strip()]
    requests = [line for line in lines if line["logger"] == "gwangju_hub.requests"]
    first_id, second_id = result.stdout.split()
    healthz, missing = requests
    assert first_id == "lb-7f3a9c2e-0001"  # the load balancer's id is kept
    assert healthz["request_id"] == first_id
    assert healthz["method"] == "GET" and healthz["path"] == "/healthz"
    assert healthz["status"] == 200 and healthz["view"] == "healthz"
    assert isinstance(healthz["duration_ms"], float)
    assert healthz["level"] == "INFO" and healthz["time"].endswith("+00:00")
    assert missing["status"] == 404 and missing["request_id"] == second_id
    # Django's own "Not Found" warning, logged after the middleware, still carries the id.
    not_found = next(line for line in lines if line["logger"] == "django.request")
    assert not_found["request_id"] == second_id
    assert not_found["message"] == "Not Found: /no-such-page/"


def test_development_logs_readable_text(tmp_path):
    result = _run({**PRODUCTION, "DEBUG": "1"}, TWO_REQUESTS, tmp_path)

    assert result.returncode == 0, result.stderr
    line = next(line for line in result.stderr.splitlines() if "GET /healthz 200" in line)
    assert not line.startswith("{")
    assert "INFO" in line and "gwangju_hub.requests" in line and "[lb-7f3a9]" in line


def test_the_log_format_can_be_chosen_and_a_wrong_one_stops_the_app(tmp_path):
    text = _run({**PRODUCTION, "LOG_FORMAT": "text"}, TWO_REQUESTS, tmp_path)
    wrong = _run({**PRODUCTION, "LOG_FORMAT": "jsn"}, TWO_REQUESTS, tmp_path)

    assert text.returncode == 0 and "GET /healthz 200" in text.stderr
    assert not text.stderr.lstrip().startswith("{")
    assert wrong.returncode != 0 and "LOG_FORMAT='jsn'" in wrong.stderr


@pytest.mark.django_db
def test_the_request_line_names_the_signed_in_user(client, alice, caplog):
    client.force_login(alice)

    with caplog.at_level(logging.INFO, logger="gwangju_hub.requests"):
        response = client.get("/issues/")

    record = next(r for r in caplog.records if r.name == "gwangju_hub.requests")
    assert response.status_code == 200
    assert record.user_id == alice.pk
    assert record.view == "issues:list"
    assert record.request_id == response["X-Request-ID"]
    assert len(response["X-Request-ID"]) == 32


@pytest.mark.parametrize(
    "incoming",
    ["short", "x" * 101, "bad id with spaces", "evil\r\nX-Injected: 1", '{"json":1}', "../../etc"],
)
def test_an_odd_incoming_request_id_is_replaced(incoming):
    middleware = RequestLogMiddleware(lambda request: HttpResponse())

    response = middleware(RequestFactory().get("/", HTTP_X_REQUEST_ID=incoming))

    assert response["X-Request-ID"] != incoming
    assert len(response["X-Request-ID"]) == 32


def test_every_record_logged_during_a_request_carries_its_id(caplog):
    seen: list[logging.LogRecord] = []

    def view(request):
        logging.getLogger("issues.services").warning("something happened")
        return HttpResponse()

    class Keep(logging.Handler):
        def emit(self, record):
            seen.append(record)

    handler = Keep()
    handler.addFilter(ContextFilter())
    logging.getLogger().addHandler(handler)
    try:
        response = RequestLogMiddleware(view)(
            RequestFactory().get("/x", HTTP_X_REQUEST_ID="proxy-00000042")
        )
    finally:
        logging.getLogger().removeHandler(handler)
    inside = next(r for r in seen if r.name == "issues.services")

    assert inside.request_id == "proxy-00000042" == response["X-Request-ID"]
    assert _record().request_id is None  # and nothing leaks out of the request


def test_the_json_formatter_keeps_korean_extras_and_the_traceback():
    try:
        raise ValueError("잘못된 값")
    except ValueError:
        record = logging.getLogger("tests").makeRecord(
            "tests",
            logging.ERROR,
            __file__,
            1,
            "실패: %s",
            ("회의",),
            sys.exc_info(),
            extra={"meeting_id": 7, "when": time},
        )
    ContextFilter().filter(record)

    line = JsonFormatter().format(record)

    assert "\n" not in line
    entry = json.loads(line)
    assert entry["message"] == "실패: 회의" and "실패" in line  # not \\uc2e4 escapes
    assert entry["meeting_id"] == 7
    assert entry["when"].startswith("<module 'time'")  # not JSON-able: written as text
    assert "ValueError: 잘못된 값" in entry["exception"]
    assert "request_id" not in entry  # context fields appear only when there is a context


def test_the_text_formatter_is_one_readable_line():
    line = TextFormatter().format(_record("plain", request_id="abcdef1234567890"))

    assert "WARNING" in line and "tests.logs" in line and "[abcdef12] plain" in line


@pytest.mark.celery_worker
def test_a_celery_worker_logs_json_with_the_task_id(tmp_path):
    """A real worker process (filesystem broker in its own VAR_DIR) runs a real task."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DEBUG", "SECRET_KEY", "REDIS_URL", "DATABASE_URL")
    }
    env.update(PRODUCTION, VAR_DIR=str(tmp_path))
    migrate = subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v0"],
        env=env,
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert migrate.returncode == 0, migrate.stderr
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "gwangju_hub",
            "worker",
            "--pool=solo",
            "-l",
            "info",
        ],
        env=env,
        cwd=settings.BASE_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        sent = subprocess.run(
            [
                sys.executable,
                "-c",
                "import django; django.setup(); from agencies.tasks import heartbeat; "
                "r = heartbeat.delay(); r.get(timeout=60); print(r.id)",
            ],
            env=env,
            cwd=settings.BASE_DIR,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert sent.returncode == 0, sent.stderr
    finally:
        worker.terminate()
        output, _ = worker.communicate(timeout=60)
    task_id = sent.stdout.strip()
    records = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    done = next(r for r in records if r["logger"] == "celery.app.trace")

    assert done["task_id"] == task_id and done["task"] == "agencies.heartbeat"
    assert "succeeded" in done["message"]
    assert any(r["logger"] == "celery.apps.worker" for r in records)
