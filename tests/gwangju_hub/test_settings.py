import json
import os
import subprocess
import sys

from django.conf import settings


def _settings_in_subprocess(env: dict[str, str], expr: str) -> subprocess.CompletedProcess:
    code = f"import django; from django.conf import settings; django.setup(); print({expr})"
    return subprocess.run(
        [sys.executable, "-c", code],
        env={**{k: v for k, v in os.environ.items() if k not in ("DEBUG", "SECRET_KEY")}, **env},
        capture_output=True,
        text=True,
        cwd=settings.BASE_DIR,
        timeout=60,
    )


def test_production_refuses_to_start_without_a_secret_key():
    result = _settings_in_subprocess({"DEBUG": "0"}, "settings.SECRET_KEY")

    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_production_turns_on_https_settings_unless_told_otherwise():
    key = "k" * 64
    on = _settings_in_subprocess(
        {"DEBUG": "0", "SECRET_KEY": key},
        "settings.SECURE_SSL_REDIRECT, settings.SESSION_COOKIE_SECURE",
    )
    off = _settings_in_subprocess(
        {"DEBUG": "0", "SECRET_KEY": key, "SECURE_SSL_REDIRECT": "0"},
        "settings.SECURE_SSL_REDIRECT",
    )

    assert on.stdout.strip() == "True True", on.stderr
    assert off.stdout.strip() == "False", off.stderr


def test_a_misspelt_yes_no_value_stops_the_app():
    result = _settings_in_subprocess(
        {"DEBUG": "0", "SECRET_KEY": "k" * 64, "SECURE_SSL_REDIRECT": "ture"},
        "settings.SECURE_SSL_REDIRECT",
    )

    assert result.returncode != 0
    assert "SECURE_SSL_REDIRECT='ture' is not a yes/no value" in result.stderr


def test_yes_no_values_are_read_in_every_usual_spelling():
    key = "k" * 64
    for raw, expected in [("1", "True"), ("TRUE", "True"), ("on", "True"), ("no", "False")]:
        result = _settings_in_subprocess(
            {"DEBUG": "0", "SECRET_KEY": key, "SESSION_COOKIE_SECURE": raw},
            "settings.SESSION_COOKIE_SECURE",
        )
        assert result.stdout.strip() == expected, (raw, result.stderr)


def test_time_zone_and_language():
    assert settings.TIME_ZONE == "Asia/Seoul" and settings.USE_TZ
    assert settings.LANGUAGE_CODE == "ko"
    assert [code for code, _ in settings.LANGUAGES] == ["ko", "en"]


def test_every_redis_client_is_bounded_by_two_second_timeouts():
    """The names in settings.py reach the clients, as configured for a Redis URL:
    Celery's broker and result backend, and Django's cache (issue 8)."""
    code = """
import json
import django
django.setup()
from django.core.cache import caches
from gwangju_hub.celery import app
cache = caches["default"]._cache._pool_options
broker = app.connection_for_write().transport_options
backend = app.backend
print(json.dumps({
    "cache": [cache["socket_connect_timeout"], cache["socket_timeout"]],
    "broker": [broker["socket_connect_timeout"], broker["socket_timeout"]],
    "broker_connect": app.conf.broker_connection_timeout,
    "publish_retries": app.conf.task_publish_retry_policy["max_retries"],
    "results": [backend.connparams["socket_connect_timeout"], backend.connparams["socket_timeout"]],
    "result_retries": backend.retry_policy["max_retries"],
}))
"""
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "DEBUG": "1", "REDIS_URL": "redis://127.0.0.1:6379/15"},
        capture_output=True,
        text=True,
        cwd=settings.BASE_DIR,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "cache": [2, 2],
        "broker": [2, 2],
        "broker_connect": 2,
        "publish_retries": 0,  # publishing is a speed-up: one bounded try
        "results": [2, 2],
        "result_retries": 1,
    }


def test_beat_sweeps_the_notification_outbox_every_minute():
    entry = settings.CELERY_BEAT_SCHEDULE["deliver-notifications"]

    assert entry["task"] == "issues.deliver_notifications"
    assert entry["schedule"] == 60


def test_a_malformed_digest_time_stops_the_app():
    result = _settings_in_subprocess(
        {"DEBUG": "1", "DIGEST_TIME": "8시 반"}, "settings.DIGEST_TIME"
    )

    assert result.returncode != 0
    assert "DIGEST_TIME must be a time as HH:MM" in result.stderr


def test_beat_runs_the_digest_and_the_deadline_reminders():
    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}

    assert {"gwangju_hub.send_digests", "issues.send_deadline_reminders"} <= tasks
