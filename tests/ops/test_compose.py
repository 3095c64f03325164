"""The compose stack starts: every service built from our image passes `check --deploy`.

No container engine runs here, so this does what `docker compose up` would do
to our settings: read docker-compose.yml, resolve its `${VAR...}`
interpolation the way compose does, and run `manage.py check --deploy
--fail-level WARNING` under exactly each service's environment (nothing of
the test's own environment leaks in but PATH and HOME). A service may choose
to turn a secure flag off (the local stack is plain HTTP); the warning for
that flag, and only that one, is allowed.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from django.conf import settings

COMPOSE_FILE = Path(settings.BASE_DIR) / "docker-compose.yml"
# 64 characters, varied enough for Django's own secret-key check (security.W009).
TEST_SECRET_KEY = "compose-test-secret-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGH"

# Which deploy-check warning a service's "off" choice of each flag produces.
ALLOWED_WHEN_OFF = {
    "SECURE_SSL_REDIRECT": "security.W008",
    "SESSION_COOKIE_SECURE": "security.W012",
    "CSRF_COOKIE_SECURE": "security.W016",
    "SECURE_HSTS_SECONDS": "security.W004",
}
FALSE_VALUES = {"0", "false", "no", "off"}

# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error}, ${NAME?error}, $NAME; $$ escapes.
_VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)"
    r"(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}|(?P<plain>[A-Za-z_][A-Za-z0-9_]*))"
)


class MissingVariable(Exception):
    pass


def interpolate(value: str, variables: dict[str, str]) -> str:
    """Compose's variable interpolation (the subset of the spec that compose files use)."""

    def replace(match: re.Match) -> str:
        if match["escaped"]:
            return "$"
        name = match["braced"] or match["plain"]
        op, arg = match["op"], match["arg"] or ""
        present = name in variables
        value = variables.get(name, "")
        unset = not present or (op is not None and op.startswith(":") and value == "")
        if op in (":-", "-") and unset:
            return arg
        if op in (":?", "?") and unset:
            raise MissingVariable(f"{name}: {arg}")
        return value

    return _VARIABLE.sub(replace, value)


def load_compose() -> dict:
    # PyYAML's safe loader resolves the `<<: *app` merge keys as compose does.
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


def service_environment(service: dict, variables: dict[str, str]) -> dict[str, str]:
    environment = service.get("environment") or {}
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) for item in environment)
    assert "env_file" not in service, "env_file: teach this test to read it"
    return {
        name: interpolate("" if value is None else str(value), variables)
        for name, value in environment.items()
    }


def our_services() -> dict[str, dict]:
    return {name: svc for name, svc in load_compose()["services"].items() if "build" in svc}


def deploy_check(environment: dict[str, str]) -> subprocess.CompletedProcess:
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", ""), **environment}
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        env=env,
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_every_app_service_is_found():
    assert {"migrate", "web", "worker", "beat"} <= set(our_services())


@pytest.mark.parametrize("name", sorted(our_services()))
def test_each_service_passes_the_deploy_check_under_its_own_environment(name):
    environment = service_environment(our_services()[name], {"SECRET_KEY": TEST_SECRET_KEY})
    allowed = {
        check
        for flag, check in ALLOWED_WHEN_OFF.items()
        if environment.get(flag, "").strip().lower() in FALSE_VALUES
    }

    result = deploy_check(environment)

    output = result.stdout + result.stderr
    reported = set(re.findall(r"\(([a-z_.]+\.[EW]\d+)\)", output))
    assert reported <= allowed, output
    # No other failure either (an import error reports no check id at all).
    assert result.returncode == 0 or reported, output


@pytest.mark.parametrize("name", sorted(our_services()))
def test_the_secret_key_is_never_a_literal(name):
    raw = (our_services()[name].get("environment") or {}).get("SECRET_KEY", "")

    assert raw.startswith("${SECRET_KEY:?"), raw


def test_compose_refuses_to_start_without_a_secret_key():
    service = our_services()["web"]

    with pytest.raises(MissingVariable, match="set SECRET_KEY in .env"):
        service_environment(service, {})
    with pytest.raises(MissingVariable):
        service_environment(service, {"SECRET_KEY": ""})


def test_interpolation_follows_compose():
    variables = {"SET": "x", "EMPTY": ""}

    assert interpolate("${SET:-d} ${UNSET:-d} ${EMPTY:-d} ${EMPTY-d}", variables) == "x d d "
    assert interpolate("$SET $$SET ${SET}", variables) == "x $SET x"
    with pytest.raises(MissingVariable):
        interpolate("${UNSET?needed}", variables)
