"""The lockout and session limits come from the environment (README, Security)."""

import os
import subprocess
import sys

from django.conf import settings


def settings_in_subprocess(env: dict[str, str], expr: str) -> subprocess.CompletedProcess:
    code = f"import django; from django.conf import settings; django.setup(); print({expr})"
    return subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "DEBUG": "1", **env},
        capture_output=True,
        text=True,
        cwd=settings.BASE_DIR,
        timeout=60,
    )


def test_the_defaults():
    assert settings.AXES_FAILURE_LIMIT == 5
    assert settings.AXES_COOLOFF_TIME.total_seconds() == 15 * 60
    assert settings.AXES_LOCKOUT_PARAMETERS == ["username"]
    assert settings.AXES_HANDLER == "axes.handlers.database.AxesDatabaseHandler"
    assert settings.AXES_IPWARE_META_PRECEDENCE_ORDER == ("REMOTE_ADDR",)
    assert settings.SESSION_IDLE_MINUTES == 30
    assert settings.SESSION_MAX_HOURS == 12
    assert settings.SESSION_COOKIE_AGE == 12 * 60 * 60


def test_every_limit_can_be_set_from_the_environment():
    result = settings_in_subprocess(
        {
            "LOGIN_FAILURE_LIMIT": "3",
            "LOGIN_LOCKOUT_MINUTES": "60",
            "SESSION_IDLE_MINUTES": "10",
            "SESSION_MAX_HOURS": "8",
            "CLIENT_IP_HEADER": "HTTP_X_REAL_IP",
        },
        "settings.AXES_FAILURE_LIMIT, int(settings.AXES_COOLOFF_TIME.total_seconds()), "
        "settings.SESSION_IDLE_MINUTES, settings.SESSION_COOKIE_AGE, "
        "settings.AXES_IPWARE_META_PRECEDENCE_ORDER",
    )

    assert result.stdout.strip() == "3 3600 10 28800 ('HTTP_X_REAL_IP',)", result.stderr


def test_an_idle_limit_shorter_than_the_warning_is_refused():
    result = settings_in_subprocess({"SESSION_IDLE_MINUTES": "2"}, "1")

    assert result.returncode != 0
    assert "SESSION_IDLE_MINUTES must be at least 3" in result.stderr
