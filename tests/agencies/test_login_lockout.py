"""Password guessing: 5 failures lock the username for 15 minutes (issue 8, item 4)."""

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.test import Client
from django.urls import reverse

from tests.factories import TEST_PASSWORD

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
ADMIN_LOGIN = "/admin/login/"
ADDRESS = "203.0.113.7"
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LOCKED_KO = "로그인에 여러 번 실패하여 계정이 잠시 잠겼습니다. 15분 후에 다시 시도하세요."
LOCKED_EN = (
    "Too many failed login attempts: this account is temporarily locked. Try again in 15 minutes."
)


def attempt(client: Client, username: str, password: str, path: str = LOGIN, **headers):
    return client.post(
        path,
        {"username": username, "password": password, "next": "/"},
        REMOTE_ADDR=ADDRESS,
        headers=headers,
    )


def fail_five_times(client: Client, username: str, path: str = LOGIN):
    responses = [attempt(client, username, f"wrong-{n}", path) for n in range(5)]
    return responses[-1]


def signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


@pytest.fixture
def frozen():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


def test_four_failures_still_let_the_right_password_in(client, alice):
    for n in range(4):
        attempt(client, "alice", f"wrong-{n}")

    response = attempt(client, "alice", TEST_PASSWORD)

    assert response.status_code == 302
    assert signed_in(client)


def test_the_fifth_failure_locks_the_username_with_a_message(client, alice):
    response = fail_five_times(client, "alice")

    assert response.status_code == 429
    body = response.content.decode()
    assert LOCKED_KO in body
    # The styled login page, not a bare error page: the form, with what was typed.
    assert 'role="alert"' in body
    assert 'name="username"' in body and 'value="alice"' in body
    assert response["Cache-Control"].startswith("max-age=0")


def test_a_locked_username_is_refused_even_with_the_right_password(client, alice):
    fail_five_times(client, "alice")

    response = attempt(client, "alice", TEST_PASSWORD)

    assert response.status_code == 429
    assert LOCKED_KO in response.content.decode()
    assert not signed_in(client)


def test_the_message_is_english_for_an_english_browser(client, alice):
    fail_five_times(client, "alice")

    response = attempt(client, "alice", TEST_PASSWORD, accept_language="en")

    assert LOCKED_EN in response.content.decode()


def test_the_lock_holds_for_fifteen_minutes(client, alice, frozen):
    fail_five_times(client, "alice")
    frozen.shift(timedelta(minutes=14, seconds=59))

    assert attempt(client, "alice", TEST_PASSWORD).status_code == 429


def test_after_fifteen_minutes_the_right_password_works(client, alice, frozen):
    fail_five_times(client, "alice")
    frozen.shift(timedelta(minutes=15, seconds=1))

    response = attempt(client, "alice", TEST_PASSWORD)

    assert response.status_code == 302
    assert signed_in(client)


def test_trying_during_the_lock_restarts_it_so_the_message_stays_true(client, alice, frozen):
    fail_five_times(client, "alice")
    frozen.shift(timedelta(minutes=10))
    attempt(client, "alice", "still-guessing")
    frozen.shift(timedelta(minutes=10))

    assert attempt(client, "alice", TEST_PASSWORD).status_code == 429


def test_an_unknown_username_gets_the_same_treatment(client, alice):
    known = fail_five_times(client, "alice")
    unknown = fail_five_times(client, "nobody-here")

    assert unknown.status_code == known.status_code == 429
    assert LOCKED_KO in unknown.content.decode()
    assert AccessAttempt.objects.filter(username="nobody-here").exists()


def test_failures_before_the_limit_say_the_same_for_known_and_unknown_names(client, alice):
    known = attempt(client, "alice", "wrong").content.decode()
    unknown = attempt(client, "nobody-here", "wrong").content.decode()

    def normalised(body: str, username: str) -> str:
        # Only the CSRF tokens (masked afresh each time) and the echoed name differ.
        return re.sub(r"[A-Za-z0-9]{64}", "<token>", body).replace(username, "<name>")

    assert normalised(known, "alice") == normalised(unknown, "nobody-here")


def test_another_username_from_the_same_address_is_not_locked(client, alice, bob):
    fail_five_times(client, "alice")

    other = Client()
    response = attempt(other, "bob", TEST_PASSWORD)

    assert response.status_code == 302
    assert signed_in(other)


def test_a_success_forgets_earlier_failures(client, alice):
    for n in range(4):
        attempt(client, "alice", f"wrong-{n}")
    attempt(client, "alice", TEST_PASSWORD)
    client.post(reverse("logout"))

    for n in range(4):
        attempt(client, "alice", f"wrong-again-{n}")

    assert attempt(client, "alice", TEST_PASSWORD).status_code == 302


def test_admin_login_is_locked_the_same_way(client, superuser):
    response = fail_five_times(client, "root", ADMIN_LOGIN)

    assert response.status_code == 429
    body = response.content.decode()
    assert LOCKED_KO in body
    assert 'id="login-form"' in body  # admin's own login page

    refused = attempt(client, "root", TEST_PASSWORD, ADMIN_LOGIN)
    assert refused.status_code == 429
    assert not signed_in(client)


def test_failures_on_both_login_pages_count_together(client, superuser):
    for n in range(3):
        attempt(client, "root", f"wrong-{n}", ADMIN_LOGIN)
    for n in range(2):
        attempt(client, "root", f"wrong-again-{n}")

    assert attempt(client, "root", TEST_PASSWORD).status_code == 429


def test_failures_and_the_lockout_are_logged_with_time_and_address(client, alice, frozen):
    fail_five_times(client, "alice")

    failures = AccessFailureLog.objects.filter(username="alice").order_by("attempt_time", "pk")
    assert failures.count() == 5
    assert {failure.ip_address for failure in failures} == {ADDRESS}
    assert [failure.locked_out for failure in failures] == [False] * 4 + [True]
    assert failures.last().attempt_time == START
    assert failures.last().path_info == LOGIN


def test_a_successful_login_is_logged_with_time_and_address(client, alice, frozen):
    attempt(client, "alice", TEST_PASSWORD)

    entry = AccessLog.objects.get(username="alice")
    assert entry.ip_address == ADDRESS
    assert entry.attempt_time == START
    assert entry.logout_time is None


def test_the_address_comes_from_the_configured_proxy_header(client, alice, settings):
    # CLIENT_IP_HEADER=HTTP_X_REAL_IP behind a proxy that sets X-Real-IP.
    settings.AXES_IPWARE_META_PRECEDENCE_ORDER = ("HTTP_X_REAL_IP",)

    attempt(client, "alice", "wrong", x_real_ip="198.51.100.9")

    assert AccessFailureLog.objects.get(username="alice").ip_address == "198.51.100.9"


def test_passwords_are_never_stored_in_the_attempt_records(client, alice):
    attempt(client, "alice", "my-secret-guess")

    record = AccessAttempt.objects.get(username="alice")
    assert "my-secret-guess" not in record.post_data


def test_admin_lists_lockouts_and_clearing_one_lets_the_user_in(client, alice, superuser):
    fail_five_times(client, "alice")
    admin = Client()
    admin.force_login(superuser)

    changelist = admin.get(reverse("admin:axes_accessattempt_changelist") + "?locked_out=yes")
    assert changelist.status_code == 200
    assert "alice" in changelist.content.decode()

    lock = AccessAttempt.objects.get(username="alice")
    cleared = admin.post(
        reverse("admin:axes_accessattempt_changelist"),
        {"action": "delete_selected", "_selected_action": [lock.pk], "post": "yes"},
    )
    assert cleared.status_code == 302
    assert not AccessAttempt.objects.exists()

    assert attempt(client, "alice", TEST_PASSWORD).status_code == 302
    assert signed_in(client)


def test_admin_shows_the_login_audit_trail(client, alice, superuser):
    attempt(client, "alice", "wrong")
    attempt(client, "alice", TEST_PASSWORD)
    admin = Client()
    admin.force_login(superuser)

    failures = admin.get(reverse("admin:axes_accessfailurelog_changelist"))
    successes = admin.get(reverse("admin:axes_accesslog_changelist"))

    assert ADDRESS in failures.content.decode()
    assert ADDRESS in successes.content.decode()


def test_logins_and_lockouts_work_with_the_cache_down(client, alice, bob, settings):
    # Nothing listens on port 1: every cache call would fail. Axes counts in
    # the database, so a Redis outage neither breaks login nor lifts a lock.
    # Redis is the default cache only; the in-process ones stay up.
    settings.CACHES = {
        **settings.CACHES,
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
        },
    }

    assert fail_five_times(client, "alice").status_code == 429
    assert attempt(client, "alice", TEST_PASSWORD).status_code == 429
    other = Client()
    assert attempt(other, "bob", TEST_PASSWORD).status_code == 302
